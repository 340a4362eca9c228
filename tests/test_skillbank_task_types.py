"""Mapping of task_type / data_source / instruction to the skill families."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillbank import TaskRecord, task_family
from skillbank.task_types import (
    ALFWORLD_TASK_TYPES,
    SEARCHQA_FAMILIES,
    category_matches,
    normalise_alfworld_task_type,
    normalise_searchqa_family,
)


@pytest.mark.parametrize("name", ALFWORLD_TASK_TYPES)
def test_official_alfworld_names_map_to_themselves(name):
    assert normalise_alfworld_task_type(name) == name


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("pick_heat_then_place", "pick_heat_then_place_in_recep"),
        ("pick_clean_then_place", "pick_clean_then_place_in_recep"),
        ("pick_cool_then_place", "pick_cool_then_place_in_recep"),
        ("pick_two_obj", "pick_two_obj_and_place"),
        ("pick_and_place", "pick_and_place_simple"),
        ("look_at_obj", "look_at_obj_in_light"),
        ("Heat", "pick_heat_then_place_in_recep"),
        ("pick_two_obj_and_place-Cup-None-Shelf-7", "pick_two_obj_and_place"),
        ("pick_clean_then_place_in_recep-Plate-None-Cabinet-20", "pick_clean_then_place_in_recep"),
    ],
)
def test_short_and_decorated_alfworld_names_are_normalised(name, family):
    assert normalise_alfworld_task_type(name) == family


@pytest.mark.parametrize(
    ("goal", "family"),
    [
        ("put a hot apple in fridge.", "pick_heat_then_place_in_recep"),
        ("heat some egg and put it in countertop.", "pick_heat_then_place_in_recep"),
        ("put a clean mug in coffeemachine.", "pick_clean_then_place_in_recep"),
        ("cool some bread and put it in diningtable.", "pick_cool_then_place_in_recep"),
        ("put a cool tomato in microwave.", "pick_cool_then_place_in_recep"),
        ("find two cd and put them in safe.", "pick_two_obj_and_place"),
        ("look at bowl under the desklamp.", "look_at_obj_in_light"),
        ("examine the alarmclock with the desklamp.", "look_at_obj_in_light"),
        ("put some spraybottle on toilet.", "pick_and_place_simple"),
        (
            "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, you "
            "see a cabinet 1, a desklamp 1, and a fridge 1.\n\nYour task is to: put a hot potato in sinkbasin.",
            "pick_heat_then_place_in_recep",
        ),
        ("", ""),
    ],
)
def test_alfworld_family_falls_back_to_the_goal_text(goal, family):
    assert task_family(TaskRecord(env="alfworld", task_type="", instruction=goal)) == family


@pytest.mark.parametrize(
    ("source", "family"),
    [
        ("single_hop", "entity_lookup"),
        ("popqa", "entity_lookup"),
        ("nq", "direct_retrieval"),
        ("triviaqa", "direct_retrieval"),
        ("paraphrase", "direct_retrieval"),
        ("bridge", "bridge"),
        ("hotpotqa", "multi_hop"),
        ("2wikimultihopqa", "multi_hop"),
        ("musique", "multi_hop"),
        ("bamboogle", "multi_hop"),
        ("three_hop", "multi_hop"),
        ("comparison", "compare"),
        ("HotpotQA", "multi_hop"),
        ("unknown_source", "direct_retrieval"),
    ],
)
def test_searchqa_sources_map_like_the_released_code(source, family):
    assert normalise_searchqa_family("", source, "What is X?") == family
    assert normalise_searchqa_family(source, "", "What is X?") == family


def test_which_or_questions_are_comparisons_whatever_the_source():
    assert normalise_searchqa_family("", "nq", "Which is older, the Orsella Bridge or the Vantine Dam?") == "compare"
    assert normalise_searchqa_family("", "hotpotqa", "Who was born earlier, Petra Holm or Ansel Wick?") == "compare"
    assert normalise_searchqa_family("", "hotpotqa", "Where was the founder of Halvard Press born?") == "multi_hop"


def test_task_type_wins_over_data_source():
    assert normalise_searchqa_family("bridge", "hotpotqa", "Where was the founder of X born?") == "bridge"


@given(st.text(max_size=60), st.text(max_size=30), st.text(max_size=80))
def test_searchqa_family_is_always_canonical(task_type, source, question):
    assert normalise_searchqa_family(task_type, source, question) in SEARCHQA_FAMILIES


@given(st.text(max_size=60), st.text(max_size=80))
def test_alfworld_family_is_always_canonical_or_empty(task_type, goal):
    assert normalise_alfworld_task_type(task_type, goal) in (*ALFWORLD_TASK_TYPES, "")


def test_webshop_family_is_the_normalised_category_and_matches_whole_words():
    family = task_family(TaskRecord(env="webshop", task_type="  Beauty &  Personal Care "))
    assert family == "beauty & personal care"
    assert category_matches("beauty", family)
    assert category_matches("personal care", family)
    assert not category_matches("care", "healthcare")
    assert not category_matches("food", "seafood")
    assert not category_matches("", family)


def test_unknown_env_is_rejected():
    with pytest.raises(ValueError, match="unknown env 'babyai'"):
        task_family(TaskRecord(env="babyai"))


def test_alfworld_task_types_agree_with_the_envs_definition():
    # skillbank keeps its own copy (it must not import sdar_envs); the env's TASK_TYPES is the definition
    from sdar_envs.alfworld.games import TASK_TYPES

    assert ALFWORLD_TASK_TYPES == TASK_TYPES
