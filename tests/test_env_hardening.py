"""Every env under hostile input: the after-the-end rule, reset options, and WebShop's HTTP transport against its
in-process one for long and non-ASCII actions (hypothesis; seconds, not minutes)."""

from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sdar_envs  # noqa: F401  (registers the ids)
from sdar_envs.core import check_info
from sdar_envs.webshop.catalog import catalog_cli_args
from sdar_envs.webshop.pages import page_signature
from sdar_envs.webshop.transport import local_server

#: Any character an agent might send: every Unicode category, lone surrogates, controls, astral-plane symbols.
_CHAR = st.characters() | st.integers(0xD800, 0xDFFF).map(chr) | st.sampled_from("\x00\n\t\x7f\u202e😀é[]")
_ACTION_TEXT = st.text(_CHAR, max_size=300) | st.sampled_from(
    ["take all", "click[Buy Now]", "<answer>x</answer>", "search[shoes]", "look", "\ud800", "\x00" * 5]
)


@pytest.fixture(scope="module")
def webshop_kwargs(tmp_path_factory) -> dict:
    return {"cache_dir": str(tmp_path_factory.getbasetemp() / "webshop-cache")}


@pytest.fixture(scope="module")
def searchqa_kwargs(tmp_path_factory) -> dict:
    return {"num_passages": 3000, "data_dir": str(tmp_path_factory.mktemp("sqa-cache"))}


@pytest.fixture(scope="module")
def alfworld_kwargs(tmp_path_factory) -> dict:
    return {"cache_dir": str(tmp_path_factory.mktemp("alfworld-cache")), "source": "generated"}


@pytest.fixture(scope="module")
def ended_envs(webshop_kwargs, searchqa_kwargs, alfworld_kwargs):
    """One env per product env (a step limit of 1000, so Gymnasium's TimeLimit never truncates the test's steps)."""
    envs = {
        "webshop": gym.make("sdar/WebShop-v0", transport="inproc", max_episode_steps=1000, **webshop_kwargs),
        "searchqa": gym.make("sdar/SearchQA-v0", split="test", max_episode_steps=1000, **searchqa_kwargs),
        "alfworld": gym.make(
            "sdar/ALFWorld-v0", split="eval_out_of_distribution", max_episode_steps=1000, **alfworld_kwargs
        ),
    }
    yield envs
    for env in envs.values():
        env.close()


def _play_to_the_end(env: gym.Env, index: int) -> tuple[str, dict]:
    obs, info = env.reset(options={"index": index})
    for _ in range(60):
        obs, _, terminated, _, info = env.step(info["expert_action"])
        if terminated:
            return obs, info
    raise AssertionError("the expert did not finish the episode")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["webshop", "searchqa", "alfworld"]), index=st.integers(0, 30), data=st.data())
def test_after_the_end_every_env_returns_the_final_observation_reward_zero_and_stays_terminated(
    ended_envs, name, index, data
):
    env = ended_envs[name]
    final_obs, final_info = _play_to_the_end(env, index)
    assert final_info["won"] is True and final_info["score"] == 1.0
    # the expert's own next moves, admissible commands and arbitrary text: none may change the finished episode
    moves = data.draw(st.lists(_ACTION_TEXT, min_size=1, max_size=6))
    moves += [a for a in final_info["admissible_actions"][:3]]
    if name == "alfworld":
        moves += [c for c in env.unwrapped._engine.admissible_commands() if c.startswith("take")]
    for action in moves:
        obs, reward, terminated, truncated, info = env.step(action)
        check_info(info)
        assert (obs, reward, terminated, truncated) == (final_obs, 0.0, True, False), action
        assert info["action_valid"] is False and info["admissible_actions"] == []
        assert info["won"] is True and info["score"] == 1.0 and info["expert_action"] is None
    _, info = env.reset(options={"index": index})  # reset starts a fresh episode
    assert info["won"] is False and info["action_valid"] is True


