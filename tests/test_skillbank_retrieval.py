"""Retrieval strategies with known outcomes, and the teacher prefix format."""

from __future__ import annotations

from collections import Counter

import pytest

from skillbank import PREFIX_HEADER, SkillBank, TaskRecord, render
from skillbank.render import render_skill

HEAT = TaskRecord(
    env="alfworld", task_type="pick_heat_then_place", instruction="heat some egg and put it in countertop."
)
COMPARE = TaskRecord(
    env="searchqa", data_source="hotpotqa", instruction="Who was born earlier, Petra Holm or Ansel Wick?"
)
GROCERY = TaskRecord(
    env="webshop",
    task_type="Grocery & Gourmet Food",
    instruction="i need gluten free oatmeal cookies, pack of 6, and price lower than 40.00 dollars",
)


@pytest.fixture
def bank() -> SkillBank:
    return SkillBank(seed=0)


def ids(skills):
    return [s.id for s in skills]


# --------------------------------------------------------------------------------------------- keyword
def test_keyword_gives_general_skills_then_the_task_type_skills_for_alfworld_heat(bank):
    assert ids(bank.retrieve(HEAT, "keyword")) == [
        "alfworld.general.copy_admissible_commands",
        "alfworld.general.search_likely_places_first",
        "alfworld.general.one_object_in_hand",
        "alfworld.heat.where_food_and_dishes_are",  # family 3 + keywords heat, egg
        "alfworld.heat.microwave_without_opening",  # family 3 + keyword heat
        "alfworld.pick.open_closed_goal_receptacle",  # family 3
    ]


def test_keyword_with_k_keeps_the_highest_scores(bank):
    assert ids(bank.retrieve(HEAT, "keyword", k=2)) == [
        "alfworld.heat.where_food_and_dishes_are",
        "alfworld.heat.microwave_without_opening",
    ]
    assert bank.retrieve(HEAT, "keyword", k=0) == []


def test_keyword_never_mixes_in_other_alfworld_task_types(bank):
    cool = TaskRecord(
        env="alfworld", task_type="pick_cool_then_place_in_recep", instruction="cool some egg and put it in countertop."
    )
    chosen = ids(bank.retrieve(cool, "keyword"))
    assert "alfworld.heat.where_food_and_dishes_are" not in chosen  # its keyword "egg" must not override the type
    assert {"alfworld.cool.fridge_command_not_storage", "alfworld.cool.object_found_in_fridge"} <= set(chosen)


def test_keyword_routes_which_or_questions_to_the_comparison_skills(bank):
    chosen = ids(bank.retrieve(COMPARE, "keyword"))
    assert chosen[:3] == [
        "searchqa.general.answer_from_retrieved_text",
        "searchqa.general.short_exact_answer",
        "searchqa.general.budget_four_turns",
    ]
    assert set(chosen[3:]) == {"searchqa.compare.look_up_each_side", "searchqa.compare.answer_with_the_option_name"}


def test_keyword_routes_hotpotqa_bridge_questions_to_multi_hop_skills(bank):
    task = TaskRecord(
        env="searchqa", data_source="hotpotqa", instruction="Where was the founder of Halvard Press born?"
    )
    chosen = ids(bank.retrieve(task, "keyword"))
    assert chosen[3] == "searchqa.bridge.resolve_the_inner_entity_first"  # family 3 + "founder of"
    assert "searchqa.multihop.one_search_per_hop" in chosen
    assert not any(".compare." in i for i in chosen)


def test_keyword_selects_webshop_skills_by_category_and_instruction_words(bank):
    scores = bank.relevance(GROCERY)
    assert scores["webshop.categories.grocery_diet_labels"] == 3 + 1  # category "grocery" + "gluten free"
    assert scores["webshop.options.pack_count_and_amount"] == 3 + 1  # category "grocery" + "pack"
    assert scores["webshop.price.stay_under_the_limit"] == 3  # "price", "dollars", "lower than"
    assert scores["webshop.categories.electronics_specs_and_compatibility"] == 0
    chosen = ids(bank.retrieve(GROCERY, "keyword", k=3))
    assert chosen == [
        "webshop.categories.grocery_diet_labels",
        "webshop.options.pack_count_and_amount",
        "webshop.price.stay_under_the_limit",
    ]


def test_keyword_with_an_unknown_alfworld_type_and_no_goal_gives_the_general_skills(bank):
    chosen = bank.retrieve(TaskRecord(env="alfworld", task_type="mystery"), "keyword")
    assert all(s.is_general for s in chosen) and len(chosen) == 3


