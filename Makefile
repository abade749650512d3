# Two commands matter: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-calendar lint format policy plan bench clean image image-test sbom

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

# The real LibreTranslate package, in a venv of its own (it pins Flask, Redis and Prometheus
# clients the service cannot share): tests run our html encoding through its html pipeline.
LIBRETRANSLATE_VENV := tests/.venvs/libretranslate
LIBRETRANSLATE_VERSION := 1.9.6
$(LIBRETRANSLATE_VENV)/.installed-$(LIBRETRANSLATE_VERSION):
	rm -rf $(LIBRETRANSLATE_VENV)
	$(PYTHON) -m venv $(LIBRETRANSLATE_VENV)
	$(LIBRETRANSLATE_VENV)/bin/pip install --quiet libretranslate==$(LIBRETRANSLATE_VERSION)
	touch $@

run: $(VENV)/.run-deps
	@scripts/ensure-system-packages.sh run
	$(BIN)/utp db upgrade
	$(BIN)/utp serve

# The suite on every core (up to 4; pytest-xdist), a file per worker at a time: tests in one file
# share module fixtures (a live service, a PostgreSQL standby), and each worker starts its own
# PostgreSQL and Redis. `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= auto
test: $(VENV)/.all-deps $(LIBRETRANSLATE_VENV)/.installed-$(LIBRETRANSLATE_VERSION)
	@scripts/ensure-system-packages.sh test
	$(BIN)/pytest -n $(PYTEST_WORKERS) --maxprocesses=4 --dist loadfile --cov --cov-report=term $(PYTEST_ARGS)
	$(BIN)/utp-infra verify --stack staging
	$(BIN)/utp-infra verify --stack production

# The tests whose answers depend on the date, again under a faked wall clock (libfaketime) just
# after a year's start, just before a year's end (the run crosses midnight) and on a leap day:
# a test or a feature that only works mid-month fails here on any day, not only on the 1st.
CALENDAR_TESTS := tests/service/usage tests/service/test_retention.py tests/service/ops/test_prune.py \
	tests/service/ops/test_archived_backups.py \
	tests/service/ops/test_healthcheck.py \
	tests/service/accounts/test_tokens.py tests/service/accounts/test_workspaces_api.py \
	tests/stacks/test_release.py
test-calendar: $(VENV)/.all-deps
	@scripts/ensure-system-packages.sh test
	@for moment in '2027-01-01 00:00:30' '2026-12-31 23:59:40' '2028-02-29 12:00:00'; do \
	  echo "== faketime '$$moment'"; \
	  faketime "$$moment" $(BIN)/pytest -q $(PYTEST_ARGS) $(CALENDAR_TESTS) || exit 1; \
	done

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

# The service image (service/Dockerfile) on the running Docker engine, or on a private Debian
# dockerd started for the build; with the local stand-in base when python:3.11-slim-bookworm
# cannot be pulled (docs/compose.md, "The image").
image:
	@scripts/ensure-system-packages.sh image
	scripts/image-build.sh

# Builds the image, then runs tests/image against the real container (read-only, UID 10001,
# no capabilities) with throwaway PostgreSQL and Redis.
image-test: $(VENV)/.all-deps
	@scripts/ensure-system-packages.sh test
	@scripts/ensure-system-packages.sh image
	scripts/image-test.sh

# The image's CycloneDX SBOM (build/image/sbom.cdx.json: Debian and Python packages) and a
# pip-audit of its Python packages. The delivery workflow keeps Trivy and signing for the
# registry's image.
sbom: $(VENV)/.all-deps
	@scripts/ensure-system-packages.sh image
	scripts/image-sbom.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
