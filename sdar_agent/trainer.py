"""The training loop: rollouts, group advantages, one pass of PPO-style updates, metrics, checkpoints.

One step (CleanRL order, verl-agent layout):

1. draw ``tasks_per_step`` tasks of the split and play ``group_size`` episodes of each (:mod:`sdar_agent.rollout`);
2. episode returns -> GRPO advantages, normalised across all turn-samples of a group, broadcast to every response
   token (:func:`sdar_agent.losses.grpo_advantages`);
3. reference log-probs (frozen copy of the initial policy) when the KL term is on; the teacher's side when the
   method uses a teacher (:class:`sdar_agent.teacher.Teacher`: the same pre-update weights, no gradient, the skill
   text prepended to the student's prompt; sampled-token log-probs, or logits per micro-batch for ``forward_kl``/
   ``jsd``);
4. one epoch over the samples in shuffled mini-batches of ``mini_batch_size``; each mini-batch is one AdamW step,
   accumulated over micro-batches whose losses share the mini-batch's token count as normaliser, so the update
   equals a token-mean over the mini-batch (:func:`sdar_agent.objective.compute_objective`); grad clip 1.0;
5. the skill bank (when skills come from it) is credited with each episode's score (UCB statistics);
6. the rollout engine gets the updated weights (:meth:`~sdar_agent.engines.RolloutEngine.sync_weights`, which also
   resets vLLM's prefix cache), so the next step samples from the policy it trains;
7. one JSONL line of metrics (timings: ``time/rollout``, with ``time/generate`` inside the engine and
   ``time/old_logp`` recomputing old log-probs; ``time/update`` and, inside it, the scoring passes
   ``time/reference`` and ``time/teacher``; ``time/step`` the whole step; ``rollout/logprob_gap_mean``/``_max``,
   the engine's sampling log-probs against the recomputed ones).

``accelerate`` places the model: the same code runs on CPU, one GPU or several (``accelerate launch``, DDP/FSDP);
with several processes, each plays its own ``tasks_per_step`` tasks (the slice of one step-wide draw; each episode
seeded by its index in the whole step, so P processes x N tasks play the episodes one process x P*N tasks would) with
its own colocated engine, and the loss of each optimizer step is normalised by the reply-token count of all
processes, so the averaged gradient equals the one-process gradient of the whole step's samples.
Checkpoints (``accelerator.save_state``) hold model, optimizer, scheduler and RNG states, plus the step and any
object registered with :meth:`Trainer.register_state` (e.g. a skill bank).
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sdar_agent.checkpoints import (
    apply_optimizer_settings,
    check_resume,
    latest_checkpoint,
    load_checkpoint,
    prepare_run_dir,
    save_checkpoint,
    truncate_metrics,
)
from sdar_agent.config import RESUME_FIXED, RESUME_IGNORED, TrainConfig, flag
from sdar_agent.engines import make_engine
from sdar_agent.env_profiles import profile_for
from sdar_agent.evaluation import summarize
from sdar_agent.losses import grpo_advantages
from sdar_agent.methods import get_method
from sdar_agent.objective import ObjectiveConfig, ObjectiveInputs, compute_objective, merge_metrics
from sdar_agent.policy import Policy, TinyConfig, load_policy
from sdar_agent.privileged import ContextProvider
from sdar_agent.rollout import EnvPool, EpisodeRecord, RolloutBatch, TurnSample, collect_rollouts, logprob_gaps
from sdar_agent.scoring import pad_rows, pad_samples, score_samples, score_tokens
from sdar_agent.teacher import PLACEMENTS, SkillProvider, Teacher, TeacherBatch
from sdar_envs.core import Task

__all__ = ["Trainer", "rollout_metrics", "train"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class _StepCounter:
    """The step number, checkpointed alongside the model (``state_dict`` protocol for ``accelerate``)."""

    def __init__(self) -> None:
        self.step = 0

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step = int(state["step"])


@dataclass
class _UpdateInputs:
    """What every micro-batch of one update reads: the samples and their per-sample advantages and scores."""

    samples: Sequence[TurnSample]
    advantages: torch.Tensor  # [N] GRPO advantages, one per sample
    reference: list[torch.Tensor] | None  # reference log-probs per sample (KL term on)
    teacher: TeacherBatch | None  # the teacher's side (methods with a teacher)


@dataclass
class _StepResult:
    """One optimizer step: the summed micro-batch losses, the gradient norm before clipping, the micro-batches'
    metrics and the prompt + response tokens processed."""

    loss: float = 0.0
    grad_norm: float = 0.0
    parts: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0


def rollout_metrics(batch: RolloutBatch) -> dict[str, float]:
    """A step's episode statistics (:func:`sdar_agent.evaluation.summarize`) under their ``metrics.jsonl`` keys:
    ``return``, ``success``, ``score``, ``turns``, ``response_length`` (mean reply tokens), ``invalid_rate``
    (invalid turns / turns) and ``success/<task_type>``."""
    return _episode_metrics(batch.episodes, [len(s.response_ids) for s in batch.samples])


def _episode_metrics(episodes: Sequence[EpisodeRecord], response_lengths: Sequence[int]) -> dict[str, float]:
    """:func:`rollout_metrics` from the episodes and the reply length (tokens) of each turn-sample."""
    summary = summarize(episodes)
    metrics: dict[str, float] = {key: summary[key] for key in ("return", "success", "score", "turns")}
    metrics["response_length"] = float(np.mean(response_lengths)) if response_lengths else 0.0
    metrics["invalid_rate"] = summary["invalid_rate"]
    metrics.update({f"success/{task_type}": rate for task_type, rate in summary["success_by_type"].items()})
    return metrics


class Trainer:
    """GRPO-family training of a policy on one env (see the module docstring for the step).

    Args:
        config: the run's settings.
        policy: an already loaded policy (default: loaded from ``config.model``).
        skills: task -> skill text, for methods with a teacher or skills in the student prompt (default: the text of
            ``config.skills_file`` for every task when given; with ``config.teacher_context="reference"`` the env's
            privileged context of the task, :class:`~sdar_agent.privileged.ContextProvider`; else a
            :class:`~sdar_agent.teacher.SkillProvider` over the shipped skill bank with
            ``config.skill_strategy``/``skill_k``, whose state is checkpointed).
    """

    def __init__(
        self, config: TrainConfig, policy: Policy | None = None, skills: Callable[[Task], str] | None = None
    ) -> None:
        from accelerate import Accelerator

        config.validate()  # every bad field at once, before any model, env or accelerator is made
        self.config = config
        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        # Several processes without CUDA (`accelerate launch --multi_gpu` or torchrun on a CPU machine): accelerate
        # only sets up its gloo CPU backend when asked for the CPU.
        several_cpu_processes = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
        self.accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=several_cpu_processes)
        self.spec = get_method(config.method, **config.method_overrides())
        if config.skill_placement not in PLACEMENTS:
            raise ValueError(f"skill_placement must be one of {', '.join(PLACEMENTS)}; got {config.skill_placement!r}")
        self._seed_everything(config.seed)
        tiny = TinyConfig(hidden_size=config.tiny_hidden, num_layers=config.tiny_layers, seed=config.seed)
        self.policy = policy or load_policy(
            config.model, gguf_file=config.gguf_file, dtype=_DTYPES[config.dtype], tiny=tiny
        )
        if skills is None and config.skills_file:
            text = Path(config.skills_file).read_text()
            skills = lambda task: text  # noqa: E731

        self._open_envs()
        self.context_provider: ContextProvider | None = None
        self.skills, self.skill_provider = self._resolve_skills(skills)
        self.teacher = self._make_teacher()
        kl_coef = profile_for(self.env_name).kl_coef if config.kl_coef is None else config.kl_coef
        self.objective_config = ObjectiveConfig(
            clip_low=config.clip_low,
            clip_high=config.clip_high,
            dual_clip=config.dual_clip,
            kl_coef=kl_coef,
            entropy_coef=config.entropy_coef,
        )
        self._prepare_model(with_reference=kl_coef > 0)
        self.counter = _StepCounter()
        self._optimizer_steps = 0  # taken by this object (with the step, it identifies the weights the engine holds)
        try:
            self.engine = make_engine(
                config.rollout_engine,
                self._live_policy(),
                max_model_len=config.max_prompt_tokens + config.max_response_tokens,
                kv_cache_gib=config.vllm_kv_cache_gib,
                seed=config.seed,
                torch_threads=config.torch_threads,
            )
        except (ValueError, ModuleNotFoundError):
            self.pool.close()
            raise
        self._engine_weights = self._weights_version()
        self.accelerator.register_for_checkpointing(self.counter)
        if self.skill_provider is not None:
            self.register_state(self.skill_provider.bank)
        self.output_dir = Path(config.output_dir)

    def _open_envs(self) -> None:
        """The env pool (one env per episode of a step), and the env's name and task count from a first reset."""
        config = self.config
        self.pool = EnvPool(
            config.env_id,
            config.tasks_per_step * config.group_size,
            max_episode_steps=config.max_turns,
            split=config.split,
            **config.env_kwargs,
        )
        first_env = self.pool.envs[0]
        _, info = first_env.reset(seed=config.seed)
        self.env_name: str = info["task"].env
        self.task_count = len(first_env.get_wrapper_attr("task_ids")())

    def _resolve_skills(
        self, skills: Callable[[Task], str] | None
    ) -> tuple[Callable[[Task], str] | None, SkillProvider | None]:
        """The skills function and, when it is a skill-bank provider, the provider (its state is checkpointed).

        A method that needs skills and got none gets, with ``teacher_context="reference"``, the env's task context
        (:class:`~sdar_agent.privileged.ContextProvider`, ``context_quality``), else the shipped skill bank's (the
        env pool is closed when the bank has none for this env).
        """
        provider = skills if isinstance(skills, SkillProvider) else None
        if (self.spec.use_teacher or self.spec.skills_in_student_prompt) and skills is None:
            try:
                if self.config.teacher_context == "reference":
                    skills = self.context_provider = self._context_provider()
                else:
                    provider = skills = self._bank_provider()
            except ValueError:
                self.pool.close()
                raise
        return skills, provider

    def _context_provider(self) -> ContextProvider:
        """The env's privileged context of each task (``--teacher-context reference``), on the training split and
        data (``ValueError`` for an env without one)."""
        config = self.config
        return ContextProvider(config.env_id, config.split, config.context_quality, config.env_kwargs)

    def _make_teacher(self) -> Teacher | None:
        """The method's teacher over ``self.skills`` (None for methods without one)."""
        if not self.spec.use_teacher:
            return None
        assert self.skills is not None
        config = self.config
        return Teacher(
            self.policy,
            self.skills,
            needs_logits=self.spec.needs_teacher_logits,
            max_prompt_tokens=config.max_prompt_tokens,
            placement=config.skill_placement,
            temperature=self._score_temperature,
            micro_batch_size=config.micro_batch_size,
            prefix_cache=config.teacher_prefix_cache,
        )

    def _prepare_model(self, *, with_reference: bool) -> None:
        """The frozen reference (a copy of the initial weights, for the KL term), AdamW with linear warm-up, and
        ``accelerate``'s placement of model, optimizer and scheduler."""
        config, model = self.config, self.policy.model
        self.reference = copy.deepcopy(model).eval().requires_grad_(False) if with_reference else None
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        warmup = max(1, round(config.warmup_ratio * config.steps)) if config.warmup_ratio > 0 else 0
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
        )
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        if self.reference is not None:
            self.reference.to(self.accelerator.device)

    def _bank_provider(self) -> SkillProvider:
        """Skills from the shipped skill bank, with the configured strategy; refuses envs the bank has no skills for."""
        from skillbank import SkillBank

        config = self.config
        bank = SkillBank(seed=config.seed)
        if not any(skill.env == self.env_name for skill in bank.skills):
            envs = sorted({skill.env for skill in bank.skills})
            raise ValueError(
                f"method {config.method!r} needs skills: the skill bank has none for env {self.env_name!r} (it has "
                f"{', '.join(envs)}); pass --skills-file or a skills function"
            )
        return SkillProvider(bank, config.skill_strategy, config.skill_k)

    # ---- state -------------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.counter.step

    def register_state(self, obj: Any) -> None:
        """Checkpoint ``obj`` (anything with ``state_dict``/``load_state_dict``, e.g. a skill bank) with the run.

        Register the same objects in the same order before :meth:`load` as before :meth:`save`.
        """
        self.accelerator.register_for_checkpointing(obj)

    def save(self, directory: str | Path | None = None) -> Path:
        """Save a resumable checkpoint, atomically, as ``output_dir/checkpoints/step_<step>``, keeping the newest
        ``config.keep_checkpoints`` (:func:`sdar_agent.checkpoints.save_checkpoint`); ``directory``: save there
        instead (no rename, no pruning)."""
        config = vars(self.config)
        if directory is None:
            return save_checkpoint(
                self.accelerator, self.output_dir, self.step, config, keep=self.config.keep_checkpoints
            )
        path = Path(directory)
        self.accelerator.save_state(str(path))
        if self.accelerator.is_main_process:
            (path / "config.json").write_text(json.dumps(config, indent=2, default=str))
        return path

    def load(self, directory: str | Path | None = None) -> Path:
        """Restore a checkpoint (default: the newest complete one under ``output_dir/checkpoints``).

        Settings that differ from the checkpoint's are refused (:data:`~sdar_agent.config.RESUME_FIXED`: a
        :class:`~sdar_agent.checkpoints.ResumeError` naming them, before anything is loaded) or applied, the new
        learning rate and weight decay included; ``metrics.jsonl`` loses the lines of steps after the checkpoint.
        What was applied is printed and kept in ``self.resume_changes``.
        """
        path = Path(directory) if directory else self.latest_checkpoint()
        if path is None or not path.is_dir():
            raise FileNotFoundError(
                f"no complete checkpoint found under {self.output_dir / 'checkpoints'}; train without --resume"
            )
        changes = check_resume(path, vars(self.config), RESUME_FIXED, ignored=RESUME_IGNORED, flag=flag)
        load_checkpoint(self.accelerator, path)
        apply_optimizer_settings(
            self.optimizer, self.scheduler, lr=self.config.lr, weight_decay=self.config.weight_decay
        )
        dropped = (
            truncate_metrics(self.output_dir / "metrics.jsonl", self.step) if self.accelerator.is_main_process else 0
        )
        if self.accelerator.is_main_process:
            note = f"; {dropped} metrics.jsonl line(s) of later steps dropped" if dropped else ""
            print(changes.describe() + note, file=sys.stderr)
        self.resume_changes = changes
        return path

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint of the run (incomplete newer ones are skipped and named on stderr)."""
        return latest_checkpoint(self.output_dir)

    def save_model(self, directory: str | Path | None = None) -> Path:
        """Save the current policy as a plain model directory (``sdar eval --model DIR`` loads it)."""
        path = Path(directory) if directory else self.output_dir / "model"
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            unwrapped = self.accelerator.unwrap_model(self.model)
            Policy(unwrapped, self.policy.tokenizer).save(path)
        return path

    @staticmethod
    def _seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

    # ---- one step ----------------------------------------------------------------------------------------------
    def _draw_tasks(self) -> list[int]:
        """This process's task indices of this step: its slice of one draw of ``tasks_per_step x processes`` tasks,
        without replacement, then whole shuffled passes when the split is smaller."""
        rank, processes = self.accelerator.process_index, self.accelerator.num_processes
        rng = np.random.default_rng([self.config.seed, self.step])
        n, count = self.config.tasks_per_step, self.task_count
        passes = [rng.permutation(count) for _ in range(-(-n * processes // count))]
        return [int(i) for i in np.concatenate(passes)[rank * n : (rank + 1) * n]]

    def _live_policy(self) -> Policy:
        """The policy with the trained (unwrapped) model."""
        unwrapped = self.accelerator.unwrap_model(self.model)
        return Policy(unwrapped, self.policy.tokenizer, self.policy.source, self.policy.stop_ids)

    def _weights_version(self) -> tuple[int, int]:
        """Identifies the trained weights: (step, optimizer steps taken by this object); a checkpoint load changes the
        step, an update the optimizer steps."""
        return self.step, self._optimizer_steps

    def sync_engine(self) -> None:
        """Give the rollout engine the current weights (vLLM: copied in place, prefix cache reset)."""
        self.engine.sync_weights(self.accelerator.unwrap_model(self.model))
        self._engine_weights = self._weights_version()

    def collect(self) -> RolloutBatch:
        """Play this step's episodes with the current weights (the engine is synced first if it holds others)."""
        config = self.config
        if self._engine_weights != self._weights_version():
            self.sync_engine()
        return collect_rollouts(
            self._live_policy(),
            self.pool,
            self._draw_tasks(),
            config.group_size,
            seed=config.seed * 1_000_003 + self.step * 1009,
            first_group=self.accelerator.process_index * config.tasks_per_step,
            engine=self.engine,
            max_new_tokens=config.max_response_tokens,
            max_prompt_tokens=config.max_prompt_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            micro_batch_size=config.micro_batch_size,
            skills=self.skills if self.spec.skills_in_student_prompt else None,
            return_kind=config.return_kind,
        )

    def _rollout_metrics(self, batch: RolloutBatch) -> dict[str, float]:
        """:func:`rollout_metrics` of the episodes of every process, ``samples`` (all processes' turn-samples) and
        the log-prob gap between the engines' sampling log-probs and the recomputed old ones: ``rollout/
        logprob_gap_mean`` (mean |difference| per reply token) and ``rollout/logprob_gap_max``."""
        gaps = logprob_gaps(batch.samples).double()
        gap_sum, gap_count = float(gaps.sum()), float(gaps.numel())
        gap_max = float(gaps.max()) if gaps.numel() else 0.0
        if self.accelerator.num_processes == 1:
            metrics = rollout_metrics(batch)
            samples = float(len(batch.samples))
        else:
            from accelerate.utils import gather_object

            episodes = gather_object(batch.episodes)
            lengths = gather_object([len(s.response_ids) for s in batch.samples])
            metrics = _episode_metrics(episodes, lengths)
            samples = float(len(lengths))
            device = self.accelerator.device
            totals = self.accelerator.reduce(torch.tensor([gap_sum, gap_count], device=device), reduction="sum")
            gap_sum, gap_count = float(totals[0]), float(totals[1])
            gap_max = float(self.accelerator.gather(torch.tensor([gap_max], device=device)).max())
        metrics["samples"] = samples
        metrics["rollout/logprob_gap_mean"] = gap_sum / gap_count if gap_count else 0.0
        metrics["rollout/logprob_gap_max"] = gap_max
        return metrics

    @property
    def _score_temperature(self) -> float:
        """The temperature log-probs are taken at: the sampling one (1.0 when sampling is greedy)."""
        return self.config.temperature if self.config.temperature > 0 else 1.0

    def update(self, batch: RolloutBatch) -> dict[str, Any]:
        """One epoch of mini-batch updates on ``batch``; returns the averaged loss metrics.

        Phases: the reference's scores (:meth:`_reference_logp`), the teacher's side from the pre-update weights
        (:meth:`Teacher.prepare <sdar_agent.teacher.Teacher.prepare>`), then one optimizer step per shuffled
        mini-batch (:meth:`_optimizer_step`), each accumulated over micro-batches (:meth:`_micro_batch_loss`).
        """
        samples = batch.samples
        started = time.perf_counter()
        reference = self._reference_logp(samples)
        reference_seconds = time.perf_counter() - started
        chunks = self._mini_batches(len(samples))
        teacher_batch = None
        if self.teacher is not None:
            model = self.accelerator.unwrap_model(self.model)
            device = self.accelerator.device
            teacher_batch = self.teacher.prepare(model, samples, optimizer_steps=len(chunks), device=device)
        returns = torch.tensor(batch.sample_returns(), dtype=torch.float32)
        groups = torch.tensor([s.group_id for s in samples], dtype=torch.long)
        inputs = _UpdateInputs(samples, grpo_advantages(returns, groups), reference, teacher_batch)
        self.model.train()
        steps = [self._optimizer_step(inputs, chunk) for chunk in chunks]

        out = merge_metrics([part for step in steps for part in step.parts])
        out["loss"] = float(np.mean([step.loss for step in steps]))
        out["grad_norm"] = float(np.mean([step.grad_norm for step in steps]))
        out["optimizer_steps"] = float(len(steps))
        out["update_tokens"] = float(sum(step.tokens for step in steps))
        out["time/reference"] = reference_seconds
        out["time/teacher"] = teacher_batch.seconds if teacher_batch is not None else 0.0
        out["prompt_tokens"] = float(np.mean([len(s.prompt_ids) for s in samples])) if samples else 0.0
        if self.teacher is not None and teacher_batch is not None:
            out.update(self.teacher.metrics(teacher_batch))
        return out

    def _reference_logp(self, samples: Sequence[TurnSample]) -> list[torch.Tensor] | None:
        """Each sample's response log-probs under the frozen initial weights (None when the KL term is off)."""
        if self.reference is None:
            return None
        return score_samples(
            self.reference,
            [s.prompt_ids for s in samples],
            [s.response_ids for s in samples],
            self.policy.tokenizer.pad_token_id,
            micro_batch_size=self.config.micro_batch_size,
            temperature=self._score_temperature,
            device=self.accelerator.device,
        )

    def _mini_batches(self, count: int) -> list[list[int]]:
        """The update's mini-batches: the ``count`` sample indices shuffled, in chunks of ``mini_batch_size`` (0: one
        chunk). With several processes every process takes as many optimizer steps as the one that needs most (each
        step all-reduces gradients); the others end with empty chunks."""
        order = np.random.default_rng([self.config.seed, self.step, 17]).permutation(count).tolist()
        mini = self.config.mini_batch_size or max(count, 1)
        chunks = [order[start : start + mini] for start in range(0, count, mini)]
        if self.accelerator.num_processes > 1:
            local = torch.tensor([len(chunks)], device=self.accelerator.device)
            steps = int(self.accelerator.gather(local).max())
            chunks += [[] for _ in range(steps - len(chunks))]
        return chunks

    def _optimizer_step(self, inputs: _UpdateInputs, chunk: Sequence[int]) -> _StepResult:
        """One AdamW step on the mini-batch ``chunk`` (sample indices), gradients accumulated over micro-batches
        that share the mini-batch's response-token count as normaliser (so the step is the mini-batch token mean).

        With P processes the normaliser is the reply-token count of the mini-batches of all processes and each loss is
        scaled by P (DDP averages gradients), so the step equals one process's step on all those samples. A process
        with an empty mini-batch still takes part in the gradient all-reduce, with a zero-weighted pass.
        """
        num_tokens = float(sum(len(inputs.samples[i].response_ids) for i in chunk))
        scale = 1.0
        processes = self.accelerator.num_processes
        if processes > 1:
            total = torch.tensor([num_tokens], dtype=torch.float64, device=self.accelerator.device)
            num_tokens = float(self.accelerator.reduce(total, reduction="sum").item())
            scale = float(processes)
        size = self.config.micro_batch_size
        micros = [chunk[i : i + size] for i in range(0, len(chunk), size)]
        result = _StepResult()
        if not micros:  # only with several processes: join the all-reduce with no gradient of its own
            self._micro_batch_loss(inputs, [0], max(num_tokens, 1.0), sync=True, scale=0.0)
        for index, micro in enumerate(micros):
            loss, metrics, tokens = self._micro_batch_loss(
                inputs, micro, num_tokens, sync=index == len(micros) - 1, scale=scale
            )
            result.parts.append(metrics)
            result.loss += loss
            result.tokens += tokens
        result.grad_norm = float(self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self._optimizer_steps += 1
        return result

    def _micro_batch_loss(
        self, inputs: _UpdateInputs, micro: Sequence[int], num_tokens: float, *, sync: bool, scale: float = 1.0
    ) -> tuple[float, dict[str, Any], int]:
        """Forward and backward of one micro-batch; returns its loss, its metrics and its token count.

        Gradients are all-reduced across processes only on the mini-batch's last micro-batch (``sync``); the
        backward pass is of ``scale`` x the loss (the returned loss is unscaled).
        """
        samples, device = inputs.samples, self.accelerator.device
        pad_id = self.policy.tokenizer.pad_token_id
        rows = pad_samples(
            [samples[i].prompt_ids for i in micro], [samples[i].response_ids for i in micro], pad_id, device=device
        )
        width = rows.response_ids.shape[1]
        teacher_logp = teacher_logits = None
        if self.teacher is not None and inputs.teacher is not None:
            teacher_logp, teacher_logits = self.teacher.micro_batch(inputs.teacher, micro, width, device)
        reference = inputs.reference
        with nullcontext() if sync else self.accelerator.no_sync(self.model):
            scored = score_tokens(
                self.model, rows, temperature=self._score_temperature, with_logits=self.spec.needs_teacher_logits
            )
            objective_inputs = ObjectiveInputs(
                logp=scored.logp,
                entropy=scored.entropy,
                old_logp=pad_rows([samples[i].old_logp for i in micro], width, device),
                mask=rows.response_mask,
                advantages=inputs.advantages[micro].to(device),
                ref_logp=pad_rows([reference[i] for i in micro], width, device) if reference else None,
                teacher_logp=teacher_logp,
                logits=scored.logits,
                teacher_logits=teacher_logits,
                turn_index=torch.tensor([samples[i].turn for i in micro], dtype=torch.long, device=device),
                num_tokens=num_tokens,
            )
            loss, metrics = compute_objective(self.spec, objective_inputs, self.objective_config, self.step)
            self.accelerator.backward(loss * scale if scale != 1.0 else loss)
        return float(loss.detach()), metrics, int(rows.attention_mask.sum())

    def train_step(self) -> dict[str, float]:
        """Collect, update, and return this step's metrics (also appended to ``output_dir/metrics.jsonl``)."""
        if self.skill_provider is not None:
            self.skill_provider.begin_step()
        started = time.perf_counter()
        batch = self.collect()
        rollout_seconds = time.perf_counter() - started
        update_started = time.perf_counter()
        losses = self.update(batch)
        update_seconds = time.perf_counter() - update_started  # includes time/reference and time/teacher
        self.counter.step += 1
        sync_started = time.perf_counter()
        self.sync_engine()  # the next rollout samples from the updated policy
        sync_seconds = time.perf_counter() - sync_started
        metrics: dict[str, Any] = {"step": self.step}
        metrics.update(self._rollout_metrics(batch))
        metrics.update(losses)
        if self.skill_provider is not None:
            tasks = {s.episode_id: s.task for s in batch.samples}
            outcomes = [(tasks[e.episode_id], e.score) for e in batch.episodes if e.episode_id in tasks]
            metrics.update(self.skill_provider.credit(outcomes))
        metrics.update(
            {
                "lr": float(self.scheduler.get_last_lr()[0]),
                "time/rollout": rollout_seconds,
                "time/generate": batch.generate_seconds,
                "time/old_logp": batch.score_seconds,
                "time/update": update_seconds,
                "time/sync": sync_seconds,
                "time/step": time.perf_counter() - started,
                "rollout_tokens_per_s": batch.generated_tokens / max(rollout_seconds, 1e-9),
                "generate_tokens_per_s": batch.generated_tokens / max(batch.generate_seconds, 1e-9),
                "update_tokens_per_s": losses["update_tokens"] / max(update_seconds, 1e-9),
            }
        )
        if self.accelerator.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with (self.output_dir / "metrics.jsonl").open("a") as log:
                log.write(json.dumps(metrics) + "\n")
        return metrics

    def fit(self) -> list[dict[str, float]]:
        """Run until ``config.steps`` steps are done (resuming first when ``config.resume``)."""
        from tqdm.auto import tqdm

        config = self.config
        if self.accelerator.is_main_process:
            prepare_run_dir(self.output_dir)  # an unwritable --output-dir fails now, not after a step
        if config.resume:
            self.load()
        history = []
        bar = tqdm(
            total=config.steps,
            initial=self.step,
            disable=not (config.progress and self.accelerator.is_main_process),
            desc=f"{config.method} {self.env_name}",
        )
        while self.step < config.steps:
            metrics = self.train_step()
            history.append(metrics)
            bar.update(1)
            bar.set_postfix(
                ret=f"{metrics['return']:.2f}",
                succ=f"{metrics['success']:.2f}",
                inval=f"{metrics['invalid_rate']:.2f}",
                kl=f"{metrics.get('kl', 0.0):.4f}",
                tok_s=f"{metrics['rollout_tokens_per_s']:.0f}",
            )
            if config.save_every and self.step % config.save_every == 0 and self.step < config.steps:
                self.save()
        bar.close()
        self.save()
        self.save_model()
        return history

    def close(self) -> None:
        """Close the env pool (and the privileged-context envs) and release the rollout engine."""
        self.pool.close()
        if self.context_provider is not None:
            self.context_provider.close()
        self.engine.close()


def train(config: TrainConfig) -> list[dict[str, float]]:
    """Build a :class:`Trainer` from ``config``, run it, and close its envs."""
    trainer = Trainer(config)
    try:
        return trainer.fit()
    finally:
        trainer.close()
