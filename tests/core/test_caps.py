"""Every iteration cap raises NoConvergence when reached (none ends silently)."""

from __future__ import annotations

import numpy as np
import pytest

import rmtservice as rs
from rmtservice._solve import bracketed_newton
from rmtservice.density import _inside_fallback, _v_of_u
from rmtservice.measures import _bisect_quantile, _invert_cdf


def _line(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x - 0.3, np.ones_like(x)


def test_bracketed_newton_cap() -> None:
    lo, hi, x0 = np.zeros(2), np.ones(2), np.full(2, 0.9)
    root = bracketed_newton(_line, lo, hi, x0, increasing=True)
    np.testing.assert_allclose(root, 0.3, rtol=0, atol=1e-15)
    # one Newton step lands on the root, but it takes a second to see it
    with pytest.raises(rs.NoConvergence, match="cap of 1 steps"):
        bracketed_newton(_line, lo, hi, x0, increasing=True, maxiter=1)


def test_invert_cdf_cap() -> None:
    p = np.array([0.25, 0.5])
    x = _invert_cdf(lambda x: x, p, 0.0, 1.0, np.ones_like)
    np.testing.assert_allclose(x, p, rtol=0, atol=1e-15)
    with pytest.raises(rs.NoConvergence, match="cap of 1 steps"):
        _invert_cdf(lambda x: x, p, 0.0, 1.0, np.ones_like, maxiter=1)


def test_bisect_quantile_cap() -> None:
    p = np.array([0.5])
    law = rs.Mixture([(0.5, rs.Uniform(-1, 0)), (0.5, rs.Uniform(0, 1))])
    # a quantile at 0 converges (an absolute floor), well within the cap
    np.testing.assert_allclose(_bisect_quantile(law.cdf, p, -1.0, 1.0), 0.0, atol=1e-15)
    np.testing.assert_allclose(law.quantile(p), 0.0, atol=1e-15)
    with pytest.raises(rs.NoConvergence, match="cap of 3 steps"):
        _bisect_quantile(law.cdf, p, -1.0, 1.0, maxiter=3)


def test_v_of_u_cap() -> None:
    point, u = rs.Point(0.0), np.array([0.5])
    # Im omega on the semicircle of variance 1: between 0 and the bracket's top
    assert 0 < _v_of_u(point, 1.0, u, 2.0)[0] < 2
    with pytest.raises(rs.NoConvergence, match="cap of 2 steps"):
        _v_of_u(point, 1.0, u, 2.0, maxiter=2)


def test_inside_fallback_cap() -> None:
    point = rs.Point(0.0)
    sup = rs.support(point, 1.0)
    k, x = np.array([0]), np.array([0.1])
    w = _inside_fallback(point, 1.0, sup, k, x)
    # for nu = delta_0 and sigma2 = 1, Im omega = Im f = pi rho
    np.testing.assert_allclose(w.imag / np.pi, rs.density(point, 1.0, x), rtol=1e-12)
    with pytest.raises(rs.NoConvergence, match="cap of 2 steps"):
        _inside_fallback(point, 1.0, sup, k, x, maxiter=2)
