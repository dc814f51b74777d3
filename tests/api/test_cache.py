"""The support cache (app.runtime.cache): the same answers as without it, bounded, immutable."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from app.runtime import compute
from app.runtime.cache import SupportCache
from rmtservice.errors import InvalidParameter
from rmtservice.wire import service
from rmtservice.wire.schemas import (
    DensityRequest,
    InverseRequest,
    OutliersRequest,
    SupportRequest,
)

from ._support import NOISE, POINT, serve

MEASURES: dict[str, dict[str, Any]] = {
    "point": POINT,
    "atoms with gaps": {"kind": "atoms", "values": [-3.0, -1.0, 0.5, 4.0], "weights": [1, 2, 3, 4]},
    "uniform": {"kind": "uniform", "low": -1.0, "high": 1.0},
    "mixture": {
        "kind": "mixture",
        "components": [
            {"weight": 0.5, "measure": {"kind": "semicircle", "center": -3, "radius": 1}},
            {"weight": 0.5, "measure": {"kind": "atoms", "values": [2.0, 3.0]}},
        ],
    },
    "matrix": {"kind": "matrix", "entries": [[0.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, -1.0]]},
}


def _requests(measure: dict[str, Any]) -> list[tuple[Any, Any]]:
    base = {"measure": measure, "noise": {"sigma2": 0.3}}
    return [
        (service.density, DensityRequest.model_validate(base | {"num": 40})),
        (service.support, SupportRequest.model_validate(base)),
        (service.outliers, OutliersRequest.model_validate(base | {"spikes": [9.0, -9.0, 0.1]})),
        (service.inverse, InverseRequest.model_validate(base | {"observed": [12.0, -12.0]})),
    ]


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_cached_answers_equal_uncached_ones(name: str) -> None:
    cache = SupportCache(8, 10_000)
    for fn, req in _requests(MEASURES[name]):
        plain = fn(req).model_dump_json()
        assert fn(req, prepare=cache).model_dump_json() == plain  # a miss, then stored
        assert fn(req, prepare=cache).model_dump_json() == plain  # a hit
    assert (cache.misses, cache.hits, len(cache)) == (1, 7, 1)


def test_the_key_is_the_measure_and_sigma2() -> None:
    cache = SupportCache(8, 10_000)
    point = SupportRequest.model_validate({"measure": POINT, "noise": NOISE}).measure
    shifted = SupportRequest.model_validate(
        {"measure": {"kind": "point", "at": 1.0}, "noise": NOISE}
    ).measure
    a = cache(point, 1.0)
    assert cache(point, 1.0) is a
    assert cache(point, 2.0) is not a
    assert cache(shifted, 1.0) is not a
    assert float(cache(point, 2.0)[1].upper[0]) == pytest.approx(2 * 2**0.5)
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 3)


def _atoms(n: int, at: float = 0.0) -> Any:
    values = [at + i for i in range(n)]
    return SupportRequest.model_validate(
        {"measure": {"kind": "atoms", "values": values}, "noise": NOISE}
    ).measure


def test_eviction_keeps_the_most_recently_used_within_both_bounds() -> None:
    cache = SupportCache(2, 10)
    a, b, c = _atoms(1, 0.0), _atoms(1, 10.0), _atoms(1, 20.0)
    cache(a, 1.0)
    cache(b, 1.0)
    cache(a, 1.0)  # a is now the most recent
    cache(c, 1.0)  # b goes
    assert len(cache) == 2
    misses = cache.misses
    cache(a, 1.0)
    cache(c, 1.0)
    assert cache.misses == misses
    cache(b, 1.0)
    assert cache.misses == misses + 1
    # atoms: 6 + 5 > 10, so only the newer stays; 11 atoms alone are not kept at all
    cache(_atoms(6), 1.0)
    cache(_atoms(5, 100.0), 1.0)
    assert (len(cache), cache.atoms) == (1, 5)
    cache(_atoms(11), 1.0)
    assert (len(cache), cache.atoms) == (1, 5)


def test_size_zero_is_no_cache() -> None:
    cache = SupportCache(0, 10_000)
    point = _atoms(3)
    assert cache(point, 1.0) is not cache(point, 1.0)
    assert (len(cache), cache.hits) == (0, 0)


def test_entries_are_read_only() -> None:
    cache = SupportCache(4, 10_000)
    measure, sup = cache(_atoms(300), 0.01)  # 300 atoms: a treecode, and open gaps
    arrays = [measure.values, measure.weights, sup.lower, sup.upper, sup.mass]
    arrays += [sup.u_lower, sup.u_upper, sup.cusp_x, sup.cusp_u]
    arrays += [*measure._sums.moments, measure._sums.t_leaf]
    for array in arrays:
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        sup.lower[0] = 0.0
    # the entry still answers, and as before
    _, again = cache(_atoms(300), 0.01)
    assert again is sup and len(sup) == 300
    assert np.array_equal(again.lower, service.prepare(_atoms(300), 0.01)[1].lower)


def test_errors_are_not_cached() -> None:
    cache = SupportCache(4, 10_000)
    huge = SupportRequest.model_validate(
        {"measure": {"kind": "point", "at": 1e200}, "noise": NOISE}
    ).measure
    for _ in range(2):
        with pytest.raises(InvalidParameter):
            cache(huge, 1.0)
    assert (len(cache), cache.misses) == (0, 2)


def test_pool_jobs_use_the_cache_of_their_worker_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = pickle.loads(pickle.dumps(compute._WithWorkerCache(service.support)))
    req = SupportRequest.model_validate({"measure": POINT, "noise": NOISE})
    monkeypatch.setattr(compute, "_worker_cache", None)  # not a worker: plain prepare
    assert job(req) == service.support(req)
    cache = SupportCache(4, 100)
    monkeypatch.setattr(compute, "_worker_cache", cache)
    assert job(req) == job(req) == service.support(req)
    assert (cache.misses, cache.hits) == (1, 1)


@pytest.mark.anyio
async def test_the_settings_reach_the_cache_and_info() -> None:
    async with serve(support_cache_size=3, support_cache_atoms=77) as client:
        cache = client._transport.app.state.compute.cache  # type: ignore[attr-defined]
        assert (cache.size, cache.max_atoms) == (3, 77)
        limits = (await client.get("/v1/info")).json()["limits"]
        assert (limits["support_cache_size"], limits["support_cache_atoms"]) == (3, 77)
        for _ in range(2):
            r = await client.post(
                "/v1/outliers", json={"measure": POINT, "noise": NOISE, "spikes": [3]}
            )
            assert r.status_code == 200
        metrics = (await client.get("/metrics")).text
        assert "rmt_support_cache_hits 1" in metrics
        assert "rmt_support_cache_misses 1" in metrics
        assert "rmt_support_cache_entries 1" in metrics
