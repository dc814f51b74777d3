"""gunicorn's configuration for the image: the local Dask cluster outside the workers.

Without ``RMT_DASK_SCHEDULER``, a server's worker processes share a local cluster on
``127.0.0.1:RMT_DASK_LOCAL_PORT`` (the image sets 8786). Started by the first worker to
need it, that cluster, and every sweep's state with it, lived in that one worker
process: gunicorn replacing it (a crash, ``--max-requests``, a timeout) lost every
sweep (404). Here gunicorn's master starts the scheduler and its workers before it forks
its own (``on_starting``), as processes of their own at the compute processes' nice
value, points its workers at them (``RMT_DASK_SCHEDULER``), and stops them when it
exits (``on_exit``): sweeps outlive any server worker.

``gunicorn --config python:app.http.gunicorn_conf ...`` (the image's command). With
``RMT_DASK_SCHEDULER`` set, or ``RMT_DASK_LOCAL_PORT`` unset or 0, it does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.settings import Settings

#: as app.runtime.compute's (not imported: that would load the web stack into gunicorn's master)
WORKER_NICENESS = 10

logger = logging.getLogger("gunicorn.error")

#: the scheduler and worker processes this master started
_cluster: list[subprocess.Popen[bytes]] = []


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    dask = str(Path(sys.executable).parent / "dask")
    return subprocess.Popen(
        [dask, *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        # niced before it runs: every process and thread of the cluster inherits it
        # (the master has no other thread yet: preexec_fn is safe)
        preexec_fn=lambda: os.nice(WORKER_NICENESS),
    )


def on_starting(server: Any) -> None:
    """Start the scheduler and ``dask_workers`` workers on 127.0.0.1 (before any fork)."""
    settings = Settings()
    port = settings.dask_local_port
    if settings.dask_scheduler or not port:
        return
    address = f"tcp://127.0.0.1:{port}"
    threads = str(settings.blas_threads)
    env = os.environ | {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    _cluster.append(
        _start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], env)
    )
    limit = time.monotonic() + 30
    while not _listening(port):
        if time.monotonic() > limit or _cluster[0].poll() is not None:
            on_exit(server)
            raise RuntimeError(f"the Dask scheduler did not start on {address}")
        time.sleep(0.1)
    workers = ["--nworkers", str(settings.dask_workers), "--nthreads", "1", "--no-dashboard"]
    _cluster.append(_start(["worker", address, "--host", "127.0.0.1", *workers], env))
    os.environ["RMT_DASK_SCHEDULER"] = address  # the server's workers connect to it
    logger.info("started a Dask scheduler at %s and %d workers", address, settings.dask_workers)


def on_exit(server: Any) -> None:
    """Stop the cluster: workers first, then the scheduler."""
    for proc in reversed(_cluster):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(_cluster):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    _cluster.clear()
