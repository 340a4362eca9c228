"""Shipped supervised warm starts: policies with some competence, so RL has something to improve.

A warm start is the SFT model of a learning recipe (:data:`sdar_agent.learning.RECIPES`), trained here on the env's
expert demonstrations and shipped in this package as a bfloat16 copy (the weights load back as float32 for CPU
training). ``make demo`` starts its SFT, SFT+GRPO and SFT+SDAR rows from one. Each shipped checkpoint has, beside
its weights, ``TRAINED.md``: the exact command that trained it, the demonstrations' seed, and what it measured;
``tests/test_warm_start.py`` evaluates it on held-out tasks. A shipped checkpoint is never the only way to a working
policy: :func:`warm_start_model` retrains it with the recipe (resumable, ~30 min on 2 CPUs) when it is missing.

Export a freshly trained SFT model as a shipped warm start::

    python -m sdar_agent.warm_start export runs/learning/full/alfworld/sft/model \
        sdar_agent/warm_start/alfworld-small-sft
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONTEXT_WARM_STARTS", "WARM_STARTS", "WarmStart", "export", "shipped_dir", "warm_start_model"]

_HERE = Path(__file__).resolve().parent
_COPIED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


@dataclass(frozen=True)
class WarmStart:
    """A shipped warm start: its directory name in this package and the learning recipe that trains it."""

    name: str
    env: str
    recipe: str

    @property
    def directory(self) -> Path:
        return _HERE / self.name


#: Warm starts by env: ALFWorld's from-scratch ``small`` model (5.5M parameters, 11 MB in bfloat16). The SmolLM2
#: recipes (Search-QA, WebShop) are not shipped: their merged models are 540 MB.
WARM_STARTS: dict[str, WarmStart] = {
    "alfworld": WarmStart("alfworld-small-sft", env="alfworld", recipe="alfworld"),
}

#: The claims benchmark's warm starts by env (:func:`sdar_agent.claims.claims_recipe`: the learning recipe with half
#: the demonstration turns repeated with the env's privileged context in front, so the teacher can read it). Shipped
#: in float32, the weights every arm of ``benchmarks/results/claims_cells`` started from, bit for bit.
CONTEXT_WARM_STARTS: dict[str, WarmStart] = {
    "alfworld": WarmStart("alfworld-small-sft-context", env="alfworld", recipe="alfworld+context"),
}


def shipped_dir(env: str, *, context: bool = False) -> Path | None:
    """The shipped checkpoint of ``env`` (with ``context``: the claims benchmark's context-reading one); None when
    there is none or its weights are missing."""
    start = (CONTEXT_WARM_STARTS if context else WARM_STARTS).get(env)
    if start is None or not (start.directory / "model.safetensors").is_file():
        return None
    return start.directory


def warm_start_model(env: str, build_dir: Path, *, threads: int = 0) -> Path:
    """The warm-start model of ``env``: the shipped checkpoint, or the recipe's SFT model trained into ``build_dir``.

    Training runs only when nothing is shipped and ``build_dir`` holds no finished model; it resumes from the
    checkpoints an interrupted build left there.
    """
    shipped = shipped_dir(env)
    if shipped is not None:
        return shipped
    from sdar_agent.learning import RECIPES, _train_sft

    if env not in RECIPES:
        raise KeyError(f"no learning recipe for env {env!r}; recipes: {sorted(RECIPES)}")
    print(f"no shipped warm start for {env}: training the recipe's SFT model in {build_dir}", file=sys.stderr)
    return _train_sft(RECIPES[env], build_dir, quick=False, threads=threads)


def export(source: Path, dest: Path, *, dtype: str = "bfloat16") -> Path:
    """Write the SFT model in ``source`` to ``dest`` as a shipped warm start (``dtype`` weights, bfloat16 by default
    to halve the size, float32 to keep them exact; the config says float32, the dtype they train in)."""
    import torch
    from safetensors.torch import load_file, save_file

    if dtype not in ("bfloat16", "float32"):
        raise ValueError(f"dtype must be 'bfloat16' or 'float32', not {dtype!r}")
    if not (source / "model.safetensors").is_file():
        raise FileNotFoundError(f"{source} holds no model.safetensors; pass the model/ directory of an SFT run")
    dest.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(source / "model.safetensors"))
    save_file(
        {k: v.to(getattr(torch, dtype)).contiguous() for k, v in weights.items()},
        str(dest / "model.safetensors"),
        metadata={"format": "pt"},
    )
    for name in _COPIED:
        if (source / name).is_file():
            shutil.copyfile(source / name, dest / name)
    config = json.loads((dest / "config.json").read_text())
    config["dtype"] = "float32"  # the training dtype; the bfloat16 weights are upcast on load
    (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdar_agent.warm_start", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write an SFT model directory as a shipped (bfloat16) warm start")
    exp.add_argument("source", type=Path)
    exp.add_argument("dest", type=Path)
    exp.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16", help="of the stored weights")
    args = parser.parse_args(argv)
    print(export(args.source, args.dest, dtype=args.dtype))
    return 0
