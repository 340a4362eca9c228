"""The envs' tasks (and expert demonstrations) as files Hugging Face ``datasets`` loads: ``sdar-data export``.

::

    sdar-data export --env webshop --out data/webshop                 # every split's tasks, parquet
    sdar-data export --env alfworld --split train --out data/alf --demos --episodes 200 --format jsonl

    from datasets import load_dataset
    tasks = load_dataset("parquet", data_files={"train": "data/webshop/tasks/train.parquet"})["train"]
    demos = load_dataset("parquet", data_files={"train": "data/webshop/demos/train.parquet"})["train"]

A task row (:func:`task_records`): ``id``, ``env`` (short name), ``env_id``, ``split``, ``index`` (position in the
split), ``instruction``, ``task_type``, ``data_source``, and what an agent needs to play it: ``make_kwargs`` (a JSON
object of ``gymnasium.make`` arguments beyond the split) and ``reset_options`` (``{"task_id": id}``)::

    env = gym.make(row["env_id"], split=row["split"], **json.loads(row["make_kwargs"]))
    obs, info = env.reset(options=row["reset_options"])

The verifier's ground truth (``Task.metadata``: gold answers, goal attributes) is not exported: it is what the env
scores against, never what an agent sees.

A demonstration row (:func:`demo_records`) is one turn of an expert episode in the trainer's own prompt and reply
format (``sdar_agent.demos``): ``messages`` (the turn's prompt messages then the assistant reply, the column TRL's
``SFTTrainer`` reads), the same split as ``prompt`` / ``completion`` (for completion-only loss: drop ``messages``),
and ``task_id``, ``task_type``, ``data_source``, ``instruction``, ``episode``, ``turn``, ``action``, ``observation``,
``reward``, ``won``, ``score``, ``episode_return``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sdar_envs.integrations import env_name, env_splits, resolve_env_id

__all__ = ["FORMATS", "demo_records", "export_tasks", "task_records", "write_records"]

#: File formats :func:`write_records` writes (the file suffix).
FORMATS: tuple[str, ...] = ("parquet", "jsonl")


def task_records(env: str, split: str, **env_kwargs: Any) -> list[dict[str, Any]]:
    """One row per task of ``split``, in the env's order (columns in the module docstring).

    Args:
        env: env id or short name.
        split: the task split.
        env_kwargs: further ``gymnasium.make`` arguments (real-data paths...); they are stored in ``make_kwargs``
            and so must be JSON-serialisable.
    """
    import gymnasium as gym

    import sdar_envs  # noqa: F401  (registers the ids)

    env_id = resolve_env_id(env)
    try:
        make_kwargs = json.dumps(env_kwargs, sort_keys=True)
    except TypeError as error:
        raise TypeError(f"env_kwargs must be JSON-serialisable to be exported, got {env_kwargs!r} ({error})") from None
    made = gym.make(env_id, split=split, **env_kwargs)
    try:
        unwrapped = made.unwrapped
        tasks = [unwrapped.get_task(task_id) for task_id in unwrapped.task_ids()]
    finally:
        made.close()
    return [
        {
            "id": task.id,
            "env": env_name(env_id),
            "env_id": env_id,
            "split": split,
            "index": index,
            "instruction": task.instruction,
            "task_type": task.task_type,
            "data_source": task.data_source,
            "make_kwargs": make_kwargs,
            "reset_options": {"task_id": task.id},
        }
        for index, task in enumerate(tasks)
    ]


def demo_records(turns: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows for demonstration turns (``sdar_agent.demos.DemoTurn``, anything with its ``to_record()``): the
    record with ``messages`` holding the whole exchange and ``prompt`` / ``completion`` its two halves."""
    records = []
    for turn in turns:
        record = turn.to_record()
        prompt = record.pop("messages")
        record["messages"] = record.pop("chat")
        record["prompt"] = prompt
        record["completion"] = [{"role": "assistant", "content": record["reply"]}]
        records.append(record)
    return records


def write_records(records: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``records`` to ``path``: parquet when it ends in ``.parquet``, else JSON lines. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist([dict(r) for r in records]), path)
    else:
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def export_tasks(
    env: str,
    out: str | os.PathLike[str],
    *,
    splits: Sequence[str] | None = None,
    file_format: str = "parquet",
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``<out>/tasks/<split>.<format>`` for each split (default: every split of the env's default data).

    Returns:
        split -> the file written.
    """
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {FORMATS}, got {file_format!r}")
    env_id = resolve_env_id(env)
    written = {}
    for split in splits or env_splits(env_id):
        records = task_records(env_id, split, **dict(env_kwargs or {}))
        written[split] = write_records(records, Path(out) / "tasks" / f"{split}.{file_format}")
    return written
