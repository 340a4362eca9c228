"""Checkpoints of a training run: atomic saves, the newest complete checkpoint, the resume-flag check, metrics dedup.

Shared by ``sdar train`` (:class:`~sdar_agent.trainer.Trainer`) and any other ``accelerate`` loop with the same run
layout::

    <output_dir>/metrics.jsonl                    one JSON line per step, "step" counted from 1
    <output_dir>/checkpoints/step_000040/         accelerate's save_state files (model, optimizer, scheduler, RNG
                                                  states, registered objects), config.json, checkpoint.json

Guarantees:

* **Atomic.** :func:`save_checkpoint` writes into ``checkpoints/.step_<n>.partial`` and renames it into place only
  after ``checkpoint.json`` (the step and the size of every file) is written, so a kill at any moment leaves either
  the previous checkpoints or the new complete one; a leftover ``.partial`` directory is removed by the next save.
* **Fallback.** :func:`latest_checkpoint` returns the newest *complete* checkpoint: its ``checkpoint.json`` lists
  files that all exist with their sizes (a checkpoint from before ``checkpoint.json`` counts when it holds
  accelerate's model, optimizer and RNG files). A damaged newest one is skipped with its reason.
* **Retention.** After a save, only the newest ``keep`` complete checkpoints are kept (``keep=0``: all).
* **Resume flags.** :func:`check_resume` compares the checkpoint's ``config.json`` with the new settings: a change
  of a field that defines the run (env, model, method...) raises :class:`ResumeError` naming each one before
  anything is loaded; every other change is applied and reported (:class:`ResumeChanges`). The learning rate and
  weight decay live in the optimizer state, so :func:`apply_optimizer_settings` writes the new ones over it.
* **Metrics.** :func:`truncate_metrics` drops the ``metrics.jsonl`` lines of steps after the checkpoint (a kill
  between the metrics line and the checkpoint would otherwise log those steps twice) and a half-written last line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINTS",
    "MARKER",
    "ResumeChanges",
    "ResumeError",
    "apply_optimizer_settings",
    "check_resume",
    "checkpoint_problem",
    "latest_checkpoint",
    "load_checkpoint",
    "prepare_run_dir",
    "save_checkpoint",
    "saved_config",
    "truncate_metrics",
]

#: Folder of a run directory that holds its checkpoints.
CHECKPOINTS = "checkpoints"
#: File written last into a checkpoint: ``{"step": n, "files": {relative path: size in bytes}}``.
MARKER = "checkpoint.json"
#: What accelerate's ``save_state`` always writes, checked in checkpoints older than :data:`MARKER`.
_LEGACY_FILES = ("optimizer.bin", "random_states_0.pkl")
_MODEL_FILES = ("model.safetensors", "pytorch_model.bin")


class ResumeError(ValueError):
    """Resuming with settings the checkpoint cannot continue under; the message names each setting."""


@dataclass
class ResumeChanges:
    """What a resume does with settings that differ from the checkpoint's ``config.json``.

    Attributes:
        checkpoint: the checkpoint resumed from.
        step: its step.
        applied: ``(name, old, new)`` for every changed setting the resumed run uses.
    """

    checkpoint: Path
    step: int
    applied: list[tuple[str, Any, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the log: where the run resumes and which changed settings it uses."""
        text = f"resuming from step {self.step} ({self.checkpoint})"
        if self.applied:
            text += "; changed settings applied: " + ", ".join(f"{n} {o!r} -> {v!r}" for n, o, v in self.applied)
        return text


