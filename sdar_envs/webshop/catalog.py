"""WebShop's product catalog and goals: the loader for upstream's files, and :class:`CatalogSpec`, which says which
catalog to open (the generated one, :mod:`sdar_envs.webshop.generator`, or the official files).

Files (upstream's schemas, so the official ``items_*.json`` drop in):

``items_shuffle.json``
    a list of raw products (fields, and the keys a loaded product adds: :mod:`sdar_envs.webshop.schema`).
``items_ins_v2.json``
    ``{asin: {"attributes": [...], ["instruction", "instruction_attributes"]}}``: the products' attributes and, for
    upstream's synthetic goals, an instruction per product.
``items_human_ins.json``
    ``{asin: [{"instruction", "instruction_attributes", "instruction_options", ["price_upper"]}]}``: goals. The
    generator writes its goals here with an explicit ``price_upper``; when it is missing it is drawn by upstream's
    rule (:func:`~sdar_envs.webshop.schema.price_upper_for`).

Goals are numbered as upstream numbers them (``web_agent_site/engine/goal.py`` and the ``random.seed(233);
random.shuffle(goals)`` of ``envs/web_agent_text_env.py``): products are read in ``items_shuffle`` order (skipping an
asin seen before, ``"nan"`` or longer than 10 characters, as ``engine.load_products`` does), each product's goals
are built in file order (its human instructions with at least one attribute, or one synthetic goal per option
combination), and the whole list is shuffled once with :data:`SPLIT_SEED`. Goal ``i`` is task ``fixed_i``
(upstream's session name for it), so on the official files the splits are upstream's, goal for goal: ``test`` =
goals 0-499, ``train`` = the rest, ``test_128`` = a fixed sorted sample of 128 test goals, ``all`` = every goal.
Upstream draws price caps and range prices from the unseeded global ``random``; here they are drawn from a seeded
generator, so they are reproducible (upstream's differ from run to run).

A file that is not valid JSON, or not in these schemas, raises ``ValueError`` naming the file and what is wrong.

The generated catalog is written in these schemas by :mod:`sdar_envs.webshop.generator` and read back by the same
loader (:func:`load_catalog`).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sdar_envs.core import Task
from sdar_envs.webshop.generator import (
    DEFAULT_GOALS,
    DEFAULT_PRODUCTS,
    FILE_NAMES,
    default_cache_dir,
    ensure_generated,
)
from sdar_envs.webshop.schema import goal_record, load_product, price_text, price_upper_for

__all__ = [
    "SPLITS",
    "SPLIT_SEED",
    "Catalog",
    "CatalogSpec",
    "catalog_cli_args",
    "load_catalog",
    "open_catalog",
    "product_text",
]

#: Upstream shuffles its goals with ``random.seed(233)`` before splitting.
SPLIT_SEED = 233
TEST_SIZE = 500
EVAL_SUBSET = 128
SPLITS: tuple[str, ...] = ("test", "train", "test_128", "all")


def _goal(
    product: Mapping[str, Any],
    instruction: str,
    attributes: list[str],
    goal_options: Any,
    price_upper: float,
    **extra: Any,
) -> dict[str, Any]:
    """A loaded goal: the instruction shown (``instruction_text``) is the instruction plus upstream's price phrase."""
    return goal_record(
        product,
        instruction=instruction,
        instruction_text=instruction + price_text(price_upper),
        attributes=attributes,
        goal_options=goal_options,
        price_upper=price_upper,
        **extra,
    )


def _human_goals(
    products: Mapping[str, dict], records: Mapping[str, Any], seed: int, path: Path
) -> list[dict[str, Any]]:
    """Upstream's ``get_human_goals``: for each product in catalog order, its instructions in file order; entries
    without attributes are skipped, the instruction loses its trailing dots."""
    rng = random.Random(seed)
    goals = []
    for asin, product in products.items():
        entries = records.get(asin)
        if not entries:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, Mapping):
                raise ValueError(f"{path}: the goals of {asin} must be objects with 'instruction', got {entry!r:.80}")
            attributes = list(entry.get("instruction_attributes") or [])
            if not attributes:
                continue
            instruction = str(entry.get("instruction") or "").strip(".")
            price_upper = entry.get("price_upper")
            price_upper = float(price_upper) if price_upper else price_upper_for(product["price"], rng)
            goal_options = list(entry.get("instruction_options") or [])
            extra = {"distractors": entry["distractors"]} if "distractors" in entry else {}
            goals.append(_goal(product, instruction, attributes, goal_options, price_upper, **extra))
    return goals