# ------------------------------------------------------------------------------------------------ full
def test_full_returns_every_skill_of_the_env_in_bank_order(bank):
    assert bank.retrieve(HEAT, "full") == list(bank.skills_for("alfworld"))
    assert len(bank.retrieve(COMPARE, "full")) == len([s for s in bank.skills if s.env == "searchqa"])
    with pytest.raises(ValueError, match="'full' returns every skill"):
        bank.retrieve(HEAT, "full", k=3)


# ---------------------------------------------------------------------------------------------- random
def test_random_is_seeded_and_reproducible():
    first = [ids(SkillBank(seed=7).retrieve(HEAT, "random", k=4)) for _ in range(2)]
    assert first[0] == first[1]
    a, b = SkillBank(seed=7), SkillBank(seed=8)
    seq_a = [ids(a.retrieve(HEAT, "random", k=4)) for _ in range(5)]
    seq_b = [ids(b.retrieve(HEAT, "random", k=4)) for _ in range(5)]
    assert seq_a != seq_b


def test_random_draws_k_distinct_skills_of_the_env_uniformly():
    bank = SkillBank(seed=3)
    env_ids = {s.id for s in bank.skills_for("alfworld")}
    counts: Counter[str] = Counter()
    draws = 1500
    for _ in range(draws):
        chosen = ids(bank.retrieve(HEAT, "random", k=3))
        assert len(set(chosen)) == 3 and set(chosen) <= env_ids
        counts.update(chosen)
    expected = draws * 3 / len(env_ids)  # 300 for 15 skills
    assert set(counts) == env_ids
    assert all(0.75 * expected < c < 1.25 * expected for c in counts.values()), counts


def test_random_without_k_matches_the_keyword_budget(bank):
    assert len(bank.retrieve(HEAT, "random")) == len(bank.retrieve(HEAT, "keyword")) == 6


# ----------------------------------------------------------------------------------------- adversarial
def test_adversarial_returns_only_skills_of_other_task_types(bank):
    for _ in range(20):
        chosen = bank.retrieve(HEAT, "adversarial", k=4)
        assert len(chosen) == 4
        for skill in chosen:
            assert not skill.is_general
            assert "pick_heat_then_place_in_recep" not in skill.task_types
    compare_ids = {i for i in ids(bank.retrieve(COMPARE, "keyword"))}
    for _ in range(20):
        assert not compare_ids & set(ids(bank.retrieve(COMPARE, "adversarial")))


def test_adversarial_is_capped_by_the_irrelevant_pool(bank):
    pool = [s for s in bank.skills_for("alfworld") if not s.is_general and bank.relevance(HEAT)[s.id] == 0]
    assert len(pool) == 9  # 12 task-specific skills, 3 of which serve heat tasks
    assert len(bank.retrieve(HEAT, "adversarial", k=50)) == 9


def test_adversarial_for_webshop_avoids_every_keyword_hit(bank):
    relevant = {s.id for s in bank.retrieve(GROCERY, "keyword")}
    chosen = bank.retrieve(GROCERY, "adversarial", k=10)
    assert chosen and not relevant & set(ids(chosen))
    scores = bank.relevance(GROCERY)
    assert all(scores[s.id] == 0 and not s.is_general for s in chosen)
    assert "webshop.categories.electronics_specs_and_compatibility" in ids(chosen)


# ------------------------------------------------------------------------------------------------- ucb
def test_ucb_cold_start_follows_keyword_relevance(bank):
    first = ids(bank.retrieve(HEAT, "ucb", k=3))
    assert first == [
        "alfworld.heat.where_food_and_dishes_are",
        "alfworld.heat.microwave_without_opening",
        "alfworld.pick.open_closed_goal_receptacle",
    ]


def test_ucb_seeded_cold_start_ignores_keywords():
    import random

    bank = SkillBank(seed=4, ucb_cold_start="seeded")
    order = sorted(s.id for s in bank.skills_for("alfworld"))
    random.Random("4|alfworld|pick_heat_then_place_in_recep").shuffle(order)
    assert ids(bank.retrieve(HEAT, "ucb", k=5)) == order[:5]
    with pytest.raises(ValueError, match="ucb_cold_start must be"):
        SkillBank(ucb_cold_start="kmeans")


