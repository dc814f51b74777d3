"""Numpydoc sections on every public function of rmtservice, and their examples run.

Public: the functions named in ``__all__`` of ``rmtservice``, of its subpackages and of
the public modules the reference documents. Each docstring, parsed as the site parses
it (griffe's numpy parser, the one mkdocstrings uses), must have Parameters (naming
every parameter of the signature), Returns, Raises and Examples; the examples run as
doctests.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import pytest

griffe = pytest.importorskip("griffe")  # mkdocstrings' parser (the docs extra)

#: the packages and modules whose ``__all__`` is public
PUBLIC = (
    "rmtservice",
    "rmtservice.denoise",
    "rmtservice.fit",
    "rmtservice.io",
    "rmtservice.rectangular",
    "rmtservice.tracy_widom",
    "rmtservice.deadline",
)
SECTIONS = ("parameters", "returns", "raises", "examples")
#: functions allowed to lack a section for now (none; a name added here must be one
#: that is public, and the test fails once it has them all, so the list only shrinks)
PENDING: frozenset[str] = frozenset()


def public_functions() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for name in PUBLIC:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


FUNCTIONS = public_functions()


def sections(func: Callable[..., Any]) -> dict[str, Any]:
    text = inspect.getdoc(func) or ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = griffe.Docstring(text).parse("numpy")
    return {s.kind.value: s.value for s in parsed}


def missing(func: Callable[..., Any]) -> list[str]:
    found = sections(func)
    if "yields" in found:  # a generator's Returns
        found["returns"] = found["yields"]
    absent = [s for s in SECTIONS if s not in found]
    params = [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not params and "parameters" in absent:
        absent.remove("parameters")
    documented = {part.strip() for p in found.get("parameters", []) for part in p.name.split(",")}
    absent += [f"parameter {p}" for p in params if "parameters" in found and p not in documented]
    return absent


def test_the_public_functions_are_found() -> None:
    assert len(FUNCTIONS) > 40
    assert {"rmtservice.density.density", "rmtservice.fit._api.fit"} <= set(FUNCTIONS)
    assert PENDING <= set(FUNCTIONS), sorted(PENDING - set(FUNCTIONS))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_numpydoc_sections(name: str) -> None:
    absent = missing(FUNCTIONS[name])
    if name in PENDING:
        assert absent, f"{name} has every section now: remove it from PENDING"
        pytest.skip(f"pending: {absent}")
    assert not absent, f"{name}: no {', '.join(absent)} in its docstring"


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - PENDING))
def test_examples_run(name: str) -> None:
    func = FUNCTIONS[name]
    module = inspect.getmodule(func)
    tests = doctest.DocTestFinder(recurse=False).find(func, name, module=module, globs={})
    examples = [t for t in tests if t.examples]
    assert examples, f"{name} has no runnable example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in examples:
        t.globs.update(vars(module) if module is not None else {})
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples differ"
