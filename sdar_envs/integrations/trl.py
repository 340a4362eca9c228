"""The envs as TRL ``GRPOTrainer(environment_factory=...)`` environments (tested with TRL 1.16).

TRL's contract (the ``GRPOTrainer.__init__`` docstring and its tool-calling loop, ``trl/trainer/grpo_trainer.py``):
the factory is called with no argument and returns one environment instance per rollout (instances are pooled and
reused); every public method of the instance's class but ``reset`` and ``get_reward`` becomes a tool whose JSON
schema comes from its type hints and Google-style docstring; before generation TRL calls ``reset(**row)`` with the
dataset row and appends the returned string to the row's last user message; the model's tool calls (parsed from its
reply by the tokenizer's response template: Qwen's ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``) run
the methods, whose return strings come back as ``tool`` messages; the rollout ends when a reply holds no tool call;
``get_reward()`` is then called once and logged under the class name (``rewards/WebShopTools/mean``). A tool that
raises is reported to the model as ``{"error": ...}``.

Here the tools are the env's own actions, stepped through ``gymnasium.make`` (so the registered step limit applies):

* :class:`WebShopTools`: ``search(query)``, ``click(label)``; ``get_reward()`` is WebShop's score of the purchase
  (0 before it).
* :class:`SearchQATools`: ``search(query)``, ``answer(text)``; ``get_reward()`` is the exact match of the answer
  (Search-R1's EM).
* :class:`ALFWorldTools`: ``act(command)``; ``get_reward()`` is 1.0 once the goal holds, else 0.0.

::

    from trl import GRPOConfig, GRPOTrainer
    from sdar_envs.integrations.trl import environment_factory, train_dataset

    trainer = GRPOTrainer(
        model="Qwen/Qwen3-0.6B",
        args=GRPOConfig(max_completion_length=4096, num_generations=4),
        train_dataset=train_dataset("sdar/WebShop-v0", split="train"),
        environment_factory=environment_factory("sdar/WebShop-v0", split="train", transport="inproc"),
    )
    trainer.train()

The reward is the env's raw task score (its verifier), nothing else: add ``reward_funcs`` for format or length terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sdar_envs.core import Task
from sdar_envs.integrations import env_name, resolve_env_id

__all__ = [
    "ALFWorldTools",
    "SdarToolEnv",
    "SearchQATools",
    "WebShopTools",
    "environment_factory",
    "train_dataset",
    "train_rows",
]

#: What a tool returns once the episode is over (the env is not stepped again).
EPISODE_OVER = "The episode is over; no more actions are taken."


class SdarToolEnv:
    """One env, driven through tools: the base of :class:`WebShopTools`, :class:`SearchQATools` and
    :class:`ALFWorldTools`.

    Only ``reset``, ``get_reward`` and the subclass's action methods are public functions: TRL turns every other
    public method into a tool, so helpers here are private. The state of the current episode is readable as
    attributes (``task``, ``actions``, ``observations``, ``info``, ``done``); they are not tools.

    Attributes:
        env_id: the Gymnasium id (set by each subclass).
        split: the task split (``environment_factory`` binds it).
        env_kwargs: further ``gymnasium.make`` arguments (``environment_factory`` binds them).
        env: the env, made once per instance.
        task: the current episode's :class:`~sdar_envs.core.Task` (``None`` before the first ``reset``).
        actions: the env actions this episode received, in order (``search[...]``, ``<answer>...</answer>``...).
        observations: the env's observation after each action (the reset observation is not included).
        info: the env's last ``info`` dict (``info["score"]`` is the reward so far).
        done: the episode terminated or reached the step limit.
    """

    env_id: ClassVar[str] = ""
    split: ClassVar[str] = "train"
    env_kwargs: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        import gymnasium as gym

        import sdar_envs  # noqa: F401  (registers the ids)

        if not self.env_id:
            raise TypeError("use WebShopTools, SearchQATools or ALFWorldTools (or environment_factory), not the base")
        self.env = gym.make(self.env_id, split=self.split, **dict(self.env_kwargs))
        self.task: Task | None = None
        self.actions: list[str] = []
        self.observations: list[str] = []
        self.info: dict[str, Any] = {}
        self.done = False

    def reset(self, **row: Any) -> str:
        """Start the episode of the row's task: ``row["task_id"]`` (the column :func:`train_dataset` writes).

        TRL passes the whole dataset row (``prompt``, ``task_id`` and any other column); only ``task_id`` is read.
        Returns the first observation, which TRL appends to the prompt's last user message.
        """
        task_id = row.get("task_id")
        if task_id is None:
            raise KeyError(
                f"{type(self).__name__}.reset needs a 'task_id' column in the dataset row (got {sorted(row)}); "
                "build the dataset with sdar_envs.integrations.trl.train_dataset"
            )
        observation, info = self.env.reset(options={"task_id": str(task_id)})
        self.task = info["task"]
        self.actions, self.observations = [], []
        self.info = info
        self.done = False
        return self._first_observation(observation, info)

    def get_reward(self) -> float:
        """The env's task score for the episode so far, in [0, 1] (its verifier's score; 0.0 before any action)."""
        return float(self.info.get("score", 0.0))

    # ---- the step every tool makes ---------------------------------------------------------------------------
    def _step(self, action: str) -> str:
        if self.task is None:
            raise RuntimeError(f"{type(self).__name__}: reset() must be called before a tool")
        if self.done:
            return EPISODE_OVER
        observation, _, terminated, truncated, info = self.env.step(action)
        self.actions.append(action)
        self.observations.append(observation)
        self.info = info
        self.done = bool(terminated or truncated)
        text = self._observation(observation, info)
        if terminated:
            return f"{text}\n\n{EPISODE_OVER}".strip()
        if truncated:
            return f"{text}\n\nThe step limit is reached. {EPISODE_OVER}".strip()
        if not info["action_valid"]:
            return f"{text}\n\n(That action was not possible here.)".strip()
        return text

    def _first_observation(self, observation: str, info: Mapping[str, Any]) -> str:
        return observation

    def _observation(self, observation: str, info: Mapping[str, Any]) -> str:
        return observation


class WebShopTools(SdarToolEnv):
    """WebShop (``sdar/WebShop-v0``) as tools: ``search(query)`` and ``click(label)``.

    The observation is the page's text, its strings joined by `` [SEP] `` (WebShop's text mode): product ids,
    buttons (``Buy Now``, ``Next >``, ``< Prev``, ``Back to Search``, ``Description``...) and option values are the
    labels ``click`` takes. The episode ends at the purchase; ``get_reward`` is WebShop's score for it.
    """

    env_id = "sdar/WebShop-v0"

    def search(self, query: str) -> str:
        """Search the shop's catalog. Works on a page with a search bar: the first page, or after clicking
        'Back to Search'.

        Args:
            query: the keywords to search for, e.g. 'blue cotton t-shirt for men'.

        Returns:
            The results page: product ids, titles and prices, separated by [SEP].
        """
        return self._step(f"search[{query}]")

    def click(self, label: str) -> str:
        """Click something shown on the current page: a product id (e.g. 'B07XYZ1234'), an option value of the
        open product (e.g. 'navy' or 'large'), or a button: 'Buy Now', 'Next >', '< Prev', 'Back to Search',
        'Description', 'Features', 'Reviews'. 'Buy Now' buys the open product with the options chosen and ends
        the episode.

        Args:
            label: the text of the thing to click, as shown on the page (case does not matter).

        Returns:
            The page that the click leads to.
        """
        return self._step(f"click[{label}]")


class SearchQATools(SdarToolEnv):
    """Search-QA (``sdar/SearchQA-v0``) as tools: ``search(query)`` and ``answer(text)``.

    The first observation is ``Question: ...``; a search returns the top passages (``Doc 1(Title: "...") ...``);
    ``answer`` ends the episode and ``get_reward`` is the exact match of the answer with the gold answers
    (Search-R1's normalisation). The registered step limit is 4 actions, so the fourth must be the answer.
    """

    env_id = "sdar/SearchQA-v0"

    def search(self, query: str) -> str:
        """Search an encyclopedia for passages about something.

        Args:
            query: what to look up, e.g. 'birthplace of Alma Rey'.

        Returns:
            The best matching passages, one per line, each starting with its title.
        """
        return self._step(f"<search>{query}</search>")

    def answer(self, text: str) -> str:
        """Give the final answer to the question. This ends the episode.

        Args:
            text: the answer alone, as short as possible (a name, a place, a number or a date), without explanation.

        Returns:
            A confirmation that the episode is over.
        """
        return self._step(f"<answer>{text}</answer>")

    def _first_observation(self, observation: str, info: Mapping[str, Any]) -> str:
        # The env's own first observation is Search-R1's tag protocol (<search>...</search>); with tools the model
        # needs only the question.
        assert self.task is not None
        return f"Question: {self.task.instruction}"

    def _observation(self, observation: str, info: Mapping[str, Any]) -> str:
        return observation.strip()


class ALFWorldTools(SdarToolEnv):
    """ALFWorld (``sdar/ALFWorld-v0``) as one tool, ``act(command)``.

    Every observation ends with the admissible commands (the env's ``info["admissible_actions"]``), since ALFWorld's
    own text does not list them. ``get_reward`` is 1.0 once the task's goal holds.
    """

    env_id = "sdar/ALFWorld-v0"

    def act(self, command: str) -> str:
        """Do one thing in the household. The command must be one of the admissible commands listed in the last
        observation, e.g. 'go to cabinet 1', 'open drawer 2', 'take apple 1 from countertop 1',
        'move apple 1 to fridge 1', 'heat egg 1 with microwave 1', 'use desklamp 1', 'look' or 'inventory'.

        Args:
            command: one admissible command, exactly as listed.

        Returns:
            What happens, then the commands admissible next.
        """
        return self._step(command)

    def _first_observation(self, observation: str, info: Mapping[str, Any]) -> str:
        return self._observation(observation, info)

    def _observation(self, observation: str, info: Mapping[str, Any]) -> str:
        if self.done or not info["admissible_actions"]:
            return observation
        return f"{observation}\n\nAdmissible commands: {', '.join(info['admissible_actions'])}."


_TOOL_ENVS: dict[str, type[SdarToolEnv]] = {cls.env_id: cls for cls in (WebShopTools, SearchQATools, ALFWorldTools)}

#: The task description each row's prompt starts with; TRL appends the reset observation to it.
_INSTRUCTIONS: dict[str, str] = {
    "webshop": (
        "You are shopping in a web store that you browse only through two tools: search(query) on a page with a "
        "search bar, and click(label) on a product, option or button shown on the page. Find the product the "
        "instruction describes, choose the options it asks for, and buy it with click('Buy Now'). Call one tool at "
        "a time. The store's first page:"
    ),
    "searchqa": (
        "Answer the question. Call search(query) to look up facts in an encyclopedia; it returns the best passages. "
        "Search as often as you need (at most 3 times), then call answer(text) once with the short answer."
    ),
    "alfworld": (
        "You are in a household that you perceive and change only through text. Call act(command) with one of the "
        "admissible commands to act, one command per call, until the task is done."
    ),
}


def environment_factory(env_id: str, split: str = "train", **env_kwargs: Any) -> type[SdarToolEnv]:
    """The class TRL's ``GRPOTrainer(environment_factory=...)`` instantiates once per rollout.

    Args:
        env_id: ``"sdar/WebShop-v0"``, ``"sdar/SearchQA-v0"``, ``"sdar/ALFWorld-v0"`` or a short name
            (``"webshop"``...).
        split: the task split the dataset rows come from (``train_dataset(env_id, split)``).
        env_kwargs: further ``gymnasium.make`` arguments, e.g. ``transport="inproc"`` (WebShop without sockets),
            ``max_episode_steps=10``, or the paths of real data.

    Returns:
        A subclass of :class:`WebShopTools`, :class:`SearchQATools` or :class:`ALFWorldTools` with the same name,
        bound to ``split`` and ``env_kwargs``; calling it with no argument makes the env.
    """
    base = _TOOL_ENVS[resolve_env_id(env_id)]
    return type(
        base.__name__,
        (base,),
        {"split": split, "env_kwargs": dict(env_kwargs), "__module__": base.__module__, "__doc__": base.__doc__},
    )


def train_rows(
    env_id: str,
    split: str = "train",
    *,
    limit: int | None = None,
    environment: str | None = None,
    **env_kwargs: Any,
) -> list[dict[str, Any]]:
    """The rows of :func:`train_dataset` as plain dicts (no ``datasets`` needed).

    Each row: ``prompt`` (one user message: how to use the tools, ending where TRL appends the first observation),
    ``task_id`` (what ``reset`` reads), ``task_type``, and with ``environment`` that name in an ``environment``
    column (TRL's column for a dict of factories).
    """
    import gymnasium as gym

    import sdar_envs  # noqa: F401  (registers the ids)

    env_id = resolve_env_id(env_id)
    env = gym.make(env_id, split=split, **env_kwargs)
    try:
        unwrapped = env.unwrapped
        ids = list(unwrapped.task_ids())
        tasks = [unwrapped.get_task(task_id) for task_id in ids[:limit]]
    finally:
        env.close()
    content = _INSTRUCTIONS[env_name(env_id)] + "\n\n"
    rows: list[dict[str, Any]] = []
    for task in tasks:
        row: dict[str, Any] = {
            "prompt": [{"role": "user", "content": content}],
            "task_id": task.id,
            "task_type": task.task_type,
        }
        if environment is not None:
            row["environment"] = environment
        rows.append(row)
    return rows


def train_dataset(
    env_id: str,
    split: str = "train",
    *,
    limit: int | None = None,
    environment: str | None = None,
    **env_kwargs: Any,
):
    """A ``datasets.Dataset`` with one row per task of ``split`` (the first ``limit``), for ``GRPOTrainer``.

    Columns: ``prompt`` (conversational), ``task_id``, ``task_type`` and, with ``environment``, ``environment``
    (to mix envs with a dict ``environment_factory={"webshop": ..., "alfworld": ...}``). Pass the same
    ``env_kwargs`` as to :func:`environment_factory` where they change the data (e.g. ``products_path``).
    """
    try:
        from datasets import Dataset
    except ImportError as error:
        raise ImportError(
            "train_dataset needs Hugging Face datasets: pip install 'sdar[integrations]' (or use train_rows)"
        ) from error
    return Dataset.from_list(train_rows(env_id, split, limit=limit, environment=environment, **env_kwargs))
