"""The training configuration: one dataclass, a default and a one-line help per field.

Defaults follow the SDAR / verl-agent GRPO settings (the released SDAR code's ``examples/sdar_trainer/*.sh`` and
verl-agent's ``verl/trainer/config/ppo_trainer.yaml``; ``docs/trainer.md``, "Settings"): 16 tasks x 8
rollouts per step, temperature 1.0, PPO clip 0.2 with dual clip 3.0, k3 KL to the reference (0.01; 0.001 for
Search-QA, taken from the env's profile when ``kl_coef`` is unset), entropy bonus 0.001, AdamW lr 1e-6 with weight
decay 0.01, grad clip 1.0, 150 steps, replies up to 512 tokens. Values come from the defaults, then a YAML file,
then command-line flags (:func:`load_config`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sdar_envs

__all__ = ["ENGINES", "ENV_IDS", "TrainConfig", "load_config", "resolve_env_id"]

#: Rollout engines ``--rollout-engine`` accepts (:mod:`sdar_agent.engines`; ``auto``: vllm where installed, else hf).
ENGINES: tuple[str, ...] = ("auto", "vllm", "hf")


def _short_name(env_id: str) -> str:
    """``sdar/ALFWorld-v0`` -> ``alfworld``: the id's name, lower-cased, without its version."""
    return env_id.split("/", 1)[-1].removesuffix("-v0").lower()


#: Short env names accepted by ``--env`` -> their Gymnasium ids (``sdar_envs.ENV_IDS`` is the one list of ids).
ENV_IDS: dict[str, str] = {_short_name(env_id): env_id for env_id in sdar_envs.ENV_IDS}


