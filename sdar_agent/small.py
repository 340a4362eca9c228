"""The ``small`` recipe: a from-scratch Qwen3-architecture model with a tokenizer trained on the envs' own text.

Pretrained models can copy from their prompt (entity names into queries, product ids and option labels into clicks);
a from-scratch model must learn it, and learns it faster when prompts are short and names are few tokens. So the
tokenizer is a byte-level BPE (any text round-trips) with a vocabulary of thousands, trained on the prompts and
replies of expert demonstrations of all three envs' TRAIN splits (never an evaluation split), with Qwen's special
tokens and ChatML template. ``pre_tokenizer="none"`` lets merges cross word boundaries (shortest prompts: the fixed
template text collapses into few tokens); ``"words"`` splits on words first (GPT-2 style: a name is tokenized the
same wherever it appears, which makes copying consistent). The tokenizer is built once per setting and cached under
``$SDAR_CACHE/models/`` (default ``~/.cache/sdar/models/``); the model is random-init, deterministic in ``seed``.
Head size 64, which vLLM's CPU and GPU attention backends support.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from sdar_agent.policy import CHATML_TEMPLATE, TINY_SPECIAL_TOKENS, Policy, stop_token_ids

__all__ = ["SmallConfig", "build_small_policy", "small_tokenizer", "tokenizer_corpus"]

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

    def tokenizer_key(self) -> str:
        """What the cached tokenizer depends on."""
        spec = {"vocab_size": self.vocab_size, "pre_tokenizer": self.pre_tokenizer, "corpus": CORPUS_EPISODES, "v": 1}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if config.pre_tokenizer not in ("none", "words"):
        raise ValueError(f"pre_tokenizer must be 'none' or 'words', got {config.pre_tokenizer!r}")
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=config.pre_tokenizer == "words")
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        special_tokens=list(TINY_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=16,
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(TINY_SPECIAL_TOKENS),
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def small_tokenizer(config: SmallConfig | None = None, cache_dir: str | Path | None = None):
    """The env-text tokenizer of ``config``: loaded from the cache, or trained (about a minute) and cached."""
    from transformers import PreTrainedTokenizerFast

    config = config or SmallConfig()
    directory = Path(cache_dir or _cache_root()) / f"small-tokenizer-{config.tokenizer_key()}"
    if (directory / "tokenizer.json").is_file():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
        tokenizer.chat_template = CHATML_TEMPLATE
        return tokenizer
    tokenizer = _train_tokenizer(config, tokenizer_corpus())
    staging = directory.with_name(directory.name + f".tmp{os.getpid()}")
    tokenizer.save_pretrained(staging)
    (staging / "small_config.json").write_text(json.dumps(asdict(config), indent=2))
    with contextlib.suppress(OSError):  # another process cached it first: theirs is the same tokenizer
        staging.rename(directory)
    return tokenizer


def build_small_policy(config: SmallConfig | None = None, tokenizer=None) -> Policy:
    """A random-init Qwen3 model of ``config``'s shape with the env-text tokenizer (deterministic in ``seed``)."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    config = config or SmallConfig()
    tokenizer = tokenizer or small_tokenizer(config)
    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=3 * config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = AutoModelForCausalLM.from_config(model_config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    policy = Policy(model=model, tokenizer=tokenizer, source="small")
    policy.stop_ids = stop_token_ids(tokenizer, model)
    return policy
