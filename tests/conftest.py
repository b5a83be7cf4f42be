"""Shared fixtures. Tests that read ../shared/ skip when it is absent."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.processes import sigint_as_at_a_terminal

# Property tests run the same cases on every run, so that CI (a busy machine, a clean clone)
# never finds or misses a failure by luck. HYPOTHESIS_PROFILE=explore draws new cases.
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

pytest_plugins = [
    "tests.feedserver",  # the feed_server fixture, for every test module
    "tests.databases",  # database_url: each test on SQLite and on PostgreSQL
]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    sigint_as_at_a_terminal()  # a run started in the background: its children's Ctrl-C


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared corpus is only on the developers' machines")
    return SHARED


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """Commands run in-process freeze what they loaded (`monitor.heap`): each test starts and
    ends with nothing frozen, so one test's objects are collected as usual."""
    gc.unfreeze()
    yield
    gc.unfreeze()
