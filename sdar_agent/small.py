"""The ``small`` recipe: a from-scratch Qwen3-architecture model with a tokenizer trained on the envs' own text.

Pretrained models can copy from their prompt (entity names into queries, product ids and option labels into clicks);
a from-scratch model must learn it, and learns it faster when prompts are short and names are few tokens. So the
tokenizer is a byte-level BPE (any text round-trips) with a vocabulary of thousands, trained on the prompts and
replies of expert demonstrations of all three envs' TRAIN splits (never an evaluation split), with Qwen's special
tokens and ChatML template. ``pre_tokenizer="none"`` lets merges cross word boundaries (shortest prompts: the fixed
template text collapses into few tokens); ``"words"`` splits on words first (GPT-2 style: a name is tokenized the
same wherever it appears, which makes copying consistent). The tokenizer is built once per setting and training text
and cached under ``$SDAR_CACHE/models/`` (default ``~/.cache/sdar/models/``), keyed by a hash of the text itself, so a
change to the envs' prompts or the expert's replies trains a new tokenizer instead of reusing a stale one (the corpus
takes about 10 s to build; training about a minute). The model is random-init, deterministic in ``seed``.
Head size 64, which vLLM's CPU and GPU attention backends support.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sdar_agent.policy import CHATML_TEMPLATE, Policy, random_qwen3_policy, train_bpe_tokenizer

__all__ = ["SmallConfig", "build_small_policy", "corpus_digest", "small_tokenizer", "tokenizer_corpus"]

#: Expert episodes per env whose turns make the tokenizer's training text (train splits only).
CORPUS_EPISODES: dict[str, int] = {"searchqa": 1500, "webshop": 400, "alfworld": 400}


@dataclass(frozen=True)
class SmallConfig:
    """Shape of the ``small`` model and its tokenizer (defaults: ~5.5M parameters with an 8k vocabulary)."""

    hidden_size: int = 256
    num_layers: int = 4
    head_dim: int = 64
    vocab_size: int = 8192
    pre_tokenizer: str = "none"
    max_position_embeddings: int = 8192
    seed: int = 0

    @property
    def num_heads(self) -> int:
        return max(1, self.hidden_size // self.head_dim)

    def tokenizer_key(self, texts: list[str]) -> str:
        """What the cached tokenizer depends on: its settings and the exact training text ``texts``."""
        spec = {"vocab_size": self.vocab_size, "pre_tokenizer": self.pre_tokenizer, "corpus": corpus_digest(texts)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def corpus_digest(texts: list[str]) -> str:
    """SHA-256 of a list of training texts (order and boundaries included)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _cache_root() -> Path:
    return Path(os.environ.get("SDAR_CACHE") or Path.home() / ".cache" / "sdar").expanduser() / "models"


def tokenizer_corpus() -> list[str]:
    """Prompts and replies of expert demonstrations on the three envs' train splits (deterministic)."""
    from sdar_agent.demos import expert_demos

    texts: list[str] = []
    kwargs = {"webshop": {"transport": "inproc"}}
    for env, episodes in CORPUS_EPISODES.items():
        demos = expert_demos(env, "train", episodes=episodes, env_kwargs=kwargs.get(env, {}))
        for turn in demos.turns:
            texts.append(turn.messages[0]["content"])
            texts.append(turn.reply)
    return texts


def _train_tokenizer(config: SmallConfig, texts: list[str]):
    if config.pre_tokenizer not in ("none", "words"):
        raise ValueError(f"pre_tokenizer must be 'none' or 'words', got {config.pre_tokenizer!r}")
    return train_bpe_tokenizer(
        texts, config.vocab_size, split_words=config.pre_tokenizer == "words", max_token_length=16
    )


def small_tokenizer(config: SmallConfig | None = None, cache_dir: str | Path | None = None):
    """The env-text tokenizer of ``config``: loaded from the cache, or trained (about a minute) and cached."""
    from transformers import PreTrainedTokenizerFast

    config = config or SmallConfig()
    texts = tokenizer_corpus()
    directory = Path(cache_dir or _cache_root()) / f"small-tokenizer-{config.tokenizer_key(texts)}"
    if (directory / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
        tokenizer.chat_template = CHATML_TEMPLATE
        return tokenizer
    tokenizer = _train_tokenizer(config, texts)
    staging = directory.with_name(directory.name + f".tmp{os.getpid()}")
    tokenizer.save_pretrained(staging)
    (staging / "small_config.json").write_text(json.dumps(asdict(config), indent=2))
    (staging / "corpus.json").write_text(
        json.dumps({"texts": len(texts), "characters": sum(map(len, texts)), "sha256": corpus_digest(texts)}, indent=2)
    )
    with contextlib.suppress(OSError):  # another process cached it first: theirs is the same tokenizer
        staging.rename(directory)
    return tokenizer


def build_small_policy(config: SmallConfig | None = None, tokenizer=None) -> Policy:
    """A random-init Qwen3 model of ``config``'s shape with the env-text tokenizer (deterministic in ``seed``)."""
    config = config or SmallConfig()
    return random_qwen3_policy(
        tokenizer or small_tokenizer(config),
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        num_kv_heads=config.num_heads,
        head_dim=config.head_dim,
        intermediate_size=3 * config.hidden_size,
        max_position_embeddings=config.max_position_embeddings,
        seed=config.seed,
        source="small",
    )
