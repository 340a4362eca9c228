"""The main job, for now: play Search-QA test episodes with the oracle and with a random agent.

``python -m sdar_envs.demo`` (or ``make demo``) generates the Search-QA data on first use, then prints the success
rate (exact match) of each agent per question family. The oracle must solve every question; the random agent,
which searches random words of the question and answers a random passage title it has seen, should score near 0.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

import gymnasium as gym

import sdar_envs  # noqa: F401  (registers the env ids)

__all__ = ["main", "play", "random_agent", "show_episode"]

_TITLE = re.compile(r'\(Title: "([^"]*)"\)')

Agent = Callable[[str, list[str], dict], str]


def oracle_agent(question: str, observations: list[str], info: dict) -> str:
    """The env's own oracle: ``info["expert_action"]``."""
    return info["expert_action"]


def random_agent(rng: random.Random) -> Agent:
    """An agent that searches random question words or answers a random title it has seen (valid actions only)."""

    def act(question: str, observations: list[str], info: dict) -> str:
        titles = [t.split(" (")[0] for obs in observations for t in _TITLE.findall(obs)]
        if titles and rng.random() < 0.5:
            return f"<answer> {rng.choice(titles)} </answer>"
        words = question.rstrip("?.").split()
        return f"<search> {' '.join(rng.sample(words, min(3, len(words))))} </search>"

    return act


def play(env: gym.Env, agent: Agent, episodes: Sequence[int]) -> tuple[Counter, Counter]:
    """Play the tasks at ``episodes`` (indices); return per-``data_source`` (wins, counts)."""
    wins: Counter = Counter()
    counts: Counter = Counter()
    for index in episodes:
        obs, info = env.reset(options={"index": index})
        question, observations = info["task"].instruction, [obs]
        while True:
            obs, _, terminated, truncated, info = env.step(agent(question, observations, info))
            observations.append(obs)
            if terminated or truncated:
                break
        counts[info["task"].data_source] += 1
        wins[info["task"].data_source] += int(info["won"])
    return wins, counts


def show_episode(env: gym.Env, index: int, width: int = 160) -> None:
    """Print one oracle episode: the question, then each action and (shortened) observation."""
    _, info = env.reset(options={"index": index})
    print(f"Example ({info['task'].data_source}): {info['task'].instruction}")
    while True:
        action = info["expert_action"]
        obs, reward, terminated, truncated, info = env.step(action)
        shown = " ".join(obs.split())
        print(f"  action: {action}")
        print(f"  obs:    {shown[:width] + (' ...' if len(shown) > width else '') or '(episode over)'}")
        if terminated or truncated:
            print(f"  reward: {reward}  (gold: {info['task'].metadata['golden_answers']})")
            return


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
    n_tasks = env.unwrapped.num_tasks
    print(f"sdar/SearchQA-v0 split={args.split}: {n_tasks} questions, ready in {time.perf_counter() - start:.1f} s")
    episodes = range(min(args.episodes, n_tasks) if args.episodes > 0 else n_tasks)
    u = env.unwrapped
    sources = [u.get_task(task_id).data_source for task_id in u.task_ids()]
    show_episode(env, index=sources.index("three_hop") if "three_hop" in sources else 0)
    for name, agent in (("oracle", oracle_agent), ("random", random_agent(random.Random(args.seed)))):
        t0 = time.perf_counter()
        wins, counts = play(env, agent, episodes)
        _report(name, wins, counts)
        print(f"{'':<7} ({time.perf_counter() - t0:.1f} s)")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
