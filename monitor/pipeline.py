"""One check cycle: the only place that knows the order of the stages.

fetch -> parse -> match -> store entries and matches -> record fetch -> evaluate -> record changes

Due feeds are claimed CLAIM_BATCH at a time and fetched as a sliding window (`fetch.Fetcher`):
a fetch starts as soon as another ends, and results come back as they finish, while worker
processes parse the bodies already in (`parse_many`); results are matched and stored here, many
feeds per transaction, so the parsing — the costliest stage — sets the pace. What is parsed is
also stored whenever no fetch ends for a LULL, so one slow feed holds up no other: neither its
fetch nor the storing of its news. The claimed feeds' leases are renewed while the cycle works
on them (`monitor.leases`), and whatever it did not check — it was stopped, or its deadline
passed — is released at its end, so any daemon may check those feeds at once.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from monitor import heap
from monitor.domain import (
    UNKNOWN,
    Definitions,
    Entry,
    Match,
    StatusChange,
)
from monitor.evaluate import changes as find_changes
from monitor.fetch import (
    FeedRequest,
    Fetcher,
    FetchLimits,
    FetchResult,
    FetchStatus,
    FetchStopped,
    clip_error,
    next_check,
)
from monitor.leases import Leases
from monitor.match import Matcher
from monitor.parse import ParsedFeed, ParseJob
from monitor.parsepool import parse_many, start_workers
from monitor.statuses import advance_all, dated, edited, held, readers_of
from monitor.store import Added, Cycle, DueFeed, FetchRecord, Store

if TYPE_CHECKING:
    from monitor.settings import Settings

log = logging.getLogger("monitor.pipeline")

BatchFetch = Callable[[Sequence[FeedRequest]], list[FetchResult]]
WRITE_BATCH = 1_000  # new entries (at least) stored per transaction
CLAIM_BATCH = 256  # feeds claimed at once; the next claim comes when few are left to fetch
LULL = 0.1  # seconds without a fetch ending after which what is parsed is stored


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
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    regex_timeouts: int = 0  # regex term runs out of their time budget (no match)
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
    ctx.store.sync_feeds(
        ctx.definitions.feeds,
        now=now,
        default_interval=ctx.check_interval,
        default_silent_after=ctx.silent_after,
    )
    ctx.store.ensure_indicators((i.id for i in ctx.definitions.indicators), now=now)
    ctx.store.note_defined((i.id for i in ctx.definitions.indicators), now=now)
    return evaluate_and_record(ctx, now=now) if evaluate else []


def start_parsers(ctx: Context) -> None:
    """Start, ahead of the first cycle, the process its parse workers fork from: it loads the
    parsers (a quarter of a second), and a cycle should not wait for that while it fetches.
    For the daemon at start-up and `monitor check`; a no-op once it runs, or without workers."""
    start_workers(ctx.parse_workers)


def run_cycle(
    ctx: Context, *, now: datetime, clock: Callable[[], datetime] | None = None
) -> CycleReport:
    """Fetch every due feed, store what is new, and record the status changes that follow.

    Feeds are claimed CLAIM_BATCH at a time, each batch leased from its claim (by `clock`);
    the leases are renewed while the cycle holds the feeds. When `ctx.stop` is set, the
    fetches in flight are abandoned, what was answered is stored, the other feeds are released
    and FetchStopped is raised; past `ctx.cycle_deadline` the same happens without raising."""
    report = CycleReport(started_at=now)
    deadline = now + ctx.cycle_deadline
    ctx.matcher.take_timeouts()  # the cycle's own, below

    def halt() -> bool:
        stopping = ctx.stop is not None and ctx.stop.is_set()
        return stopping or (clock() if clock else now) >= deadline

    leases = Leases(ctx.store, owner=ctx.owner, lease=ctx.lease, clock=clock)
    with ctx.fetching() as source, leases:
        fetched = _fetched(ctx, source, leases, now=now, clock=clock, halt=halt)
        _check_feeds(ctx, fetched, leases, report, now=now, clock=clock)
        left = leases.release()
    if ctx.stop is not None and ctx.stop.is_set():
        raise FetchStopped(
            f"{report.feeds_checked} feeds checked and stored, {left} released unchecked"
        )
    if left:
        log.warning(
            "cycle: deadline of %s passed; %d feeds released unchecked", ctx.cycle_deadline, left
        )
    # A cycle that got through its due feeds tells which no check tries (`statuses.held`).
    report.changes = evaluate_and_record(ctx, now=now, checked=not left)
    report.regex_timeouts = _log_timeouts(ctx.matcher.take_timeouts())
    report.finished_at = clock() if clock else now
    ctx.store.record_cycle(_cycle_row(report))
    return report


def _log_timeouts(timed_out: Mapping[str, int]) -> int:
    """One warning for the cycle's regex terms that ran out of their time budget."""
    if timed_out:
        terms = ", ".join(f"{raw!r} ({n}×)" for raw, n in sorted(timed_out.items()))
        log.warning(
            "match: %d regex runs ran out of their time budget this cycle and counted as no "
            "match: %s (`monitor validate` names terms that can backtrack)",
            sum(timed_out.values()),
            terms,
        )
    return sum(timed_out.values())


