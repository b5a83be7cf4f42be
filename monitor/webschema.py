"""The HTTP endpoint's watch on the database's schema revision, for a server that was running
when another version migrated the database under it (`monitor db upgrade` of a newer monitor on
another machine): what it would write goes into tables it does not know, and what it reads may
no longer mean what it thinks.

`SchemaWatch` reads the revision (one row, `Store.schema_problem`) when a request comes, at most
once every CHECK_EVERY of the app's clock for a request that reads (GET, HEAD), and every time
for one that could write (any other method: verdicts, silences, sign-ins), so no write slips in
between two reads. Once another revision is found it stays found (the code cannot become the
database's again): every request but a GET or HEAD is refused with 503 and the reason, /healthz
answers `incompatible` (503) with it, and `on_found` is told once: `monitor serve` then stops
with exit code 1, as `monitor run` does at its next tick. The app's watch reads a SQLite file
deleted under the server (`Store.file_problem`) as such a problem too: /healthz answers it
`unavailable` (`healthz.health`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import HTTPException, Request

from monitor.errors import StoreError

__all__ = ["CHECK_EVERY", "SchemaWatch", "refuse_writes"]

log = logging.getLogger("monitor.web")

CHECK_EVERY = timedelta(seconds=5)
_READS = frozenset({"GET", "HEAD"})


class SchemaWatch:
    """Whether the database is still at the code's schema revision, read at most once every
    `every` of `clock` unless a caller needs it fresh."""

    def __init__(
        self,
        read: Callable[[], str | None],
        clock: Callable[[], datetime],
        *,
        every: timedelta = CHECK_EVERY,
        on_found: Callable[[str], None] | None = None,
    ) -> None:
        self._read, self._clock, self._every, self._on_found = read, clock, every, on_found
        self._lock = threading.Lock()
        self._read_at: datetime | None = None
        self.problem: str | None = None

    def check(self, *, fresh: bool = False) -> str | None:
        """Why the database is not at the code's revision, or None; read again when `fresh` or
        when the last read is `every` old (or the clock went back)."""
        if self.problem is not None:
            return self.problem
        with self._lock:
            if self.problem is not None:  # found by a request that held the lock
                return self.problem
            now = self._clock()
            last = self._read_at
            if not fresh and last is not None and timedelta(0) <= now - last < self._every:
                return None
            self._read_at = now
            try:
                problem = self._read()
            except StoreError as exc:  # read again later; the request's endpoint reads the
                # database too, and its 503 goes to the app's one record of the outage
                # (`weboutage.Outage`): a line here would be one more every CHECK_EVERY
                log.debug("web: %s", exc)
                return None
            self.problem = problem
        if problem is not None:
            log.error("%s; the HTTP endpoint refuses writes", problem)
            if self._on_found is not None:
                self._on_found(problem)
        return problem


def refuse_writes(request: Request) -> None:
    """A dependency of every route: reads the revision when it is due (`SchemaWatch`), and
    refuses a request that could write (503) once the database is at another revision."""
    watch: SchemaWatch = request.app.state.schema
    write = request.method not in _READS
    problem = watch.check(fresh=write)
    if problem is not None and write:
        raise HTTPException(503, f"{problem}; this server takes no writes")
