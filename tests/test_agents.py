"""The scripted agents and the episode loop (:mod:`sdar_envs.agents`) on every env."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

import gymnasium as gym
import pytest

import sdar_envs  # noqa: F401  (registers the env ids)
import sdar_envs.agents as agents_module
from sdar_envs.agents import Agent, ExpertAgent, NoisyExpertAgent, RandomAgent, play
from sdar_envs.core import Task

ENVS: dict[str, tuple[str, dict[str, Any]]] = {
    "searchqa": ("sdar/SearchQA-v0", {"split": "test"}),
    "webshop": ("sdar/WebShop-v0", {"split": "test_128"}),
    "alfworld": ("sdar/ALFWorld-v0", {"split": "eval_out_of_distribution", "engine": "native"}),
}
# The free-text grammar of each env (an action outside the admissible list must match it).
FREE_TEXT = {
    "searchqa": re.compile(r"<search> \S.* </search>|<answer> \S.* </answer>"),
    "webshop": re.compile(r"search\[\S.*\]"),
    "alfworld": re.compile(r"(?!)"),  # ALFWorld always lists its admissible actions
}


@pytest.fixture(scope="module", params=list(ENVS))
def env(request: pytest.FixtureRequest) -> Iterator[gym.Env]:
    env_id, kwargs = ENVS[request.param]
    made = gym.make(env_id, **kwargs)
    yield made
    made.close()


def _name(env: gym.Env) -> str:
    return env.get_wrapper_attr("env_name")


class _Checked:
    """Wraps an agent; keeps every action with the admissible list and the validity verdict it got."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.actions: list[tuple[str, list[str]]] = []
        self.valid: list[bool] = []

    def reset(self, obs: str, info: Mapping[str, Any]) -> None:
        self.agent.reset(obs, info)
        self._first = True

    def act(self, obs: str, info: Mapping[str, Any]) -> str:
        if not self._first:
            self.valid.append(info["action_valid"])  # the verdict on the previous action
        self._first = False
        action = self.agent.act(obs, info)
        self.actions.append((action, list(info["admissible_actions"])))
        return action


def test_the_agents_satisfy_the_protocol():
    for agent in (RandomAgent(0), ExpertAgent(), NoisyExpertAgent(0.5, seed=0), _Checked(ExpertAgent())):
        assert isinstance(agent, Agent)


def test_the_expert_wins_every_task_of_a_few_tasks(env):
    for index in range(3):
        episode = play(env, ExpertAgent(), seed=index, options={"index": index}, record=True)
        assert episode.won, f"{_name(env)} task {index}: {episode.actions}"
        assert episode.score == 1.0
        assert episode.turns == len(episode.actions) == len(episode.rewards) == len(episode.observations) - 1
        assert episode.episode_return == pytest.approx(sum(episode.rewards))
        assert episode.task is not None and episode.task.env == _name(env)


def _random_actions(env: gym.Env, seed: int, tasks: int = 3) -> list[tuple[str, ...]]:
    agent = RandomAgent(seed)
    return [play(env, agent, seed=i, options={"index": i}, record=True).actions for i in range(tasks)]


def test_the_random_agent_is_deterministic_per_seed(env):
    first = _random_actions(env, seed=5)
    assert _random_actions(env, seed=5) == first
    assert _random_actions(env, seed=6) != first


def test_the_random_agent_only_plays_well_formed_actions(env):
    checked = _Checked(RandomAgent(seed=1))
    for index in range(4):
        episode = play(env, checked, seed=index, options={"index": index})
        checked.valid.append(episode.info["action_valid"])
    assert checked.actions
    for action, admissible in checked.actions:
        assert action in admissible or FREE_TEXT[_name(env)].fullmatch(action), action
    assert all(checked.valid)


def test_play_stops_at_max_steps_and_at_the_env_step_limit():
    env_id, kwargs = ENVS["alfworld"]
    env = gym.make(env_id, **kwargs)
    try:
        episode = play(env, RandomAgent(0), options={"index": 0}, max_steps=3, record=True)
        assert (episode.turns, episode.truncated, episode.won) == (3, True, False)
        assert len(episode.actions) == 3 and len(episode.observations) == 4
        assert play(env, ExpertAgent(), options={"index": 0}, max_steps=0).turns == 0
    finally:
        env.close()
    limited = gym.make(env_id, max_episode_steps=5, **kwargs)
    try:
        episode = play(limited, RandomAgent(0), options={"index": 0})
        assert (episode.turns, episode.truncated, episode.won) == (5, True, False)
        assert play(limited, ExpertAgent(), options={"index": 0}, max_steps=50).turns <= 5
    finally:
        limited.close()


def test_free_text_actions_of_the_random_agent():
    question = Task("q", "searchqa", "test", "Who wrote the novel X?")
    agent = RandomAgent(0)
    agent.reset("", {"task": question})
    actions = [agent.act('Doc 1(Title: "Alma Rey") t', {"task": question, "admissible_actions": []}) for _ in range(50)]
    assert all(a.startswith(("<search> ", "<answer> ")) for a in actions)
    assert "<answer> Alma Rey </answer>" in actions  # titles seen are answered
    searched = {w for a in actions if a.startswith("<search>") for w in a.split()[1:-1]}
    assert searched <= {"Who", "wrote", "the", "novel", "X"}
    alfworld = Task("a", "alfworld", "test", "put a cup")
    assert agent.act("", {"task": alfworld, "admissible_actions": ["look"]}) == "look"
    webshop = Task("w", "webshop", "test", "red shoes")
    assert agent.act("", {"task": webshop, "admissible_actions": []}).startswith("search[")


def test_exclude_and_queries_replace_the_webshop_search_template():
    webshop = Task("w", "webshop", "test", "red shoes")
    agent = RandomAgent(0, exclude={"search[<query>]"}, queries=("tea",))
    assert agent.act("", {"task": webshop, "admissible_actions": ["search[<query>]"]}) == "search[tea]"
    assert agent.act("", {"task": webshop, "admissible_actions": ["search[<query>]", "click[a]"]}) == "click[a]"
    with pytest.raises(ValueError, match="at least one query"):
        RandomAgent(0, queries=())


def test_the_noisy_expert_mixes_expert_and_random_actions():
    env_id, kwargs = ENVS["searchqa"]
    env = gym.make(env_id, **kwargs)
    try:
        always = [play(env, NoisyExpertAgent(1.0), options={"index": i}) for i in range(5)]
        assert all(e.won for e in always)
        mixed = NoisyExpertAgent(0.5, seed=3)
        episodes = [play(env, mixed, options={"index": i}, record=True) for i in range(10)]
        experts = [play(env, ExpertAgent(), options={"index": i}, record=True) for i in range(10)]
        assert any(e.actions != x.actions for e, x in zip(episodes, experts, strict=True))
    finally:
        env.close()
    with pytest.raises(ValueError, match="expert_rate"):
        NoisyExpertAgent(1.5)


def test_the_module_docstring_example_runs(capsys):
    example = agents_module.__doc__.split("Example::", 1)[1]
    exec(compile(textwrap.dedent(example), "sdar_envs.agents example", "exec"), {})
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("True 2 (")
    assert shown[1].startswith("random agent: ")
