"""Write the OpenAPI spec that the app serves: ``python -m app.export_openapi PATH``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.main import create_app
from app.settings import Settings


def render() -> str:
    """The spec as the checked-in text (default settings; the spec does not depend on them)."""
    spec = create_app(Settings()).openapi()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m app.export_openapi PATH", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
