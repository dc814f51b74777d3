"""The fit's fast paths agree with the direct computations they replace.

- the spikes' linear response (a kernel summed by parts) against the cumulative sum of
  the density change it was defined by;
- the design's central quantiles (Newton from a table) against the law's own quantile;
- the vectorised Tracy-Widom edges of the step-down tests against the scalar functions;
- the stored Tracy-Widom tail against the Fredholm determinant (``tracy_widom.sf``),
  and its coefficients against a rebuild.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rmtservice import tracy_widom as tw
from rmtservice.fit import _api, _tw1_tail
from rmtservice.fit._noise import (
    TRIM,
    UnitLaw,
    _perturbation,
    _response_grid,
    central,
    design,
    response,
)

LAWS = [
    UnitLaw("semicircle"),
    UnitLaw("marchenko_pastur", 1.0),
    UnitLaw("marchenko_pastur", 0.25),
    UnitLaw("marchenko_pastur", 384 / 30522),
]


def _response_by_cumsum(law: UnitLaw, spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition: the density change's mass on each node, its cumulative sum ``H``
    and the quantile fit's shifts ``-int x H dx / Q2`` and ``-int H dx / (1 - 2 TRIM)``."""
    _, x, w, f0, (q2, xa, xb) = _response_grid(law)
    f1 = _perturbation(law, f0, np.abs(spikes) if law.located else spikes)
    eta = f1.imag / math.pi * w
    h = np.cumsum(eta, axis=1) - 0.5 * eta
    inside = (x >= xa) & (x <= xb)
    d_slope = -np.sum((x * w)[inside] * h[:, inside], axis=1) / q2
    d_center = -np.sum(w[inside] * h[:, inside], axis=1) / (1.0 - 2.0 * TRIM)
    if law.located:
        return 2.0 * d_slope, np.sign(spikes) * d_center
    return d_slope, np.zeros_like(d_slope)


@pytest.mark.parametrize("law", LAWS, ids=lambda law: f"{law.kind}-{law.ratio:.3g}")
def test_response_matches_its_cumulative_sum(law: UnitLaw) -> None:
    edge = 2.0 if law.located else (1.0 + math.sqrt(law.ratio)) ** 2
    spikes = edge * np.geomspace(1.0, 200.0, 40)
    if law.located:
        spikes = np.concatenate([spikes, -spikes[:5]])
    got, want = response(law, spikes), _response_by_cumsum(law, spikes)
    scale = np.max(np.abs(want[0]))
    # relative to the largest response: far spikes' responses are themselves tiny
    assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-13 * scale)
    assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-13 * np.max(np.abs(want[1]) + 1e-300))


@pytest.mark.parametrize("law", LAWS, ids=lambda law: f"{law.kind}-{law.ratio:.3g}")
@pytest.mark.parametrize("n", [10, 11, 383, 4096])
def test_design_matches_the_law_quantile(law: UnitLaw, n: int) -> None:
    s = central(n)
    u = (np.arange(s.start, s.stop) + 0.5) / n
    want = law.measure.quantile(u)
    got = design.__wrapped__(law, n)  # not the cache: the fast path itself
    width = float(want[-1] - want[0])
    assert_allclose(got, want, rtol=0, atol=5e-14 * width)
    assert np.all(np.diff(got) > 0)


def test_edges_match_the_scalar_functions() -> None:
    j = np.arange(0, 60)
    fr = _api._Frame("rectangular", 384, 1536, np.arange(384.0), np.arange(384))
    want = [tw.wishart_edge(384 - i, 1536 - i, 0.37 * (384 - i)) for i in j]
    assert_allclose(_api._wishart_edges(fr, 0.37, j), want, rtol=1e-15)
    want = [tw.wigner_edge(500 - 3 - i, 1.3 * (500 - 3 - i) / 500) for i in j]
    assert_allclose(_api._wigner_edges(500, 1.3, 3, j), want, rtol=1e-15)


def test_stored_tail_matches_the_determinant() -> None:
    rng = np.random.default_rng(17)
    s = np.concatenate([rng.uniform(_tw1_tail.LOW, _tw1_tail.HIGH, 200), _tw1_tail.EDGES])
    want = tw.sf(s)
    got = _tw1_tail.sf(s)
    normal = want > 1e-300  # subnormals carry fewer digits
    assert_allclose(got[normal], want[normal], rtol=2e-13)
    assert_allclose(got[~normal], want[~normal], rtol=0, atol=1e-300)
    # past the table the tail is 0 in double precision, as the fit assumes
    assert np.all(tw.sf(np.array([_tw1_tail.HIGH, 150.0, 1e4])) == 0.0)


def test_stored_tail_is_its_rebuild() -> None:
    assert_allclose(_tw1_tail._COEFFICIENTS, _tw1_tail.build(), rtol=0, atol=1e-13)


def test_fit_p_values_are_the_tracy_widom_tail() -> None:
    rng = np.random.default_rng(5)
    rows, cols = 300, 200
    theta = np.array([1.2, 1.5, 2.0, 3.0, 6.0]) * (cols / rows) ** 0.25
    u = np.linalg.qr(rng.standard_normal((rows, theta.size)))[0]
    v = np.linalg.qr(rng.standard_normal((cols, theta.size)))[0]
    y = (u * theta) @ v.T + rng.standard_normal((rows, cols)) / math.sqrt(rows)
    f = _api.fit(y, bootstrap=0)
    assert f.rank >= 3
    _, up, _ = _api._fixed_point(_api._from_matrix(y, None), f.alpha, None)
    direct = np.maximum.accumulate(tw.sf(up.stats))
    assert_allclose([o.p_value for o in f.outliers], direct, rtol=2e-13, atol=1e-300)
