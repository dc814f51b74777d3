"""Sweeps through the SDK and ``rmtservice sweep``: a real uvicorn on 127.0.0.1 with
``RMT_DASK_SCHEDULER`` pointing at the test cluster, and a LocalClient on it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmtservice.client import Client, LocalClient, ServiceError
from rmtservice.client.cli import main
from tests._server import uvicorn

UNIFORM = {"kind": "uniform", "low": -1.0, "high": 1.0}


@pytest.fixture(scope="module")
def url(cluster: Any) -> Iterator[str]:
    with uvicorn({"RMT_DASK_SCHEDULER": cluster.scheduler_address}) as base:
        yield base


def test_client_starts_waits_and_plots(url: str) -> None:
    seen: list[tuple[int, int]] = []
    with Client(url) as c:
        started = c.sweep(measure=UNIFORM, sigma2=1.0, sizes=[50, 100], trials=2, seed=3)
        assert started.state == "queued" and started.seed == 3
        done = c.wait_sweep(started.id, poll=0.1, progress=lambda d, t: seen.append((d, t)))
        assert done.state == "done" and done.progress.done == 4
        assert seen[-1] == (4, 4) and all(t == 4 for _, t in seen)
        assert c.sweep_plot(started.id).startswith(b"\x89PNG")
        with_rows = c.sweep_status(started.id, trials=True)
        assert with_rows.trials is not None and len(with_rows.trials) == 4
        with pytest.raises(ServiceError) as err:
            c.sweep_status("f" * 32)
        assert err.value.status == 404


def test_local_client_gives_the_same_statistics(url: str, cluster: Any) -> None:
    """The same sweep through the service and locally: the same numbers (same seeds)."""
    fields = {"measure": UNIFORM, "sigma2": 1.0, "sizes": [40, 80], "trials": 2, "seed": 8}
    with Client(url) as remote:
        far = remote.wait_sweep(remote.sweep(**fields).id, poll=0.1)
    with LocalClient(dask_scheduler=cluster.scheduler_address) as local:
        near = local.wait_sweep(local.sweep(**fields).id, poll=0.1)
        with pytest.raises(ServiceError) as err:
            local.sweep(**fields | {"sizes": [80, 40]})
        assert err.value.status == 422
    assert far.id != near.id
    for a, b in zip(far.sizes, near.sizes, strict=True):
        assert a.kolmogorov is not None and b.kolmogorov is not None
        assert a.kolmogorov.mean == pytest.approx(b.kolmogorov.mean, abs=1e-12)


def test_cli_sweep_on_the_service(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "sweep.svg"
    argv = ["sweep", "--uniform", "-1", "1", "--sigma2", "1", "--spikes", "3"]
    argv += ["--sizes", "50:150:50", "--trials", "2", "--seed", "5", "--url", url]
    code = main([*argv, "-o", str(picture)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "done, 6/6 tasks, seed 5" in out.out
    assert "rates: log error = a + rate log n" in out.out
    assert "tasks" in out.err and "sweeping [" not in out.err  # no frames off a terminal
    assert picture.read_bytes().lstrip().startswith(b"<?xml")
    # --plot, the flag's old name, still writes the picture
    picture.unlink()
    assert main([*argv, "--plot", str(picture)]) == 0
    assert picture.read_bytes().lstrip().startswith(b"<?xml")
    capsys.readouterr()
    # large enough not to end before it is cancelled (an ended sweep stays as it ended)
    big = ["sweep", "--uniform", "-1", "1", "--sigma2", "1", "--sizes", "1000:2000:1000"]
    code = main([*big, "--trials", "4", "--seed", "5", "--url", url, "--detach", "--json"])
    detached = json.loads(capsys.readouterr().out)
    assert code == 0 and detached["state"] in ("queued", "running")
    # without --json: the id alone on stdout (ID=$(rmtservice sweep ... --detach))
    code = main([*big, "--trials", "1", "--seed", "6", "--url", url, "--detach"])
    out = capsys.readouterr()
    assert code == 0 and re.fullmatch(r"[0-9a-f]{32}\n", out.out), out.out
    assert main(["sweep-cancel", out.out.strip(), "--url", url]) == 0
    capsys.readouterr()
    code = main(["sweep-cancel", detached["id"], "--url", url])
    assert code == 0 and "cancelled" in capsys.readouterr().out
    code = main(["sweep-status", detached["id"], "--url", url, "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["state"] == "cancelled"
    assert main(["sweep-status", "0" * 32, "--url", url]) == 2
    assert "no sweep" in capsys.readouterr().err


def test_cli_refuses_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--point", "0", "--sigma2", "1", "--sizes", "100:50:0"])
    assert exc.value.code == 2
    assert "START:STOP:STEP" in capsys.readouterr().err


def test_cli_local_sweep_starts_its_own_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --url: a LocalCluster of --workers processes on 127.0.0.1, then stopped."""
    argv = ["sweep", "--semicircle", "0", "1", "--sigma2", "0.5", "--sizes", "30,60"]
    code = main([*argv, "--trials", "2", "--seed", "1", "--workers", "1", "--json", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert result["state"] == "done" and result["progress"]["total"] == 4
    assert out.err == ""
