"""``/docs`` (Swagger UI) and ``/redoc``, served offline from ``app/static``.

Every URL in the pages is relative (so the pages also work under a proxy prefix), and
a Content-Security-Policy allows only this origin (plus ``data:`` images and Redoc's
``blob:`` worker), so the browser fetches nothing from elsewhere.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

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
<div id="swagger-ui" data-openapi-url="openapi.json"></div>
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


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return _page(SWAGGER_PAGE)


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return _page(REDOC_PAGE)
