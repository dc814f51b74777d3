"""References for the rectangular tests, independent of the solvers under test.

``moment`` integrates the input law itself (not the squared laws of the core);
``component_integrals`` integrates the core's density (to check masses and moments) by
its own adaptive quadrature; ``symmetrised`` builds ``(nu + nu(-.))/2`` for the
symmetric core, the square case's reference (docs/theory/rectangular.md).
"""

from __future__ import annotations

import math

import numpy as np

import rmtservice as rs
from rmtservice import rectangular as rr


def moment(nu: rs.Measure, k: int) -> float:
    """``E_nu s^k`` for k = 2, 4, independently of the squared laws under test: exact for
    atoms, Gauss-Legendre on the density in the angle of ``s = m + h cos t`` (MP laws:
    their moments in closed form)."""
    if isinstance(nu, rs.Point):
        return nu.at**k
    if isinstance(nu, rs.Atoms):
        return float(nu.weights @ nu.values**k)
    if isinstance(nu, rs.Mixture):
        return sum(w * moment(m, k) for w, m in nu.parts)
    if isinstance(nu, rs.MarchenkoPastur):
        # moments of MP(y, s): s (1), s^2 (1 + y), s^3 (1 + 3y + y^2), s^4 (1 + 6y + 6y^2 + y^3)
        y, s = nu.ratio, nu.scale
        return {2: s * s * (1 + y), 4: s**4 * (1 + 6 * y + 6 * y * y + y**3)}[k]
    lo, hi, _ = nu.components()
    a, b = float(lo[0]), float(hi[-1])
    x, w = np.polynomial.legendre.leggauss(200)
    t = 0.5 * math.pi * (x + 1)
    s = 0.5 * (a + b) - 0.5 * (b - a) * np.cos(t)
    weights = 0.5 * math.pi * w * nu.pdf(s) * 0.5 * (b - a) * np.sin(t)
    return float(weights @ s**k)


_GX, _GW = np.polynomial.legendre.leggauss(10)
_POWERS = np.array([0.0, 2.0, 4.0])


def component_integrals(dens, sup: rr.Support, rtol: float = 1e-10) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``int x^k rho`` for k = 0, 2, 4 over each component, shape (components, 3).

    In ``x = a + (b - a)(1 - cos t)/2`` (square-root edges become smooth), adaptive
    composite Gauss-Legendre in t as in ``_reference.component_moments`` (10 and 2 x 10
    nodes per panel, split where they disagree), all components' panels in one call of
    ``dens`` per round.
    """
    a, b = sup.lower, sup.upper
    scale = np.maximum(b, 1e-300)[:, None] ** _POWERS[None, :]
    owner = np.repeat(np.arange(len(sup)), 16)
    edges = np.linspace(0.0, math.pi, 17)
    lo, hi = np.tile(edges[:-1], len(sup)), np.tile(edges[1:], len(sup))
    total = np.zeros((len(sup), 3))

    def rule(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
        return mid[:, None] + rad[:, None] * _GX, rad[:, None] * _GW

    for _ in range(60):
        if lo.size > 40_000:
            break
        m = 0.5 * (lo + hi)
        parts = [rule(lo, hi), rule(lo, m), rule(m, hi)]
        t = np.concatenate([p[0] for p in parts], axis=1)  # (panels, 30)
        wt = np.concatenate([p[1] for p in parts], axis=1)
        aa, bb = a[owner][:, None], b[owner][:, None]
        x = np.clip(aa + (bb - aa) * 0.5 * (1 - np.cos(t)), aa, bb)
        vals = dens(x.ravel()).reshape(x.shape) * (bb - aa) * 0.5 * np.sin(t) * wt
        mom = vals[:, :, None] * x[:, :, None] ** _POWERS  # (panels, 30, 3)
        one, two = mom[:, :10].sum(axis=1), mom[:, 10:].sum(axis=1)
        err = np.max(np.abs(two - one) / scale[owner], axis=1)
        good = (err <= rtol * np.maximum((hi - lo) / math.pi, 1e-4)) | (hi - lo < 1e-10)
        np.add.at(total, owner[good], two[good])
        if np.all(good):
            return total
        lo, hi, m, owner = lo[~good], hi[~good], m[~good], owner[~good]
        lo, hi, owner = np.concatenate([lo, m]), np.concatenate([m, hi]), np.tile(owner, 2)
    raise AssertionError("quadrature did not converge")


def symmetrised(nu: rs.Measure) -> rs.Measure:
    """(nu + nu(-.))/2 as a core measure (MP laws excepted: no mirrored MP law exists)."""
    if isinstance(nu, rs.Atoms):
        return rs.Atoms(np.concatenate([-nu.values, nu.values]), np.tile(nu.weights, 2))
    if isinstance(nu, rs.Point):
        return rs.Atoms([-nu.at, nu.at])
    if isinstance(nu, rs.Uniform):
        return rs.Mixture([(0.5, nu), (0.5, rs.Uniform(-nu.high, -nu.low))])
    if isinstance(nu, rs.Semicircle):
        return rs.Mixture([(0.5, nu), (0.5, rs.Semicircle(-nu.center, nu.radius))])
    if isinstance(nu, rs.Mixture):
        return rs.Mixture([(w, symmetrised(m)) for w, m in nu.parts])
    raise TypeError(type(nu))


def has_mp(nu: rs.Measure) -> bool:
    if isinstance(nu, rs.Mixture):
        return any(has_mp(m) for _, m in nu.parts)
    return isinstance(nu, rs.MarchenkoPastur)
