"""The explorer page ``/ui`` with the rectangular model: driven in headless Debian chromium
through Playwright against a real uvicorn; the numbers drawn are the library's."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

import rmtservice as rs
from rmtservice import rectangular as rr
from tests._server import uvicorn

from .test_explorer import CHROMIUM, LAUNCH_ARGS

LAW = rs.Uniform(0.0, 1.0)
S2, C, SPIKE = 0.5, 0.5, 3.0
QUERY = "model=rectangular&c=0.5&law=uniform&low=0&high=1&sigma2=0.5&spikes=3&n=400&seed=1"


@pytest.mark.slow
def test_rectangular_explorer_in_chromium() -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Debian chromium is not installed ({CHROMIUM}); run `make chromium` as root")
    sup = rr.support(LAW, S2, C)
    (outlier,) = rr.outliers(LAW, S2, C, [SPIKE]).outliers
    errors: list[str] = []
    with uvicorn() as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=LAUNCH_ARGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def on_console(message: Any) -> None:
                if message.type == "error" and "status of 422" not in message.text:
                    errors.append(f"console: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.set_default_timeout(20_000)
            page.goto(f"{base}/ui?{QUERY}")
            marker = page.locator("path.outlier-marker")
            marker.wait_for()
            assert page.input_value("#model") == "rectangular"
            assert page.is_visible("#aspect-ratio")
            band = page.locator("rect.support-band")
            assert band.count() == 1
            assert float(band.get_attribute("data-lower") or "nan") == pytest.approx(
                float(sup.lower[0]), abs=1e-12
            )
            assert float(marker.get_attribute("data-x") or "nan") == pytest.approx(
                outlier.location, abs=1e-12
            )
            assert "overlaps left" in page.inner_text("#outlier-list")

            # simulate 400 x 200: 40 bars binned in the page, the observed outlier near
            page.click("#simulate")
            page.wait_for_function("() => document.querySelectorAll('rect.hist-bar').length === 40")
            observed = page.locator("circle.observed-outlier")
            observed.wait_for()
            assert abs(float(observed.get_attribute("data-x") or "nan") - outlier.location) < 0.2

            # c = 0: the API's /aspect_ratio error is shown next to that field
            page.fill("#aspect-ratio", "0")
            error = page.locator("#err-aspect-ratio")
            error.wait_for(state="visible")
            assert "greater than or equal" in error.inner_text()
            # a law with mass below 0: refused at /measure/low, shown next to "low"
            page.fill("#aspect-ratio", "0.5")
            page.fill("#low", "-1")
            page.locator("#err-low").wait_for(state="visible")

            # back to the symmetric model: the same page, the eigenvalue endpoints
            page.fill("#low", "0")
            page.select_option("#model", "wigner")
            page.wait_for_function("() => !document.querySelector('#aspect-ratio').offsetParent")
            assert "model=wigner" in page.url
        finally:
            browser.close()
    assert errors == []
