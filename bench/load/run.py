"""Load test of the production configuration: gunicorn + uvicorn workers under ``wrk``.

Starts ``gunicorn app.main:app --worker-class app.http.server.UvicornWorker`` (2 workers,
the Dockerfile's options) on 127.0.0.1 on a free port, drives a mixed workload with
``wrk`` (one Lua script per endpoint: POST with a JSON body) and prints, per endpoint,
requests/s, p50 and p99 latency, and errors (non-2xx answers + socket errors). The
server is always stopped at the end (its whole process group).

    .venv/bin/python bench/load/run.py                # 30 s, endpoints one after another
    .venv/bin/python bench/load/run.py --concurrent   # all endpoints at once, connections split
    .venv/bin/python bench/load/run.py --concurrent --rate 400   # paced: about 400 req/s in all

Without ``--rate`` every connection sends its next request as soon as the last one is
answered: the server is saturated and the latencies are those of a full queue (with c
connections, the mean latency is c / throughput). With ``--rate R`` each connection
waits a random think time (uniform, mean ``c / R_e`` for an endpoint given ``R_e`` of
the requests per second) before its next request: an offered load below capacity,
whose latencies are those a client sees at that load.

Needs ``wrk`` (Debian: ``apt-get install wrk``). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NOISE = {"sigma2": 1.0}
#: a number in a body that wrk replaces, request by request, by a new one (see LUA_DISTINCT)
VARIED = -1.0000123456789


def _outliers(first: float) -> dict[str, object]:
    values = [first] + [round(-1 + 0.02 * i, 4) for i in range(1, 100)]
    return {
        "measure": {"kind": "atoms", "values": values},
        "noise": NOISE,
        "spikes": [3.0, 2.0, -2.5, 0.5],
    }


#: name -> (path, body, share of the duration, share of the connections); a body holding
#: VARIED is sent with a different number there each time (every request a cache miss)
WORKLOAD: dict[str, tuple[str, dict[str, object], float, float]] = {
    "outliers (100 atoms)": ("/v1/outliers", _outliers(-1.0), 0.2, 0.2),
    "outliers (100, distinct)": ("/v1/outliers", _outliers(VARIED), 0.15, 0.1),
    "density (point, 50 x)": (
        "/v1/density",
        {
            "measure": {"kind": "point", "at": 0.0},
            "noise": NOISE,
            "x": [round(-2.5 + 0.1 * i, 4) for i in range(50)],
        },
        0.15,
        0.25,
    ),
    "density (uniform, 50 x)": (
        "/v1/density",
        {
            "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
            "noise": {"sigma2": 0.25},
            "x": [round(-2.0 + 0.08 * i, 4) for i in range(50)],
        },
        0.15,
        0.15,
    ),
    "stieltjes (10 z)": (
        "/v1/stieltjes",
        {
            "measure": {"kind": "point", "at": 0.0},
            "noise": NOISE,
            "z": {"re": [-3 + 0.6 * i for i in range(10)], "im": [0.1] * 10},
        },
        0.2,
        0.2,
    ),
    "simulate (n=200)": (
        "/v1/simulate",
        {
            "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
            "noise": NOISE,
            "n": 200,
            "spikes": [2.0],
            "seed": 1,
            "top": 3,
        },
        0.15,
        0.1,
    ),
}

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
%s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, "
    .. "\\"max_us\\": %%d, \\"status\\": %%d, \\"socket\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


#: a think time before each request of a connection: uniform on [0, 2 x mean] ms
LUA_DELAY = """
math.randomseed(os.time() + %d)
delay = function()
  return math.random() * %r
end
"""


#: per request: VARIED in the body replaced by VARIED - 1e-9 * (a count of this thread's requests)
LUA_DISTINCT = """
local count = 0
request = function()
  count = count + 1
  local body = string.gsub(wrk.body, "%s", string.format("%%.17g", %r - 1e-9 * count))
  return wrk.format(nil, nil, nil, body)
