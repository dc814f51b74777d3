"""Ranges for the library, exact versions for the service (issue 18, item 4).

pyproject.toml declares ranges (the library goes into other people's environments);
requirements/service.lock (the server, the image) and requirements/dev.lock (CI, the
developers) hold one exact version of everything, with hashes, inside those ranges.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
META = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = META["optional-dependencies"]
SERVICE = [*META["dependencies"], *EXTRAS["server"]]
DEV = [*SERVICE, *EXTRAS["test"], *EXTRAS["lint"], *EXTRAS["docs"]]

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _lock(name: str) -> dict[str, tuple[Version, int]]:
    """package -> (version, number of hashes) of a uv/pip-compile lock file."""
    text = (ROOT / "requirements" / name).read_text()
    pins: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = _PIN.match(block)
        if m:
            pins[canonicalize_name(m[1])] = (Version(m[2]), block.count("--hash=sha256:"))
    return pins


@pytest.mark.parametrize("group", ["dependencies", *EXTRAS])
def test_pyproject_declares_ranges_not_pins(group: str) -> None:
    reqs = META["dependencies"] if group == "dependencies" else EXTRAS[group]
    for text in reqs:
        req = Requirement(text)
        pins = [s for s in req.specifier if s.operator in ("==", "===")]
        assert not pins, f"{group}: {text} pins a version; give a range (>=x,<y)"
        assert any(s.operator == "<" for s in req.specifier), f"{group}: {text} has no upper bound"


@pytest.mark.parametrize(("lock", "reqs"), [("service.lock", SERVICE), ("dev.lock", DEV)])
def test_every_dependency_is_locked_inside_its_range(lock: str, reqs: list[str]) -> None:
    pins = _lock(lock)
    for text in reqs:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} lacks {req.name} ({text}): run make lock"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{lock}: {req.name}=={version} is outside {text}"
        )
        assert hashes >= 1, f"{lock}: {req.name} has no hash"


def test_the_image_runs_what_ci_tests() -> None:
    service, dev = _lock("service.lock"), _lock("dev.lock")
    assert len(service) > len(SERVICE)  # the transitive dependencies are locked too
    differ = {
        n: (v, dev.get(n, (None,))[0])
        for n, (v, _) in service.items()
        if dev.get(n, (None,))[0] != v
    }
    assert not differ, f"service.lock and dev.lock disagree: {differ}"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_serve_installs_the_service_lock_only(tmp_path: Path) -> None:
    venv = tmp_path / "venv"  # absent: make prints the whole install, runs nothing
    out = subprocess.run(
        ["make", "-n", "serve", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "-r requirements/service.lock" in out.stdout
    assert "dev.lock" not in out.stdout
    assert "--no-deps -e ." in out.stdout
    dev = subprocess.run(
        ["make", "-n", "install", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True
    )
    assert "-r requirements/dev.lock" in dev.stdout
