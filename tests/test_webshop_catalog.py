"""The WebShop catalog: deterministic generation, upstream schemas, goal rules, splits and the official-file loader."""

from __future__ import annotations

import collections
import errno
import hashlib
import itertools
import json
import os
import random
import re
import tempfile
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_envs.webshop.catalog import load_catalog, open_catalog
from sdar_envs.webshop.engine import Shop
from sdar_envs.webshop.generator import FILE_NAMES, GENERATOR_VERSION, MIN_DISTRACTORS, ensure_generated, repeats_a_word
from sdar_envs.webshop.pages import State
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
    directory = tmp_path / "generated" / f"v{GENERATOR_VERSION}-seed0-products200-goals150"
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


# ---- official files play as upstream ------------------------------------------------------------------------------
def _raw(asin: str, name: str, pricing: str = "$10.00", **extra) -> dict:
    """A product in upstream's items_shuffle layout (every field upstream's loader reads)."""
    raw = {
        "asin": asin,
        "name": name,
        "full_description": f"{name}.",
        "small_description": [f"About {name}"],
        "pricing": pricing,
        "images": ["https://example.invalid/a.jpg"],
        "customization_options": {},
        "category": "beauty",
        "query": "soap",
        "product_category": "Beauty › Bath › Soap",
    }
    raw.update(extra)
    return raw


def _upstream_order(goals: list) -> list:
    """What upstream's web_agent_text_env.py does to its goal list: random.seed(233); random.shuffle(goals)."""
    state = random.getstate()
    try:
        random.seed(233)
        goals = list(goals)
        random.shuffle(goals)
        return goals
    finally:
        random.setstate(state)


@pytest.fixture
def official(tmp_path):
    """A small catalog in the official layout whose items_human_ins key order differs from the product order, with
    the products upstream skips (a repeated asin, "nan", an asin over 10 characters) and a goal without attributes."""
    raws = [
        _raw("B0000000C3", "Cedar Soap", "$23.90"),
        _raw("B0000000A1", "Aloe Soap", "$5.00 - $9.50"),
        _raw("B0000000C3", "Cedar Soap (again)"),
        _raw("nan", "Nobody Soap"),
        _raw("B0000000LONG", "Long Asin Soap"),
        _raw("B0000000B2", "Birch Soap", "$1,299.00"),
        _raw("B0000000D4", "Dune Soap", None),
    ]
    human = {  # deliberately not in product order
        "B0000000D4": [{"instruction": "dune soap please.", "instruction_attributes": ["dry skin"],
                        "instruction_options": []}],
        "B0000000B2": [
            {"instruction": "birch soap one", "instruction_attributes": ["vegan"], "instruction_options": []},
            {"instruction": "birch soap none", "instruction_attributes": [], "instruction_options": []},
            {"instruction": "birch soap two", "instruction_attributes": ["organic"], "instruction_options": []},
        ],
        "B0000000A1": [{"instruction": "aloe soap", "instruction_attributes": ["aloe"], "instruction_options": []}],
        "B0000000C3": [{"instruction": "cedar soap", "instruction_attributes": ["cedar"], "instruction_options": []}],
        "B0000000LONG": [{"instruction": "long", "instruction_attributes": ["x"], "instruction_options": []}],
    }  # fmt: skip
    attributes = {r["asin"]: {"attributes": ["vegan"]} for r in raws}
    return (
        _write(tmp_path / "items_shuffle.json", raws),
        _write(tmp_path / "items_ins_v2.json", attributes),
        _write(tmp_path / "items_human_ins.json", human),
    )


def test_official_goals_are_numbered_by_product_order_then_upstreams_seeded_shuffle(official):
    catalog = load_catalog(*official)
    # upstream: products in items_shuffle order (C3, A1, B2, D4; the repeat, "nan" and the long asin skipped), each
    # product's instructions in file order (the one without attributes skipped, trailing dots stripped), then shuffled
    built = ["cedar soap", "aloe soap", "birch soap one", "birch soap two", "dune soap please"]
    assert list(catalog.products) == ["B0000000C3", "B0000000A1", "B0000000B2", "B0000000D4"]
    assert [g["instruction"] for g in catalog.goals] == _upstream_order(built)
    assert [g["instruction"] for g in catalog.goals] != built  # the shuffle does move them
    assert [t.instruction.split(",")[0] for t in catalog.tasks("test")] == _upstream_order(built)


def test_synthetic_goals_follow_product_order_and_share_one_price_cap_per_product(tmp_path):
    colours = {"Color": [{"value": "Red", "image": None}, {"value": "Blue", "image": None}]}
    raws = [_raw("B0000000Z9", "Zinc Soap", customization_options=colours), _raw("B0000000Y8", "Yarrow Soap")]
    attributes = {
        "B0000000Y8": {"attributes": ["mild"], "instruction": "yarrow soap", "instruction_attributes": ["mild"]},
        "B0000000Z9": {"attributes": ["zinc"], "instruction": "zinc soap", "instruction_attributes": ["zinc"]},
    }
    catalog = load_catalog(_write(tmp_path / "p.json", raws), _write(tmp_path / "a.json", attributes))
    built = ["zinc soap with color: red", "zinc soap with color: blue", "yarrow soap"]
    assert [g["instruction"] for g in catalog.goals] == _upstream_order(built)
    zinc = [g for g in catalog.goals if g["asin"] == "B0000000Z9"]
    assert zinc[0]["price_upper"] == zinc[1]["price_upper"]


