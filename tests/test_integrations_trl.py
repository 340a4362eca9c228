"""The envs inside TRL's real ``GRPOTrainer(environment_factory=...)``: the model's tool calls reach the env, and the
reward TRL logs is the env's own score.

The policy is the tiny Qwen3 model with Qwen2.5's tool chat template (``tests/scripted_policy.py``); its sampling
follows a script of tool calls, so TRL's real generation, reply parsing, tool loop and reward path run on
deterministic calls. Per env, two tasks: one scripted with the expert's actions, one with a plan that scores less
(``tests/integration_plans.py``).
"""

from __future__ import annotations

import json
import re
import statistics

import pytest

pytest.importorskip("trl", reason="the TRL integration needs trl (pip install 'sdar[integrations]')")
pytest.importorskip("datasets", reason="the TRL integration needs datasets (pip install 'sdar[integrations]')")

import gymnasium as gym
from datasets import Dataset
from integration_plans import CASES, plans, replayed_score
from scripted_policy import script_generation, tiny_tool_policy, tool_call

import sdar_envs  # noqa: F401
from sdar_envs.integrations.trl import (
    ALFWorldTools,
    SearchQATools,
    WebShopTools,
    environment_factory,
    train_rows,
)

#: env id -> the tool names its class exposes
TOOL_NAMES = {
    "sdar/SearchQA-v0": ["answer", "search"],
    "sdar/WebShop-v0": ["click", "search"],
    "sdar/ALFWorld-v0": ["act"],
}


def _as_tool_call(action: str) -> tuple[str, dict[str, str]]:
    """The tool call that makes the env receive ``action`` (the inverse of the tool methods)."""
    if match := re.fullmatch(r"<(search|answer)>\s*(.*?)\s*</\1>", action.strip(), flags=re.DOTALL):
        tag, body = match.groups()
        return (tag, {"query": body}) if tag == "search" else ("answer", {"text": body})
    if match := re.fullmatch(r"(search|click)\[(.*)\]", action, flags=re.DOTALL):
        kind, body = match.groups()
        return (kind, {"query": body}) if kind == "search" else ("click", {"label": body})
    return "act", {"command": action}


def _env_action(env_id: str, name: str, arguments: dict[str, str]) -> str:
    """What the tool ``name`` sends the env."""
    if env_id == "sdar/SearchQA-v0":
        return f"<search>{arguments['query']}</search>" if name == "search" else f"<answer>{arguments['text']}</answer>"
    if env_id == "sdar/WebShop-v0":
        return f"search[{arguments['query']}]" if name == "search" else f"click[{arguments['label']}]"
    return arguments["command"]


@pytest.mark.parametrize("env_id", list(CASES))
def test_grpo_trainer_sends_the_model_tool_calls_to_the_env_and_logs_its_score(env_id: str, tmp_path) -> None:
    from trl import GRPOConfig, GRPOTrainer

    split, env_kwargs = CASES[env_id]
    rows = train_rows(env_id, split, limit=2, **env_kwargs)
    task_ids = [row["task_id"] for row in rows]
    env = gym.make(env_id, split=split, **env_kwargs)
    planned = plans(env_id, env, task_ids)
    expected = {task_id: replayed_score(env, task_id, planned[task_id]) for task_id in task_ids}
    assert expected[task_ids[0]] == 1.0 and expected[task_ids[1]] < 1.0
    instructions = {env.unwrapped.get_task(task_id).instruction: task_id for task_id in task_ids}
    env.close()

    def script(conversation: str) -> str:
        """The reply of the current turn: the plan's next action as a tool call, then a closing text."""
        (task_id,) = [task_id for instruction, task_id in instructions.items() if instruction in conversation]
        turn = conversation.count("<|im_start|>assistant")
        plan = planned[task_id]
        if turn == len(plan):
            return "I am done."
        name, arguments = _as_tool_call(plan[turn])
        return tool_call(name, **arguments)

    model, tokenizer = tiny_tool_policy()
    script_generation(model, tokenizer, script)
    factory = environment_factory(env_id, split=split, **env_kwargs)
    episodes: list = []

    def reset(self, **row):  # records which instance played which task
        observation = factory.reset(self, **row)
        episodes.append((self, row["task_id"]))
        return observation

    recording = type(factory.__name__, (factory,), {"reset": reset})  # what TRL instantiates

    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        args=GRPOConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=4,
            num_generations=2,
            max_steps=1,
            max_completion_length=6000,
            logging_steps=1,
            report_to="none",
            use_cpu=True,
            save_strategy="no",
            bf16=False,
        ),
        train_dataset=Dataset.from_list(rows),
        environment_factory=recording,
    )
    assert sorted(tool.__name__ for tool in trainer.tools) == TOOL_NAMES[env_id]  # reset/get_reward are not tools
    trainer.train()

    # Every rollout's env received exactly the planned actions, sent by TRL's tool loop from the parsed calls.
    assert len(episodes) == 4 and len({id(instance) for instance, _ in episodes}) == 4
    assert sorted(task_id for _, task_id in episodes) == sorted(task_ids * 2)
    for instance, task_id in episodes:
        assert instance.actions == [_env_action(env_id, *_as_tool_call(a)) for a in planned[task_id]]
        assert instance.get_reward() == pytest.approx(expected[task_id])
    # TRL logged the env's score as the reward, under the env class's name.
    logged = trainer.state.log_history[0]
    scores = [expected[task_id] for _, task_id in episodes]
    assert logged[f"rewards/{factory.__name__}/mean"] == pytest.approx(statistics.mean(scores))
    assert logged[f"rewards/{factory.__name__}/std"] == pytest.approx(statistics.stdev(scores), abs=1e-6)
    assert logged["reward"] == pytest.approx(statistics.mean(scores))
    assert logged["tools/call_frequency"] == pytest.approx(statistics.mean(len(planned[t]) for _, t in episodes))
    assert logged["tools/failure_frequency"] == 0.0


