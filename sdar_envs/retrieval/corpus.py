"""Reading a Search-R1 corpus: one JSON object per line, ``{"id": "0", "contents": "\\"Title\\"\\ntext"}``.

This is the format of Search-R1's ``wiki-18.jsonl(.gz)`` and of the generated Search-QA corpus. The first line of
``contents`` is the passage title in double quotes; the rest is the passage text. Files ending in ``.gz`` are read
through gzip.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_corpus", "read_jsonl", "split_title"]


def read_jsonl(path: Path, what: str = "a JSON object") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for every non-blank line of a jsonl file (read through gzip when the name ends in ``.gz``):
    ``where`` is ``"<path>:<line>"`` for the caller's own messages, ``row`` the line's JSON object. Raises
    ``ValueError`` naming the line when it is not valid JSON or not an object (``what`` says what a line must be)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc.msg}); each line must be {what}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected {what}, got {type(row).__name__}")
            yield where, row


def read_corpus(path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(doc_id, contents)`` for every passage of a Search-R1 jsonl or jsonl.gz corpus, in file order.

    ``doc_id`` is the line's ``id`` as a string (Search-R1 writes ``"0"``, ``"1"``...; integers are converted).
    ``contents`` is returned unchanged (title line included). A line without ``contents`` but with ``title`` and
    ``text`` (the DPR/FlashRAG layout) is read as ``"\\"{title}\\"\\n{text}"``. Blank lines are skipped.

    Raises ``FileNotFoundError`` when the file is missing and ``ValueError`` naming the file and line number when a
    line is not a JSON object with an id and contents.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"corpus not found at {path}; pass the path of a Search-R1 corpus jsonl or jsonl.gz file whose lines "
            'look like {"id": "0", "contents": "\\"Title\\"\\ntext"}'
        )
    for where, row in read_jsonl(path, "a JSON object with 'id' and 'contents'"):
        yield _passage(row, where)


def _passage(row: dict[str, Any], where: str) -> tuple[str, str]:
    if "contents" in row:
        contents = row["contents"]
    elif "text" in row:
        contents = f'"{row.get("title", "")}"\n{row["text"]}'
    else:
        raise ValueError(f"{where}: the object has no 'contents' (keys: {sorted(row)}); Search-R1 corpora need it")
    if "id" not in row:
        raise ValueError(f"{where}: the object has no 'id'; every passage needs a unique id")
    if not isinstance(contents, str):
        raise ValueError(f"{where}: 'contents' must be a string, got {type(contents).__name__}")
    return str(row["id"]), contents


def split_title(contents: str) -> tuple[str, str]:
    """Split Search-R1 ``contents`` into ``(title, text)``: the first line without its quotes, and the rest.

    ``'"Evan Morris"\\nEvan Morris was ...'`` gives ``("Evan Morris", "Evan Morris was ...")``. Contents without a
    newline give ``(that line, "")``.
    """
    title, _, text = contents.partition("\n")
    title = title.strip()
    if len(title) >= 2 and title[0] == title[-1] == '"':
        title = title[1:-1]
    return title, text