def _synthetic_goals(products: Mapping[str, dict], records: Mapping[str, Any], seed: int) -> list[dict[str, Any]]:
    """Upstream's ``get_synthetic_goals``: one goal per option combination of each product (catalog order) that has
    an instruction, all sharing the product's one price cap."""
    rng = random.Random(seed)
    goals = []
    for asin, product in products.items():
        record = records.get(asin)
        if not isinstance(record, Mapping) or record.get("instruction") is None:
            continue
        attributes = list(record.get("instruction_attributes") or [])
        if not attributes:
            continue
        price_upper = price_upper_for(product["price"], rng)
        names = sorted(product["options"])
        for combo in itertools.product(*(product["options"][n] for n in names)):
            goal_options = dict(zip(names, combo, strict=True))
            option_text = ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            instruction = str(record["instruction"]) + (f" with {option_text}" if option_text else "")
            goals.append(_goal(product, instruction, attributes, goal_options, price_upper))
    return goals


def _read_json(path: Path, kind: type, what: str) -> Any:
    """The JSON (or JSONL, one record a line) of ``path``; ``ValueError`` naming the file for anything else."""
    try:
        with open(path, encoding="utf-8") as f:
            if path.suffix == ".jsonl":
                data: Any = []
                for number, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            data.append(json.loads(line))
                        except json.JSONDecodeError as err:
                            raise ValueError(f"{path} line {number} is not valid JSON ({err})") from None
            else:
                data = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}): the file is truncated or corrupt; replace it with a good copy of "
            f"upstream's {what}"
        ) from None
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text ({err}); replace it with a good copy of upstream's {what}"
        ) from None
    if not isinstance(data, kind):
        expected = "a list of products" if kind is list else "an object keyed by asin"
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, but upstream's {what} is {expected}")
    return data


@dataclass
class Catalog:
    """Loaded products and shuffled goals (see the module docstring for keys and splits).

    Attributes:
        products: asin -> loaded product dict, in file order.
        goals: goal dicts after the :data:`SPLIT_SEED` shuffle; goal ``i`` is task ``fixed_i``.
        data_source: ``"generated"``, ``"items_human_ins"`` or ``"items_ins_v2"``.
        root: the directory the files came from (the search index is cached under ``root/index``).
        fingerprint: a short hash of the loaded files; a server and its clients check they agree on it.
    """

    products: dict[str, dict[str, Any]]
    goals: list[dict[str, Any]]
    data_source: str
    root: Path | None = None
    fingerprint: str = ""
    _tasks: dict[str, list[Task]] = field(default_factory=dict, repr=False)

    def split_indices(self, split: str) -> list[int]:
        """Goal indices of a split (see :data:`SPLITS`)."""
        n = len(self.goals)
        if split == "test":
            return list(range(min(TEST_SIZE, n)))
        if split == "train":
            return list(range(min(TEST_SIZE, n), n))
        if split == "test_128":
            test = range(min(TEST_SIZE, n))
            return sorted(random.Random(SPLIT_SEED).sample(test, min(EVAL_SUBSET, len(test))))
        if split == "all":
            return list(range(n))
        raise ValueError(f"unknown WebShop split {split!r}; use one of {', '.join(SPLITS)}")

    def task(self, index: int, split: str = "all") -> Task:
        goal = self.goals[index]
        metadata = dict(goal)
        metadata["options"] = goal["goal_options"]
        return Task(
            id=f"fixed_{index}",
            env="webshop",
            split=split,
            instruction=goal["instruction_text"],
            task_type=goal.get("category", ""),
            data_source=self.data_source,
            metadata=metadata,
        )

    def tasks(self, split: str) -> list[Task]:
        """The split's tasks in goal order (cached)."""
        if split not in self._tasks:
            self._tasks[split] = [self.task(i, split) for i in self.split_indices(split)]
        return self._tasks[split]

    @staticmethod
    def goal_index(task_id: str) -> int:
        """``fixed_12`` -> 12; ``ValueError`` for anything else."""
        if not task_id.startswith("fixed_") or not task_id[6:].isdigit():
            raise ValueError(f"WebShop task ids look like 'fixed_<goal index>', got {task_id!r}")
        return int(task_id[6:])


