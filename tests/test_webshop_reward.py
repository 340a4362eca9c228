"""WebShop's reward: hand-computed cases for every branch, the option quirk, title nouns and the verifier."""

from __future__ import annotations

import pytest

from sdar_envs.core import Task, Verifier
from sdar_envs.webshop.nouns import spacy_available, title_nouns
from sdar_envs.webshop.reward import (
    Purchase,
    WebShopVerifier,
    fuzzy_ratio,
    normalize_color,
    type_reward,
    webshop_reward,
)

HAIR_PC = "Beauty & Personal Care › Hair Care › Hair Extensions & Wigs"
GOAL = {
    "asin": "B0TARGET01",
    "name": "Lumora Clip In Hair Extension, Natural Looking",
    "query": "hair extensions",
    "product_category": HAIR_PC,
    "attributes": ["natural looking", "heat resistant"],
    "goal_options": ["black", "18in"],
    "price_upper": 40.0,
}


def product(**overrides):
    base = {
        "asin": "B0TARGET01",
        "name": GOAL["name"],
        "Title": GOAL["name"],
        "query": "hair extensions",
        "product_category": HAIR_PC,
        "Attributes": ["natural looking", "heat resistant"],
        "BulletPoints": ["Seven pieces."],
        "Description": "A clip in hair extension.",
        "price": 30.0,
        "options": {"color": ["black", "brown"], "length": ["14in", "18in"]},
    }
    base.update(overrides)
    return base


GOOD_OPTIONS = {"color": "black", "length": "18in"}


def reward(prod, options=GOOD_OPTIONS, goal=GOAL, **kwargs):
    return webshop_reward(prod, goal, options, noun_method="lexicon", **kwargs)


def test_buying_the_target_with_all_options_scores_one():
    value, details = reward(product())
    assert value == 1.0
    assert details["r_type"] == 1.0 and details["r_att"] == 1.0 and details["r_option"] == 1.0
    assert details["r_price"] is True


def test_a_product_sharing_no_title_noun_has_type_reward_zero():
    wallet = product(
        name="Calmora Leather Wallet",
        Title="Calmora Leather Wallet",
        query="leather wallet",
        product_category="Clothing, Shoes & Jewelry › Accessories › Wallets",
    )
    value, details = reward(wallet)
    assert details["title_score"] == 0.0 and details["r_type"] == 0.0
    assert value == 0.0


def test_no_query_or_category_match_and_title_score_point_two_halves_the_reward():
    # goal nouns: lumora, clip, hair, extension, looking (5); the dryer shares "hair": 1/5 = 0.2, not > 0.2
    dryer = product(
        name="Zephra Hair Dryer",
        Title="Zephra Hair Dryer",
        query="hair dryer",
        product_category="Beauty & Personal Care › Tools › Dryers",
    )
    value, details = reward(dryer)
    assert details["title_score"] == pytest.approx(0.2)
    assert not details["query_match"] and not details["category_match"]
    assert details["r_type"] == 0.5
    assert value == pytest.approx(0.5)


def test_a_shared_category_path_keeps_full_type_reward_at_title_score_point_two():
    dryer = product(name="Zephra Hair Dryer", Title="Zephra Hair Dryer", query="hair dryer")  # same category path
    _, details = reward(dryer)
    assert details["category_match"] and details["title_score"] == pytest.approx(0.2)
    assert details["r_type"] == 1.0


def test_title_score_below_point_one_gives_type_reward_point_one():
    goal = {**GOAL, "name": "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliet Kilo"}
    details = type_reward({"name": "Kilo Zulu", "query": "x", "product_category": "A › B › C"}, goal, "lexicon")
    assert details["title_score"] == pytest.approx(1 / 11)
    assert details["r_type"] == 0.1


def test_a_missing_attribute_costs_one_share_of_the_reward():
    value, details = reward(product(Attributes=["natural looking"]))
    assert details["n_attr_matches"] == 1
    assert value == pytest.approx((1 + 2 + 1) / 5)


def test_an_attribute_found_only_in_the_features_counts_via_the_substring_fallback():
    value, details = reward(product(Attributes=["natural looking"], BulletPoints=["Heat resistant fibre."]))
    assert details["n_attr_matches"] == 2 and value == 1.0


def test_attributes_match_by_token_set_ratio_above_85():
    value, _ = reward(product(Attributes=["looking natural", "resistant to heat"]))
    assert fuzzy_ratio("resistant to heat", "heat resistant") == 100.0
    assert value == 1.0


