"""Supervised fine-tuning on expert demonstrations (``sdar sft``): the warm start RL begins from.

The same policy, tokenizer and prompt code as ``sdar train``: each sample is a demonstration turn whose prompt is
the chat-templated turn prompt (:mod:`sdar_agent.demos`; left-truncated to ``max_prompt_tokens`` as rollouts do)
and whose target is the expert's reply followed by the end-of-turn token. The loss is the token-mean cross-entropy
of the reply tokens over each optimizer batch; prompt (env) tokens never enter it, unless ``env_text_coef`` adds an
auxiliary language-modelling term on them (a from-scratch model lacks what pretraining on text gives: the prompt
repeats the question and names the entities, so predicting it teaches copying; off by default).

``context_fraction`` (default 0) trains that share of the turns a second time with the env's informative privileged
context (:mod:`sdar_agent.privileged`: gold passages, target product, object location and expert plan) in front of
the prompt, exactly as the teacher of ``sdar train --teacher-context reference`` renders it
(:func:`context_samples`): a warm start that has seen the context learns to use it, so the teacher knows more than
the student.

Layouts (``layout``):

``turn`` (default)
    one sample per turn, exactly the prompts RL later sees.
``episode``
    an episode packed as one multi-turn chat: the first turn's prompt, then per later turn a user message with only
    the new observation and admissible actions (the conversation holds the history); loss on every assistant turn.
    Fewer tokens per reply token, but later turns are trained in a chat layout that RL prompts do not use.

One optimizer step takes ``batch_size`` samples (gradient accumulation over micro-batches of at most
``micro_batch_tokens`` padded tokens); AdamW, linear warm-up then cosine decay to ``min_lr_ratio * lr``, grad clip.
Checkpoints (``accelerate`` state + data order), ``metrics.jsonl`` (loss, tokens/s, lr and, every ``eval_every``
steps, held-out success/score), ``sdar plot`` and ``--resume`` work as in ``sdar train``. ``lora`` trains
low-rank adapters (``peft``) instead of all weights and merges them into the saved model.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sdar_agent.checkpoints import (
    apply_optimizer_settings,
    check_resume,
    latest_checkpoint,
    load_checkpoint,
    prepare_run_dir,
    save_checkpoint,
    truncate_metrics,
)
from sdar_agent.config import resolve_env_id
from sdar_agent.demos import DemoTurn, expert_demos, read_demos, write_demos
from sdar_agent.policy import Policy, load_policy

__all__ = [
    "HELD_OUT_SPLITS",
    "RESUME_FIXED",
    "SFTConfig",
    "SFTSample",
    "SFTTrainer",
    "build_samples",
    "context_samples",
    "sft",
]

#: Held-out split each shipped env is monitored on during SFT (never trained on; no model selection uses it).
HELD_OUT_SPLITS: dict[str, str] = {
    "searchqa": "test",
    "webshop": "test",
    "alfworld": "eval_out_of_distribution",
}

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

#: Settings a resumed SFT run must share with its checkpoint (the data, the model, the sample order and shapes).
RESUME_FIXED: frozenset[str] = frozenset(
    {
        "env", "data", "split", "episodes", "demo_seed", "env_kwargs", "model", "gguf_file", "dtype",
        "small_hidden", "small_layers", "small_vocab", "small_pre_tokenizer", "layout", "batch_size",
        "max_prompt_tokens", "context_fraction", "lora", "lora_r", "lora_alpha", "seed",
    }
)  # fmt: skip


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass
class SFTConfig:
    """Everything an SFT run needs (see each field's help)."""

    env: str = _help("env short name or Gymnasium id (demos are recorded on it; eval runs on it)", "webshop")
    data: str | None = _help("demonstration file(s), comma-separated (.jsonl/.parquet); default: record them", None)
    split: str = _help("split the demonstrations are recorded on (when --data is unset)", "train")
    episodes: int | None = _help("expert episodes to record (when --data is unset; default: the whole split)", None)
    demo_seed: int = _help("reset seed base of the recorded expert episodes", 0)
    env_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "extra keyword arguments for gymnasium.make (YAML or JSON)"}
    )
    model: str = _help("'small', 'tiny', an alias, a model directory or a model id", "small")
    gguf_file: str | None = _help("GGUF file name inside --model's directory", None)
    dtype: str = _help("parameter dtype: float32, bfloat16 or float16", "float32")
    small_hidden: int = _help("hidden size of the small model", 256)
    small_layers: int = _help("layers of the small model", 4)
    small_vocab: int = _help("vocabulary of the small model's env-text tokenizer", 8192)
    small_pre_tokenizer: str = _help("small tokenizer: 'none' (merges cross words) or 'words' (split on words)", "none")
    layout: str = _help("'turn' (one sample per turn, the RL prompts) or 'episode' (packed multi-turn chat)", "turn")
    epochs: float = _help("passes over the demonstrations (when --steps is 0)", 3.0)
    steps: int = _help("optimizer steps (0: from --epochs)", 0)
    batch_size: int = _help("samples per optimizer step", 16)
    micro_batch_tokens: int = _help("padded tokens per forward/backward pass (gradient accumulation)", 8192)
    max_prompt_tokens: int = _help("prompt token limit; longer prompts lose their oldest tokens", 4096)
    lr: float = _help("peak AdamW learning rate", 1e-3)
    min_lr_ratio: float = _help("cosine decay ends at this fraction of --lr", 0.1)
    warmup_ratio: float = _help("fraction of steps with linear warm-up", 0.03)
    weight_decay: float = _help("AdamW weight decay", 0.0)
    grad_clip: float = _help("gradient norm clip", 1.0)
    env_text_coef: float = _help(
        "weight of an auxiliary language-modelling loss on the prompt (env) text; 0 keeps env text out of the loss",
        0.0,
    )
    context_fraction: float = _help(
        "fraction of demonstration turns trained a second time with the env's informative privileged context in "
        "front of the prompt, as the teacher of --teacher-context reference reads it (0: none; layout 'turn')",
        0.0,
    )
    lora: bool = _help("train LoRA adapters (peft) instead of every weight; merged into the saved model", False)
    lora_r: int = _help("LoRA rank", 16)
    lora_alpha: int = _help("LoRA alpha", 32)
    eval_every: int = _help("evaluate on the held-out split every this many steps (0: only at the end)", 0)
    eval_split: str | None = _help("held-out split for evaluation (default: the env's test split)", None)
    eval_tasks: int = _help("held-out tasks per evaluation (0: skip evaluation)", 50)
    eval_max_turns: int | None = _help("episode step limit in evaluation (default: the env's)", None)
    eval_max_response_tokens: int = _help("reply token limit per turn in evaluation", 96)
    torch_threads: int = _help("CPU threads torch may use (0: torch's default)", 0)
    seed: int = _help("seed of the data order and the model's initialisation", 0)
    output_dir: str = _help("run directory: metrics.jsonl, checkpoints/, model/, demos.jsonl", "runs/sft")
    save_every: int = _help("save a checkpoint every this many steps (0: only at the end)", 100)
    keep_checkpoints: int = _help("keep the newest N complete checkpoints (0: all)", 2)
    resume: bool = _help("resume from the newest checkpoint in output_dir", False)
    progress: bool = _help("show a progress bar", True)

    @property
    def env_id(self) -> str:
        return resolve_env_id(self.env)

    def validate(self) -> None:
        """Raise ``ValueError`` naming every bad field at once."""
        problems = []
        if self.layout not in ("turn", "episode"):
            problems.append(f"layout must be 'turn' or 'episode', got {self.layout!r}")
        if self.dtype not in _DTYPES:
            problems.append(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        for name in ("batch_size", "micro_batch_tokens", "max_prompt_tokens", "small_hidden", "small_layers"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("steps", "eval_every", "eval_tasks", "save_every", "keep_checkpoints", "torch_threads"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.steps == 0 and not self.epochs > 0:
            problems.append(f"epochs must be > 0 when steps is 0, got {self.epochs}")
        if self.env_text_coef < 0:
            problems.append(f"env_text_coef must be >= 0, got {self.env_text_coef}")
        if not 0 <= self.context_fraction <= 1:
            problems.append(f"context_fraction must be in [0, 1], got {self.context_fraction}")
        elif self.context_fraction > 0 and self.layout != "turn":
            problems.append("context_fraction needs layout 'turn' (the teacher reads one turn prompt at a time)")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1 or not 0 <= self.warmup_ratio < 1:
            problems.append("min_lr_ratio must be in [0, 1] and warmup_ratio in [0, 1)")
        if self.lora and self.model in ("small", "tiny"):
            problems.append("lora adapts a pretrained model; train 'small'/'tiny' fully (drop --lora)")
        if problems:
            raise ValueError("invalid SFT config: " + "; ".join(problems))


@dataclass
class SFTSample:
    """Token ids and the loss mask of one training sequence (1 on reply tokens)."""

    input_ids: list[int]
    loss_mask: list[int]

    @property
    def reply_tokens(self) -> int:
        return sum(self.loss_mask)


def _end_of_turn(policy: Policy) -> int:
    """The token the policy ends a reply with (``<|im_end|>`` when present, else eos)."""
    tokenizer = policy.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        return im_end
    return int(tokenizer.eos_token_id)


def _continuation_message(turn: DemoTurn) -> dict[str, str]:
    """The ``episode`` layout's user message after the first turn: only what is new this turn."""
    actions = [line for line in turn.messages[0]["content"].split("\n\n") if line.startswith("Admissible actions")]
    parts = [f"Current observation: {turn.observation}"]
    if actions:
        parts.append(actions[0])
    return {"role": "user", "content": "\n\n".join(parts)}


def build_samples(policy: Policy, turns: Sequence[DemoTurn], layout: str, max_prompt_tokens: int) -> list[SFTSample]:
    """Tokenize demonstration turns into training sequences (see the module docstring for the layouts)."""
    end = _end_of_turn(policy)
    if layout == "turn":
        samples = []
        for turn in turns:
            prompt = policy.encode(policy.chat_prompt(turn.messages))[-max_prompt_tokens:]
            reply = [*policy.encode(turn.reply), end]
            samples.append(SFTSample(prompt + reply, [0] * len(prompt) + [1] * len(reply)))
        return samples
    episodes: dict[tuple[str, int], list[DemoTurn]] = {}
    for turn in turns:
        episodes.setdefault((turn.split, turn.episode), []).append(turn)
    return [_episode_sample(policy, sorted(e, key=lambda t: t.turn), end) for e in episodes.values()]


def context_samples(
    policy: Policy,
    turns: Sequence[DemoTurn],
    context: Callable[[DemoTurn], str],
    fraction: float,
    max_prompt_tokens: int,
    seed: int = 0,
) -> list[SFTSample]:
    """``round(fraction * len(turns))`` demonstration turns again, each with its task's privileged context in front.

    The turns are drawn without replacement by a generator seeded with ``seed`` and kept in their order. Each
    prompt is the teacher's (:func:`sdar_agent.teacher.teacher_prompt_ids`, placement ``prefix``):
    ``privileged_prefix(context(turn))`` before the chat-templated prompt, left-truncated to ``max_prompt_tokens``;
    the target is what the expert would reply with the context in front (:func:`sdar_agent.demos.context_replies`:
    on Search-QA the episode's answer at once, elsewhere the expert's reply, as in :func:`build_samples`), or the
    expert's reply where the context is empty. So a warm start learns to use the context when it is there.
    """
    from sdar_agent.demos import context_replies
    from sdar_agent.teacher import teacher_prompt_ids

    count = round(fraction * len(turns))
    chosen = sorted(random.Random(f"sdar-sft-context-{seed}").sample(range(len(turns)), count))
    picked = [turns[i] for i in chosen]
    bodies = [context(turn) for turn in picked]
    prompts = teacher_prompt_ids(policy, [t.messages for t in picked], bodies, max_prompt_tokens, "prefix")
    end = _end_of_turn(policy)
    informed = context_replies(turns)
    samples = []
    for turn, prompt, body in zip(picked, prompts, bodies, strict=True):
        text = informed[(turn.split, turn.episode, turn.turn)] if body.strip() else turn.reply
        reply = [*policy.encode(text), end]
        samples.append(SFTSample(prompt + reply, [0] * len(prompt) + [1] * len(reply)))
    return samples


def _episode_sample(policy: Policy, turns: Sequence[DemoTurn], end: int) -> SFTSample:
    """One packed multi-turn sequence: each turn's templated prefix (mask 0), then its reply and end token (mask 1)."""
    ids: list[int] = []
    mask: list[int] = []
    chat: list[dict[str, str]] = []
    for turn in turns:
        chat.append(turn.messages[0] if turn.turn == 0 else _continuation_message(turn))
        prefix = policy.encode(policy.chat_prompt(chat))
        if prefix[: len(ids)] != ids[: len(prefix)]:
            raise ValueError("the chat template does not tokenize turn by turn; use layout='turn'")
        mask += [0] * (len(prefix) - len(ids))
        ids = prefix
        reply = [*policy.encode(turn.reply), end]
        ids = ids + reply
        mask += [1] * len(reply)
        chat.append({"role": "assistant", "content": turn.reply})
    return SFTSample(ids, mask)


def micro_batches(samples: Sequence[SFTSample], order: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Split ``order`` into consecutive micro-batches whose padded size (rows x longest row) stays within
    ``max_tokens`` (a single longer sample forms its own micro-batch)."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = len(samples[index].input_ids)
        if current and max(longest, length) * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches


def token_losses(
    model: torch.nn.Module, samples: Sequence[SFTSample], pad_id: int, device
) -> tuple[torch.Tensor, int, torch.Tensor, int]:
    """Summed cross-entropy of the reply tokens of ``samples`` (right-padded into one batch), their count, and the
    same for the prompt (env) tokens after the first."""
    width = max(len(s.input_ids) for s in samples)
    ids = torch.full((len(samples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(samples), width), dtype=torch.long)
    mask = torch.zeros((len(samples), width), dtype=torch.float32)
    for row, sample in enumerate(samples):
        n = len(sample.input_ids)
        ids[row, :n] = torch.tensor(sample.input_ids)
        attention[row, :n] = 1
        mask[row, :n] = torch.tensor(sample.loss_mask, dtype=torch.float32)
    ids, attention, mask = ids.to(device), attention.to(device), mask.to(device)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
    losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none")
    reply = mask[:, 1:].reshape(-1)
    prompt = attention[:, 1:].reshape(-1).float() * (1 - reply)
    return (losses * reply).sum(), int(reply.sum().item()), (losses * prompt).sum(), int(prompt.sum().item())


def reply_loss(model: torch.nn.Module, samples: Sequence[SFTSample], pad_id: int, device) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy of the reply tokens of ``samples`` and their count (the SFT objective)."""
    reply_sum, reply_count, _, _ = token_losses(model, samples, pad_id, device)
    return reply_sum, reply_count


class _State:
    """Step and data-order state, checkpointed with the model (``state_dict`` protocol for ``accelerate``)."""

    def __init__(self) -> None:
        self.step = 0
        self.epoch = 0
        self.position = 0
        self.tokens = 0

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step, "epoch": self.epoch, "position": self.position, "tokens": self.tokens}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.position, self.tokens = int(state["position"]), int(state.get("tokens", 0))


class SFTTrainer:
    """Supervised fine-tuning of a policy on demonstration turns (see the module docstring)."""

    def __init__(self, config: SFTConfig, policy: Policy | None = None, turns: Sequence[DemoTurn] | None = None):
        from accelerate import Accelerator

        config.validate()
        self.config = config
        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.output_dir = Path(config.output_dir)
        self.accelerator = Accelerator()
        self.policy = policy or self._load_policy()
        self.turns = list(turns) if turns is not None else self._load_turns()
        if not self.turns:
            raise ValueError("no demonstration turns to train on; check --data / --env / --episodes")
        self.samples = build_samples(self.policy, self.turns, config.layout, config.max_prompt_tokens)
        if config.context_fraction > 0:
            self.samples += self._context_samples()
        self.total_steps = config.steps or max(1, math.ceil(config.epochs * len(self.samples) / config.batch_size))
        model = self.policy.model
        if config.lora:
            model = self._with_lora(model)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.95))
        warmup = round(config.warmup_ratio * self.total_steps)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, self.total_steps - warmup)
            return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        self.state = _State()
        self.accelerator.register_for_checkpointing(self.state)

    # ---- setup -------------------------------------------------------------------------------------------------
    def _load_policy(self) -> Policy:
        config = self.config
        if config.model == "small":
            from sdar_agent.small import SmallConfig, build_small_policy

            shape = SmallConfig(
                hidden_size=config.small_hidden,
                num_layers=config.small_layers,
                vocab_size=config.small_vocab,
                pre_tokenizer=config.small_pre_tokenizer,
                seed=config.seed,
            )
            return build_small_policy(shape)
        return load_policy(config.model, gguf_file=config.gguf_file, dtype=_DTYPES[config.dtype])

    def _load_turns(self) -> list[DemoTurn]:
        config = self.config
        if config.data:
            return [turn for path in config.data.split(",") for turn in read_demos(path.strip())]
        cached = self.output_dir / "demos.jsonl"
        if cached.is_file():
            return read_demos(cached)
        demos = expert_demos(
            config.env_id,
            config.split,
            episodes=config.episodes,
            seed=config.demo_seed,
            env_kwargs=config.env_kwargs,
            progress=config.progress,
        )
        if self.accelerator.is_main_process:
            write_demos(demos, cached)
        return demos.turns

    def _context_samples(self) -> list[SFTSample]:
        """The ``context_fraction`` share of turns with the env's informative privileged context in front."""
        from sdar_agent.privileged import ContextProvider

        config = self.config
        provider = ContextProvider(config.env_id, self.turns[0].split, "informative", config.env_kwargs)
        try:
            return context_samples(
                self.policy,
                self.turns,
                lambda turn: provider.text(turn.task_id, turn.split),
                config.context_fraction,
                config.max_prompt_tokens,
                config.seed,
            )
        finally:
            provider.close()

    def _with_lora(self, model: torch.nn.Module) -> torch.nn.Module:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as error:
            raise ModuleNotFoundError("--lora needs peft: `pip install 'sdar[lora]'`") from error
        lora = LoraConfig(
            r=self.config.lora_r, lora_alpha=self.config.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"
        )
        return get_peft_model(model, lora)

    # ---- state -------------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.state.step

    def _epoch_order(self, epoch: int) -> list[int]:
        """The sample order of ``epoch``: shuffled, then length-sorted within each batch so micro-batches pad little."""
        order = list(range(len(self.samples)))
        random.Random(self.config.seed * 1_000_003 + epoch).shuffle(order)
        chunk = self.config.batch_size
        out: list[int] = []
        for start in range(0, len(order), chunk):
            out += sorted(order[start : start + chunk], key=lambda i: len(self.samples[i].input_ids))
        return out

    def save(self) -> Path:
        """A resumable checkpoint, atomically, as ``output_dir/checkpoints/step_<step>``, keeping the newest
        ``keep_checkpoints`` (:func:`sdar_agent.checkpoints.save_checkpoint`)."""
        return save_checkpoint(
            self.accelerator, self.output_dir, self.step, asdict(self.config), keep=self.config.keep_checkpoints
        )

    def load(self) -> Path:
        """Restore the newest complete checkpoint; settings that define the run (:data:`RESUME_FIXED`) must match
        the checkpoint's (else a ``ResumeError`` naming them), other changes (the learning rate...) are applied and
        printed; ``metrics.jsonl`` loses the lines of later steps."""
        path = latest_checkpoint(self.output_dir)
        if path is None:
            raise FileNotFoundError(
                f"no complete checkpoint under {self.output_dir / 'checkpoints'}; run without --resume"
            )
        changes = check_resume(
            path, asdict(self.config), RESUME_FIXED, ignored=("resume", "progress", "output_dir"), flag=_flag
        )
        load_checkpoint(self.accelerator, path)
        apply_optimizer_settings(
            self.optimizer, self.scheduler, lr=self.config.lr, weight_decay=self.config.weight_decay
        )
        if self.accelerator.is_main_process:
            dropped = truncate_metrics(self.output_dir / "metrics.jsonl", self.step)
            note = f"; {dropped} metrics.jsonl line(s) of later steps dropped" if dropped else ""
            print(changes.describe() + note, file=sys.stderr)
        return path

    def save_model(self, directory: str | Path | None = None) -> Path:
        """The fine-tuned policy as a plain model directory (LoRA adapters merged); ``sdar train --model`` loads it."""
        path = Path(directory) if directory else self.output_dir / "model"
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            model = self.accelerator.unwrap_model(self.model)
            if self.config.lora:  # merged into a copy: the trainer keeps its adapters (it may train on)
                model = copy.deepcopy(model).merge_and_unload()
            Policy(model, self.policy.tokenizer).save(path)
        return path

    # ---- training ----------------------------------------------------------------------------------------------
    def _next_batch(self) -> list[int]:
        """The next ``batch_size`` sample indices, continuing the current epoch's order."""
        size = self.config.batch_size
        order = self._epoch_order(self.state.epoch)
        if self.state.position >= len(order):
            self.state.epoch += 1
            self.state.position = 0
            order = self._epoch_order(self.state.epoch)
        batch = order[self.state.position : self.state.position + size]
        self.state.position += size
        return batch

    def train_step(self) -> dict[str, float]:
        """One optimizer step over the next batch; returns (and logs) its metrics."""
        started = time.perf_counter()
        self.model.train()
        batch = self._next_batch()
        chunks = micro_batches(self.samples, batch, self.config.micro_batch_tokens)
        reply_tokens = sum(self.samples[i].reply_tokens for i in batch)
        env_tokens = sum(len(self.samples[i].input_ids) - 1 - self.samples[i].reply_tokens for i in batch)
        total_loss = total_env = 0.0
        for chunk in chunks:
            rows = [self.samples[i] for i in chunk]
            loss_sum, _, env_sum, _ = token_losses(
                self.model, rows, self.policy.tokenizer.pad_token_id, self.accelerator.device
            )
            loss = loss_sum / max(1, reply_tokens)
            if self.config.env_text_coef > 0:
                loss = loss + self.config.env_text_coef * env_sum / max(1, env_tokens)
                total_env += float(env_sum.detach())
            self.accelerator.backward(loss)
            total_loss += float(loss_sum.detach())
        grad_norm = self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = sum(len(self.samples[i].input_ids) for i in batch)
        self.state.tokens += tokens
        self.state.step += 1
        seconds = time.perf_counter() - started
        return {
            "step": self.step,
            "epoch": self.state.epoch + self.state.position / max(1, len(self.samples)),
            "loss": total_loss / max(1, reply_tokens),
            **({"env_text_loss": total_env / max(1, env_tokens)} if self.config.env_text_coef > 0 else {}),
            "grad_norm": float(grad_norm),
            "lr": float(self.scheduler.get_last_lr()[0]),
            "tokens": float(self.state.tokens),
            "reply_tokens": float(reply_tokens),
            "tokens_per_s": tokens / max(seconds, 1e-9),
            "time/step": seconds,
        }

    def evaluate(self) -> dict[str, float]:
        """Success and score on ``eval_tasks`` held-out tasks with the current weights."""
        from sdar_agent.evaluation import evaluate

        config = self.config
        env = self.turns[0].env
        split = config.eval_split or HELD_OUT_SPLITS.get(env)
        if not split or config.eval_tasks == 0:
            return {}
        trained = self.accelerator.unwrap_model(self.model)
        trained.eval()
        # A rollout engine loads plain checkpoint weights: LoRA adapters are merged into a copy for the evaluation.
        model = copy.deepcopy(trained).merge_and_unload() if config.lora else trained
        policy = Policy(model, self.policy.tokenizer, self.policy.source, self.policy.stop_ids)
        with torch.no_grad():
            result = evaluate(
                policy,
                config.env_id,
                split=split,
                num_tasks=config.eval_tasks,
                max_new_tokens=config.eval_max_response_tokens,
                max_prompt_tokens=config.max_prompt_tokens,
                max_turns=config.eval_max_turns,
                seed=config.seed,
                env_kwargs=config.env_kwargs,
            )
        trained.train()
        return {
            "eval/success": result["success"],
            "eval/score": result["score"],
            "eval/invalid_rate": result["invalid_rate"],
            "eval/turns": result["turns"],
        }

    def _log(self, metrics: dict[str, float]) -> None:
        if self.accelerator.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with (self.output_dir / "metrics.jsonl").open("a") as log:
                log.write(json.dumps(metrics) + "\n")

    def fit(self) -> list[dict[str, float]]:
        """Train to ``total_steps`` (resuming first when ``config.resume``), evaluate, save; return the metrics."""
        from tqdm.auto import tqdm

        config = self.config
        if self.accelerator.is_main_process:
            prepare_run_dir(self.output_dir)  # an unwritable --output-dir fails now, not after a step
        if config.resume:
            self.load()
        history = []
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not (config.progress and self.accelerator.is_main_process),
            desc=f"sft {self.turns[0].env}",
        )
        while self.step < self.total_steps:
            metrics = self.train_step()
            last = self.step == self.total_steps
            if (config.eval_every and self.step % config.eval_every == 0) or last:
                metrics.update(self.evaluate())
            self._log(metrics)
            history.append(metrics)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", tok_s=f"{metrics['tokens_per_s']:.0f}")
            if config.save_every and self.step % config.save_every == 0 and not last:
                self.save()
        bar.close()
        self.save()
        self.save_model()
        return history


def sft(config: SFTConfig) -> list[dict[str, float]]:
    """Build an :class:`SFTTrainer` from ``config`` and run it."""
    return SFTTrainer(config).fit()
