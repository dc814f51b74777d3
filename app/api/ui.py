"""``/ui``: the explorer page (issue #6), a hand-written page served from ``app/static/ui``.

The page and its script and style sheet are local files; every URL in them is relative
(so the page also works under a proxy prefix), and its Content-Security-Policy allows
only this origin (plus ``data:`` images), with no inline script or style, so the browser
fetches nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = Path(__file__).resolve().parent.parent / "static" / "ui" / "index.html"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'"
)


@router.get("/ui")
async def explorer() -> HTMLResponse:
    return HTMLResponse(
        PAGE.read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )
