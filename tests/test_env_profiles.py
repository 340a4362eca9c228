"""Per-env settings and episode returns (sdar_agent.env_profiles)."""

from __future__ import annotations

import pytest

from sdar_agent.env_profiles import GENERIC, PROFILES, EnvProfile, episode_return, profile_for, register_profile

ALFWORLD = profile_for("alfworld")
WEBSHOP = profile_for("webshop")
SEARCH = profile_for("searchqa")


def test_returns_scale_wins_by_ten_and_subtract_invalid_penalties():
    assert episode_return(ALFWORLD, won=True, env_reward=1.0, invalid_turns=2) == 10.0 - 0.2
    assert episode_return(WEBSHOP, won=False, env_reward=0.75, invalid_turns=0) == 0.0
    assert episode_return(SEARCH, won=True, env_reward=1.0, invalid_turns=3) == 1.0 - 0.03
    assert episode_return(profile_for("other"), won=False, env_reward=0.5, invalid_turns=1) == 0.5 - 0.1


def test_profiles_carry_the_sdar_settings():
    assert (ALFWORLD.history_length, WEBSHOP.history_length, SEARCH.history_length) == (2, 2, 4)
    assert (ALFWORLD.kl_coef, SEARCH.kl_coef) == (0.01, 0.001)
    assert (ALFWORLD.eval_temperature, WEBSHOP.eval_temperature, SEARCH.eval_temperature) == (0.4, 0.4, 0.0)


def test_unknown_envs_get_the_generic_settings_under_their_own_name_until_registered():
    other = profile_for("my_env")
    assert other.name == "my_env" and other.history_length == GENERIC.history_length == 2
    assert (other.response_format, other.invalid_penalty, other.win_reward) == ("action", 0.1, None)
    try:
        register_profile(EnvProfile(name="my_env", intro="x", history_length=5))
        assert profile_for("my_env").history_length == 5
    finally:
        PROFILES.pop("my_env", None)


def test_score_returns_pay_a_partial_webshop_purchase_its_share_of_the_win_reward():
    webshop = profile_for("webshop")
    assert episode_return(webshop, won=False, env_reward=0.6, invalid_turns=0) == 0.0
    assert episode_return(webshop, won=False, env_reward=0.6, invalid_turns=1, score=0.6, kind="score") == 6.0 - 0.1
    assert episode_return(webshop, won=True, env_reward=1.0, invalid_turns=0, score=1.0, kind="score") == 10.0
    assert (
        episode_return(profile_for("searchqa"), won=True, env_reward=1.0, invalid_turns=0, score=1.0, kind="score")
        == 1.0
    )


def test_unknown_or_incomplete_return_kinds_are_refused():
    with pytest.raises(ValueError, match="won, score, reward"):
        episode_return(profile_for("webshop"), won=True, env_reward=1.0, invalid_turns=0, kind="success")
    with pytest.raises(ValueError, match="needs the episode's score"):
        episode_return(profile_for("webshop"), won=True, env_reward=1.0, invalid_turns=0, kind="score")
