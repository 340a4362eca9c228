"""Regenerate ``benchmarks/RESULTS.md``: env speed, retrieval, trainer step times, and the per-topic results.

``python benchmarks/results_page.py`` (or ``make results``) measures, on this machine:

* **env speed**: reset and step latency (median, p95, ms) and steps/s of each env and transport (Search-QA over its
  local index; WebShop in process and over HTTP to its loopback server; ALFWorld on the native and the TextWorld
  engine). The agent plays the env's expert action 70% of the time and a random action otherwise (uniform over the
  admissible actions, or a random well-formed action in free-text envs), resetting at each episode end;
* **retrieval**: index build time and single-query queries/s of every available backend on the Search-QA generator
  corpus, plus the loopback HTTP retrieval server;
* **trainer**: per-step time of rollout, teacher scoring, reference scoring and update, rollout and update tokens/s
  and peak resident memory of `sdar train` with the tiny model on CPU, GRPO and SDAR (each in its own process);

then collects the command and machine of every committed ``benchmarks/results/*.md`` and links the quick
leaderboard. Every figure names the command that reproduces it and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sdar_agent.leaderboard import machine_description
from sdar_envs.agents import NoisyExpertAgent

ROOT = Path(__file__).resolve().parents[1]

COMMAND = "python benchmarks/results_page.py"

#: (env short name, Gymnasium id, keyword arguments, transport label).
ENV_CASES: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("searchqa", "sdar/SearchQA-v0", {"split": "test"}, "in process, local tantivy index"),
    ("webshop", "sdar/WebShop-v0", {"split": "test_128", "transport": "inproc"}, "in process"),
    ("webshop", "sdar/WebShop-v0", {"split": "test_128", "transport": "http"}, "HTTP, loopback server"),
    ("alfworld", "sdar/ALFWorld-v0", {"engine": "native"}, "native engine"),
    ("alfworld", "sdar/ALFWorld-v0", {"engine": "textworld"}, "TextWorld engine"),
)
_ALFWORLD_SPLITS = ("eval_out_of_distribution", "eval_in_distribution", "train")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ------------------------------------------------------------------------------------------------ env speed
def measure_env(env_id: str, kwargs: dict[str, Any], *, steps: int, seconds: float) -> dict[str, Any]:
    """Play up to ``steps`` steps (or ``seconds`` of stepping) with :class:`~sdar_envs.agents.NoisyExpertAgent`
    (expert 70% of the time, seed 0) and time every reset and step.

    One untimed warm-up episode comes first (lazy index builds, server start, first engine load are counted in
    ``make_s`` instead)."""
    import gymnasium as gym

    import sdar_envs  # noqa: F401

    agent = NoisyExpertAgent(0.7, seed=0)
    started = time.perf_counter()
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=10_000)
    for _ in range(20):
        obs, _, terminated, truncated, info = env.step(info.get("expert_action") or "look")
        if terminated or truncated:
            break
    make_s = time.perf_counter() - started
    resets: list[float] = []
    step_times: list[float] = []
    episodes = 0
    try:
        while len(step_times) < steps and sum(step_times) < seconds:
            t = time.perf_counter()
            obs, info = env.reset(seed=episodes)
            resets.append(time.perf_counter() - t)
            agent.reset(obs, info)
            episodes += 1
            while len(step_times) < steps:
                action = agent.act(obs, info)
                t = time.perf_counter()
                obs, _, terminated, truncated, info = env.step(action)
                step_times.append(time.perf_counter() - t)
                if terminated or truncated:
                    break
    finally:
        env.close()
    return {
        "make_s": make_s,
        "resets": len(resets),
        "steps": len(step_times),
        "reset_median_ms": 1000 * statistics.median(resets),
        "reset_p95_ms": 1000 * percentile(resets, 0.95),
        "step_median_ms": 1000 * statistics.median(step_times),
        "step_p95_ms": 1000 * percentile(step_times, 0.95),
        "steps_per_s": len(step_times) / sum(step_times),
        "steps_per_s_with_resets": len(step_times) / (sum(step_times) + sum(resets)),
    }


def env_speed(steps: int, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for name, env_id, kwargs, transport in ENV_CASES:
        kwargs = dict(kwargs)
        tried: list[str] = []
        if name == "alfworld":
            for split in _ALFWORLD_SPLITS:
                kwargs["split"] = split
                try:
                    row = measure_env(env_id, kwargs, steps=steps, seconds=seconds)
                    break
                except FileNotFoundError as error:
                    tried.append(str(error).splitlines()[0])
            else:
                rows.append({"env": name, "transport": transport, "error": "; ".join(tried)[:300]})
                continue
        else:
            try:
                row = measure_env(env_id, kwargs, steps=steps, seconds=seconds)
            except (FileNotFoundError, ImportError, OSError) as error:
                rows.append({"env": name, "transport": transport, "error": str(error).splitlines()[0][:300]})
                continue
        row.update({"env": name, "transport": transport, "split": kwargs["split"]})
        rows.append(row)
        print(f"env speed {name} ({transport}): {row['steps_per_s']:.0f} steps/s", file=sys.stderr)
    return rows


# ------------------------------------------------------------------------------------------------ retrieval
def retrieval_speed(passages: int, queries: int) -> dict[str, Any]:
    """Build time and queries/s of each available backend on the Search-QA generator corpus; loopback server."""
    from sdar_envs.retrieval import HTTPRetriever, available_backends, build_index
    from sdar_envs.retrieval.server import serve_in_thread
    from sdar_envs.searchqa.generator import generate

    data = generate(seed=0, num_passages=passages)
    docs = list(data.corpus)
    splits = ("test", "validation", "train")
    questions = [r["question"] for split in splits for r in data.questions[split]][:queries]
    rows = []
    for backend in available_backends():
        started = time.perf_counter()
        index = build_index(docs, backend)
        build_s = time.perf_counter() - started
        for q in questions[:100]:
            index.search(q, 3)
        started = time.perf_counter()
        for q in questions:
            index.search(q, 3)
        single = len(questions) / (time.perf_counter() - started)
        rows.append({"backend": backend, "build_s": build_s, "qps": single})
        print(f"retrieval {backend}: build {build_s:.2f} s, {single:.0f} q/s", file=sys.stderr)
        del index
    index = build_index(docs)
    server, url = serve_in_thread(index, dict(docs))
    try:
        client = HTTPRetriever(url, timeout=30, retries=0)
        for q in questions[:50]:
            client.search_documents(q, 3)
        started = time.perf_counter()
        for q in questions:
            client.search_documents(q, 3)
        http_qps = len(questions) / (time.perf_counter() - started)
    finally:
        server.shutdown()
        server.server_close()
    return {"passages": len(docs), "queries": len(questions), "backends": rows, "http_qps": http_qps}


# -------------------------------------------------------------------------------------------------- trainer
def trainer_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Train ``spec["steps"]`` steps in this process and return the mean per-step breakdown of steps 2.. and the
    peak RSS. Teacher and reference scoring times are the trainer's own ``time/teacher`` and ``time/reference``
    metrics (both inside ``time/update``)."""
    import torch

    import sdar_agent.trainer as trainer_module
    from sdar_agent.config import TrainConfig
    from sdar_agent.methods import get_method
    from skillbank import SkillBank
    from skillbank.render import render_body

    torch.set_num_threads(1)
    method = get_method(spec["method"])
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(
            env=spec["env"],
            method=spec["method"],
            model="tiny",
            steps=spec["steps"],
            tasks_per_step=spec["tasks"],
            group_size=spec["group"],
            max_response_tokens=spec["reply_tokens"],
            max_turns=spec.get("max_turns"),
            mini_batch_size=0,
            output_dir=out,
            progress=False,
        )
        bank = SkillBank()
        trainer = trainer_module.Trainer(
            config, skills=(lambda task: render_body(bank.retrieve(task))) if method.use_teacher else None
        )
        rows = []
        try:
            for _ in range(config.steps):
                metrics = trainer.train_step()
                ref_s = float(metrics.get("time/reference", 0.0))
                teacher_s = float(metrics.get("time/teacher", 0.0))
                rows.append(
                    {
                        "rollout_s": metrics["time/rollout"],
                        "teacher_s": teacher_s,
                        "reference_s": ref_s,
                        "update_s": metrics["time/update"] - teacher_s - ref_s,
                        "rollout_tokens_per_s": metrics["rollout_tokens_per_s"],
                        "update_tokens_per_s": metrics["update_tokens_per_s"],
                        "samples": metrics["samples"],
                    }
                )
        finally:
            trainer.close()
    measured = rows[1:] or rows
    result = {key: statistics.mean(r[key] for r in measured) for key in measured[0]}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["params"] = sum(p.numel() for p in trainer.model.parameters())
    return result


