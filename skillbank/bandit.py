"""A contextual UCB bandit over skills: which skills, given to the teacher, go with successful episodes.

This is the project's own design; the SDAR paper ablates UCB retrieval but publishes neither formula nor code.

Contexts and arms
    A context is ``(env, family)``, the family being the task's normalised task type
    (:func:`skillbank.task_types.task_family`). Statistics are kept separately per context: what helps heat tasks says
    nothing about look-at-in-light tasks. The arms of a context are all skills of its env (general ones included).

Score
    For arm ``a`` in context ``x`` with ``n_a >= 1`` pulls, total reward ``S_a`` and ``N`` rounds (updates) in ``x``::

        score(a) = S_a / n_a + c * sqrt(ln(N) / n_a)

    ``c`` defaults to 0.5 for rewards in ``[0, 1]`` (UCB1's worst-case ``sqrt(2)`` explores far too long at the few
    hundred episodes per context a training run gives; see ``benchmarks/results/skillbank.md``). ``c`` is in reward
    units: scale it with the reward (``c = 5`` for ALFWorld's 0/10 reward, or pass the 0/1 ``won`` instead).
    One round = one ``update`` call = one episode; each arm used in that episode gets one pull and the whole episode
    reward (shared credit: the reward is not split between the ``k`` skills shown together).

Selection (top-k)
    Unpulled arms come first, ordered by a prior relevance (the keyword score, highest first) and then by a seeded
    permutation of the arm ids; pulled arms follow, by score, ties broken by the same permutation. The permutation
    is ``random.Random(f"{seed}|{env}|{family}")`` applied to the sorted ids, so selection is a pure function of the
    seed and the statistics (string seeding hashes with SHA-512, independent of ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_UCB_C", "BanditStateError", "UCBBandit"]

DEFAULT_UCB_C = 0.5


class BanditStateError(ValueError):
    """A saved bandit state is corrupted or does not belong to this skill bank; the message says which and how."""


@dataclass
class _Arm:
    pulls: int = 0
    reward_sum: float = 0.0


@dataclass
class _Context:
    rounds: int = 0
    arms: dict[str, _Arm] = field(default_factory=dict)


class UCBBandit:
    """UCB statistics per ``(env, family)`` context over a fixed set of arms per env.

    Args:
        arms: env name -> the arm (skill) ids of that env.
        c: exploration weight, ``>= 0``.
        seed: fixes the cold-start and tie-breaking order.
    """

    def __init__(self, arms: Mapping[str, Sequence[str]], c: float = DEFAULT_UCB_C, seed: int = 0) -> None:
        if not math.isfinite(c) or c < 0:
            raise ValueError(f"UCB exploration weight c must be a finite number >= 0, got {c!r}")
        self.c = float(c)
        self.seed = int(seed)
        self._arms: dict[str, tuple[str, ...]] = {env: tuple(ids) for env, ids in arms.items()}
        for env, ids in self._arms.items():
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate arm ids for env {env!r}")
        self._contexts: dict[tuple[str, str], _Context] = {}
        self._order_cache: dict[tuple[str, str], dict[str, int]] = {}

    def arms(self, env: str) -> tuple[str, ...]:
        """The arm ids of ``env``.

        Raises:
            KeyError: ``env`` has no arms.
        """
        try:
            return self._arms[env]
        except KeyError:
            raise KeyError(f"no skills for env {env!r}; known envs: {sorted(self._arms)}") from None

    def _seeded_rank(self, env: str, family: str) -> dict[str, int]:
        key = (env, family)
        if key not in self._order_cache:
            ids = sorted(self.arms(env))
            random.Random(f"{self.seed}|{env}|{family}").shuffle(ids)
            self._order_cache[key] = {arm: i for i, arm in enumerate(ids)}
        return self._order_cache[key]

    def stats(self, env: str, family: str) -> dict[str, tuple[int, float]]:
        """``arm -> (pulls, reward_sum)`` in the context (zeros for arms never used there)."""
        ctx = self._contexts.get((env, family), _Context())
        return {
            arm: (ctx.arms[arm].pulls, ctx.arms[arm].reward_sum) if arm in ctx.arms else (0, 0.0)
            for arm in self.arms(env)
        }

    def rounds(self, env: str, family: str) -> int:
        """Number of updates (episodes) seen in the context."""
        ctx = self._contexts.get((env, family))
        return 0 if ctx is None else ctx.rounds

    def scores(self, env: str, family: str) -> dict[str, float]:
        """``arm -> UCB score`` in the context; ``math.inf`` for an arm never used there."""
        n_rounds = self.rounds(env, family)
        out: dict[str, float] = {}
        for arm, (pulls, total) in self.stats(env, family).items():
            if pulls == 0:
                out[arm] = math.inf
            else:
                out[arm] = total / pulls + self.c * math.sqrt(math.log(n_rounds) / pulls)
        return out

    def select(self, env: str, family: str, k: int, prior: Mapping[str, float] | None = None) -> list[str]:
        """The ``k`` arms to use next in the context, best first (see the module docstring for the order).

        Args:
            prior: arm -> relevance used to order unpulled arms (higher first); missing arms count as 0.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        rank = self._seeded_rank(env, family)
        prior = prior or {}
        scores = self.scores(env, family)

        def key(arm: str) -> tuple[int, float, int]:
            if math.isinf(scores[arm]):
                return (0, -float(prior.get(arm, 0.0)), rank[arm])
            return (1, -scores[arm], rank[arm])

        return sorted(self.arms(env), key=key)[:k]

    def update(self, env: str, family: str, arm_ids: Iterable[str], reward: float) -> None:
        """Record one episode of the context that used ``arm_ids`` and earned ``reward``.

        An empty ``arm_ids`` records nothing (an episode without skills says nothing about any arm).

        Raises:
            KeyError: an id is not an arm of ``env``.
            ValueError: duplicate ids, or a reward that is not a finite number.
        """
        ids = list(arm_ids)
        if not ids:
            return
        if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not math.isfinite(reward):
            raise ValueError(f"reward must be a finite number, got {reward!r}")
        known = set(self.arms(env))
        unknown = [a for a in ids if a not in known]
        if unknown:
            raise KeyError(f"skill ids {unknown} are not skills of env {env!r}")
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate skill ids in one update: {ids}")
        ctx = self._contexts.setdefault((env, family), _Context())
        ctx.rounds += 1
        for arm in ids:
            stats = ctx.arms.setdefault(arm, _Arm())
            stats.pulls += 1
            stats.reward_sum += float(reward)

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready statistics; contexts and arms sorted, so equal states serialise to identical bytes."""
        contexts = []
        for env, family in sorted(self._contexts):
            ctx = self._contexts[(env, family)]
            contexts.append(
                {
                    "env": env,
                    "family": family,
                    "rounds": ctx.rounds,
                    "arms": {
                        arm: {"pulls": s.pulls, "reward_sum": s.reward_sum} for arm, s in sorted(ctx.arms.items())
                    },
                }
            )
        return {"c": self.c, "seed": self.seed, "contexts": contexts}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the statistics with ``state`` (from :meth:`state_dict`), after checking every field.

        Nothing changes if the state is rejected.

        Raises:
            BanditStateError: a field is missing or malformed, an arm is unknown, pulls exceed rounds, or ``c`` /
                ``seed`` differ from this bandit's (they change which skills are chosen).
        """
        if not isinstance(state, Mapping):
            raise BanditStateError("UCB state must be a JSON object with c, seed and contexts")
        c, seed = state.get("c"), state.get("seed")
        if not isinstance(c, (int, float)) or isinstance(c, bool) or not math.isclose(c, self.c):
            raise BanditStateError(f"UCB state was saved with c={c!r}, this bank uses c={self.c!r}; pass ucb_c={c!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed != self.seed:
            raise BanditStateError(f"UCB state was saved with seed={seed!r} but this bank uses seed={self.seed!r}")
        raw_contexts = state.get("contexts")
        if not isinstance(raw_contexts, list):
            raise BanditStateError("UCB state field 'contexts' must be a list")
        contexts: dict[tuple[str, str], _Context] = {}
        for i, raw in enumerate(raw_contexts):
            contexts_key, ctx = self._parse_context(raw, i)
            if contexts_key in contexts:
                raise BanditStateError(f"UCB state context {contexts_key} appears twice")
            contexts[contexts_key] = ctx
        self._contexts = contexts

    def _parse_context(self, raw: Any, i: int) -> tuple[tuple[str, str], _Context]:
        where = f"UCB state context #{i}"
        if not isinstance(raw, Mapping) or set(raw) != {"env", "family", "rounds", "arms"}:
            raise BanditStateError(f"{where} must have exactly the keys env, family, rounds, arms")
        env, family, rounds, arms = raw["env"], raw["family"], raw["rounds"], raw["arms"]
        if not isinstance(env, str) or env not in self._arms:
            raise BanditStateError(f"{where}: unknown env {env!r}; known envs: {sorted(self._arms)}")
        if not isinstance(family, str):
            raise BanditStateError(f"{where}: family must be a string, got {family!r}")
        if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
            raise BanditStateError(f"{where}: rounds must be an integer >= 0, got {rounds!r}")
        if not isinstance(arms, Mapping):
            raise BanditStateError(f"{where}: arms must be an object id -> {{pulls, reward_sum}}")
        known = set(self._arms[env])
        ctx = _Context(rounds=rounds)
        for arm, s in arms.items():
            if arm not in known:
                raise BanditStateError(f"{where}: {arm!r} is not a skill of env {env!r} in this bank")
            if not isinstance(s, Mapping) or set(s) != {"pulls", "reward_sum"}:
                raise BanditStateError(f"{where} arm {arm!r}: expected exactly the keys pulls and reward_sum")
            pulls, total = s["pulls"], s["reward_sum"]
            if not isinstance(pulls, int) or isinstance(pulls, bool) or not 0 <= pulls <= rounds:
                raise BanditStateError(f"{where} arm {arm!r}: pulls must be an integer in [0, rounds={rounds}]")
            if not isinstance(total, (int, float)) or isinstance(total, bool) or not math.isfinite(total):
                raise BanditStateError(f"{where} arm {arm!r}: reward_sum must be a finite number, got {total!r}")
            ctx.arms[arm] = _Arm(pulls=pulls, reward_sum=float(total))
        return (env, family), ctx