def test_prices_render_as_upstream_prints_them(official):
    catalog = load_catalog(*official)
    shown = {asin: p["Price"] for asin, p in catalog.products.items()}
    assert shown == {
        "B0000000C3": "$23.9",
        "B0000000A1": "$5.0 to $9.5",
        "B0000000B2": "$1299.0",
        "B0000000D4": "$100.0",
    }
    assert catalog.products["B0000000C3"]["price"] == 23.9 and catalog.products["B0000000D4"]["price"] == 100.0
    shop = Shop(catalog, index_dir=None)
    task = catalog.task(0)
    item = shop.render(State("item", "soap", 1, "B0000000C3"), task)
    assert "Cedar Soap [SEP] Price: $23.9 [SEP] Rating: N.A." in item.observation
    results = shop.render(State("results", "cedar soap", 1), task)
    assert "B0000000C3 [SEP] Cedar Soap [SEP] $23.9" in results.observation


def test_generated_files_hold_every_field_upstreams_loader_reads(catalog):
    # what upstream's engine/engine.py::load_products and engine/goal.py::get_human_goals read, field by field
    raws = json.loads((catalog.root / "items_shuffle.json").read_text())
    attributes = json.loads((catalog.root / "items_ins_v2.json").read_text())
    human = json.loads((catalog.root / "items_human_ins.json").read_text())
    for p in raws:
        assert p["asin"] != "nan" and len(p["asin"]) <= 10
        assert isinstance(p["images"], list) and isinstance(p["images"][0], str) and p["images"][0]
        prices = [float(Decimal(re.sub(r"[^\d.]", "", x))) for x in p["pricing"].split("$")[1:]]
        assert len(prices) == 1
        for contents in p["customization_options"].values():
            assert all(isinstance(c["value"], str) for c in contents)
        for key in ("category", "query", "product_category", "name", "full_description"):
            assert isinstance(p[key], str)
        assert isinstance(p["small_description"], list)
        assert "attributes" in attributes[p["asin"]]
    for entries in human.values():
        for entry in entries:
            assert entry["instruction_attributes"] and isinstance(entry["instruction_options"], list)
            assert isinstance(entry["instruction"], str)
    shown = {p["Price"] for p in catalog.products.values()}
    assert not any(text.endswith("0") and not text.endswith(".0") for text in shown)  # "$23.9", not "$23.90"


@pytest.mark.parametrize("seed", [0, 1])
def test_no_generated_instruction_repeats_a_word_back_to_back(tmp_path, seed):
    directory = ensure_generated(seed=seed, cache_dir=tmp_path) if seed else None
    goals = (
        load_catalog(*(directory / n for n in FILE_NAMES)).goals
        if directory
        else open_catalog(cache_dir=tmp_path.parent / "webshop-cache").goals
    )
    repeated = [g["instruction"] for g in goals if repeats_a_word(g["instruction"])]
    assert repeated == [] and len(goals) == 1600
    assert repeats_a_word("with spf spf 70") and repeats_a_word("twin pack pack") and not repeats_a_word("a b a")


# ---- caches and data files: corruption is detected, named, and rebuilt ------------------------------------------
def _generated(tmp_path):
    return ensure_generated(seed=3, n_products=200, n_goals=150, cache_dir=tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_meta", "delete_file"])
def test_a_damaged_generated_catalog_is_regenerated(tmp_path, damage):
    directory = _generated(tmp_path)
    good = {name: (directory / name).read_bytes() for name in FILE_NAMES}
    target = directory / "items_shuffle.json"
    if damage == "truncate":
        target.write_bytes(good["items_shuffle.json"][:1000])
    elif damage == "flip":
        data = bytearray(good["items_shuffle.json"])
        data[5000] ^= 0x01  # one bit: still valid JSON, a different product text
        target.write_bytes(bytes(data))
    elif damage == "delete_meta":
        (directory / "meta.json").unlink()
    else:
        (directory / "items_human_ins.json").unlink()
    assert _generated(tmp_path) == directory
    assert {name: (directory / name).read_bytes() for name in FILE_NAMES} == good


def test_a_truncated_official_file_is_named_in_the_error(official):
    products, attributes, human = official
    human.write_text(human.read_text()[:50])
    with pytest.raises(ValueError, match=rf"{re.escape(str(human))} is not valid JSON .*truncated or corrupt"):
        load_catalog(products, attributes, human)
    products.write_text('{"asin": "B0"}')
    with pytest.raises(ValueError, match=r"items_shuffle.json holds a JSON dict, but upstream's items_shuffle.json"):
        load_catalog(products, attributes)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_cache_names_the_directory_and_sdar_cache(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OSError, match=r"cannot write the generated WebShop catalog under .*SDAR_CACHE"):
            _generated(tmp_path)
    finally:
        tmp_path.chmod(0o700)


def test_an_unwritable_cache_names_the_directory_and_sdar_cache(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", full_disk)
    with pytest.raises(OSError, match=r"cannot write the generated WebShop catalog under .*No space left .*SDAR_CACHE"):
        _generated(tmp_path)


def test_the_search_index_is_rebuilt_when_the_catalog_files_change(official, tmp_path):
    products, attributes, human = official
    first = Shop(load_catalog(products, attributes, human))
    assert first.search.search("cedar")[:1] == ("B0000000C3",)
    raws = json.loads(products.read_text())
    raws[0]["name"] = raws[0]["full_description"] = "Juniper Soap"
    raws[0]["small_description"] = ["About Juniper Soap"]
    _write(products, raws)  # the same number of products, another text
    second = Shop(load_catalog(products, attributes, human))
    assert second.search.search("juniper")[:1] == ("B0000000C3",) and second.search.search("cedar") == ()