def _step_of(path: Path) -> int:
    try:
        return int(path.name.removeprefix("step_"))
    except ValueError:
        return -1


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete checkpoint (``None`` when it is)."""
    marker = path / MARKER
    if marker.is_file():
        try:
            files = json.loads(marker.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"{marker} is unreadable ({type(err).__name__})"
        for name, size in files.items():
            file = path / name
            if not file.is_file():
                return f"{file} is missing"
            if file.stat().st_size != size:
                return f"{file} has {file.stat().st_size} bytes, {size} were written"
        return None
    missing = [n for n in _LEGACY_FILES if not (path / n).is_file()]
    if not any((path / n).is_file() for n in _MODEL_FILES):
        missing.append(" or ".join(_MODEL_FILES))
    return f"{path} lacks {', '.join(missing)} (an interrupted save)" if missing else None


def latest_checkpoint(output_dir: str | os.PathLike[str], *, report: bool = True) -> Path | None:
    """The newest complete checkpoint under ``output_dir/checkpoints`` (``None`` when there is none); incomplete
    newer ones are skipped, each named on stderr when ``report``."""
    root = Path(output_dir) / CHECKPOINTS
    candidates = sorted((p for p in root.glob("step_*") if p.is_dir() and _step_of(p) >= 0), key=_step_of)
    for path in reversed(candidates):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        if report:
            print(f"skipping the incomplete checkpoint {path.name}: {problem}", file=sys.stderr)
    return None


def prepare_run_dir(output_dir: str | os.PathLike[str]) -> Path:
    """Create ``output_dir`` and check a file can be written there, before any training step.

    Raises ``OSError`` naming the directory when it cannot be written.
    """
    path = Path(output_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise type(err)(
            err.errno, f"cannot write the run directory {path} ({err.strerror or err}); pass another --output-dir"
        ) from err
    return path


def save_checkpoint(
    accelerator: Any, output_dir: str | os.PathLike[str], step: int, config: Mapping[str, Any], *, keep: int = 0
) -> Path:
    """Save ``accelerator``'s state as ``output_dir/checkpoints/step_<step>``, atomically (module docstring).

    ``config`` is written as ``config.json``; ``keep`` > 0 then removes all but the newest ``keep`` complete
    checkpoints. Every process calls this (accelerate saves each process's RNG state); the main one finishes it.
    """
    root = Path(output_dir) / CHECKPOINTS
    final = root / f"step_{step:06d}"
    partial = root / f".{final.name}.partial"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        for leftover in root.glob(".step_*.partial"):  # earlier interrupted saves
            shutil.rmtree(leftover, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (partial / "config.json").write_text(json.dumps(dict(config), indent=2, default=str))
        files = {p.relative_to(partial).as_posix(): p.stat().st_size for p in partial.rglob("*") if p.is_file()}
        _write_synced(partial / MARKER, json.dumps({"step": step, "files": files}, indent=2, sort_keys=True))
        if final.exists():  # the same step saved again (e.g. the end of a resumed run): replace it
            old = root / f".{final.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            partial.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            partial.rename(final)
        if keep > 0:
            complete = [p for p in sorted(root.glob("step_*"), key=_step_of) if checkpoint_problem(p) is None]
            for old in complete[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        with contextlib.suppress(OSError):
            os.fsync(handle.fileno())


def saved_config(checkpoint: Path) -> dict[str, Any]:
    """The ``config.json`` a checkpoint was saved with (``{}`` when it has none)."""
    try:
        data = json.loads((checkpoint / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_resume(
    checkpoint: Path,
    config: Mapping[str, Any],
    fixed: Collection[str],
    *,
    ignored: Collection[str] = (),
    flag: Any = str,
) -> ResumeChanges:
    """Compare ``config`` with the checkpoint's ``config.json``.

    Raises :class:`ResumeError` naming every changed field in ``fixed`` (as ``flag(name)``, e.g. ``--method``) with
    its saved and new value; returns the other changes (``ignored`` fields, such as ``resume`` itself, are not
    reported). Values are compared as JSON writes them (``config.json`` stores them so).
    """
    saved = saved_config(checkpoint)
    step = _step_of(checkpoint)
    changes = ResumeChanges(checkpoint, step)
    refused = []
    for name, value in config.items():
        if name in ignored or name not in saved:
            continue
        new = json.loads(json.dumps(value, default=str))
        if new == saved[name]:
            continue
        if name in fixed:
            refused.append(f"{flag(name)}: {saved[name]!r} in the checkpoint, {new!r} now")
        else:
            changes.applied.append((name, saved[name], new))
    if refused:
        raise ResumeError(
            f"cannot resume {checkpoint.parent.parent} from step {step} with these settings changed (they define "
            "the run):\n  " + "\n  ".join(refused) + "\nresume with the run's own settings, or start a new run in "
            "another --output-dir"
        )
    return changes


def load_checkpoint(accelerator: Any, checkpoint: Path) -> None:
    """Restore ``accelerator``'s registered state from ``checkpoint``."""
    accelerator.load_state(str(checkpoint))


def apply_optimizer_settings(optimizer: Any, scheduler: Any, *, lr: float, weight_decay: float) -> None:
    """Write ``lr`` and ``weight_decay`` over the values a loaded optimizer state restored.

    The schedule keeps its position: every group's current lr is rescaled by ``lr / base lr`` (LambdaLR-style
    schedules multiply the base lr by a factor of the step), and the scheduler's base lrs become ``lr``.
    """
    inner = getattr(scheduler, "scheduler", scheduler)
    groups = optimizer.param_groups
    bases = list(getattr(inner, "base_lrs", [g.get("initial_lr", g["lr"]) for g in groups]))
    for group, base in zip(groups, bases, strict=True):
        group["lr"] = group["lr"] * (lr / base) if base else lr
        group["initial_lr"] = lr
        group["weight_decay"] = weight_decay
    if hasattr(inner, "base_lrs"):
        inner.base_lrs = [lr for _ in groups]
    if hasattr(inner, "_last_lr"):
        inner._last_lr = [g["lr"] for g in groups]


def truncate_metrics(path: str | os.PathLike[str], step: int) -> int:
    """Keep the lines of ``metrics.jsonl`` whose ``step`` is at most ``step`` (and that parse); return how many
    lines were dropped. The file is rewritten atomically, and only when something is dropped."""
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            keep = isinstance(record, dict) and int(record.get("step", 0)) <= step
        except (ValueError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        elif line.strip():
            dropped += 1
    if dropped:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, path)
    return dropped
