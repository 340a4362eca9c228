"""Scripted agents for the sdar envs, and :func:`play`, which plays one episode with any agent.

An agent is any object with two methods (:class:`Agent`):

* ``reset(obs, info)``: called once per episode, right after ``env.reset``;
* ``act(obs, info) -> str``: called before every step with the current observation and info (the first call gets
  the ones ``reset`` returned) and returns the action text.

Three scripted agents come with the envs:

* :class:`RandomAgent`: uniform over ``info["admissible_actions"]``; where that list is empty (free-text envs) a
  random well-formed action: Search-QA searches 1-3 words of the question or, half the time once a passage title has
  been seen, answers one of those titles; WebShop (and any other env) searches 1-3 instruction words. Seeded, so a
  seed always gives the same actions on the same episodes.
* :class:`ExpertAgent`: ``info["expert_action"]`` (ALFWorld's hand-coded expert, WebShop's and Search-QA's oracles).
* :class:`NoisyExpertAgent`: the expert's action with probability ``expert_rate``, else the random agent's (the
  step mix of the speed benchmarks and the WebShop load test).

Example::

    import gymnasium as gym

    import sdar_envs  # noqa: F401  (registers the env ids)
    from sdar_envs.agents import ExpertAgent, RandomAgent, play

    env = gym.make("sdar/SearchQA-v0", split="test")
    episode = play(env, ExpertAgent(), options={"index": 0}, record=True)
    print(episode.won, episode.turns, episode.actions)     # True 2 ('<search> ... </search>', '<answer> ... </answer>')
    agent = RandomAgent(seed=0)                            # one rng for all episodes: the run is reproducible
    wins = sum(play(env, agent, seed=i, options={"index": i}).won for i in range(20))
    print(f"random agent: {wins} of 20")
    env.close()
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

from sdar_envs.core import Task

__all__ = ["Agent", "Episode", "ExpertAgent", "NoisyExpertAgent", "RandomAgent", "play"]

# A Search-QA result passage starts `Doc 1(Title: "Alma Rey") ...`; the random agent answers with such titles.
_TITLE = re.compile(r'\(Title: "([^"]*)"\)')
_WORD = re.compile(r"[A-Za-z0-9']+")


@runtime_checkable
class Agent(Protocol):
    """What :func:`play` needs of an agent."""

    def reset(self, obs: str, info: Mapping[str, Any]) -> None:
        """Start an episode (``obs`` and ``info`` are what ``env.reset`` returned)."""
        ...

    def act(self, obs: str, info: Mapping[str, Any]) -> str:
        """The action to play on the current observation and info."""
        ...


class ExpertAgent:
    """Plays ``info["expert_action"]``; the empty action (which the envs count as invalid) where there is none."""

    def reset(self, obs: str, info: Mapping[str, Any]) -> None:
        """Nothing to reset: the expert lives in the env."""

    def act(self, obs: str, info: Mapping[str, Any]) -> str:
        return info.get("expert_action") or ""


class RandomAgent:
    """Uniform over the admissible actions; where there are none, a random well-formed action (module docstring).

    The free-text env is read from ``info["task"].env``; the question or instruction from ``info["task"]``.

    Args:
        seed: seed of the agent's own ``random.Random`` (ignored when ``rng`` is given). The rng is not reseeded per
            episode: one agent playing episodes in a fixed order gives the same actions every run.
        rng: use this generator instead (e.g. one the caller also draws task indices from).
        exclude: admissible actions never drawn. The WebShop load test and speed benchmark leave out the
            ``search[<query>]`` template so that the random part clicks; by default it is drawn like any action
            (and searches the literal text ``<query>``).
        queries: free-text searches use one of these, drawn uniformly, instead of 1-3 instruction words.
    """

    def __init__(
        self,
        seed: int | None = 0,
        *,
        rng: random.Random | None = None,
        exclude: Collection[str] = (),
        queries: Sequence[str] | None = None,
    ) -> None:
        if queries is not None and not queries:
            raise ValueError("queries must hold at least one query (or be None: instruction words)")
        self.rng = rng if rng is not None else random.Random(seed)
        self.exclude = frozenset(exclude)
        self.queries = tuple(queries) if queries is not None else None
        self._observations: list[str] = []

    def reset(self, obs: str, info: Mapping[str, Any]) -> None:
        """Forget the previous episode's observations (the titles Search-QA answers are drawn from)."""
        self._observations = []

    def act(self, obs: str, info: Mapping[str, Any]) -> str:
        self._observations.append(obs)
        return self._random_action(info)

    def _random_action(self, info: Mapping[str, Any]) -> str:
        admissible = [a for a in info.get("admissible_actions") or [] if a not in self.exclude]
        if admissible:
            return self.rng.choice(admissible)
        task = info.get("task")
        # The query is drawn before the answer coin, always: the draws per step do not depend on what was seen.
        if self.queries is not None:
            query = self.rng.choice(self.queries)
        else:
            words = _WORD.findall(task.instruction if task is not None else "") or ["item"]
            query = " ".join(self.rng.sample(words, min(len(words), self.rng.randint(1, 3))))
        if task is not None and task.env == "searchqa":
            titles = [t.split(" (")[0] for obs in self._observations for t in _TITLE.findall(obs)]
            if titles and self.rng.random() < 0.5:
                return f"<answer> {self.rng.choice(titles)} </answer>"
            return f"<search> {query} </search>"
        return f"search[{query}]"


