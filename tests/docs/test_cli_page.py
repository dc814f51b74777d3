"""docs/reference/cli.md: every subcommand of ``rmtservice`` with its real ``--help``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "cli.md"


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_has_every_subcommand_and_its_help() -> None:
    from rmtservice.client import cli

    module = hooks()
    assert "<!-- cli: commands -->" in PAGE.read_text()
    page = module.cli_commands()
    names = list(module._subcommands(cli._parser()))
    assert {"density", "simulate", "sweep"} <= set(names)
    for name in names:
        assert f"## `rmtservice {name}`" in page, name
        assert f"usage: rmtservice {name}" in page, name


def test_the_help_on_the_page_is_what_the_command_prints() -> None:
    """One subcommand's section against ``rmtservice simulate --help`` run for real."""
    page = hooks().cli_commands()
    out = subprocess.run(
        [sys.executable, "-m", "rmtservice", "simulate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip() in page
