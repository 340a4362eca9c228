"""Loaders for real Search-R1 data: QA files (jsonl / json / parquet) and corpora (jsonl / jsonl.gz).

QA rows are accepted in the two layouts Search-R1 uses:

* **raw** (FlashRAG): ``question`` and ``golden_answers`` (a list, or one string), optional ``id``;
* **processed** (``scripts/data_process/*.py``): ``data_source``, ``prompt`` (chat messages whose content ends with
  ``Question: ...``) and ``reward_model.ground_truth.target`` (the gold answers). The question is taken from a
  ``question`` column when present, else from the prompt the way Search-R1's ``make_prefix`` writes it: the
  instruction ends ``For example, <answer> Beijing </answer>. Question: {question}\n``, so the question is all the
  text after that ``Question: `` (the first ``Question:`` when the instruction differs), trailing newline removed; a
  question that itself says "Question:" stays whole.

``data_source`` is the row's own when present, else the ``default_source`` argument (by default the file name's stem).
Generated Search-QA files add ``support`` (gold passage ids) and ``oracle_queries``, which are kept.

The corpus reader is :func:`sdar_envs.retrieval.read_corpus`, re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sdar_envs.retrieval import read_corpus
from sdar_envs.retrieval.corpus import read_jsonl

__all__ = ["QARecord", "read_corpus", "read_qa"]

#: One question as the env uses it: id, question, golden_answers (list[str]), data_source, and optional support,
#: oracle_queries, template, spec.
QARecord = dict[str, Any]


def _rows(path: Path) -> Iterator[Mapping[str, Any]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
    elif name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
        yield from (row for _, row in read_jsonl(path))
    elif name.endswith(".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data.get("data", data.get("questions"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: a .json QA file must hold a list of objects (or {{'data': [...]}})")
        yield from data
    else:
        raise ValueError(f"{path}: unsupported QA file type; use .parquet, .jsonl, .jsonl.gz or .json")


def _question(row: Mapping[str, Any]) -> str | None:
    if isinstance(row.get("question"), str):
        return row["question"].strip()
    prompt = row.get("prompt")
    if isinstance(prompt, list) and prompt:
        prompt = prompt[-1].get("content") if isinstance(prompt[-1], Mapping) else None
    if isinstance(prompt, str):
        for marker in (_TEMPLATE_END, "Question:"):
            if marker in prompt:
                return prompt.split(marker, 1)[1].strip()
    return None


# Search-R1's make_prefix (scripts/data_process/nq_search.py, qa_search_*_merge.py) ends its instruction so; the
# env's own question_prompt ends the same way.
_TEMPLATE_END = "<answer> Beijing </answer>. Question: "


def _golden(row: Mapping[str, Any]) -> list[str] | None:
    golden: Any = row.get("golden_answers")
    if golden is None:
        reward = row.get("reward_model")
        truth = reward.get("ground_truth") if isinstance(reward, Mapping) else None
        golden = truth.get("target") if isinstance(truth, Mapping) else truth
    if golden is None:
        return None
    if isinstance(golden, str):
        return [golden]
    try:
        return [str(g) for g in golden]
    except TypeError:
        return [str(golden)]


def read_qa(path: str | os.PathLike[str], default_source: str | None = None) -> list[QARecord]:
    """Read a QA file into records (see the module docstring). Ids are the file's ``id`` values when every row has
    a distinct one, else ``"<data_source>-<row number>"``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the row when a question or its gold
    answers cannot be found.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"QA file not found at {path}; pass qa_path= a Search-R1 parquet/jsonl file with 'question' and "
            "'golden_answers' (or 'reward_model.ground_truth.target'), or run `sdar-data searchqa` for generated data"
        )
    source = default_source or path.name.split(".")[0]
    records: list[QARecord] = []
    for n, row in enumerate(_rows(path)):
        question, golden = _question(row), _golden(row)
        if not question:
            raise ValueError(f"{path} row {n}: no 'question' field and no 'Question:' in 'prompt' (keys {sorted(row)})")
        if not golden:
            raise ValueError(
                f"{path} row {n}: no gold answers; expected 'golden_answers' or 'reward_model.ground_truth.target'"
            )
        record: QARecord = {
            "id": None if row.get("id") is None else str(row["id"]),
            "question": question,
            "golden_answers": golden,
            "data_source": str(row.get("data_source") or source),
        }
        for key in ("support", "oracle_queries", "template", "spec"):
            if row.get(key) is not None:
                record[key] = row[key]
        records.append(record)
    ids = [r["id"] for r in records]
    if None in ids or len(set(ids)) != len(ids):
        for n, record in enumerate(records):
            record["id"] = f"{record['data_source']}-{n}"
    return records
