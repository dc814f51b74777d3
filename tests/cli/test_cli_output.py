"""What the command line writes where (issue 18, item 6): a closed pipe ends it quietly,
progress frames only on a terminal, ``-o/--out`` for the file (old names still work),
and the server it starts logs each request once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rmtservice.client.cli import main
from tests._server import ROOT, free_port, wait_ready

DENSITY = ["density", "--uniform", "-1", "1", "--sigma2", "0.25"]


@pytest.mark.parametrize(
    "argv",
    [
        [*DENSITY, "--num", "20000", "--json"],  # ~1 MB: the pipe fills, head has gone
        ["simulate", "--point", "0", "--sigma2", "1", "--n", "300", "--seed", "1", "--json"],
    ],
    ids=["density", "simulate"],
)
def test_output_closed_early_ends_without_a_traceback(argv: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmtservice", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1) == b"{"  # as `| head -c 1`: read a little, then go away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_progress_frames_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["simulate", "--point", "0", "--sigma2", "1", "--n", "50", "--trials", "3"]
    assert main([*argv, "--seed", "1"]) == 0
    assert capsys.readouterr().err == ""  # captured: not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main([*argv, "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "\rsimulating [" in err and "3/3" in err
    assert main([*argv, "--seed", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("flag", ["-o", "--out", "--output"])
def test_plot_writes_the_file_of_o_out_and_the_old_output(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "spectrum.svg"
    assert main(["plot", *DENSITY[1:], "--spikes", "3", flag, str(picture)]) == 0
    assert f"wrote {picture}" in capsys.readouterr().out
    assert b"<svg" in picture.read_bytes()


def test_help_lists_o_out_only(capsys: pytest.CaptureFixture[str]) -> None:
    for command, old in (("plot", "--output"), ("sweep", "--plot")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "-o FILE, --out FILE" in text and old not in text
    assert main(["plot", *DENSITY[1:]]) == 2
    assert "plot needs -o/--out FILE" in capsys.readouterr().err


def test_rmtservice_serve_logs_each_request_once(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rmtservice", "serve", "--port", str(port)],
            cwd=ROOT,
            env=os.environ | {"RMT_EXECUTOR": "thread"},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(base, proc)
            path = f"/no-such-page-{os.urandom(4).hex()}"
            assert httpx.get(base + path, timeout=10).status_code == 404
            deadline = time.monotonic() + 10
            while path not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # a second line, were there one, has been written by now
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if path in line]
    assert len(lines) == 1, lines
    assert "app.access" in lines[0] and "request_id=" in lines[0]
