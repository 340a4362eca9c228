"""normalize_answer, EM, substring EM, F1 and the Search-QA Verifier on hand-made cases."""

import pytest

from sdar_envs.core import Task, Verifier
from sdar_envs.searchqa import SearchQAVerifier, exact_match, f1_score, normalize_answer, substring_exact_match


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  An   apple, a PEAR!  ", "apple pear"),
        ("1,234,567", "1234567"),
        ("Theatre of the Absurd", "theatre of absurd"),  # "the" only as a whole word
        ("Port-Tarsk", "porttarsk"),  # punctuation is deleted, not replaced by a space
        ("Dr. Alden M. Varro", "dr alden m varro"),
        ("", ""),
    ],
)
def test_normalize_answer_lowercases_strips_punctuation_articles_and_spaces(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_accepts_any_alias_after_normalization():
    golden = ["New Zarora", "New Zarora, Norvasia"]
    assert exact_match("new zarora", golden) == 1.0
    assert exact_match("The New Zarora.", golden) == 1.0
    assert exact_match("New Zarora Norvasia", golden) == 1.0
    assert exact_match("Zarora", golden) == 0.0
    assert exact_match("1.2 million", ["1,234,567", "1.2 million"]) == 1.0
    assert exact_match("1234567", ["1,234,567"]) == 1.0


def test_substring_exact_match_finds_gold_inside_a_longer_answer():
    assert substring_exact_match("It was founded in 1877 by Varro", ["1877"]) == 1.0
    assert substring_exact_match("1878", ["1877"]) == 0.0


def test_f1_is_token_overlap_maximised_over_golds():
    # prediction "alden varro" vs gold "alden m varro": precision 1, recall 2/3 -> F1 0.8
    assert f1_score("Alden Varro", ["Alden M. Varro"]) == pytest.approx(0.8)
    assert f1_score("Alden Varro", ["Someone Else", "Alden Varro"]) == 1.0
    assert f1_score("", ["x"]) == 0.0
    assert f1_score("the", ["a"]) == 0.0  # both normalize to nothing


def test_verifier_scores_an_answer_without_running_the_env():
    task = Task("q1", "searchqa", "test", "Who founded Varro Mills?", metadata={"golden_answers": ["Alden Varro"]})
    verifier = SearchQAVerifier()
    assert isinstance(verifier, Verifier)
    right = verifier.verify(task, "alden varro")
    assert (right.score, right.success) == (1.0, True)
    assert right.details == {"em": 1.0, "f1": 1.0, "substring_em": 1.0, "answer": "alden varro"}
    partial = verifier.verify(task, "Varro")
    assert (partial.score, partial.success) == (0.0, False)
    assert partial.details["f1"] == pytest.approx(2 / 3)
    assert verifier.verify(task, None).score == 0.0


def test_verifier_refuses_a_task_without_gold_answers():
    with pytest.raises(ValueError, match="golden_answers"):
        SearchQAVerifier().verify(Task("q", "searchqa", "test", "?"), "x")
