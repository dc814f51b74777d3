"""The committed spec generates working clients in other languages (issue #5).

Python: openapi-python-client generates a client from openapi/openapi.json (warnings are
failures), which then calls a real uvicorn; its numbers must be the core's. TypeScript:
openapi-typescript generates the types and ``tsc --noEmit --strict`` checks
clients/ts/usage.ts against them (its ``@ts-expect-error`` lines also check that wrong
requests do not type-check). ``make clients`` does the same into build/clients/.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import rmtservice as rs
from rmtservice.fit import fit as rs_fit
from tests._server import uvicorn

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
PYTHON_CONFIG = ROOT / "scripts" / "openapi-python-client.yaml"
TS_DIR = ROOT / "clients" / "ts"
PACKAGE = "rmtservice_client"


def run(command: list[str], *, cwd: Path, timeout: float) -> str:
    """Run ``command``; fail the test with its output unless it exits 0."""
    # The generator's post hooks (ruff) and npm's scripts are looked up on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=os.environ | {"PATH": path, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command[0]} did not finish in {timeout} s: {exc.output}")
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {done.returncode}:\n{output}")
    return output


# --- Python -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated client package, imported from a temporary directory."""
    if importlib.util.find_spec("openapi_python_client") is None:
        pytest.fail("openapi-python-client is missing: `make install` (the test extra)")
    out = tmp_path_factory.mktemp("clients") / "python"
    run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(out),
            "--config",
            str(PYTHON_CONFIG),
            "--overwrite",
            "--fail-on-warning",
        ],
        cwd=out.parent,
        timeout=120,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def api(client: ModuleType) -> Iterator[Any]:
    """A generated ``Client`` bound to a real uvicorn."""
    with uvicorn() as base, client.Client(base_url=base, timeout=60.0) as bound:
        yield bound