class NoisyExpertAgent(RandomAgent):
    """The expert's action with probability ``expert_rate`` where there is one, else :class:`RandomAgent`'s.

    The coin and the random actions come from the same rng; the other arguments are :class:`RandomAgent`'s.
    """

    def __init__(
        self,
        expert_rate: float = 0.7,
        seed: int | None = 0,
        *,
        rng: random.Random | None = None,
        exclude: Collection[str] = (),
        queries: Sequence[str] | None = None,
    ) -> None:
        if not 0.0 <= expert_rate <= 1.0:
            raise ValueError(f"expert_rate must be in [0, 1], got {expert_rate}")
        super().__init__(seed, rng=rng, exclude=exclude, queries=queries)
        self.expert_rate = expert_rate

    def act(self, obs: str, info: Mapping[str, Any]) -> str:
        self._observations.append(obs)  # the expert's steps show titles too
        expert = info.get("expert_action")
        if expert and self.rng.random() < self.expert_rate:
            return expert
        return self._random_action(info)


@dataclass(frozen=True)
class Episode:
    """The outcome of :func:`play`.

    Attributes:
        won: ``info["won"]`` at the end.
        score: ``info["score"]`` at the end, in [0, 1].
        episode_return: the sum of the step rewards.
        turns: steps played.
        truncated: the last step reached a step limit (the env's ``TimeLimit`` or ``max_steps``); the episode may
            also have terminated on that step (``won`` tells whether it was won).
        task: ``info["task"]`` at the end.
        info: the last info.
        observations: with ``record``: the reset observation, then one per step.
        actions: with ``record``: one per step.
        rewards: with ``record``: one per step.
    """

    won: bool
    score: float
    episode_return: float
    turns: int
    truncated: bool
    task: Task | None
    info: Mapping[str, Any]
    observations: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    rewards: tuple[float, ...] = ()


def play(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    record: bool = False,
) -> Episode:
    """Play one episode of ``env`` with ``agent``.

    Args:
        env: an env of this package (``gym.make`` or the env class itself).
        agent: anything with ``reset(obs, info)`` and ``act(obs, info)`` (:class:`Agent`).
        seed, options: passed to ``env.reset`` (``options={"index": i}`` or ``{"task_id": ...}`` picks the task).
        max_steps: stop after this many steps even if the env's own limit is higher (``truncated`` is then True).
        record: keep the observations, actions and rewards in the result.
    """
    obs, info = env.reset(seed=seed, options=dict(options) if options is not None else None)
    agent.reset(obs, info)
    observations, actions, rewards = [obs], [], []
    total = 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        if max_steps is not None and len(actions) >= max_steps:
            truncated = True
            break
        action = agent.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        actions.append(action)
        rewards.append(float(reward))
        if record:
            observations.append(obs)
    return Episode(
        won=bool(info["won"]),
        score=float(info["score"]),
        episode_return=total,
        turns=len(actions),
        truncated=bool(truncated),
        task=info.get("task"),
        info=info,
        observations=tuple(observations) if record else (),
        actions=tuple(actions) if record else (),
        rewards=tuple(rewards) if record else (),
    )
