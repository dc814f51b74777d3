"""denoise, denoise_array and analyze in the SDK: Client against a real uvicorn,
AsyncClient over the ASGI transport, LocalClient here; the same answers from all three."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose
from safetensors.numpy import save as st_save

from app.main import create_app
from app.settings import Settings
from rmtservice import denoise as dn
from rmtservice.client import AsyncClient, Client, DenoisedArray, LocalClient, ServiceError
from rmtservice.wire.analyze import AnalyzeResponse
from rmtservice.wire.denoise import DenoiseResponse


def low_rank(n: int, p: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.zeros((n, p))
    s[0, 0], s[1, 1] = 4.0, 3.0
    return s + rng.standard_normal((n, p)) / math.sqrt(n)


def close(a: Any, b: Any, path: str = "") -> None:
    """Equal answers: the same structure, numbers within 1e-10 (another process's BLAS)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k != "seconds":
                close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=path)
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def local() -> Iterator[LocalClient]:
    with LocalClient() as c:
        yield c


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tensors = {
        "a.weight": low_rank(64, 40, 1).astype(np.float32),
        "a.bias": np.zeros(64, np.float32),
        "b.weight": low_rank(50, 50, 2).astype(np.float32),
    }
    path = tmp_path_factory.mktemp("weights") / "model.safetensors"
    path.write_bytes(bytes(st_save(tensors)))
    return path


def test_denoise_the_same_everywhere(server: str, local: LocalClient) -> None:
    y = low_rank(80, 50, 0)
    with Client(server) as remote:
        r = remote.denoise(y, output="factors", seed=3)
    assert isinstance(r, DenoiseResponse)
    l_ = local.denoise(y.tolist(), output="factors", seed=3)  # a list works too
    close(r.model_dump(), l_.model_dump())
    ref = dn.denoise(y, output="factors", seed=3)
    assert r.method == ref.method and r.rank == ref.rank
    assert_allclose(r.sigma2, ref.sigma2, rtol=1e-12)


def test_denoise_array_the_same_everywhere(server: str, local: LocalClient) -> None:
    y = low_rank(90, 60, 4)
    with Client(server) as remote:
        r = remote.denoise_array(y, sigma2=1.0)
    l_ = local.denoise_array(y, sigma2=1.0)
    assert isinstance(r, DenoisedArray)
    assert_allclose(r.matrix, l_.matrix, atol=1e-12)
    assert (r.method, r.rank, r.sigma2) == (l_.method, l_.rank, l_.sigma2)
    assert_allclose(r.predicted_error, l_.predicted_error, rtol=1e-10)
    ref = dn.denoise(y, 1.0, output="matrix")
    assert ref.matrix is not None
    assert_allclose(r.matrix, ref.matrix, atol=1e-12)


def test_a_tensor_of_a_file_by_path_or_bytes(
    server: str, local: LocalClient, weights: Path
) -> None:
    with Client(server) as remote:
        r = remote.denoise(file=weights, name="b.weight", sigma2=1.0, seed=1)
    l_ = local.denoise(file=weights.read_bytes(), name="b.weight", sigma2=1.0, seed=1)
    close(r.model_dump(), l_.model_dump())
    # a path stays a path locally (read from its memory map): the same answer
    close(local.denoise(file=weights, name="b.weight", sigma2=1.0, seed=1).model_dump(),
          l_.model_dump())  # fmt: skip
    assert r.tensor is not None and r.tensor.name == "b.weight"
    assert r.tensor.dtype == "float32"


def test_analyze_the_same_everywhere(server: str, local: LocalClient, weights: Path) -> None:
    with Client(server) as remote:
        r = remote.analyze(weights)
        only = remote.analyze(weights.read_bytes(), names="a.*")
    assert isinstance(r, AnalyzeResponse)
    close(r.model_dump(), local.analyze(weights).model_dump())
    assert {t.name for t in r.tensors} == {"a.weight", "b.weight"}
    assert [t.name for t in only.tensors] == ["a.weight"]
    assert [s.name for s in r.skipped] == ["a.bias"]


@pytest.mark.anyio
async def test_async_client(weights: Path, local: LocalClient) -> None:
    app = create_app(Settings(executor="thread", access_log=False))
    transport = httpx.ASGITransport(app=app)
    y = low_rank(60, 40, 5)
    async with app.router.lifespan_context(app):
        async with AsyncClient("http://testserver", transport=transport) as c:
            d = await c.denoise(y, sigma2=1.0, method="shrink", seed=2)
            a = await c.denoise_array(y, sigma2=1.0)
            an = await c.analyze(weights, names=["b.weight"])
    close(d.model_dump(), local.denoise(y, sigma2=1.0, method="shrink", seed=2).model_dump())
    assert_allclose(a.matrix, local.denoise_array(y, sigma2=1.0).matrix, atol=1e-12)
    assert [t.name for t in an.tensors] == ["b.weight"]


#: bad input through the SDK: (call, keywords), the same problem everywhere
BAD: list[tuple[str, dict[str, Any]]] = [
    ("denoise", {"matrix": [[1.0, 2.0]], "method": "median"}),
    ("denoise", {"matrix": [[1.0, 2.0]], "sigma2": -1.0}),
    ("denoise", {"matrix": [1.0, 2.0, 3.0], "sigma2": 1.0}),
    ("denoise", {"matrix": [[1.0, float("nan")], [0.0, 1.0]], "sigma2": 1.0}),
    ("denoise", {"matrix": [[1.0, 2.0]]}),
    ("denoise", {"file": b"not a weight file", "sigma2": 1.0}),
    ("analyze", {"file": b"\x80\x04pickle", "method": "hard"}),
    ("analyze", {"file": b"x" * 20, "alpha": 2.0}),
]


def _problem(client: Any, call: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    with pytest.raises(ServiceError) as info:
        getattr(client, call)(**kwargs)
    p = info.value.problem
    return p["type"], p["status"], p["detail"], [e["path"] for e in p.get("errors") or []]


@pytest.mark.parametrize(("call", "kwargs"), BAD, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD)])
def test_bad_input_the_same_problem(
    server: str, local: LocalClient, call: str, kwargs: dict[str, Any]
) -> None:
    with Client(server, retries=0) as remote:
        expected = _problem(remote, call, kwargs)
    assert 400 <= expected[1] < 500
    assert _problem(local, call, kwargs) == expected
