"""Hard inputs that must work (issue #2): weights from 1e-6 to 1, clusters of nearly
equal atoms, sigma2 from 1e-8 to 1e4, atoms spread over 12 orders of magnitude, a
single atom, 10^5 atoms. Each is checked against a mathematical fact: masses and
moments by integration of the density, closed forms, or an equivalent measure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs

from ._reference import density_moments, semicircle_f


def _check_moments(measure: rs.Measure, s2: float, sup: rs.Support, atol: float = 1e-9) -> None:
    """Integrated component masses equal sup.mass; total 1; mean and variance identities,
    to atol times the extent of the support (its square for the variance): a density at
    |x| ~ 1e6 cannot be located better than eps |x|."""
    mom = density_moments(measure, s2, sup)
    scale = max(1.0, abs(sup.lower[0]), abs(sup.upper[-1]))
    assert_allclose(mom[:, 0], sup.mass, rtol=0, atol=atol)
    total = mom.sum(axis=0)
    assert_allclose(total[0], 1.0, rtol=0, atol=atol)
    assert_allclose(total[1], measure.mean, rtol=0, atol=atol * scale)
    assert_allclose(total[2] - total[1] ** 2, measure.variance + s2, rtol=0, atol=atol * scale**2)


@pytest.mark.parametrize(("s2", "groups"), [(1e-4, [1, 1, 1, 1]), (1.0, [1, 2, 1]), (3.0, [3, 1])])
def test_weights_from_1e_minus_6_to_1(s2: float, groups: list[int]) -> None:
    """Atoms of weights 1e-6, 1, 0.5, 1e-3: at small s2 each atom, even of weight 1e-6,
    has its own component; as s2 grows neighbours merge. A component's mass is the total
    weight of the atoms it covers, returned and integrated."""
    weights = np.array([1e-6, 1.0, 0.5, 1e-3])
    measure = rs.Atoms([-1.0, 0.0, 1.0, 3.0], weights)
    sup = rs.support(measure, s2)
    w = weights / weights.sum()
    expected = np.add.reduceat(w, np.cumsum([0, *groups[:-1]]))
    assert len(sup) == len(groups)
    assert_allclose(sup.mass, expected, rtol=1e-12)
    _check_moments(measure, s2, sup)


def test_cluster_of_nearly_equal_atoms_acts_as_one_atom() -> None:
    """Atoms 1, 1 + 1e-12, 1 + 2e-12 (and one at 3): the limit differs from that of one
    atom of weight 3/4 at 1 + 1e-12 by O(1e-12), both in the edges and the density."""
    s2 = 0.01
    cluster = rs.Atoms([1.0, 1.0 + 1e-12, 1.0 + 2e-12, 3.0])
    merged = rs.Atoms([1.0 + 1e-12, 3.0], [0.75, 0.25])
    sa, sb = rs.support(cluster, s2), rs.support(merged, s2)
    assert len(sa) == len(sb) == 2
    assert_allclose(sa.lower, sb.lower, rtol=0, atol=1e-11)
    assert_allclose(sa.upper, sb.upper, rtol=0, atol=1e-11)
    assert_allclose(sa.mass, [0.75, 0.25], rtol=1e-14)
    x = np.concatenate(
        [
            np.linspace(sa.lower[0], sa.upper[0], 23)[1:-1],
            np.linspace(sa.lower[1], sa.upper[1], 23)[1:-1],
        ]
    )
    assert_allclose(rs.density(cluster, s2, x), rs.density(merged, s2, x), rtol=1e-9, atol=1e-9)
    _check_moments(cluster, s2, sa)
    # atoms equal to the last bit behave exactly like one atom
    tight = rs.Atoms([2.0, np.nextafter(2.0, 3.0), np.nextafter(np.nextafter(2.0, 3.0), 3.0)])
    st = rs.support(tight, 0.5)
    assert len(st) == 1
    assert_allclose(
        [st.lower[0], st.upper[0]], [2.0 - 2 * math.sqrt(0.5), 2 + 2 * math.sqrt(0.5)], atol=1e-12
    )


@pytest.mark.parametrize("s2", [1e-3, 1.0])
def test_atoms_closer_than_the_square_root_of_the_float_range(s2: float) -> None:
    """Atoms 0 and 1e-160 (w / (t - u)^2 overflows in their gap): handled, no warning,
    and the limit is exactly that of one atom of weight 2/3 at 0."""
    close = rs.Atoms([0.0, 1e-160, 1.0])
    merged = rs.Atoms([0.0, 1.0], [2.0, 1.0])
    sa, sb = rs.support(close, s2), rs.support(merged, s2)
    assert len(sa) == len(sb) == (2 if s2 < 0.5 else 1)
    assert_allclose(sa.mass, sb.mass, rtol=1e-15)
    edges = np.concatenate([sa.lower, sa.upper])
    assert_allclose(edges, np.concatenate([sb.lower, sb.upper]), rtol=1e-14)
    x = rs.grid(sb, 40)
    assert_allclose(rs.density(close, s2, x), rs.density(merged, s2, x), rtol=1e-12, atol=1e-14)


MIXTURE = rs.Mixture(
    [(0.3, rs.Uniform(-3.0, -1.0)), (0.5, rs.Semicircle(2.0, 1.0)), (0.2, rs.Atoms([5.0, 5.5]))]
)


@pytest.mark.parametrize("s2", [1e-8, 1e-6, 1e-2, 1.0, 1e2, 1e4])
def test_sigma2_over_twelve_orders(s2: float) -> None:
    """A mixture of a uniform, a semicircle and two atoms, s2 from 1e-8 to 1e4: four
    components at small s2 (every piece of supp nu) merging into one at large s2;
    masses, mean and variance by integration to 1e-9."""
    sup = rs.support(MIXTURE, s2)
    assert len(sup) == {1e-8: 4, 1e-6: 4, 1e-2: 4, 1.0: 3, 1e2: 1, 1e4: 1}[s2]
    _check_moments(MIXTURE, s2, sup)
    if s2 <= 1e-2:
        assert_allclose(sup.mass, [0.3, 0.5, 0.1, 0.1], rtol=1e-13)


@pytest.mark.parametrize("s2", [1e-8, 1e-4, 1.0, 1e4])
def test_semicircle_plus_noise_over_all_scales(s2: float) -> None:
    """semicircle(c, r) boxplus sc(s2) = semicircle(c, R), R = 2 sqrt(r^2/4 + s2), for
    s2 from 1e-8 to 1e4: edges to 1e-10 (relative for R > 1), density and f to 1e-12
    relative to their size away from the edges."""
    c, r = 2.0, 1.0
    big = 2 * math.sqrt(r * r / 4 + s2)
    measure = rs.Semicircle(c, r)
    sup = rs.support(measure, s2)
    assert len(sup) == 1
    assert_allclose(
        [sup.lower[0], sup.upper[0]], [c - big, c + big], rtol=1e-10 / max(big, 1), atol=0
    )
    x = c + big * np.linspace(-0.98, 0.98, 41)
    dens = rs.density(measure, s2, x)
    ref = 2 / (math.pi * big**2) * np.sqrt((big - (x - c)) * (big + (x - c)))
    assert_allclose(dens, ref, rtol=1e-12 * max(1, abs(c) / big), atol=0)
    z = x + 0.1j * big
    assert_allclose(rs.stieltjes(measure, s2, z).f, semicircle_f(z, big**2 / 4, c), rtol=1e-12)


def test_atoms_over_twelve_orders_of_magnitude() -> None:
    """Atoms 1e-6, 1e-5, ..., 1e6 with s2 = 1: the six largest keep their own components,
    the seven below 1 merge; masses and moments by integration (relative to the scale)."""
    measure = rs.Atoms(np.logspace(-6, 6, 13))
    s2 = 1.0
    sup = rs.support(measure, s2)
    assert len(sup) == 7
    assert_allclose(sup.mass, np.array([7, 1, 1, 1, 1, 1, 1]) / 13, rtol=1e-13)
    for k in range(1, 7):  # an isolated atom t of weight w: component around t + s2 sum
        assert sup.lower[k] < 10.0**k < sup.upper[k] + s2
    _check_moments(measure, s2, sup)


def test_a_single_atom_is_a_point_mass() -> None:
    """Atoms([c]) gives the semicircle law centred at c, exactly as Point(c)."""
    c, s2 = 3.0, 2.0
    single, point = rs.Atoms([c]), rs.Point(c)
    sa, sp = rs.support(single, s2), rs.support(point, s2)
    assert_allclose(
        [sa.lower[0], sa.upper[0]], [c - 2 * math.sqrt(s2), c + 2 * math.sqrt(s2)], atol=1e-12
    )
    assert_allclose([sa.lower[0], sa.upper[0]], [sp.lower[0], sp.upper[0]], rtol=1e-15)
    z = np.array([c + 0.5j, c + 1.0, c - 2.0 + 1e-9j, c + 10.0])
    assert_allclose(rs.stieltjes(single, s2, z).f, semicircle_f(z, s2, c), rtol=0, atol=1e-12)
    assert_allclose(rs.stieltjes(single, s2, z).f, rs.stieltjes(point, s2, z).f, rtol=1e-14)


@pytest.mark.slow
def test_a_hundred_thousand_atoms() -> None:
    """10^5 atoms at the midpoint quantiles of semicircle(0, 2) (variance 1), s2 = 1:
    close to the semicircle law of variance 2 (the discretisation error is tiny in the
    bulk: 1e-7 for the density, 1e-6 for edges and f), and fast."""
    n = 100_000
    measure = rs.Atoms(rs.Semicircle(0.0, 2.0).midpoint_quantiles(n))
    assert measure.size == n
    s2 = 1.0
    edge = 2 * math.sqrt(2.0)
    sup = rs.support(measure, s2)
    assert len(sup) == 1
    assert_allclose([sup.lower[0], sup.upper[0]], [-edge, edge], atol=1e-6)
    x = np.linspace(-0.99 * edge, 0.99 * edge, 200)
    ref = np.sqrt(8.0 - x * x) / (4 * math.pi)
    assert_allclose(
        rs.density(
            measure,
            s2,
            x,
        ),
        ref,
        rtol=0,
        atol=1e-7,
    )
    z = x + 0.01j
    assert_allclose(rs.stieltjes(measure, s2, z).f, semicircle_f(z, 2.0), rtol=0, atol=1e-6)
    assert_allclose(density_moments(measure, s2, sup)[0, 0], 1.0, atol=1e-9)
