"""The lock files and pyproject.toml agree, and the venv and the image install from them.

``requirements/lock.txt`` pins every package (runtime, development tools and the build
backend) with its hashes; ``requirements/lock-runtime.txt`` pins the runtime ones the image
needs at the same versions. ``make lock`` writes both; these tests fail when pyproject.toml
moved on without them, or when an install step stops checking hashes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.unit.test_compose import ROOT, dockerfile_instructions

LOCK = ROOT / "requirements" / "lock.txt"
RUNTIME_LOCK = ROOT / "requirements" / "lock-runtime.txt"
# What a requirement's markers are judged against: the lock is made for CPython 3.11 on Linux.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux"}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Pin:
    version: Version
    hashes: frozenset[str]


def read_lock(path: Path) -> dict[str, Pin]:
    """Package name -> its pin. Each entry is a ``name==version`` line and its hash lines."""
    pins: dict[str, Pin] = {}
    entries = re.split(r"\n(?=\S)", path.read_text())
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        pin = PIN.match(entry)
        assert pin, f"{path.name}: not an exact pin: {entry.splitlines()[0]!r}"
        name = canonicalize_name(pin["name"])
        assert name not in pins, f"{path.name}: {name} pinned twice"
        pins[name] = Pin(Version(pin["version"]), frozenset(HASH.findall(entry)))
    return pins


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(*groups: str) -> list[Requirement]:
    """``runtime``, ``dev`` (optional-dependencies) and ``build`` (build-system) ones."""
    project = pyproject()
    sources = {
        "runtime": project["project"]["dependencies"],  # type: ignore[index]
        "dev": project["project"]["optional-dependencies"]["dev"],  # type: ignore[index]
        "build": project["build-system"]["requires"],  # type: ignore[index]
    }
    wanted = [Requirement(text) for group in groups for text in sources[group]]
    return [r for r in wanted if r.marker is None or r.marker.evaluate(TARGET)]


@pytest.fixture(scope="module")
def lock() -> dict[str, Pin]:
    return read_lock(LOCK)


@pytest.fixture(scope="module")
def runtime_lock() -> dict[str, Pin]:
    return read_lock(RUNTIME_LOCK)


def assert_locked(requirement: Requirement, pins: dict[str, Pin], lock_name: str) -> None:
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} is not in {lock_name}: run `make lock`"
    version = pins[name].version
    assert requirement.specifier.contains(version, prereleases=True), (
        f"{lock_name} pins {name}=={version}, which {requirement} does not admit: run `make lock`"
    )


def test_every_dependency_and_development_tool_is_locked_at_a_version_pyproject_admits(
    lock: dict[str, Pin],
) -> None:
    for requirement in requirements("runtime", "dev", "build"):
        assert_locked(requirement, lock, LOCK.name)


def test_the_image_lock_holds_the_runtime_dependencies_at_the_same_pins_and_no_dev_tools(
    lock: dict[str, Pin], runtime_lock: dict[str, Pin]
) -> None:
    for requirement in requirements("runtime", "build"):
        assert_locked(requirement, runtime_lock, RUNTIME_LOCK.name)
    for name, pin in runtime_lock.items():
        assert lock.get(name) == pin, f"{name} is pinned differently in the two locks"
    dev_only = {canonicalize_name(r.name) for r in requirements("dev")} - {
        canonicalize_name(r.name) for r in requirements("runtime", "build")
    }
    assert dev_only
    assert not dev_only & runtime_lock.keys()


def test_every_locked_package_carries_its_hashes(
    lock: dict[str, Pin], runtime_lock: dict[str, Pin]
) -> None:
    assert len(lock) > len(runtime_lock) > 20
    for pins in (lock, runtime_lock):
        for name, pin in pins.items():
            assert pin.hashes, f"{name} has no hash"


def pip_installs(commands: list[str]) -> list[str]:
    return [
        part.strip()
        for command in commands
        for part in re.split(r"&&|;", command)
        if re.search(r"\bpip install\b", part)
    ]


def assert_installs_only_locked_packages(commands: list[str], lock: str) -> None:
    installs = pip_installs(commands)
    assert any(f"--require-hashes -r {lock}" in install for install in installs), installs
    for install in installs:
        locked = f"--require-hashes -r {lock}" in install
        assert locked or "--no-deps" in install, install
        # Build isolation would fetch an unpinned build backend.
        if " -e ." in install or install.endswith(" ."):
            assert "--no-build-isolation" in install, install


def test_the_development_venv_installs_only_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe
    assert "$(LOCK)" in recipe.group(0).splitlines()[0]  # a new lock re-installs
    assert re.search(r"^LOCK := requirements/lock\.txt$", makefile, re.MULTILINE)
    assert_installs_only_locked_packages(recipe.group(1).splitlines(), "$(LOCK)")


def test_the_image_installs_only_from_the_runtime_lock() -> None:
    runs = [args for key, args in dockerfile_instructions() if key == "RUN"]
    assert_installs_only_locked_packages(runs, "requirements/lock-runtime.txt")


def test_make_lock_writes_both_lock_files_with_hashes_for_python_3_11_on_linux() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe
    flags = re.search(r"^LOCK_FLAGS := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert flags
    for flag in ("--generate-hashes", "--python-version 3.11", "--python-platform linux"):
        assert flag in flags.group(1)
    assert "-o $(LOCK)" in recipe.group(1)
    assert "-c $(LOCK) -o $(RUNTIME_LOCK)" in recipe.group(1)
