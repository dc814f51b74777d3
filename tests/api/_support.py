"""Helpers for the API tests: a fresh app behind httpx's ASGI transport, problem checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.main import create_app
from app.settings import Settings

POINT = {"kind": "point", "at": 0.0}
NOISE = {"sigma2": 1.0}


@asynccontextmanager
async def serve(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a fresh app (worker threads; ``overrides`` change settings)."""
    app = create_app(Settings(**({"executor": "thread"} | overrides)))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def assert_problem(
    response: httpx.Response, status: int, slug: str, detail: str | None = None
) -> dict[str, Any]:
    """The answer is an RFC 9457 problem of type ``slug``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance"):
        assert member in body, member
    assert body["status"] == status
    assert body["type"] == (f"/problems/{slug}" if slug else "about:blank")
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    return body


def field_paths(body: dict[str, Any]) -> list[str]:
    """The JSON Pointers of a problem's ``errors``."""
    return [e["path"] for e in body["errors"]]
