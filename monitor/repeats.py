"""A failure that repeats at every try (the database down, a full disk): said once, then at
the 2nd, 4th, 8th… failure in a row with the count, and once when it works again, so a job at
every tick or an endpoint a load balancer probes every few seconds does not flood the log.
Used by the scheduler's jobs and by the HTTP endpoint's one record of a database that does not
answer (`weboutage`). Imports nothing of monitor."""

from __future__ import annotations

import threading
from typing import Literal, NamedTuple

Said = Literal["first", "again", ""]


class Failed(NamedTuple):
    """How to log one failure, and which one in a row it was (read under the lock that counted
    it, so two threads failing at once never both say the same count)."""

    said: Said
    failures: int


def said_again(failures: int) -> bool:
    """Whether the `failures`th failure in a row with the same error is logged: at 2, 4, 8, 16…
    (a power of two), so a job failing at every tick through an hour's outage logs a handful
    of lines, not one a tick, and each says how many failed."""
    return failures & (failures - 1) == 0


class Repeats:
    """One run of failures in a row, safe to share between threads (requests answered at once).

    `failed(error)` counts one and says how to log it (`Failed.said`): "first" for an error
    unlike the one before (say it whole, with its traceback if any), "again" for the same one
    at the 2nd, 4th, 8th… in a row (one line with `Failed.failures`), "" to stay quiet.
    `worked()` ends the run and gives how many failed in it (0: none, nothing to say)."""

    def __init__(self) -> None:
        self.failures = 0
        self._last = ""
        self._lock = threading.Lock()

    def failed(self, error: str) -> Failed:
        with self._lock:
            self.failures += 1
            same, self._last = error == self._last, error
            if not same:
                return Failed("first", self.failures)
            return Failed("again" if said_again(self.failures) else "", self.failures)

    def worked(self) -> int:
        with self._lock:
            failures, self.failures, self._last = self.failures, 0, ""
            return failures
