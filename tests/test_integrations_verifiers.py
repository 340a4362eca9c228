"""The envs as a verifiers v1 environment, run by verifiers' own evaluation entry point (``vf-eval``'s ``main``).

verifiers v1 calls models only through an OpenAI-compatible endpoint, so the model here is a scripted one behind a
local ``/v1/chat/completions`` server (``tests/scripted_chat_server.py``): it replies with the plan's next action
(``tests/integration_plans.py``), wrapped in the kind of text a model writes around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("verifiers.v1", reason="the verifiers adapter needs verifiers: pip install 'sdar[integrations]'")

import gymnasium as gym
from integration_plans import CASES, plans
from scripted_chat_server import ScriptedChatServer

import sdar_envs  # noqa: F401
from sdar_envs.integrations.verifiers import (
    SdarChatHarness,
    SdarEnv,
    SdarTaskset,
    load_environment,
    reply_action,
)


def _wrapped(env_id: str, action: str) -> str:
    """A reply holding ``action`` the way a model writes it (what :func:`reply_action` must see through)."""
    if env_id == "sdar/SearchQA-v0":
        return f"<think>I look at what I know.</think>{action}"
    if env_id == "sdar/WebShop-v0":
        return f"I read the page.\n{action}"
    return f"<think>The next step.</think><action>{action}</action>"


def _played(env: gym.Env, task_id: str, plan: list[str]) -> tuple[list[str], float]:
    """The actions played and the score when ``plan`` (then "look" until the env ends the episode) is played
    directly."""
    _, info = env.reset(options={"task_id": task_id})
    actions: list[str] = []
    while True:
        actions.append(plan[len(actions)] if len(actions) < len(plan) else "look")
        _, _, terminated, truncated, info = env.step(actions[-1])
        if terminated or truncated:
            return actions, info["score"]


def _traces(output_dir: Path) -> list[dict]:
    (path,) = output_dir.glob("*/traces.jsonl")
    return [trace for line in path.read_text().splitlines() for trace in json.loads(line)["traces"]]


@pytest.mark.parametrize("env_id", list(CASES))
def test_vf_eval_plays_the_env_turn_by_turn_and_records_its_score(env_id: str, tmp_path: Path) -> None:
    from verifiers.v1.cli.eval.main import main as vf_eval

    split, env_kwargs = CASES[env_id]
    env = gym.make(env_id, split=split, **env_kwargs)
    task_ids = list(env.unwrapped.task_ids()[:2])
    planned = plans(env_id, env, task_ids)
    # The episode ends when the env says so: at the plan's last action, or (ALFWorld's losing plan, which never
    # ends the game) at a step limit as long as the longest plan, the model repeating "look" after its plan.
    env_kwargs = {**env_kwargs, "max_episode_steps": max(len(plan) for plan in planned.values())}
    env.close()
    env = gym.make(env_id, split=split, **env_kwargs)
    played = {task_id: _played(env, task_id, planned[task_id]) for task_id in task_ids}
    assert played[task_ids[0]][1] == 1.0 and played[task_ids[1]][1] < 1.0
    instructions = {env.unwrapped.get_task(task_id).instruction: task_id for task_id in task_ids}
    env.close()

    def script(messages: list[dict]) -> str:
        text = "\n".join(str(message.get("content")) for message in messages)
        (task_id,) = [task_id for instruction, task_id in instructions.items() if instruction in text]
        turn = sum(message["role"] == "assistant" for message in messages)
        plan = planned[task_id]
        return _wrapped(env_id, plan[turn] if turn < len(plan) else "look")

    with ScriptedChatServer(script) as server:
        vf_eval(
            [
                "sdar-verifiers",
                "--env.taskset.env",
                env_id,
                "--env.taskset.split",
                split,
                "--env.taskset.env-kwargs",
                json.dumps(env_kwargs),
                "-n",
                "2",
                "--model",
                "scripted",
                "--client.base-url",
                server.url,
                "--client.api-key-var",
                "SDAR_TEST_NO_KEY",
                "--output-dir",
                str(tmp_path),
                "--no-push",
                "--no-rich",
            ]
        )
        requests = server.requests

    traces = _traces(tmp_path)
    assert sorted(trace["task"]["data"]["id"] for trace in traces) == sorted(task_ids)
    for trace in traces:
        task_id = trace["task"]["data"]["id"]
        actions, score = played[task_id]
        assert trace["ok"] and trace["rewards"]["score"]["score"] == pytest.approx(score)
        assert trace["metrics"] == {"won": float(score == 1.0), "turns": len(actions), "invalid_actions": 0}
        # The trace holds the exchange: the env's observations as user turns, the model's replies as assistant ones.
        roles = [node["message"]["role"] for node in trace["nodes"]]
        assert roles.count("assistant") == len(actions) and roles.count("user") == len(actions)
        replies = [node["message"]["content"] for node in trace["nodes"] if node["message"]["role"] == "assistant"]
        assert replies == [_wrapped(env_id, action) for action in actions]
    # Every model call went through the endpoint: one per env step.
    assert len(requests) == sum(len(actions) for actions, _ in played.values())


def test_the_environment_id_exports_one_taskset_env_and_harness() -> None:
    import verifiers.v1 as vf

    assert vf.environment_class("sdar-verifiers") is SdarEnv
    assert vf.default_harness_id("sdar-verifiers") == "sdar-verifiers"
    assert type(vf.load_harness(vf.default_agent_harness("sdar-verifiers"))) is SdarChatHarness
    env = load_environment("webshop", split="test_128", env_kwargs={"transport": "inproc"})
    assert isinstance(env, SdarEnv) and isinstance(env.taskset, SdarTaskset)
    tasks = list(env.taskset.take(3))
    ids = gym.make("sdar/WebShop-v0", split="test_128", transport="inproc").unwrapped.task_ids()
    assert [task.data.id for task in tasks] == list(ids[:3])
    assert tasks[0].key == f"sdar/WebShop-v0:test_128:{tasks[0].data.id}" and tasks[0].data.prompt is None
    assert tasks[0].data.system_prompt.startswith("You are shopping in a web store")


@pytest.mark.parametrize(
    ("env", "reply", "action"),
    [
        ("webshop", "I open it.\nclick[b0nx7avc4q]", "click[b0nx7avc4q]"),
        ("webshop", "search[red shirt] then click[buy now]", "click[buy now]"),
        ("webshop", "<think>x</think><action>click[10 oz]</action>", "click[10 oz]"),
        ("alfworld", "I should move.\ngo to cabinet 1\n", "go to cabinet 1"),
        ("alfworld", "<action>open drawer 2</action> done", "open drawer 2"),
        ("searchqa", "<think>a</think><answer> Paris </answer>", "<think>a</think><answer> Paris </answer>"),
    ],
)
def test_reply_action_reads_the_env_action_from_a_reply(env: str, reply: str, action: str) -> None:
    assert reply_action(env, reply) == action