def resolve_env_id(env: str) -> str:
    """``alfworld``/``webshop``/``searchqa`` -> their ids; anything holding a ``/`` is taken as a Gymnasium id."""
    if env in ENV_IDS:
        return ENV_IDS[env]
    if "/" in env:
        return env
    raise ValueError(f"unknown env {env!r}: use one of {', '.join(ENV_IDS)} or a full Gymnasium id like sdar/X-v0")


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """Everything a training run needs (see each field's help)."""

    env: str = _help("env short name (alfworld, webshop, searchqa) or a Gymnasium id", "webshop")
    split: str = _help("task split to train on", "train")
    env_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "extra keyword arguments for gymnasium.make (YAML or JSON)"}
    )
    method: str = _help("training method, a name in sdar_agent.methods.METHODS", "grpo")
    model: str = _help("'tiny', 'smollm2-135m-instruct', a local model directory or a model id", "tiny")
    gguf_file: str | None = _help("GGUF file name inside --model's directory", None)
    dtype: str = _help("parameter dtype: float32, bfloat16 or float16", "float32")
    mixed_precision: str = _help("accelerate mixed precision: no, bf16 or fp16", "no")
    tiny_hidden: int = _help("hidden size of the tiny model", 64)
    tiny_layers: int = _help("layers of the tiny model", 2)
    steps: int = _help("training steps (one rollout collection + one update each)", 150)
    tasks_per_step: int = _help("tasks per step (N) on each process", 16)
    group_size: int = _help("rollouts per task (G); GRPO normalises returns within a group", 8)
    max_turns: int | None = _help("episode step limit (default: the env's registered limit)", None)
    max_prompt_tokens: int = _help("prompt token limit; longer prompts lose their oldest tokens", 4096)
    max_response_tokens: int = _help("reply token limit per turn", 512)
    temperature: float = _help("rollout sampling temperature", 1.0)
    top_p: float = _help("rollout nucleus sampling threshold", 1.0)
    lr: float = _help("AdamW learning rate", 1e-6)
    weight_decay: float = _help("AdamW weight decay", 0.01)
    warmup_ratio: float = _help("fraction of steps with linear lr warm-up", 0.0)
    grad_clip: float = _help("gradient norm clip", 1.0)
    mini_batch_size: int = _help("turn-samples per optimizer step (0: the whole batch, one step)", 64)
    micro_batch_size: int = _help("turn-samples per forward/backward pass (gradient accumulation)", 8)
    clip_low: float = _help("PPO clip below the ratio 1", 0.2)
    clip_high: float = _help("PPO clip above the ratio 1", 0.2)
    dual_clip: float = _help("dual-clip constant for negative advantages", 3.0)
    kl_coef: float | None = _help("k3 KL-to-reference coefficient (default: the env's, 0.01 / Search-QA 0.001)", None)
    entropy_coef: float = _help("entropy bonus coefficient", 0.001)
    skills_file: str | None = _help(
        "text file of skills shown to the teacher (and student, per method) for every task; default: the skill bank",
        None,
    )
    skill_strategy: str = _help("skill-bank retrieval: keyword, ucb, full, random or adversarial", "keyword")
    skill_k: int | None = _help("skills retrieved per task (default: the strategy's; unset for full)", None)
    skill_placement: str = _help(
        "teacher skill text: 'prefix' (before the chat template, as released) or 'system' (a system message)", "prefix"
    )
    teacher_prefix_cache: bool = _help(
        "teacher pass: run the prompt start shared by a task's samples (skills + template) once into a KV cache", True
    )
    gate: str | None = _help("override the method's SDAR gate: gap, entropy, soft_or or none", None)
    gate_beta: float | None = _help("override the gate sharpness beta (SDAR: 5.0)", None)
    gate_coupled: bool | None = _help("let the gradient flow through the gate (unstable ablation)", None)
    divergence: str | None = _help("override the SDAR divergence: sampled, forward_kl or jsd", None)
    divergence_top_k: int | None = _help("forward_kl/jsd over the teacher's top-k ids plus a rest bucket", None)
    sd_coef: float | None = _help("override the self-distillation weight lambda (SDAR: 0.01)", None)
    pg_coef: float | None = _help("override the weight of the GRPO term", None)
    rlsd_warmdown_steps: int | None = _help("override RLSD's lambda decay length in steps (100)", None)
    torch_threads: int = _help("CPU threads of the process, vLLM's generation included (0: torch's default)", 0)
    rollout_engine: str = _help(
        "what samples rollouts: vllm (colocated), hf (transformers generate) or auto (vllm where installed)", "auto"
    )
    vllm_kv_cache_gib: float | None = _help(
        "vLLM KV cache size in GiB (default: 64 sequences of prompt + reply limit, <= 2 GiB CPU, <= 1/4 of a GPU)", None
    )
    seed: int = _help("seed of task sampling, rollouts and the tiny model", 0)
    output_dir: str = _help("run directory: metrics.jsonl, checkpoints/, model/", "runs/sdar")
    save_every: int = _help("save a checkpoint every this many steps (0: only at the end)", 0)
    resume: bool = _help("resume from the newest checkpoint in output_dir", False)
    progress: bool = _help("show a progress bar", True)

    @property
    def env_id(self) -> str:
        return resolve_env_id(self.env)

    def method_overrides(self) -> dict[str, Any]:
        """The :class:`~sdar_agent.methods.MethodSpec` fields set by this config (unset ones keep the method's)."""
        names = ("gate", "gate_beta", "gate_coupled", "divergence", "divergence_top_k", "sd_coef", "pg_coef")
        out = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if self.rlsd_warmdown_steps is not None:
            out["rlsd_warmdown_steps"] = self.rlsd_warmdown_steps
        return out


def _convert(value: str, annotation: Any) -> Any:
    """Parse a command-line string into the field's type."""
    import json

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if args and typing.get_origin(annotation) is not dict else annotation
    if value.lower() in ("none", "null") and type(None) in typing.get_args(annotation):
        return None
    if base is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    if typing.get_origin(annotation) is dict or base is dict:
        return json.loads(value)
    return base(value)


def field_types() -> dict[str, Any]:
    """Field name -> annotation (strings resolved)."""
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def load_config(yaml_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the YAML file's keys, then ``overrides`` (strings are parsed to the field's type)."""
    values: dict[str, Any] = {}
    known = field_types()
    if yaml_path is not None:
        import yaml

        path = Path(yaml_path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found at {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} must hold a mapping of config keys, got {type(loaded).__name__}")
        values.update(loaded)
    values.update(overrides or {})
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known keys: {', '.join(known)}")
    for name, value in list(values.items()):
        if isinstance(value, str) and known[name] is not str:
            values[name] = _convert(value, known[name])
    return TrainConfig(**values)