end
"""


@dataclass
class Row:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, workers: int, executor: str | None) -> subprocess.Popen[bytes]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn),
        "app.main:app",
        "--worker-class",
        "app.http.server.UvicornWorker",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-tmp-dir",
        "/dev/shm",
        "--no-control-socket",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    env = os.environ | {"RMT_ACCESS_LOG": "false", "RMT_LOG_LEVEL": "WARNING"}
    env.pop("RMT_EXECUTOR", None)  # the default (worker processes), as deployed
    if executor:
        env["RMT_EXECUTOR"] = executor
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen[bytes], workers: int, seconds: float) -> None:
    """Until /readyz answers 200 several times in a row (every worker started)."""
    limit = time.monotonic() + seconds
    in_a_row = 0
    while in_a_row < 4 * workers:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        if time.monotonic() > limit:
            raise RuntimeError(f"the server was not ready in {seconds:.0f} s")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                in_a_row = in_a_row + 1 if r.status == 200 else 0
        except OSError:
            in_a_row = 0
            time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # workers and compute processes left behind
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


def check_bodies(base: str, times: int = 20) -> None:
    """Each request of the workload answers 200 before the load (a typo fails fast),
    ``times`` times on fresh connections, so that every server process has seen it."""
    for name, (path, body, _, _) in WORKLOAD.items():
        for _ in range(times):
            request = urllib.request.Request(
                base + path,
                data=json.dumps(body).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as r:
                if r.status != 200:
                    raise RuntimeError(f"{name}: {r.status}")


def wrk(
    base: str,
    name: str,
    seconds: float,
    connections: int,
    scripts: Path,
    rate: float | None = None,
) -> subprocess.Popen[str]:
    """``wrk`` on one endpoint; with ``rate`` (requests/s over its connections) each
    connection thinks a random time of mean ``connections / rate`` between requests."""
    path, body, _, _ = WORKLOAD[name]
    script = scripts / f"{abs(hash(name))}.lua"
    text = json.dumps(body)
    varied = repr(VARIED)
    distinct = LUA_DISTINCT % (varied.replace("-", "%-").replace(".", "%."), VARIED)
    extra = distinct if varied in text else ""
    if rate:
        extra += LUA_DELAY % (len(scripts.name) + len(name), 2000.0 * connections / rate)
    script.write_text(LUA % (text, extra))
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(script),
        base + path,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def collect(name: str, proc: subprocess.Popen[str], seconds: float) -> Row:
    out, _ = proc.communicate(timeout=seconds + 30)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed for {name}:\n{out}")
    r = json.loads(lines[-1].removeprefix("RESULT "))
    return Row(
        name,
        r["requests"],
        r["duration_us"] / 1e6,
        r["p50_us"] / 1e3,
        r["p99_us"] / 1e3,
        r["max_us"] / 1e3,
        r["status"] + r["socket"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load in all")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--concurrent", action="store_true", help="all endpoints at once (connections split)"
    )
    parser.add_argument(
        "--executor", choices=["process", "thread"], help="RMT_EXECUTOR (default: unset)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="with --concurrent: about this many requests/s in all, split like the "
        "connections (paced by think times); without it the server is saturated",
    )
    parser.add_argument("--only", help="run only the endpoints whose name contains this")
    args = parser.parse_args()
    if args.only:
        for name in [n for n in WORKLOAD if args.only not in n]:
            del WORKLOAD[name]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, args.workers, args.executor)
    rows: list[Row] = []
    try:
        wait_ready(base, proc, args.workers, 90)
        check_bodies(base)
        with tempfile.TemporaryDirectory() as tmp:
            scripts = Path(tmp)
            if args.concurrent:
                total = sum(share for _, _, _, share in WORKLOAD.values())
                running = {
                    name: wrk(
                        base,
                        name,
                        args.duration,
                        max(1, round(args.connections * share)),
                        scripts,
                        args.rate * share / total if args.rate else None,
                    )
                    for name, (_, _, _, share) in WORKLOAD.items()
                }
                rows = [collect(n, p, args.duration) for n, p in running.items()]
            else:
                for name, (_, _, share, _) in WORKLOAD.items():
                    seconds = args.duration * share
                    rows.append(
                        collect(name, wrk(base, name, seconds, args.connections, scripts), seconds)
                    )
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode} during the load")
    finally:
        stop_server(proc)
    mode = "concurrent" if args.concurrent else "sequential"
    if args.concurrent and args.rate:
        mode += f", paced at about {args.rate:.0f} req/s in all"
    print(
        f"\ngunicorn, {args.workers} uvicorn workers, {args.connections} connections, "
        f"{mode}, {args.duration:.0f} s, RMT_EXECUTOR={args.executor or '(default)'}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'endpoint':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for row in rows:
        print(
            f"{row.name:<26}{row.rate:>9.0f}{row.p50_ms:>9.1f}{row.p99_ms:>9.1f}"
            f"{row.max_ms:>9.1f}{row.errors:>8d}"
        )
    return 1 if any(row.errors for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