def test_alfworld_taking_the_placed_object_back_after_winning_neither_unwins_nor_pays_again(ended_envs):
    env = ended_envs["alfworld"]
    task_id = next(t for t in env.unwrapped.task_ids() if t.startswith("pick_and_place_simple"))
    _, info = env.reset(options={"task_id": task_id})
    rewards = []
    while not info["won"]:
        _, reward, terminated, _, info = env.step(info["expert_action"])
        rewards.append(reward)
    placed = info["task"].metadata["walkthrough"][-1]  # "move X to R"
    obj, recep = placed.removeprefix("move ").split(" to ")
    _, reward, terminated, _, info = env.step(f"take {obj} from {recep}")
    assert (reward, terminated, info["won"], info["action_valid"]) == (0.0, True, True, False)
    _, reward, terminated, _, info = env.step(placed)
    assert (reward, terminated) == (0.0, True) and sum(rewards) == 1.0


@pytest.mark.parametrize("name", ["webshop", "searchqa", "alfworld"])
def test_bad_reset_options_name_the_option_and_what_it_takes(ended_envs, name):
    env = ended_envs[name]
    n = env.unwrapped.num_tasks
    with pytest.raises(TypeError, match=r"reset\(options=\.\.\.\) must be a dict"):
        env.reset(options="x")
    with pytest.raises(TypeError, match=rf"options\['index'\] must be an integer from 0 to {n - 1}, got str 'abc'"):
        env.reset(options={"index": "abc"})
    with pytest.raises(TypeError, match=r"got float 1\.7"):
        env.reset(options={"index": 1.7})
    with pytest.raises(TypeError, match="got bool"):
        env.reset(options={"index": True})
    with pytest.raises(IndexError, match=rf"options\['index'\]={n} is out of range: this split has {n} tasks"):
        env.reset(options={"index": n})
    with pytest.raises(ValueError, match=r"unknown reset option.* idx"):
        env.reset(options={"idx": 3})
    with pytest.raises(ValueError, match="pass only one"):
        env.reset(options={"index": 0, "task_id": env.unwrapped.task_ids()[0]})
    _, info = env.reset(options={"index": 2})
    assert info["task"].id == env.unwrapped.task_ids()[2]


# ---- WebShop: the HTTP transport sees exactly what the in-process one sees -----------------------------------------
@pytest.fixture(scope="module")
def webshop_pair(webshop_kwargs):
    url = local_server([*catalog_cli_args(**webshop_kwargs), "--search-backend", "default"]).url
    inproc = gym.make("sdar/WebShop-v0", transport="inproc", **webshop_kwargs).unwrapped
    http = gym.make("sdar/WebShop-v0", base_url=url, **webshop_kwargs).unwrapped
    yield inproc, http
    inproc.close()
    http.close()


_LONG_TEXT = st.text(_CHAR, min_size=1, max_size=12).map(lambda s: s * (6000 // len(s) + 1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries=st.lists(st.text(_CHAR, max_size=200) | _LONG_TEXT, min_size=1, max_size=3))
@example(queries=["😀" * 5500])
@example(queries=["é" * 8000, "\u202e\u0000 %2F%00 ../../etc/passwd"])
@example(queries=["\ud83d" * 3000])
def test_long_and_non_ascii_searches_give_the_same_page_over_http_and_in_process(webshop_pair, queries):
    inproc, http = webshop_pair
    a, _ = inproc.reset(options={"index": 3})
    b, _ = http.reset(options={"index": 3})
    assert a == b
    for query in queries:
        for action in (f"search[{query}]", "click[back to search]"):
            step_a, step_b = inproc.step(action), http.step(action)
            assert step_a[:4] == step_b[:4]
            assert step_a[4]["action_valid"] == step_b[4]["action_valid"]
            assert page_signature(inproc.page) == page_signature(http.page)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(_ACTION_TEXT | _LONG_TEXT.map(lambda s: f"click[{s}]"), min_size=1, max_size=5))
def test_arbitrary_actions_give_the_same_steps_over_http_and_in_process(webshop_pair, actions):
    inproc, http = webshop_pair
    inproc.reset(options={"index": 5})
    http.reset(options={"index": 5})
    for action in ["search[black]", *actions]:
        step_a, step_b = inproc.step(action), http.step(action)
        assert step_a[:4] == step_b[:4]
        assert page_signature(inproc.page) == page_signature(http.page)
