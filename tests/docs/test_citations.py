"""What the code cites resolves in docs/: the paper's equations and theorems in the
theory index's table, and every ``docs/...`` page named in a comment or docstring."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for d in ("rmtservice", "app", "bench") for p in (ROOT / d).rglob("*.py")]
INDEX = ROOT / "docs" / "theory" / "index.md"


def cited(pattern: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in CODE:
        for m in re.finditer(pattern, path.read_text()):
            found.setdefault(m.group(1), path)
    return found


def table_rows() -> list[str]:
    return [line for line in INDEX.read_text().splitlines() if line.startswith("| ")]


def covers(row: str, number: str) -> bool:
    """Whether a table row's first cell (``eq. 1.4-1.6, 1.8``) names ``number``."""
    cell = row.split("|")[1]
    for a, b in re.findall(r"(\d+\.\d+)(?:-(\d+\.\d+))?", cell):
        lo, hi = float(a), float(b or a)
        if lo <= float(number) <= hi and number.split(".")[0] == a.split(".")[0]:
            return True
    return False


def test_every_equation_the_code_cites_is_in_the_theory_table() -> None:
    equations = cited(r"\beq\. ?(\d+\.\d+)")
    assert equations, "no equation cited: the pattern is broken"
    rows = [r for r in table_rows() if r.startswith("| eq.")]
    for number, path in equations.items():
        assert any(covers(r, number) for r in rows), f"eq. {number} ({path.name})"


def test_every_theorem_the_code_cites_is_in_the_theory_table() -> None:
    theorems = cited(r"\bTheorem (\d+\.\d+)")
    assert theorems
    for number, path in theorems.items():
        assert any(r.startswith(f"| Theorem {number} ") for r in table_rows()), (
            f"Theorem {number} ({path.name})"
        )


def test_every_docs_page_the_code_names_exists() -> None:
    pages = cited(r"\b(docs/[\w/.-]+\.md)\b")
    assert pages
    for page, path in pages.items():
        assert (ROOT / page).is_file(), f"{page} cited in {path.relative_to(ROOT)}"


def test_no_code_cites_the_documents_outside_the_repository() -> None:
    for path in CODE:
        text = path.read_text()
        assert "MATH.md" not in text and "API.md" not in text, path.relative_to(ROOT)
