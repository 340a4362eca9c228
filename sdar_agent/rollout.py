"""Batched multi-turn rollouts: N tasks x G episodes, one engine call per turn for every active episode.

Layout (verl-agent): every turn of every episode is one training sample, whose prompt is the env template for that
turn (:mod:`sdar_agent.prompts`) and whose response is the model's reply. A group is the ``G`` episodes of one task;
they share the task (``reset(options={"task_id": ...})``) and the reset seed.

Envs are a list of ``gymnasium.make`` instances (:class:`EnvPool`) rather than a ``gymnasium`` vector env, because
(i) each episode of a batch needs its own ``reset`` options (the group's task id), which ``VectorEnv.reset`` cannot
pass per sub-env; (ii) episodes end at different turns and a finished one must stay finished, whereas vector envs
auto-reset it; (iii) generation dominates the time of a turn (tens of ms per decoded token against sub-ms to a few ms
per env step), so parallel env stepping buys little. The envs are made once and reused across steps.

Replies come from a :class:`~sdar_agent.engines.RolloutEngine` (vLLM or HF ``generate``). Each (episode, turn) has its
own sampling seed, derived from the collection's seed and the episode's index in the whole step, so a step split over
several processes (``first_group``) plays exactly the episodes one process would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch

from sdar_agent.engines import HFEngine, Reply, RolloutEngine, sampling_seed
from sdar_agent.env_profiles import episode_return, profile_for
from sdar_agent.policy import Policy
from sdar_agent.prompts import build_messages, history_entry, project_action
from sdar_agent.scoring import score_samples
from sdar_envs.core import Task
from skillbank.render import privileged_prefix

__all__ = ["EnvPool", "EpisodeRecord", "RolloutBatch", "TurnSample", "collect_rollouts", "logprob_gaps"]


@dataclass
class TurnSample:
    """One turn of one episode: a training sample.

    Attributes:
        prompt_ids: chat-templated prompt tokens (left-truncated to the prompt limit).
        response_ids: sampled reply tokens, ending with the stop token unless cut at the length limit.
        old_logp: log-probs of ``response_ids`` under the sampling policy, recomputed by the trainer's own forward
            pass (``[len(response_ids)]``; the update's ratio uses these).
        episode_id, group_id, turn: which episode (0..N*G-1), which group/task (0..N-1), which turn (0-based).
        task: the episode's :class:`~sdar_envs.core.Task`.
        messages: the chat messages the prompt was rendered from (a teacher can re-render them with skills).
        prompt_text: the templated prompt text (after any skill prefix).
        response_text: the decoded reply; ``action``/``valid``: its projection.
        reward: the env's raw reward for this step.
        sample_logp: the log-probs the engine drew ``response_ids`` with (``[len(response_ids)]``); they differ from
            ``old_logp`` only by numerics, unless the engine's weights are stale (:func:`logprob_gaps`).
    """

    prompt_ids: list[int]
    response_ids: list[int]
    old_logp: torch.Tensor | None
    episode_id: int
    group_id: int
    turn: int
    task: Task
    messages: list[dict[str, str]]
    prompt_text: str
    response_text: str
    action: str
    valid: bool
    reward: float
    sample_logp: torch.Tensor | None = None


@dataclass
class EpisodeRecord:
    """Outcome of one episode. ``return_`` is the training return (:func:`sdar_agent.env_profiles.episode_return`)."""

    episode_id: int
    group_id: int
    task_id: str
    task_type: str
    env: str
    return_: float
    won: bool
    score: float
    length: int
    invalid_turns: int
    env_reward: float


@dataclass
class RolloutBatch:
    """All samples and episodes of one collection; ``generated_tokens`` and the times (seconds) measure its speed:
    ``seconds`` the whole collection, ``generate_seconds`` inside the engine, ``score_seconds`` recomputing the old
    log-probs (the rest is prompt rendering and env steps)."""

    samples: list[TurnSample] = field(default_factory=list)
    episodes: list[EpisodeRecord] = field(default_factory=list)
    generated_tokens: int = 0
    seconds: float = 0.0
    generate_seconds: float = 0.0
    score_seconds: float = 0.0

    def sample_returns(self) -> list[float]:
        """Each sample's episode return (the GRPO input, per turn-sample)."""
        by_episode = {e.episode_id: e.return_ for e in self.episodes}
        return [by_episode[s.episode_id] for s in self.samples]


class EnvPool:
    """``size`` envs made with ``gymnasium.make(env_id, **env_kwargs)``, reused across collections.

    ``max_episode_steps`` (when given) overrides the registered step limit.
    """

    def __init__(self, env_id: str, size: int, *, max_episode_steps: int | None = None, **env_kwargs: Any) -> None:
        import sdar_envs  # noqa: F401  (registers sdar/*)

        kwargs = dict(env_kwargs)
        if max_episode_steps is not None:
            kwargs["max_episode_steps"] = max_episode_steps
        self.env_id = env_id
        self.envs: list[gym.Env] = [gym.make(env_id, **kwargs) for _ in range(size)]

    def __len__(self) -> int:
        return len(self.envs)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _task_options(task: str | int) -> dict[str, Any]:
    return {"index": task} if isinstance(task, int) else {"task_id": task}


def logprob_gaps(samples: Sequence[TurnSample]) -> torch.Tensor:
    """``|sample_logp - old_logp|`` of every reply token of ``samples`` that has both, flat (float32).

    The engine's sampling log-probs against the trainer's recomputation with the same weights: float noise (about
    1e-7 in float32) when the engine holds the trainer's weights, large when a weight sync was missed. Under top-p < 1
    it also holds the nucleus renormalisation (the recomputation applies none).
    """
    rows = [
        (s.sample_logp.float() - s.old_logp.float()).abs()
        for s in samples
        if s.sample_logp is not None and s.old_logp is not None
    ]
    return torch.cat(rows) if rows else torch.zeros(0)


def collect_rollouts(
    policy: Policy,
    pool: EnvPool,
    tasks: Sequence[str | int],
    group_size: int,
    *,
    seed: int,
    max_new_tokens: int,
    max_prompt_tokens: int = 4096,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_turns: int | None = None,
    micro_batch_size: int = 8,
    skills: Callable[[Task], str] | None = None,
    score_old_logp: bool = True,
    return_kind: str | None = None,
    engine: RolloutEngine | None = None,
    first_group: int = 0,
) -> RolloutBatch:
    """Play ``len(tasks) x group_size`` episodes to the end and return their turn samples and records.

    Args:
        policy: the policy: its chat template and tokenizer render prompts and replies, its model recomputes the old
            log-probs (its weights are not changed).
        pool: at least ``len(tasks) * group_size`` envs.
        tasks: per group, a task id (``str``) or a task index in the split (``int``).
        group_size: episodes per task (G).
        seed: group ``g`` resets its envs with seed ``seed + first_group + g``; the reply of episode ``e`` at turn
            ``t`` is sampled with seed ``sampling_seed(seed, first_group * group_size + e, t)``.
        max_new_tokens: reply length limit per turn.
        max_prompt_tokens: prompts longer than this are cut on the left (the oldest history goes first).
        temperature, top_p: sampling settings (temperature 0 = greedy).
        max_turns: stop every episode after this many turns (the env's own step limit applies anyway).
        micro_batch_size: rows per forward pass when scoring old log-probs.
        skills: when given, ``privileged_prefix(skills(task))`` (:mod:`skillbank.render`: the skill header, the
            text, a blank line; nothing when the text is empty) is prepended to each templated prompt.
        score_old_logp: compute ``old_logp`` and keep the engine's ``sample_logp`` (needed for training;
            evaluation skips both).
        engine: what samples the replies (default: HF ``generate`` on ``policy.model``); it must hold the weights
            of ``policy.model``.
        first_group: this call's first group in the whole step (several processes each play a slice of it); the
            returned ``group_id``/``episode_id`` stay local (0-based).
        return_kind: what episode returns are made of (``won``, ``score`` or ``reward``; default: the env profile's,
            see :func:`sdar_agent.env_profiles.episode_return`).
    """
    started = time.perf_counter()
    count = len(tasks) * group_size
    if count > len(pool):
        raise ValueError(f"{count} episodes need {count} envs, the pool has {len(pool)}")
    engine = engine or HFEngine(policy)
    batch = RolloutBatch()
    state = _Episodes(count)
    for episode in range(count):
        group = episode // group_size
        obs, info = pool.envs[episode].reset(seed=seed + first_group + group, options=_task_options(tasks[group]))
        state.observations.append(obs)
        state.infos.append(info)
    active = list(range(count))
    turn = 0
    while active and (max_turns is None or turn < max_turns):
        prompts = _turn_prompts(policy, state, active, turn, skills, max_prompt_tokens)
        generate_started = time.perf_counter()
        replies = engine.generate(
            [ids for ids, _, _ in prompts],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            stop_ids=policy.stop_ids,
            seeds=[sampling_seed(seed, first_group * group_size + episode, turn) for episode in active],
            logprobs=score_old_logp,
        )
        batch.generate_seconds += time.perf_counter() - generate_started
        active = _play_turn(policy, pool, state, active, turn, prompts, replies, group_size, batch)
        turn += 1
    batch.episodes = _episode_records(state, batch.samples, group_size, return_kind)
    if score_old_logp and batch.samples:
        score_started = time.perf_counter()
        old = score_samples(
            policy.model,
            [s.prompt_ids for s in batch.samples],
            [s.response_ids for s in batch.samples],
            policy.tokenizer.pad_token_id,
            micro_batch_size=micro_batch_size,
            temperature=temperature if temperature > 0 else 1.0,
            device=next(policy.model.parameters()).device,
        )
        for sample, logp in zip(batch.samples, old, strict=True):
            sample.old_logp = logp
        batch.score_seconds = time.perf_counter() - score_started
    batch.seconds = time.perf_counter() - started
    return batch


@dataclass
class _Episodes:
    """Per-episode state of a collection: the latest observation and info, the (observation, action) history, the
    summed env reward and the count of invalid turns."""

    count: int
    observations: list[str] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)
    history: list[list[tuple[str, str]]] = field(init=False)
    env_reward: list[float] = field(init=False)
    invalid: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.history = [[] for _ in range(self.count)]
        self.env_reward = [0.0] * self.count
        self.invalid = [0] * self.count


