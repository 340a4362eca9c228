"""Play Search-QA test episodes with the oracle and with a random agent (``make demo-envs``).

``python -m sdar_envs.demo`` generates the Search-QA data on first use, shows one oracle episode, then prints the
success rate (exact match) of each agent per question family. The oracle (:class:`sdar_envs.agents.ExpertAgent`)
must solve every question; the random agent (:class:`sdar_envs.agents.RandomAgent`, the leaderboard's random row),
which searches 1-3 random words of the question or answers a passage title it has seen, should score near 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence

import gymnasium as gym

import sdar_envs  # noqa: F401  (registers the env ids)
from sdar_envs.agents import Agent, ExpertAgent, RandomAgent, play

__all__ = ["main", "show_episode", "tally"]


def tally(env: gym.Env, agent: Agent, episodes: Sequence[int]) -> tuple[Counter, Counter]:
    """Play the tasks at ``episodes`` (indices) with ``agent``; return per-``data_source`` (wins, counts)."""
    wins: Counter = Counter()
    counts: Counter = Counter()
    for index in episodes:
        episode = play(env, agent, options={"index": index})
        source = episode.task.data_source if episode.task is not None else ""
        counts[source] += 1
        wins[source] += int(episode.won)
    return wins, counts


def show_episode(env: gym.Env, index: int, width: int = 160) -> None:
    """Print one oracle episode: the question, then each action and (shortened) observation."""
    episode = play(env, ExpertAgent(), options={"index": index}, record=True)
    task = episode.task
    assert task is not None
    print(f"Example ({task.data_source}): {task.instruction}")
    for action, obs in zip(episode.actions, episode.observations[1:], strict=True):
        shown = " ".join(obs.split())
        print(f"  action: {action}")
        print(f"  obs:    {shown[:width] + (' ...' if len(shown) > width else '') or '(episode over)'}")
    print(f"  reward: {episode.rewards[-1]}  (gold: {task.metadata['golden_answers']})")


def _report(name: str, wins: Counter, counts: Counter) -> None:
    total = sum(counts.values())
    per = "  ".join(f"{source} {wins[source] / counts[source]:.2f}" for source in counts)
    print(f"{name:<7} success {sum(wins.values()) / total:.3f} over {total} episodes  |  {per}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdar_envs.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", help="Search-QA split to play (default %(default)s)")
    parser.add_argument("--episodes", type=int, default=0, help="episodes per agent (default: the whole split)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random agent (default %(default)s)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    env = gym.make("sdar/SearchQA-v0", split=args.split)
    task_ids = env.get_wrapper_attr("task_ids")()
    n_tasks = len(task_ids)
    print(f"sdar/SearchQA-v0 split={args.split}: {n_tasks} questions, ready in {time.perf_counter() - start:.1f} s")
    episodes = range(min(args.episodes, n_tasks) if args.episodes > 0 else n_tasks)
    get_task = env.get_wrapper_attr("get_task")
    sources = [get_task(task_id).data_source for task_id in task_ids]
    show_episode(env, index=sources.index("three_hop") if "three_hop" in sources else 0)
    agents: tuple[tuple[str, Agent], ...] = (("oracle", ExpertAgent()), ("random", RandomAgent(args.seed)))
    for name, agent in agents:
        t0 = time.perf_counter()
        wins, counts = tally(env, agent, episodes)
        _report(name, wins, counts)
        print(f"{'':<7} ({time.perf_counter() - t0:.1f} s)")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
