# Two commands do everything on a fresh machine:
#   make run   installs the runtime into .venv and starts the dashboard (sandbox) on :8501
#   make test  installs the test tools (and, when missing, Debian's chromium and postgresql) and
#              runs the whole suite: lint, unit, AppTest, PostgreSQL store and browser tests;
#              .ci/run calls it
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test lint format emulator bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(BIN)/streamlit run dashboard.py --server.port $(PORT)

test: $(VENV)/.dev
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_browser.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check mca_core ui tests dashboard.py

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format mca_core ui tests dashboard.py

emulator: $(VENV)/.runtime
	$(BIN)/python -m mca_core emulator

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
