"""How a one-shot command ends on Ctrl-C or SIGTERM: one line saying what was and was not done,
exit 130 or 143 (as a shell says of those signals), instead of click's `Aborted!` (exit 1) or
SIGTERM's death on the spot. What the command stored stays stored: the signal is raised where
the command runs, and its `with` blocks end as on any error (transactions roll back, leases are
released)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import click


class Terminated(KeyboardInterrupt):
    """SIGTERM during a command: raised where it runs, as Ctrl-C raises KeyboardInterrupt, and a
    kind of it, so that what lets Ctrl-C through lets it through too (asyncio turns any other
    exception raised in its socket calls into a network error). Test for it first."""


class Stopped(click.ClickException):
    """A command stopped half way by an error: one line, exit 1 (by a signal: see below)."""


class Interrupted(Stopped):
    exit_code = 130  # as a shell says of Ctrl-C


class StoppedByTerm(Stopped):
    exit_code = 143  # as a shell says of SIGTERM


@contextlib.contextmanager
def terminable() -> Iterator[None]:
    """SIGTERM raises Terminated meanwhile (by default it ends the process on the spot)."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def stopped_by_signals(said: Callable[[str], str]) -> Iterator[None]:
    """Ctrl-C or SIGTERM meanwhile ends the command with `said(why)` ("interrupted" or "stopped
    by SIGTERM"), exit 130 or 143; `said` runs after the command's own cleanup."""
    with terminable():
        try:
            yield
        except Terminated:
            raise stopped_by(signal.SIGTERM, said) from None
        except KeyboardInterrupt:
            raise stopped_by(signal.SIGINT, said) from None


@contextlib.contextmanager
def stopping_gently(stop: threading.Event) -> Iterator[list[int]]:
    """The first Ctrl-C or SIGTERM meanwhile only sets `stop`, for a command that stops between
    two steps (as the daemon does: `monitor check` stores what was answered and releases the
    rest); a second one raises as above. Yields the signals received, the first first."""
    got: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if got:  # impatient: stop where it is
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        got.append(signum)
        stop.set()

    previous = {
        signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield got
    finally:
        for signum, was in previous.items():
            signal.signal(signum, was)


def stopped_by(signum: int, said: Callable[[str], str]) -> Stopped:
    """The error a command that `signum` stopped ends with: `said(why)`, exit 130 or 143."""
    if signum == signal.SIGTERM:
        return StoppedByTerm(said("stopped by SIGTERM"))
    return Interrupted(said("interrupted"))


CLOSED_PIPE = 128 + signal.SIGPIPE  # 141: what a shell says of `yes | head -1`'s `yes`


def closed_pipe(exc: OSError) -> bool:
    """Whether `exc` is the reader of our stdout gone (`monitor status | head -1`): then the
    rest of stdout goes nowhere, so that nothing (not Python's flush at exit either) fails
    on it again, and the command ends quietly with exit CLOSED_PIPE."""
    if exc.errno != errno.EPIPE:
        return False
    with contextlib.suppress(OSError, ValueError):  # no real stdout (a test's runner)
        nowhere = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nowhere, sys.stdout.fileno())
        os.close(nowhere)
    return True
