"""A real uvicorn serving the app on 127.0.0.1 (a free port), stopped on exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]  # the repository


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(base: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Poll ``/readyz`` until 200; fail if the process exits or ``seconds`` pass."""
    limit = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > limit:
            raise RuntimeError(f"the server was not ready in {seconds:.0f} s")
        time.sleep(0.1)


@contextmanager
def server_process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` from the repository in a new session; on exit SIGTERM, then kill
    whatever is left of its process group (workers and compute processes included)."""
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.wait(timeout=5)


@contextmanager
def uvicorn(env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """Start ``uvicorn app.main:app`` with ``RMT_*`` settings from ``env``; yield its URL."""
    port = port or free_port()
    environ = {"RMT_EXECUTOR": "thread", "RMT_ACCESS_LOG": "false"} | (env or {})
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--http",
        "app.http.server:HeadDeadlineProtocol",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with server_process(command, environ) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        yield base
