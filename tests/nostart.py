"""Parse workers that cannot be started, as when memory (or the process table) is short:
exhausting memory cannot be done safely here, so the failure is made where the kernel makes it.

- `Unstartable`: a forkserver context whose `fail_at`-th worker process fails to start in the
  caller with OSError ENOMEM (as a fork there does), after leaving `marker`;
- `forkserver_that_cannot_fork`: the real forkserver is killed and replaced by one whose own
  fork fails (`tests.nofork`): it dies of the first request, and the caller reads end of file.
"""

from __future__ import annotations

import errno
import multiprocessing.forkserver
import os
import signal
from multiprocessing.context import ForkServerContext, ForkServerProcess
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

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
