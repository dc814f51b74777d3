"""Fixtures: the app over httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ._support import serve


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
async def client(anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve() as c:
        yield c
