"""The generated Search-QA data: determinism, answers in support passages, unambiguous questions, split layout."""

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from sdar_envs.searchqa.answer import normalize_answer
from sdar_envs.searchqa.generator import GENERATOR_VERSION, SPLITS, generate, write_dataset
from sdar_envs.searchqa.loaders import read_corpus, read_qa
from sdar_envs.searchqa.questions import FAMILIES, IN_DOMAIN, OUT_OF_DOMAIN, resolve_spec

SMALL = 3000
# sha256 over corpus + all splits of generate(0, 3000). A change here means the generator's output changed:
# bump GENERATOR_VERSION (so stale caches are not reused) and update this digest.
PINNED = {"sqa-2": "a13b10f08498291b55cf5ccb2438740d595578e03972bdfe7751a6562aad5d26"}


def _digest(data) -> str:
    h = hashlib.sha256()
    for line in data.corpus_lines():
        h.update(line.encode())
    for split in SPLITS:
        for line in data.question_lines(split):
            h.update(line.encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small():
    return generate(0, SMALL)


def test_generation_is_byte_identical_for_a_seed_across_processes_and_hash_seeds(small):
    code = (
        "from sdar_envs.searchqa.generator import generate, SPLITS\nimport hashlib\nd = generate(0, 3000)\n"
        "h = hashlib.sha256()\n[h.update(l.encode()) for l in d.corpus_lines()]\n"
        "[h.update(l.encode()) for s in SPLITS for l in d.question_lines(s)]\nprint(h.hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == _digest(small)
    if PINNED.get(GENERATOR_VERSION):
        assert _digest(small) == PINNED[GENERATOR_VERSION], "generator output changed: bump GENERATOR_VERSION"


def test_another_seed_gives_another_corpus(small):
    assert generate(1, SMALL).corpus != small.corpus


def test_corpus_is_in_search_r1_format_with_sequential_ids(small, tmp_path):
    write_dataset(small, tmp_path)
    docs = list(read_corpus(tmp_path / "corpus.jsonl"))
    assert [doc_id for doc_id, _ in docs] == [str(i) for i in range(len(docs))]
    assert abs(len(docs) - SMALL) < SMALL * 0.1
    for _, contents in docs[:50]:
        title, _, text = contents.partition("\n")
        assert title.startswith('"') and title.endswith('"') and text
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["generator_version"] == GENERATOR_VERSION and meta["num_passages"] == len(docs)
    records = read_qa(tmp_path / "test.jsonl")
    assert records[0]["support"] and records[0]["oracle_queries"]


def test_every_canonical_answer_occurs_in_its_support_passages(small):
    contents = dict(small.corpus)
    for split in SPLITS:
        for q in small.questions[split]:
            support_text = normalize_answer(" ".join(contents[pid] for pid in q["support"]))
            assert normalize_answer(q["golden_answers"][0]) in support_text, q


def test_every_question_has_exactly_one_answering_entity(small):
    """Resolving each spec by scanning the whole world finds exactly one entity per description (else it raises)
    and reproduces the gold answers and the support passages."""
    main_ids = {}
    for q in small.questions["test"] + small.questions["validation"] + small.questions["train"][:150]:
        golden, support_keys = resolve_spec(small.world, q["spec"])
        assert golden == q["golden_answers"]
        assert len(support_keys) == len(q["support"])
        for key, pid in zip(support_keys, q["support"], strict=True):
            assert main_ids.setdefault(key, pid) == pid  # one main passage per entity


def test_hop_counts_match_the_families(small):
    hops = {f: Counter(len(q["support"]) for q in small.questions["test"] if q["data_source"] == f) for f in FAMILIES}
    assert set(hops["single_hop"]) == {1}
    assert set(hops["bridge"]) == {2}
    assert set(hops["comparison"]) == {2}
    assert set(hops["three_hop"]) == {3}
    assert set(hops["paraphrase"]) <= {1, 2}


def test_train_is_in_domain_and_test_adds_out_of_domain_families(small):
    assert {q["data_source"] for q in small.questions["train"]} == set(IN_DOMAIN)
    assert {q["data_source"] for q in small.questions["test"]} == set(IN_DOMAIN + OUT_OF_DOMAIN)
    assert {q["data_source"] for q in small.questions["validation"]} == set(FAMILIES)
    train_templates = {q["template"] for q in small.questions["train"]}
    paraphrases = {q["template"] for q in small.questions["test"] if q["data_source"] == "paraphrase"}
    assert not train_templates & paraphrases  # unseen templates


def test_no_question_is_asked_twice_across_splits(small):
    specs = [json.dumps(q["spec"], sort_keys=True) for s in SPLITS for q in small.questions[s]]
    texts = [q["question"] for s in SPLITS for q in small.questions[s]]
    assert len(set(specs)) == len(specs) and len(set(texts)) == len(texts)
    ids = [q["id"] for s in SPLITS for q in small.questions[s]]
    assert len(set(ids)) == len(ids)


def test_hard_distractors_are_present(small):
    world = small.world
    surnames = Counter(p.last for p in world.people)
    assert max(surnames.values()) >= 10  # shared surnames
    assert any(p.namesake for p in world.people)  # same full name, told apart by profession
    names = {c.name for c in world.cities}
    assert any(n.split(" ", 1)[-1] in names for n in names if " " in n)  # "Port Tarsk" beside "Tarsk"
    descriptive = [q for q in small.questions["train"] if q["template"].startswith("desc_")]
    assert descriptive and all("name" not in q["spec"]["start"]["where"] for q in descriptive)
    aliased = [q for s in SPLITS for q in small.questions[s] if len(q["golden_answers"]) > 1]
    assert len(aliased) > 50


def test_sdar_data_cli_writes_the_files(tmp_path, capsys):
    from sdar_envs.data_cli import main

    assert main(["searchqa", "--out", str(tmp_path), "--num-passages", "3000", "--parquet"]) == 0
    written = {p.name for p in tmp_path.iterdir()}
    splits = {"train", "validation", "test"}
    assert written == {"corpus.jsonl", "meta.json"} | {f"{s}.jsonl" for s in splits} | {f"{s}.parquet" for s in splits}
    assert "corpus_path=" in capsys.readouterr().out
    from_jsonl, from_parquet = read_qa(tmp_path / "test.jsonl"), read_qa(tmp_path / "test.parquet")
    assert from_jsonl[0]["data_source"] in FAMILIES
    # the processed parquet carries the same questions, answers and sources as the jsonl
    keys = ("id", "question", "golden_answers", "data_source")
    assert [[r[k] for k in keys] for r in from_parquet] == [[r[k] for k in keys] for r in from_jsonl]