def test_a_wrong_option_value_gives_a_partial_option_reward():
    value, details = reward(product(), {"color": "brown", "length": "18in"})
    assert details["n_option_matches"] == 1 and details["r_option"] == 0.5
    assert value == pytest.approx((2 + 1 + 1) / 5)


def test_options_are_compared_after_colour_normalisation():
    assert normalize_color("jet black") == "black"
    assert normalize_color("18in") == "18in"
    value, _ = reward(product(), {"color": "jet black", "length": "18in"})
    assert value == 1.0


def test_a_price_over_the_cap_loses_the_price_share():
    value, details = reward(product(price=45.0))
    assert details["r_price"] is False
    assert value == pytest.approx((2 + 2 + 0) / 5)


def test_no_price_cap_always_passes_the_price_check():
    value, details = reward(product(price=5000.0), goal={**GOAL, "price_upper": 0})
    assert details["r_price"] is True and value == 1.0


def test_upstream_option_quirk_makes_a_perfect_synthetic_purchase_score_three_quarters():
    goal = {**GOAL, "goal_options": {"color": "1877blue"}}
    options = {"color": "1877blue"}
    quirky, _ = reward(product(), options, goal, upstream_option_quirk=True)
    fixed, _ = reward(product(), options, goal)
    assert quirky == pytest.approx(0.75)  # (2 attributes + 0 options + price) / 4
    assert fixed == 1.0


def test_the_quirk_does_not_touch_options_without_a_colour_word():
    goal = {**GOAL, "goal_options": {"length": "18in"}}
    value, _ = reward(product(), {"length": "18in"}, goal, upstream_option_quirk=True)
    assert value == 1.0


def test_lexicon_nouns_drop_function_words_adjectives_and_colours_and_keep_repeats():
    assert title_nouns("Lumora Clip-In Hair Extension, Natural Looking, Black Hair", "lexicon") == (
        "lumora",
        "clip",
        "hair",
        "extension",
        "looking",
        "hair",
    )
    assert title_nouns("", "lexicon") == ()


def test_an_empty_goal_noun_list_gives_title_score_point_two():
    details = type_reward({"name": "Anything", "query": "q"}, {"name": "Natural Black", "query": "q"}, "lexicon")
    assert details["title_score"] == 0.2 and details["r_type"] == 1.0


@pytest.mark.skipif(not spacy_available(), reason="spaCy's en_core_web_sm model is not installed on this machine")
def test_spacy_nouns_follow_upstreams_pos_rule():
    nouns = title_nouns("Lumora Clip In Hair Extension", "spacy")
    assert "hair" in nouns and "extension" in nouns
    assert "in" not in nouns


def test_the_verifier_scores_a_purchase_from_the_task_metadata():
    verifier = WebShopVerifier({"B0TARGET01": product()}, noun_method="lexicon")
    assert isinstance(verifier, Verifier)
    task = Task("fixed_0", "webshop", "test", "i need ...", "beauty", "generated", metadata=GOAL)
    verdict = verifier.verify(task, Purchase("B0TARGET01", GOOD_OPTIONS))
    assert verdict.score == 1.0 and verdict.success
    partial = verifier.verify(task, {"asin": "B0TARGET01", "options": {"color": "brown"}})
    assert partial.score == pytest.approx((2 + 0 + 1) / 5) and not partial.success
    unknown = verifier.verify(task, Purchase("B0NOPE", {}))
    assert unknown.score == 0.0 and "unknown asin" in unknown.details["error"]


def test_the_fuzzy_ratio_is_rounded_to_an_integer_before_the_threshold_as_thefuzz_does():
    # rapidfuzz gives 2 * 20 / 47 = 85.106 here; thefuzz rounds it to 85, which is not above 85
    assert fuzzy_ratio("hypoallergenicfabric", "hypoallergenicfabricblanket") == 85
    assert isinstance(fuzzy_ratio("a b", "a"), int)
    goal = {**GOAL, "attributes": ["natural looking", "hypoallergenicfabric"]}
    _, details = reward(product(Attributes=["natural looking", "hypoallergenicfabricblanket"]), goal=goal)
    assert details["n_attr_matches"] == 1
    assert fuzzy_ratio("heat resistantt", "heat resistant") == 97  # 96.55... rounds up


def test_fuzzy_matching_drops_only_latin1_characters_as_thefuzz_ascii_only_does():
    assert fuzzy_ratio("café", "caf") == 100  # é (U+00E9) is dropped
    assert fuzzy_ratio("Ωmega", "mega") == 89  # Ω (U+03A9) is kept: 2 * 4 / 9
