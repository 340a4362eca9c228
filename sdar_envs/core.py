"""The environment contract shared by every ``sdar/*`` environment.

Every env in this package is a :class:`TextEnv`: a Gymnasium ``Env[str, str]`` whose observation and action are
plain text, whose ``reset`` picks a :class:`Task` deterministically, whose ``step`` never raises on bad action text,
and whose ``info`` dict always carries the keys listed in :data:`INFO_KEYS`:

``task``
    the :class:`Task` being played (id, env, split, instruction, task_type, data_source).
``won``
    ``bool``: the task is solved (ALFWorld goal reached, WebShop reward == 1.0, Search-QA exact match).
``score``
    ``float`` in ``[0, 1]``: the env's task score (WebShop reward, Search-QA EM, ALFWorld 1.0 on success).
``action_valid``
    ``bool``: the last action was understood and admissible; ``reset`` reports ``True``.
``admissible_actions``
    ``list[str]``: the actions that make sense now (empty where the action space is free text).
``expert_action``
    ``str | None``: what the env's expert/oracle would do next (present whenever the env has an expert).

**Privileged context.** Besides the info contract, every shipped env tells, as text, what it knows about a task and
the agent does not (Search-QA the gold evidence passages, WebShop the target product, ALFWorld where the goal object
is and the expert's plan): ``env.get_wrapper_attr("privileged_context")(task_id, quality)`` with ``quality`` one of
:data:`CONTEXT_QUALITIES` (:meth:`TextEnv.privileged_context`). It never touches the live episode.

The env's own reward is the raw task reward computed by its :class:`Verifier` (ALFWorld 1 on success, WebShop the
score at purchase, Search-QA exact match at the answer). Reward scaling, format penalties and prompt formatting
belong to the trainer, never to the env.

**After the end.** Once a step has returned ``terminated=True``, the episode is over until the next ``reset``: every
further ``step`` (whatever its text) returns the final observation again, reward ``0.0``, ``terminated=True``,
``truncated=False`` and the final info with ``action_valid=False``, ``admissible_actions=[]`` and
``expert_action=None`` (``won`` and ``score`` keep their final values). :class:`TextEnv` enforces this rule for every
env, so no engine ever sees an action after the end.
"""

from __future__ import annotations

import multiprocessing
import numbers
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import SynchronizedArray
from types import ModuleType
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import shared_memory as _vector_shared_memory

__all__ = [
    "CONTEXT_QUALITIES",
    "INFO_KEYS",
    "RESET_OPTIONS",
    "FreeText",
    "Task",
    "TextEnv",
    "Verdict",
    "Verifier",
    "check_info",
    "lookup_task",
    "make_info",
]

#: Keys every ``info`` dict returned by ``reset`` and ``step`` carries.
INFO_KEYS: tuple[str, ...] = ("task", "won", "score", "action_valid", "admissible_actions")

#: The ``reset(options=...)`` keys every env understands (:meth:`TextEnv.select_task`).
RESET_OPTIONS: tuple[str, ...] = ("task_id", "index")

#: Qualities of :meth:`TextEnv.privileged_context`: the task's own context, another task's, a plausible wrong one.
CONTEXT_QUALITIES: tuple[str, ...] = ("informative", "random", "adversarial")

#: Characters :meth:`FreeText.sample` draws from: printable ASCII, whitespace, Latin-1 letters and the typographic
#: marks that occur in product pages and encyclopedia text. Membership (``contains``) accepts any Unicode text.
TEXT_CHARSET: str = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \t\n"
    + "".join(chr(c) for c in range(0xC0, 0x100))
    + "\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026\u203a\u2122\u00ae\u00a9\u00b0\u00b7"
)

#: Default length bounds (characters) of observations and actions.
MAX_OBSERVATION_CHARS = 131_072
MAX_ACTION_CHARS = 8_192


