"""A 2-worker Dask ``LocalCluster`` on 127.0.0.1 shared by the sweep tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rmtservice.sweeps.store import local_cluster


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    c = local_cluster(2)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def dask_client(cluster: Any) -> Iterator[Any]:
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as c:
        yield c
