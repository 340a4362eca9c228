"""The training configuration: one dataclass, a default and a one-line help per field.

Defaults follow the SDAR / verl-agent GRPO settings (the released SDAR code's ``examples/sdar_trainer/*.sh`` and
verl-agent's ``verl/trainer/config/ppo_trainer.yaml``; ``docs/trainer.md``, "Settings"): 16 tasks x 8
rollouts per step, temperature 1.0, PPO clip 0.2 with dual clip 3.0, k3 KL to the reference (0.01; 0.001 for
Search-QA, taken from the env's profile when ``kl_coef`` is unset), entropy bonus 0.001, AdamW lr 1e-6 with weight
decay 0.01, grad clip 1.0, 150 steps, replies up to 512 tokens. Values come from the defaults, then a YAML file,
then command-line flags (:func:`load_config`).

:meth:`TrainConfig.validate` checks every field before any model, env or accelerator is made and raises one
:class:`ConfigError` with a line per bad field (named as its ``sdar train`` flag); ``load_config`` adds a line per
value that does not parse. A checkpoint is written every ``save_every`` steps (default 10) and at the end; the
newest ``keep_checkpoints`` complete ones are kept (:mod:`sdar_agent.checkpoints`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sdar_envs

__all__ = [
    "DTYPES",
    "ENGINES",
    "ENV_IDS",
    "MIXED_PRECISION",
    "RESUME_FIXED",
    "RESUME_IGNORED",
    "ConfigError",
    "TrainConfig",
    "flag",
    "load_config",
    "resolve_env_id",
]

#: Parameter dtypes ``--dtype`` accepts (the trainer maps them to torch dtypes).
DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")
#: ``accelerate`` mixed-precision modes ``--mixed-precision`` accepts.
MIXED_PRECISION: tuple[str, ...] = ("no", "bf16", "fp16")


#: Fields a resumed run must keep: they define what is trained, on what, and how (``sdar train --resume`` refuses a
#: change, naming it). Every other field may change on resume and is applied (the learning rate included).
RESUME_FIXED: frozenset[str] = frozenset(
    {
        "env", "split", "env_kwargs", "method", "model", "gguf_file", "dtype", "mixed_precision", "tiny_hidden",
        "tiny_layers", "seed", "skills_file", "skill_strategy", "skill_k", "skill_placement", "teacher_context",
        "context_quality", "gate", "gate_beta", "gate_coupled", "divergence", "divergence_top_k", "sd_coef",
        "pg_coef", "rlsd_warmdown_steps",
    }
)  # fmt: skip
#: Fields not compared on resume (they say how to run, not what).
RESUME_IGNORED: frozenset[str] = frozenset({"resume", "progress", "output_dir"})


class ConfigError(ValueError):
    """A training config with bad fields; the message has one line per field, named as its command-line flag."""

    def __init__(self, problems: list[str], what: str = "training config") -> None:
        self.problems = list(problems)
        lines = "\n  ".join(self.problems)
        super().__init__(f"invalid {what} ({len(self.problems)} problem{'s' * (len(self.problems) != 1)}):\n  {lines}")


def flag(name: str) -> str:
    """The command-line flag of a config field: ``group_size`` -> ``--group-size``."""
    return "--" + name.replace("_", "-")


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
    return_kind: str | None = _help(
        "episode return: 'won' (win reward x won; ALFWorld/WebShop default), 'score' (win reward x the env's task "
        "score, e.g. WebShop's partial purchase score: a dense signal) or 'reward' (summed env reward)",
        None,
    )
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
    teacher_context: str = _help(
        "privileged text of the teacher (and of the student prompt for methods that show skills): 'skills' (the "
        "skill bank, or --skills-file) or 'reference' (the env's task context: gold passages, target product, "
        "object location and expert plan; sdar_agent.privileged)",
        "skills",
    )
    context_quality: str = _help(
        "with --teacher-context reference: 'informative' (the task's own), 'random' (another task's) or "
        "'adversarial' (a plausible wrong one)",
        "informative",
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
    save_every: int = _help("save a checkpoint every this many steps and at the end (0: only at the end)", 10)
    keep_checkpoints: int = _help("newest complete checkpoints kept in output_dir/checkpoints (0: all)", 2)
    resume: bool = _help(
        "resume from the newest complete checkpoint in output_dir (changed settings are applied or refused, and named)",
        False,
    )
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

    def validate(self, *, check_paths: bool = True) -> None:
        """Raise :class:`ConfigError` listing every bad field (see :meth:`problems`)."""
        problems = self.problems(check_paths=check_paths)
        if problems:
            raise ConfigError(problems)

    def problems(self, *, check_paths: bool = True) -> list[str]:
        """One line per bad field, ``"--flag: what is wrong (got X)"``; empty when the config can run.

        Checks types and ranges of every number, the names of every choice (env, method, dtype, strategies,
        gate...), combinations that would be silently ignored (``--gguf-file`` with ``tiny``, a method override on
        a method without that term; skill settings are not flagged, as one config often serves several methods)
        and, with ``check_paths``, that
        ``--skills-file`` exists and ``--output-dir`` can be created and written (nothing is created here).
        """
        return _problems(self, check_paths)


def _problems(config: TrainConfig, check_paths: bool) -> list[str]:
    from gymnasium.envs.registration import registry

    from sdar_agent.env_profiles import RETURN_KINDS
    from sdar_agent.losses import GATE_KINDS
    from sdar_agent.methods import DIVERGENCES, METHODS
    from sdar_agent.privileged import CONTEXT_QUALITIES, TEACHER_CONTEXTS
    from sdar_agent.teacher import PLACEMENTS
    from skillbank import STRATEGIES

    out: list[str] = []
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}

    def bad(name: str, text: str) -> None:
        out.append(f"{flag(name)}: {text} (got {values[name]!r})")

    def integer(name: str, low: int, optional: bool = False) -> None:
        value = values[name]
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            bad(name, "must be an integer" + (" or none" if optional else ""))
        elif value < low:
            bad(name, f"must be at least {low}")

    def number(name: str, low: float, high: float = math.inf, *, low_open=False, high_open=False, optional=False):
        value = values[name]
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            bad(name, "must be a finite number" + (" or none" if optional else ""))
            return
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if below or above:
            lo, hi = ("(" if low_open else "[") + f"{low:g}", f"{high:g}" + (")" if high_open else "]")
            bad(name, f"must lie in {lo}, {hi}" if high != math.inf else f"must be {'>' if low_open else '>='} {low:g}")

    def choice(name: str, options: tuple[str, ...], optional: bool = False) -> None:
        value = values[name]
        if not (value is None and optional) and value not in options:
            bad(name, f"must be one of {', '.join(options)}" + (" or unset" if optional else ""))

    try:
        env_id = resolve_env_id(config.env)
    except (ValueError, TypeError, AttributeError) as err:
        bad("env", str(err).split(":")[0])
    else:
        if env_id not in registry:
            bad("env", f"{env_id} is not a registered Gymnasium env (import the package that registers it)")
    if not isinstance(config.split, str) or not config.split:
        bad("split", "must name a split")
    if not isinstance(config.env_kwargs, dict):
        bad("env_kwargs", "must be a mapping of gymnasium.make arguments")
    choice("method", tuple(METHODS))
    spec = METHODS.get(config.method)
    if not isinstance(config.model, str) or not config.model:
        bad("model", "must be 'tiny', an alias, a model directory or a model id")
    if config.gguf_file is not None and config.model == "tiny":
        bad("gguf_file", "applies to a model directory holding that GGUF file, not to --model tiny; drop it")
    choice("dtype", DTYPES)
    choice("mixed_precision", MIXED_PRECISION)
    for name in ("tiny_hidden", "tiny_layers", "steps", "tasks_per_step", "group_size", "max_prompt_tokens"):
        integer(name, 1)
    integer("max_response_tokens", 1)
    integer("max_turns", 1, optional=True)
    choice("return_kind", RETURN_KINDS, optional=True)
    number("temperature", 0.0)
    number("top_p", 0.0, 1.0, low_open=True)
    number("lr", 0.0, low_open=True)
    number("weight_decay", 0.0)
    number("warmup_ratio", 0.0, 1.0, high_open=True)
    number("grad_clip", 0.0, low_open=True)
    integer("mini_batch_size", 0)
    integer("micro_batch_size", 1)
    number("clip_low", 0.0, 1.0, high_open=True)
    number("clip_high", 0.0)
    number("dual_clip", 1.0, low_open=True)
    number("kl_coef", 0.0, optional=True)
    number("entropy_coef", 0.0)
    choice("skill_strategy", STRATEGIES)
    integer("skill_k", 1, optional=True)
    if config.skill_strategy == "full" and config.skill_k is not None:
        bad("skill_k", "must be unset with --skill-strategy full (it shows every skill of the env)")
    choice("skill_placement", PLACEMENTS)
    choice("teacher_context", TEACHER_CONTEXTS)
    choice("context_quality", CONTEXT_QUALITIES)
    if config.teacher_context == "reference" and config.skills_file is not None:
        bad("skills_file", "conflicts with --teacher-context reference (the env gives the context); drop one")
    if config.teacher_context != "reference" and config.context_quality != "informative":
        bad("context_quality", "only applies with --teacher-context reference")
    choice("gate", GATE_KINDS, optional=True)
    number("gate_beta", 0.0, optional=True)
    choice("divergence", DIVERGENCES, optional=True)
    integer("divergence_top_k", 1, optional=True)
    number("sd_coef", 0.0, optional=True)
    number("pg_coef", 0.0, optional=True)
    integer("rlsd_warmdown_steps", 1, optional=True)
    integer("torch_threads", 0)
    integer("seed", 0)
    integer("save_every", 0)
    integer("keep_checkpoints", 0)
    if spec is not None:  # overrides and skill settings the method would ignore
        sdar_terms = ("gate", "gate_beta", "gate_coupled", "divergence", "divergence_top_k")
        for name in sdar_terms:
            if values[name] is not None and spec.sd_kind != "sdar":
                bad(name, f"only applies to methods with the SDAR term; {spec.name} has none")
        if config.sd_coef is not None and spec.sd_kind == "none":
            bad("sd_coef", f"{spec.name} has no self-distillation term to weight")
        if config.rlsd_warmdown_steps is not None and not spec.rlsd:
            bad("rlsd_warmdown_steps", f"only applies to rlsd; {spec.name} is not")
    if check_paths and isinstance(config.skills_file, str) and not Path(config.skills_file).is_file():
        bad("skills_file", "no such file")
    if check_paths and isinstance(config.output_dir, str):
        problem = _unwritable(Path(config.output_dir))
        if problem:
            bad("output_dir", problem)
    return out


def _unwritable(directory: Path) -> str | None:
    """Why a run cannot be written to ``directory`` (``None`` when it can): it, or the nearest existing folder above
    it, must be a directory this process may write. Nothing is created."""
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        return f"{existing} is a file, not a directory; pick another directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user; pick another directory"
    return None


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


def field_types(cls: type = TrainConfig) -> dict[str, Any]:
    """Field name -> annotation (strings resolved) of a config dataclass (``TrainConfig`` or ``SFTConfig``)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def load_config(
    yaml_path: str | Path | None = None, overrides: dict[str, Any] | None = None, cls: type = TrainConfig
) -> Any:
    """Defaults, then the YAML file's keys, then ``overrides`` (strings are parsed to the field's type); ``cls`` is
    the config dataclass (``TrainConfig`` by default)."""
    values: dict[str, Any] = {}
    known = field_types(cls)
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
    problems = []
    for name, value in list(values.items()):
        if isinstance(value, str) and known[name] is not str:
            try:
                values[name] = _convert(value, known[name])
            except ValueError as err:
                problems.append(f"{flag(name)}: cannot read {value!r} as {_type_name(known[name])} ({err})")
                del values[name]
    config = cls(**values)
    if isinstance(config, TrainConfig):
        problems += config.problems()
    if problems:
        raise ConfigError(problems)
    return config


def _type_name(annotation: Any) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if args and typing.get_origin(annotation) is not dict else annotation
    return {int: "an integer", float: "a number", bool: "true/false", dict: "a JSON object"}.get(base, str(base))