def load_catalog(
    products_path: str | os.PathLike,
    attributes_path: str | os.PathLike | None = None,
    human_goals_path: str | os.PathLike | None = None,
    *,
    data_source: str | None = None,
    seed: int = SPLIT_SEED,
) -> Catalog:
    """Load a catalog from upstream-format files.

    ``products_path`` is ``items_shuffle*.json`` (a JSON list, or JSONL). ``attributes_path`` is
    ``items_ins_v2*.json`` (attributes, and instructions for synthetic goals). With ``human_goals_path``
    (``items_human_ins.json``) the goals are the human instructions (``data_source="items_human_ins"``); otherwise
    upstream's synthetic goals built from ``attributes_path`` (``"items_ins_v2"``). ``seed`` draws missing price caps.
    """
    products_path = Path(products_path)
    for path, flag in ((products_path, "products_path"), (attributes_path, "attributes_path")):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(
                f"WebShop file not found at {path}; pass {flag}=... pointing at the file, or omit the data paths to "
                "use the generated catalog (`sdar-data webshop` writes it)"
            )
    if human_goals_path is not None and not Path(human_goals_path).is_file():
        raise FileNotFoundError(f"WebShop goals file not found at {human_goals_path}; pass human_goals_path=...")
    raw_products = _read_json(products_path, list, "items_shuffle.json")
    attributes = _read_json(Path(attributes_path), dict, "items_ins_v2.json") if attributes_path else {}
    digest = hashlib.sha256()
    for path in (products_path, attributes_path, human_goals_path):
        if path is not None:
            digest.update(Path(path).read_bytes())
    products: dict[str, dict[str, Any]] = {}
    for number, raw in enumerate(raw_products):
        if not isinstance(raw, Mapping) or "asin" not in raw:
            raise ValueError(f"{products_path}: product {number} is not an object with an 'asin' ({raw!r:.80})")
        asin = str(raw["asin"])
        # upstream engine.load_products skips these asins
        if asin == "nan" or len(asin) > 10 or asin in products:
            continue
        record = attributes.get(asin)
        products[asin] = load_product(raw, record.get("attributes") if isinstance(record, Mapping) else None)
    if human_goals_path is not None:
        records = _read_json(Path(human_goals_path), dict, "items_human_ins.json")
        goals = _human_goals(products, records, seed, Path(human_goals_path))
        source = data_source or "items_human_ins"
    else:
        goals = _synthetic_goals(products, attributes, seed)
        source = data_source or "items_ins_v2"
    random.Random(SPLIT_SEED).shuffle(goals)  # upstream: random.seed(233); random.shuffle(goals)
    return Catalog(products, goals, source, products_path.parent, digest.hexdigest()[:16])


def product_text(product: Mapping[str, Any]) -> str:
    """The text the search index holds for a product: title, description, bullet points and option values."""
    parts: list[str] = [product["Title"], product["Description"], *product["BulletPoints"]]
    for values in product["options"].values():
        parts.extend(values)
    return " ".join(parts)


# ---- which catalog ------------------------------------------------------------------------------------------------
def _option(flag: str, help_text: str, kind: type = str, *, files: bool = False) -> dict[str, Any]:
    """A :class:`CatalogSpec` field's metadata: its ``sdar-webshop`` flag, help text and argparse type, and whether
    it names one of upstream's files (the official catalog) or sets up the generated one."""
    return {"flag": flag, "help": help_text, "kind": kind, "files": files}


