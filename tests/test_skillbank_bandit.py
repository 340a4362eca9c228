"""The UCB bandit: formula, deterministic cold start, convergence, and the saved state."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillbank import BanditStateError, SkillBank, TaskRecord, UCBBandit
from skillbank.bandit import DEFAULT_UCB_C

ARMS = {"sim": [f"arm{i}" for i in range(8)]}
HEAT = TaskRecord(
    env="alfworld", task_type="pick_heat_then_place_in_recep", instruction="heat some egg and put it in countertop."
)


def test_score_is_mean_plus_c_sqrt_log_rounds_over_pulls():
    bandit = UCBBandit({"sim": ["a", "b", "c"]}, c=0.5, seed=0)
    bandit.update("sim", "x", ["a"], 1.0)
    bandit.update("sim", "x", ["b"], 0.0)
    bandit.update("sim", "x", ["a"], 0.0)
    scores = bandit.scores("sim", "x")
    assert scores["a"] == pytest.approx(0.5 + 0.5 * math.sqrt(math.log(3) / 2))
    assert scores["b"] == pytest.approx(0.0 + 0.5 * math.sqrt(math.log(3) / 1))
    assert scores["c"] == math.inf
    assert bandit.select("sim", "x", 3) == ["c", "a", "b"]  # unpulled first, then 0.871 > 0.524


def test_default_c_is_half_a_unit_reward():
    assert DEFAULT_UCB_C == 0.5


def test_unpulled_arms_come_in_the_seeded_order():
    bandit = UCBBandit(ARMS, seed=11)
    expected = sorted(ARMS["sim"])
    random.Random("11|sim|ctx").shuffle(expected)
    assert bandit.select("sim", "ctx", 8) == expected
    assert bandit.select("sim", "ctx", 8) == expected  # selection alone changes nothing
    assert UCBBandit(ARMS, seed=12).select("sim", "ctx", 8) != expected


def test_prior_orders_unpulled_arms_before_the_seeded_order():
    bandit = UCBBandit(ARMS, seed=11)
    assert bandit.select("sim", "ctx", 2, prior={"arm5": 2.0, "arm3": 1.0}) == ["arm5", "arm3"]


def test_equal_scores_are_broken_by_the_seeded_order():
    bandit = UCBBandit({"sim": ["a", "b", "c", "d"]}, seed=5)
    for arm in "abcd":
        bandit.update("sim", "ctx", [arm], 0.5)
    order = ["a", "b", "c", "d"]
    random.Random("5|sim|ctx").shuffle(order)
    assert bandit.select("sim", "ctx", 4) == order


def _simulate(rates, rounds, seed, k=1, c=DEFAULT_UCB_C):
    """Bernoulli bandit with known rates; returns per-round choices."""
    bandit = UCBBandit({"sim": list(rates)}, c=c, seed=seed)
    draw = random.Random(seed + 1000)
    history = []
    for _ in range(rounds):
        chosen = bandit.select("sim", "ctx", k)
        reward = sum(1.0 for arm in chosen if draw.random() < rates[arm]) / k
        bandit.update("sim", "ctx", chosen, reward)
        history.append(chosen)
    return bandit, history


def test_ucb_converges_to_the_best_arm_on_a_known_bernoulli_bandit():
    rates = {"arm0": 0.2, "arm1": 0.5, "arm2": 0.3, "arm3": 0.9, "arm4": 0.1, "arm5": 0.4}
    bandit, history = _simulate(rates, rounds=1500, seed=0)
    last = history[-300:]
    assert sum(chosen == ["arm3"] for chosen in last) / len(last) >= 0.9
    pulls = {arm: n for arm, (n, _) in bandit.stats("sim", "ctx").items()}
    assert max(pulls, key=pulls.get) == "arm3"
    assert pulls["arm3"] > 1500 * 0.7


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    others=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=3, max_size=7),
    best_position=st.integers(min_value=0, max_value=7),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_ucb_finds_the_best_arm_within_a_bounded_number_of_pulls(others, best_position, seed):
    # Gap >= 0.4 between the best arm (0.9) and every other: UCB1 needs O(ln T / gap^2) pulls per bad arm.
    values = list(others)
    values.insert(min(best_position, len(values)), 0.9)
    rates = {f"arm{i}": r for i, r in enumerate(values)}
    best = max(rates, key=rates.get)
    _, history = _simulate(rates, rounds=1200, seed=seed)
    last = history[-200:]
    assert sum(chosen == [best] for chosen in last) / len(last) >= 0.85


def test_top_k_ucb_converges_to_the_k_best_arms():
    rates = {"a": 0.1, "b": 0.85, "c": 0.2, "d": 0.9, "e": 0.15, "f": 0.3, "g": 0.8, "h": 0.05}
    _, history = _simulate(rates, rounds=1500, seed=3, k=3)
    last = history[-200:]
    assert sum(set(chosen) == {"b", "d", "g"} for chosen in last) / len(last) >= 0.8


# ------------------------------------------------------------------------------------------------ state
def _trained_bank(seed=0) -> SkillBank:
    bank = SkillBank(seed=seed)
    for step in range(12):
        chosen = [s.id for s in bank.retrieve(HEAT, "ucb", k=3)]
        bank.update(HEAT, chosen, reward=float(step % 3 == 0))
        bank.retrieve(HEAT, "random", k=2)
    return bank


def test_state_round_trips_and_retrieval_continues_identically(tmp_path):
    bank = _trained_bank()
    path = bank.save_state(tmp_path / "ckpt" / "skillbank.json")
    restored = SkillBank(seed=0)
    restored.load_state(path)
    assert restored.state_dict() == bank.state_dict()
    for strategy in ("ucb", "random", "adversarial"):
        assert [s.id for s in restored.retrieve(HEAT, strategy, k=3)] == [
            s.id for s in bank.retrieve(HEAT, strategy, k=3)
        ]


def test_saving_the_same_history_gives_identical_bytes(tmp_path):
    a = _trained_bank().save_state(tmp_path / "a.json").read_bytes()
    b = _trained_bank().save_state(tmp_path / "b.json").read_bytes()
    assert a == b
    data = json.loads(a)
    assert data["schema"] == "skillbank.state" and data["schema_version"] == 1
    assert len(data["fingerprint"]) == 64


def test_corrupted_state_file_is_a_clear_error_and_changes_nothing(tmp_path):
    bank = _trained_bank()
    path = bank.save_state(tmp_path / "s.json")
    path.write_text(path.read_text()[:200])
    fresh = SkillBank(seed=0)
    before = fresh.state_dict()
    with pytest.raises(BanditStateError, match=r"s\.json is not valid JSON.*corrupted"):
        fresh.load_state(path)
    assert fresh.state_dict() == before


def test_state_of_a_different_skill_bank_is_rejected_with_the_difference(tmp_path):
    path = _trained_bank().save_state(tmp_path / "s.json")
    smaller = SkillBank([s for s in SkillBank().skills if s.id != "alfworld.cool.object_found_in_fridge"], seed=0)
    with pytest.raises(BanditStateError, match=r"different set of skills \(only in the state: \['alfworld.cool.object"):
        smaller.load_state(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version 2 is not supported"),
        (lambda d: d.update(schema="other"), "not a skill bank state"),
        (lambda d: d.update(seed=1), "saved with seed=1"),
        (lambda d: d["ucb"].update(c=2.0), "saved with c=2.0"),
        (lambda d: d["ucb"]["contexts"][0].update(rounds=-1), "rounds must be an integer >= 0"),
        (lambda d: d["ucb"]["contexts"][0]["arms"].update({"alfworld.nope": {"pulls": 1, "reward_sum": 0}}), "nope"),
        (lambda d: next(iter(d["ucb"]["contexts"][0]["arms"].values())).update(pulls=10**6), "pulls must be"),
        (lambda d: next(iter(d["ucb"]["contexts"][0]["arms"].values())).pop("reward_sum"), "reward_sum"),
        (lambda d: d["ucb"]["contexts"].append(dict(d["ucb"]["contexts"][0])), "appears twice"),
        (lambda d: d["rng_state"].update(internal=[1, 2, 3]), "625 integers"),
        (lambda d: d.pop("ucb"), "UCB state must be a JSON object"),
    ],
)
def test_mismatched_or_malformed_state_is_rejected_and_the_bank_is_unchanged(tmp_path, edit, message):
    state = _trained_bank().state_dict()
    edit(state)
    target = SkillBank(seed=0)
    target.update(HEAT, ["alfworld.general.one_object_in_hand"], 1.0)
    before = target.state_dict()
    with pytest.raises(BanditStateError, match=message):
        target.load_state_dict(json.loads(json.dumps(state)))
    assert target.state_dict() == before


def test_missing_state_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save one with SkillBank\.save_state"):
        SkillBank().load_state(tmp_path / "absent.json")


def test_negative_or_infinite_c_is_refused():
    with pytest.raises(ValueError, match="c must be a finite number >= 0"):
        UCBBandit(ARMS, c=-1.0)
    with pytest.raises(ValueError, match="c must be a finite number >= 0"):
        SkillBank(ucb_c=math.inf)
