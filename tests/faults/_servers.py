"""Real servers for the fault tests: uvicorn or gunicorn on 127.0.0.1, in their own session.

Each server runs in a new session (``start_new_session``), so teardown can kill its whole
process group (workers and compute processes included) with ``killpg``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests._server import free_port, server_process, wait_ready

BIN = Path(sys.executable).parent


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]


def _command(kind: str, port: int, workers: int) -> list[str]:
    if kind == "uvicorn":
        return [
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
            "--timeout-graceful-shutdown",
            "30",
        ]
    return [
        str(BIN / "gunicorn"),
        "app.main:app",
        "--config",
        "python:app.http.gunicorn_conf",
        "--worker-class",
        "app.http.server.UvicornWorker",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-tmp-dir",
        "/dev/shm",
        "--no-control-socket",
        "--workers",
        str(workers),
        "--graceful-timeout",
        "30",
        "--log-level",
        "warning",
    ]


@contextmanager
def serve(kind: str, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[Server]:
    """Start ``kind`` ("uvicorn" or "gunicorn") with worker processes for the compute."""
    port = free_port()
    environ = {"RMT_EXECUTOR": "process", "RMT_WORKERS": "2", "RMT_ACCESS_LOG": "false"}
    with server_process(_command(kind, port, workers), environ | (env or {})) as proc:
        server = Server(f"http://127.0.0.1:{port}", proc)
        wait_ready(server.base, proc)
        yield server


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def compute_workers(pid: int) -> list[int]:
    """The process-pool children of a server process (not multiprocessing's tracker)."""
    return [c for c in children(pid) if "spawn_main" in cmdline(c)]


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, seconds: float, step: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
