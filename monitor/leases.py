"""The feeds a check cycle holds (`Leases`): claimed, and not yet recorded.

A daemon claims due feeds for a lease (`MONITOR_FEED_LEASE`); another daemon takes a feed whose
lease ran out. While a cycle works on its feeds a thread renews their leases RENEW_EVERY times
per lease, so a claim worked on for longer than a lease is never taken by another daemon, and
what the cycle did not check (it was stopped, or its deadline passed) is released at its end, so
that any daemon checks those feeds at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from monitor.counts import count
from monitor.domain import utcnow
from monitor.store import Store

log = logging.getLogger("monitor.pipeline")  # a failed renewal is logged as the cycle's

RENEW_EVERY = 3  # leases are renewed this many times per lease
RENEW_JOIN = 5.0  # seconds the end of a cycle waits for a renewal in progress


class Leases:
    """The feeds a cycle holds: claimed and not yet recorded. A thread renews their leases
    RENEW_EVERY times per lease; `release` gives up those left when the cycle ends."""

    def __init__(
        self,
        store: Store,
        *,
        owner: str,
        lease: timedelta,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease = lease
        self.clock = clock or utcnow
        self.claimed: set[str] = set()  # every feed claimed in this cycle
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Leases:
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(RENEW_JOIN)
        try:
            self.release()
        except Exception as failed:
            if exc is None:
                raise
            # The cycle failed (e.g. a full disk, which fails this too): its error, not this
            # one, is what the daemon reports; the leases run out by themselves.
            log.warning(
                "cycle: its feeds' leases were not released either (%s): this daemon may check "
                "them at once, another once the lease (%s) runs out", failed, self.lease,
            )  # fmt: skip

    def hold(self, feed_ids: Iterable[str]) -> None:
        with self._lock:
            ids = set(feed_ids)
            self.claimed |= ids
            self._held |= ids
        if ids and self._thread is None:
            thread = threading.Thread(target=self._renew, name="monitor-leases", daemon=True)
            thread.start()  # may raise (no thread can be started): the leases are released
            self._thread = thread  # on the way out, none joined

    def done(self, feed_ids: Iterable[str]) -> None:
        """These feeds were recorded (which released their leases)."""
        with self._lock:
            self._held -= set(feed_ids)

    def release(self) -> int:
        """Release the leases still held; returns how many."""
        with self._lock:
            held, self._held = self._held, set()
        if held:
            self.store.release_leases(owner=self.owner, feed_ids=held)
        return len(held)

    def _renew(self) -> None:
        every = self.lease.total_seconds() / RENEW_EVERY
        while not self._done.wait(every):
            with self._lock:
                held = set(self._held)
            try:
                self.store.renew_leases(held, owner=self.owner, until=self.clock() + self.lease)
            except Exception:  # the next renewal tries again; the lease still runs meanwhile
                log.exception("cycle: renewing the leases of %s failed", count(len(held), "feed"))
