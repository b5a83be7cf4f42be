"""What a check cycle is given and what it reports: its `Context` (definitions, compiled rules,
the store, limits; built once from the settings), the `Source` its fetch results come from (a
`fetch.Fetcher`, or a function fetching a batch at once in tests) and its `CycleReport`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from monitor.counts import count
from monitor.domain import Definitions, StatusChange
from monitor.fetch import FeedRequest, Fetcher, FetchLimits, FetchResult
from monitor.match import Matcher
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.settings import Settings

BatchFetch = Callable[[Sequence[FeedRequest]], list[FetchResult]]


class Source(Protocol):
    """Where a cycle's fetch results come from: `fetch.Fetcher`, or `_Batches` in tests."""

    abandoned: list[str]

    @property
    def outstanding(self) -> int: ...

    def submit(self, requests: Iterable[FeedRequest]) -> None: ...

    def next_result(
        self, *, halt: Callable[[], bool] | None = None, within: float | None = None
    ) -> FetchResult | None: ...


@dataclass(frozen=True)
class Context:
    """What a cycle needs besides the clock: definitions, compiled rules, the store, limits."""

    definitions: Definitions
    matcher: Matcher
    store: Store
    limits: FetchLimits
    check_interval: timedelta = timedelta(minutes=15)
    max_backoff: timedelta = timedelta(hours=6)
    owner: str = "monitor"
    lease: timedelta = timedelta(minutes=5)
    fetcher: BatchFetch | None = None  # default: a fetch.Fetcher over the network, per cycle
    jitter: float = 0.0  # next checks are pushed back by up to this fraction of the interval
    parse_workers: int | None = None  # processes parsing bodies; None: one per CPU, 1: none
    # (parsed in this process, without `parse_timeout`: the tests that measure its memory)
    parse_timeout: timedelta | None = timedelta(seconds=60)  # CPU time of one body's parse
    parse_max_memory: int | None = 1_000_000_000  # bytes of address space of a parse worker
    stop: threading.Event | None = None  # set: fetches in flight are abandoned (FetchStopped)
    cycle_deadline: timedelta = timedelta(minutes=10)  # then what is not fetched is released
    force: bool = False  # check every feed now, whatever its schedule, dead too (--force)
    progress: Callable[[int, int], None] | None = None  # (feeds done, feeds claimed so far)
    alerts: bool = False  # record changes as waiting for their alert (MONITOR_NOTIFY_URLS)
    silent_after: timedelta = timedelta(days=14)  # of feeds without their own (0: never)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        definitions: Definitions,
        store: Store,
        *,
        owner: str,
        matcher: Matcher | None = None,
        limits: FetchLimits | None = None,
        stop: threading.Event | None = None,
        jitter: bool = True,
    ) -> Context:
        """The one way the CLI and the daemon turn settings into a cycle's context.
        `jitter=False`: a one-off `monitor check` schedules the next checks exactly."""
        return cls(
            definitions=definitions,
            matcher=matcher or Matcher(definitions.indicators),
            store=store,
            limits=limits or FetchLimits.from_settings(settings),
            check_interval=settings.check_interval,
            max_backoff=settings.max_backoff,
            owner=owner,
            lease=settings.feed_lease,
            jitter=settings.check_jitter if jitter else 0.0,
            stop=stop,
            cycle_deadline=settings.cycle_deadline,
            parse_timeout=settings.parse_timeout,
            parse_max_memory=settings.parse_max_memory,
            alerts=bool(settings.notify_urls),
            silent_after=settings.feed_silent_after,
        )

    @contextlib.contextmanager
    def fetching(self) -> Iterator[Source]:
        """The cycle's source of fetch results: one Fetcher, its connections kept for reuse."""
        if self.fetcher is not None:
            yield _Batches(self.fetcher)
            return
        with Fetcher(self.limits) as fetcher:
            yield fetcher


class _Batches:
    """A Source over a function fetching a batch at once (the tests' stand-in servers)."""

    def __init__(self, fetch: BatchFetch) -> None:
        self.fetch = fetch
        self.abandoned: list[str] = []
        self._ready: deque[FetchResult] = deque()

    @property
    def outstanding(self) -> int:
        return len(self._ready)

    def submit(self, requests: Iterable[FeedRequest]) -> None:
        self._ready.extend(self.fetch(list(requests)))

    def next_result(
        self, *, halt: Callable[[], bool] | None = None, within: float | None = None
    ) -> FetchResult | None:
        return self._ready.popleft() if self._ready else None


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime | None = None
    feeds_checked: int = 0
    not_modified: int = 0  # 304, or a body identical to the last one
    failed: int = 0  # fetches that brought nothing…
    rate_limited: int = 0  # …of them answers asking to be read later (429, 503 Retry-After)
    new_entries: int = 0
    matches: int = 0
    regex_timeouts: int = 0  # regex term runs out of their time budget (no match)
    dropped: int = 0  # reads not stored (`store.Dropped`), so not counted as checked either
    changes: list[StatusChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    @property
    def nothing_read(self) -> bool:
        """Feeds were checked and every one failed: the cycle read no news at all (`monitor
        check` exits NOTHING_READ). None due, or reads dropped for a lease, is not that."""
        return self.feeds_checked > 0 and self.failed == self.feeds_checked

    def summary(self) -> str:
        """The daemon's log line of the cycle; `monitor check` says `figures()` as its own."""
        return f"cycle: {self.figures()}"

    def figures(self) -> str:
        """Feeds checked, not modified, failed, reads dropped, new entries, matches, status
        changes and the time it took."""
        dropped = f"{count(self.dropped, 'read')} dropped, " if self.dropped else ""
        limited = f" ({self.rate_limited} rate limited)" if self.rate_limited else ""
        return (
            f"{count(self.feeds_checked, 'feed')} checked, "
            f"{self.not_modified} not modified, "
            f"{self.failed} failed{limited}, {dropped}{count(self.new_entries, 'new entry')}, "
            f"{count(self.matches, 'match')}, {count(len(self.changes), 'status change')} in "
            f"{self.duration:.2f}s"
        )
