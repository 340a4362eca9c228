"""``python -m sdar_envs.demo``: one oracle episode shown, then the oracle's and the random agent's success."""

from __future__ import annotations

import re

from sdar_envs.demo import main


def test_the_demo_shows_an_oracle_episode_and_both_agents_success(capsys):
    assert main(["--episodes", "30", "--seed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"sdar/SearchQA-v0 split=test: \d+ questions, ready in [\d.]+ s", lines[0])
    assert lines[1].startswith("Example (three_hop): ")
    assert lines[2].startswith("  action: <search> ")
    assert any(line.startswith("  reward: 1.0  (gold: ") for line in lines)
    oracle = next(line for line in lines if line.startswith("oracle "))
    assert oracle.startswith("oracle  success 1.000 over 30 episodes  |  ")
    random_line = next(line for line in lines if line.startswith("random "))
    rate = float(random_line.split()[2])
    assert rate <= 0.2 and "over 30 episodes" in random_line
