"""The privileged context as the teacher reads it: the provider over ``gymnasium.make``, ``--teacher-context
reference`` in the trainer and config, ``sdar eval --context reference``, and context-bearing SFT samples."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
import torch
import two_choice_env
from context_helpers import context_of as _context
from context_helpers import task_ids_of as _ids
from context_helpers import task_of as _task

import sdar_envs  # noqa: F401  (registers sdar/*)
from sdar_agent.cli import main as sdar_main
from sdar_agent.config import ConfigError, TrainConfig
from sdar_agent.demos import CONTEXT_ANSWER_REASON, context_replies, expert_demos
from sdar_agent.policy import TinyConfig, build_tiny_policy
from sdar_agent.privileged import ContextProvider
from sdar_agent.sft import SFTConfig, build_samples, context_samples
from sdar_agent.trainer import Trainer
from skillbank.render import PREFIX_HEADER

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def searchqa():
    env = gym.make("sdar/SearchQA-v0", split="test")
    yield env
    env.close()


# ---- the provider ----------------------------------------------------------------------------------------------


def test_context_provider_gives_the_envs_text_through_gym_make_for_any_split(searchqa):
    env = searchqa
    provider = ContextProvider("searchqa", "test", "adversarial")
    try:
        task = _task(env, _ids(env)[5])
        assert provider(task) == _context(env, task.id, "adversarial")
        train = gym.make("sdar/SearchQA-v0", split="train")
        try:
            train_task = _task(train, _ids(train)[0])
            assert provider(train_task) == _context(train, train_task.id, "adversarial")  # opened on first use
        finally:
            train.close()
    finally:
        provider.close()


def test_context_provider_refuses_a_bad_quality_and_an_env_without_context():
    with pytest.raises(ValueError, match="unknown privileged-context quality 'best'; choose one of informative"):
        ContextProvider("searchqa", "test", "best")
    with pytest.raises(ValueError, match="gives no privileged context"):
        ContextProvider(two_choice_env.ENV_ID, "train")


# ---- trainer, config, CLI --------------------------------------------------------------------------------------


def _train_config(tmp_path, method: str, **overrides) -> TrainConfig:
    values = dict(
        env="searchqa",
        split="test",
        method=method,
        model="tiny",
        steps=1,
        tasks_per_step=2,
        group_size=2,
        max_turns=1,
        max_response_tokens=6,
        max_prompt_tokens=2048,
        mini_batch_size=0,
        micro_batch_size=4,
        teacher_context="reference",
        output_dir=str(tmp_path / method),
        progress=False,
        torch_threads=1,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_a_reference_teacher_prompt_starts_with_the_privileged_header_and_the_tasks_context(tmp_path, searchqa):
    trainer = Trainer(_train_config(tmp_path, "sdar", context_quality="adversarial"))
    try:
        batch = trainer.collect()
        prompts = trainer.teacher.prompts(batch.samples)
        assert trainer.skill_provider is None
        for sample, prompt in zip(batch.samples, prompts, strict=True):
            context = _context(searchqa, sample.task.id, "adversarial")
            assert context.startswith('Doc 1(Title: "')
            text = trainer.policy.tokenizer.decode(prompt)
            assert text == PREFIX_HEADER + context + "\n\n" + sample.prompt_text
        metrics = trainer.train_step()
        assert "sdar/gate_mean" in metrics and "skills/retrieved" not in metrics
    finally:
        trainer.close()


def test_skill_grpo_with_reference_context_shows_it_in_the_student_prompt(tmp_path, searchqa):
    trainer = Trainer(_train_config(tmp_path, "skill_grpo"))
    try:
        batch = trainer.collect()
    finally:
        trainer.close()
    for sample in batch.samples:
        context = _context(searchqa, sample.task.id)
        assert sample.prompt_text.startswith(PREFIX_HEADER + context + "\n\n<|im_start|>")


def test_config_validates_the_teacher_context_and_quality(tmp_path):
    problems = TrainConfig(teacher_context="gold", context_quality="best", output_dir=str(tmp_path)).problems()
    assert any(p.startswith("--teacher-context: must be one of skills, reference") for p in problems)
    assert any(p.startswith("--context-quality: must be one of informative, random, adversarial") for p in problems)
    skills_file = tmp_path / "skills.txt"
    skills_file.write_text("tip")
    clash = TrainConfig(teacher_context="reference", skills_file=str(skills_file), output_dir=str(tmp_path))
    assert any("conflicts with --teacher-context reference" in p for p in clash.problems())
    ignored = TrainConfig(context_quality="random", output_dir=str(tmp_path))
    assert ignored.problems() == ["--context-quality: only applies with --teacher-context reference (got 'random')"]
    with pytest.raises(ConfigError, match="--context-quality"):
        ignored.validate()


def test_cli_flags_for_the_context_refuse_bad_values_with_a_clear_error(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert sdar_main(["train", "--teacher-context", "reference", "--context-quality", "best", "--output-dir", out]) == 2
    assert "--context-quality: must be one of informative, random, adversarial" in capsys.readouterr().err
    base = ["eval", "--model", "tiny", "--env", "webshop", "--split", "test"]
    with pytest.raises(SystemExit):
        sdar_main([*base, "--context", "reference", "--context-quality", "best"])
    assert "invalid choice: 'best'" in capsys.readouterr().err
    assert sdar_main([*base, "--context-quality", "random"]) == 2
    assert "--context-quality applies with --context reference only" in capsys.readouterr().err
    assert sdar_main([*base, "--context", "reference", "--skill-strategy", "keyword"]) == 2
    assert "--skill-strategy and --context reference" in capsys.readouterr().err


def test_sdar_eval_with_reference_context_reports_the_policy_plus_context_row(tmp_path, capsys):
    build_tiny_policy(TinyConfig()).save(tmp_path / "m")
    args = ["eval", "--model", str(tmp_path / "m"), "--env", "webshop", "--split", "test", "--num-tasks", "2"]
    args += ["--max-turns", "1", "--max-response-tokens", "4", "--env-kwargs", '{"transport": "inproc"}']
    assert sdar_main([*args, "--context", "reference", "--context-quality", "adversarial"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 2 and result["with_skills"] is True
    assert result["context"] == "reference" and result["context_quality"] == "adversarial"


# ---- SFT -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def turns():
    return expert_demos("searchqa", "train", episodes=8).turns


def test_context_fraction_adds_that_share_of_turns_with_the_teachers_privileged_prefix(turns):
    policy = build_tiny_policy(TinyConfig())
    provider = ContextProvider("searchqa", "train")
    try:
        extra = context_samples(policy, turns, lambda t: provider.text(t.task_id, t.split), 0.5, 4096, seed=0)
        plain = build_samples(policy, turns, "turn", 4096)
        assert len(extra) == round(0.5 * len(turns)) and len(plain) == len(turns)
        by_text = {policy.tokenizer.decode(s.input_ids): s for s in plain}
        for sample in extra:
            text = policy.tokenizer.decode(sample.input_ids[: sample.loss_mask.index(1)])
            assert text.startswith(PREFIX_HEADER + 'Doc 1(Title: "')
            body, _, student = text.removeprefix(PREFIX_HEADER).partition("\n\n<|im_start|>")
            student = "<|im_start|>" + student
            match = next(t for t in turns if policy.chat_prompt(t.messages) == student)
            assert body == provider.text(match.task_id, match.split)
            target = [t for t, m in zip(sample.input_ids, sample.loss_mask, strict=True) if m]
            same = [t for t in turns if (t.split, t.episode) == (match.split, match.episode)]
            answer = next(t for t in same if t.action.startswith("<answer>"))
            # With the gold passages in front the target answers at once, at every turn (no search first).
            expected = f"<think>{CONTEXT_ANSWER_REASON}</think>{answer.action}<|im_end|>"
            assert policy.tokenizer.decode(target) == expected
        assert not any(policy.tokenizer.decode(s.input_ids) in by_text for s in extra)
        again = context_samples(policy, turns, lambda t: provider.text(t.task_id, t.split), 0.5, 4096, seed=0)
        assert [s.input_ids for s in again] == [s.input_ids for s in extra]
    finally:
        provider.close()


def test_context_replies_answer_search_qa_at_once_and_keep_the_expert_reply_elsewhere(turns):
    replies = context_replies(turns)
    assert set(replies) == {(t.split, t.episode, t.turn) for t in turns}
    searches = [t for t in turns if t.action.startswith("<search>")]
    assert searches  # the expert searches first without the context
    for turn in turns:
        final = max((t for t in turns if t.episode == turn.episode), key=lambda t: t.turn)
        assert final.action.startswith("<answer>")
        assert replies[(turn.split, turn.episode, turn.turn)] == f"<think>{CONTEXT_ANSWER_REASON}</think>{final.action}"
    alfworld = expert_demos("alfworld", "train", episodes=1).turns
    assert [context_replies(alfworld)[(t.split, t.episode, t.turn)] for t in alfworld] == [t.reply for t in alfworld]


def test_an_empty_context_keeps_the_experts_reply(turns):
    policy = build_tiny_policy(TinyConfig())
    samples = context_samples(policy, turns, lambda t: "", 1.0, 4096, seed=0)
    targets = [
        policy.tokenizer.decode([t for t, m in zip(s.input_ids, s.loss_mask, strict=True) if m]) for s in samples
    ]
    assert targets == [t.reply + "<|im_end|>" for t in turns]


def test_sft_trainer_adds_context_samples_and_validates_the_fraction(tmp_path, turns):
    from sdar_agent.sft import SFTTrainer

    config = SFTConfig(env="searchqa", model="tiny", steps=1, batch_size=4, eval_tasks=0, progress=False)
    config.output_dir, config.context_fraction = str(tmp_path / "run"), 0.5
    trainer = SFTTrainer(config, turns=turns)
    assert len(trainer.samples) == len(turns) + round(0.5 * len(turns))
    for bad, message in ((1.5, "context_fraction must be in \\[0, 1\\]"), (-0.1, "context_fraction must be in")):
        with pytest.raises(ValueError, match=message):
            SFTConfig(context_fraction=bad).validate()
    with pytest.raises(ValueError, match="context_fraction needs layout 'turn'"):
        SFTConfig(context_fraction=0.5, layout="episode").validate()
