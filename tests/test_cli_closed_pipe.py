"""A command whose stdout's reader goes away (`monitor status | head -1`) ends quietly: no
traceback, no `Error:` line, exit 141 as a shell says of a command SIGPIPE ended (`yes | head
-1`), so a script tells it from a failure (exit 1). Real processes and real pipes, on SQLite
and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.store import open_store
from tests import storeops, webdata
from tests.conftest import ROOT

db_url = webdata.db_url  # fixture: SQLite, then PostgreSQL
MANY = 1000  # entries: what `search` prints of them is far more than a pipe holds


@pytest.fixture
def env(db_url: str) -> Iterator[dict[str, str]]:
    with open_store(db_url) as store:
        webdata.populate(store, webdata.definitions())
        entries = [
            webdata.news("yonhap", 1000 + n, f"Summit story {n} " + "and more " * 20,
                         f"https://e.example/{n}", webdata.NOW - timedelta(minutes=n))
            for n in range(MANY)
        ]  # fmt: skip
        storeops.add_entries(store, entries, now=webdata.NOW)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    yield clean | {
        "PYTHONPATH": str(ROOT),
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }


def start(args: list[str], env: dict[str, str], stdout: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        env=env, cwd=Path(env["PYTHONPATH"]), stdout=stdout, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["search", "Summit", "--limit", "1000"], ["search", "Summit", "--json", "--limit", "1000"]],
)
def test_a_reader_that_stops_after_the_first_line_ends_the_command_quietly(
    env: dict[str, str], args: list[str]
) -> None:
    process = start(args, env, subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # as `head -1`: one line, then the pipe is closed
    process.stdout.close()

    said = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert b"Summit story 0" in first
    assert said == b""


@pytest.mark.parametrize(
    "args",
    [["status"], ["history", "visa-easing"], ["status", "--json"], ["search", "Summit", "--json"]],
)
def test_a_pipe_closed_before_the_command_writes_ends_it_quietly(
    env: dict[str, str], args: list[str]
) -> None:
    assert_quiet_into_a_closed_pipe(args, env)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["db", "--help"], ["status", "-h"]])
def test_help_or_version_into_a_closed_pipe_ends_quietly_too(args: list[str]) -> None:
    """What the group itself prints, before any command runs (`monitor --help | head -1`), ends
    as a command's output does: exit 141, nothing on stderr (click's own handling said exit 1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    assert_quiet_into_a_closed_pipe(args, env | {"PYTHONPATH": str(ROOT)})


def assert_quiet_into_a_closed_pipe(args: list[str], env: dict[str, str]) -> None:
    """`monitor ARGS` writing into a pipe whose reader is gone before the first line (every
    write meets EPIPE) ends with exit 141 and nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        process = start(args, env, write)
    finally:
        os.close(write)
    assert process.stderr is not None

    said = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert said == b""
