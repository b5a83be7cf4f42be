"""Processes of this host for tests of gone daemons (`monitor.owners`):

    with running_process() as child:        # a live owner: owners.owner_of(child.pid)
        ...
    ended_process_owner()                   # the owner name of a process that has ended

A daemon killed with `kill -9` leaves claims under such a name; Linux only (/proc).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from monitor import owners


@contextmanager
def running_process() -> Iterator[subprocess.Popen[bytes]]:
    """A child that runs until its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield child
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def ended_process_owner() -> str:
    """The owner name of a process that ran on this host and has ended (and been waited for)."""
    with running_process() as child:
        owner = owners.owner_of(child.pid)
    return owner
