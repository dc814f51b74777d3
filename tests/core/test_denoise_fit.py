"""denoise without sigma2: the spectrum is fitted and the fit's level, centre and verdict used."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rmtservice.denoise import denoise
from rmtservice.errors import InvalidParameter
from rmtservice.fit import fit


def _low_rank(n: int, p: int, s2: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.zeros((n, p))
    s[0, 0], s[1, 1] = 4.0 * np.sqrt(s2), 3.0 * np.sqrt(s2)
    return s + np.sqrt(s2 / n) * rng.standard_normal((n, p))


def test_fitted_level_is_the_fits_and_close_to_the_truth() -> None:
    y = _low_rank(400, 200, 2.5, 0)
    d = denoise(y, seed=1)
    assert d.fit is not None
    f = fit(matrix=y, seed=1)
    # the same fit as the library's own from the matrix
    assert_allclose(d.sigma2, f.sigma2, rtol=1e-12)
    assert d.fit.rank == f.rank == 2
    assert [o.index for o in d.fit.outliers] == [o.index for o in f.outliers]
    assert_allclose(d.sigma2, 2.5, rtol=0.05)  # fit accuracy at 400 x 200 (MATH.md 8)
    assert d.method == "shrink" and d.rank == 2
    assert d.shrinkage.noise_bulk is d.fit.verdict.noise_plus_spikes is True
    assert "fitted" in d.reason


def test_fitted_denoise_equals_denoise_at_the_fitted_level() -> None:
    y = _low_rank(300, 300, 1.0, 2)
    d = denoise(y, seed=3, output="matrix", model="rectangular")
    assert d.fit is not None
    again = denoise(y, d.fit.sigma2, output="matrix", model="rectangular", noise_bulk=True)
    assert d.matrix is not None and again.matrix is not None
    assert_allclose(d.matrix, again.matrix, rtol=0, atol=1e-12)


def test_wigner_uses_the_fitted_centre() -> None:
    rng = np.random.default_rng(4)
    n = 300
    g = rng.standard_normal((n, n))
    m = (g + g.T) / np.sqrt(2 * n) + 0.7 * np.eye(n)
    m[0, 0] += 4.0
    d = denoise(m, seed=5)
    assert d.fit is not None and d.model == "wigner"
    assert d.centre == d.fit.center
    assert_allclose(d.centre, 0.7, atol=0.05)
    assert d.fit.rank == d.shrinkage.spikes == 1


def test_known_sigma2_fit_only_on_request() -> None:
    y = _low_rank(200, 100, 1.0, 6)
    assert denoise(y, 1.0).fit is None
    d = denoise(y, 1.0, with_fit=True, seed=0)
    assert d.fit is not None
    assert d.fit.sigma2 == 1.0 and d.fit.sigma2_interval.method == "given"
    assert d.reason == denoise(y, 1.0).reason  # the known level decides, as before


def test_too_small_to_fit() -> None:
    with pytest.raises(InvalidParameter, match="pass sigma2") as info:
        denoise(np.eye(5) + 0.1)
    assert info.value.field == "matrix"
    denoise(np.eye(5) + 0.1, 1.0)  # with the level known it is fine


def test_no_fit_without_sigma2_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="with_fit") as info:
        denoise(np.ones((20, 10)), with_fit=False)
    assert info.value.field == "sigma2"
