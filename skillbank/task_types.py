"""Task families: how a task's ``(env, task_type, data_source, instruction)`` maps to the skill bank's vocabulary.

A *family* is the canonical task type skills are tagged with, and half of the bandit's context key
``(env, family)``. The mapping follows the released SDAR code's choice of task-type skill file and extends it:

ALFWorld (canonical = the six official ALFWorld task types, :data:`ALFWORLD_TASK_TYPES`)
    1. an official name, or a string starting with one (an ALFWorld game folder name), gives that name;
    2. otherwise the lower-cased ``task_type`` is searched for, in this order, ``two`` -> ``pick_two_obj_and_place``,
       ``clean`` -> ``pick_clean_then_place_in_recep``, ``heat`` -> ``pick_heat_then_place_in_recep``, ``cool`` ->
       ``pick_cool_then_place_in_recep``, ``look`` or ``light`` -> ``look_at_obj_in_light``, ``pick`` or ``place``
       -> ``pick_and_place_simple`` (so the short forms ``pick_heat_then_place``, ``heat``, ``pick_two`` all work);
    3. if ``task_type`` says nothing, the goal text decides, using ALFWorld's goal templates: ``two`` -> pick two,
       ``clean`` -> clean, ``hot``/``heat`` -> heat, ``cool``/``cold`` -> cool, ``look at``/``examine the ... with``
       /``lamp`` -> look, ``put`` -> pick and place;
    4. else the family is ``""`` (only general skills and keyword hits apply).

Search-QA (canonical = :data:`SEARCHQA_FAMILIES`)
    1. a question of the form "which/who ... or ...?" is a comparison -> ``compare`` (as the released code does);
    2. else ``task_type``, then ``data_source``, through :data:`SEARCHQA_SOURCE_FAMILY`: ``popqa`` and the generated
       ``single_hop`` -> ``entity_lookup``; ``nq``, ``triviaqa`` and the generated ``paraphrase`` ->
       ``direct_retrieval``; the generated ``bridge`` -> ``bridge``; ``hotpotqa``, ``2wikimultihopqa``, ``musique``,
       ``bamboogle`` and the generated ``three_hop`` -> ``multi_hop``; the generated ``comparison`` -> ``compare``;
       a canonical family name maps to itself;
    3. else ``direct_retrieval``.

WebShop (free vocabulary)
    The family is the goal product's top-level category, lower-cased with whitespace collapsed (``"Beauty &
    Personal Care"`` -> ``"beauty & personal care"``). Skills name categories as words; see :func:`category_matches`.
"""

from __future__ import annotations

import re

from skillbank.task import TaskLike

__all__ = [
    "ALFWORLD_TASK_TYPES",
    "GENERAL",
    "SEARCHQA_FAMILIES",
    "SEARCHQA_SOURCE_FAMILY",
    "category_matches",
    "is_comparison_question",
    "normalise_alfworld_task_type",
    "normalise_searchqa_family",
    "task_family",
]

GENERAL = "general"
"""Task-type tag of a skill that applies to every task of its env."""

#: ALFWorld's six task types in upstream's order (``alfred_tw_env.TASK_TYPES``). A copy of
#: ``sdar_envs.alfworld.games.TASK_TYPES``, the env's definition, because ``skillbank`` imports nothing from the env
#: packages; ``tests/test_skillbank_task_types.py`` checks that the two agree.
ALFWORLD_TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)

SEARCHQA_FAMILIES: tuple[str, ...] = ("entity_lookup", "direct_retrieval", "bridge", "multi_hop", "compare")

SEARCHQA_SOURCE_FAMILY: dict[str, str] = {
    # generated, in-domain
    "single_hop": "entity_lookup",
    "bridge": "bridge",
    # generated, out-of-domain
    "comparison": "compare",
    "three_hop": "multi_hop",
    "paraphrase": "direct_retrieval",
    # real data sources (Search-R1 / FlashRAG names)
    "popqa": "entity_lookup",
    "nq": "direct_retrieval",
    "triviaqa": "direct_retrieval",
    "hotpotqa": "multi_hop",
    "2wikimultihopqa": "multi_hop",
    "2wiki": "multi_hop",
    "musique": "multi_hop",
    "bamboogle": "multi_hop",
    **{family: family for family in SEARCHQA_FAMILIES},
}

