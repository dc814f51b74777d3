"""The how-to pages' ``pycon`` blocks run as doctests, so their outputs stay real."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "build" / "models" / "all-MiniLM-L6-v2.safetensors"
BLOCK = re.compile(r"^```pycon\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def examples(page: Path) -> str:
    """The page's ``pycon`` blocks, one after another, each ending in a blank line (the
    closing fence is not expected output)."""
    return "\n".join(block + "\n" for block in BLOCK.findall(page.read_text()))


def run(page: Path) -> doctest.TestResults:
    text = examples(page)
    assert text.count(">>>") > 5, f"{page.name} has no examples"
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.slow
def test_weights_howto_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/howto/weights.md on the real model (``make model``), from the repository root."""
    if not MODEL.is_file():
        pytest.skip("no model: make model")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    result = run(ROOT / "docs" / "howto" / "weights.md")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples differ"
