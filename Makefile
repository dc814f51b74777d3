# Two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: serve test test-fast openapi bench bench-sim lint install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[server,test,lint]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(PY) -m uvicorn app.main:app --host 127.0.0.1 --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

openapi: $(STAMP)
	$(PY) -m app.export_openapi openapi/openapi.json

bench: $(STAMP)
	$(PY) bench/bench_density.py
	$(PY) bench/bench_simulate.py

bench-sim: $(STAMP)
	$(PY) bench/bench_simulate.py

lint: $(STAMP)
	$(VENV)/bin/ruff check app rmtservice tests bench
	$(VENV)/bin/ruff format --check app rmtservice tests bench
	$(VENV)/bin/mypy app rmtservice

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
