"""Several training processes (``accelerate launch``, gloo on CPU) take the step one process takes with all the tasks,
with the HF engine and with one colocated vLLM engine per process (sdar_agent.trainer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import multiprocess_step
import pytest
import torch
from requires_vllm import requires_vllm

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("hf", "vllm")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@requires_vllm
def test_two_processes_with_n_tasks_each_take_the_step_of_one_process_with_2n_tasks(tmp_path):
    launch = [
        *(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"),
        *("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"),
        *("--main_process_port", str(_free_port())),
        str(ROOT / "tests" / "multiprocess_step.py"),
        *(str(tmp_path / "two"), "--tasks", "2", "--engines", *ENGINES),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]

    for engine in ENGINES:
        one = multiprocess_step.run_step(tmp_path / "one", engine, tasks=4)
        two = torch.load(tmp_path / "two" / f"{engine}.pt")
        assert (one["processes"], two["processes"]) == (1, 2) and one["engine"] == two["engine"] == engine
        # the same 8 episodes x 3 turns, reply for reply, whichever process played them
        assert len(two["replies"]) == 24 and two["replies"] == one["replies"]
        # the processes had different reply-token counts: per-process normalisers would change the gradient
        assert len(set(two["reply_tokens"])) == 2 and sum(two["reply_tokens"]) == one["reply_tokens"][0]
        for name, gradient in one["gradient"].items():
            torch.testing.assert_close(two["gradient"][name], gradient, rtol=1e-4, atol=1e-7, msg=name)
        # AdamW's first step is about lr x sign(gradient): float noise in near-zero gradient entries can move a few
        # entries of the update by a fraction of lr (1e-3), so the update is compared at 5% of lr
        for name, update in one["update"].items():
            torch.testing.assert_close(two["update"][name], update, rtol=0, atol=5e-5, msg=name)
        assert max(float(u.abs().max()) for u in one["update"].values()) > 5e-4
