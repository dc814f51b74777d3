"""Benchmark: a sweep over n on Dask against the same tasks run one after another here.

The paper's appendix sweeps n from 200 to 3000 in steps of 200. This runs a shorter grid
by default (``--sizes 200:1600:200 --trials 2``; ``--paper`` for 200:3000:200) twice:

- ``sequential``: every ``sweep_trial(n, trial)`` in this process, in order, BLAS with
  its own threads (the baseline), then again with one BLAS thread;
- ``dask``: ``SweepStore.submit`` on a ``LocalCluster`` of ``--workers`` processes of
  one thread each on 127.0.0.1, polled to the end (cluster start-up timed apart).

It prints wall time, tasks per second, the ratio to the baseline, and the largest
difference between the two runs' statistics (the same seeds: it should be at rounding
level, whatever the scheduling).

Run: ``.venv/bin/python bench/bench_sweep.py [--workers 2] [--paper]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rmtservice as rs
from rmtservice.sweeps.statistics import summarize, sweep_trial
from rmtservice.sweeps.store import SweepPlan, SweepStore, local_cluster


def _sizes(text: str) -> list[int]:
    start, stop, step = (int(v) for v in text.split(":"))
    return list(range(start, stop + 1, step))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="200:1600:200", help="START:STOP:STEP")
    ap.add_argument("--paper", action="store_true", help="sizes 200:3000:200")
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    sizes = _sizes("200:3000:200" if args.paper else args.sizes)
    plan = SweepPlan(rs.Uniform(-1.0, 1.0), 1.0, sizes, args.trials, seed=1, spikes=(3.0, 2.0))
    tasks = plan.tasks()

    from threadpoolctl import threadpool_limits

    def loop() -> tuple[float, list]:
        start = time.perf_counter()
        out = [
            sweep_trial(plan.measure, plan.sigma2, n, t, seed=plan.seed, spikes=plan.spikes)
            for n, t in tasks
        ]
        return time.perf_counter() - start, out

    sequential, here = loop()
    with threadpool_limits(1):
        single, _ = loop()

    from distributed import Client

    start = time.perf_counter()
    cluster = local_cluster(args.workers)
    client = Client(cluster, set_as_default=False)
    startup = time.perf_counter() - start
    try:
        store = SweepStore(client)
        start = time.perf_counter()
        sid = store.submit(plan).id
        while (status := store.status(sid)).state not in ("done", "failed", "cancelled"):
            time.sleep(0.2)
        distributed = time.perf_counter() - start
    finally:
        client.close()
        cluster.close()
    assert status.state == "done", status.error

    a, b = summarize(here), summarize(status.results)
    diff = max(
        abs(x.metrics[k].mean - y.metrics[k].mean)  # type: ignore[union-attr]
        for x, y in zip(a.sizes, b.sizes, strict=True)
        for k in ("outlier_error", "edge_error", "kolmogorov")
    )
    rows = [
        ("sequential (baseline)", sequential, 1.0),
        ("sequential, 1 BLAS thread", single, single / sequential),
        (f"dask LocalCluster x{args.workers}", distributed, distributed / sequential),
    ]
    print(
        f"sweep n = {sizes[0]}..{sizes[-1]} ({len(sizes)} sizes) x {args.trials} trials "
        f"= {len(tasks)} tasks; cluster start-up {startup:.2f} s (not included)"
    )
    print(f"{'run':<26}{'time s':>9}{'tasks/s':>9}{'ratio':>8}")
    for name, t, ratio in rows:
        print(f"{name:<26}{t:>9.2f}{len(tasks) / t:>9.2f}{ratio:>8.2f}")
    print(f"largest difference of the per-n means between the runs: {diff:.1e}")
    fits = b.fits
    for k in ("outlier_error", "edge_error", "kolmogorov"):
        f = fits[k]
        if f is not None:
            se = f"{f.rate_stderr:.3f}" if f.rate_stderr is not None else "-"
            print(f"rate {k:<14} {f.rate:+.3f} +- {se} (reference {f.reference:+.3f})")
    assert np.isfinite(diff)


if __name__ == "__main__":
    main()
