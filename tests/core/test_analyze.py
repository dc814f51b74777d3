"""rmtservice.analyze on generated weight files: the rows agree with the fit and the
denoiser run on the matrix itself, the denoised file round-trips, bad files are refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose
from numpy.typing import NDArray
from safetensors.numpy import save_file

from rmtservice import denoise as dn
from rmtservice.analyze import analyze
from rmtservice.errors import InvalidParameter
from rmtservice.fit import fit
from rmtservice.io import list_tensors, load_matrix

BF16 = np.dtype(ml_dtypes.bfloat16)


def spiked(rows: int, cols: int, spikes: tuple[float, ...], seed: int, s2: float = 1.0) -> Any:
    """``S + X``: spikes on the leading diagonal, X with entries of variance ``s2/rows``."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((rows, cols)) * np.sqrt(s2 / rows)
    for i, t in enumerate(spikes):
        y[i, i] += t
    return y


@pytest.fixture
def layers() -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(5)
    g = rng.standard_normal((120, 120)) / np.sqrt(240)
    sym = g + g.T
    sym[0, 0] += 4.0
    return {
        "dense.weight": spiked(300, 150, (4.0, 3.0, 2.5), seed=1),
        "dense.bias": np.zeros(150),
        "sym.weight": sym,
        "conv.weight": spiked(64, 72, (5.0,), seed=2).reshape(64, 8, 3, 3),
        "steps": np.arange(6, dtype=np.int64).reshape(2, 3),
    }


def test_rows_agree_with_fit_and_denoise(tmp_path: Path, layers: dict[str, Any]) -> None:
    src = tmp_path / "model.npz"
    np.savez(src, **layers)
    a = analyze(src, seed=0)
    by = {r.name: r for r in a.tensors}
    assert list(by) == ["dense.weight", "sym.weight", "conv.weight"]
    assert {s.name for s in a.skipped} == {"dense.bias", "steps"}
    for name, r in by.items():
        w = load_matrix(src, name)
        f = fit(matrix=w, bootstrap=0)
        assert r.model == f.model == ("wigner" if name == "sym.weight" else "rectangular")
        assert_allclose(r.sigma2, f.sigma2, rtol=1e-9)
        assert r.rank == f.rank
        assert_allclose([o.value for o in r.outliers], [o.value for o in f.outliers], rtol=1e-9)
        d = dn.denoise(w, f.sigma2, noise_bulk=f.verdict.noise_plus_spikes, centre=f.center)
        assert r.recommended_method == d.method
        assert_allclose(r.predicted_error, d.predicted_error[d.method], rtol=1e-9)
        assert_allclose(r.values, d.values, rtol=1e-9, atol=1e-12)
    assert by["dense.weight"].rank == 3 and by["conv.weight"].rank == 1
    assert by["dense.weight"].recommended_method == "shrink"
    assert_allclose(by["dense.weight"].sigma2, 1.0, rtol=0.1)


def test_denoised_file_holds_the_rows_matrices(tmp_path: Path, layers: dict[str, Any]) -> None:
    src, out = tmp_path / "model.npz", tmp_path / "denoised.npz"
    np.savez(src, **layers)
    a = analyze(src, out=out, seed=0)
    assert a.out == str(out)
    before, after = list_tensors(src), list_tensors(out)
    assert [(t.name, t.shape, t.dtype) for t in after] == [
        (t.name, t.shape, t.dtype) for t in before
    ]
    with np.load(out) as z:
        assert_allclose(z["dense.bias"], layers["dense.bias"], atol=0)
        assert z["conv.weight"].shape == (64, 8, 3, 3)
    for r in a.tensors:
        w, w_hat = load_matrix(src, r.name), load_matrix(out, r.name)
        # the estimate keeps the observed vectors: its spectrum is the row's new values
        if r.model == "wigner":
            new = np.sort(np.linalg.eigvalsh(w_hat))[::-1]
            assert_allclose(new, np.sort(r.values)[::-1], atol=1e-9)
        else:
            assert_allclose(scipy.linalg.svdvals(w_hat), np.sort(r.values)[::-1], atol=1e-9)
        energy = float(np.sum(w_hat**2)) / float(np.sum(w**2))
        assert_allclose(r.energy_kept, energy, rtol=1e-9)


def test_conv_kernel_row_says_so(tmp_path: Path, layers: dict[str, Any]) -> None:
    src = tmp_path / "model.npz"
    np.savez(src, **layers)
    (r,) = analyze(src, names="conv.*").tensors
    assert r.shape == (64, 72) and r.reshaped_from == (64, 8, 3, 3)
    assert "convolution kernel" in r.how and "in*kh*kw" in r.how


