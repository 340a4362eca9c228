"""Search-R1 action parsing (cut at the first closing tag, then verl-agent validity) and passage formatting."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdar_envs.searchqa.protocol import (
    INVALID_ACTION_MESSAGE,
    format_information,
    parse_action,
    question_prompt,
)


@pytest.mark.parametrize(
    ("text", "kind", "content"),
    [
        ("<search> capital of Velmoria </search>", "search", "capital of Velmoria"),
        ("<think>need the capital</think>\n<search>Velmoria capital</search>", "search", "Velmoria capital"),
        ("<answer> Tarsk </answer>", "answer", "Tarsk"),
        ("<answer>Tarsk</answer> trailing <search>x</search>", "answer", "Tarsk"),  # cut at the first closing tag
        ("<search>q</search><answer>a</answer>", "search", "q"),
        ("<search></search>", "search", ""),
        ("<answer>\n</answer>", "answer", ""),
    ],
)
def test_valid_actions_yield_the_first_block_stripped(text, kind, content):
    action = parse_action(text)
    assert (action.kind, action.content, action.valid) == (kind, content, True)


@pytest.mark.parametrize(
    "text",
    [
        "Tarsk",  # neither tag
        "<search>unclosed",
        "<answer>Tarsk</search>",  # closed by the other kind
        "<search>a<answer>b</answer>",  # both tags before the cut
        "<search><search>q</search>",  # repeated tag
        "<answer>a<answer>b</answer>",
        "</answer>",
        "<SEARCH>q</SEARCH>",  # tags are case-sensitive as in Search-R1
        "",
    ],
)
def test_neither_both_or_repeated_tags_are_invalid(text):
    assert parse_action(text).kind == "invalid"


@given(st.text())
def test_parse_action_never_raises_and_valid_content_came_from_the_text(text):
    action = parse_action(text)
    assert action.kind in {"search", "answer", "invalid"}
    if action.valid:
        assert action.content in text
        assert f"<{action.kind}>" in text and f"</{action.kind}>" in text


@given(st.text(alphabet=st.characters(blacklist_characters="<>"), max_size=40))
def test_any_tagless_content_round_trips(content):
    assert parse_action(f"<search>{content}</search>").content == content.strip()


def test_information_block_matches_search_r1_layout():
    obs = format_information(['"Evan Morris"\nEvan Morris was a lobbyist.', '"Veloria"\nVeloria is an island.'])
    assert obs == (
        '\n\n<information>Doc 1(Title: "Evan Morris") Evan Morris was a lobbyist.\n'
        'Doc 2(Title: "Veloria") Veloria is an island.</information>\n\n'
    )
    assert format_information([]) == "\n\n<information></information>\n\n"


def test_prompt_and_invalid_message_follow_search_r1():
    prompt = question_prompt("Who founded Varro Mills? ")
    assert prompt.startswith("Answer the given question.")
    for tag in ("<think>", "</think>", "<search>", "</search>", "<information>", "<answer>", "</answer>"):
        assert tag in prompt
    assert prompt.endswith("Question: Who founded Varro Mills?\n")
    assert INVALID_ACTION_MESSAGE.startswith("\nMy previous action is invalid.")
    assert INVALID_ACTION_MESSAGE.endswith("Let me try again.\n")
