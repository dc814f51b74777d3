"""The noise law is one frozen value, checked once where it is made."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import rmtservice as rs


def test_bad_laws_are_refused_with_their_field() -> None:
    for args, field in [(("cauchy",), "distribution"), (("student_t", 4.0), "df")]:
        with pytest.raises(rs.InvalidParameter) as info:
            rs.Noise(*args)
        assert info.value.field == field
    with pytest.raises(rs.InvalidParameter, match="density in"):
        rs.Noise("sparse", density=0.0)
    with pytest.raises(rs.InvalidParameter, match="belong to the Noise"):
        rs.Noise.of(rs.Noise(), df=5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rs.Noise().df = 5.0  # type: ignore[misc]


def test_a_noise_value_and_its_name_draw_the_same_matrices() -> None:
    law = rs.Noise("student_t", df=6.0)
    assert rs.Noise.of(law) is law
    by_value = rs.simulate(rs.Uniform(-1, 1), 1.0, 40, noise=law, seed=3, compare=False)
    by_name = rs.simulate(
        rs.Uniform(-1, 1), 1.0, 40, noise="student_t", df=6.0, seed=3, compare=False
    )
    np.testing.assert_array_equal(by_value.eigenvalues[0], by_name.eigenvalues[0])
