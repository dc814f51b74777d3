"""Fixtures: one real uvicorn for the module's sync-client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._server import uvicorn


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    with uvicorn() as base:
        yield base


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