# Order matters: "pick_two_obj_and_place" contains "pick", "pick_clean_then_place_in_recep" contains "place".
_ALFWORLD_TYPE_CUES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("two",), "pick_two_obj_and_place"),
    (("clean",), "pick_clean_then_place_in_recep"),
    (("heat",), "pick_heat_then_place_in_recep"),
    (("cool",), "pick_cool_then_place_in_recep"),
    (("look", "light"), "look_at_obj_in_light"),
    (("pick", "place"), "pick_and_place_simple"),
)
# Goal texts (ALFWorld goal_library templates): "put two X in R", "put a clean X in R", "heat some X and put it in R",
# "put a cool X in R", "look at X under the desklamp", "examine the X with the desklamp", "put some X on R".
_ALFWORLD_GOAL_CUES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), family)
    for p, family in (
        (r"\btwo\b", "pick_two_obj_and_place"),
        (r"\bclean\b", "pick_clean_then_place_in_recep"),
        (r"\b(?:hot|heat)\b", "pick_heat_then_place_in_recep"),
        (r"\b(?:cool|cold)\b", "pick_cool_then_place_in_recep"),
        (r"\blook at\b|\bexamine the\b.*\bwith\b|\blamp\b", "look_at_obj_in_light"),
        (r"\bput\b", "pick_and_place_simple"),
    )
)
_COMPARISON = re.compile(r"\b(?:which|who)\b.*\bor\b", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


def normalise_alfworld_task_type(task_type: str, instruction: str = "") -> str:
    """The official ALFWorld task type for a (possibly short or decorated) name, else inferred from the goal text.

    Returns ``""`` when neither says anything (see the module docstring for the rules).
    """
    name = task_type.strip().lower()
    for official in ALFWORLD_TASK_TYPES:
        if name.startswith(official):  # also game-folder names such as "pick_two_obj_and_place-Cup-None-Shelf-7"
            return official
    for cues, family in _ALFWORLD_TYPE_CUES:
        if any(cue in name for cue in cues):
            return family
    goal = instruction.lower()
    # The env's first observation may carry the whole room description; only the goal sentence matters.
    if "your task is to:" in goal:
        goal = goal.rsplit("your task is to:", 1)[1]
    for pattern, family in _ALFWORLD_GOAL_CUES:
        if pattern.search(goal):
            return family
    return ""


def is_comparison_question(question: str) -> bool:
    """True for "which ... or ..." / "who ... or ..." questions (the released code's comparison rule)."""
    return _COMPARISON.search(question) is not None


def _source_key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def normalise_searchqa_family(task_type: str, data_source: str = "", question: str = "") -> str:
    """The Search-QA skill family (one of :data:`SEARCHQA_FAMILIES`); never empty (see the module docstring)."""
    if is_comparison_question(question):
        return "compare"
    for name in (task_type, data_source):
        family = SEARCHQA_SOURCE_FAMILY.get(_source_key(name))
        if family is not None:
            return family
    return "direct_retrieval"


def _normalise_category(category: str) -> str:
    return _SPACES.sub(" ", category.strip().lower())


def category_matches(skill_category: str, family: str) -> bool:
    """True when a WebShop skill's category tag occurs in the task's category as whole words.

    ``category_matches("beauty", "beauty & personal care")`` is True; ``category_matches("food", "seafood")`` is
    False.
    """
    tag = _normalise_category(skill_category)
    return bool(tag) and re.search(rf"(?<![a-z0-9]){re.escape(tag)}(?![a-z0-9])", family) is not None


def task_family(task: TaskLike) -> str:
    """The family of ``task`` in its env's skill vocabulary (see the module docstring).

    Raises:
        ValueError: ``task.env`` is not ``"alfworld"``, ``"webshop"`` or ``"searchqa"``.
    """
    if task.env == "alfworld":
        return normalise_alfworld_task_type(task.task_type, task.instruction)
    if task.env == "searchqa":
        return normalise_searchqa_family(task.task_type, task.data_source, task.instruction)
    if task.env == "webshop":
        return _normalise_category(task.task_type)
    raise ValueError(f"unknown env {task.env!r}; expected one of alfworld, webshop, searchqa")
