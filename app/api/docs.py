"""``/docs`` (Swagger UI) and ``/redoc``, served offline from ``app/static``, and the
documentation site (``make docs``: theory, HTTP contract, library) under ``/docs/site/``
when it is built, linked from ``/docs``.

Every URL in the pages is relative (so the pages also work under a proxy prefix), and
a Content-Security-Policy allows only this origin (plus ``data:`` images and Redoc's
``blob:`` worker), so the browser fetches nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; worker-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rmtservice - Swagger UI</title>
<link rel="stylesheet" href="static/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="static/swagger-ui/favicon-32x32.png">
</head>
<body>
{site_link}<div id="swagger-ui" data-openapi-url="openapi.json"></div>
<script src="static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="static/docs/swagger-init.js"></script>
</body>
</html>
"""

REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rmtservice - ReDoc</title>
<link rel="icon" type="image/png" href="static/swagger-ui/favicon-32x32.png">
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<noscript>ReDoc needs JavaScript; the spec itself is at openapi.json.</noscript>
<redoc spec-url="openapi.json" hide-loading></redoc>
<script src="static/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


#: the MkDocs site of a source checkout (``make docs``)
SITE = Path(__file__).resolve().parents[2] / "build" / "site"
SITE_PATH = "/docs/site"
#: the site's pages carry a few inline scripts of the theme (search, palette)
SITE_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
SITE_LINK = (
    '<p style="margin: 0; padding: 8px 20px; font-family: sans-serif; background: #f6f8fa">'
    '<a href="docs/site/">The documentation</a>: theory, the HTTP contract in prose, '
    "the library and the command line.</p>\n"
)


class SiteFiles(StaticFiles):
    """The built site, with a policy that lets its own scripts run."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = SITE_CSP
        return response


def site_dir(configured: str | None) -> Path | None:
    """The site to serve: the configured directory, else the checkout's; None when it
    has no ``index.html`` (not built)."""
    root = Path(configured) if configured else SITE
    return root if (root / "index.html").is_file() else None


def mount_site(app: FastAPI, configured: str | None) -> None:
    """Serve the site under ``/docs/site/`` and link it from ``/docs``, if it is built."""
    root = site_dir(configured)
    app.state.docs_site = root
    if root is not None:
        app.mount(SITE_PATH, SiteFiles(directory=root, html=True), name="docs-site")


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    built = getattr(request.app.state, "docs_site", None) is not None
    return _page(SWAGGER_PAGE.replace("{site_link}", SITE_LINK if built else ""))


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return _page(REDOC_PAGE)
