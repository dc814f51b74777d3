"""Components of a limit law's support: locating points, starting guesses inside them.

Shared by the symmetric limit (``density``: edges' preimages ``u`` under ``phi``) and the
rectangular one (``rectangular.limit``: preimages ``t`` under ``sqrt(Phi)``). A support is
passed as its :data:`Edges`: the sorted, disjoint components ``[lower, upper]`` and the
preimages of those edges.

Private module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]
IntArray = NDArray[np.intp]

#: ``(lower, upper, pre_lower, pre_upper)``: the components and their edges' preimages
Edges = tuple[FloatArray, FloatArray, FloatArray, FloatArray]
#: ``solve(k, x, start) -> (w, ok)``: the subordination inside component k from ``start``
Solve = Callable[[IntArray, FloatArray, ComplexArray], tuple[ComplexArray, NDArray[np.bool_]]]

#: a component holding more query points than this gets a table of solved nodes for its
#: starting guesses; for fewer, Newton from the profile guess converges in about as many
#: steps, and solving the table's 8 to 16 nodes would cost as much again
TABLE_MIN_POINTS = 64


def locate(
    lower: FloatArray, upper: FloatArray, x: FloatArray
) -> tuple[IntArray, NDArray[np.bool_]]:
    """For each x: the index of the first component with ``upper >= x``, and whether x
    lies inside that component (edges included)."""
    k = np.searchsorted(upper, x, side="left")
    kk = np.minimum(k, lower.size - 1)
    inside = (k < lower.size) & (x >= lower[kk])
    return k, inside


def profile_guess(edges: Edges, k: IntArray, x: FloatArray) -> ComplexArray:
    """Start inside component k: a semicircle-shaped profile between the edges' preimages."""
    lower, upper, pre_lower, pre_upper = edges
    a, b = lower[k], upper[k]
    ta, tb = pre_lower[k], pre_upper[k]
    s = np.clip((x - a) / (b - a), 0.0, 1.0)
    t = ta + s * (tb - ta)
    v = np.abs(tb - ta) * np.sqrt(s * (1 - s))
    return t + 1j * np.maximum(v, 1e-300)


def table_guess(edges: Edges, k: IntArray, x: FloatArray, solve: Solve) -> ComplexArray:
    """Initial guesses by interpolating the subordination solved at Chebyshev nodes of
    each component.

    ``Re w`` is interpolated linearly in x and ``(Im w)^2`` too: near a regular
    (square-root) edge ``(Im w)^2`` is smooth in x, so the guesses there are already
    close. Components are disjoint and sorted, so the nodes of all of them (edges
    included) form one increasing table. Components holding at most
    ``TABLE_MIN_POINTS`` query points get no nodes (the profile guess serves); nodes
    where ``solve`` fails are left out of the table.
    """
    lower, upper, pre_lower, pre_upper = edges
    comps, counts = np.unique(k, return_counts=True)
    comps = comps[counts > TABLE_MIN_POINTS]
    guess = profile_guess(edges, k, x)
    if comps.size == 0:
        return guess
    nodes = int(np.clip(x.size // (4 * comps.size), 8, 48))
    theta = (np.arange(nodes) + 0.5) * np.pi / nodes
    frac = 0.5 * (1.0 - np.cos(theta))
    a, b = lower[comps], upper[comps]
    xn = (a[:, None] + (b - a)[:, None] * frac[None, :]).ravel()
    kn = np.repeat(comps, nodes)
    wn, ok = solve(kn, xn, profile_guess(edges, kn, xn))
    xs = np.concatenate([lower[comps], xn[ok], upper[comps]])
    ts = np.concatenate([pre_lower[comps], wn.real[ok], pre_upper[comps]])
    v2 = np.concatenate([np.zeros(comps.size), wn.imag[ok] ** 2, np.zeros(comps.size)])
    order = np.argsort(xs, kind="stable")
    xs, ts, v2 = xs[order], ts[order], v2[order]
    sel = np.isin(k, comps)
    v = np.sqrt(np.maximum(np.interp(x[sel], xs, v2), 0.0))
    guess[sel] = np.interp(x[sel], xs, ts) + 1j * np.maximum(v, 1e-300)
    return guess
