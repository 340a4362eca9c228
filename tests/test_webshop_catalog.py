"""The WebShop catalog: deterministic generation, upstream schemas, goal rules, splits and the official-file loader."""

from __future__ import annotations

import collections
import hashlib
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_envs.webshop.catalog import load_catalog, open_catalog
from sdar_envs.webshop.generator import MIN_DISTRACTORS, ensure_generated
from sdar_envs.webshop.reward import COLOR_SET, WebShopVerifier, fuzzy_ratio, normalize_color
from sdar_envs.webshop.schema import PRICE_GRID, price_upper_for
from sdar_envs.webshop.taxonomy import CATEGORY_ATTRIBUTES, QUERY_SPECS

RAW_KEYS = {
    "asin",
    "name",
    "full_description",
    "small_description",
    "pricing",
    "images",
    "customization_options",
    "category",
    "query",
    "product_category",
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return open_catalog(cache_dir=tmp_path_factory.getbasetemp() / "webshop-cache")


def test_generation_is_byte_identical_for_a_seed_and_differs_across_seeds(tmp_path):
    a = ensure_generated(seed=7, n_products=200, n_goals=150, cache_dir=tmp_path / "a")
    b = ensure_generated(seed=7, n_products=200, n_goals=150, cache_dir=tmp_path / "b")
    c = ensure_generated(seed=8, n_products=200, n_goals=150, cache_dir=tmp_path / "c")
    for name in ("items_shuffle.json", "items_ins_v2.json", "items_human_ins.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "items_shuffle.json").read_bytes() != (c / "items_shuffle.json").read_bytes()


def test_the_default_catalog_has_1000_products_and_1600_goals(catalog):
    assert len(catalog.products) == 1000
    assert len(catalog.goals) == 1600
    raws = json.loads((catalog.root / "items_shuffle.json").read_text())
    assert len({r["asin"] for r in raws}) == 1000


def test_raw_products_follow_upstreams_schema(catalog):
    directory = catalog.root
    raws = json.loads((directory / "items_shuffle.json").read_text())
    assert all(set(r) == RAW_KEYS for r in raws)
    raw = raws[0]
    assert raw["pricing"].startswith("$") and isinstance(raw["small_description"], list)
    assert raw["product_category"].count(" › ") >= 2  # at least three levels
    for values in raw["customization_options"].values():
        assert all(set(v) == {"value", "image"} for v in values)
    human = json.loads((directory / "items_human_ins.json").read_text())
    record = next(iter(human.values()))[0]
    assert {"instruction", "instruction_attributes", "instruction_options", "price_upper"} <= set(record)


def test_every_goal_has_one_to_three_attributes_one_value_per_axis_and_a_price_cap(catalog):
    for goal in catalog.goals:
        product = catalog.products[goal["asin"]]
        assert 1 <= len(goal["attributes"]) <= 3
        assert set(goal["attributes"]) <= set(product["Attributes"])
        assert len(goal["goal_options"]) == len(product["options"])
        for value in goal["goal_options"]:
            assert sum(value in values for values in product["options"].values()) == 1
        assert goal["price_upper"] in PRICE_GRID and goal["price_upper"] > product["price"]
        assert goal["instruction_text"].endswith(f", and price lower than {goal['price_upper']:.2f} dollars")


def test_every_goal_target_scores_one_and_has_at_least_three_near_distractors(catalog):
    verifier = WebShopVerifier(catalog.products, noun_method="lexicon")
    for index in range(0, len(catalog.goals), 7):
        task = catalog.task(index)
        product = catalog.products[task.metadata["asin"]]
        wanted = task.metadata["goal_options"]
        options = {name: next(v for v in values if v in wanted) for name, values in product["options"].items()}
        assert verifier.verify(task, {"asin": product["asin"], "options": options}).score == 1.0
        assert sum(task.metadata["distractors"].values()) >= MIN_DISTRACTORS


def test_all_four_distractor_kinds_occur(catalog):
    kinds = collections.Counter()
    for goal in catalog.goals:
        kinds.update(k for k, n in goal["distractors"].items() if n)
    assert set(kinds) == {"attribute", "option", "price", "type"}


def test_titles_show_only_some_attributes(catalog):
    hidden = 0
    for product in catalog.products.values():
        in_title = [a for a in product["Attributes"] if a in product["Title"].lower()]
        assert len(in_title) < len(product["Attributes"])
        hidden += len(product["Attributes"]) - len(in_title)
    assert hidden >= len(catalog.products)


def test_instructions_use_varied_templates(catalog):
    openings = {" ".join(g["instruction_text"].split()[:3]) for g in catalog.goals}
    assert len(openings) >= 8
    assert len({g["instruction_text"] for g in catalog.goals}) == len(catalog.goals)


def test_splits_are_test_0_to_499_train_the_rest_and_a_fixed_128_subset(catalog):
    assert catalog.split_indices("test") == list(range(500))
    assert catalog.split_indices("train") == list(range(500, len(catalog.goals)))
    subset = catalog.split_indices("test_128")
    assert len(subset) == 128 and subset == sorted(subset) and set(subset) <= set(range(500))
    assert subset == catalog.split_indices("test_128")
    assert [t.id for t in catalog.tasks("test")[:2]] == ["fixed_0", "fixed_1"]
    with pytest.raises(ValueError, match="unknown WebShop split"):
        catalog.split_indices("dev")


def test_tasks_carry_the_goal_in_metadata_and_the_category_as_task_type(catalog):
    task = catalog.tasks("test")[0]
    assert task.env == "webshop" and task.data_source == "generated"
    assert task.task_type in CATEGORY_ATTRIBUTES
    for key in ("asin", "attributes", "options", "price_upper", "query", "product_category", "name"):
        assert key in task.metadata


def test_attribute_pools_have_no_fuzzy_or_substring_collisions():
    for spec in QUERY_SPECS:
        pool = spec.attributes + tuple(a for a in CATEGORY_ATTRIBUTES[spec.category] if a not in spec.attributes)
        for a, b in itertools.permutations(pool, 2):
            assert fuzzy_ratio(a, b) <= 85, (spec.query, a, b)
            assert a not in b, (spec.query, a, b)


def test_option_values_are_distinct_under_the_option_rule_and_hold_no_accidental_colour():
    for spec in QUERY_SPECS:
        for axis, values in spec.options.items():
            normalized = [normalize_color(v) for v in values]
            for a, b in itertools.combinations(normalized, 2):
                assert fuzzy_ratio(a, b) <= 85, (spec.query, axis, a, b)
            for value in values:  # colour words only as whole words ("lavender"), never inside one ("standard")
                hidden = [c for c in COLOR_SET if c in value and c not in value.split()]
                assert not hidden, (spec.query, axis, value, hidden)


def test_sibling_subcategories_share_only_the_top_level():
    for a, b in itertools.combinations(QUERY_SPECS, 2):
        if a.category == b.category and a.path[1] != b.path[1]:
            assert len(set(a.path) & set(b.path)) == 1


@settings(max_examples=40, deadline=None)
@given(price=st.floats(min_value=0.01, max_value=2000.0), seed=st.integers(0, 1000))
def test_price_cap_is_the_larger_of_two_of_the_next_four_multiples_of_ten(price, seed):
    import random

    cap = price_upper_for(price, random.Random(seed))
    grid = [p for p in PRICE_GRID if p > price][:4]
    if len(grid) < 2:
        assert cap == 1_000_000.0
    else:
        assert cap in grid[1:] and cap > price


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_upstream_files_load_with_human_goals(tmp_path):
    raws = [
        {
            "asin": "B000000001",
            "name": "Bright Citrus Deodorant",
            "full_description": "Natural deodorant.",
            "small_description": ["Aluminum free", "3 ounce"],
            "pricing": "$10.99",
            "images": [],
            "customization_options": {"Scent": [{"value": "Bright Citrus", "image": None}]},
            "category": "beauty",
            "query": "Deodorant ",
            "product_category": "Beauty & Personal Care › Personal Care › Deodorants",
        },
        {"asin": "B000000002", "name": "Ranged", "pricing": "$5.00 - $9.00", "customization_options": {}},
    ]
    products = _write(tmp_path / "items_shuffle_1000.json", raws)
    attrs = _write(tmp_path / "items_ins_v2_1000.json", {"B000000001": {"attributes": ["aluminum free"]}})
    human = _write(
        tmp_path / "items_human_ins.json",
        {"B000000001": [{"instruction": "i need citrus deodorant", "instruction_attributes": ["aluminum free"],
                         "instruction_options": ["bright citrus"]}]},
    )  # fmt: skip
    catalog = load_catalog(products, attrs, human)
    p = catalog.products["B000000001"]
    assert p["options"] == {"scent": ["bright citrus"]} and p["query"] == "deodorant"
    assert p["price"] == 10.99 and p["Attributes"] == ["aluminum free"]
    ranged = catalog.products["B000000002"]
    assert 5.0 <= ranged["price"] <= 9.0 and ranged["Attributes"] == ["DUMMY_ATTR"]
    assert ranged["price"] == load_catalog(products, attrs, human).products["B000000002"]["price"]
    assert catalog.data_source == "items_human_ins" and len(catalog.goals) == 1
    goal = catalog.goals[0]
    assert goal["instruction_text"].startswith("i need citrus deodorant, and price lower than")
    assert goal["price_upper"] in (20.0, 30.0, 40.0, 50.0)
    assert catalog.tasks("test")[0].data_source == "items_human_ins"


def test_upstream_files_load_with_synthetic_goals_one_per_option_combination(tmp_path):
    raws = [
        {
            "asin": "B000000003",
            "name": "Trail Shoe",
            "pricing": "$45.00",
            "customization_options": {
                "Color": [{"value": "Black", "image": None}, {"value": "Navy/White", "image": None}],
                "Size": [{"value": "9", "image": None}, {"value": "10", "image": None}],
            },
            "query": "running shoes",
            "product_category": "Clothing › Shoes › Running",
        }
    ]
    products = _write(tmp_path / "items.json", raws)
    attrs = _write(
        tmp_path / "ins.json",
        {"B000000003": {"attributes": ["non slip"], "instruction": "find trail shoes",
                        "instruction_attributes": ["non slip"]}},
    )  # fmt: skip
    catalog = load_catalog(products, attrs)
    assert catalog.data_source == "items_ins_v2" and len(catalog.goals) == 4
    assert catalog.products["B000000003"]["options"]["color"] == ["black", "navy | white"]
    assert all(isinstance(g["goal_options"], dict) for g in catalog.goals)
    texts = {g["instruction"] for g in catalog.goals}
    assert "find trail shoes with color: black, and size: 9" in texts


def test_a_missing_file_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="sdar-data webshop"):
        load_catalog(tmp_path / "nope.json")


def test_catalog_fingerprint_tracks_file_contents(catalog):
    digest = hashlib.sha256()
    for name in ("items_shuffle.json", "items_ins_v2.json", "items_human_ins.json"):
        digest.update((catalog.root / name).read_bytes())
    assert catalog.fingerprint == digest.hexdigest()[:16]


def test_the_data_cli_generates_the_webshop_catalog(tmp_path, capsys):
    from sdar_envs.data_cli import main

    assert main(["webshop", "--products", "200", "--goals", "150", "--cache-dir", str(tmp_path)]) == 0
    directory = tmp_path / "generated" / "v1-seed0-products200-goals150"
    assert str(directory) in capsys.readouterr().out
    assert len(json.loads((directory / "items_shuffle.json").read_text())) == 200


# ---- CatalogSpec: the catalog options, as flags, child-server arguments and env keywords --------------------------
def test_catalog_spec_argv_spells_out_the_generated_catalog_and_parses_back(tmp_path, monkeypatch):
    import argparse

    from sdar_envs.webshop.catalog import CatalogSpec, catalog_cli_args
    from sdar_envs.webshop.generator import default_cache_dir

    monkeypatch.chdir(tmp_path)
    spec = CatalogSpec(seed=3, n_products=200, cache_dir="cache", attributes_path="ignored.json")
    argv = spec.argv()
    assert argv == ["--seed", "3", "--products", "200", "--cache-dir", str(tmp_path / "cache")]
    assert catalog_cli_args(seed=3, n_products=200, cache_dir="cache") == argv
    assert CatalogSpec(n_goals=150).argv() == ["--seed", "0", "--products", "1000", "--goals", "150", "--cache-dir",
                                               str(default_cache_dir())]  # fmt: skip
    parser = argparse.ArgumentParser()
    CatalogSpec.add_arguments(parser)
    assert CatalogSpec.from_args(parser.parse_args(argv)) == spec.normalised()
    assert CatalogSpec.from_args(parser.parse_args([])) == CatalogSpec()


def test_catalog_spec_argv_names_only_the_official_files_as_absolute_paths(tmp_path, monkeypatch):
    import argparse

    from sdar_envs.webshop.catalog import CatalogSpec

    monkeypatch.chdir(tmp_path)
    spec = CatalogSpec(seed=5, cache_dir="x", products_path="items.json", human_goals_path=tmp_path / "human.json")
    assert spec.official and spec.human_goals_path == str(tmp_path / "human.json")  # paths are kept as str
    argv = spec.argv()
    assert argv == ["--products-path", str(tmp_path / "items.json"), "--human-goals-path", str(tmp_path / "human.json")]
    parser = argparse.ArgumentParser()
    CatalogSpec.add_arguments(parser)
    assert CatalogSpec.from_args(parser.parse_args(argv)) == spec.normalised()
    generated_only = argparse.ArgumentParser()
    CatalogSpec.add_arguments(generated_only, files=False)
    with pytest.raises(SystemExit):
        generated_only.parse_args(["--products-path", "items.json"])


def test_catalog_spec_env_kwargs_are_the_webshop_envs_keywords(tmp_path):
    import inspect

    from sdar_envs.webshop.catalog import CatalogSpec
    from sdar_envs.webshop.env import WebShopEnv

    spec = CatalogSpec(seed=7, n_products=200, n_goals=150, cache_dir=str(tmp_path))
    kwargs = spec.env_kwargs()
    assert set(kwargs) <= set(inspect.signature(WebShopEnv).parameters)
    assert kwargs["products"] == 200 and kwargs["goals"] == 150
    env = WebShopEnv("all", transport="inproc", **kwargs)
    assert env.catalog_spec == spec and env.catalog is spec.open() is open_catalog(spec)
    env.close()