def trainer_speed(envs: list[str], methods: list[str], spec: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for env in envs:
        for method in methods:
            job = dict(spec, env=env, method=method)
            process = subprocess.run(
                [sys.executable, __file__, "--trainer-worker", json.dumps(job)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if process.returncode != 0:
                rows.append({"env": env, "method": method, "error": process.stderr.strip().splitlines()[-1][:300]})
                continue
            row = json.loads(process.stdout.strip().splitlines()[-1])
            row.update({"env": env, "method": method})
            rows.append(row)
            print(f"trainer {method} {env}: rollout {row['rollout_s']:.2f} s", file=sys.stderr)
    return rows


# ------------------------------------------------------------------------------------------------- collect
def collect_results(results_dir: Path) -> list[dict[str, str]]:
    """Title, commands and machine line of every per-topic result file (leaderboard files aside)."""
    found = []
    for path in sorted(results_dir.glob("*.md")):
        if path.name.startswith("leaderboard"):
            continue
        text = path.read_text()
        title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), path.stem)
        commands = re.findall(r"`((?:\.venv/bin/)?python[^`]*|sdar[^`]*)`", text)
        blocks = re.findall(r"```[a-z]*\n((?:\.venv/bin/)?python[^\n]*)\n", text)
        machine = next((line for line in text.splitlines() if line.lower().startswith("machine")), "")
        found.append(
            {
                "file": path.name,
                "title": title,
                "commands": list(dict.fromkeys(blocks + commands))[:3],
                "machine": machine.split(":", 1)[-1].strip()[:200],
            }
        )
    return found


# -------------------------------------------------------------------------------------------------- render
def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def render(data: dict[str, Any]) -> str:
    machine = data["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Regenerate everything on this page with `{data['command']}` (`make results`); it wrote this page in "
        f"{data['wall_s']:.0f} s on {data['date']}.",
        "",
        f"Machine for every figure measured here: {machine}; load average at the start {data['load_start']} and "
        f"at the end {data['load_end']} (the machine is shared, so latency-bound figures vary by tens of percent "
        "between runs).",
        "",
        "## Leaderboard",
        "",
    ]
    quick = ROOT / "benchmarks" / "results" / "leaderboard_quick.md"
    if quick.is_file():
        text = quick.read_text()
        command = re.search(r"Command: `([^`]*)`", text)
        wall = re.search(r"wall time[^0-9]*([0-9]+) s", text)
        lines += [
            "The quick leaderboard (`make demo`: tiny GRPO and SDAR runs, evaluated next to the random, expert, "
            "zero-shot and zero-shot+skills agents on small eval subsets) is in "
            "[results/leaderboard_quick.md](results/leaderboard_quick.md) with its figure "
            "[results/leaderboard_quick.png](results/leaderboard_quick.png).",
            f"Command: `{command.group(1) if command else 'python benchmarks/leaderboard.py --quick'}`"
            + (f"; wall time {wall.group(1)} s as recorded in that file." if wall else "."),
            "",
        ]
    else:
        lines += ["No leaderboard committed yet: run `python benchmarks/leaderboard.py --quick`.", ""]

    speed = data["env_speed"]
    lines += [
        "## Env speed",
        "",
        f"Command: `{data['command']}` (section `env speed`: up to {data['settings']['env_steps']} steps or "
        f"{data['settings']['env_seconds']:.0f} s of stepping per row). Agent: the expert's action with probability "
        "0.7, else a random action; a reset after each episode end. Latencies in ms; steps/s counts step time only, "
        "the last column includes the resets.",
        "",
        "| env | transport | split | make + warm-up (s) | reset median | reset p95 | step median | step p95 | "
        "steps/s | steps/s incl. resets | steps / resets |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in speed:
        if "error" in row:
            lines.append(f"| {row['env']} | {row['transport']} | - | not measured: {row['error']} |||||||")
            continue
        lines.append(
            f"| {row['env']} | {row['transport']} | {row['split']} | {_fmt(row['make_s'])} | "
            f"{_fmt(row['reset_median_ms'])} | {_fmt(row['reset_p95_ms'])} | {_fmt(row['step_median_ms'], 3)} | "
            f"{_fmt(row['step_p95_ms'], 3)} | {_fmt(row['steps_per_s'], 0)} | "
            f"{_fmt(row['steps_per_s_with_resets'], 0)} | {row['steps']} / {row['resets']} |"
        )
    retrieval = data["retrieval"]
    lines += [
        "",
        "## Retrieval",
        "",
        f"Command: `{data['command']}` (section `retrieval`). Corpus: the Search-QA generator "
        f"(`generate(seed=0, num_passages={data['settings']['passages']})`, {retrieval['passages']} passages); "
        f"the first {retrieval['queries']} questions of test, validation and train, k=3, one query per call after "
        "100 warm-up queries, one thread; build = analysis + indexing in memory/a temporary directory.",
        "",
        "| backend | index build (s) | queries/s |",
        "|---|---|---|",
    ]
    for row in retrieval["backends"]:
        lines.append(f"| {row['backend']} | {_fmt(row['build_s'])} | {_fmt(row['qps'], 0)} |")
    lines.append(f"| HTTP server on loopback (default backend) | - | {_fmt(retrieval['http_qps'], 0)} |")
    lines.append("")
    lines.append(
        "Larger corpora (50k passages, recall and top-10 agreement) are in [results/retrieval.md]"
        "(results/retrieval.md)."
    )
    trainer = data["trainer"]
    spec = data["settings"]["trainer"]
    lines += [
        "",
        "## Trainer",
        "",
        f"Command: `{data['command']}` (section `trainer`). `sdar train --model tiny` (random-init Qwen3, hidden 64, "
        f"2 layers, {trainer[0].get('params', 0):,} parameters) on CPU with 1 torch thread, {spec['steps']} steps of "
        f"{spec['tasks']} tasks x {spec['group']} rollouts, replies up to {spec['reply_tokens']} tokens, one "
        f"optimizer step per batch, episodes cut at {spec['max_turns']} turns; seconds per step, mean of steps 2 "
        "onwards (step 1 pays one-off costs). Teacher = scoring the reply tokens "
        "with the skills prepended (SDAR; every relevant keyword-retrieved skill); reference = the frozen initial "
        "policy for the KL term; update = the "
        "rest of the update (forward/backward/optimizer). Update tokens/s is the trainer's own metric (prompt + "
        "reply tokens over the whole update, teacher and reference scoring included). Peak memory = peak resident "
        "set of the training process.",
        "",
        "| env | method | turn-samples / step | rollout (s) | teacher (s) | reference (s) | update (s) | "
        "rollout tokens/s | update tokens/s | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in trainer:
        if "error" in row:
            lines.append(f"| {row['env']} | {row['method']} | not measured: {row['error']} ||||||||")
            continue
        lines.append(
            f"| {row['env']} | {row['method']} | {row['samples']:.0f} | {_fmt(row['rollout_s'])} | "
            f"{_fmt(row['teacher_s'])} | {_fmt(row['reference_s'])} | {_fmt(row['update_s'])} | "
            f"{_fmt(row['rollout_tokens_per_s'], 0)} | {_fmt(row['update_tokens_per_s'], 0)} | "
            f"{_fmt(row['peak_rss_mb'], 0)} |"
        )
    lines += [
        "",
        _gpu_line(),
        "",
        "## Per-topic results",
        "",
        "Each file holds its own figures, the command that produced them and the machine.",
        "",
        "| file | topic | command | machine |",
        "|---|---|---|---|",
    ]
    for item in data["collected"]:
        commands = "<br>".join(f"`{c}`" for c in item["commands"]) or "(in the file)"
        lines.append(
            f"| [{item['file']}](results/{item['file']}) | {item['title']} | {commands} | {item['machine'] or '-'} |"
        )
    return "\n".join(lines) + "\n"


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _gpu_line() -> str:
    """One line on the GPU check, from the committed ``results/trainer_gpu_check.md`` when it exists."""
    path = ROOT / "benchmarks" / "results" / "trainer_gpu_check.md"
    if not path.exists():
        return (
            "GPU: no GPU check has been run yet; `benchmarks/gpu_check_trainer.py` (Qwen2.5-0.5B shapes, WebShop "
            "16 x 8) prints rollout tokens/s, update tokens/s and peak GPU memory when one is."
        )
    text = path.read_text()
    device = re.search(r"Device: ([^;]+);", text)
    rows = re.findall(r"^\| (\d+) \| (\d+) \| [\d.]+ \| (\d+) \| [\d.]+ \| (\d+) \|$", text, flags=re.M)
    peak = re.search(r"Peak GPU memory: ([\d.]+) GiB", text)
    if not (device and rows and peak):
        return "GPU: see `benchmarks/results/trainer_gpu_check.md`."
    _, samples, rollout, update = rows[-1]
    return (
        f"GPU ({device.group(1)}, `benchmarks/gpu_check_trainer.py`, Qwen2.5-0.5B shapes, GRPO on WebShop, {samples} "
        f"turn-samples per step, last step): rollout {int(rollout):,} reply tokens/s, update {int(update):,} tokens/s, "
        f"peak GPU memory {peak.group(1)} GiB (`benchmarks/results/trainer_gpu_check.md`); SDAR vs GRPO step time on "
        "a GPU: `benchmarks/results/sdar_step.md`."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"), help="page to write")
    parser.add_argument("--env-steps", type=int, default=2000, help="steps per env speed row (at most)")
    parser.add_argument("--env-seconds", type=float, default=10.0, help="seconds of stepping per env speed row")
    parser.add_argument("--passages", type=int, default=10000, help="Search-QA corpus size for retrieval")
    parser.add_argument("--queries", type=int, default=1000, help="retrieval queries per backend")
    parser.add_argument("--trainer-envs", nargs="*", default=["searchqa", "webshop"], help="envs of the trainer rows")
    parser.add_argument("--trainer-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trainer_worker:
        print(json.dumps(trainer_worker(json.loads(args.trainer_worker))))
        return 0
    started = time.perf_counter()
    load_start = _load()
    trainer_spec = {"steps": 2, "tasks": 2, "group": 4, "reply_tokens": 64, "max_turns": 4}
    data: dict[str, Any] = {
        "command": COMMAND,
        "machine": machine_description(),
        "load_start": load_start,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {
            "env_steps": args.env_steps,
            "env_seconds": args.env_seconds,
            "passages": args.passages,
            "trainer": trainer_spec,
        },
    }
    sections: list[tuple[str, Callable[[], Any]]] = [
        ("env_speed", lambda: env_speed(args.env_steps, args.env_seconds)),
        ("retrieval", lambda: retrieval_speed(args.passages, args.queries)),
        ("trainer", lambda: trainer_speed(args.trainer_envs, ["grpo", "sdar"], trainer_spec)),
    ]
    for key, measure in sections:
        data[key] = measure()
    data["collected"] = collect_results(ROOT / "benchmarks" / "results")
    data["load_end"] = _load()
    data["wall_s"] = time.perf_counter() - started
    Path(args.out).write_text(render(data))
    raw = ROOT / "benchmarks" / "results" / "leaderboard_page.json"
    raw.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out} and {raw} in {data['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
