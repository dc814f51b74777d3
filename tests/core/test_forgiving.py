"""The library takes its inputs as the SDK and the API do, and refuses the rest clearly
(issue 18, item 5): one way to call things, an InvalidParameter naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice.client import LocalClient

UNIFORM = rs.Uniform(-1.0, 1.0)
UNIFORM_DICT = {"kind": "uniform", "low": -1, "high": 1}


def test_density_takes_num_x_or_grid_like_the_sdk() -> None:
    with LocalClient() as sdk:
        r = sdk.density(measure=UNIFORM_DICT, noise={"sigma2": 0.25}, num=64)
        g = sdk.density(
            measure=UNIFORM_DICT, noise={"sigma2": 0.25}, grid={"start": -2, "stop": 2, "num": 9}
        )
    # num: the automatic grid, which is rs.grid(measure, sigma2, num) - the SDK's points
    assert_allclose(rs.grid(UNIFORM, 0.25, 64), r.x, rtol=0, atol=0)
    assert_allclose(rs.density(UNIFORM, 0.25, num=64), r.density, rtol=1e-12, atol=1e-15)
    assert_allclose(rs.density(UNIFORM, 0.25, grid=(-2, 2, 9)), g.density, rtol=1e-12, atol=0)
    assert_allclose(rs.density(UNIFORM, 0.25, np.linspace(-2, 2, 9)), g.density, rtol=0, atol=0)
    # neither: the API's default automatic grid
    assert rs.density(UNIFORM, 0.25).size == rs.grid(UNIFORM, 0.25).size
    with pytest.raises(rs.InvalidParameter, match="x or grid, not both"):
        rs.density(UNIFORM, 0.25, [0.0], grid=(-1, 1, 3))
    with pytest.raises(rs.InvalidParameter, match="num sets the automatic grid"):
        rs.density(UNIFORM, 0.25, [0.0], num=10)


def test_grid_takes_measure_and_sigma2_and_still_a_support() -> None:
    sup = rs.support(UNIFORM, 0.25)
    assert_allclose(rs.grid(UNIFORM, 0.25, 100), rs.grid(sup, 100), rtol=0, atol=0)
    x = rs.grid(UNIFORM, 0.25, 100)
    # both edges of the support are points of the grid
    assert x[0] == sup.lower[0] and x[-1] == sup.upper[-1]
    with pytest.raises(rs.InvalidParameter, match="needs sigma2"):
        rs.grid(UNIFORM)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda m: rs.density(m, 0.5, [0.0, 1.0]), lambda: rs.density(UNIFORM, 0.5, [0.0, 1.0])),
        (lambda m: rs.support(m, 0.5).lower, lambda: rs.support(UNIFORM, 0.5).lower),
        (
            lambda m: [o.location for o in rs.outliers(m, 0.5, [3.0]).outliers],
            lambda: [o.location for o in rs.outliers(UNIFORM, 0.5, [3.0]).outliers],
        ),
        (lambda m: rs.phi(m, 0.5, [3.0]), lambda: rs.phi(UNIFORM, 0.5, [3.0])),
        (
            lambda m: rs.stieltjes(m, 0.5, [1j]).f,
            lambda: rs.stieltjes(UNIFORM, 0.5, [1j]).f,
        ),
        (
            lambda m: rs.simulate(m, 0.5, 50, seed=3).eigenvalues[0],
            lambda: rs.simulate(UNIFORM, 0.5, 50, seed=3).eigenvalues[0],
        ),
        (
            lambda m: rs.density(rs.Mixture([(1, m), (1, rs.Point(3))]), 0.5, [0.0]),
            lambda: rs.density(rs.Mixture([(1, UNIFORM), (1, rs.Point(3))]), 0.5, [0.0]),
        ),
    ],
)
def test_dict_measures_are_read_as_on_the_wire(call, expected) -> None:  # type: ignore[no-untyped-def]
    assert_allclose(call(UNIFORM_DICT), expected(), rtol=0, atol=0)


def test_dict_measures_the_api_would_refuse_are_refused_with_the_field() -> None:
    with pytest.raises(rs.InvalidParameter, match=r"measure\.high") as info:
        rs.density({"kind": "uniform", "low": -1, "high": "1"}, 0.5, [0.0])
    assert info.value.field == "measure.high"
    with pytest.raises(rs.InvalidParameter, match="needs a 'kind'"):
        rs.support({"low": -1, "high": 1}, 0.5)
    with pytest.raises(rs.InvalidParameter, match="must be a measure"):
        rs.support([1.0, 2.0], 0.5)  # type: ignore[arg-type]


def test_atoms_refuse_a_matrix_and_point_to_from_matrix() -> None:
    with pytest.raises(rs.InvalidParameter, match=r"shape \(2, 2\).*from_matrix"):
        rs.Atoms([[1, 2], [3, 4]])
    # the flat list of eigenvalues is still fine
    assert rs.Atoms([1, 2, 3, 4]).size == 4


@pytest.mark.parametrize("sigma2", ["0.5", b"0.5", True, None, [0.5]])
def test_sigma2_must_be_a_number(sigma2: object) -> None:
    with pytest.raises(rs.InvalidParameter, match="sigma2 must be a number") as info:
        rs.support(UNIFORM, sigma2)  # type: ignore[arg-type]
    assert info.value.field == "sigma2"


@pytest.mark.parametrize(("name", "value"), [("n", 1.5), ("n", "50"), ("trials", 2.5)])
def test_counts_must_be_integers(name: str, value: object) -> None:
    fields = {"n": 50, "trials": 1} | {name: value}
    with pytest.raises(rs.InvalidParameter, match=f"{name} must be an? ") as info:
        rs.simulate(UNIFORM, 0.5, fields.pop("n"), seed=1, **fields)  # type: ignore[arg-type]
    assert info.value.field == name
    # an integral float is an integer, as in JSON Schema
    assert rs.simulate(UNIFORM, 0.5, 50.0, seed=1).eigenvalues[0].size == 50  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rs.Atoms(["1", "x"]), "values"),
        (lambda: rs.Atoms(["1", "2"]), "values"),
        (lambda: rs.density(UNIFORM, 0.5, ["0", "a"]), "x"),
        (lambda: rs.outliers(UNIFORM, 0.5, ["three"]), "spikes"),
        (lambda: rs.simulate(UNIFORM, 0.5, 20, spikes="3"), "spikes"),
        (lambda: rs.Uniform("a", 1), "low"),
    ],
)
def test_strings_are_refused_with_a_clear_message(call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(rs.InvalidParameter, match=f"{name} must be a? ?numbers?") as info:
        call()
    assert "could not convert" not in str(info.value)
    assert info.value.field == name