def endpoint(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def same(values: list[float | None], expected: Any) -> None:
    """Equal to the core's values up to rounding (JSON carries float64 exactly)."""
    assert len(values) == len(expected)
    for got, want in zip(values, np.asarray(expected, dtype=float).tolist(), strict=True):
        assert got is not None
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_python_client_density(api: Any) -> None:
    m = models()
    body = m.DensityRequest(
        measure=m.PointMeasure(kind="point", at=0.0),
        noise=m.Noise(sigma2=1.0),
        x=[0.0, 1.0, 3.0],
    )
    response = endpoint("limit.density_v1_density_post").sync_detailed(client=api, body=body)
    assert response.status_code == 200, response.content
    parsed = response.parsed
    assert isinstance(parsed, m.DensityResponse)
    assert parsed.x == [0.0, 1.0, 3.0]
    assert parsed.density[0] == pytest.approx(1 / math.pi, rel=1e-12)
    same(parsed.density, rs.density(rs.Point(0.0), 1.0, [0.0, 1.0, 3.0]))
    assert [(c.lower, c.upper, c.mass) for c in parsed.support] == [(-2.0, 2.0, 1.0)]
    assert parsed.mean == pytest.approx(0.0, abs=1e-15)
    assert parsed.variance == pytest.approx(1.0, rel=1e-12)


def test_python_client_nested_union_on_grid(api: Any) -> None:
    """A mixture (a discriminated union inside a list inside a union) on a grid."""
    m = models()
    mixture = m.MixtureMeasure(
        kind="mixture",
        components=[
            m.MixtureComponent(weight=1.0, measure=m.PointMeasure(kind="point", at=-2.0)),
            m.MixtureComponent(
                weight=1.0, measure=m.AtomsMeasure(kind="atoms", values=[2.0], weights=None)
            ),
        ],
    )
    body = m.DensityRequest(
        measure=mixture,
        noise=m.Noise(sigma2=0.5),
        grid=m.Grid(start=-3.0, stop=3.0, num=7),
    )
    parsed = endpoint("limit.density_v1_density_post").sync(client=api, body=body)
    assert isinstance(parsed, m.DensityResponse)
    x = np.linspace(-3.0, 3.0, 7)
    same(parsed.x, x)
    same(parsed.density, rs.density(rs.Atoms([-2.0, 2.0]), 0.5, x))


def test_python_client_default_num_with_points(api: Any) -> None:
    """The obvious call, with every default left as generated, must work."""
    m = models()
    body = m.DensityRequest(
        measure=m.PointMeasure(kind="point", at=0.0), noise=m.Noise(sigma2=1.0), x=[0.0]
    )
    response = endpoint("limit.density_v1_density_post").sync_detailed(client=api, body=body)
    assert response.status_code == 200, response.content


def test_python_client_outliers(api: Any) -> None:
    m = models()
    body = m.OutliersRequest(
        measure=m.PointMeasure(kind="point", at=0.0),
        noise=m.Noise(sigma2=1.0),
        spikes=[2.0, 0.5],
    )
    response = endpoint("outliers.outliers_v1_outliers_post").sync_detailed(client=api, body=body)
    assert response.status_code == 200, response.content
    parsed = response.parsed
    assert isinstance(parsed, m.OutliersResponse)
    report = rs.outliers(rs.Point(0.0), 1.0, [2.0, 0.5])
    assert (parsed.thresholds.lower, parsed.thresholds.upper) == pytest.approx(report.thresholds)
    assert len(parsed.outliers) == len(report.outliers) == 2
    for got, want in zip(parsed.outliers, report.outliers, strict=True):
        assert isinstance(got, m.OutlierItem)
        assert (got.spike, got.separated) == (want.spike, want.separated)
        for name in ("location", "slope", "overlap"):
            value, expected = getattr(got, name), getattr(want, name)
            assert (value is None) == (expected is None), name
            if expected is not None:
                assert value == pytest.approx(expected, rel=1e-12), name
    # The semicircle's outlier of a spike 2 > 1 sits at 2 + 1/2; a spike 1/2 has none.
    assert parsed.outliers[0].location == pytest.approx(2.5, rel=1e-12)
    assert parsed.outliers[1].location is None
    assert parsed.outlier_density is None or isinstance(parsed.outlier_density, m.OutlierDensity)


def test_python_client_outlier_density(api: Any) -> None:
    """``spike_law``: a union in a nullable field, and the nullable response object."""
    m = models()
    body = m.OutliersRequest(
        measure=m.PointMeasure(kind="point", at=0.0),
        noise=m.Noise(sigma2=1.0),
        spikes=[],
        spike_law=m.UniformMeasure(kind="uniform", low=1.5, high=2.5),
        grid=m.Grid(start=2.5, stop=3.0, num=5),
    )
    parsed = endpoint("outliers.outliers_v1_outliers_post").sync(client=api, body=body)
    assert isinstance(parsed, m.OutliersResponse), parsed
    assert isinstance(parsed.outlier_density, m.OutlierDensity)
    y = np.linspace(2.5, 3.0, 5)
    same(parsed.outlier_density.x, y)
    expected = rs.pushforward_density(rs.Point(0.0), 1.0, rs.Uniform(1.5, 2.5), y)
    same(parsed.outlier_density.density, expected)


def test_python_client_simulate(api: Any) -> None:
    """Enums and defaults as generated; the same seed gives the core's eigenvalues."""
    m = models()
    body = m.SimulateRequest(
        measure=m.PointMeasure(kind="point", at=0.0),
        noise=m.Noise(sigma2=1.0, distribution=m.NoiseDistribution.GAUSSIAN),
        n=40,
        spikes=[3.0],
        seed=7,
        dtype=m.SimulateRequestDtype.FLOAT64,
        output=m.SimulateRequestOutput.EIGENVALUES,
    )
    parsed = endpoint("simulation.simulate_v1_simulate_post").sync(client=api, body=body)
    assert isinstance(parsed, m.SimulateResponse), parsed
    assert parsed.seed == 7
    expected = rs.simulate(rs.Point(0.0), 1.0, 40, spikes=[3.0], seed=7)
    assert len(parsed.eigenvalues) == 1
    same(parsed.eigenvalues[0], expected.eigenvalues[0])


def test_python_client_problem(api: Any) -> None:
    """A 422 comes back as the documented ``Problem`` model (application/problem+json)."""
    m = models()
    body = m.DensityRequest(
        measure=m.PointMeasure(kind="point", at=0.0),
        noise=m.Noise(sigma2=-1.0),
        x=[0.0],
    )
    response = endpoint("limit.density_v1_density_post").sync_detailed(client=api, body=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.parsed
    assert isinstance(problem, m.Problem)
    assert problem.status == 422
    assert problem.type_.startswith("/problems/")  # "type" is generated as type_
    assert problem.instance == "/v1/density"
    assert problem.errors, problem.detail
    assert any(e.path == "/noise/sigma2" for e in problem.errors)
    assert all(isinstance(e, m.ProblemFieldError) for e in problem.errors)


def test_python_client_info(api: Any) -> None:
    m = models()
    info = endpoint("operations.info_v1_info_get").sync(client=api)
    assert isinstance(info, m.InfoResponse)
    assert info.version == rs.__version__
    assert "point" in info.measure_kinds


def _snake(name: str) -> str:
    """A name as the generator writes it in module names (``a__b`` -> ``a_b``)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def test_python_client_has_every_operation(client: ModuleType) -> None:
    """The generator leaves out, with a mere warning, an operation whose schemas it cannot
    read (POST /v1/fit was once): every operation of the spec must be a module."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    missing = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            name = f"{PACKAGE}.api.{_snake(op['tags'][0])}.{_snake(op['operationId'])}"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:
                missing.append(f"{method.upper()} {path} ({name})")
                continue
            assert callable(module.sync_detailed), name
    assert not missing, missing


def test_python_client_fit(api: Any) -> None:
    """Each of the three inputs of POST /v1/fit, as generated, gives the core's fit; two
    inputs at once are the documented 422 problem."""
    m = models()
    fit_post = endpoint("fit.fit_v1_fit_post")
    rng = np.random.default_rng(11)
    g = rng.standard_normal((60, 60))
    wigner = np.diag([3.0] + [0.0] * 59) + (g + g.T) / np.sqrt(2 * 60)
    tall = rng.standard_normal((80, 30)) / np.sqrt(80)
    tall[0, 0] += 2.5
    singular = np.linalg.svd(tall, compute_uv=False)
    eigenvalues = np.linalg.eigvalsh(wigner)
    cases = [
        (m.FitRequest(eigenvalues=eigenvalues.tolist(), bootstrap=0), {"eigenvalues": eigenvalues}),
        (
            m.FitRequest(
                singular_values=singular.tolist(), shape=m.FitShape(rows=80, cols=30), bootstrap=0
            ),
            {"singular_values": singular, "shape": (80, 30)},
        ),
        (
            m.FitRequest(matrix=m.FitMatrix(entries=tall.tolist()), bootstrap=0),
            {"matrix": tall},
        ),
    ]
    for body, inputs in cases:
        response = fit_post.sync_detailed(client=api, body=body)
        assert response.status_code == 200, response.content
        parsed = response.parsed
        assert isinstance(parsed, m.FitResponse), parsed
        want = rs_fit(**inputs, bootstrap=0)
        assert parsed.model.value == want.model
        assert (parsed.shape.rows, parsed.shape.cols) == want.shape
        assert parsed.sigma2 == pytest.approx(want.sigma2, rel=1e-12)
        assert parsed.edge_threshold == pytest.approx(want.edge_threshold, rel=1e-12)
        assert parsed.rank == want.rank == 1  # the one planted spike
        same([o.spike for o in parsed.outliers], [o.spike for o in want.outliers])
        assert parsed.sigma2_interval_method.value == "asymptotic"

    both = m.FitRequest(
        eigenvalues=eigenvalues.tolist(), matrix=m.FitMatrix(entries=tall.tolist()), bootstrap=0
    )
    response = fit_post.sync_detailed(client=api, body=both)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.parsed
    assert isinstance(problem, m.Problem)
    assert problem.instance == "/v1/fit"
    assert "exactly one of" in problem.detail


# --- TypeScript -------------------------------------------------------------------------


def node_tools() -> Path:
    """clients/ts/node_modules/.bin, installed from the lock file (npm ci) when stale."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the TypeScript check (Node >= 18)")
    bin_dir = TS_DIR / "node_modules" / ".bin"
    stamp = TS_DIR / "node_modules" / ".installed"
    inputs = [TS_DIR / "package.json", TS_DIR / "package-lock.json"]
    fresh = stamp.exists() and all(stamp.stat().st_mtime >= p.stat().st_mtime for p in inputs)
    if not fresh:
        npm = shutil.which("npm")
        assert npm is not None
        run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=TS_DIR,
            timeout=300,
        )
        stamp.touch()
    return bin_dir


def test_typescript_types_check(tmp_path: Path) -> None:
    bin_dir = node_tools()
    schema = tmp_path / "schema.d.ts"
    run(
        [
            str(bin_dir / "openapi-typescript"),
            str(SPEC),
            "--default-non-nullable",
            "false",
            "-o",
            str(schema),
        ],
        cwd=TS_DIR,
        timeout=120,
    )
    text = schema.read_text()
    assert "DensityRequest: {" in text
    assert '"/v1/outliers": {' in text
    # The committed tsconfig, with the types from tmp_path instead of build/clients/ts.
    config = tmp_path / "tsconfig.json"
    config.write_text(
        json.dumps(
            {
                "extends": str(TS_DIR / "tsconfig.json"),
                "compilerOptions": {"paths": {"rmtservice-api": [str(schema)]}},
                "files": [str(TS_DIR / "usage.ts")],
            }
        )
    )
    run(
        [str(bin_dir / "tsc"), "-p", str(config), "--noEmit", "--strict"],
        cwd=tmp_path,
        timeout=120,
    )
