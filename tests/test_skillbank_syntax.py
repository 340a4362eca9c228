"""The per-env action syntax checkers that guard the skills' worked examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillbank.action_syntax import (
    is_valid_action,
    is_valid_alfworld_action,
    is_valid_searchqa_action,
    is_valid_webshop_action,
)

NAMES = st.sampled_from(["apple", "mug", "sinkbasin", "countertop", "desklamp", "cd", "keychain", "garbagecan"])
NUMS = st.integers(min_value=1, max_value=30).map(str)
ENTITY = st.builds(lambda n, i: f"{n} {i}", NAMES, NUMS)


@pytest.mark.parametrize(
    "action",
    [
        "go to countertop 1",
        "open fridge 1",
        "close drawer 12",
        "take apple 1 from countertop 2",
        "move apple 1 to diningtable 1",
        "put apple 1 in/on diningtable 1",
        "heat potato 2 with microwave 1",
        "cool bread 1 with fridge 1",
        "clean lettuce 1 with sinkbasin 2",
        "slice apple 1 with knife 1",
        "use desklamp 1",
        "examine alarmclock 2",
        "inventory",
        "look",
    ],
)
def test_alfworld_commands_of_both_grammars_are_accepted(action):
    assert is_valid_alfworld_action(action)


@pytest.mark.parametrize(
    "action",
    [
        "go to countertop",  # no instance number
        "take apple from countertop 1",
        "put apple 1 in diningtable 1",  # the old grammar writes the literal "in/on"
        "move apple 1 into diningtable 1",
        "heat potato 1 with stoveburner 1",
        "cool bread 1 with microwave 1",
        "Go to countertop 1",  # the game's commands are lower-case
        "go to countertop 1 ",
        "use lamp 1",
        "think: I need a mug",
        "",
    ],
)
def test_alfworld_near_misses_are_rejected(action):
    assert not is_valid_alfworld_action(action)


@given(ENTITY, ENTITY)
def test_alfworld_generated_take_and_move_commands_are_valid(obj, recep):
    assert is_valid_alfworld_action(f"take {obj} from {recep}")
    assert is_valid_alfworld_action(f"move {obj} to {recep}")
    assert not is_valid_alfworld_action(f"take {obj.split()[0]} from {recep}")


@pytest.mark.parametrize(
    "action",
    [
        "search[gluten free cookies]",
        "click[buy now]",
        "click[Buy Now]",
        "click[next >]",
        "click[< prev]",
        "click[back to search]",
        "click[description]",
        "click[b07q4rv9zk]",
        "click[32 oz]",
        "click[1.7 fl oz]",
    ],
)
def test_webshop_search_and_click_are_accepted(action):
    assert is_valid_webshop_action(action)


@pytest.mark.parametrize(
    "action",
    [
        "search[]",
        "click[]",
        "click[search]",
        "click[ buy now]",
        "buy now",
        "click buy now",
        "search[a]b",
        "search[[x]]",
    ],
)
def test_webshop_malformed_actions_are_rejected(action):
    assert not is_valid_webshop_action(action)


@pytest.mark.parametrize(
    "action",
    ["<search>Halvard Press founder</search>", "<answer>1887</answer>", " <answer>Kaelen Dorr</answer>\n"],
)
def test_searchqa_single_tag_actions_are_accepted(action):
    assert is_valid_searchqa_action(action)


@pytest.mark.parametrize(
    "action",
    [
        "<search></search>",
        "<answer> </answer>",
        "<search>a</search><answer>b</answer>",
        "<search>a</search><search>b</search>",
        "<search>a</answer>",
        "I think the answer is <answer>x</answer>",
        "1887",
    ],
)
def test_searchqa_invalid_actions_are_rejected(action):
    assert not is_valid_searchqa_action(action)


@settings(max_examples=200)
@given(st.sampled_from(["alfworld", "webshop", "searchqa"]), st.text(max_size=80))
def test_checkers_never_raise_on_arbitrary_text(env, text):
    assert is_valid_action(env, text) in (True, False)


@given(st.text(alphabet=st.characters(blacklist_characters="[]"), min_size=1, max_size=40))
def test_webshop_search_accepts_any_bracket_free_stripped_query(query):
    assert is_valid_webshop_action(f"search[{query}]") == (query.strip() == query and bool(query.strip()))


def test_unknown_env_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown env 'minigrid'"):
        is_valid_action("minigrid", "look")
