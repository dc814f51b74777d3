"""The explorer's "Fit": pasted eigenvalues go to POST v1/fit; the page shows the fitted
law and draws the observed values over it with the fit's marks (headless chromium)."""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rmtservice.fit import fit
from tests._server import uvicorn

from .test_explorer import CHROMIUM, LAUNCH_ARGS


def spectrum() -> np.ndarray:
    rng = np.random.default_rng(3)
    g = rng.standard_normal((300, 300))
    m = (g + g.T) / math.sqrt(600) * math.sqrt(0.5)
    m[0, 0] += 2.0
    return np.linalg.eigvalsh(m)


def _number(locator: Any, name: str) -> float:
    return float(locator.get_attribute(name) or "nan")


@pytest.mark.slow
def test_fit_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Debian chromium is not installed ({CHROMIUM}); run `make chromium` as root")
    started = time.monotonic()
    values = spectrum()
    expected = fit(values, bootstrap=0)
    errors: list[str] = []
    with uvicorn() as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=LAUNCH_ARGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.set_default_timeout(20_000)
            page.goto(f"{base}/ui")
            page.wait_for_selector("path.density-curve")

            # too few values: the API's /eigenvalues error is shown at the textarea
            page.fill("#observed", "1 2 3")
            page.click("#fit")
            page.locator("#err-observed").wait_for(state="visible")
            assert "at least 10" in page.inner_text("#err-observed")

            page.fill("#observed", " ".join(repr(float(v)) for v in values))
            page.click("#fit")
            marker = page.locator("path.fit-outlier")
            marker.wait_for()
            assert _number(marker, "data-x") == float(values[-1])
            assert _number(marker, "data-spike") == expected.outliers[0].spike
            # the fitted law is shown: one atom at the centre, the fit's sigma2 and spike
            assert page.input_value("#law") == "atoms"
            assert float(page.input_value("#sigma2")) == pytest.approx(expected.sigma2, 1e-7)
            assert float(page.input_value("#spikes")) == pytest.approx(
                expected.outliers[0].spike, 1e-7
            )
            page.wait_for_selector("path.outlier-marker")  # phi(spike) of the shown law
            predicted = _number(page.locator("path.outlier-marker"), "data-x")
            assert abs(predicted - float(values[-1])) < 3 / math.sqrt(300)
            bars = page.locator("rect.observed-bar")
            assert bars.count() == 17  # round(sqrt(300))
            heights = [_number(bars.nth(i), "data-density") for i in range(bars.count())]
            widths = [
                _number(bars.nth(i), "data-upper") - _number(bars.nth(i), "data-lower")
                for i in range(bars.count())
            ]
            assert sum(h * w for h, w in zip(heights, widths, strict=True)) == pytest.approx(1.0)
            lines = page.locator("#fit-marks line.fit-threshold")
            xs = sorted(_number(lines.nth(i), "data-x") for i in range(lines.count()))
            assert xs == pytest.approx(
                sorted([expected.edge_threshold, expected.lower_edge_threshold]), abs=1e-12
            )
            assert "Noise plus 1 spike" in page.inner_text("#fit-list")
            page.screenshot(path=str(tmp_path / "ui-fit.png"), full_page=True)
            shutil.copyfile(tmp_path / "ui-fit.png", "/tmp/ui-fit.png")
        finally:
            browser.close()
    assert errors == []
    assert time.monotonic() - started < 120
