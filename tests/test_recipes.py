"""The shipped paper-scale recipes load and carry the released SDAR scripts' settings."""

from __future__ import annotations


def test_every_paper_recipe_loads_with_the_released_settings():
    from pathlib import Path

    from sdar_agent.config import load_config

    table = {
        "alfworld": (16, 50, 2048, 256, 0.01),
        "webshop": (16, 15, 4096, 64, 0.01),
        "searchqa": (128, 4, 4096, 256, 0.001),
    }
    recipes = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))
    assert len(recipes) == 9
    for path in recipes:
        config = load_config(path)
        tasks, turns, prompt, mini, kl = table[config.env]
        assert (config.tasks_per_step, config.max_turns, config.max_prompt_tokens) == (tasks, turns, prompt)
        assert (config.mini_batch_size, config.kl_coef, config.group_size, config.steps) == (mini, kl, 8, 150)
        assert config.lr == 1e-6 and config.max_response_tokens == 512 and config.model.startswith("Qwen/")
