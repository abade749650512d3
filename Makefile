# Two commands matter: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint format policy plan bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The service alone: what `make run` needs.
$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Everything: the Pulumi program, the policy pack, the tests and the linters.
$(VENV)/.all-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[infra,test,dev]'
	touch $(VENV)/.run-deps $@

run: $(VENV)/.run-deps
	@scripts/ensure-system-packages.sh run
	$(BIN)/utp db upgrade
	$(BIN)/utp serve

test: $(VENV)/.all-deps
	@scripts/ensure-system-packages.sh test
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/utp-infra verify --stack staging
	$(BIN)/utp-infra verify --stack production

# The CrossGuard pack against both stacks' offline resource graphs (what CI gates on).
policy: $(VENV)/.all-deps
	$(BIN)/utp-infra policy-check --stack staging
	$(BIN)/utp-infra policy-check --stack production

plan: $(VENV)/.all-deps
	$(BIN)/utp-infra plan --stack production

lint: $(VENV)/.all-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.all-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.all-deps
	@scripts/ensure-system-packages.sh bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
