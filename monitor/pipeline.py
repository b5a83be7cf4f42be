"""One check cycle: the only place that knows the order of the stages.

fetch -> parse -> match -> store entries and matches -> record fetch -> evaluate -> record changes

Feeds are fetched a batch at a time while worker processes parse the bodies already fetched
(`parse_many`); results come back in order and are matched and stored here, many feeds per
transaction, so the parsing — the costliest stage — sets the pace.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.domain import Definitions, Entry, Match, Status, StatusChange
from monitor.evaluate import changes as find_changes
from monitor.evaluate import evaluate
from monitor.fetch import FeedRequest, FetchLimits, FetchResult, FetchStatus, Session, next_check
from monitor.match import Matcher
from monitor.parse import ParsedFeed, ParseJob, parse_many
from monitor.store import Cycle, DueFeed, FetchRecord, Store

log = logging.getLogger("monitor.pipeline")

Fetcher = Callable[[Sequence[FeedRequest]], list[FetchResult]]
FETCH_BATCH = 32  # feeds fetched at once while the workers parse the previous ones
WRITE_BATCH = 1_000  # new entries (at least) stored per transaction
CLAIM_BATCH = 256  # feeds claimed at once (and released before the next claim)


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
    fetcher: Fetcher | None = None  # default: a fetch Session over the network, per cycle
    jitter: float = 0.0  # next checks are pushed back by up to this fraction of the interval
    parse_workers: int | None = None  # processes parsing bodies; None: one per CPU, 1: none
    stop: threading.Event | None = None  # set: the fetch in flight is abandoned (FetchStopped)
    alerts: bool = False  # record changes as waiting for their alert (MONITOR_NOTIFY_URLS)

    @contextlib.contextmanager
    def fetching(self) -> Iterator[Fetcher]:
        """The cycle's fetcher: one Session, so connections opened for a batch serve the next."""
        if self.fetcher is not None:
            yield self.fetcher
            return
        with Session(self.limits, stop=self.stop) as session:
            yield session.fetch


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime | None = None
    feeds_checked: int = 0
    not_modified: int = 0  # 304, or a body identical to the last one
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: list[StatusChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def summary(self) -> str:
        return (
            f"cycle: {self.feeds_checked} feeds checked, {self.not_modified} not modified, "
            f"{self.failed} failed, {self.new_entries} new entries, {self.matches} matches, "
            f"{len(self.changes)} status changes in {self.duration:.2f}s"
        )


def prepare(ctx: Context, *, now: datetime, evaluate: bool = True) -> list[StatusChange]:
    """Make the store know the configured feeds and indicators and, with `evaluate`, record the
    status changes what is stored already implies (safe to run twice).

    So at start-up (and on a reload) every status reflects what is stored at once: a feed that
    kept failing while no daemon ran makes its indicators `unknown` now, not at the next cycle.
    A replay prepares without evaluating, so that its changes are all marked replayed.
    """
    ctx.store.sync_feeds(ctx.definitions.feeds, now=now, default_interval=ctx.check_interval)
    ctx.store.ensure_indicators((i.id for i in ctx.definitions.indicators), now=now)
    return evaluate_and_record(ctx, now=now) if evaluate else []


def run_cycle(
    ctx: Context, *, now: datetime, clock: Callable[[], datetime] | None = None
) -> CycleReport:
    """Fetch every due feed, store what is new, and record the status changes that follow.

    Feeds are claimed CLAIM_BATCH at a time, each batch leased from its claim (by `clock`) and
    released before the next is claimed, so daemons share the work and no lease has to last
    a whole cycle."""
    report = CycleReport(started_at=now)
    done: set[str] = set()
    with ctx.fetching() as fetch:
        while due := [f for f in _claim(ctx, now=now, clock=clock) if f.id not in done]:
            _check_feeds(ctx, fetch, due, report, now=now, clock=clock)
            done.update(f.id for f in due)
    report.changes = evaluate_and_record(ctx, now=now)
    report.finished_at = clock() if clock else now
    ctx.store.record_cycle(_cycle_row(report))
    return report


def _claim(ctx: Context, *, now: datetime, clock: Callable[[], datetime] | None) -> list[DueFeed]:
    """The next feeds due at `now`, leased for `ctx.lease` from the moment they are claimed."""
    lease = ctx.lease + ((clock() - now) if clock else timedelta(0))
    return ctx.store.due_feeds(now, owner=ctx.owner, lease=lease, limit=CLAIM_BATCH)


def _check_feeds(
    ctx: Context,
    fetch: Fetcher,
    due: Sequence[DueFeed],
    report: CycleReport,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Fetch, parse and match claimed feeds; store their entries and release their leases.

    A feed's next check is counted from when it was checked (by `clock`), not from the start
    of a long cycle, so no feed is fetched twice within its interval."""
    writes = _Writes(ctx, report, now)
    for (feed, result), parsed in parse_many(_fetched(fetch, due), workers=ctx.parse_workers):
        checked = clock() if clock else now
        writes.add(*_absorb(ctx, feed, result, parsed, report, now=checked))
        if len(writes.entries) >= WRITE_BATCH:
            writes.flush()
    writes.flush()


def evaluate_and_record(
    ctx: Context, *, now: datetime, replayed: bool = False
) -> list[StatusChange]:
    statuses = evaluate_all(ctx.definitions, ctx.store, now=now)
    current = {i: status for i, (status, _since) in ctx.store.current_statuses().items()}
    found = find_changes(statuses, current, now=now, replayed=replayed)
    return ctx.store.record_changes(found, alert=ctx.alerts)


def evaluate_all(definitions: Definitions, store: Store, *, now: datetime) -> list[Status]:
    """Every indicator's status from the stored evidence and feed health."""
    indicators = definitions.indicators
    if not indicators:
        return []
    # Evidence of the widest window: `evaluate` counts only what is inside each indicator's own.
    since = now - max(i.window for i in indicators)
    evidence = store.evidence([i.id for i in indicators], since)
    health = {h.feed_id: h for h in store.feed_health()}
    feeds = _reading(_Same(definitions)).feeds
    statuses = []
    for indicator in indicators:
        reads = [health[f] for f in feeds[indicator.id] if f in health]
        statuses.append(evaluate(indicator, evidence.get(indicator.id, []), reads, now=now))
    return statuses


def match_entries(
    ctx: Context,
    entries: Iterable[tuple[int, Entry]],
    readers: Mapping[str, frozenset[str]] | None = None,
) -> list[tuple[int, Match]]:
    """Matches of stored entries, each only against the indicators that read its feed."""
    readers = _readers(ctx.definitions) if readers is None else readers
    found = []
    for entry_id, entry in entries:
        allowed = readers.get(entry.feed_id)
        for match in ctx.matcher.match(entry):
            if allowed is None or match.indicator_id in allowed:
                found.append((entry_id, match))
    return found


def store_entries(
    ctx: Context,
    entries: Sequence[Entry],
    *,
    now: datetime,
    readers: Mapping[str, frozenset[str]] | None = None,
) -> tuple[int, int]:
    """Store new entries with their matches, in one transaction; returns (new entries, matches)."""
    hashes = {i.id: i.hash for i in ctx.definitions.indicators}
    new, matched = ctx.store.add_news(
        entries,
        now=now,
        match=lambda fresh: match_entries(ctx, fresh, readers),
        definition_hashes=hashes,
    )
    return len(new), matched


def rematch(ctx: Context, since: datetime) -> tuple[int, int]:
    """Match stored entries from `since` on again with today's definitions, replacing their
    matches; returns (entries, matches)."""
    stored = [(entry_id, entry) for entry_id, entry, _seen in ctx.store.entries_since(since)]
    matches = match_entries(ctx, stored)
    hashes = {i.id: i.hash for i in ctx.definitions.indicators}
    ctx.store.replace_matches([entry_id for entry_id, _ in stored], matches, hashes)
    return len(stored), len(matches)


# ---------------------------------------------------------------- one feed


def _fetched(
    fetch: Fetcher, due: Sequence[DueFeed]
) -> Iterator[tuple[tuple[DueFeed, FetchResult], ParseJob | None]]:
    """Each due feed with its fetch result and, for a new body, the job of parsing it."""
    for start in range(0, len(due), FETCH_BATCH):
        batch = due[start : start + FETCH_BATCH]
        for feed, result in zip(batch, fetch([_request(f) for f in batch]), strict=True):
            yield (feed, result), _parse_job(feed, result)


def _request(feed: DueFeed) -> FeedRequest:
    return FeedRequest(feed.id, feed.url, feed.etag, feed.last_modified, feed.body_hash)


def _parse_job(feed: DueFeed, result: FetchResult) -> ParseJob | None:
    if result.status is not FetchStatus.MODIFIED or result.body is None:
        return None
    return ParseJob(result.body, feed.id, result.final_url or feed.url, result.content_type)


class _Writes:
    """Entries and fetch records of several feeds, stored together: entries (with their
    matches) first, so a crash in between only costs fetching those bodies again."""

    def __init__(self, ctx: Context, report: CycleReport, now: datetime) -> None:
        self.ctx, self.report, self.now = ctx, report, now
        self.readers = _readers(ctx.definitions)
        self.entries: list[Entry] = []
        self.fetches: list[FetchRecord] = []

    def add(self, entries: Sequence[Entry], record: FetchRecord) -> None:
        self.entries.extend(entries)
        self.fetches.append(record)

    def flush(self) -> None:
        if self.entries:
            new, matched = store_entries(self.ctx, self.entries, now=self.now, readers=self.readers)
            self.report.new_entries += new
            self.report.matches += matched
        self.ctx.store.record_fetches(self.fetches)
        self.entries, self.fetches = [], []


def _absorb(
    ctx: Context,
    feed: DueFeed,
    result: FetchResult,
    parsed: ParsedFeed | Exception | None,
    report: CycleReport,
    *,
    now: datetime,
) -> tuple[Sequence[Entry], FetchRecord]:
    """The entries of one fetch result and the feed's new state."""
    report.feeds_checked += 1
    error, title = result.error, None
    entries: Sequence[Entry] = ()
    if isinstance(parsed, Exception):
        error = str(parsed)
    elif parsed is not None:
        title, entries = parsed.title or None, parsed.entries
        if parsed.warning:
            log.warning("feed %s is ill-formed but readable: %s", feed.id, parsed.warning)
    elif result.status in (FetchStatus.NOT_MODIFIED, FetchStatus.UNCHANGED):
        report.not_modified += 1
    ok = result.ok and not error
    if not ok:
        report.failed += 1
        report.errors.append(f"{feed.id}: {error}")
        log.warning("feed %s failed: %s", feed.id, error)
    failed_result = result if ok else _as_failure(result, error)
    next_at, errors = next_check(
        failed_result,
        now=now,
        interval=feed.interval,
        errors_before=feed.error_count,
        max_backoff=ctx.max_backoff,
    )
    next_at += feed.interval * random.uniform(0.0, ctx.jitter)  # spread feeds out over time
    record = FetchRecord(
        feed.id,
        now=now,
        ok=ok,
        http_status=result.http_status,
        # A body that did not parse keeps the old validators, so it is fetched whole next time.
        etag=result.etag if ok else None,
        last_modified=result.last_modified if ok else None,
        body_hash=result.body_hash if ok else None,
        moved_to=result.moved_to,
        error=error,
        dead=result.status is FetchStatus.GONE,
        next_check_at=next_at,
        error_count=errors,
        title=title,
    )
    return entries, record


def _as_failure(result: FetchResult, error: str) -> FetchResult:
    if result.failed:
        return result
    return FetchResult(
        result.feed_id, result.url, FetchStatus.FAILED, result.http_status, error=error
    )


def _readers(definitions: Definitions) -> Mapping[str, frozenset[str]]:
    """feed id -> ids of the indicators that read it (worked out once per definitions)."""
    return _reading(_Same(definitions)).readers


@dataclass(frozen=True)
class _Reading:
    feeds: Mapping[str, tuple[str, ...]]  # indicator id -> ids of the feeds it reads
    readers: Mapping[str, frozenset[str]]  # feed id -> ids of the indicators that read it


class _Same:
    """Definitions as a cache key, equal only to the very same object: hashing them by value
    costs about as much as working out who reads what."""

    __slots__ = ("definitions",)

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    def __hash__(self) -> int:
        return id(self.definitions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.definitions is self.definitions


@functools.lru_cache(maxsize=4)  # the daemon's definitions, and those it is reloading
def _reading(key: _Same) -> _Reading:
    definitions = key.definitions
    feeds = {indicator.id: definitions.feeds_for(indicator) for indicator in definitions.indicators}
    readers: dict[str, set[str]] = {}
    for indicator_id, feed_ids in feeds.items():
        for feed_id in feed_ids:
            readers.setdefault(feed_id, set()).add(indicator_id)
    return _Reading(feeds, {feed_id: frozenset(ids) for feed_id, ids in readers.items()})


def _cycle_row(report: CycleReport) -> Cycle:
    return Cycle(
        started_at=report.started_at,
        finished_at=report.finished_at or report.started_at,
        feeds_checked=report.feeds_checked,
        not_modified=report.not_modified,
        failed=report.failed,
        new_entries=report.new_entries,
        matches=report.matches,
        changes=len(report.changes),
        ok=True,
    )
