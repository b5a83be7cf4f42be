"""A parse job that kills its own worker process, as the OOM killer or a segfault would.

`parse_or_die` stands in for `monitor.parsepool.parse_job` (tests monkeypatch that name in the
test process). The pool sends a function to its workers by its module and name, so each worker,
forked from the forkserver (or spawned), imports it from here: no code path of monitor's own
is added for the tests. A body whose first line is a command does what it says, and is parsed
without that line otherwise:

- `KILL`: the worker kills itself with SIGKILL, each time the body is parsed;
- `INTERRUPT`: the worker sends itself SIGINT (as Ctrl-C at a terminal sends it to every
  process of the foreground group), then parses;
- `kill_after(marker)`: the same, once `marker` exists;
- `hang_once(marker)`: the first time, create `marker` and wait (until the pool, broken by
  another worker's death, ends this one); from then on, parse;
- `pid_after(marker)`: once `marker` exists, write the worker's pid to `marker.pid`, and parse;
- `wait_for(marker)`: once `marker` exists, parse;
- `spin(marker)`: add a line to `marker`, then use CPU time until the parse timeout ends the
  worker (SIGPROF), each time the body is parsed: `marker` counts the parses begun;
- `spin_beside(marker, other)`: the same, once `other` exists too (another body spins beside
  it), ignoring SIGTERM: the pool that breaks when the other worker runs out of CPU time ends
  this one with SIGTERM, and which comes first, that or its own timer, is a race of
  milliseconds; ignored, its own timer ends it, as when the two run out together.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from monitor.parse import Parsed, ParseJob, parse_job

KILL = b"<!-- test: kill -->\n"
INTERRUPT = b"<!-- test: interrupt -->\n"
WAIT = 60.0  # seconds: only turns a hang into a failure


def kill_after(marker: Path) -> bytes:
    return f"<!-- test: kill {marker} -->\n".encode()


def hang_once(marker: Path) -> bytes:
    return f"<!-- test: hang-once {marker} -->\n".encode()


def pid_after(marker: Path) -> bytes:
    return f"<!-- test: pid-after {marker} -->\n".encode()


def wait_for(marker: Path) -> bytes:
    return f"<!-- test: wait {marker} -->\n".encode()


def spin(marker: Path) -> bytes:
    return f"<!-- test: spin {marker} -->\n".encode()


def spin_beside(marker: Path, other: Path) -> bytes:
    return f"<!-- test: spin-beside {marker} {other} -->\n".encode()


def parse_or_die(job: ParseJob) -> Parsed:
    first, _, rest = job.body.partition(b"\n")
    if not first.startswith(b"<!-- test: "):
        return parse_job(job)
    command, _, argument = first.removeprefix(b"<!-- test: ").removesuffix(b" -->").partition(b" ")
    marker = Path(argument.decode()) if argument else None
    if command == b"spin" and marker is not None:
        _spin(marker)
    if command == b"spin-beside":
        mine, other = (Path(p) for p in argument.decode().split(" "))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with mine.open("a") as counted:
            counted.write("begun\n")
        _wait_for(other)
        _spin(None)
    if command == b"interrupt":
        os.kill(os.getpid(), signal.SIGINT)
    elif command == b"kill":
        if marker is not None:
            _wait_for(marker)
        os.kill(os.getpid(), signal.SIGKILL)
    elif command == b"hang-once" and marker is not None and not marker.exists():
        marker.touch()
        threading.Event().wait(WAIT)  # SIGTERM ends it first, when the pool breaks
    elif command in (b"pid-after", b"wait") and marker is not None:
        _wait_for(marker)
        if command == b"pid-after":
            Path(f"{marker}.pid").write_text(str(os.getpid()))
    return parse_job(replace(job, body=rest))


def _spin(marker: Path | None) -> NoReturn:
    if marker is not None:
        with marker.open("a") as counted:
            counted.write("begun\n")
    while True:  # CPU time, not the clock's: the worker's timer counts it
        pass


def _wait_for(marker: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
