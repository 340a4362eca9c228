"""Prompt templates and action projection (sdar_agent.prompts)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_agent.env_profiles import profile_for
from sdar_agent.prompts import INVALID_ENV_ACTION, build_messages, project_action

ALFWORLD = profile_for("alfworld")
WEBSHOP = profile_for("webshop")
SEARCH = profile_for("searchqa")


def test_think_then_one_action_is_valid_and_lowercased_for_alfworld():
    reply = "<think>the mug is on the table</think>\n<action>Take Mug 1 from Table 1</action>"
    projection = project_action(ALFWORLD, reply)
    assert projection.valid
    assert projection.action == "take mug 1 from table 1"


def test_generic_env_keeps_the_action_case():
    projection = project_action(profile_for("my_env"), "<think>ok</think><action>Left</action>")
    assert projection == project_action(profile_for("my_env"), "<think>ok</think><action> Left </action>")
    assert projection.action == "Left"


def test_missing_think_two_actions_or_empty_action_are_invalid():
    for reply in (
        "<action>go to cabinet 1</action>",
        "<think>a</think><action>look</action><action>inventory</action>",
        "<think>a</think><action>  </action>",
        "<think>a</think> go to cabinet 1",
        "",
    ):
        projection = project_action(ALFWORLD, reply)
        assert not projection.valid, reply
        assert projection.action == INVALID_ENV_ACTION
        assert projection.reason


def test_cjk_characters_make_an_alfworld_or_webshop_reply_invalid():
    reply = "<think>去厨房</think><action>go to cabinet 1</action>"
    assert not project_action(ALFWORLD, reply).valid
    assert not project_action(WEBSHOP, reply).valid
    assert project_action(profile_for("other"), reply).valid


def test_webshop_search_action_is_passed_through_lowercased():
    projection = project_action(WEBSHOP, "<think>search first</think><action>search[Red Shirt]</action>")
    assert projection.valid and projection.action == "search[red shirt]"


def test_search_qa_accepts_exactly_one_search_or_answer_block():
    assert project_action(SEARCH, "<think>x</think><search> capital of France </search>").action == (
        "<search>capital of France</search>"
    )
    assert project_action(SEARCH, "<answer>Paris</answer>").action == "<answer>Paris</answer>"
    for reply in (
        "<search>a</search><answer>b</answer>",
        "<search>a</search><search>b</search>",
        "<think>no tags</think>",
        "<answer> </answer>",
    ):
        assert not project_action(SEARCH, reply).valid, reply


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_projection_never_raises_and_invalid_replies_send_the_invalid_marker(text):
    for profile in (ALFWORLD, WEBSHOP, SEARCH):
        projection = project_action(profile, text)
        assert isinstance(projection.action, str)
        assert projection.valid or projection.action == INVALID_ENV_ACTION


@given(st.text(alphabet=st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), min_size=1))
def test_any_action_text_without_tags_round_trips_through_the_action_block(action):
    projection = project_action(profile_for("generic"), f"<think>t</think><action>{action}</action>")
    assert projection.valid == bool(action.strip())
    if projection.valid:
        assert projection.action == action.strip()


def test_first_turn_shows_task_observation_and_admissible_actions_without_help():
    actions = ["look", "help", "go to sink 1"]
    [message] = build_messages(ALFWORLD, "put a mug in the sink", "You are in a room.", actions)
    text = message["content"]
    assert message["role"] == "user"
    assert "put a mug in the sink" in text and "You are in a room." in text
    assert "'look'\n'go to sink 1'" in text and "'help'" not in text
    assert "<think>" in text and "<action>" in text and "Observation 1" not in text


def test_later_turns_show_the_last_k_pairs_numbered_by_step():
    history = [(f"obs{i}", f"act{i}") for i in range(1, 6)]
    [message] = build_messages(ALFWORLD, "task", "obs6", ["look"], history, step=5)
    text = message["content"]
    assert "You have taken 5 step(s)" in text
    assert "[Observation 4: 'obs4', Action 4: 'act4']\n[Observation 5: 'obs5', Action 5: 'act5']" in text
    assert "obs3" not in text
    assert "Step 6. Current observation: obs6" in text


def test_search_qa_keeps_four_pairs_and_asks_for_search_or_answer():
    history = [(f"obs{i}", f"<search>q{i}</search>") for i in range(1, 6)]
    [message] = build_messages(SEARCH, "who?", "obs6", [], history, step=5)
    text = message["content"]
    assert all(f"Observation {i}:" in text for i in range(2, 6)) and "Observation 1:" not in text
    assert "<answer>" in text and "Admissible actions" not in text
