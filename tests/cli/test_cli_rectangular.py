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
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_against_a_real_server(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rect-outliers", "--point", "0", "--sigma2", "1", "--aspect-ratio", "3"]
    argv += ["--spikes", "4", "--json"]
    _, local, _ = run(capsys, *argv)
    with uvicorn() as base:
        code, remote, _ = run(capsys, *argv, "--url", base)
    assert code == 0 and json.loads(remote) == json.loads(local)
