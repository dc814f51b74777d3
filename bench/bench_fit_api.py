"""Benchmark of ``POST /v1/fit``: the library's fit against the same fit through HTTP.

The spectrum of a 4096 x 4096 symmetric noise matrix plus three spikes (``sigma2 = 1``),
and the singular values of a 4096 x 1024 one, fitted by ``rmtservice.fit.fit`` in this
process and by the service: in process over httpx's ASGI transport (parsing and
validation, no socket) and by a real uvicorn on loopback (``executor=process``, the
default: the JSON of 4096 numbers each way, a worker process's round trip). The HTTP
overhead is the difference of the medians; ratios are to the library, measured in the
same process, interleaved (the machine is shared and noisy).

Run: ``python bench/bench_fit_api.py`` (``--repeats N``, default 15).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from rmtservice.fit import fit  # noqa: E402
from rmtservice.fit._replicates import wigner_spectrum, wishart_spectrum  # noqa: E402
from tests._server import uvicorn  # noqa: E402


def cases() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(0)
    ev = wigner_spectrum(4096, rng)
    ev[-3:] = [2.5, 3.0, 4.0]
    sv = np.sqrt(wishart_spectrum(4096, 1024, rng))
    sv[-2:] = [2.2, 3.0]
    return {
        "wigner 4096 x 4096": {"eigenvalues": ev.tolist()},
        "rectangular 4096 x 1024": {
            "singular_values": sv.tolist(),
            "shape": {"rows": 4096, "cols": 1024},
        },
    }


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm (caches, imports, the worker process)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def kwargs_of(body: dict[str, Any]) -> dict[str, Any]:
    """The library's arguments for a request body."""
    kwargs = dict(body)
    if "shape" in kwargs:
        kwargs["shape"] = (kwargs["shape"]["rows"], kwargs["shape"]["cols"])
    return kwargs


def auto_bootstrap(body: dict[str, Any]) -> int:
    """The service's replicates when ``bootstrap`` is left out (50, or what 2e8 allows)."""
    from rmtservice.wire.fit import FitRequest, bootstrap_replicates

    return bootstrap_replicates(FitRequest.model_validate(body))


HEAD = ("case", "library", "ASGI", "ratio", "uvicorn", "ratio", "overhead")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    app = create_app(Settings(executor="thread", access_log=False, log_level="ERROR"))
    loop = asyncio.new_event_loop()
    asgi = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    loop.run_until_complete(app.router.lifespan_context(app).__aenter__())
    rows = []
    env = {"RMT_EXECUTOR": "process", "RMT_WORKERS": "1"}
    with uvicorn(env) as base, httpx.Client(base_url=base, timeout=60) as http:
        for name, body in cases().items():
            payload = body | {"bootstrap": 0}
            kwargs = kwargs_of(payload)
            lib = median_ms(lambda kw=kwargs: fit(**kw), args.repeats)

            def over_asgi(p: dict[str, Any] = payload) -> None:
                r = loop.run_until_complete(asgi.post("/v1/fit", json=p))
                assert r.status_code == 200, r.text

            def over_loopback(p: dict[str, Any] = payload) -> None:
                r = http.post("/v1/fit", json=p)
                assert r.status_code == 200, r.text

            a = median_ms(over_asgi, args.repeats)
            u = median_ms(over_loopback, args.repeats)
            rows.append((name, lib, a, u))
            b = auto_bootstrap(body)
            # a new seed each time: the replicates are cached per (dimensions, count, seed)
            seeds = iter(range(10**6))
            full = kwargs | {"bootstrap": b}
            ms = median_ms(lambda kw=full, it=seeds: fit(**kw, seed=next(it)), 3)
            rows.append((f"{name}, bootstrap {b}", ms, None, None))
    load = os.getloadavg()[0]
    print(f"fit from values, median of {args.repeats} (ms); {os.cpu_count()} CPUs, load {load:.1f}")
    print(f"{HEAD[0]:38s}" + "".join(f"{h:>10s}" for h in HEAD[1:]))
    for name, lib, a, u in rows:
        line = f"{name:38s}{lib:10.1f}"
        if a is not None and u is not None:
            line += f"{a:10.1f}{a / lib:10.2f}{u:10.1f}{u / lib:10.2f}{u - lib:10.1f}"
        print(line)


if __name__ == "__main__":
    main()
