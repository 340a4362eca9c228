"""The shipped skill data: coverage per env and task family, valid example actions, and loader errors."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from skillbank import SKILLS, SkillDataError, is_valid_action, load_skills
from skillbank.action_syntax import WEBSHOP_BUTTONS
from skillbank.skill import SKILLS_DIR
from skillbank.task_types import ALFWORLD_TASK_TYPES, SEARCHQA_FAMILIES

ENVS = ("alfworld", "webshop", "searchqa")


def test_every_env_has_general_skills_and_at_least_eight_specific_ones():
    counts = Counter((s.env, s.is_general) for s in SKILLS)
    for env in ENVS:
        assert counts[(env, True)] >= 2, env
        assert counts[(env, False)] >= 8, env


@pytest.mark.parametrize("task_type", ALFWORLD_TASK_TYPES)
def test_every_alfworld_task_type_has_two_dedicated_skills(task_type):
    assert sum(task_type in s.task_types for s in SKILLS if s.env == "alfworld") >= 2


@pytest.mark.parametrize("family", SEARCHQA_FAMILIES)
def test_every_searchqa_family_has_two_dedicated_skills(family):
    assert sum(family in s.task_types for s in SKILLS if s.env == "searchqa") >= 2


def test_webshop_covers_query_attributes_options_and_price_patterns():
    ids = {s.id for s in SKILLS if s.env == "webshop"}
    for needed in (
        "webshop.general.query_from_noun_and_key_attributes",
        "webshop.attributes.verify_in_description_and_features",
        "webshop.options.click_every_requested_option",
        "webshop.price.stay_under_the_limit",
    ):
        assert needed in ids


def test_skill_ids_are_unique_and_prefixed_by_env():
    ids = [s.id for s in SKILLS]
    assert len(ids) == len(set(ids))
    assert all(s.id.startswith(s.env + ".") for s in SKILLS)


@pytest.mark.parametrize("skill", SKILLS, ids=lambda s: s.id)
def test_every_example_action_is_valid_syntax_for_its_env(skill):
    for step in skill.example.steps:
        assert is_valid_action(skill.env, step.action), step.action


def _seen_before(skill, index):
    return " ".join([skill.example.task] + [s.observation for s in skill.example.steps[:index]]).lower()


@pytest.mark.parametrize("skill", [s for s in SKILLS if s.env == "webshop"], ids=lambda s: s.id)
def test_webshop_examples_only_click_what_the_page_showed(skill):
    for i, step in enumerate(skill.example.steps):
        match = re.fullmatch(r"click\[(.+)\]", step.action)
        if match is None:
            continue
        label = match.group(1).lower()
        asin_at_start = i == 0 and re.fullmatch(r"b0[a-z0-9]{8}", label) is not None
        assert asin_at_start or label in _seen_before(skill, i), (step.action, skill.id)
        if label not in WEBSHOP_BUTTONS and not re.fullmatch(r"b0[a-z0-9]{8}", label):
            # an option value must be shown on an item page before it is clicked
            assert f"[sep] {label} [sep]" in _seen_before(skill, i), step.action


@pytest.mark.parametrize("skill", [s for s in SKILLS if s.env == "webshop"], ids=lambda s: s.id)
def test_webshop_examples_end_or_continue_with_a_sensible_purchase(skill):
    actions = [s.action for s in skill.example.steps]
    if "click[buy now]" in actions:
        assert actions[-1] == "click[buy now]"
        assert "your score: 1.0" in skill.example.steps[-1].observation.lower()


@pytest.mark.parametrize("skill", [s for s in SKILLS if s.env == "searchqa"], ids=lambda s: s.id)
def test_searchqa_examples_answer_with_a_span_from_the_retrieved_documents(skill):
    steps = skill.example.steps
    assert steps[-1].action.startswith("<answer>")
    assert len(steps) <= 4  # the env allows four turns
    answer = re.fullmatch(r"<answer>(.+)</answer>", steps[-1].action).group(1)
    retrieved = " ".join(s.observation for s in steps[:-1])
    assert answer in retrieved
    assert all(s.observation.startswith("<information>") for s in steps[:-1])


@pytest.mark.parametrize("skill", [s for s in SKILLS if s.env == "alfworld"], ids=lambda s: s.id)
def test_alfworld_examples_take_only_objects_that_were_seen_and_place_what_is_held(skill):
    held = None
    for i, step in enumerate(skill.example.steps):
        take = re.fullmatch(r"take (\w+ \d+) from (\w+ \d+)", step.action)
        if take:
            assert held is None, "hands must be empty to take"
            assert f"a {take.group(1)}" in _seen_before(skill, i), step.action
            held = take.group(1)
        move = re.fullmatch(r"move (\w+ \d+) to (\w+ \d+)", step.action)
        if move:
            assert held in (None, move.group(1)), step.action  # None: the example starts with the object in hand
            held = None
        tool = re.fullmatch(r"(?:heat|cool|clean) (\w+ \d+) with (\w+ \d+)", step.action)
        if tool:
            assert held in (None, tool.group(1)), step.action


def test_alfworld_example_feedback_uses_the_engine_sentences():
    patterns = {
        "take": r"You pick up the \w+ \d+ from the \w+ \d+\.",
        "move": r"You move the \w+ \d+ to the \w+ \d+\.",
        "heat": r"You heat the \w+ \d+ using the microwave \d+\.",
        "cool": r"You cool the \w+ \d+ using the fridge \d+\.",
        "clean": r"You clean the \w+ \d+ using the sinkbasin \d+\.",
        "use": r"You turn on the desklamp \d+\.",
        "go": r"You arrive at \w+ \d+\. (?:On the \w+ \d+, you see .+\.|The \w+ \d+ is (?:closed|open\. In it, .+)\.)",
        "open": r"You open the \w+ \d+\. The \w+ \d+ is open\. In it, you see .+\.",
    }
    checked = 0
    for skill in (s for s in SKILLS if s.env == "alfworld"):
        for step in skill.example.steps:
            verb = step.action.split()[0]
            if verb in patterns:
                assert re.fullmatch(patterns[verb], step.observation), (step.action, step.observation)
                checked += 1
    assert checked > 50


# ----------------------------------------------------------------------------------------- loader errors
@pytest.fixture
def skills_copy(tmp_path: Path) -> Path:
    root = tmp_path / "skills"
    shutil.copytree(SKILLS_DIR, root)
    return root


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_copy_of_the_shipped_data_loads_identically(skills_copy):
    assert load_skills(skills_copy) == SKILLS


def test_invalid_example_action_is_rejected_with_file_and_skill(skills_copy):
    path = skills_copy / "alfworld" / "heat.json"
    _edit(path, lambda d: d["skills"][0]["example"]["steps"][0].update(action="walk to the microwave"))
    with pytest.raises(SkillDataError, match=r"heat\.json.*alfworld\.heat\.microwave_without_opening.*not valid"):
        load_skills(skills_copy)


def test_missing_field_is_named(skills_copy):
    _edit(skills_copy / "searchqa" / "compare.json", lambda d: d["skills"][1].pop("principle"))
    with pytest.raises(SkillDataError, match=r"missing fields \['principle'\]"):
        load_skills(skills_copy)


def test_unknown_alfworld_task_type_is_rejected(skills_copy):
    _edit(skills_copy / "alfworld" / "cool.json", lambda d: d["skills"][0].update(task_types=["freeze"]))
    with pytest.raises(SkillDataError, match=r"unknown alfworld task types \['freeze'\]"):
        load_skills(skills_copy)


def test_duplicate_ids_are_rejected(skills_copy):
    def clone_first(data):
        data["skills"].append(dict(data["skills"][0]))

    _edit(skills_copy / "webshop" / "price.json", clone_first)
    with pytest.raises(SkillDataError, match=r"duplicate skill id 'webshop\.price\.stay_under_the_limit'"):
        load_skills(skills_copy)


def test_wrong_schema_version_and_broken_json_are_rejected(skills_copy):
    _edit(skills_copy / "webshop" / "general.json", lambda d: d.update(schema_version=99))
    with pytest.raises(SkillDataError, match="schema_version 99 is not supported"):
        load_skills(skills_copy)
    (skills_copy / "webshop" / "general.json").write_text('{"schema_version": 1, "env": "webshop", "skills": [')
    with pytest.raises(SkillDataError, match=r"general\.json: cannot read skill data"):
        load_skills(skills_copy)


def test_env_mismatch_and_missing_folder_are_rejected(skills_copy):
    _edit(skills_copy / "searchqa" / "direct.json", lambda d: d["skills"][0].update(env="webshop"))
    with pytest.raises(SkillDataError, match="does not match the file's env 'searchqa'"):
        load_skills(skills_copy)
    shutil.rmtree(skills_copy / "searchqa")
    with pytest.raises(SkillDataError, match="no skill files for env 'searchqa'"):
        load_skills(skills_copy)


def test_a_skill_nothing_can_select_is_rejected(skills_copy):
    _edit(skills_copy / "webshop" / "price.json", lambda d: d["skills"][0].update(task_types=[], keywords=[]))
    with pytest.raises(SkillDataError, match="needs task_types or keywords"):
        load_skills(skills_copy)


def test_skillbank_imports_nothing_from_the_envs_or_the_trainer():
    package = Path(SKILLS_DIR).parent
    for source in package.glob("*.py"):
        text = source.read_text()
        assert not re.search(r"^\s*(from|import)\s+(sdar_envs|sdar_agent)\b", text, re.MULTILINE), source.name
