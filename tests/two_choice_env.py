"""A two-choice text env following the ``sdar/*`` contract, for trainer tests and the learning-sanity benchmark.

Registered under the test-only id ``sdar_test/TwoChoice-v0`` (never part of the product's env table).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from sdar_envs.core import Task, TextEnv, Verdict, make_info

ENV_ID = "sdar_test/TwoChoice-v0"


class TwoChoiceVerifier:
    """Score 1 when the chosen word is the task's correct word."""

    def verify(self, task: Task, outcome: Any) -> Verdict:
        won = str(outcome).strip() == task.metadata["correct"]
        return Verdict(float(won), won)


class TwoChoiceEnv(TextEnv):
    """Pick the right one of two words.

    ## Description
    The observation names which of two words is correct; the agent answers with one of them.

    ## Action Space
    Free text; the admissible actions are the two words.

    ## Observation Space
    ``"The correct word is W. Choose one of: A, B."`` (``W`` written ``repeat`` times).

    ## Rewards
    1 for the correct word, 0 for the other one (both end the episode). Any other text: "Nothing happens.",
    reward 0, ``action_valid=False``, the episode goes on.

    ## Starting State
    Task ``i`` pairs two words of ``words`` and marks one correct; ``task_type`` is ``"first"`` or ``"second"``
    (the position of the correct word among the admissible actions).

    ## Episode End
    After a choice, or at the step limit (3, Gymnasium's TimeLimit).

    ## Arguments
    ``split``: ``"train"`` or ``"test"`` (the same pairs; task ``i`` has the other correct word); ``words``: the
    word pool. Every ordered pair of words appears twice, once with each word correct. ``repeat``: how many times
    the observation writes the correct word (a random-init model attends almost uniformly, so one mention among
    ~200 prompt tokens is a faint signal). ``correct``: make this word the correct one in every task (the policy
    then needs no reading: the easier variant of the learning-sanity benchmark).

    ## Version History
    v0: first version.

    ```python
    import gymnasium as gym, two_choice_env
    env = gym.make("sdar_test/TwoChoice-v0")
    obs, info = env.reset(seed=0, options={"index": 0})
    ```
    """

    env_name = "twochoice"

    def __init__(
        self,
        split: str = "train",
        words: Sequence[str] = ("left", "right"),
        repeat: int = 1,
        correct: str | None = None,
        render_mode=None,
    ) -> None:
        super().__init__(render_mode=render_mode, max_observation_chars=512, max_action_chars=4096)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.verifier = TwoChoiceVerifier()
        self.repeat = repeat
        self._tasks: dict[str, Task] = {}
        pairs = list(itertools.permutations(words, 2))
        for index, (first, second) in enumerate(pairs * 2):
            # Each ordered pair appears twice, once with each word correct; "test" swaps which copy is which.
            answer = first if (index // len(pairs) + (split == "test")) % 2 == 0 else second
            task = Task(
                id=f"{split}-{index}",
                env=self.env_name,
                split=split,
                instruction="choose the correct word",
                task_type="first" if (correct or answer) == first else "second",
                data_source="two_choice",
                metadata={"correct": correct or answer, "choices": (first, second)},
            )
            self._tasks[task.id] = task

    def task_ids(self) -> Sequence[str]:
        return list(self._tasks)

    def get_task(self, task_id: str) -> Task:
        if task_id not in self._tasks:
            raise KeyError(f"unknown task id {task_id!r}; known: {', '.join(self._tasks)}")
        return self._tasks[task_id]

    def _info(self, *, won: bool, valid: bool) -> dict[str, Any]:
        assert self.task is not None
        return make_info(
            self.task,
            won=won,
            score=float(won),
            action_valid=valid,
            admissible_actions=list(self.task.metadata["choices"]),
            expert_action=self.task.metadata["correct"],
        )

    def _reset_task(self, task: Task) -> tuple[str, dict[str, Any]]:
        first, second = task.metadata["choices"]
        correct = " ".join([task.metadata["correct"]] * self.repeat)
        return f"The correct word is {correct}. Choose one of: {first}, {second}.", self._info(won=False, valid=True)

    def _step_text(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert self.task is not None
        choice = action.strip()
        if choice not in self.task.metadata["choices"]:
            return "Nothing happens.", 0.0, False, False, self._info(won=False, valid=False)
        verdict = self.verifier.verify(self.task, choice)
        text = "Correct." if verdict.success else "Wrong."
        return text, verdict.score, True, False, self._info(won=verdict.success, valid=True)


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point=TwoChoiceEnv, max_episode_steps=3)
