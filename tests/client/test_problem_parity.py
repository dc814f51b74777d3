"""One error vocabulary: the same bad input gets the same problem from the server (raw
HTTP), from :class:`Client` and from :class:`LocalClient` (issue 14)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rmtservice.client import Client, LocalClient, ServiceError

POINT = {"kind": "point", "at": 0.0}
NOISE = {"sigma2": 1.0}
UNIFORM = {"kind": "uniform", "low": -1.0, "high": 1.0}
ASYMMETRIC = {"kind": "matrix", "entries": [[1.0, 2.0], [3.0, 4.0]]}
SYMMETRIC = {"kind": "matrix", "entries": [[1.0, 0.0], [0.0, 1.0]]}
PATHS = {
    "stieltjes": "/v1/stieltjes",
    "density": "/v1/density",
    "support": "/v1/support",
    "outliers": "/v1/outliers",
    "inverse": "/v1/outliers/inverse",
    "simulate": "/v1/simulate",
    "plot": "/v1/plot",
    "fit": "/v1/fit",
    "rectangular_density": "/v1/rectangular/density",
    "rectangular_support": "/v1/rectangular/support",
    "rectangular_outliers": "/v1/rectangular/outliers",
    "rectangular_inverse": "/v1/rectangular/outliers/inverse",
    "rectangular_stieltjes": "/v1/rectangular/stieltjes",
    "rectangular_simulate": "/v1/rectangular/simulate",
}
EV = [float(v) for v in range(-10, 10)]
RECT = {
    "measure": {"kind": "uniform", "low": 0.0, "high": 1.0},
    "noise": NOISE,
    "aspect_ratio": 0.5,
}
RECT_SIM = {"measure": POINT, "noise": NOISE, "rows": 6, "cols": 3}

#: (endpoint, body): each refused, by the request schema or by the core
BAD: list[tuple[str, dict[str, Any]]] = [
    ("density", {"measure": POINT, "noise": {"sigma2": -1.0}, "x": [0.0]}),
    ("density", {"measure": POINT, "noise": {"sigma2": 1e300}, "x": [0.0]}),
    ("density", {"measure": {"kind": "cauchy", "at": 0.0}, "noise": NOISE}),
    ("density", {"noise": NOISE, "x": [0.0]}),
    ("density", {"measure": POINT, "noise": NOISE, "colour": "red"}),
    ("density", {"measure": {"kind": "uniform", "low": 1.0, "high": 0.0}, "noise": NOISE}),
    ("density", {"measure": {"kind": "atoms", "values": [0, 1], "weights": [0.5]}, "noise": NOISE}),
    (
        "density",
        {"measure": {"kind": "atoms", "values": [0, 1], "weights": [2, -1]}, "noise": NOISE},
    ),
    ("density", {"measure": POINT, "noise": NOISE, "x": "everywhere"}),
    ("density", {"measure": POINT, "noise": NOISE, "grid": {"start": 1, "stop": 0, "num": 5}}),
    (
        "density",
        {
            "measure": {
                "kind": "mixture",
                "components": [{"weight": 1.0, "measure": {"kind": "point", "at": "zero"}}],
            },
            "noise": NOISE,
        },
    ),
    ("stieltjes", {"measure": POINT, "noise": NOISE, "z": {"re": [0.0], "im": [-1.0]}}),
    ("stieltjes", {"measure": POINT, "noise": NOISE, "z": {"re": [0.0, 1.0], "im": [1.0]}}),
    ("support", {"measure": {"kind": "semicircle", "center": 0, "radius": -1}, "noise": NOISE}),
    ("support", {"measure": {"kind": "marchenko_pastur", "ratio": -1, "scale": 1}, "noise": NOISE}),
    ("support", {"measure": {"kind": "mixture", "components": []}, "noise": NOISE}),
    ("outliers", {"measure": POINT, "noise": NOISE, "spikes": [3.0, "four"]}),
    ("inverse", {"measure": POINT, "noise": NOISE}),
    ("simulate", {"measure": ASYMMETRIC, "noise": NOISE, "n": 2}),
    ("simulate", {"measure": SYMMETRIC, "noise": NOISE, "n": 3}),
    ("simulate", {"measure": UNIFORM, "noise": NOISE, "n": 0}),
    ("simulate", {"measure": UNIFORM, "noise": {"sigma2": 1, "distribution": "student_t"}, "n": 4}),
    ("simulate", {"measure": UNIFORM, "noise": {"sigma2": 1, "df": 6}, "n": 4}),
    ("simulate", {"measure": UNIFORM, "noise": NOISE, "n": 4, "seed": 2**53}),
    ("simulate", {"measure": UNIFORM, "noise": NOISE, "n": 4, "dtype": "float16"}),
    ("simulate", {"measure": UNIFORM, "noise": NOISE, "n": 4, "top": 5}),
    ("simulate", {"measure": SYMMETRIC, "noise": NOISE, "n": 2, "spikes": [3.0]}),
    ("density", {"measure": {"kind": "uniform", "low": -1e200, "high": 1e200}, "noise": NOISE}),
    (
        "stieltjes",
        {
            "measure": {"kind": "atoms", "values": [1e200, -1e200], "weights": [0.5, 0.5]},
            "noise": NOISE,
            "z": {"re": [0.0], "im": [1.0]},
        },
    ),
    ("plot", {"measure": POINT, "noise": NOISE, "format": "gif"}),
    ("fit", {"eigenvalues": EV[:9]}),
    ("fit", {"eigenvalues": EV, "singular_values": EV}),
    ("fit", {"singular_values": [-1.0, *EV[11:]], "shape": {"rows": 9, "cols": 30}}),
    ("fit", {"singular_values": EV[10:], "shape": {"rows": 9, "cols": 30}}),
    ("fit", {"matrix": {"entries": [[0.0] * 12] * 11}, "model": "wigner"}),
    ("fit", {"matrix": {"entries": [[0.0] * 12] * 10 + [[0.0] * 11, [0.0] * 12]}}),
    ("fit", {"eigenvalues": [1.0] * 20}),
    ("fit", {"eigenvalues": EV, "deconvolve": True}),
    ("fit", {"eigenvalues": EV, "bootstrap": 5}),
    ("fit", {"eigenvalues": EV, "sigma2": 5e-324}),
    ("rectangular_support", RECT | {"measure": {"kind": "uniform", "low": -1.0, "high": 1.0}}),
    ("rectangular_support", RECT | {"measure": {"kind": "atoms", "values": [1], "weights": [-1]}}),
    ("rectangular_support", RECT | {"aspect_ratio": 0.0}),
    ("rectangular_support", {"measure": RECT["measure"], "noise": NOISE}),
    ("rectangular_support", RECT | {"measure": {"kind": "point", "at": 1e200}}),
    ("rectangular_density", RECT | {"x": [-1.0]}),
    ("rectangular_outliers", RECT | {"spikes": [-2.0]}),
    ("rectangular_inverse", RECT | {"observed": [1.0, "two"]}),
    (
        "rectangular_stieltjes",
        RECT
        | {"measure": {"kind": "point", "at": 0.0}, "aspect_ratio": 1.0}
        | {"z": {"re": [0.0], "im": [0.0]}},
    ),
    ("rectangular_simulate", RECT_SIM | {"top": 4}),
    ("rectangular_simulate", RECT_SIM | {"measure": {"kind": "matrix", "entries": [[1.0]]}}),
    ("rectangular_simulate", RECT_SIM | {"noise": {"sigma2": 1.0, "df": 6}}),
]


def _members(problem: dict[str, Any]) -> tuple[Any, ...]:
    paths = [e["path"] for e in problem.get("errors") or []]
    return problem["type"], problem["title"], problem["status"], problem["detail"], paths


def _through(client: Any, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ServiceError) as info:
        getattr(client, endpoint)(body)
    assert info.value.status == info.value.problem["status"]
    return info.value.problem


@pytest.fixture(scope="module")
def local() -> Any:
    with LocalClient() as c:
        yield c


@pytest.mark.parametrize(
    ("endpoint", "body"), BAD, ids=[f"{e}-{i}" for i, (e, _) in enumerate(BAD)]
)
def test_the_same_problem_everywhere(
    server: str, local: LocalClient, endpoint: str, body: dict[str, Any]
) -> None:
    raw = httpx.post(server + PATHS[endpoint], json=body, timeout=60)
    assert raw.headers["content-type"] == "application/problem+json"
    assert 400 <= raw.status_code < 500, raw.text
    expected = _members(raw.json())
    with Client(server, retries=0) as remote:
        assert _members(_through(remote, endpoint, body)) == expected
    assert _members(_through(local, endpoint, body)) == expected


@pytest.mark.slow
def test_an_unknown_sweep_is_the_same_404_everywhere(server: str) -> None:
    sweep_id = "0" * 32  # well formed, never submitted
    raw = httpx.get(f"{server}/v1/sweeps/{sweep_id}", timeout=60)
    assert raw.status_code == 404 and raw.json()["type"] == "/problems/not-found"
    expected = _members(raw.json())
    with Client(server, retries=0) as remote, pytest.raises(ServiceError) as r:
        remote.sweep_status(sweep_id)
    assert _members(r.value.problem) == expected
    with LocalClient(dask_workers=1) as local, pytest.raises(ServiceError) as here:
        local.sweep_status(sweep_id)
    assert _members(here.value.problem) == expected


def _npy(a: Any) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=float))
    return buf.getvalue()


def _st(tensors: dict[str, Any]) -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return bytes(save({k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}))


EYE = [[1.0 if i == j else 0.0 for j in range(12)] for i in range(12)]
#: (body as a weight file, its query parameters): each refused by /v1/denoise
DENOISE_BAD: list[tuple[bytes, dict[str, Any]]] = [
    (_npy(EYE), {"method": "median"}),
    (_npy(EYE), {"sigma2": -1.0}),
    (_npy(EYE), {"sigma2": 1e200}),
    (_npy(EYE), {"output": "picture", "sigma2": 1.0}),
    (_npy(EYE), {"alpha": 1.5}),
    (_npy(EYE), {"seed": 2**53}),
    (_npy(EYE), {"model": "wigner", "sigma2": 1.0, "name": "w"}),
    (_npy([[1.0, 2.0], [3.0, 4.0]]), {"model": "wigner", "sigma2": 1.0}),
    (_npy([[1.0, 2.0]]), {}),
    (_npy([1.0, 2.0, 3.0]), {"sigma2": 1.0}),
    (_npy([[1.0, float("nan")], [2.0, 3.0]]), {"sigma2": 1.0}),
    (_npy(EYE)[:-9], {"sigma2": 1.0}),
    (b"\x93NUMPY garbage header", {"sigma2": 1.0}),
    (b"\x80\x04\x95pickle", {"sigma2": 1.0}),
    (_st({"a": EYE, "b": EYE}), {"sigma2": 1.0}),
    (_st({"a": EYE}), {"sigma2": 1.0, "name": "c"}),
    (_st({"bias": [1.0, 2.0]}), {"sigma2": 1.0}),
]


@pytest.mark.parametrize(
    ("content", "params"), DENOISE_BAD, ids=[f"denoise-{i}" for i in range(len(DENOISE_BAD))]
)
def test_denoise_the_same_problem_everywhere(
    server: str, local: LocalClient, content: bytes, params: dict[str, Any]
) -> None:
    raw = httpx.post(
        server + "/v1/denoise",
        content=content,
        params=params,
        headers={"content-type": "application/octet-stream"},
        timeout=60,
    )
    assert raw.headers["content-type"] == "application/problem+json"
    assert 400 <= raw.status_code < 500, raw.text
    expected = _members(raw.json())
    options = {k: v for k, v in params.items() if k != "name"}
    name = params.get("name")
    with Client(server, retries=0) as remote, pytest.raises(ServiceError) as r:
        remote.denoise(file=content, name=name, **options)
    assert _members(r.value.problem) == expected
    with pytest.raises(ServiceError) as here:
        local.denoise(file=content, name=name, **options)
    assert _members(here.value.problem) == expected
