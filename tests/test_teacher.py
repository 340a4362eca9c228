"""The teacher (sdar_agent.teacher): its input (skill prefix, system placement, left truncation), its scores and
per-micro-batch logits, its choice of weights, its skill provider."""

from __future__ import annotations

import pytest
import torch
import two_choice_env

from sdar_agent.config import TrainConfig
from sdar_agent.policy import TinyConfig, build_tiny_policy
from sdar_agent.rollout import TurnSample
from sdar_agent.scoring import pad_samples, score_tokens
from sdar_agent.teacher import SkillProvider, Teacher, teacher_prompt_ids
from sdar_agent.trainer import Trainer
from sdar_envs.core import Task
from skillbank import SkillBank, render
from skillbank.render import PREFIX_HEADER, privileged_prefix

torch.set_num_threads(1)

_MESSAGES = [{"role": "user", "content": "Your task: heat some egg and put it in countertop.\n\nObservation: x"}]
_TASK = Task(
    id="t1",
    env="alfworld",
    split="train",
    instruction="heat some egg and put it in countertop.",
    task_type="pick_heat_then_place_in_recep",
)


def _policy():
    return build_tiny_policy(TinyConfig(seed=3))


def test_teacher_prompt_is_the_raw_skill_prefix_then_the_chat_templated_student_prompt():
    policy = _policy()
    [ids] = teacher_prompt_ids(policy, [_MESSAGES], ["## Skill 1: heat\nPrinciple: use the microwave"], 10_000)
    expected = (
        "[Privileged Skill Information]\n## Skill 1: heat\nPrinciple: use the microwave\n\n"
        + "<|im_start|>user\n"
        + _MESSAGES[0]["content"]
        + "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert policy.tokenizer.decode(ids) == expected
    assert ids == policy.encode(expected)


def test_system_placement_puts_the_skills_in_a_system_message():
    policy = _policy()
    [ids] = teacher_prompt_ids(policy, [_MESSAGES], ["tip"], 10_000, placement="system")
    text = policy.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\n[Privileged Skill Information]\ntip<|im_end|>\n<|im_start|>user\n")


def test_system_placement_keeps_a_templates_default_system_text_after_the_skills():
    policy = _policy()
    default = "You are a helpful assistant."
    policy.tokenizer.chat_template = (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
        + default
        + "<|im_end|>\\n' }}{% endif %}"
        + policy.tokenizer.chat_template
    )
    [ids] = teacher_prompt_ids(policy, [_MESSAGES], ["tip"], 10_000, placement="system")
    expected = f"<|im_start|>system\n[Privileged Skill Information]\ntip\n\n{default}<|im_end|>\n<|im_start|>user\n"
    assert policy.tokenizer.decode(ids).startswith(expected)
    assert policy.chat_prompt(_MESSAGES).startswith(f"<|im_start|>system\n{default}<|im_end|>\n<|im_start|>user\n")


def test_no_skill_text_gives_the_student_prompt_unchanged():
    policy = _policy()
    [ids] = teacher_prompt_ids(policy, [_MESSAGES], [""], 10_000)
    assert ids == policy.encode(policy.chat_prompt(_MESSAGES))
    assert privileged_prefix("") == ""


def test_provider_text_with_the_header_equals_the_skillbank_rendering_and_is_fixed_within_a_step():
    bank = SkillBank(seed=0)
    provider = SkillProvider(bank, "random", k=2)
    body = provider(_TASK)
    ids, same_body = provider.retrieve(_TASK)
    assert same_body == body and len(ids) == 2
    assert privileged_prefix(body) == render([bank.skill(i) for i in ids])
    assert privileged_prefix(body).startswith(PREFIX_HEADER + "## Skill 1: ")
    assert all(provider(_TASK) == body for _ in range(5))  # same skills for every turn and episode of the step


def test_ucb_provider_credits_each_episode_outcome_to_the_retrieved_skills():
    bank = SkillBank(seed=0)
    provider = SkillProvider(bank, "ucb", k=2)
    ids, _ = provider.retrieve(_TASK)
    telemetry = provider.credit([(_TASK, 1.0), (_TASK, 0.0), (_TASK, 1.0)])
    assert telemetry["skills/retrieved"] == {i: 3 for i in sorted(ids)}
    assert telemetry["skills/per_episode"] == 2.0
    [(context, stats)] = telemetry["skills/ucb"].items()
    assert context == "alfworld/pick_heat_then_place_in_recep"
    assert {arm: value for arm, value in stats.items()} == {i: [3, 2 / 3] for i in sorted(ids)}
    other = Task(id="t2", env="alfworld", split="train", instruction="heat a mug", task_type=_TASK.task_type)
    assert provider.credit([(other, 1.0)]) == {}  # never retrieved this step: nothing credited


def test_left_truncation_keeps_the_response_scoring_aligned():
    policy = _policy()
    body = "long skill text " * 40
    limit = 48
    full = teacher_prompt_ids(policy, [_MESSAGES], [body], 100_000)[0]
    cut = teacher_prompt_ids(policy, [_MESSAGES, _MESSAGES], [body, ""], limit)
    assert len(full) > limit and cut[0] == full[-limit:]
    assert not policy.tokenizer.decode(cut[0]).startswith(PREFIX_HEADER)  # the header goes first
    responses = [policy.encode("<think>a</think><action>look</action><|im_end|>"), policy.encode("<action>x")]
    # A batch of unequal prompt/response lengths scores each response exactly as the row alone does.
    rows = pad_samples(cut, responses, policy.tokenizer.pad_token_id)
    with torch.no_grad():
        batch = score_tokens(policy.model, rows, with_entropy=False).logp
        for row, (prompt, response) in enumerate(zip(cut, responses, strict=True)):
            alone = score_tokens(policy.model, pad_samples([prompt], [response], 0), with_entropy=False).logp[0]
            torch.testing.assert_close(batch[row, : len(response)], alone, rtol=1e-5, atol=1e-5)
    assert rows.response_ids[0, : len(responses[0])].tolist() == responses[0]


def _samples(policy) -> list[TurnSample]:
    replies = ["<think>a</think><action>look</action><|im_end|>", "<action>x"]
    return [
        TurnSample(
            prompt_ids=policy.encode(policy.chat_prompt(_MESSAGES)),
            response_ids=policy.encode(reply),
            old_logp=None,
            episode_id=i,
            group_id=0,
            turn=0,
            task=_TASK,
            messages=_MESSAGES,
            prompt_text=policy.chat_prompt(_MESSAGES),
            response_text=reply,
            action="look",
            valid=True,
            reward=0.0,
        )
        for i, reply in enumerate(replies)
    ]


@pytest.mark.parametrize("optimizer_steps", [1, 2])
def test_teacher_logits_come_from_the_live_weights_for_one_step_and_a_frozen_copy_for_several(optimizer_steps):
    policy = _policy()
    samples = _samples(policy)
    teacher = Teacher(policy, lambda task: "use the microwave " * 8, needs_logits=True, max_prompt_tokens=10_000)
    batch = teacher.prepare(policy.model, samples, optimizer_steps=optimizer_steps)
    assert batch.logp is None and batch.prompts == teacher.prompts(samples)
    assert (batch.model is policy.model) == (optimizer_steps == 1)
    if optimizer_steps > 1:
        assert not batch.model.training and not any(p.requires_grad for p in batch.model.parameters())
    width = max(len(s.response_ids) for s in samples)
    logp, logits = teacher.micro_batch(batch, [1, 0], width)
    assert logp.shape == (2, width) and logits.shape == (2, width, policy.model.config.vocab_size)
    scores = teacher.scores(policy.model, samples, batch.prompts)
    for row, i in enumerate([1, 0]):  # the per-micro-batch pass gives the sampled-token scores too
        n = len(samples[i].response_ids)
        torch.testing.assert_close(logp[row, :n], scores[i], rtol=1e-5, atol=1e-5)


def test_sampled_token_teachers_score_once_and_pad_per_micro_batch():
    policy = _policy()
    samples = _samples(policy)
    teacher = Teacher(policy, lambda task: "use the microwave", max_prompt_tokens=10_000)
    batch = teacher.prepare(policy.model, samples, optimizer_steps=3)
    assert batch.model is None and batch.logp is not None and batch.seconds > 0
    width = max(len(s.response_ids) for s in samples) + 2
    logp, logits = teacher.micro_batch(batch, [1], width)
    assert logits is None and logp.shape == (1, width)
    n = len(samples[1].response_ids)
    assert torch.equal(logp[0, :n], batch.logp[1]) and not logp[0, n:].any()
    assert teacher.metrics(batch)["teacher/truncated_frac"] == 0.0


def _trainer(tmp_path, **overrides) -> Trainer:
    values = dict(
        env=two_choice_env.ENV_ID,
        method="sdar",
        model="tiny",
        steps=1,
        tasks_per_step=2,
        group_size=2,
        max_response_tokens=6,
        max_prompt_tokens=1024,
        mini_batch_size=4,
        micro_batch_size=2,
        lr=1e-3,
        output_dir=str(tmp_path / "run"),
        progress=False,
        torch_threads=1,
    )
    values.update(overrides)
    return Trainer(TrainConfig(**values), skills=lambda task: f"the answer is {task.metadata['correct']} " * 8)


def test_teacher_scores_the_student_response_tokens_without_gradient(tmp_path):
    trainer = _trainer(tmp_path)
    try:
        batch = trainer.collect()
        assert trainer.teacher is not None and not trainer.teacher.needs_logits
        prompts = trainer.teacher.prompts(batch.samples)
        scores = trainer.teacher.scores(trainer.accelerator.unwrap_model(trainer.model), batch.samples, prompts)
        assert all(p.grad is None for p in trainer.model.parameters())
        for sample, prompt, logp in zip(batch.samples, prompts, scores, strict=True):
            assert not logp.requires_grad and logp.shape == (len(sample.response_ids),)
            text = trainer.policy.tokenizer.decode(prompt)
            assert text == PREFIX_HEADER + trainer.skills(sample.task) + "\n\n" + sample.prompt_text
            assert len(prompt) > len(sample.prompt_ids)
            alone = pad_samples([prompt], [sample.response_ids], trainer.policy.tokenizer.pad_token_id)
            with torch.no_grad():
                direct = score_tokens(trainer.model, alone, with_entropy=False).logp[0]
            torch.testing.assert_close(logp, direct, rtol=1e-5, atol=1e-5)
        # the skills change the teacher's view of the same tokens
        assert any(not torch.allclose(t, s.old_logp) for t, s in zip(scores, batch.samples, strict=True))
    finally:
        trainer.close()


def test_the_teacher_branch_leaves_the_gate_and_teacher_without_gradient_during_the_update(tmp_path):
    trainer = _trainer(tmp_path, max_prompt_tokens=96)
    seen: list[bool] = []
    original = trainer.teacher.scores

    def spy(model, samples, prompts, device=None):
        out = original(model, samples, prompts, device)
        seen.extend(t.requires_grad for t in out)
        return out

    trainer.teacher.scores = spy  # type: ignore[method-assign]
    try:
        with pytest.warns(UserWarning, match="of the teacher prompts reached max_prompt_tokens=96"):
            metrics = trainer.train_step()
    finally:
        trainer.close()
    assert metrics["teacher/truncated_frac"] == 1.0  # 96 tokens: the skills are cut off, as the warning says
    assert seen and not any(seen)
    assert 0 < metrics["sdar/gate_mean"] < 1 and metrics["time/teacher"] > 0


@pytest.mark.parametrize(
    ("divergence", "top_k", "mini_batch_size"),
    [("jsd", 8, 2), ("forward_kl", None, 0)],
)
def test_vocabulary_divergence_gets_teacher_logits_per_micro_batch_from_the_pre_update_weights(
    tmp_path, divergence, top_k, mini_batch_size
):
    # With two mini-batches the second must still be distilled towards the weights that sampled (a frozen
    # snapshot); with one optimizer step the live weights are still the pre-update ones.
    trainer = _trainer(
        tmp_path, divergence=divergence, divergence_top_k=top_k, gate="none", mini_batch_size=mini_batch_size
    )
    calls: list[tuple[int, bool]] = []
    import sdar_agent.teacher as teacher_module

    real = teacher_module.score_tokens

    def spy(model, rows, **kwargs):
        if kwargs.get("with_logits") and not kwargs.get("with_entropy", True):
            calls.append((rows.input_ids.shape[0], model is trainer.accelerator.unwrap_model(trainer.model)))
        return real(model, rows, **kwargs)

    teacher_module.score_tokens = spy
    try:
        metrics = trainer.train_step()
    finally:
        teacher_module.score_tokens = real
        trainer.close()
    assert trainer.spec.divergence == divergence and trainer.spec.divergence_top_k == top_k
    assert trainer.teacher is not None and trainer.teacher.needs_logits
    assert calls and all(size <= 2 and is_live == (mini_batch_size == 0) for size, is_live in calls)
    assert metrics["sdar/loss"] >= 0 and metrics["grad_norm"] > 0
    if divergence == "jsd":
        assert metrics["sdar/loss"] <= 0.6932  # ln 2


def test_token_budget_micro_batches_give_the_same_scores_in_input_order():
    from sdar_agent.scoring import _token_budget_groups, score_samples

    assert _token_budget_groups([5, 30, 10, 12, 40], max_rows=3, max_tokens=36) == [[0, 2, 3], [1], [4]]
    policy = _policy()
    prompts = [list(range(3, 3 + n)) for n in (40, 7, 90, 12, 65)]
    responses = [[7, 8, 9][: 1 + i % 3] for i in range(5)]
    plain = score_samples(policy.model, prompts, responses, 0, micro_batch_size=2)
    budget = score_samples(policy.model, prompts, responses, 0, micro_batch_size=2, max_tokens=100)
    for a, b, response in zip(plain, budget, responses, strict=True):
        assert a.shape == b.shape == (len(response),)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_shared_prefix_clusters_group_by_key_and_leading_tokens():
    from sdar_agent.scoring import shared_prefix_clusters

    head = list(range(10, 110))  # 100 tokens
    prompts = [
        [*head, 1, 2],  # 0  key a
        [*head, 3],  # 1  key a
        [*head[:70], 9, 9, 9],  # 2  key a: shares 70
        [*head, 4, 5, 6],  # 3  key b: another key, alone
        list(range(500, 600)),  # 4  key a: nothing shared
        [*head[5:], 1],  # 5  key a: left-truncated copy, shares nothing
    ]
    clusters = shared_prefix_clusters(prompts, ["a", "a", "a", "b", "a", "a"], min_shared=64)
    assert sorted(clusters) == sorted([([0, 1, 2], 70), ([3], 0), ([4], 0), ([5], 0)])
    # the shared part stops one token short of the shortest member, so every reply is predicted past the cache
    assert shared_prefix_clusters([head, [*head, 7]], ["a", "a"], 64) == [([0, 1], 99)]
    assert shared_prefix_clusters([head, head], ["a", "a"], 100) == [([0], 0), ([1], 0)]


@pytest.mark.parametrize("max_tokens", [None, 60])
def test_shared_prefix_scoring_equals_scoring_each_sample_whole(max_tokens):
    from sdar_agent.scoring import score_samples

    policy = _policy()
    generator = torch.Generator().manual_seed(1)

    def draw(n: int) -> list[int]:
        return torch.randint(5, 500, (n,), generator=generator).tolist()

    skills_a, skills_b = draw(300), draw(120)
    prompts = [skills_a + draw(1 + 4 * i) for i in range(6)] + [skills_b + draw(9), skills_b + draw(2), draw(50)]
    responses = [draw(1 + (7 * i) % 19) for i in range(len(prompts))]
    keys = ["a"] * 6 + ["b", "b", "c"]
    plain = score_samples(policy.model, prompts, responses, 0, micro_batch_size=4)
    shared = score_samples(
        policy.model, prompts, responses, 0, micro_batch_size=4, max_tokens=max_tokens, prefix_groups=keys
    )
    for a, b, response in zip(plain, shared, responses, strict=True):
        assert b.shape == (len(response),) and not b.requires_grad
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="prefix groups"):
        score_samples(policy.model, prompts, responses, 0, prefix_groups=keys[:2])
