"""Processes of this host for tests of gone daemons (`monitor.owners`):

    with running_process() as child:        # a live owner: owners.owner_of(child.pid)
        ...
    ended_process_owner()                   # the owner name of a process that has ended

A daemon killed with `kill -9` leaves claims under such a name; Linux only (/proc).

And `sigint_as_at_a_terminal`, which the test session calls once (conftest), for every child
process the tests start.
"""

from __future__ import annotations

import signal
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


def sigint_as_at_a_terminal() -> None:
    """Have every process the tests start take SIGINT (Ctrl-C) as it does at a terminal. A test
    run started in the background by a shell without job control (`pytest … &` in a script, or
    `(pytest … &); wait`) ignores SIGINT, and so does every child it starts: an ignored signal
    stays ignored across fork and exec. A test's Ctrl-C to a `monitor` child then did nothing
    (it failed with a timeout, or with exit -9 after the test killed it). This process takes
    SIGINT as Python does by default (KeyboardInterrupt); a signal this process handles is
    reset to its default in a child at exec, so each child starts as from a terminal, whichever
    helper starts it (`subprocess`, the daemons of several tests, `multiprocessing`)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
