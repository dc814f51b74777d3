"""Benchmark: the hostile inputs of issue 13 against the production server.

Parts (``--only`` picks some):

- ``scan``: in this process, :func:`app.http.body.strict_loads` on hostile bodies of 16, 64
  and 1024 KB (the unterminated string of escaped quotes behind 31 brackets that made the
  old regular expression quadratic, runs of backslashes, escapes and brackets inside
  strings, deep arrays, a long array). Ratio: to ``json.loads`` of a valid array of the
  same size, timed in the same process. A shape whose 64 KB case took over a second is
  not tried at 1 MB (the time a quadratic cost predicts is shown instead).
- ``healthz``: gunicorn with 2 ``app.http.server.UvicornWorker`` processes (as in the image);
  ``GET /healthz`` latency, each on a new connection every 20 ms, idle and under each
  attack: two 64 KB bodies of escaped quotes (item 1), six heads of 48 MB (item 2, with
  the servers' memory before and after), three 4 MB bodies of two million atoms and
  three of 20 x 100 000 atoms in a mixture (item 11).
- ``deadline``: four concurrent ``/v1/simulate`` of n = 4000 against the 10 s deadline
  (item 5): when each answer came, its compute time (Server-Timing: from a worker's
  taking it, as the deadline) and its status.

``--repo PATH`` runs the server (and imports ``app``) from another checkout, e.g. the
code before the fix: ``git archive main | tar -x -C /tmp/base`` then
``python bench/bench_attacks.py --repo /tmp/base``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KB = 1024
SHAPES: dict[str, Callable[[int], bytes]] = {
    "escaped quotes": lambda size: b"[" * 31 + b'"' + b'\\"' * (size // 2),
    "backslashes": lambda size: b"[" * 31 + b'"' + b"\\" * size,
    "escapes in strings": lambda size: b"[" * 31 + b'"\\\\\\"[\\\\",' * (size // 10) + b"0]",
    "brackets in strings": lambda size: b"[" * 30 + b'"[{",' * (size // 5) + b"0" + b"]" * 30,
    "deep arrays": lambda size: b"[" * (size // 2) + b"]" * (size // 2),
    "long array": lambda size: b"[" + b"0," * (size // 2) + b"0]",
}


def _best(fn: Callable[[], Any], reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        try:
            fn()
        except Exception:  # refused: what matters is how long it took
            pass
        best = min(best, time.perf_counter() - start)
    return best


def scan() -> None:
    import inspect

    from app.http.body import strict_loads

    takes_items = "max_items" in inspect.signature(strict_loads).parameters

    def loads(body: bytes) -> Any:
        if takes_items:
            return strict_loads(body, 30, 100_000)
        return strict_loads(body, 30)

    print(f"{'shape':22s} {'KB':>5s} {'strict_loads ms':>16s} {'json.loads ms':>14s} {'ratio':>7s}")
    for name, make in SHAPES.items():
        seen: dict[int, float] = {}
        for size in (16 * KB, 64 * KB, 1024 * KB):
            reference = _best(lambda s=size: json.loads(b"[" + b"0," * (s // 2) + b"0]"))
            if size == 1024 * KB and seen.get(64 * KB, 0) > 1.0:
                guess = seen[64 * KB] * (1024 / 64) ** 2
                print(
                    f"{name:22s} {size // KB:5d} {'~' + format(guess, '.0f') + ' s':>16s}"
                    f" {reference * 1000:14.2f}  (not run: quadratic)"
                )
                continue
            body = make(size)
            seconds = _best(lambda b=body: loads(b), reps=1 if seen.get(16 * KB, 0) > 0.1 else 3)
            seen[size] = seconds
            print(
                f"{name:22s} {size // KB:5d} {seconds * 1000:16.2f} {reference * 1000:14.2f}"
                f" {seconds / reference:7.2f}",
                flush=True,
            )


# ------------------------------------------------------------------------ servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(repo: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """The image's command line: gunicorn, 2 uvicorn workers; yields its URL and pid."""
    import httpx

    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "app.main:app",
        "--worker-class",
        "app.http.server.UvicornWorker",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-tmp-dir",
        "/dev/shm",
        "--log-level",
        "warning",
    ]
    environ = os.environ | {"RMT_ACCESS_LOG": "false", "PYTHONPATH": str(repo)} | (env or {})
    proc = subprocess.Popen(
        command,
        cwd=repo,
        env=environ,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        limit = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > limit or proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        time.sleep(2)  # both workers ready
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _rss_mb(pid: int) -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if int(entry.name) == pid or ppid == pid:
            total += int(status.split("VmRSS:")[1].split()[0]) / 1024
    return total


def _probe(base: str, stop: threading.Event, out: list[float]) -> None:
    """GET /healthz on a new connection every 20 ms (a plain socket: an HTTP client's own
    set-up would be most of the time measured)."""
    port = int(base.rpartition(":")[2])
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    while not stop.is_set():
        start = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
            ok = answer.startswith(b"HTTP/1.1 200")
            out.append(time.perf_counter() - start if ok else float("inf"))
        except OSError:
            out.append(float("inf"))
        time.sleep(0.02)


def _send(base: str, path: str, body: bytes) -> str:
    import httpx

    try:
        r = httpx.post(
            f"{base}{path}", content=body, timeout=60, headers={"content-type": "application/json"}
        )
        return str(r.status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


def _send_head(base: str, size: int) -> str:
    port = int(base.rpartition(":")[2])
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: " + b"a" * size + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(head)
            answer = sock.recv(100)
        except OSError as exc:
            return type(exc).__name__
    return answer.split(b"\r\n")[0].decode(errors="replace") or "closed"


def _row(name: str, latencies: list[float], extra: str = "") -> None:
    ok = sorted(v for v in latencies if v != float("inf"))
    failed = len(latencies) - len(ok)
    if not ok:
        print(f"{name:34s} no answer ({failed} failed) {extra}")
        return
    p99 = ok[min(len(ok) - 1, int(0.99 * len(ok)))]
    print(
        f"{name:34s} {len(latencies):6d} {statistics.median(ok) * 1000:8.1f} "
        f"{p99 * 1000:8.1f} {ok[-1] * 1000:9.1f} {failed:5d}  {extra}",
        flush=True,
    )


def _under(base: str, pid: int, name: str, attacks: list[Callable[[], str]]) -> None:
    stop = threading.Event()
    latencies: list[float] = []
    probe = threading.Thread(target=_probe, args=(base, stop, latencies), daemon=True)
    before = _rss_mb(pid)
    probe.start()
    time.sleep(0.3)
    answers: list[str] = []
    start = time.monotonic()
    threads = [threading.Thread(target=lambda a=a: answers.append(a())) for a in attacks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    took = time.monotonic() - start
    time.sleep(0.3)
    stop.set()
    probe.join(timeout=60)
    rss = f"RSS {before:.0f} -> {_rss_mb(pid):.0f} MB" if "head" in name else ""
    _row(name, latencies, f"answers {','.join(sorted(answers))} in {took:.1f} s {rss}")


def healthz(repo: Path) -> None:
    quotes = SHAPES["escaped quotes"](64 * KB)
    atoms = json.dumps(
        {"measure": {"kind": "atoms", "values": [0] * 2_000_000}, "noise": {"sigma2": 1}},
        separators=(",", ":"),
    ).encode()
    part = {"weight": 1, "measure": {"kind": "atoms", "values": [0] * 100_000}}
    mixture = json.dumps(
        {"measure": {"kind": "mixture", "components": [part] * 20}, "noise": {"sigma2": 1}},
        separators=(",", ":"),
    ).encode()
    with gunicorn(repo) as (base, pid):
        columns = f"{'n':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>9s} {'fail':>5s}"
        print(f"{'GET /healthz':34s} {columns}")
        _under(base, pid, "idle", [])
        _under(
            base,
            pid,
            "2 x 64 KB escaped quotes (1)",
            [lambda: _send(base, "/v1/support", quotes)] * 2,
        )
        _under(base, pid, "6 x 48 MB head (2)", [lambda: _send_head(base, 48_000_000)] * 6)
        _under(
            base, pid, "3 x 4 MB, 2M atoms (11)", [lambda: _send(base, "/v1/support", atoms)] * 3
        )
        _under(
            base,
            pid,
            "3 x 4 MB, 20 x 100k atoms (11)",
            [lambda: _send(base, "/v1/support", mixture)] * 3,
        )


def deadline(repo: Path) -> None:
    import httpx

    body = {
        "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
        "noise": {"sigma2": 1.0},
        "n": 4000,
        "seed": 1,
    }
    with gunicorn(repo) as (base, _):
        limit = httpx.get(f"{base}/v1/info").json()["limits"]["deadline_seconds"]
        answers: list[tuple[float, str]] = []
        start = time.monotonic()

        def post() -> None:
            try:
                r = httpx.post(f"{base}/v1/simulate", json=body, timeout=120)
                timing = r.headers.get("server-timing", "compute;dur=nan")
                compute = float(timing.split("compute;dur=")[1].split(";")[0]) / 1000
                what = f"compute {compute:5.1f} s (overshoot {compute - limit:+5.1f} s): "
                answers.append(
                    (time.monotonic() - start, what + f"{r.status_code} {r.json().get('type', '')}")
                )
            except httpx.HTTPError as exc:
                answers.append((time.monotonic() - start, type(exc).__name__))

        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"4 x /v1/simulate n = 4000, deadline {limit:g} s")
        for seconds, what in sorted(answers):
            print(f"  answered after {seconds:5.1f} s, {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--only", default="scan,healthz,deadline")
    args = parser.parse_args()
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    print(f"code from {repo}")
    parts = args.only.split(",")
    if "scan" in parts:
        scan()
    if "healthz" in parts:
        healthz(repo)
    if "deadline" in parts:
        deadline(repo)


if __name__ == "__main__":
    main()
