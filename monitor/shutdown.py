"""Stopping the daemon: SIGTERM and SIGINT stop it, SIGHUP reloads its definitions; the jobs
get SHUTDOWN_GRACE to finish, and whatever is stuck, the process ends SHUTDOWN_BUDGET after
the signal, its claims released (`release_claims`) so that a restarted (or another) daemon
checks those feeds and sends those alerts and that digest at once.

`Signals` takes the three signals from the first line of `monitor run` and `monitor serve`,
before start-up's imports, settings, database and definitions: a stop then ends start-up
cleanly at its next stage (`Signals.before`), a reload is passed on to the daemon once it
exists. So this module imports only the standard library at its top.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from monitor.store import Store, TakenOver

log = logging.getLogger("monitor.daemon")
T = TypeVar("T")

SHUTDOWN_GRACE = 7.0  # seconds the running jobs get to finish after SIGTERM
SHUTDOWN_BUDGET = 8.0  # seconds from SIGTERM to the end of the process, whatever is stuck
RELEASE_TIMEOUT = 0.5  # seconds the release of the daemon's claims may take at shutdown


class Stoppable(Protocol):
    """What stopping needs of the daemon (`monitor.daemon.Daemon`)."""

    store: Store
    owner: str
    stopping: threading.Event
    clock: Callable[[], datetime]

    def stop(self) -> None: ...

    def sends_in_flight(self) -> frozenset[str]:
        """The sends running now: "alerts", "digest" (a digest or its resend)."""
        ...

    def request_reload(self) -> None: ...


def release_claims(daemon: Stoppable, timeout: float = RELEASE_TIMEOUT) -> TakenOver:
    """Release every claim the daemon holds (`Store.release_claims`): its feed leases, so a
    restarted (or another) daemon checks those feeds at once, its alert, digest and resend
    claims, so the next try sends them; but not the claims of a send still in flight in
    another thread (its job has not ended), which that send marks done or gives up itself. A
    job that starts after the stop claims nothing, so what is not in flight now never will be.
    Given up after `timeout` seconds (a store that hangs must not hold the exit)."""
    released: list[TakenOver] = []

    def release() -> None:
        busy = daemon.sends_in_flight()
        with contextlib.suppress(Exception):
            released.append(
                daemon.store.release_claims(
                    daemon.owner,
                    daemon.clock(),
                    alerts="alerts" not in busy,
                    digests="digest" not in busy,
                )
            )

    worker = threading.Thread(target=release, name="monitor-release", daemon=True)
    worker.start()
    worker.join(timeout)
    if released:
        return released[0]
    from monitor.store import TakenOver

    return TakenOver()


def bound_shutdown(release: Callable[[], object], budget: float = SHUTDOWN_BUDGET) -> None:
    """End the process `budget` seconds from now, whatever is stuck by then.

    The orderly stop above waits SHUTDOWN_GRACE for the jobs, then exits; but a thread can
    hold what that path needs for ever (a store lock, a logging handler's lock while writing to
    a pipe nobody reads, a parse worker joined at interpreter exit; at start-up, a database
    that makes it wait). A watchdog thread then calls `release` (the daemon's: release the
    claims of what is not in flight, a lock held for a set's copy only) and calls
    os._exit(0) without taking any other lock; if no Python thread can run at all, SIGALRM, two
    seconds later, ends the process from the kernel."""
    if hasattr(signal, "alarm"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(math.ceil(budget) + 2)

    def watchdog() -> None:
        time.sleep(budget)
        release()
        with contextlib.suppress(OSError):
            os.set_blocking(2, False)
            os.write(2, b"monitor: still stopping after %gs; exiting now\n" % budget)
        os._exit(0)

    threading.Thread(target=watchdog, name="monitor-shutdown", daemon=True).start()


def stop_all(stoppers: Sequence[Callable[[], object]], grace: float) -> bool:
    """Run the stoppers side by side; False when one is still busy after `grace` seconds."""
    threads = [threading.Thread(target=stop, name="monitor-stop", daemon=True) for stop in stoppers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + grace
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


class Signals:
    """SIGTERM and SIGINT (stop) and SIGHUP (reload) for a long-running command, from its first
    line (`install`) to its end. Until the daemon exists (`attach`) they are remembered, and
    start-up asks `before` each stage whether to go on; then they go to the daemon. A stop arms
    the bound (`bound_shutdown`) at once, so a start-up stuck on its database ends too."""

    def __init__(self) -> None:
        self.stop_signal: str | None = None  # the name of the first stop signal received
        self.reload_requested = False
        self._daemon: Stoppable | None = None
        self._reloads: Callable[[], None] | None = None  # what SIGHUP asks (`reload_with`)
        # When the command's first line ran (`install`): the daemon's start, before the
        # seconds of imports and start-up (a digest time passed meanwhile was not missed).
        self.installed_at: datetime | None = None

    def install(self) -> Signals:
        self.installed_at = datetime.now(UTC)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
            if hasattr(signal, "SIGHUP"):  # not the default: the end of the process
                signal.signal(signal.SIGHUP, self._reload)
        return self

    def attach(self, daemon: Stoppable) -> None:
        """From now on the signals go to `daemon`; one received before is passed on."""
        self._daemon = daemon  # before the look below: a signal in between sees the daemon
        if self.stop_signal is not None:
            daemon.stop()
        self.reload_with(daemon.request_reload)

    def reload_with(self, request: Callable[[], None]) -> None:
        """From now on SIGHUP calls `request`; at once if one was received before."""
        self._reloads = request
        if self.reload_requested:
            request()

    def before(self, stage: str) -> None:
        """Start-up is about to begin `stage` ("opening the database"): ended here, with exit
        code 0, when a stop was asked for (what the last stage did is finished or rolled back:
        a migration is one transaction)."""
        if self.stop_signal is None:
            log.debug("starting: %s", stage)
            return
        log.info("stopping during start-up (%s received), before %s", self.stop_signal, stage)
        log.info("stopped")
        raise SystemExit(0)

    def run(self, work: Callable[[], T]) -> T:
        """`work()` (a stage of start-up) in a thread of its own, this one waiting: a signal is
        taken at once even while the stage waits inside a C call (SQLite's busy wait for a lock
        another process holds, up to 30 s), which Python would otherwise only let it handle
        once the call returns; so the bound armed by a stop ends a stage stuck that long."""
        result: list[T] = []
        failed: list[BaseException] = []

        def stage() -> None:
            try:
                result.append(work())
            except BaseException as exc:  # raised here, in the command's thread
                failed.append(exc)

        thread = threading.Thread(target=stage, name="monitor-start-up", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.1)
        if failed:
            raise failed[0]
        return result[0]

    def _release(self) -> None:
        if self._daemon is not None:
            release_claims(self._daemon)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        name, daemon, first = signal.Signals(signum).name, self._daemon, self.stop_signal is None
        self.stop_signal = self.stop_signal or name
        # The bound is armed once, before logging (a log line can block on a full pipe); not
        # for a daemon that stopped itself (it exits 1 on its own).
        if daemon is not None and not daemon.stopping.is_set():
            daemon.stop()
            bound_shutdown(self._release)
        elif daemon is None and first:
            bound_shutdown(self._release)
        log.info("%s received", name)

    def _reload(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_requested = True
        if self._reloads is not None:
            self._reloads()
        log.info("SIGHUP received: definitions will be reloaded")