class FreeText(gym.spaces.Text):
    """A ``gymnasium.spaces.Text`` that admits real text.

    Gymnasium's ``Text.contains`` only accepts characters from its charset, which rejects the accents, curly quotes
    and symbols found in real product pages and encyclopedia passages. ``FreeText`` accepts any ``str`` whose length
    lies in ``[min_length, max_length]``; ``sample()`` draws from :data:`TEXT_CHARSET`. Vector envs with shared memory
    store it as length-prefixed UTF-8 (registered below), so any Unicode observation round-trips.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | np.random.Generator | None = None):
        super().__init__(max_length=max_length, min_length=min_length, charset=TEXT_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"FreeText({self.min_length}, {self.max_length})"


# Shared-memory layout for FreeText in AsyncVectorEnv: per env, 4 bytes of length + up to 4 bytes per character.
def _free_text_slot_bytes(space: FreeText) -> int:
    return 4 + 4 * space.max_length


@_vector_shared_memory.create_shared_memory.register(FreeText)
def _create_free_text_shared_memory(space: FreeText, n: int = 1, ctx: ModuleType = multiprocessing):
    return ctx.Array("B", n * _free_text_slot_bytes(space))


class _SharedTextView(Sequence[str]):
    """Live view of the texts in a FreeText shared-memory buffer.

    ``AsyncVectorEnv`` reads its shared observation buffer once, at construction, and expects a view that follows
    later writes (as numpy arrays do). Strings are immutable, so this view decodes on access instead; a deep copy
    (what ``AsyncVectorEnv`` returns when ``copy=True``, the default) is a plain tuple of ``str``.
    """

    def __init__(self, buffer: np.ndarray, slot: int, n: int) -> None:
        self._buffer, self._slot, self._n = buffer, slot, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(self._n)))
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        start = index * self._slot
        size = int(self._buffer[start : start + 4].view(np.uint32)[0])
        return self._buffer[start + 4 : start + 4 + size].tobytes().decode("utf-8")

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@_vector_shared_memory.read_from_shared_memory.register(FreeText)
def _read_free_text(space: FreeText, shared_memory: SynchronizedArray, n: int = 1) -> _SharedTextView:
    buffer = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8)
    return _SharedTextView(buffer, _free_text_slot_bytes(space), n)


@_vector_shared_memory.write_to_shared_memory.register(FreeText)
def _write_free_text(space: FreeText, index: int, values: str, shared_memory: SynchronizedArray) -> None:
    slot = _free_text_slot_bytes(space)
    data = values.encode("utf-8")
    if len(data) > slot - 4:
        raise ValueError(f"text of {len(data)} UTF-8 bytes does not fit the space's max_length={space.max_length}")
    buffer = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8)
    start = index * slot
    buffer[start : start + 4] = np.frombuffer(np.uint32(len(data)).tobytes(), dtype=np.uint8)
    buffer[start + 4 : start + 4 + len(data)] = np.frombuffer(data, dtype=np.uint8)


@dataclass(frozen=True)
class Task:
    """One task of an environment, as the env and its verifier see it.

    Attributes:
        id: unique within ``(env, split)``; ``reset(options={"task_id": id})`` selects it.
        env: short env name: ``"alfworld"``, ``"webshop"`` or ``"searchqa"``.
        split: the split the task belongs to (``"train"``, ``"test"``, ``"eval_in_distribution"``...).
        instruction: the task text shown to the agent.
        task_type: the task family (ALFWorld task type, WebShop product category, Search-QA question family).
        data_source: where the task comes from (Search-QA dataset name; the generator or loader otherwise).
        metadata: env-specific ground truth the verifier needs (gold answers, goal attributes, game file...).
            Never shown to the agent by the env.
    """

    id: str
    env: str
    split: str
    instruction: str
    task_type: str = ""
    data_source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of an outcome.

    Attributes:
        score: task score in ``[0, 1]`` (the env's raw reward for that outcome).
        success: whether the task counts as solved.
        details: per-component breakdown (e.g. WebShop's ``r_type``/``r_att``/``r_option``/``r_price``,
            Search-QA's ``f1`` and ``substring_em``).
    """

    score: float
    success: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"Verdict.score must lie in [0, 1], got {self.score!r}")


@runtime_checkable
class Verifier(Protocol):
    """Scores an outcome for a task without running the environment.

    ``outcome`` is env-specific: a Search-QA answer string, a WebShop purchase (asin + chosen options), a final
    ALFWorld state. Each env computes its own reward through its verifier.
    """

    def verify(self, task: Task, outcome: Any) -> Verdict: ...


