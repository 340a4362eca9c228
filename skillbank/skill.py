"""The skill record and the loader of the skill data shipped in ``skillbank/skills/<env>/*.json``.

File format (``schema_version`` 1), one file per skill group (``general.json`` plus one per task family)::

    {
      "schema_version": 1,
      "env": "alfworld",
      "skills": [
        {
          "id": "alfworld.heat.microwave_direct",      # globally unique, "<env>.<group>.<name>", [a-z0-9_.]
          "env": "alfworld",                            # must equal the file's env and its folder name
          "task_types": ["pick_heat_then_place_in_recep"],   # "general" = every task; [] = keywords only
          "keywords": ["heat", "hot", "microwave"],     # lower-case words/phrases matched in the instruction
          "title": "...", "principle": "...", "when_to_apply": "...",
          "example": {"task": "...", "steps": [{"action": "go to microwave 1", "observation": "..."}]}
        }
      ]
    }

Loading validates every field and every example action (:mod:`skillbank.action_syntax`); a bad file raises
:class:`SkillDataError` naming the file, the skill and the field. ALFWorld and Search-QA task types must be canonical
(:data:`skillbank.task_types.ALFWORLD_TASK_TYPES`, :data:`skillbank.task_types.SEARCHQA_FAMILIES`); WebShop task
types are category words.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillbank.action_syntax import ENVS, is_valid_action
from skillbank.task_types import ALFWORLD_TASK_TYPES, GENERAL, SEARCHQA_FAMILIES

__all__ = [
    "SKILLS_DIR",
    "SKILL_SCHEMA_VERSION",
    "Example",
    "Skill",
    "SkillDataError",
    "Step",
    "bank_fingerprint",
    "load_skills",
    "shipped_skills",
]

SKILL_SCHEMA_VERSION = 1
SKILLS_DIR = Path(__file__).resolve().parent / "skills"
"""Where the shipped skill data lives: ``skillbank/skills/<env>/*.json``."""

_ID = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
_SKILL_FIELDS = ("id", "env", "task_types", "keywords", "title", "principle", "when_to_apply", "example")
_CANONICAL_TYPES: dict[str, frozenset[str]] = {
    "alfworld": frozenset(ALFWORLD_TASK_TYPES),
    "searchqa": frozenset(SEARCHQA_FAMILIES),
}


class SkillDataError(ValueError):
    """A skill data file is missing, unreadable or breaks the schema; the message names the file and field."""


@dataclass(frozen=True)
class Step:
    """One step of a worked example: the action typed, and (an abridged form of) what the env answered."""

    action: str
    observation: str


@dataclass(frozen=True)
class Example:
    """A short worked example: the task text, then the steps in the env's real action syntax."""

    task: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Skill:
    """One privileged skill.

    Attributes:
        id: globally unique ``"<env>.<group>.<name>"``.
        env: ``"alfworld"``, ``"webshop"`` or ``"searchqa"``.
        task_types: families the skill is written for; ``("general",)`` for skills that apply to every task; empty
            for a skill selected by its keywords alone.
        keywords: lower-case words or phrases that, found in a task's instruction, make the skill relevant.
        title: a short name, shown as the skill's heading.
        principle: what to do and why, in two to four sentences.
        when_to_apply: the situation that calls for the skill.
        example: a worked example in the env's action syntax.
    """

    id: str
    env: str
    task_types: tuple[str, ...]
    keywords: tuple[str, ...]
    title: str
    principle: str
    when_to_apply: str
    example: Example

    @property
    def is_general(self) -> bool:
        """True when the skill applies to every task of its env."""
        return GENERAL in self.task_types


def bank_fingerprint(skills: Iterable[Skill]) -> str:
    """SHA-256 (hex) over the sorted skill ids: identifies which arms a bandit state was learned on."""
    digest = hashlib.sha256()
    for skill_id in sorted(s.id for s in skills):
        digest.update(skill_id.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SkillDataError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _strings(raw: Mapping[str, Any], key: str, where: str, allow_empty: bool) -> tuple[str, ...]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SkillDataError(f"{where}: field {key!r} must be a list of non-empty strings, got {value!r}")
    if not value and not allow_empty:
        raise SkillDataError(f"{where}: field {key!r} must not be empty")
    items = tuple(v.strip() for v in value)
    if any(v != v.lower() for v in items):
        raise SkillDataError(f"{where}: field {key!r} must be lower-case, got {list(items)!r}")
    if len(set(items)) != len(items):
        raise SkillDataError(f"{where}: field {key!r} has duplicates: {list(items)!r}")
    return items


def _example(raw: Any, env: str, where: str) -> Example:
    if not isinstance(raw, dict):
        raise SkillDataError(f"{where}: field 'example' must be an object with 'task' and 'steps'")
    task = _text(raw, "task", f"{where} example")
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise SkillDataError(f"{where}: example 'steps' must be a non-empty list of {{action, observation}}")
    steps = []
    for i, step in enumerate(steps_raw):
        if not isinstance(step, dict) or set(step) != {"action", "observation"}:
            raise SkillDataError(f"{where}: example step {i} must have exactly the keys 'action' and 'observation'")
        action = step["action"]
        if not isinstance(action, str) or not is_valid_action(env, action):
            raise SkillDataError(f"{where}: example step {i} action {action!r} is not valid {env} syntax")
        steps.append(Step(action=action, observation=_text(step, "observation", f"{where} example step {i}")))
    return Example(task=task, steps=tuple(steps))


def _skill(raw: Any, env: str, where: str) -> Skill:
    if not isinstance(raw, dict):
        raise SkillDataError(f"{where}: each skill must be a JSON object")
    missing = [k for k in _SKILL_FIELDS if k not in raw]
    extra = sorted(set(raw) - set(_SKILL_FIELDS))
    if missing or extra:
        raise SkillDataError(f"{where}: missing fields {missing}, unknown fields {extra}; expected {_SKILL_FIELDS}")
    skill_id = _text(raw, "id", where)
    where = f"{where} skill {skill_id!r}"
    if not _ID.fullmatch(skill_id) or not skill_id.startswith(f"{env}."):
        raise SkillDataError(f"{where}: id must look like '{env}.<group>.<name>' using [a-z0-9_]")
    if raw["env"] != env:
        raise SkillDataError(f"{where}: env {raw['env']!r} does not match the file's env {env!r}")
    task_types = _strings(raw, "task_types", where, allow_empty=True)
    keywords = _strings(raw, "keywords", where, allow_empty=True)
    if not task_types and not keywords:
        raise SkillDataError(f"{where}: a skill needs task_types or keywords (or both), else nothing selects it")
    canonical = _CANONICAL_TYPES.get(env)
    if canonical is not None:
        unknown = [t for t in task_types if t != GENERAL and t not in canonical]
        if unknown:
            raise SkillDataError(f"{where}: unknown {env} task types {unknown}; use 'general' or {sorted(canonical)}")
    if GENERAL in task_types and len(task_types) > 1:
        raise SkillDataError(f"{where}: a 'general' skill must not list other task types: {list(task_types)}")
    return Skill(
        id=skill_id,
        env=env,
        task_types=task_types,
        keywords=keywords,
        title=_text(raw, "title", where),
        principle=_text(raw, "principle", where),
        when_to_apply=_text(raw, "when_to_apply", where),
        example=_example(raw["example"], env, where),
    )


def _load_file(path: Path, env: str) -> list[Skill]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SkillDataError(f"{path}: cannot read skill data ({err}); fix or restore the file") from err
    if not isinstance(data, dict):
        raise SkillDataError(f"{path}: top level must be an object with schema_version, env, skills")
    if data.get("schema_version") != SKILL_SCHEMA_VERSION:
        raise SkillDataError(
            f"{path}: schema_version {data.get('schema_version')!r} is not supported (expected {SKILL_SCHEMA_VERSION})"
        )
    if data.get("env") != env:
        raise SkillDataError(f"{path}: env {data.get('env')!r} does not match its folder {env!r}")
    skills = data.get("skills")
    if not isinstance(skills, list) or not skills:
        raise SkillDataError(f"{path}: 'skills' must be a non-empty list")
    return [_skill(raw, env, str(path)) for raw in skills]


def load_skills(root: Path | str | None = None) -> tuple[Skill, ...]:
    """Load and validate every skill under ``root`` (default :data:`SKILLS_DIR`).

    Order: envs in the order alfworld, webshop, searchqa; within an env ``general.json`` first, then the other files
    by name, skills in file order. This order is the bank order that ties are broken by.

    Raises:
        SkillDataError: a folder or file is missing or invalid, or two skills share an id.
    """
    base = SKILLS_DIR if root is None else Path(root)
    if not base.is_dir():
        raise SkillDataError(f"skill data folder not found at {base}; reinstall sdar or pass root=<folder>")
    skills: list[Skill] = []
    for env in ENVS:
        folder = base / env
        files = sorted(folder.glob("*.json"), key=lambda p: (p.name != "general.json", p.name))
        if not files:
            raise SkillDataError(f"no skill files for env {env!r} in {folder}; expected {folder}/general.json etc.")
        for path in files:
            skills.extend(_load_file(path, env))
    seen: dict[str, Skill] = {}
    for skill in skills:
        if skill.id in seen:
            raise SkillDataError(f"duplicate skill id {skill.id!r} under {base}; ids must be unique")
        seen[skill.id] = skill
    return tuple(skills)


@functools.cache
def shipped_skills() -> tuple[Skill, ...]:
    """The skills shipped in :data:`SKILLS_DIR`, loaded and validated once per process."""
    return load_skills()
