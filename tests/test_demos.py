"""Expert demonstrations: the trainer's exact prompts, replies that replay to the expert's return, stable files."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import sdar_envs  # noqa: F401
from sdar_agent.demos import DemoSet, expert_demos, expert_reply, read_demos, write_demos
from sdar_agent.engines import Reply
from sdar_agent.env_profiles import profile_for
from sdar_agent.policy import TinyConfig, build_tiny_policy
from sdar_agent.prompts import project_action
from sdar_agent.rollout import EnvPool, collect_rollouts
from sdar_envs.data_cli import main as data_main

ENVS = {
    "searchqa": ("sdar/SearchQA-v0", {}),
    "webshop": ("sdar/WebShop-v0", {"transport": "inproc"}),
    "alfworld": ("sdar/ALFWorld-v0", {}),
}


@pytest.fixture(scope="module")
def demos() -> dict[str, DemoSet]:
    return {name: expert_demos(env_id, "train", episodes=4, env_kwargs=kw) for name, (env_id, kw) in ENVS.items()}


@pytest.mark.parametrize("name", list(ENVS))
def test_every_reply_is_valid_and_projects_to_the_recorded_action(demos, name):
    turns = demos[name].turns
    assert demos[name].episodes == 4 and demos[name].dropped == 0 and len(turns) >= 8
    for turn in turns:
        projection = project_action(profile_for(turn.env), turn.reply)
        assert projection.valid, turn.reply
        assert projection.action == turn.action
        assert turn.reply.startswith("<think>") and "</think>" in turn.reply
        assert len(turn.reply.split("</think>")[0]) > len("<think>") + 10  # a reason, not an empty think


@pytest.mark.parametrize("name", list(ENVS))
def test_replaying_the_replies_reproduces_the_expert_return(demos, name):
    env_id, kwargs = ENVS[name]
    env = gym.make(env_id, split="train", **kwargs)
    by_episode: dict[int, list] = {}
    for turn in demos[name].turns:
        by_episode.setdefault(turn.episode, []).append(turn)
    for turns in by_episode.values():
        obs, info = env.reset(seed=turns[0].task_index, options={"index": turns[0].task_index})
        for turn in turns:
            assert obs == turn.observation
            obs, reward, terminated, _, info = env.step(project_action(profile_for(turn.env), turn.reply).action)
            assert reward == turn.reward
        assert terminated and info["won"] and info["score"] == turns[0].score == 1.0
        assert info["task"].id == turns[0].task_id
    env.close()


@pytest.mark.parametrize("name", list(ENVS))
def test_demo_prompts_equal_the_rollout_prompts_turn_for_turn(demos, name):
    """A rollout whose generator answers each prompt with the demo's reply renders the demo's messages."""
    env_id, kwargs = ENVS[name]
    policy = build_tiny_policy(TinyConfig())
    turns = [t for t in demos[name].turns if t.episode < 2]
    reply_of = {json.dumps(t.messages): t.reply for t in turns}

    class ScriptedEngine:
        """Answers each prompt with the demo reply whose messages render to it (a stand-in for sampling)."""

        name = "scripted"

        def generate(self, prompts, **_):
            replies = []
            for ids in prompts:
                text = policy.tokenizer.decode(ids)
                match = next(r for m, r in reply_of.items() if policy.chat_prompt(json.loads(m)) == text)
                replies.append(Reply([*policy.encode(match), policy.stop_ids[0]]))
            return replies

        def sync_weights(self, model):
            pass

        def close(self):
            pass

    pool = EnvPool(env_id, 2, split="train", **kwargs)
    try:
        tasks = [t.task_id for t in turns if t.turn == 0]
        batch = collect_rollouts(
            policy,
            pool,
            tasks,
            1,
            seed=0,
            max_new_tokens=64,
            max_prompt_tokens=100_000,
            score_old_logp=False,
            engine=ScriptedEngine(),
        )
    finally:
        pool.close()
    expected = {(t.task_id, t.turn): t for t in turns}
    assert len(batch.samples) == len(turns)
    for sample in batch.samples:
        demo = expected[(sample.task.id, sample.turn)]
        assert sample.messages == demo.messages
        assert sample.action == demo.action and sample.valid
    assert all(e.won for e in batch.episodes)
    assert sorted(e.return_ for e in batch.episodes) == sorted({t.episode: t.episode_return for t in turns}.values())


def test_demos_are_deterministic_and_files_round_trip(tmp_path, demos):
    again = expert_demos("sdar/SearchQA-v0", "train", episodes=4)
    assert again.turns == demos["searchqa"].turns
    for suffix in (".jsonl", ".parquet"):
        path = write_demos(demos["webshop"], tmp_path / f"d{suffix}")
        assert read_demos(path) == demos["webshop"].turns


def test_prompt_text_is_the_chat_templated_prompt_the_trainer_encodes(tmp_path, demos):
    policy = build_tiny_policy(TinyConfig())
    path = write_demos(demos["alfworld"], tmp_path / "d.jsonl", tokenizer=policy.tokenizer)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["prompt_text"] == policy.chat_prompt(demos["alfworld"].turns[0].messages)
    assert records[0]["chat"][-1] == {"role": "assistant", "content": demos["alfworld"].turns[0].reply}


def test_episodes_the_expert_does_not_win_are_dropped_and_counted():
    cut = expert_demos("sdar/ALFWorld-v0", "train", episodes=3, env_kwargs={"max_episode_steps": 2})
    assert cut.episodes == 3 and cut.dropped == 3 and cut.turns == [] and len(cut.dropped_task_ids) == 3


def test_alfworld_reasons_name_the_object_the_expert_will_take():
    profile = profile_for("alfworld")
    reply = expert_reply(profile, "go to fridge 1", "", ["open fridge 1", "take apple 2 from fridge 1"])
    assert reply == "<think>I need an apple; I check the fridge 1.</think><action>go to fridge 1</action>"
    carrying = expert_reply(profile, "go to garbagecan 1", "", [], holding="apple 2")
    assert "carry the apple 2" in carrying


def test_sdar_data_demos_writes_the_file_and_rejects_bad_env_kwargs(tmp_path, capsys):
    out = tmp_path / "demos.jsonl"
    assert data_main(["demos", "--env", "searchqa", "--episodes", "3", "--out", str(out)]) == 0
    assert "of 3 expert episodes" in capsys.readouterr().out
    assert len(read_demos(out)) >= 6
    with pytest.raises(SystemExit, match="JSON object"):
        data_main(["demos", "--env", "searchqa", "--out", str(out), "--env-kwargs", "[1]"])


def test_read_demos_names_a_missing_file_and_a_bad_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="sdar-data demos"):
        read_demos(tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"env": "x"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        read_demos(bad)
    bad.write_text('{"env": "x"}\n')
    with pytest.raises(ValueError, match="record 1 lacks split"):
        read_demos(bad)