def make_info(
    task: Task,
    *,
    won: bool,
    score: float,
    action_valid: bool,
    admissible_actions: Sequence[str],
    expert_action: str | None = None,
    has_expert: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """Build an ``info`` dict that satisfies the contract (see the module docstring).

    ``extra`` keys are env-specific additions (e.g. WebShop's ``purchased_asin``, Search-QA's ``f1``).
    """
    info: dict[str, Any] = {
        "task": task,
        "won": bool(won),
        "score": float(score),
        "action_valid": bool(action_valid),
        "admissible_actions": list(admissible_actions),
    }
    if has_expert:
        info["expert_action"] = expert_action
    info.update(extra)
    return info


def lookup_task(tasks: Mapping[str, Task], task_id: str, *, env: str, split: str) -> Task:
    """``tasks[task_id]``, or the ``KeyError`` every :meth:`TextEnv.get_task` raises for an unknown id: it names the
    env (``env``, as people write it: ``"ALFWorld"``), the split, how many tasks it has and what an id looks like."""
    try:
        return tasks[task_id]
    except KeyError:
        example = f"; ids look like {next(iter(tasks))!r}" if tasks else ""
        raise KeyError(f"no {env} task {task_id!r} in split {split!r} ({len(tasks)} tasks{example})") from None


def check_info(info: Mapping[str, Any]) -> None:
    """Raise ``AssertionError`` naming the first way ``info`` breaks the contract (used by the tests)."""
    for key in INFO_KEYS:
        assert key in info, f"info lacks the contract key {key!r}"
    assert isinstance(info["task"], Task), f"info['task'] must be a Task, got {type(info['task']).__name__}"
    assert isinstance(info["won"], bool), "info['won'] must be a bool"
    assert isinstance(info["score"], float) and 0.0 <= info["score"] <= 1.0, "info['score'] must be a float in [0, 1]"
    assert isinstance(info["action_valid"], bool), "info['action_valid'] must be a bool"
    assert isinstance(info["admissible_actions"], list), "info['admissible_actions'] must be a list"
    assert all(isinstance(a, str) for a in info["admissible_actions"]), "admissible actions must be str"
    if "expert_action" in info:
        assert info["expert_action"] is None or isinstance(info["expert_action"], str)


class TextEnv(gym.Env[str, str]):
    """Base class of the ``sdar/*`` environments.

    Subclasses set :attr:`env_name`, provide their tasks through :meth:`task_ids` / :meth:`get_task`, and implement
    :meth:`_reset_task` and :meth:`_step_text`. The base class owns the spaces, deterministic task selection and
    rendering.

    Task selection in ``reset(seed=..., options=...)``:
        ``options={"task_id": "..."}`` picks that task; ``options={"index": i}`` picks the ``i``-th task of the split
        (in :meth:`task_ids` order, ``i`` an integer in ``[0, num_tasks)``); otherwise a task is drawn uniformly with
        the env's seeded ``np_random``. ``options`` must be a mapping (or ``None``) holding at most one of those two
        keys; anything else raises ``TypeError``/``ValueError``/``IndexError``/``KeyError`` naming the option and
        what it accepts, before any work is done.

    After a step that returned ``terminated=True``, ``step`` answers without calling the subclass (the rule in the
    module docstring).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"]}
    env_name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        render_mode: str | None = None,
        max_observation_chars: int = MAX_OBSERVATION_CHARS,
        max_action_chars: int = MAX_ACTION_CHARS,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = FreeText(max_observation_chars)
        self.action_space = FreeText(max_action_chars)
        self.task: Task | None = None
        self._last_observation: str = ""
        self._last_info: dict[str, Any] = {}
        self._terminated = False
        self._contexts: dict[tuple[str, str], str] = {}

    # ---- what subclasses provide -------------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        """The ids of the tasks of this env's split, in a fixed order."""
        raise NotImplementedError

    def get_task(self, task_id: str) -> Task:
        """The :class:`Task` with this id; ``KeyError`` with a helpful message if it is unknown."""
        raise NotImplementedError

    def _reset_task(self, task: Task) -> tuple[str, dict[str, Any]]:
        """Start an episode on ``task``: return the first observation and the info dict."""
        raise NotImplementedError

    def _step_text(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (any text) and return ``(obs, reward, terminated, truncated, info)``; never raise."""
        raise NotImplementedError

    def _informative_context(self, task: Task) -> str:
        """The text of :meth:`privileged_context` for ``quality="informative"``; envs with a context provide it."""
        raise NotImplementedError(f"{type(self).__name__} has no privileged context")

    def _adversarial_context(self, task: Task) -> str:
        """The text of :meth:`privileged_context` for ``quality="adversarial"``; envs with a context provide it."""
        raise NotImplementedError(f"{type(self).__name__} has no privileged context")

    def _same_answer(self, task: Task, other: Task) -> bool:
        """Whether ``other``'s informative context would still solve ``task`` (WebShop: the same target product),
        so it cannot serve as ``task``'s ``random`` context. False by default."""
        return False

    # ---- privileged context ------------------------------------------------------------------------------------
    def privileged_context(self, task_id: str, quality: str = "informative") -> str:
        """What this env knows about task ``task_id`` and the agent does not, as text (a teacher's privileged input).

        Reach it through any wrapper: ``env.get_wrapper_attr("privileged_context")(task_id, quality)``.

        Args:
            task_id: a task of this env's split (:meth:`task_ids`).
            quality: ``"informative"``: the task's own context (what each env's docstring describes);
                ``"random"``: the informative context of another task of the split, the first task after this one
                in :meth:`task_ids` order (wrapping around) whose context differs from this one's and does not
                solve it (another goal for the same WebShop product, a question with the same answer are skipped);
                ``"adversarial"``: a plausible wrong context for this task (each env's docstring says how it is
                chosen); it never holds the task's answer.

        Deterministic (the same data, task and quality give the same text on every machine) and computed without
        touching the live episode: an episode in progress goes on exactly as if it had not been called. Texts are
        cached per env.

        Raises:
            ValueError: ``quality`` is not one of :data:`CONTEXT_QUALITIES`; or ``random`` on a split where every
                task has the same context.
            KeyError: ``task_id`` is not a task of this split.
            NotImplementedError: the env has no privileged context.
        """
        if quality not in CONTEXT_QUALITIES:
            raise ValueError(
                f"unknown privileged-context quality {quality!r}; choose one of {', '.join(CONTEXT_QUALITIES)}"
            )
        key = (str(task_id), quality)
        if key not in self._contexts:
            task = self.get_task(str(task_id))
            if quality == "informative":
                text = self._informative_context(task)
            elif quality == "random":
                text = self.privileged_context(self._context_partner(task).id)
            else:
                text = self._adversarial_context(task)
            self._contexts[key] = text
        return self._contexts[key]

    def _context_partner(self, task: Task) -> Task:
        """The task whose informative context is ``task``'s ``random`` context (see :meth:`privileged_context`)."""
        ids = list(self.task_ids())
        own = self.privileged_context(task.id)
        start = ids.index(task.id)
        for step in range(1, len(ids)):
            other = self.get_task(ids[(start + step) % len(ids)])
            if self.privileged_context(other.id) != own and not self._same_answer(task, other):
                return other
        raise ValueError(
            f"no other task of split {getattr(self, 'split', '?')!r} has a privileged context that differs from task "
            f"{task.id!r}'s and does not solve it, so there is no random context for it; use a split with more tasks"
        )

    # ---- the Gymnasium API -------------------------------------------------------------------------------------
    @property
    def num_tasks(self) -> int:
        return len(self.task_ids())

    def select_task(self, options: Mapping[str, Any] | None) -> Task:
        """Pick the episode's task from ``reset``'s options (see the class docstring)."""
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise TypeError(
                f"reset(options=...) must be a dict such as {{'index': 0}} or {{'task_id': ...}} (or None), "
                f"got {type(options).__name__} {options!r}"
            )
        unknown = sorted(str(key) for key in options if key not in RESET_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {', '.join(unknown)}; {type(self).__name__} takes 'task_id' or 'index'"
            )
        ids = self.task_ids()
        if not ids:
            raise RuntimeError(f"{type(self).__name__} has no tasks in this split; check the split name and data path")
        task_id, index = options.get("task_id"), options.get("index")
        if task_id is not None and index is not None:
            raise ValueError("reset options 'task_id' and 'index' both pick the task: pass only one of them")
        if task_id is not None:
            return self.get_task(str(task_id))
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise TypeError(
                    f"options['index'] must be an integer from 0 to {len(ids) - 1}, got {type(index).__name__} "
                    f"{index!r}; use options={{'task_id': ...}} to pick a task by id (ids look like {ids[0]!r})"
                )
            if not 0 <= int(index) < len(ids):
                raise IndexError(
                    f"options['index']={int(index)} is out of range: this split has {len(ids)} tasks (0 to "
                    f"{len(ids) - 1})"
                )
            return self.get_task(ids[int(index)])
        return self.get_task(ids[int(self.np_random.integers(len(ids)))])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.task = self.select_task(options)
        self._terminated = False
        observation, info = self._reset_task(self.task)
        self._last_observation, self._last_info = observation, info
        if self.render_mode == "human":
            self.render()
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        if self._terminated:  # after the end: the final observation again, reward 0 (module docstring)
            return self._last_observation, 0.0, True, False, self._after_end_info()
        if not isinstance(action, str):
            action = "" if action is None else str(action)
        observation, reward, terminated, truncated, info = self._step_text(action)
        self._last_observation, self._last_info = observation, info
        self._terminated = bool(terminated)
        if self.render_mode == "human":
            self.render()
        return observation, float(reward), bool(terminated), bool(truncated), info

    def _after_end_info(self) -> dict[str, Any]:
        """The final step's info, marking the action as not applied: nothing is admissible and no expert move."""
        info = dict(self._last_info)
        info["action_valid"] = False
        info["admissible_actions"] = []
        if "expert_action" in info:
            info["expert_action"] = None
        return info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_observation
        if self.render_mode == "human":
            print(self._last_observation)
        return None