def _claim(
    ctx: Context, leases: Leases, *, now: datetime, clock: Callable[[], datetime] | None
) -> list[DueFeed]:
    """The next feeds due at `now` that the cycle does not hold yet, leased for `ctx.lease`
    from the moment they are claimed."""
    current = clock() if clock else now
    lease = ctx.lease + (current - now)
    due = ctx.store.due_feeds(
        now, owner=ctx.owner, lease=lease, limit=CLAIM_BATCH, skip=leases.claimed,
        force=ctx.force, current=current,
    )  # fmt: skip
    leases.hold(f.id for f in due)
    return due


def _check_feeds(
    ctx: Context,
    fetched: Iterator[tuple[tuple[DueFeed, FetchResult], ParseJob | None] | None],
    leases: Leases,
    report: CycleReport,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Parse and match fetched feeds; store their entries and release their leases.

    They are stored WRITE_BATCH entries at a time, and whenever no fetch ended for a LULL, so
    a feed that hangs until its timeout keeps back no other feed's news.
    A feed's next check is counted from when it was checked (by `clock`), not from the start
    of a long cycle, so no feed is fetched twice within its interval."""
    writes = _Writes(ctx, report, now, leases)
    titled = frozenset(f.id for f in ctx.definitions.feeds if f.title)  # the feeds file names them
    for done in parse_many(fetched, workers=ctx.parse_workers):
        if done is None:  # a lull: the fetches in flight may take long
            writes.flush()
            continue
        (feed, result), parsed = done
        checked = clock() if clock else now
        writes.add(*_absorb(ctx, feed, result, parsed, report, now=checked, titled=titled))
        if ctx.progress is not None:
            ctx.progress(report.feeds_checked, max(len(leases.claimed), report.feeds_checked))
        if len(writes.entries) >= WRITE_BATCH:
            writes.flush()
    writes.flush()


def evaluate_and_record(
    ctx: Context, *, now: datetime, replayed: bool = False, checked: bool = False
) -> list[StatusChange]:
    """Record the status changes at `now` of every indicator. `checked`: right after a cycle
    that checked every due feed it could claim, so a feed still due for two intervals is one
    no check tries (`statuses.held`): only then do the writers see such feeds unread. At
    start-up, a reload or the digest's own look, before the check that reads the due feeds,
    they do not (after a day down, no ``unknown`` and back on the first check), and an edit
    that moves no status is noted as evaluated."""
    overdue = checked and not replayed
    recorded = ctx.store.current_statuses()
    current = {i: status for i, (status, _since) in recorded.items()}
    with heap.paused():  # many objects, next to no cycles (`heap.paused`)
        statuses = advance_all(
            ctx.definitions, ctx.store, now=now, current=current, overdue=overdue
        )
    evaluated = ctx.store.evaluated_with()
    found = find_changes(statuses, current, now=now, replayed=replayed, definitions=ctx.definitions)
    found, unread = held(ctx.definitions, ctx.store, found, now=now, checked=checked)
    found = edited(ctx.definitions, evaluated, found)
    if any(c.new_status == UNKNOWN for c in found):  # dated as the readers showed it
        sent = ctx.store.last_digest()
        floor = sent[1] if sent is not None else None
        found = dated(
            ctx.definitions, ctx.store, found, recorded, now=now, floor=floor, overdue=overdue
        )
    done = ctx.store.record_changes(found, alert=ctx.alerts)
    hashes = {i.id: i.hash for i in ctx.definitions.indicators if i.id not in unread}
    ctx.store.mark_evaluated({i: h for i, h in hashes.items() if evaluated.get(i, h) != h})
    return done


def match_entries(
    ctx: Context,
    entries: Iterable[tuple[int, Entry]],
    readers: Mapping[str, frozenset[str]] | None = None,
) -> list[tuple[int, Match]]:
    """Matches of stored entries, each only against the indicators that read its feed now: an
    entry of a feed no indicator reads (their files deleted or their feeds narrowed, or the
    feed taken out of the feeds file, as a replay finds its stored entries) matches none."""
    readers = readers_of(ctx.definitions) if readers is None else readers
    found = []
    for entry_id, entry in entries:
        allowed = readers.get(entry.feed_id)
        if not allowed:
            continue
        for match in ctx.matcher.match(entry):
            if match.indicator_id in allowed:
                found.append((entry_id, match))
    return found


def store_entries(
    ctx: Context,
    entries: Sequence[Entry],
    *,
    now: datetime,
    readers: Mapping[str, frozenset[str]] | None = None,
    urls: Mapping[str, str] | None = None,
) -> Added:
    """Store new entries with their matches, in one transaction; with `urls` (feed -> the URL
    read), not those of a feed given another URL since (`Added.moved`)."""
    hashes = {i.id: i.hash for i in ctx.definitions.indicators}
    return ctx.store.add_news(
        entries,
        now=now,
        match=lambda fresh: match_entries(ctx, fresh, readers),
        definition_hashes=hashes,
        urls=urls,
    )


def rematch(ctx: Context, since: datetime) -> tuple[int, int]:
    """Match stored entries from `since` on again with today's definitions, replacing their
    matches; returns (entries, matches written: none of an entry the clean-up deleted after
    it was read)."""
    stored = [(entry_id, entry) for entry_id, entry, _seen in ctx.store.entries_since(since)]
    matches = match_entries(ctx, stored)
    hashes = {i.id: i.hash for i in ctx.definitions.indicators}
    written = ctx.store.replace_matches([entry_id for entry_id, _ in stored], matches, hashes)
    return len(stored), written


# ---------------------------------------------------------------- one feed


def _fetched(
    ctx: Context,
    source: Source,
    leases: Leases,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None,
    halt: Callable[[], bool],
) -> Iterator[tuple[tuple[DueFeed, FetchResult], ParseJob | None] | None]:
    """Each fetched feed with its result and, for a new body, the job of parsing it, in the
    order the fetches finish; None after each LULL in which none finished.

    The fetcher is kept at most two windows (2 x `concurrency`) ahead of what was taken from
    here, so fetching keeps pace with parsing instead of piling bodies up in memory; feeds are
    claimed again whenever none is left to hand it, until none is due or `halt()`."""
    claimed: dict[str, DueFeed] = {}
    unsent: deque[DueFeed] = deque()
    ahead = 2 * max(1, ctx.limits.concurrency)
    more = True
    while True:
        halted = halt()
        if more and not unsent and not halted:
            due = _claim(ctx, leases, now=now, clock=clock)
            claimed.update((f.id, f) for f in due)
            unsent.extend(due)
            more = bool(due)
        room = ahead - source.outstanding
        if room > 0 and unsent and not halted:
            source.submit([_request(unsent.popleft()) for _ in range(min(room, len(unsent)))])
        result = source.next_result(halt=halt, within=LULL)
        if result is None:
            if source.outstanding:  # none finished within LULL: a lull
                yield None
                continue
            if (more or unsent) and not halted:
                continue
            return
        feed = claimed[result.feed_id]
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

    def __init__(self, ctx: Context, report: CycleReport, now: datetime, leases: Leases) -> None:
        self.ctx, self.report, self.now, self.leases = ctx, report, now, leases
        self.readers = readers_of(ctx.definitions)
        self.entries: list[Entry] = []
        self.fetches: list[FetchRecord] = []

    def add(self, entries: Sequence[Entry], record: FetchRecord) -> None:
        self.entries.extend(entries)
        self.fetches.append(record)

    def flush(self) -> None:
        """Store them; a read of a feed the feeds file gave another URL since it was claimed
        (by another daemon's reload, or a `monitor check`'s) is left out whole: its entries and
        its record."""
        if not self.fetches:
            return
        moved: set[str] = set()
        if self.entries:
            urls = {r.feed_id: r.listed_url for r in self.fetches if r.listed_url}
            added = store_entries(
                self.ctx, self.entries, now=self.now, readers=self.readers, urls=urls
            )
            self.report.new_entries += len(added.entries)
            self.report.matches += added.matches
            known, moved = added.known_again, set(added.moved)
            self.fetches = [
                _told(r, known[r.feed_id]) if r.feed_id in known else r for r in self.fetches
            ]
        moved |= self.ctx.store.record_fetches([r for r in self.fetches if r.feed_id not in moved])
        for r in self.fetches:
            if r.feed_id in moved:
                log.info("feed %s was read at its old address %s, which the feeds file no longer "
                         "gives it: the read is not stored; its new address is due at once",
                         r.feed_id, r.listed_url)  # fmt: skip
        self.leases.done(r.feed_id for r in self.fetches)
        self.entries, self.fetches = [], []


def _absorb(
    ctx: Context,
    feed: DueFeed,
    result: FetchResult,
    parsed: ParsedFeed | Exception | None,
    report: CycleReport,
    *,
    now: datetime,
    titled: AbstractSet[str] = frozenset(),
) -> tuple[Sequence[Entry], FetchRecord]:
    """The entries of one fetch result and the feed's new state: its own title becomes the
    feed's unless the feeds file gives one (`titled`); a body read sets its warning (without
    one: clears it), a failure or a body not read again keeps the last one's. The validators
    (ETag, Last-Modified, body hash) move on only with a body read whole."""
    report.feeds_checked += 1
    error, title, warning = result.error, None, None
    entries: Sequence[Entry] = ()
    if isinstance(parsed, Exception):
        error = str(parsed)
    elif parsed is not None:
        title, entries = parsed.title or None, parsed.entries
        title = None if feed.id in titled else title
        warning = clip_error(parsed.warning)
        if warning:
            log.warning("feed %s was read with a warning: %s", feed.id, warning)
    elif result.status in (FetchStatus.NOT_MODIFIED, FetchStatus.UNCHANGED):
        report.not_modified += 1
    error = clip_error(error)
    ok = result.ok and not error
    if not ok:
        report.failed += 1
        report.errors.append(f"{feed.id}: {error}")
        log.warning("feed %s failed: %s", feed.id, error)
    # A body that did not parse keeps the old validators, so it is fetched whole next time;
    # so does a body cut off (its entries before the cut are stored, and it counts as read).
    validated = ok and not (isinstance(parsed, ParsedFeed) and parsed.ends_early)
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
        etag=result.etag if validated else None,
        last_modified=result.last_modified if validated else None,
        body_hash=result.body_hash if validated else None,
        moved_to=result.moved_to if ok else None,  # only where a feed was read
        error=error,
        dead=result.status is FetchStatus.GONE,
        next_check_at=next_at,
        error_count=errors,
        title=title,
        warning=warning if ok else None,
        listed_url=feed.listed_url,
    )
    return entries, record


# What a feed's warning says of items found stored under another guid or link (`Added`): a CMS
# that writes a new guid, or session or tracking parameter, at every request (or changed its
# guids once: the items it carries from before are known so while it does).
KNOWN_AGAIN = {
    "guid": "{n} item(s) under another guid than when first stored (guids that change from "
    "read to read?): known by their link (if any), headline and text, not stored again",
    "link": "{n} item(s) under a link that changed only in a session or tracking parameter: "
    "known by their link without it and their headline, not stored again",
}


def _told(record: FetchRecord, known: Mapping[str, int]) -> FetchRecord:
    """`record` with its warning telling of the feed's items `known` again under a new guid
    or link (Store.add_news), after the warning its body was read with."""
    if record.warning is None:  # not read (cannot be: its entries were stored)
        return record
    notes = [KNOWN_AGAIN[what].format(n=n) for what, n in sorted(known.items())]
    warning = "; ".join([record.warning, *notes] if record.warning else notes)
    return replace(record, warning=clip_error(warning))


def _as_failure(result: FetchResult, error: str) -> FetchResult:
    if result.failed:
        return result
    return FetchResult(
        result.feed_id, result.url, FetchStatus.FAILED, result.http_status, error=error
    )


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
        regex_timeouts=report.regex_timeouts,
        ok=True,
    )
