"""Privileged skills for the SDAR teacher: skill texts per env and task type, and their retrieval.

The shipped skills are loaded and validated when the package is imported (:data:`SKILLS`); a broken data file fails
the import with a :class:`SkillDataError` naming the file and field.

    >>> from skillbank import SkillBank, TaskRecord, render
    >>> bank = SkillBank(seed=0)
    >>> task = TaskRecord(env="searchqa", data_source="hotpotqa", instruction="Where was the founder of X born?")
    >>> text = render(bank.retrieve(task, "keyword"))

See ``docs/skillbank.md`` for the strategies, the UCB design and the state file.
"""

from skillbank.action_syntax import is_valid_action
from skillbank.bandit import DEFAULT_UCB_C, BanditStateError, UCBBandit
from skillbank.render import PREFIX_HEADER, render
from skillbank.retrieval import STRATEGIES, SkillBank
from skillbank.skill import Example, Skill, SkillDataError, Step, bank_fingerprint, load_skills, shipped_skills
from skillbank.task import TaskLike, TaskRecord
from skillbank.task_types import task_family

SKILLS: tuple[Skill, ...] = shipped_skills()
"""The shipped skills, validated at import."""

__all__ = [
    "DEFAULT_UCB_C",
    "PREFIX_HEADER",
    "SKILLS",
    "STRATEGIES",
    "BanditStateError",
    "Example",
    "Skill",
    "SkillBank",
    "SkillDataError",
    "Step",
    "TaskLike",
    "TaskRecord",
    "UCBBandit",
    "bank_fingerprint",
    "is_valid_action",
    "load_skills",
    "render",
    "shipped_skills",
    "task_family",
]
