"""The ``rect-*`` subcommands: tables and JSON from the library's numbers, the shape
from --aspect-ratio or --rows/--cols, exit codes, and a real server."""

from __future__ import annotations

import json
import math

import pytest

import rmtservice as rs
from rmtservice import rectangular as rr
from rmtservice.client.cli import main
from tests._server import uvicorn

UNIFORM = ["--uniform", "0.5", "1.5", "--sigma2", "0.5"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_density_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rect-density", *UNIFORM, "--aspect-ratio", "2", "--x", "1,2"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    expected = rr.density(rs.Uniform(0.5, 1.5), 0.5, 2.0, [1.0, 2.0])
    assert f"{expected[0]:.10g}" in out and "atom at 0 of Y^T Y 0.5" in out
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0 and json.loads(out)["density"] == expected.tolist()


def test_rows_and_cols_give_the_aspect_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    _, by_shape, _ = run(
        capsys, "rect-support", *UNIFORM, "--rows", "300", "--cols", "100", "--json"
    )
    _, by_ratio, _ = run(capsys, "rect-support", *UNIFORM, "--aspect-ratio", str(1 / 3), "--json")
    assert json.loads(by_shape) == json.loads(by_ratio)


def test_outliers_and_inverse(capsys: pytest.CaptureFixture[str]) -> None:
    pure = ["--point", "0", "--sigma2", "1", "--aspect-ratio", "0.5"]
    code, out, _ = run(capsys, "rect-outliers", *pure, "--spikes", "2,0.5", "--json")
    assert code == 0
    first, second = json.loads(out)["outliers"]
    assert first["location"] == pytest.approx(math.sqrt(5 * 4.5 / 4), rel=1e-12)
    assert not second["separated"]
    code, out, _ = run(capsys, "rect-inverse", *pure, "--observed", f"{first['location']!r}")
    assert code == 0 and "2" in out.split("\n")[1]


def test_simulate_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rect-simulate", *UNIFORM, "--rows", "200", "--cols", "100", "--spikes", "3"]
    code, out, err = run(capsys, *argv, "--seed", "4", "--trials", "2")
    assert code == 0
    assert "seed 4, 200 x 100" in out and "Kolmogorov distance" in out
    assert err == ""  # the progress bar is drawn on a terminal only (test_cli_output.py)
    code, out, _ = run(capsys, *argv, "--seed", "4", "--top", "2", "--json")
    assert [len(v) for v in json.loads(out)["singular_values"]] == [2]


def test_stieltjes_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--z and --re/--im give the same points; the JSON is the library's numbers, the
    table names the pole at z = 0 and the finite m(0) = 1/(sigma2 (1 - c)) of pure noise."""
    base = ["rect-stieltjes", "--point", "0", "--sigma2", "0.5", "--aspect-ratio", "0.5"]
    code, by_z, _ = run(capsys, *base, "--z", "1+0.5j,4,0", "--json")
    assert code == 0
    _, by_parts, _ = run(capsys, *base, "--re", "1,4,0", "--im", "0.5,0,0", "--json")
    assert json.loads(by_z) == json.loads(by_parts)
    got = json.loads(by_z)
    ref = rr.stieltjes(rs.Point(0.0), 0.5, 0.5, [1 + 0.5j, 4.0])
    assert got["m"]["re"][:2] == ref.m.real.tolist() and got["m"]["im"][:2] == ref.m.imag.tolist()
    assert got["m"]["re"][2] == pytest.approx(4.0, rel=1e-12)
    assert got["m_companion"]["re"][2] is None
    code, out, _ = run(capsys, *base, "--z", "1+0.5j,0")
    assert code == 0 and "pole" in out.split("\n")[2]
    assert "poles at z = 0: m_companion: the law of Y Y^T has an atom" in out
    assert f"{ref.m[0].real:.10g}" in out
    _, out, _ = run(capsys, *base, "--z", "1+0.5j")
    assert "poles at z = 0" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rect-support", *UNIFORM], "give the shape"),
        (["rect-support", *UNIFORM, "--aspect-ratio", "1", "--rows", "3"], "not both"),
        (
            ["rect-support", "--uniform", "-1", "1", "--sigma2", "1", "--aspect-ratio", "1"],
            "/measure/low",
        ),
        (["rect-support", *UNIFORM, "--aspect-ratio", "0"], "/aspect_ratio"),
        (["rect-outliers", *UNIFORM, "--aspect-ratio", "1", "--spikes", "-1"], "/spikes/0"),
        (["rect-simulate", *UNIFORM, "--rows", "4", "--cols", "2", "--top", "3"], "top"),
        (["rect-stieltjes", *UNIFORM, "--aspect-ratio", "1"], "give the points"),
        (["rect-stieltjes", *UNIFORM, "--aspect-ratio", "1", "--re", "1,2", "--im", "1"], "--im 1"),
        (["rect-stieltjes", *UNIFORM, "--aspect-ratio", "1", "--z", "1", "--re", "1"], "not both"),
        (["rect-stieltjes", *UNIFORM, "--aspect-ratio", "1", "--z=1-1j"], "/z/im/0"),
        (
            ["rect-stieltjes", "--point", "0", "--sigma2", "1", "--aspect-ratio", "1", "--z", "0"],
            "pole of both m and m_companion",
        ),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_a_bad_complex_number_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["rect-stieltjes", *UNIFORM, "--aspect-ratio", "1", "--z", "1+i"])
    assert info.value.code == 2
    assert "not a comma-separated list of complex numbers" in capsys.readouterr().err


def test_against_a_real_server(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rect-outliers", "--point", "0", "--sigma2", "1", "--aspect-ratio", "3"]
    argv += ["--spikes", "4", "--json"]
    points = ["rect-stieltjes", "--point", "0", "--sigma2", "1", "--aspect-ratio", "3"]
    points += ["--z", "0,1+1j", "--json"]
    _, local, _ = run(capsys, *argv)
    _, local_points, _ = run(capsys, *points)
    with uvicorn() as base:
        code, remote, _ = run(capsys, *argv, "--url", base)
        code_points, remote_points, _ = run(capsys, *points, "--url", base)
    assert code == 0 and json.loads(remote) == json.loads(local)
    assert code_points == 0 and json.loads(remote_points) == json.loads(local_points)
