"""POST /v1/analyze over the real app: every matrix of an uploaded file, as the library
analyses it; names; limits; bad files are problems."""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose
from safetensors.numpy import save as st_save

from rmtservice.analyze import analyze

from ._support import assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio

ST = {"content-type": "application/vnd.safetensors"}
NPY = {"content-type": "application/octet-stream"}


def model_file() -> bytes:
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((120, 60)) / math.sqrt(120)
    dense[:3, :3] += 4.0 * np.eye(3)
    tensors = {
        "enc.0.weight": dense.astype(np.float32),
        "enc.0.bias": np.zeros(120, np.float32),
        "enc.1.weight": (rng.standard_normal((60, 60)) / math.sqrt(60)).astype(np.float32),
        "conv.weight": rng.standard_normal((16, 4, 3, 3)).astype(np.float32),
        "step": np.zeros(1, np.int64),
    }
    return bytes(st_save(tensors))


async def test_every_matrix_as_the_library(client: httpx.AsyncClient) -> None:
    data = model_file()
    r = await client.post("/v1/analyze", content=data, headers=ST)
    assert r.status_code == 200, r.text
    out = r.json()
    ref = analyze(data)
    assert out["format"] == "safetensors"
    # in the file's order (safetensors: the order of the data)
    assert [t["name"] for t in out["tensors"]] == [t.name for t in ref.tensors]
    assert {s["name"] for s in out["skipped"]} == {s.name for s in ref.skipped}
    for row, t in zip(out["tensors"], ref.tensors, strict=True):
        assert row["shape"] == list(t.shape) and row["model"] == t.model
        assert_allclose(row["sigma2"], t.sigma2, rtol=1e-12)
        assert row["rank"] == t.rank == len(row["outliers"])
        assert row["recommended_method"] == t.recommended_method
        assert_allclose(row["energy_kept"], t.energy_kept, rtol=1e-12)
        assert row["verdict"]["noise_plus_spikes"] is t.verdict.noise_plus_spikes
        assert set(row["predicted_errors"]) == {"none", "hard", "optimal_hard", "shrink", "rie"}
        assert 0 <= row["energy_kept"] <= 1 + 1e-12
    dense = next(t for t in out["tensors"] if t["name"] == "enc.0.weight")
    assert dense["rank"] == 3
    assert dense["recommended_method"] == "shrink"
    conv = next(t for t in out["tensors"] if t["name"] == "conv.weight")
    assert conv["shape"] == [16, 36] and conv["reshaped_from"] == [16, 4, 3, 3]


async def test_name_filters(client: httpx.AsyncClient) -> None:
    data = model_file()
    r = await client.post("/v1/analyze?names=enc.*.weight", content=data, headers=ST)
    assert r.status_code == 200, r.text
    assert {t["name"] for t in r.json()["tensors"]} == {"enc.0.weight", "enc.1.weight"}
    r = await client.post(
        "/v1/analyze?names=conv.weight&names=enc.1.weight&method=hard", content=data, headers=ST
    )
    assert r.status_code == 200, r.text
    assert {t["name"] for t in r.json()["tensors"]} == {"enc.1.weight", "conv.weight"}
    assert {t["method"] for t in r.json()["tensors"]} == {"hard"}


async def test_npz_upload(client: httpx.AsyncClient) -> None:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    np.savez(buf, w=rng.standard_normal((50, 40)), b=np.zeros(3))
    r = await client.post("/v1/analyze", content=buf.getvalue(), headers=NPY)
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "npz"
    assert [t["name"] for t in r.json()["tensors"]] == ["w"]


@pytest.fixture(scope="module")
async def small(anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    limits = {"max_analyze_tensors": 2, "max_denoise_rows": 100, "max_upload_bytes": 32 * 1024}
    async with serve(access_log=False, **limits) as c:
        yield c


async def test_limits(small: httpx.AsyncClient) -> None:
    data = model_file()  # 46 KB
    r = await small.post("/v1/analyze", content=data, headers=ST)
    assert_problem(r, 413, "body-too-large", "max_upload_bytes")
    rng = np.random.default_rng(2)
    three = {f"w{i}": rng.standard_normal((20, 20)).astype(np.float32) for i in range(3)}
    r = await small.post("/v1/analyze", content=bytes(st_save(three)), headers=ST)
    assert_problem(r, 422, "limit-exceeded", "matrix count 3 is over the limit 2")
    r = await small.post("/v1/analyze?names=w0", content=bytes(st_save(three)), headers=ST)
    assert r.status_code == 200, r.text
    tall = {"w": rng.standard_normal((101, 10)).astype(np.float32)}
    r = await small.post("/v1/analyze", content=bytes(st_save(tall)), headers=ST)
    assert_problem(r, 422, "limit-exceeded", "row count of tensor 'w' 101")
    async with serve(deadline_seconds=1e-6, access_log=False) as c:
        r = await c.post("/v1/analyze", content=data, headers=ST)
        assert_problem(r, 503, "deadline-exceeded", "LAPACK")


async def test_bad_files_are_problems(client: httpx.AsyncClient) -> None:
    data = model_file()
    r = await client.post("/v1/analyze", content=data[:-9], headers=ST)
    assert_problem(r, 422, "invalid-parameter", "truncated")
    r = await client.post("/v1/analyze", content=b"\x80\x04garbage", headers=NPY)
    assert_problem(r, 422, "invalid-parameter", "pickle")
    only_1d = bytes(st_save({"b": np.zeros(5, np.float32)}))
    r = await client.post("/v1/analyze", content=only_1d, headers=ST)
    assert_problem(r, 422, "invalid-parameter", "no 2-D tensor")
    r = await client.post("/v1/analyze?names=enc.9.weight", content=data, headers=ST)
    body = assert_problem(r, 422, "invalid-parameter", "no tensor 'enc.9.weight'")
    assert field_paths(body) == ["/query/names"]
    r = await client.post("/v1/analyze?method=median", content=data, headers=ST)
    assert_problem(r, 422, "validation-error")
    r = await client.post("/v1/analyze", json={"file": "x"})
    assert_problem(r, 415, "unsupported-media-type")
    r = await client.post("/v1/analyze")
    assert_problem(r, 422, "invalid-parameter", "send the weight file")
