"""requirements.lock, what the image installs: every runtime dependency of pyproject.toml (and
of the extras it asks for) pinned to one version that its range allows, each with hashes, and
the Dockerfile installing it in hash-checking mode and the project without resolving anything.
`make lock` writes it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.test_compose import instructions

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()
RUNTIME = [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]


def pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every requirement in the lock."""
    found = {}
    text = re.sub(r"\\\n", " ", LOCK)
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("-"), f"an option in the lock: {line}"
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)", line)
        assert match, f"not a pin with hashes: {line[:120]}"
        hashes = re.findall(r"sha256:([0-9a-f]{64})", match.group(3))
        found[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return found


PINS = pins()


def extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What `name[extra]` adds, read from the installed distribution's metadata."""
    found = []
    for line in metadata.requires(requirement.name) or []:
        extra = Requirement(line)
        if extra.marker is None or extra.marker.evaluate({**default_environment(), "extra": ""}):
            continue  # a requirement without the extra: the lock's other tests cover it
        if any(
            extra.marker.evaluate({**default_environment(), "extra": e}) for e in requirement.extras
        ):
            found.append(extra)
    return found


@pytest.mark.parametrize("requirement", RUNTIME, ids=str)
def test_every_runtime_dependency_is_pinned_within_its_range(requirement: Requirement) -> None:
    name = canonicalize_name(requirement.name)
    assert name in PINS, f"{name} is not in requirements.lock: run `make lock`"
    version, hashes = PINS[name]
    assert requirement.specifier.contains(version, prereleases=True), (name, version)
    assert hashes


@pytest.mark.parametrize("requirement", [r for r in RUNTIME if r.extras], ids=str)
def test_what_the_extras_add_is_pinned_too(requirement: Requirement) -> None:
    added = extra_requirements(requirement)
    assert added, f"{requirement}: no extra requirements found"
    missing = [str(r) for r in added if canonicalize_name(r.name) not in PINS]
    assert not missing, f"{requirement} needs {missing}: run `make lock`"


def test_every_pin_has_a_hash_and_the_build_tools_are_locked() -> None:
    assert all(hashes for _, hashes in PINS.values())
    for build in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(build)
        version, _ = PINS[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)


def test_the_image_installs_the_lock_with_hashes_then_the_project_alone() -> None:
    installs = [
        arguments
        for keyword, arguments in instructions()
        if keyword == "RUN" and "pip install" in arguments
    ]
    commands = [
        part.strip()
        for arguments in installs
        for part in arguments.split("&&")
        if "pip install" in part
    ]
    assert len(commands) == 2, commands
    locked, project = (c.split() for c in commands)
    assert {"--require-hashes", "--no-deps", "-r", "requirements.lock"} <= set(locked)
    assert locked[locked.index("-r") + 1] == "requirements.lock"
    assert {"--no-deps", "--no-build-isolation", "."} <= set(project)


def test_make_lock_writes_the_lock_from_pyproject() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lock: .*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no `lock` target in the Makefile"
    command = recipe.group(1).replace("\\\n", " ")
    assert "pip-compile" in command and "--generate-hashes" in command
    assert "--output-file requirements.lock pyproject.toml" in command
    assert "`make lock`" in (ROOT / "README.md").read_text()