@dataclass(frozen=True)
class CatalogSpec:
    """Which catalog to open: upstream's files when ``products_path`` is set, else the generated catalog
    ``(seed, n_products, n_goals)`` cached under ``cache_dir`` (default :func:`default_cache_dir`).

    The one definition of the catalog options, shared by :class:`~sdar_envs.webshop.env.WebShopEnv`, ``sdar-webshop``
    and the server the env starts. Each field carries its ``sdar-webshop`` flag, whose name is also the env's keyword
    (``--products`` / ``products=`` set ``n_products``, see :meth:`env_kwargs`). :meth:`add_arguments` and
    :meth:`from_args` read the flags; :meth:`argv` writes them for a child server and parses back into
    :meth:`normalised`; :meth:`open` loads the catalog once per process. Paths are kept as ``str``.
    """

    seed: int = field(default=0, metadata=_option("--seed", "generator seed (default 0)", int))
    n_products: int = field(
        default=DEFAULT_PRODUCTS,
        metadata=_option("--products", f"generated products (default {DEFAULT_PRODUCTS})", int),
    )
    n_goals: int | None = field(
        default=None,
        metadata=_option("--goals", f"generated goals (default max({DEFAULT_GOALS}, products/10))", int),
    )
    cache_dir: str | os.PathLike[str] | None = field(
        default=None, metadata=_option("--cache-dir", "cache root (default $SDAR_CACHE/webshop or ~/.cache/sdar)")
    )
    products_path: str | os.PathLike[str] | None = field(
        default=None,
        metadata=_option("--products-path", "upstream items_shuffle*.json instead of generating", files=True),
    )
    attributes_path: str | os.PathLike[str] | None = field(
        default=None, metadata=_option("--attributes-path", "upstream items_ins_v2*.json", files=True)
    )
    human_goals_path: str | os.PathLike[str] | None = field(
        default=None, metadata=_option("--human-goals-path", "upstream items_human_ins.json", files=True)
    )

    def __post_init__(self) -> None:
        # str paths: a spec is a dict key (one catalog per process), and Path("x") must open the same one as "x"
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, os.PathLike):
                object.__setattr__(self, f.name, os.fspath(value))

    @property
    def official(self) -> bool:
        """Whether the spec names upstream's files (``products_path`` is set) rather than the generated catalog."""
        return self.products_path is not None

    def _values(self, *, files: bool) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["files"] == files}

    def normalised(self) -> CatalogSpec:
        """The same catalog with absolute paths, the default cache directory spelled out, and the other kind of
        catalog's fields at their defaults: what a child server is given."""
        if self.official:
            files = self._values(files=True)
            return CatalogSpec(**{name: str(Path(path).resolve()) for name, path in files.items() if path is not None})
        cache_dir = Path(self.cache_dir).resolve() if self.cache_dir is not None else default_cache_dir()
        return replace(CatalogSpec(**self._values(files=False)), cache_dir=str(cache_dir))

    def argv(self) -> list[str]:
        """The ``sdar-webshop`` arguments that open this catalog: the flags of :meth:`normalised`'s set fields."""
        spec = self.normalised()
        args: list[str] = []
        for f in fields(spec):
            value = getattr(spec, f.name)
            if f.metadata["files"] == spec.official and value is not None:
                args += [f.metadata["flag"], str(value)]
        return args

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, *, files: bool = True) -> None:
        """Add the catalog flags to ``parser`` (with ``files=False`` only the generated catalog's)."""
        for f in fields(cls):
            if files or not f.metadata["files"]:
                flag, kind, help_text = f.metadata["flag"], f.metadata["kind"], f.metadata["help"]
                metavar = flag[2:].replace("-", "_").upper()
                parser.add_argument(flag, dest=f.name, metavar=metavar, type=kind, default=f.default, help=help_text)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CatalogSpec:
        """The spec parsed by :meth:`add_arguments`' flags (flags the parser lacks keep their defaults)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def env_kwargs(self) -> dict[str, Any]:
        """The ``gym.make("sdar/WebShop-v0", ...)`` keywords that open this catalog (each named as its flag)."""
        return {f.metadata["flag"][2:].replace("-", "_"): getattr(self, f.name) for f in fields(self)}

    def open(self) -> Catalog:
        """The catalog, loaded once per process for each spec (a generated one is generated on first use)."""
        if self not in _OPEN_CATALOGS:
            if self.products_path is not None:
                catalog = load_catalog(self.products_path, self.attributes_path, self.human_goals_path)
            else:  # generated into the cache on first use, then loaded like the official files
                directory = ensure_generated(self.seed, self.n_products, self.n_goals, self.cache_dir)
                catalog = load_catalog(*(directory / name for name in FILE_NAMES), data_source="generated")
            _OPEN_CATALOGS[self] = catalog
        return _OPEN_CATALOGS[self]


_OPEN_CATALOGS: dict[CatalogSpec, Catalog] = {}


def open_catalog(spec: CatalogSpec | None = None, /, **options: Any) -> Catalog:
    """``spec.open()``, or ``CatalogSpec(**options).open()``: the official files when ``products_path`` is given,
    else the generated catalog; one copy per process."""
    return (spec if spec is not None else CatalogSpec(**options)).open()


def catalog_cli_args(**options: Any) -> list[str]:
    """``CatalogSpec(**options).argv()``: the ``sdar-webshop`` arguments that open the same catalog as
    :func:`open_catalog`."""
    return CatalogSpec(**options).argv()