def test_factory_binds_split_and_env_arguments_and_keeps_the_class_name() -> None:
    cls = environment_factory("webshop", split="test", transport="inproc")
    assert issubclass(cls, WebShopTools) and cls.__name__ == "WebShopTools"
    assert (cls.split, dict(cls.env_kwargs)) == ("test", {"transport": "inproc"})
    tools = cls()
    first = tools.reset(task_id="fixed_0", prompt=[{"role": "user", "content": "x"}])
    assert first.startswith("WebShop [SEP] Instruction: [SEP] ") and tools.task.id == "fixed_0"
    assert tools.click("no such button").endswith("(That action was not possible here.)")
    assert tools.actions == ["click[no such button]"] and tools.get_reward() == 0.0


def test_search_qa_tools_show_the_question_and_end_at_the_answer() -> None:
    tools = environment_factory("sdar/SearchQA-v0", split="test")()
    first = tools.reset(task_id="test-single_hop-00000")
    assert first == f"Question: {tools.task.instruction}"
    assert tools.search("Corgard Mills").startswith("<information>Doc 1(Title: ")
    gold = tools.task.metadata["golden_answers"][0]
    assert tools.answer(gold) == "The episode is over; no more actions are taken."
    assert tools.get_reward() == 1.0 and tools.done
    assert tools.search("more") == "The episode is over; no more actions are taken."
    assert len(tools.actions) == 2  # the env was not stepped after the end


def test_alfworld_tools_list_the_admissible_commands() -> None:
    tools = environment_factory("alfworld", split="eval_out_of_distribution")()
    first = tools.reset(task_id=tools.env.unwrapped.task_ids()[0])
    commands = first.rsplit("Admissible commands: ", 1)[1].rstrip(".").split(", ")
    assert first.startswith("-= Welcome to TextWorld, ALFRED! =-") and "go to toilet 1" in commands
    assert tools.act("go to toilet 1").startswith("You arrive at toilet 1.")


def test_reset_without_a_task_id_column_says_how_to_build_the_dataset() -> None:
    tools = SearchQATools()
    with pytest.raises(KeyError, match="train_dataset"):
        tools.reset(prompt=[{"role": "user", "content": "x"}])


def test_train_dataset_rows_end_where_trl_appends_the_first_observation() -> None:
    from sdar_envs.integrations.trl import train_dataset

    dataset = train_dataset("alfworld", split="eval_out_of_distribution", limit=3, environment="alfworld")
    assert dataset.column_names == ["prompt", "task_id", "task_type", "environment"]
    assert len(dataset) == 3 and dataset[0]["environment"] == "alfworld"
    (message,) = dataset[0]["prompt"]
    assert message["role"] == "user" and message["content"].endswith("until the task is done.\n\n")
    assert json.dumps(dataset[0]["task_id"]).startswith('"pick_and_place_simple-')
    assert ALFWorldTools.env_id == "sdar/ALFWorld-v0"
