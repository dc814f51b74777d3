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


def singular_values(rows: int = 400, cols: int = 200) -> np.ndarray:
    """Noise of variance 0.5/rows and one spike 3 (above the threshold 0.5^(1/2) c^(1/4))."""
    rng = np.random.default_rng(4)
    y = rng.standard_normal((rows, cols)) * math.sqrt(0.5 / rows)
    y[0, 0] += 3.0
    return np.linalg.svd(y, compute_uv=False)


@pytest.mark.slow
def test_rectangular_fit_in_chromium(tmp_path: Path) -> None:
    """With the Model selector on Y = S + X: pasted singular values go to v1/fit with the
    shape their count and c give (200 values, c = 0.5: 400 x 200); the fitted law (an atom
    at 0, sigma2, the spike) is shown with the bars, edges, threshold and outlier; the
    marks leave when the model changes."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Debian chromium is not installed ({CHROMIUM}); run `make chromium` as root")
    started = time.monotonic()
    values = singular_values()
    expected = fit(singular_values=values, shape=(400, 200), bootstrap=0)
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
            page.goto(f"{base}/ui?model=rectangular&c=0.5&law=uniform&low=0&high=1&sigma2=0.5")
            page.wait_for_selector("path.density-curve")
            assert "Singular values" in page.inner_text("#observed-label")

            # a negative singular value: the API's /singular_values error at the textarea
            page.fill("#observed", " ".join(["-1"] + ["1"] * 19))
            page.click("#fit")
            page.locator("#err-observed").wait_for(state="visible")
            assert "greater than or equal to 0" in page.inner_text("#err-observed")

            page.fill("#observed", " ".join(repr(float(v)) for v in values))
            page.click("#fit")
            marker = page.locator("path.fit-outlier")
            marker.wait_for()
            assert _number(marker, "data-x") == float(values[0])
            assert _number(marker, "data-spike") == expected.outliers[0].spike
            assert page.input_value("#law") == "atoms" and page.input_value("#atoms") == "0"
            assert float(page.input_value("#sigma2")) == pytest.approx(expected.sigma2, 1e-7)
            page.wait_for_selector("path.outlier-marker")  # sqrt(Phi(spike^2)) of the law
            predicted = _number(page.locator("path.outlier-marker"), "data-x")
            assert abs(predicted - float(values[0])) < 3 / math.sqrt(200)
            bars = page.locator("rect.observed-bar")
            assert bars.count() == 14  # round(sqrt(200))
            edges = page.locator("#fit-marks line.fit-edge")
            xs = sorted(_number(edges.nth(i), "data-x") for i in range(edges.count()))
            assert xs == pytest.approx([expected.bulk.lower, expected.bulk.upper], abs=1e-12)
            (threshold,) = [
                _number(page.locator("#fit-marks line.fit-threshold"), "data-x")
            ]  # one: no lower threshold for singular values
            assert threshold == pytest.approx(expected.edge_threshold, abs=1e-12)
            text = page.inner_text("#fit-list")
            assert "400 x 200 matrix" in text and "overlaps left" in text

            # the symmetric model: the singular values' marks are not drawn over eigenvalues
            page.select_option("#model", "wigner")
            page.wait_for_function("() => !document.querySelector('#fit-marks')")
            assert "paste eigenvalues" in page.inner_text("#fit-list")
            page.select_option("#model", "rectangular")  # back: the marks again
            page.wait_for_selector("path.fit-outlier")
            page.screenshot(path=str(tmp_path / "ui-fit-rect.png"), full_page=True)
            shutil.copyfile(tmp_path / "ui-fit-rect.png", "/tmp/ui-fit-rect.png")
        finally:
            browser.close()
    assert errors == []
    assert time.monotonic() - started < 120
