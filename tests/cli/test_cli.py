"""The ``rmtservice`` command line: tables, JSON, exit codes, local core and a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rmtservice as rs
from rmtservice.client.cli import main
from tests._server import free_port, server_process, uvicorn, wait_ready


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_density_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "density", "--uniform", "-1", "1", "--sigma2", "0.25", "--x", "0,0.5"
    )
    assert code == 0
    expected = rs.density(rs.Uniform(-1, 1), 0.25, [0.0, 0.5])
    assert f"{expected[0]:.10g}" in out and "support" in out
    code, out, _ = run(
        capsys, "density", "--uniform", "-1", "1", "--sigma2", "0.25", "--x", "0,0.5", "--json"
    )
    assert code == 0
    assert json.loads(out)["density"] == pytest.approx(expected.tolist(), abs=0)


def test_support_from_atoms_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "spectrum.txt"
    f.write_text("-1\n1\n4\n")
    code, out, _ = run(
        capsys,
        "support",
        "--atoms-file",
        str(f),
        "--weights",
        "0.499,0.499,0.002",
        "--sigma2",
        "0.25",
        "--json",
    )
    assert code == 0
    assert len(json.loads(out)["support"]) == 3


def test_outliers_inverse_and_mp(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "outliers", "--point", "0", "--sigma2", "1", "--spikes", "2,0.5", "--json"
    )
    items = json.loads(out)["outliers"]
    assert code == 0 and items[0]["location"] == pytest.approx(2.5)
    code, out, _ = run(
        capsys, "inverse", "--point", "0", "--sigma2", "1", "--observed", "2.5", "--json"
    )
    assert json.loads(out)["spikes"][0]["spike"] == pytest.approx(2.0)
    code, out, _ = run(capsys, "support", "--mp", "0.5", "1", "--sigma2", "0.5", "--json")
    sup = rs.support(rs.MarchenkoPastur(0.5, 1.0), 0.5)
    assert json.loads(out)["support"][0]["upper"] == pytest.approx(sup.upper[0], abs=0)


def test_simulate_with_progress(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "simulate",
        "--uniform",
        "-1",
        "1",
        "--sigma2",
        "0.25",
        "--n",
        "200",
        "--trials",
        "3",
        "--spikes",
        "3",
        "--seed",
        "5",
    )
    assert code == 0
    assert err == ""  # progress frames go to a terminal only (tests/cli/test_cli_output.py)
    assert "seed 5" in out and "Kolmogorov" in out
    direct = rs.simulate(rs.Uniform(-1, 1), 0.25, 200, spikes=[3.0], seed=5, trials=3)
    assert f"{direct.eigenvalues[0][0]:.6g}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["support", "--uniform", "1", "0", "--sigma2", "1"], "low must be < high"),
        (["support", "--sigma2", "1"], "give the law of H"),
        (["support", "--point", "0", "--sigma2", "-1"], "greater than 0"),
        (["support", "--point", "0", "--sigma2", "1", "--weights", "1"], "--weights goes"),
        (["support", "--atoms-file", "/nonexistent/x", "--sigma2", "1"], "cannot read"),
        (
            [
                "simulate",
                "--point",
                "0",
                "--sigma2",
                "1",
                "--n",
                "3",
                "--noise",
                "student_t",
                "--df",
                "3",
            ],
            "df",
        ),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["support", "--point", "0", "--sigma2", "abc"])
    assert info.value.code == 2
    assert "invalid float value" in capsys.readouterr().err


def test_installed_command_against_a_real_server() -> None:
    with uvicorn() as base:
        cmd = [
            sys.executable,
            "-m",
            "rmtservice.client.cli",
            "density",
            "--point",
            "0",
            "--sigma2",
            "1",
            "--x",
            "0",
            "--json",
            "--url",
            base,
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["density"][0] == pytest.approx(1 / np.pi, abs=1e-15)
        bad = subprocess.run(
            [*cmd[:3], "density", "--point", "0", "--sigma2=-1", "--x", "0", "--url", base],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert bad.returncode == 2 and "sigma2" in bad.stderr
    gone = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert gone.returncode == 1 and "cannot reach" in gone.stderr


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "spectrum.png"
    code, text, _ = run(
        capsys,
        "plot",
        "--uniform",
        "-1",
        "1",
        "--sigma2",
        "0.25",
        "--spikes",
        "3",
        "--simulate",
        "200",
        "--seed",
        "1",
        "-o",
        str(out),
    )
    assert code == 0 and "wrote" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_serve_cuts_off_slow_request_heads() -> None:
    # `rmtservice serve` runs the same server as `make serve`: a stalled head gets a 408 problem
    port = free_port()
    command = [sys.executable, "-m", "rmtservice.client.cli", "serve", "--port", str(port)]
    env = {"RMT_HEADER_TIMEOUT_SECONDS": "1", "RMT_EXECUTOR": "thread"}
    with server_process(command, env) as proc:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as partial:
            partial.sendall(b"POST /v1/density HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            data = b""
            while chunk := partial.recv(65536):
                data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), data
    assert json.loads(payload)["type"] == "/problems/request-timeout"
