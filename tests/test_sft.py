"""sdar sft: reply-only loss, both layouts, resume, LoRA, the small recipe's tokenizer, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from sdar_agent.cli import main as sdar_main
from sdar_agent.demos import expert_demos
from sdar_agent.policy import TinyConfig, build_tiny_policy, load_policy
from sdar_agent.sft import SFTConfig, SFTTrainer, build_samples, micro_batches, reply_loss
from sdar_agent.small import SmallConfig, build_small_policy, small_tokenizer


@pytest.fixture(scope="module")
def turns():
    return expert_demos("searchqa", "train", episodes=12).turns


def _config(tmp_path, **overrides) -> SFTConfig:
    values = dict(
        env="searchqa",
        model="tiny",
        batch_size=8,
        steps=4,
        lr=3e-3,
        warmup_ratio=0.0,
        eval_tasks=0,
        output_dir=str(tmp_path / "run"),
        progress=False,
        micro_batch_tokens=4096,
    )
    values.update(overrides)
    return SFTConfig(**values)


def test_the_loss_covers_the_reply_and_its_end_token_only(turns):
    policy = build_tiny_policy(TinyConfig())
    samples = build_samples(policy, turns[:4], "turn", 4096)
    for sample, turn in zip(samples, turns[:4], strict=True):
        target = [t for t, m in zip(sample.input_ids, sample.loss_mask, strict=True) if m]
        assert policy.tokenizer.decode(target) == turn.reply + "<|im_end|>"
        prompt = sample.input_ids[: sample.loss_mask.index(1)]
        assert policy.tokenizer.decode(prompt) == policy.chat_prompt(turn.messages)


def test_the_episode_layout_packs_each_episode_with_a_loss_on_every_assistant_turn(turns):
    policy = build_tiny_policy(TinyConfig())
    samples = build_samples(policy, turns, "episode", 4096)
    episodes = sorted({t.episode for t in turns})
    assert len(samples) == len(episodes)
    first = [t for t in turns if t.episode == episodes[0]]
    target = [t for t, m in zip(samples[0].input_ids, samples[0].loss_mask, strict=True) if m]
    assert policy.tokenizer.decode(target) == "".join(t.reply + "<|im_end|>" for t in first)
    text = policy.tokenizer.decode(samples[0].input_ids)
    assert text.startswith(policy.chat_prompt(first[0].messages)) and text.count("<|im_start|>user") == len(first)
    per_turn = build_samples(policy, turns, "turn", 4096)
    assert sum(len(s.input_ids) for s in samples) < sum(len(s.input_ids) for s in per_turn)


def test_micro_batches_keep_padded_tokens_within_the_budget(turns):
    policy = build_tiny_policy(TinyConfig())
    samples = build_samples(policy, turns, "turn", 4096)
    order = list(range(len(samples)))
    longest = max(len(s.input_ids) for s in samples)
    chunks = micro_batches(samples, order, 2 * longest)
    assert sorted(i for c in chunks for i in c) == order
    assert all(len(c) * max(len(samples[i].input_ids) for i in c) <= 2 * longest for c in chunks)


def test_sft_lowers_the_reply_loss_on_a_fixed_batch(tmp_path, turns):
    trainer = SFTTrainer(_config(tmp_path, steps=12), turns=turns)
    fixed = trainer.samples[:8]
    pad = trainer.policy.tokenizer.pad_token_id
    with torch.no_grad():
        before, count = reply_loss(trainer.model, fixed, pad, "cpu")
    history = trainer.fit()
    with torch.no_grad():
        after, _ = reply_loss(trainer.model, fixed, pad, "cpu")
    assert after / count < 0.8 * (before / count)
    assert [m["step"] for m in history] == list(range(1, 13))
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    reloaded = load_policy(str(tmp_path / "run" / "model"))
    with torch.no_grad():
        again, _ = reply_loss(reloaded.model, fixed, pad, "cpu")
    assert torch.allclose(again, after, rtol=1e-5)


def test_resume_continues_the_data_order_and_reaches_the_same_weights(tmp_path, turns):
    straight = SFTTrainer(_config(tmp_path / "a", steps=4), turns=turns)
    straight.fit()
    first = SFTTrainer(_config(tmp_path / "b", steps=4), turns=turns)
    for _ in range(2):  # a run stopped after its step-2 checkpoint
        first._log(first.train_step())
    first.save()
    resumed = SFTTrainer(_config(tmp_path / "b", steps=4, resume=True), turns=turns)
    resumed.fit()
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_lora_trains_adapters_only_and_saves_a_merged_model(tmp_path, turns):
    base = build_tiny_policy(TinyConfig())
    base.save(tmp_path / "base")
    trainer = SFTTrainer(_config(tmp_path, model=str(tmp_path / "base"), lora=True, lora_r=4, steps=2), turns=turns)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    trainer.fit()
    merged = load_policy(str(tmp_path / "run" / "model"))
    assert not any("lora" in n for n, _ in merged.model.named_parameters())
    changed = any(
        not torch.equal(p, q) for p, q in zip(base.model.parameters(), merged.model.parameters(), strict=True)
    )
    assert changed


def test_lora_run_evaluates_a_merged_copy_and_keeps_training_its_adapters(tmp_path, turns):
    base = build_tiny_policy(TinyConfig())
    base.save(tmp_path / "base")
    config = _config(
        tmp_path, model=str(tmp_path / "base"), lora=True, lora_r=4, steps=2, eval_tasks=1, eval_max_turns=1
    )
    trainer = SFTTrainer(config, turns=turns)
    history = trainer.fit()
    assert 0.0 <= history[-1]["eval/success"] <= 1.0 and "eval/invalid_rate" in history[-1]
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)  # the evaluation merged a copy, not the model
    assert trainer.model.training


def test_small_tokenizer_round_trips_shortens_env_text_and_is_cached(tmp_path, turns, monkeypatch):
    texts = [t.messages[0]["content"] for t in turns] + [t.reply for t in turns]
    import sdar_agent.small as small

    monkeypatch.setattr(small, "tokenizer_corpus", lambda: texts)
    config = SmallConfig(vocab_size=600, hidden_size=64, head_dim=32, num_layers=1)
    tokenizer = small_tokenizer(config, cache_dir=tmp_path)
    train = small._train_tokenizer
    monkeypatch.setattr(small, "_train_tokenizer", lambda *a: pytest.fail("the cached tokenizer must be reused"))
    again = small_tokenizer(config, cache_dir=tmp_path)
    assert again.get_vocab() == tokenizer.get_vocab()
    # Other training text (a changed prompt or reply) must not reuse the cached tokenizer: it is keyed by the text.
    changed = [*texts[:-1], texts[-1] + " (changed)"]
    monkeypatch.setattr(small, "tokenizer_corpus", lambda: changed)
    trained: list[int] = []
    monkeypatch.setattr(small, "_train_tokenizer", lambda c, t: trained.append(len(t)) or train(c, t))
    small_tokenizer(config, cache_dir=tmp_path)
    assert trained == [len(changed)] and len(list(tmp_path.glob("small-tokenizer-*"))) == 2
    assert config.tokenizer_key(texts) != config.tokenizer_key(changed)
    assert small.corpus_digest(["ab", "c"]) != small.corpus_digest(["a", "bc"])  # boundaries count
    byte_level = build_tiny_policy(TinyConfig()).tokenizer
    for text in texts[:10]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
        assert len(ids) < len(byte_level(text, add_special_tokens=False)["input_ids"])
    policy = build_small_policy(config, tokenizer)
    assert policy.model.config.head_dim == 32 and policy.stop_ids == [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def test_sdar_sft_rejects_a_bad_config_with_every_problem_named(capsys):
    assert sdar_main(["sft", "--layout", "rows", "--batch-size", "0", "--lr", "-1"]) == 2
    error = capsys.readouterr().err
    assert "layout must be 'turn' or 'episode'" in error and "batch_size" in error and "lr must be > 0" in error


def test_sdar_sft_runs_end_to_end_from_recorded_demos(tmp_path, capsys):
    out = tmp_path / "cli"
    code = sdar_main(
        [
            "sft",
            "--env",
            "searchqa",
            "--model",
            "tiny",
            "--episodes",
            "6",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--eval-tasks",
            "2",
            "--output-dir",
            str(out),
            "--progress",
            "false",
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 2 and "eval/success" in records[-1]
    assert (out / "demos.jsonl").is_file() and (out / "model" / "config.json").is_file()


def test_sdar_eval_passes_env_kwargs_to_the_env_and_refuses_non_objects(tmp_path, capsys):
    build_tiny_policy(TinyConfig()).save(tmp_path / "m")
    args = [
        "eval",
        "--model",
        str(tmp_path / "m"),
        "--env",
        "webshop",
        "--split",
        "test",
        "--num-tasks",
        "1",
        "--max-turns",
        "1",
        "--max-response-tokens",
        "4",
    ]
    assert sdar_main([*args, "--env-kwargs", '{"transport": "inproc"}']) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 1
    assert sdar_main([*args, "--env-kwargs", '["inproc"]']) == 2
    assert "--env-kwargs must be a JSON object" in capsys.readouterr().err


def test_the_optional_env_text_term_trains_on_prompt_tokens_and_is_logged(tmp_path, turns):
    from sdar_agent.sft import token_losses

    def env_loss_after(coef: float) -> tuple[float, dict]:
        trainer = SFTTrainer(_config(tmp_path / str(coef), steps=10, env_text_coef=coef), turns=turns)
        history = trainer.fit()
        with torch.no_grad():
            _, _, env_sum, env_count = token_losses(trainer.model, trainer.samples[:8], 0, "cpu")
        return float(env_sum) / env_count, history[-1]

    without, last_without = env_loss_after(0.0)
    with_term, last_with = env_loss_after(1.0)
    assert with_term < 0.95 * without
    assert "env_text_loss" in last_with and "env_text_loss" not in last_without


def test_resuming_with_a_setting_that_defines_the_run_is_refused_and_a_new_lr_is_applied(tmp_path, turns):
    from sdar_agent.checkpoints import ResumeError

    first = SFTTrainer(_config(tmp_path, steps=4), turns=turns)
    first._log(first.train_step())
    first.save()
    with pytest.raises(ResumeError, match="--layout"):
        SFTTrainer(_config(tmp_path, steps=4, layout="episode", resume=True), turns=turns).fit()
    resumed = SFTTrainer(_config(tmp_path, steps=4, lr=1e-4, resume=True), turns=turns)
    resumed.load()
    assert resumed.step == 1
    assert resumed.optimizer.param_groups[0]["initial_lr"] == 1e-4
