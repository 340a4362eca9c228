"""One GRPO step of the tiny model on the two-choice env, for the several-processes test (tests/test_multiprocess.py).

Run it plainly (one process) or under ``accelerate launch --multi_gpu --num_processes P`` (on a CPU machine the
trainer then uses accelerate's gloo backend). For each engine named on the command line it plays one step of
``--tasks`` tasks per process and updates once (``mini_batch_size=0``: the whole batch is one optimizer step; episode
returns are set by the episode's index in the step, so advantages are not all zero), and the main process writes
``OUT/<engine>.pt``: the gradient AdamW stepped with, the update (weights after minus before), every process's
replies keyed by (episode index in the whole step, turn), and each process's reply-token count.

    accelerate launch --multi_gpu --num_processes 2 tests/multiprocess_step.py OUT --tasks 2 --engines hf vllm
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # two_choice_env

import two_choice_env

from sdar_agent.config import TrainConfig
from sdar_agent.trainer import Trainer

GROUP_SIZE = 2


def run_step(out: Path, engine: str, tasks: int, seed: int = 4) -> dict:
    """One collect + update with ``engine``; returns (on every process) what the main process writes.

    With the default seed the two halves of a 2 x 2-task step have different reply-token counts with either engine
    (so a per-process loss normaliser would give a different gradient than the step-wide one).
    """
    from accelerate.utils import gather_object

    config = TrainConfig(
        env=two_choice_env.ENV_ID,
        model="tiny",
        steps=1,
        tasks_per_step=tasks,
        group_size=GROUP_SIZE,
        max_response_tokens=24,
        mini_batch_size=0,
        micro_batch_size=4,
        lr=1e-3,
        seed=seed,
        output_dir=str(out / f"run-{engine}"),
        progress=False,
        rollout_engine=engine,
        torch_threads=1,
    )
    trainer = Trainer(config)
    try:
        model = trainer.accelerator.unwrap_model(trainer.model)
        before = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
        names = {id(parameter): name for name, parameter in model.named_parameters()}
        gradients: dict[str, torch.Tensor] = {}

        def keep_gradients(optimizer, args, kwargs) -> None:  # the averaged, clipped gradient AdamW steps with
            for group in optimizer.param_groups:
                for parameter in group["params"]:
                    if parameter.grad is not None:
                        gradients[names[id(parameter)]] = parameter.grad.detach().clone()

        trainer.optimizer.optimizer.register_step_pre_hook(keep_gradients)
        batch = trainer.collect()
        first_episode = trainer.accelerator.process_index * tasks * GROUP_SIZE
        # The random tiny model's replies are all invalid, so every return is the same and every advantage 0: give
        # the episodes returns by their index in the whole step, so the policy-gradient term carries the update.
        for episode in batch.episodes:
            episode.return_ = float((first_episode + episode.episode_id) % 3)
        losses = trainer.update(batch)
        after = model.state_dict()
        replies = gather_object([((first_episode + s.episode_id, s.turn), list(s.response_ids)) for s in batch.samples])
        result = {
            "processes": trainer.accelerator.num_processes,
            "update": {name: after[name].detach() - before[name] for name in before},
            "gradient": gradients,
            "replies": dict(replies),
            "reply_tokens": gather_object([sum(len(s.response_ids) for s in batch.samples)]),
            "grad_norm": losses["grad_norm"],
            "engine": trainer.engine.name,
        }
        if trainer.accelerator.is_main_process:
            out.mkdir(parents=True, exist_ok=True)
            torch.save(result, out / f"{engine}.pt")
        trainer.accelerator.wait_for_everyone()
        return result
    finally:
        trainer.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tasks", type=int, required=True, help="tasks per process")
    parser.add_argument("--engines", nargs="+", default=["hf", "vllm"])
    args = parser.parse_args(argv)
    for engine in args.engines:
        run_step(args.out, engine, args.tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
