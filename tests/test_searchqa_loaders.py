"""Real-data loaders: Search-R1 corpus jsonl(.gz), raw and processed QA files, and the env running on them."""

import gzip
import json

import gymnasium as gym
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sdar_envs  # noqa: F401
from sdar_envs.retrieval import build_index
from sdar_envs.retrieval.server import serve_in_thread
from sdar_envs.searchqa.loaders import read_corpus, read_qa
from sdar_envs.searchqa.protocol import question_prompt

CORPUS = [
    {"id": "0", "contents": '"Evan Morris"\nEvan Morris was a lobbyist for the Veloria shipping guild.'},
    {"id": "1", "contents": '"Veloria"\nVeloria is an island nation whose capital is Port Annis.'},
    {"id": "2", "contents": '"Port Annis"\nPort Annis is the largest harbour of Veloria.'},
    {"id": "3", "contents": '"Quelton"\nQuelton is an inland town known for horse fairs.'},
]
PREFIX = "Answer the given question. ... For example, <answer> Beijing </answer>. Question: "


@pytest.fixture
def corpus_gz(tmp_path):
    path = tmp_path / "wiki.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(d) + "\n" for d in CORPUS)
    return path


@pytest.fixture
def raw_jsonl(tmp_path):
    rows = [
        {"id": "test_0", "question": "what is the capital of veloria?", "golden_answers": ["Port Annis"]},
        {"id": "test_1", "question": "who lobbied for the veloria shipping guild?", "golden_answers": "Evan Morris"},
    ]
    path = tmp_path / "nq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def processed_parquet(tmp_path):
    """Search-R1's processed layout: prompt messages, reward_model.ground_truth.target, data_source."""
    rows = [
        {
            "data_source": "hotpotqa",
            "prompt": [{"role": "user", "content": PREFIX + "Where are horse fairs held?\n"}],
            "ability": "fact-reasoning",
            "reward_model": {"style": "rule", "ground_truth": {"target": ["Quelton"]}},
            "extra_info": {"split": "test", "index": 0},
        },
        {
            "data_source": "bamboogle",
            "prompt": [{"role": "user", "content": PREFIX + "Which is the largest harbour of Veloria?\n"}],
            "ability": "fact-reasoning",
            "reward_model": {"style": "rule", "ground_truth": {"target": ["Port Annis", "Annis"]}},
            "extra_info": {"split": "test", "index": 1},
        },
    ]
    path = tmp_path / "test.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_read_corpus_reads_gzipped_search_r1_jsonl(corpus_gz):
    assert list(read_corpus(corpus_gz)) == [(d["id"], d["contents"]) for d in CORPUS]


def test_read_qa_reads_raw_flashrag_rows(raw_jsonl):
    records = read_qa(raw_jsonl)
    assert [(r["id"], r["golden_answers"], r["data_source"]) for r in records] == [
        ("test_0", ["Port Annis"], "nq"),
        ("test_1", ["Evan Morris"], "nq"),
    ]


def test_read_qa_reads_processed_parquet_and_recovers_the_question(processed_parquet):
    records = read_qa(processed_parquet)
    questions = [r["question"] for r in records]
    assert questions == ["Where are horse fairs held?", "Which is the largest harbour of Veloria?"]
    assert [r["golden_answers"] for r in records] == [["Quelton"], ["Port Annis", "Annis"]]
    assert [r["data_source"] for r in records] == ["hotpotqa", "bamboogle"]
    assert [r["id"] for r in records] == ["hotpotqa-0", "bamboogle-1"]  # no id column: numbered per source


def test_a_question_that_says_question_is_read_whole_from_search_r1s_prompt(tmp_path):
    full_prompt = question_prompt("Question: which Question: title did Evan Morris hold?")
    rows = [
        {"data_source": "nq", "prompt": [{"role": "user", "content": full_prompt}],
         "reward_model": {"ground_truth": {"target": ["lobbyist"]}}},
        {"data_source": "nq", "prompt": [{"role": "user", "content": PREFIX + "What did the Question: Time say?\n"}],
         "reward_model": {"ground_truth": {"target": ["x"]}}},
        {"data_source": "other", "prompt": "Your task. Question: What is on the Question: line?\n",
         "reward_model": {"ground_truth": {"target": ["x"]}}},
    ]  # fmt: skip
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert [r["question"] for r in read_qa(path)] == [
        "Question: which Question: title did Evan Morris hold?",
        "What did the Question: Time say?",
        "What is on the Question: line?",
    ]


def test_read_qa_reports_missing_fields_and_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q?"}) + "\n")
    with pytest.raises(ValueError, match="row 0: no gold answers"):
        read_qa(bad)
    with pytest.raises(FileNotFoundError, match="qa_path="):
        read_qa(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="unsupported QA file type"):
        (tmp_path / "q.csv").write_text("question\n")
        read_qa(tmp_path / "q.csv")


def test_env_runs_real_format_data_with_a_local_index(corpus_gz, processed_parquet, tmp_path):
    env = gym.make(
        "sdar/SearchQA-v0", split="test", corpus_path=corpus_gz, qa_path=processed_parquet, index_path=tmp_path / "ix"
    )
    obs, info = env.reset(options={"index": 1})
    assert obs.endswith("Question: Which is the largest harbour of Veloria?\n")
    assert info["task"].data_source == "bamboogle"
    assert info["expert_action"] == "<answer> Port Annis </answer>"  # no gold passages: the oracle just answers
    obs, _, _, _, info = env.step("<search>largest harbour</search>")
    assert obs.startswith('\n\n<information>Doc 1(Title: "Port Annis") Port Annis is the largest harbour')
    _, reward, terminated, _, info = env.step("<answer>annis</answer>")
    assert (reward, terminated, info["won"]) == (1.0, True, True)
    assert (tmp_path / "ix" / "manifest.json").is_file()  # the index was stored for reuse


def test_env_can_search_through_a_retrieve_server(raw_jsonl):
    server, url = serve_in_thread(
        build_index([(d["id"], d["contents"]) for d in CORPUS]), {d["id"]: d["contents"] for d in CORPUS}
    )
    try:
        env = gym.make("sdar/SearchQA-v0", split="test", qa_path=raw_jsonl, retriever_url=url)
        env.reset(options={"task_id": "test_1"})
        obs, _, _, _, info = env.step("<search>shipping guild lobbyist</search>")
        assert obs.startswith('\n\n<information>Doc 1(Title: "Evan Morris") Evan Morris was a lobbyist')
        assert info["retrieved"][0] == "0"
        _, reward, _, _, _ = env.step("<answer>Evan Morris</answer>")
        assert reward == 1.0
    finally:
        server.shutdown()
        server.server_close()
