"""Stopping the daemon: SIGTERM and SIGINT stop it, SIGHUP reloads its definitions; the jobs
get SHUTDOWN_GRACE to finish, and whatever is stuck, the process ends SHUTDOWN_BUDGET after
the signal, its claims released (`release_claims`) so that a restarted (or another) daemon
checks those feeds and sends those alerts and that digest at once."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import FrameType
from typing import Protocol

from monitor.store import Store, TakenOver

log = logging.getLogger("monitor.daemon")

SHUTDOWN_GRACE = 7.0  # seconds the running jobs get to finish after SIGTERM
SHUTDOWN_BUDGET = 8.0  # seconds from SIGTERM to the end of the process, whatever is stuck
RELEASE_TIMEOUT = 0.5  # seconds the release of the daemon's claims may take at shutdown


class Stoppable(Protocol):
    """What stopping needs of the daemon (`monitor.scheduler.Daemon`)."""

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
    return released[0] if released else TakenOver()


def bound_shutdown(daemon: Stoppable, budget: float = SHUTDOWN_BUDGET) -> None:
    """End the process `budget` seconds from now, whatever is stuck by then.

    The orderly stop above waits SHUTDOWN_GRACE for the jobs, then exits; but a thread can
    hold what that path needs for ever (a store lock, a logging handler's lock while writing to
    a pipe nobody reads, a parse worker joined at interpreter exit). A watchdog thread then
    releases the claims of what is not in flight (a lock held for a set's copy only) and calls
    os._exit(0) without taking any other lock; if no Python thread can run at all, SIGALRM, two
    seconds later, ends the process from the kernel."""
    if hasattr(signal, "alarm"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(math.ceil(budget) + 2)

    def watchdog() -> None:
        time.sleep(budget)
        release_claims(daemon)
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


def install_signals(daemon: Stoppable) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not daemon.stopping.is_set():
            daemon.stop()
            bound_shutdown(daemon)  # before logging: a log line can block on a full pipe
        log.info("%s received", signal.Signals(signum).name)

    def reload(_signum: int, _frame: FrameType | None) -> None:
        log.info("SIGHUP received: definitions will be reloaded")
        daemon.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, reload)
