"""The load benchmark's harness (bench/load/run.py) on a short run: the production server
(gunicorn, 2 uvicorn workers) under wrk, the mixed workload paced below capacity.

Not a timed test: it asserts that every request of every endpoint was answered with a
2xx (wrk counts the others as errors) and that the table is whole. The figures
themselves are the benchmark's, in README.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (make wrk)"),
]

ROW = re.compile(
    r"^(?P<name>.+?)\s+(?P<rate>\d+)\s+(?P<p50>[\d.]+)\s+(?P<p99>[\d.]+)\s+[\d.]+\s+(?P<errors>\d+)$"
)


def test_the_mixed_workload_is_answered_without_errors() -> None:
    run = subprocess.run(
        [sys.executable, "bench/load/run.py", "--concurrent", "--rate", "100", "--duration", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {m["name"]: m for m in map(ROW.match, run.stdout.splitlines()) if m}
    assert set(rows) == {
        "outliers (100 atoms)",
        "outliers (100, distinct)",
        "density (point, 50 x)",
        "density (uniform, 50 x)",
        "stieltjes (10 z)",
        "simulate (n=200)",
    }, run.stdout
    for name, row in rows.items():
        assert row["errors"] == "0", name
        assert int(row["rate"]) > 0, name
        assert 0 < float(row["p50"]) <= float(row["p99"]), name