def test_bfloat16_round_trip(tmp_path: Path) -> None:
    w = spiked(200, 100, (4.0, 3.0), seed=3).astype(BF16)
    src, out = tmp_path / "m.safetensors", tmp_path / "d.safetensors"
    save_file({"w": w, "b": np.ones(100, dtype=BF16)}, str(src))
    a = analyze(src, out=out)
    (r,) = a.tensors
    assert r.dtype == "bfloat16" and r.rank == 2
    assert [(t.name, t.shape, t.dtype) for t in list_tensors(out)] == [
        ("b", (100,), "bfloat16"),
        ("w", (200, 100), "bfloat16"),
    ]
    # bfloat16 keeps 8 significant bits: the denoised top values within 2^-7, relative
    top = scipy.linalg.svdvals(load_matrix(out, "w"))[:2]
    assert_allclose(top, r.values[:2], rtol=2.0**-7 * 4)


def test_sources_alike(tmp_path: Path, layers: dict[str, Any]) -> None:
    src = tmp_path / "model.npz"
    np.savez(src, **layers)
    data = src.read_bytes()
    rows = [analyze(s, seed=0).tensors for s in (src, data, io.BytesIO(data))]
    for other in rows[1:]:
        assert [(r.name, r.rank, r.sigma2) for r in other] == [
            (r.name, r.rank, r.sigma2) for r in rows[0]
        ]
    buf = io.BytesIO()
    analyze(data, out=buf)
    assert [t.name for t in list_tensors(buf.getvalue())] == list(layers)


def test_progress_and_method(tmp_path: Path, layers: dict[str, Any]) -> None:
    src = tmp_path / "model.npz"
    np.savez(src, **layers)
    calls: list[tuple[int, int, str]] = []
    a = analyze(src, method="hard", progress=lambda *c: calls.append(c))
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    assert [c[2] for c in calls] == [r.name for r in a.tensors]
    r = a.tensors[0]
    assert r.method == "hard"
    # hard keeps the values beyond the edge unchanged and sets the others to 0
    kept = r.observed > r.fit.bulk.upper
    assert_allclose(r.values, np.where(kept, r.observed, 0.0), atol=0)
    assert_allclose(r.energy_kept, np.sum(r.values**2) / np.sum(r.observed**2), rtol=1e-12)


def test_bad_files(tmp_path: Path) -> None:
    only_1d = tmp_path / "bias.npz"
    np.savez(only_1d, bias=np.zeros(10), scale=np.ones(10))
    with pytest.raises(InvalidParameter, match="no 2-D tensor"):
        analyze(only_1d)
    good = tmp_path / "w.safetensors"
    save_file({"w": spiked(60, 40, (), seed=4).astype(np.float32)}, str(good))
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(InvalidParameter, match=r"cut\.safetensors"):
        analyze(truncated)
    header = tmp_path / "garbage.safetensors"
    header.write_bytes(b"not a weight file at all, just text")
    with pytest.raises(InvalidParameter, match=r"garbage\.safetensors"):
        analyze(header)
    with pytest.raises(InvalidParameter, match=r"'v'.*'w'"):
        analyze(good, names=["v"])
    small = tmp_path / "small.npz"
    np.savez(small, w=np.ones((5, 300)))
    with pytest.raises(InvalidParameter, match=r"could be analysed.*a fit needs at least 10"):
        analyze(small)
    with pytest.raises(InvalidParameter, match="method must be one of"):
        analyze(good, method="prune")
    with pytest.raises(InvalidParameter, match="no such folder"):
        analyze(good, out=tmp_path / "nowhere" / "d.safetensors")


def test_matrices_the_fit_refuses_are_skipped(tmp_path: Path) -> None:
    src, out = tmp_path / "m.npz", tmp_path / "d.npz"
    w = spiked(60, 40, (5.0,), seed=6)
    np.savez(src, zero=np.zeros((60, 40)), ok=w, small=np.zeros((60, 40)) + 1e-300 * w)
    a = analyze(src, out=out)
    assert [r.name for r in a.tensors] == ["ok"]
    reasons = {s.name: s.reason for s in a.skipped}
    assert set(reasons) == {"zero", "small"}
    assert all(r.startswith("no fit: ") for r in reasons.values())
    with np.load(out) as z:
        assert np.array_equal(z["zero"], np.zeros((60, 40)))
        assert np.array_equal(z["small"], 1e-300 * w)
    with pytest.raises(InvalidParameter, match="alpha must be a number"):
        analyze(src, alpha="high")  # type: ignore[arg-type]
