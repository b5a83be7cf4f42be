"""Parse workers that cannot be started, as when memory (or the process table) is short:
exhausting memory cannot be done safely here, so the failure is made where the kernel makes it.

- `Unstartable`: a forkserver context whose `fail_at`-th worker process fails to start in the
  caller with OSError ENOMEM (as a fork there does), after leaving `marker`;
- `forkserver_that_cannot_fork`: the real forkserver is killed and replaced by one whose own
  fork fails (`tests.nofork`): it dies of the first request, and the caller reads end of file;
- `pids_group`: a cgroup (v1's pids controller) that a test's program moves into after setting
  its limit (`LIMIT_THREADS`), so that the kernel refuses the threads past it, as under a
  container's limit on processes: Python raises "can't start new thread".
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing.forkserver
import os
import signal
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext, ForkServerProcess
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest

NOMEM = f"OSError: [Errno {errno.ENOMEM}] {os.strerror(errno.ENOMEM)}"


class Unstartable(ForkServerContext):
    """forkserver, but the `fail_at`-th process made fails to start (and leaves `marker`)."""

    def __init__(self, fail_at: int, marker: Path | None = None) -> None:
        super().__init__()
        self.fail_at, self.marker, self.made = fail_at, marker, 0

    def Process(self, *args: Any, **kwargs: Any) -> BaseProcess:  # type: ignore[override]
        self.made += 1
        if self.made == self.fail_at:
            return _NoMemory(self.marker, *args, **kwargs)
        return ForkServerProcess(*args, **kwargs)


class _NoMemory(ForkServerProcess):
    def __init__(self, marker: Path | None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker = marker

    def start(self) -> None:
        if self.marker is not None:
            self.marker.touch()
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))


def forkserver_that_cannot_fork() -> int:
    """Kill the forkserver that runs (if one does) and start one that cannot fork; its pid.
    The next forkserver started (by the stream after it died) is a usual one again."""
    server: Any = multiprocessing.forkserver._forkserver
    pid = server._forkserver_pid
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        ended(pid)  # then `ensure_running` sees it dead, and starts another
    usual = server._preload_modules
    server.set_forkserver_preload(["tests.nofork"])
    try:
        server.ensure_running()
    finally:
        server.set_forkserver_preload(usual)  # for the forkserver started after this one
    return int(server._forkserver_pid)


def ended(pid: int) -> None:
    """Wait for a child of this process to end, leaving it to be reaped by its owner."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


PIDS = Path("/sys/fs/cgroup/pids")  # cgroup v1's pids controller, where a limit is made
needs_pids_limit = pytest.mark.skipif(
    not os.access(PIDS, os.W_OK),
    reason="makes a limit on threads: needs cgroup v1's pids controller at /sys/fs/cgroup/pids, "
    "writable (root)",
)

# For the program run in the group (its path in sys.argv): it may start `more` threads beyond
# those it has, and no more. What it started before (a forkserver) stays outside the limit.
LIMIT_THREADS = """
def limit_threads(group, more):
    import os
    with open(os.path.join(group, "pids.max"), "w") as f:
        f.write(str(len(os.listdir("/proc/self/task")) + more))
    with open(os.path.join(group, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def lift_limit(group):
    import os
    with open(os.path.join(group, "pids.max"), "w") as f:
        f.write("max")
"""


@contextlib.contextmanager
def pids_group(name: str) -> Iterator[Path]:
    """A new pids cgroup for a program to move into; removed once it is empty (the program
    ended: processes it had forked from outside the group were never in it)."""
    group = PIDS / f"monitor-test-{os.getpid()}-{name}"
    group.mkdir()
    try:
        yield group
    finally:
        group.rmdir()
