"""The documentation site builds offline and strictly: every page, link and reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a broken link, a missing page or an unresolved
    ``::: module`` reference fails the build."""
    pytest.importorskip("mkdocs")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "site" / "theory" / "rectangular" / "index.html").is_file()
    page = (tmp_path / "site" / "reference" / "rectangular" / "index.html").read_text()
    assert "rmtservice.rectangular.limit.support" in page


def _serve(site: Path) -> list[httpx.Response]:
    """``/docs``, the site's home, one theory page and a missing page, from an app that
    serves ``site``."""

    async def get() -> list[httpx.Response]:
        app = create_app(Settings(executor="thread", docs_site_dir=str(site)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            paths = ["/docs", "/docs/site/", "/docs/site/theory/fit/", "/docs/site/nothing"]
            return [await c.get(p) for p in paths]

    return anyio.run(get)


def test_the_app_serves_the_built_site_and_links_it_from_docs(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    docs, home, page, missing = _serve(site)
    assert 'href="docs/site/"' in docs.text  # relative: also right under a proxy prefix
    assert home.status_code == 200 and "rmtservice" in home.text
    assert page.status_code == 200 and "Tracy-Widom" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert missing.status_code == 404  # the site's own 404 page


def test_without_a_built_site_docs_has_no_link(tmp_path: Path) -> None:
    docs, home, _, _ = _serve(tmp_path)  # an empty directory: not built
    assert docs.status_code == 200 and "docs/site/" not in docs.text
    assert home.status_code == 404
