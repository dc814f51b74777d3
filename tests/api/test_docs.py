"""``/docs`` and ``/redoc`` work offline: every asset is served by the app itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

pytestmark = pytest.mark.anyio


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url", "data-openapi-url") and value:
                self.links.append(value)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_page_references_no_external_url(client: httpx.AsyncClient, page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?:|//[a-z]", r.text, re.IGNORECASE)
    assert "fonts." not in r.text and "@font-face" not in r.text
    parser = _Links()
    parser.feed(r.text)
    assert parser.links
    for link in parser.links:
        assert not re.match(r"[a-z]+:|//", link), link
        asset = await client.get(httpx.URL(f"http://testserver{page}").join(link))
        assert asset.status_code == 200, link
        assert len(asset.content) > 100, link


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_csp_forbids_other_origins(client: httpx.AsyncClient, page: str) -> None:
    csp = (await client.get(page)).headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "http" not in csp


async def test_vendored_assets_are_served_with_types(client: httpx.AsyncClient) -> None:
    for path, kind in [
        ("/static/swagger-ui/swagger-ui-bundle.js", "javascript"),
        ("/static/swagger-ui/swagger-ui.css", "text/css"),
        ("/static/redoc/redoc.standalone.js", "javascript"),
        ("/static/docs/swagger-init.js", "javascript"),
    ]:
        r = await client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
    css = (await client.get("/static/swagger-ui/swagger-ui.css")).text
    assert "@font-face" not in css and "@import" not in css
