"""The explorer page ``/ui`` (issue #6): served offline, and driven end to end in
headless Debian chromium through Playwright against a real uvicorn."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.api.ui import CSP
from app.main import create_app
from app.settings import Settings
from tests._server import uvicorn

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# atoms {-2, 2} with sigma2 = 0.5 (README): two support intervals
LOWER = [-3.0555364116318198, 1.0714813284384115]
UPPER = [-1.0714813284384115, 3.0555364116318198]
# spike theta = 5 is outside the bulk: outlier at theta - sigma2 f(theta), f(z) = sum w/(t - z)
SPIKE = 5.0
OUTLIER = SPIKE + 0.5 * (0.5 / (SPIKE + 2) + 0.5 / (SPIKE - 2))


def test_ui_page_is_served_offline() -> None:
    client = TestClient(create_app(Settings(executor="thread")))
    page = client.get("/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "http://" not in page.text and "https://" not in page.text
    assert 'src="static/ui/ui.js"' in page.text and 'href="static/ui/ui.css"' in page.text
    for asset in ("static/ui/ui.js", "static/ui/ui.css"):
        answer = client.get(f"/{asset}")
        assert answer.status_code == 200
        assert "http://" not in answer.text.replace("http://www.w3.org/2000/svg", "")
    assert "/ui" not in client.get("/openapi.json").json()["paths"]


def _wait_bands(page: Any, lower: list[float]) -> None:
    page.wait_for_function(
        """(lower) => {
            const bands = [...document.querySelectorAll('rect.support-band')];
            return bands.length === lower.length && bands.every(
                (b, i) => Math.abs(Number(b.dataset.lower) - lower[i]) < 1e-9);
        }""",
        arg=lower,
    )


@pytest.mark.slow
def test_explorer_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Debian chromium is not installed ({CHROMIUM}); run `make chromium` as root")
    started = time.monotonic()
    errors: list[str] = []
    expected_422: list[str] = []
    hosts: set[str] = set()
    with uvicorn() as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=LAUNCH_ARGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def on_console(message: Any) -> None:
                if message.type != "error":
                    return
                # the browser logs each 4xx answer; the invalid sigma2 below asks for 422s
                if "status of 422" in message.text:
                    expected_422.append(message.text)
                else:
                    errors.append(f"console: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
            page.set_default_timeout(20_000)

            response = page.goto(f"{base}/ui")
            assert response is not None and response.status == 200
            assert response.headers["content-security-policy"] == CSP
            page.wait_for_selector("path.density-curve")  # the default law: uniform(-1, 1)
            assert page.locator("rect.support-band").count() == 1

            # two atoms, sigma2 = 0.5: two support bands at the README's edges
            page.select_option("#law", "atoms")
            page.fill("#atoms", "-2 2")
            page.fill("#sigma2", "0.5")
            _wait_bands(page, LOWER)
            bands = page.locator("rect.support-band")
            for i in range(2):
                assert float(bands.nth(i).get_attribute("data-upper") or "nan") == pytest.approx(
                    UPPER[i], abs=1e-9
                )
            assert page.locator("#support-list li").count() == 2

            # a separated spike: a predicted outlier marker at theta - sigma2 f(theta)
            page.fill("#spikes", str(SPIKE))
            marker = page.locator("path.outlier-marker")
            marker.wait_for()
            assert float(marker.get_attribute("data-x") or "nan") == pytest.approx(OUTLIER, 1e-9)
            assert float(marker.get_attribute("data-spike") or "nan") == SPIKE
            assert page.locator("line.threshold").count() >= 1
            box, band = marker.bounding_box(), bands.nth(1).bounding_box()
            assert box is not None and band is not None
            assert box["x"] > band["x"] + band["width"]  # right of the bulk on screen too

            # simulate: 40 histogram bars and the observed outlier near the prediction
            page.fill("#n", "400")
            page.fill("#seed", "1")
            page.click("#simulate")
            page.wait_for_function("() => document.querySelectorAll('rect.hist-bar').length === 40")
            observed = page.locator("circle.observed-outlier")
            observed.wait_for()
            assert abs(float(observed.get_attribute("data-x") or "nan") - OUTLIER) < 0.3

            # an invalid sigma2: the API's /noise/sigma2 error is shown next to that field
            page.fill("#sigma2", "-1")
            error = page.locator("#err-sigma2")
            error.wait_for(state="visible")
            assert "greater than 0" in error.inner_text()
            assert page.eval_on_selector("#sigma2", "e => e.nextElementSibling.id") == "err-sigma2"
            assert page.get_attribute("#sigma2", "aria-invalid") == "true"
            assert page.inner_text("#err-general") == ""
            assert "stale" in (page.get_attribute("#plot", "class") or "")
            page.fill("#sigma2", "0.5")
            error.wait_for(state="hidden")
            _wait_bands(page, LOWER)

            # the state is in the URL: a reload restores it
            url = page.url
            assert "law=atoms" in url and "sigma2=0.5" in url
            page.goto(url)
            page.wait_for_selector("path.outlier-marker")
            _wait_bands(page, LOWER)
            assert page.input_value("#law") == "atoms"
            assert page.input_value("#atoms") == "-2 2"
            assert page.input_value("#sigma2") == "0.5"
            assert page.input_value("#spikes") == str(SPIKE)
            assert page.input_value("#n") == "400"
            assert page.input_value("#seed") == "1"
            page.click("#simulate")
            page.wait_for_function("() => document.querySelectorAll('rect.hist-bar').length === 40")
            page.locator("circle.observed-outlier").wait_for()

            shot = tmp_path / "ui-explorer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            shutil.copyfile(shot, "/tmp/ui-explorer.png")
        finally:
            browser.close()
    assert errors == []
    assert expected_422, "the invalid sigma2 should have been refused by the API"
    assert hosts == {"127.0.0.1"}, hosts
    assert time.monotonic() - started < 120
