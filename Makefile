# One source of truth for tooling is pyproject.toml; these targets only call it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-slow lint typecheck format bench clean compose-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dashboard]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/daskpar demo $(DEMO_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[compare]'
	touch $@

# Speed next to quality, about an hour on 2 cores (the first run also writes about 8 GB of
# data to benchmarks/.data and fits the optimum); writes benchmarks/RESULTS.md.
BENCHMARKS := codecs learners scaling partitions decomposition larger_than_memory search_vs_dask_ml tables clicklogs text
bench: $(VENV)/.installed-bench
	for b in $(BENCHMARKS); do $(BIN)/python benchmarks/$$b.py || exit 1; done
	$(BIN)/python benchmarks/report.py

test-slow: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -m slow

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# The docker-compose cluster for real (needs Docker; see docs/compose.md): build the image from a
# wheelhouse made here, start a scheduler and two workers, train from a client container, run
# notebook 4, kill a worker mid-fit, stop. Then the TLS variant (docker-compose.tls.yml):
# certificates made here, train over tls://, and a task on each worker finds no key but its
# own. Then the S3 variant (docker-compose.s3.yml, for trying only): no folder shared, data,
# checkpoint, model and predictions in a bucket of moto's S3 test server. BASE_IMAGE picks the
# base (python:3.11-slim).
compose-test: | $(BIN)/python
	VENV=$(VENV) scripts/compose-test.sh
	VENV=$(VENV) COMPOSE_TLS=1 scripts/compose-test.sh
	VENV=$(VENV) COMPOSE_S3=1 scripts/compose-test.sh
