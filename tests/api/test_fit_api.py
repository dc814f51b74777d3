"""POST /v1/fit over HTTP (the real app): the library's numbers, ground truth on
simulated matrices, the deconvolved law through /v1/density, limits and bad input."""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose

from rmtservice.fit import fit as core_fit

from ._support import assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio


def goe(n: int, sigma2: float, rng: np.random.Generator) -> np.ndarray:
    """A Wigner matrix of off-diagonal variance sigma2/n (diagonal 2 sigma2/n)."""
    g = rng.standard_normal((n, n))
    return (g + g.T) * math.sqrt(sigma2 / (2.0 * n))


def spiked_wigner(n: int, sigma2: float, spikes: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = np.zeros(n)
    h[: len(spikes)] = spikes
    return np.diag(h) + goe(n, sigma2, rng)


def spiked_rectangular(rows: int, cols: int, s2: float, spikes: list[float], seed: int) -> Any:
    """Singular values of S + X, X with entries N(0, s2/rows), S = sum theta u v^T."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)) * math.sqrt(s2 / rows)
    for i, theta in enumerate(spikes):
        x[i, i] += theta
    return np.linalg.svd(x, compute_uv=False)


def wigner_eigenvalues(n: int, s2: float, spikes: list[float], seed: int) -> list[float]:
    return np.linalg.eigvalsh(spiked_wigner(n, s2, spikes, seed)).tolist()


def assert_same_fit(wire: dict[str, Any], f: Any) -> None:
    """The wire answer carries the library's numbers exactly (JSON floats round-trip)."""
    assert wire["model"] == f.model
    assert (wire["shape"]["rows"], wire["shape"]["cols"]) == f.shape
    assert wire["sigma2"] == f.sigma2
    assert wire["sigma2_interval"] == [f.sigma2_interval.lower, f.sigma2_interval.upper]
    assert wire["sigma2_interval_method"] == f.sigma2_interval.method
    assert wire["bulk"] == {"lower": f.bulk.lower, "upper": f.bulk.upper}
    assert wire["edge_threshold"] == f.edge_threshold
    assert wire["lower_edge_threshold"] == f.lower_edge_threshold
    assert wire["rank"] == f.rank == len(wire["outliers"])
    for item, o in zip(wire["outliers"], f.outliers, strict=True):
        assert item == {k: getattr(o, k) for k in item}
    assert wire["goodness_of_fit"]["ks"] == f.goodness_of_fit.ks
    assert wire["goodness_of_fit"]["p_value"] == f.goodness_of_fit.p_value
    assert wire["verdict"] == {
        "noise_plus_spikes": f.verdict.noise_plus_spikes,
        "message": f.verdict.message,
    }
    assert wire["tail"]["exponent"] == f.tail.exponent
    assert wire["seed"] == f.seed


# ----------------------------------------------------------- the library's numbers


async def test_eigenvalues_give_the_librarys_fit(client: httpx.AsyncClient) -> None:
    ev = wigner_eigenvalues(300, 0.7, [3.0, -2.6], seed=1)
    r = await client.post("/v1/fit", json={"eigenvalues": ev, "bootstrap": 20, "seed": 4})
    assert r.status_code == 200, r.text
    out = r.json()
    assert_same_fit(out, core_fit(eigenvalues=ev, bootstrap=20, seed=4))
    assert out["bootstrap"] == 20 and out["confidence"] == 0.95
    assert out["deconvolved"] is None
    assert {o["index"] for o in out["outliers"]} == {0, 299}  # the input's positions


async def test_singular_values_give_the_librarys_fit(client: httpx.AsyncClient) -> None:
    sv = spiked_rectangular(400, 200, 1.3, [3.5], seed=2).tolist()
    body = {"singular_values": sv, "shape": {"rows": 400, "cols": 200}, "alpha": 0.05}
    r = await client.post("/v1/fit", json=body | {"seed": 9, "confidence": 0.9})
    assert r.status_code == 200, r.text
    out = r.json()
    f = core_fit(singular_values=sv, shape=(400, 200), alpha=0.05, confidence=0.9, seed=9)
    assert_same_fit(out, f)
    o = out["outliers"][0]
    assert o["overlap"] is None and 0 < o["left_overlap"] < 1 and 0 < o["right_overlap"] < 1


async def test_a_symmetric_matrix_is_wigner_and_a_tall_one_rectangular(
    client: httpx.AsyncClient,
) -> None:
    m = spiked_wigner(120, 1.0, [4.0], seed=3)
    r = await client.post("/v1/fit", json={"matrix": {"entries": m.tolist()}, "bootstrap": 0})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == "wigner" and out["sigma2_interval_method"] == "asymptotic"
    assert_same_fit(out, core_fit(matrix=m, bootstrap=0))
    assert out["outliers"][0]["index"] == 0  # a matrix's values are listed largest first
    tall = np.random.default_rng(4).standard_normal((90, 30)) / math.sqrt(90)
    r = await client.post("/v1/fit", json={"matrix": {"entries": tall.tolist()}, "seed": 1})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "rectangular" and r.json()["shape"] == {"rows": 90, "cols": 30}
    body = {"matrix": {"entries": m.tolist()}, "model": "rectangular", "bootstrap": 0}
    r = await client.post("/v1/fit", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "rectangular"


# -------------------------------------------------------------------- ground truth


async def test_noise_and_two_spikes_through_http(client: httpx.AsyncClient) -> None:
    """A 400 x 400 symmetric matrix, sigma2 = 0.5 and spikes 2.5 and -2 (thresholds
    +-0.71): both found, at their spikes within a few n^(-1/2), sigma2 within 3 %,
    the interval covering it, the verdict noise plus spikes."""
    n, s2, spikes = 400, 0.5, [2.5, -2.0]
    m = spiked_wigner(n, s2, spikes, seed=11)
    r = await client.post("/v1/fit", json={"matrix": {"entries": m.tolist()}, "seed": 2})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rank"] == 2
    found = sorted(o["spike"] for o in out["outliers"])
    assert_allclose(found, sorted(spikes), atol=3 / math.sqrt(n))
    assert_allclose(out["sigma2"], s2, rtol=0.03)
    lo, hi = out["sigma2_interval"]
    assert lo < s2 < hi
    assert out["verdict"]["noise_plus_spikes"] is True
    assert out["bulk"]["upper"] < out["edge_threshold"] < max(o["value"] for o in out["outliers"])


async def test_rectangular_spikes_through_http(client: httpx.AsyncClient) -> None:
    """1000 x 500, s2 = 1 (threshold c^(1/4) = 0.84): spikes 3 and 1.5 found within a
    few n^(-1/2), sigma2 within 2 %."""
    sv = spiked_rectangular(1000, 500, 1.0, [3.0, 1.5], seed=5)
    body = {"singular_values": sv.tolist(), "shape": {"rows": 1000, "cols": 500}, "seed": 3}
    r = await client.post("/v1/fit", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rank"] == 2
    assert_allclose([o["spike"] for o in out["outliers"]], [3.0, 1.5], atol=3 / math.sqrt(500))
    assert_allclose(out["sigma2"], 1.0, rtol=0.02)


async def test_deconvolved_law_goes_to_density_and_explains_the_spectrum(
    client: httpx.AsyncClient,
) -> None:
    """Known noise: H uniform on [-1, 1] plus noise sigma2 = 0.25, n = 800. The
    deconvolved atoms, sent back to /v1/density with the same noise, give a law whose
    CDF is within Kolmogorov distance 0.05 of the observed spectrum's."""
    n, s2 = 800, 0.25
    rng = np.random.default_rng(7)
    h = np.linspace(-1, 1, n)
    ev = np.linalg.eigvalsh(np.diag(h) + goe(n, s2, rng))
    body = {"eigenvalues": ev.tolist(), "sigma2": s2, "bootstrap": 0}
    r = await client.post("/v1/fit", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    law = out["deconvolved"]
    assert law["kind"] == "atoms" and out["sigma2_interval_method"] == "given"
    grid = {"start": float(ev.min()) - 0.5, "stop": float(ev.max()) + 0.5, "num": 2000}
    d = await client.post(
        "/v1/density", json={"measure": law, "noise": {"sigma2": s2}, "grid": grid}
    )
    assert d.status_code == 200, d.text
    x, rho = np.asarray(d.json()["x"]), np.asarray(d.json()["density"], dtype=float)
    cdf = np.concatenate([[0.0], np.cumsum((rho[1:] + rho[:-1]) / 2 * np.diff(x))])
    assert_allclose(cdf[-1], 1.0, atol=2e-3)
    empirical = np.searchsorted(np.sort(ev), x, side="right") / n
    assert np.max(np.abs(cdf - empirical)) < 0.05


# ---------------------------------------------------------------- limits and info


async def test_info_reports_the_fit_limits(client: httpx.AsyncClient) -> None:
    limits = (await client.get("/v1/info")).json()["limits"]
    for name in ("max_fit_values", "max_fit_matrix_rows", "max_bootstrap"):
        assert name in limits
    assert limits["max_fit_bootstrap_work"] > 0


async def test_noise_far_too_small_leaves_a_bulk(client: httpx.AsyncClient) -> None:
    """Known sigma2 far below the spread: at most half of the values are outliers, on
    both sides together (both sides once took half each: no bulk, a 500), and the
    verdict says it is not noise plus spikes."""
    r = await client.post("/v1/fit", json={"eigenvalues": EV, "sigma2": 1e-300})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rank"] == len(EV) // 2 and out["goodness_of_fit"]["bulk_values"] == len(EV) // 2
    assert out["verdict"]["noise_plus_spikes"] is False


async def test_bootstrap_left_out_fits_the_work_limit() -> None:
    """50 replicates of 200 values cost 2e6; with a limit of 1e6 the fit takes 25, with
    3e5 none (fewer than 10 fit): the interval is then the asymptotic one."""
    ev = wigner_eigenvalues(200, 1.0, [], seed=6)
    for work, replicates, method in [(10**6, 25, "bootstrap"), (3 * 10**5, 0, "asymptotic")]:
        async with serve(max_fit_bootstrap_work=work) as c:
            r = await c.post("/v1/fit", json={"eigenvalues": ev, "seed": 1})
            assert r.status_code == 200, r.text
            assert r.json()["bootstrap"] == replicates
            assert r.json()["sigma2_interval_method"] == method
            r = await c.post("/v1/fit", json={"eigenvalues": ev, "bootstrap": 50})
            body = assert_problem(r, 422, "limit-exceeded", "max_fit_bootstrap_work")
            assert field_paths(body) == ["/bootstrap"]


async def test_sizes_over_the_limits_are_refused() -> None:
    ev = wigner_eigenvalues(60, 1.0, [], seed=8)
    async with serve(max_fit_values=50, max_fit_matrix_rows=20, max_bootstrap=30) as c:
        r = await c.post("/v1/fit", json={"eigenvalues": ev})
        assert field_paths(assert_problem(r, 422, "limit-exceeded", "max_fit_values")) == [
            "/eigenvalues"
        ]
        m = np.zeros((12, 25)).tolist()
        r = await c.post("/v1/fit", json={"matrix": {"entries": m}})
        body = assert_problem(r, 422, "limit-exceeded", "column count 25")
        assert field_paths(body) == ["/matrix/entries/0"]
        r = await c.post("/v1/fit", json={"eigenvalues": ev[:40], "bootstrap": 31})
        assert field_paths(assert_problem(r, 422, "limit-exceeded", "max_bootstrap")) == [
            "/bootstrap"
        ]


# --------------------------------------------------------------------- bad input

EV = [float(v) for v in np.linspace(-2, 2, 30)]
SV = [float(v) for v in np.linspace(0.2, 1.5, 20)]
BAD: list[tuple[str, dict[str, Any], int, str, str, str]] = [
    ("few", {"eigenvalues": EV[:9]}, 422, "validation-error", "/eigenvalues", "at least 10"),
    (
        "few_sv",
        {"singular_values": SV[:9], "shape": {"rows": 9, "cols": 9}},
        422,
        "validation-error",
        "/singular_values",
        "at least 10",
    ),
    (
        "negative_sv",
        {"singular_values": [-0.1, *SV[1:]], "shape": {"rows": 40, "cols": 20}},
        422,
        "validation-error",
        "/singular_values/0",
        "greater than or equal to 0",
    ),
    (
        "shape_mismatch",
        {"singular_values": SV, "shape": {"rows": 40, "cols": 30}},
        422,
        "invalid-parameter",
        "/shape",
        "min(rows, cols) = 30 singular values, got 20",
    ),
    ("no_shape", {"singular_values": SV}, 422, "validation-error", "", "need shape"),
    (
        "shape_alone",
        {"eigenvalues": EV, "shape": {"rows": 30, "cols": 30}},
        422,
        "validation-error",
        "",
        "shape goes with singular_values",
    ),
    (
        "two_inputs",
        {"eigenvalues": EV, "singular_values": SV},
        422,
        "validation-error",
        "",
        "exactly one",
    ),
    ("none", {"alpha": 0.05}, 422, "validation-error", "", "exactly one"),
    (
        "model_alone",
        {"eigenvalues": EV, "model": "wigner"},
        422,
        "validation-error",
        "",
        "model applies to matrix only",
    ),
    (
        "non_square_wigner",
        {"matrix": {"entries": np.eye(12, 15).tolist()}, "model": "wigner"},
        422,
        "invalid-parameter",
        "/matrix",
        "model wigner needs a symmetric matrix",
    ),
    (
        "ragged",
        {"matrix": {"entries": [[0.0] * 12] * 5 + [[0.0] * 11] + [[0.0] * 12] * 6}},
        422,
        "invalid-parameter",
        "/matrix/entries/5",
        "same length",
    ),
    (
        "narrow",
        {"matrix": {"entries": np.zeros((12, 4)).tolist()}},
        422,
        "invalid-parameter",
        "/matrix",
        "at least 10 x 10",
    ),
    (
        "alpha",
        {"eigenvalues": EV, "alpha": 0.6},
        422,
        "validation-error",
        "/alpha",
        "less than or equal to 0.5",
    ),
    (
        "alpha_tiny",
        {"eigenvalues": EV, "alpha": 1e-320},
        422,
        "invalid-parameter",
        "/alpha",
        "alpha must be between 1e-300 and 0.5, got 1e-320",
    ),
    ("sigma2", {"eigenvalues": EV, "sigma2": 0}, 422, "validation-error", "/sigma2", "greater"),
    (
        "bootstrap_few",
        {"eigenvalues": EV, "bootstrap": 5},
        422,
        "invalid-parameter",
        "/bootstrap",
        "at least 10",
    ),
    (
        "deconvolve",
        {"eigenvalues": EV, "deconvolve": True},
        422,
        "invalid-parameter",
        "/sigma2",
        "pass sigma2",
    ),
    (
        "flat",
        {"eigenvalues": [1.0] * 30},
        422,
        "invalid-parameter",
        "/eigenvalues",
        "no spread",
    ),
    (
        "huge",
        {"eigenvalues": [*EV[:-1], 1e200]},
        422,
        "invalid-parameter",
        "/eigenvalues",
        "at most 1e+150",
    ),
    (
        "elongated",
        {"singular_values": SV, "shape": {"rows": 10**300, "cols": 20}},
        422,
        "invalid-parameter",
        "/shape",
        "too elongated",
    ),
    (
        "string",
        {"eigenvalues": [*EV[:-1], "1"]},
        422,
        "validation-error",
        "/eigenvalues/29",
        "valid number",
    ),
    (
        "unknown",
        {"eigenvalues": EV, "values": EV},
        422,
        "validation-error",
        "/values",
        "Extra inputs",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "slug", "path", "detail"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
async def test_bad_input_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, slug: str, path: str, detail: str
) -> None:
    r = await client.post("/v1/fit", json=body)
    problem = assert_problem(r, status, slug)
    text = problem["detail"] + " ".join(e["message"] for e in problem.get("errors") or [])
    assert detail in text, text
    if path:
        assert path in field_paths(problem)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_values_are_refused(client: httpx.AsyncClient, number: str) -> None:
    text = "[" + ", ".join(str(v) for v in EV[:-1]) + f", {number}]"
    r = await client.post(
        "/v1/fit",
        content='{"eigenvalues": ' + text + "}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"
    if r.status_code == 422:
        assert "/eigenvalues/29" in field_paths(r.json())


async def test_the_openapi_examples_are_real_answers(client: httpx.AsyncClient) -> None:
    from app.api.fit import FIT_REQUESTS, FIT_RESPONSES

    for name, example in FIT_REQUESTS.items():
        r = await client.post("/v1/fit", json=example["value"])
        assert r.status_code == 200, (name, r.text)
    shown = FIT_RESPONSES[200]["content"]["application/json"]["examples"]["eigenvalues"]
    r = await client.post("/v1/fit", json=FIT_REQUESTS["eigenvalues"]["value"])
    assert_close(r.json(), shown["value"])


def assert_close(got: Any, want: Any, path: str = "") -> None:
    """Equal structure and text; numbers to a relative 1e-9 (another LAPACK may round
    differently)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for k in want:
            assert_close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-300), path
    else:
        assert got == want, path