def _turn_prompts(
    policy: Policy,
    state: _Episodes,
    active: Sequence[int],
    turn: int,
    skills: Callable[[Task], str] | None,
    max_prompt_tokens: int,
) -> list[tuple[list[int], list[dict[str, str]], str]]:
    """``(prompt ids, chat messages, templated text)`` of this turn for each active episode."""
    out = []
    for episode in active:
        task: Task = state.infos[episode]["task"]
        chat = build_messages(
            profile_for(task.env),
            task.instruction,
            state.observations[episode],
            state.infos[episode]["admissible_actions"],
            state.history[episode],
            step=turn,
        )
        text = policy.chat_prompt(chat)
        if skills is not None:
            text = privileged_prefix(skills(task)) + text
        out.append((policy.encode(text)[-max_prompt_tokens:], chat, text))
    return out


def _play_turn(
    policy: Policy,
    pool: EnvPool,
    state: _Episodes,
    active: Sequence[int],
    turn: int,
    prompts: Sequence[tuple[list[int], list[dict[str, str]], str]],
    replies: Sequence[Reply],
    group_size: int,
    batch: RolloutBatch,
) -> list[int]:
    """Step each active episode's env with the action projected from its reply, record the turn-sample in
    ``batch``, and return the episodes still running."""
    still_active = []
    for row, episode in enumerate(active):
        task = state.infos[episode]["task"]
        response_ids = replies[row].token_ids
        logprobs = replies[row].logprobs
        reply = policy.decode(response_ids)
        projection = project_action(profile_for(task.env), reply)
        obs, reward, terminated, truncated, info = pool.envs[episode].step(projection.action)
        state.env_reward[episode] += float(reward)
        state.invalid[episode] += int(not projection.valid)
        batch.generated_tokens += len(response_ids)
        prompt_ids, messages, text = prompts[row]
        batch.samples.append(
            TurnSample(
                prompt_ids=prompt_ids,
                response_ids=response_ids,
                old_logp=None,
                episode_id=episode,
                group_id=episode // group_size,
                turn=turn,
                task=task,
                messages=messages,
                prompt_text=text,
                response_text=reply,
                action=projection.action,
                valid=projection.valid,
                reward=float(reward),
                sample_logp=torch.tensor(logprobs, dtype=torch.float32) if logprobs is not None else None,
            )
        )
        state.history[episode].append(history_entry(state.observations[episode], projection, reply))
        state.observations[episode], state.infos[episode] = obs, info
        if not (terminated or truncated):
            still_active.append(episode)
    return still_active


def _episode_records(
    state: _Episodes, samples: Sequence[TurnSample], group_size: int, return_kind: str | None = None
) -> list[EpisodeRecord]:
    """Each episode's outcome from its final info; its length is its number of turn-samples."""
    lengths = [0] * state.count
    for sample in samples:
        lengths[sample.episode_id] += 1
    records = []
    for episode in range(state.count):
        info = state.infos[episode]
        task = info["task"]
        won = bool(info["won"])
        invalid = state.invalid[episode]
        env_reward = state.env_reward[episode]
        records.append(
            EpisodeRecord(
                episode_id=episode,
                group_id=episode // group_size,
                task_id=task.id,
                task_type=task.task_type,
                env=task.env,
                return_=episode_return(
                    profile_for(task.env),
                    won=won,
                    env_reward=env_reward,
                    invalid_turns=invalid,
                    score=float(info["score"]),
                    kind=return_kind,
                ),
                won=won,
                score=float(info["score"]),
                length=lengths[episode],
                invalid_turns=invalid,
                env_reward=env_reward,
            )
        )
    return records
