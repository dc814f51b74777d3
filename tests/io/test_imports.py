"""rmtservice.io stands alone: numpy only; safetensors and ml_dtypes when first used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import sys{extra}\n"
    "import rmtservice.io\n"
    "web = sorted(m for m in sys.modules if m.split('.')[0] in "
    "{{'fastapi', 'starlette', 'pydantic', 'pydantic_core', 'httpx', 'app'}})\n"
    "lazy = sorted(m for m in ('safetensors', 'ml_dtypes') if m in sys.modules)\n"
    "print(','.join(web) + '|' + ','.join(lazy))\n"
)


def _probe(extra: str = "") -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(extra=extra)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def test_io_imports_neither_the_web_stack_nor_its_lazy_dependencies() -> None:
    assert _probe() == "|"
    # the probe can fail: it sees what was imported
    assert _probe(", pydantic, safetensors").startswith("pydantic")
    assert _probe(", pydantic, safetensors").endswith("|safetensors")
