# rmtservice: the HTTP service (app.main:app) under gunicorn with uvicorn workers.
#
#   docker build -t rmtservice .          # dependencies from PyPI, as locked
#   docker run --rm -p 127.0.0.1:8000:8000 rmtservice
#
# Build arguments:
#   BASE_IMAGE  a Python 3.11 image with `python3 -m venv` (the official slim one by default;
#               `make container-check` builds a Debian one with debootstrap when it cannot pull)
#   OFFLINE     non-empty: pip installs only from the wheels in build/wheels, with no network
#               (`make container-check` downloads them there); empty (the default): from PyPI
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# scripts/container-check.sh removes this stage's image by its label once the build is done
LABEL org.opencontainers.image.title="rmtservice-build"
ARG OFFLINE=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The locked versions (requirements/service.lock, with hashes), and the wheels of
# build/wheels when it exists: next to a file that does, a wildcard that matches nothing
# is no error (for docker and buildah alike).
COPY requirements/service.lock build/wheel[s] /wheels/
# First the dependencies, exactly as locked for the service: this layer is rebuilt only
# when the lock changes, not with every change of the code.
RUN if [ -n "$OFFLINE" ]; then printf '[global]\nno-index = true\nfind-links = /wheels\n' >/etc/pip.conf; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /wheels/service.lock
COPY pyproject.toml README.md ./
COPY app app
COPY rmtservice rmtservice
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /dist .
# The documentation site, when it is built (`make docs`; `make container-check` builds
# it): README.md beside it lets the wildcard match nothing.
COPY README.md build/sit[e] /site/
RUN rm /site/README.md

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="rmtservice" \
      org.opencontainers.image.description="Spectra of large deformed Wigner matrices H + W: REST service" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --gid 10001 rmt \
    && useradd --uid 10001 --gid rmt --no-log-init --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin rmt
# The dependencies, then the project's own wheel: a change of the code alone makes a new
# small layer, not a new copy of the whole environment.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /dist /tmp/dist
COPY --from=build /site /opt/docs-site
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --disable-pip-version-check /tmp/dist/*.whl \
    && rm -r /tmp/dist
# WEB_CONCURRENCY: gunicorn's number of worker processes. Each one also runs RMT_WORKERS
# computations at once (app/settings.py); the other RMT_* variables set the limits.
# Sweeps: the workers share one local Dask cluster on 127.0.0.1:RMT_DASK_LOCAL_PORT,
# started by gunicorn's master (app/http/gunicorn_conf.py), so that it outlives any worker;
# RMT_DASK_SCHEDULER=tcp://host:8786 uses a real one.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEB_CONCURRENCY=2 \
    RMT_DASK_LOCAL_PORT=8786 \
    RMT_DOCS_SITE_DIR=/opt/docs-site
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# More gunicorn options without a new image: GUNICORN_CMD_ARGS="--timeout 60 ...".
# No control socket (gunicornc): the container runtime starts and stops the service.
CMD ["gunicorn", "app.main:app", "--worker-class", "app.http.server.UvicornWorker", \
     "--config", "python:app.http.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "--no-control-socket"]