def test_ucb_explores_unpulled_arms_before_exploiting(bank):
    seen: set[str] = set()
    n_arms = len(bank.skills_for("alfworld"))
    for _ in range(n_arms // 3):
        chosen = ids(bank.retrieve(HEAT, "ucb", k=3))
        assert not seen & set(chosen)  # every round picks arms never used in this context
        seen.update(chosen)
        bank.update(HEAT, chosen, reward=0.0)
    assert len(seen) == n_arms


def test_ucb_learns_the_skill_that_comes_with_success(bank):
    good = "alfworld.two.remember_every_sighting"  # a poor keyword match, so only reward can promote it
    for _ in range(60):
        chosen = ids(bank.retrieve(HEAT, "ucb", k=2))
        bank.update(HEAT, chosen, reward=1.0 if good in chosen else 0.0)
    assert ids(bank.retrieve(HEAT, "ucb", k=1)) == [good]


def test_ucb_statistics_are_partitioned_by_task_family(bank):
    chosen = ids(bank.retrieve(HEAT, "ucb", k=3))
    bank.update(HEAT, chosen, reward=1.0)
    cool = TaskRecord(env="alfworld", task_type="pick_cool_then_place_in_recep")
    assert bank.bandit.rounds("alfworld", "pick_heat_then_place_in_recep") == 1
    assert bank.bandit.rounds("alfworld", "pick_cool_then_place_in_recep") == 0
    assert all(pulls == 0 for pulls, _ in bank.bandit.stats("alfworld", "pick_cool_then_place_in_recep").values())
    # cold start in the new context: the two cool skills (equal keyword relevance, order fixed by the seed)
    assert set(ids(bank.retrieve(cool, "ucb", k=2))) == {
        "alfworld.cool.fridge_command_not_storage",
        "alfworld.cool.object_found_in_fridge",
    }


def test_update_rejects_foreign_ids_and_bad_rewards(bank):
    with pytest.raises(KeyError, match="not skills of env 'alfworld'"):
        bank.update(HEAT, ["searchqa.general.short_exact_answer"], 1.0)
    with pytest.raises(ValueError, match="finite number"):
        bank.update(HEAT, ["alfworld.general.one_object_in_hand"], float("nan"))
    with pytest.raises(ValueError, match="duplicate"):
        bank.update(HEAT, ["alfworld.general.one_object_in_hand"] * 2, 1.0)
    bank.update(HEAT, [], 1.0)  # an episode without skills credits nothing
    assert bank.bandit.rounds("alfworld", "pick_heat_then_place_in_recep") == 0


# ------------------------------------------------------------------------------------------ arguments
def test_bad_strategy_k_or_env_give_clear_errors(bank):
    with pytest.raises(ValueError, match="unknown strategy 'kmeans'; choose one of keyword, ucb, full"):
        bank.retrieve(HEAT, "kmeans")
    with pytest.raises(ValueError, match="k must be an integer >= 0"):
        bank.retrieve(HEAT, "random", k=-1)
    with pytest.raises(ValueError, match="no skills for env 'minigrid'; known envs"):
        bank.retrieve(TaskRecord(env="minigrid"), "keyword")


def test_retrieval_accepts_the_envs_task_record(bank):
    from sdar_envs.core import Task

    task = Task(
        id="t1",
        env="alfworld",
        split="train",
        instruction="put a clean mug in coffeemachine.",
        task_type="pick_clean_then_place_in_recep",
        data_source="generated",
    )
    assert "alfworld.clean.wash_at_sinkbasin" in ids(bank.retrieve(task, "keyword"))
    bank.update(task, ["alfworld.clean.wash_at_sinkbasin"], 1.0)


# ---------------------------------------------------------------------------------------------- render
def test_render_is_the_released_codes_prefix_form(bank):
    skills = bank.retrieve(HEAT, "keyword", k=2)
    text = render(skills)
    body = render_skill(skills[0], 1) + "\n\n" + render_skill(skills[1], 2)
    assert text == "[Privileged Skill Information]\n" + body + "\n\n"
    assert PREFIX_HEADER == "[Privileged Skill Information]\n"


def test_render_of_one_skill_reads_title_principle_when_and_example(bank):
    skill = bank.skill("alfworld.look.hold_object_then_use_lamp")
    lines = render([skill]).split("\n")
    assert lines[0] == "[Privileged Skill Information]"
    assert lines[1] == "## Skill 1: Hold the object, stand at the lamp, switch it on"
    assert lines[2].startswith('Principle: "Look at X under the desklamp" is satisfied')
    assert lines[3] == 'When to apply: Goals "look at X under the desklamp" or "examine the X with the desklamp".'
    assert lines[4] == "Example (task: examine the alarmclock with the desklamp.)"
    assert lines[5] == "> go to desk 1"
    assert lines[-4:] == ["> use desklamp 1", "You turn on the desklamp 1.", "", ""]


def test_render_of_no_skills_is_no_prefix():
    assert render([]) == ""


def test_prefix_is_render_of_retrieve(bank):
    assert bank.prefix(COMPARE, "keyword") == render(SkillBank(seed=0).retrieve(COMPARE, "keyword"))
