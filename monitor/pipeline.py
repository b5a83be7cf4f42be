"""One check cycle: the only place that knows the order of the stages.

fetch -> parse -> match -> store entries and matches -> record fetch -> evaluate -> record changes

Due feeds are claimed and fetched as a sliding window (`monitor.feedreads`): a fetch starts as
soon as another ends, and results come back as they finish, while worker processes parse the
bodies already in (`parse_many`); results are matched and stored here, many feeds per
transaction, so the parsing — the costliest stage — sets the pace. What is parsed is also
stored whenever no fetch ends for a LULL, so one slow feed holds up no other: neither its fetch
nor the storing of its news. The claimed feeds' leases are renewed while the cycle works on
them (`monitor.leases`), and whatever it did not check — it was stopped, or its deadline passed
— is released at its end, so any daemon may check those feeds at once. What a cycle is given
and what it reports: `monitor.cycle`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

from monitor import heap
from monitor.counts import count
from monitor.cycle import Context, CycleReport
from monitor.domain import UNKNOWN, Entry, Match, StatusChange, utcnow
from monitor.evaluate import changes as find_changes
from monitor.feedreads import Read, absorb, fetch_due, tally, told
from monitor.fetch import FetchResult, FetchStopped
from monitor.leases import Leases
from monitor.match import Matcher
from monitor.parse import ParseJob
from monitor.parsepool import parse_many, start_workers
from monitor.statuses import advance_all, dated, edited, held, readers_of
from monitor.store import Added, Cycle, Dropped, DueFeed, FetchRecord, Looked

__all__ = [
    "REPLAY_BATCH",
    "WRITE_BATCH",
    "Context",
    "LookStopped",
    "evaluate_and_record",
    "first_look",
    "match_entries",
    "prepare",
    "rematch",
    "replay",
    "replay_owner",
    "run_cycle",
    "start_parsers",
    "store_entries",
]

log = logging.getLogger("monitor.pipeline")

WRITE_BATCH = 1_000  # new entries (at least) stored per transaction
REPLAY_BATCH = 500  # stored entries a replay matches again and rewrites per transaction
REPLAY_LEASE = timedelta(minutes=2)  # a replay's hold on the matches, renewed every batch


class LookStopped(Exception):
    """`ctx.stop` was set while indicators looked at the stored news (`first_look`): the look
    ended between two pages, and nothing of it was written."""


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
    _note_defined(ctx, now=now)
    if not evaluate:
        return []
    return evaluate_and_record(ctx, now=now)  # which looks first (`first_look`)


def first_look(ctx: Context, *, now: datetime, batch: int = REPLAY_BATCH) -> int:
    """Match the stored entries inside its window against each indicator no writer has worked
    out with its definition as it is now — new in the definitions, or edited since — before
    that evaluation, and make its matches inside the window what its rule gives; returns the
    matches added, deleted or rewritten.

    A check matches only the entries it stores, so without this an indicator added to a running
    watch list would be `quiet` at once — its feeds were read — although the news inside its
    window, stored before it existed, was never matched against it: `quiet` claims that
    nothing matched. And one edited (a false positive ruled out, a rule broadened) would keep
    the status the old rule's matches give, with their evidence, until a replay. Until an
    evaluation works it out (it is then noted as evaluated with the definition), each
    preparation looks again, and finds nothing more to write. `batch` entries are read at a
    time, outside any write transaction; the matches are written in one (`Store.look`), and
    not while a replay holds them. When `ctx.stop` is set (the daemon stops) it ends after the
    page it reads, writing nothing, and raises LookStopped: the next start looks again.

    Every evaluation looks first (`evaluate_and_record`), so a look refused while a replay
    held the matches is taken by the next one, before it notes the indicator evaluated."""
    return _look(ctx, ctx.store.evaluated_with(), now=now, batch=batch)[0]


def _look(
    ctx: Context,
    evaluated: Mapping[str, str],
    *,
    now: datetime,
    batch: int = REPLAY_BATCH,
    before: datetime | None = None,
) -> tuple[int, frozenset[str]]:
    """`first_look`, given `evaluated` (`Store.evaluated_with`): (matches written, the ids of
    the indicators a look is still owed to: refused, a replay holding the matches).

    `before`: a replay's date (`replay`), which matched the entries from then on again: only
    the indicators whose window begins before it are looked at, the others are matched whole."""
    looked = [i for i in ctx.definitions.indicators if evaluated.get(i.id) != i.hash]
    if before is not None:
        looked = [i for i in looked if now - i.window < before]
    if not looked:
        return 0, frozenset()
    ids = {i.id for i in looked}
    readers = {
        feed: theirs
        for feed, indicators in readers_of(ctx.definitions).items()
        if (theirs := indicators & ids)
    }
    windows = {i.id: now - i.window for i in looked}  # a shorter window counts what is inside it
    matcher = Matcher(looked)
    seen: list[int] = []
    found: list[tuple[int, Match]] = []
    feeds: Counter[str] = Counter()  # entries matched, by feed
    after = 0
    while page := ctx.store.entries_since(min(windows.values()), after=after, limit=batch):
        seen.extend(entry_id for entry_id, _entry, _seen in page)
        read = [(entry_id, entry) for entry_id, entry, _seen in page if entry.feed_id in readers]
        found += match_entries(ctx, read, readers, matcher)
        feeds.update(entry.feed_id for _, entry in read)
        after = page[-1][0]
        if ctx.stop is not None and ctx.stop.is_set():
            raise LookStopped(f"{', '.join(sorted(ids))}: stopped after {len(seen)} stored "
                              "entries read; nothing written")  # fmt: skip
    hashes = {i.id: i.hash for i in looked}
    done = ctx.store.look(seen, found, windows, hashes)
    if done is None:
        log.info("first look: %s not matched against the stored news: a replay is rewriting the "
                 "matches (with the definitions it was given)", ", ".join(sorted(ids)))  # fmt: skip
        return 0, frozenset(ids)
    new = [i.id for i in looked if not evaluated.get(i.id)]
    _log_look(new, readers, feeds, done, edited=False)
    _log_look([i for i in sorted(ids) if i not in new], readers, feeds, done, edited=True)
    return done.written(), frozenset()


def _log_look(
    ids: Sequence[str],
    readers: Mapping[str, frozenset[str]],
    feeds: Mapping[str, int],
    done: Looked,
    *,
    edited: bool,
) -> None:
    """One line for the indicators `ids` of a look: new ones (their first look) or `edited`."""
    entries = sum(n for feed, n in feeds.items() if readers[feed] & set(ids))
    if not entries:
        return
    if not edited:
        log.info(
            "first look: %s matched against %s not evaluated yet (%s): %s",
            count(entries, "stored entry"), count(len(ids), "indicator"), ", ".join(ids),
            count(sum(done.added[i] for i in ids), "match"),
        )  # fmt: skip
        return
    log.info(
        "look again: %s matched against %s edited since their last evaluation (%s): %s inside "
        "the window (%d added, %d deleted, %d rewritten)",
        count(entries, "stored entry"), count(len(ids), "indicator"), ", ".join(ids),
        count(sum(done.given[i] for i in ids), "match"),
        sum(done.added[i] for i in ids), sum(done.deleted[i] for i in ids),
        sum(done.rewritten[i] for i in ids),
    )  # fmt: skip


def _note_defined(ctx: Context, *, now: datetime) -> None:
    """Note the indicators this process checks, in force for two check intervals and a
    cycle's deadline (its next check notes them again): an indicator's monitoring ends once
    no process checking has it (`Store.note_defined`), not at any one process's check."""
    until = now + 2 * ctx.check_interval + ctx.cycle_deadline
    ids = (i.id for i in ctx.definitions.indicators)
    ctx.store.note_defined(ids, owner=ctx.owner, now=now, until=until)


def start_parsers(ctx: Context) -> None:
    """Start, ahead of the first cycle, the process its parse workers fork from: it loads the
    parsers (a quarter of a second), and a cycle should not wait for that while it fetches.
    For the daemon at start-up and `monitor check`; a no-op once it runs, or without workers."""
    start_workers(ctx.parse_workers)


def run_cycle(
    ctx: Context, *, now: datetime, clock: Callable[[], datetime] | None = None
) -> CycleReport:
    """Fetch every due feed, store what is new, and record the status changes that follow.

    Feeds are claimed a batch at a time (`feedreads.fetch_due`: on PostgreSQL a few fetch
    windows, so daemons ticking together share them), each batch leased from
    its claim (by `clock`); the leases are renewed while the cycle holds the feeds. When
    `ctx.stop` is set, the fetches in flight are abandoned, what was answered is stored, the
    other feeds are released and FetchStopped is raised; past `ctx.cycle_deadline` the same
    happens without raising."""
    report = CycleReport(started_at=now)
    deadline = now + ctx.cycle_deadline
    ctx.matcher.take_timeouts()  # the cycle's own, below

    def halt() -> bool:
        stopping = ctx.stop is not None and ctx.stop.is_set()
        return stopping or (clock() if clock else now) >= deadline

    leases = Leases(ctx.store, owner=ctx.owner, lease=ctx.lease, clock=clock)
    with ctx.fetching() as source, leases:
        fetched = fetch_due(ctx, source, leases, now=now, clock=clock, halt=halt)
        _check_feeds(ctx, fetched, leases, report, now=now, clock=clock)
        left = leases.release()
    if ctx.stop is not None and ctx.stop.is_set():
        raise FetchStopped(
            f"{count(report.feeds_checked, 'feed')} checked and stored, {left} released unchecked"
        )
    if left:
        log.warning(
            "cycle: deadline of %s passed; %s released unchecked",
            ctx.cycle_deadline,
            count(left, "feed"),
        )
    # A cycle that got through its due feeds tells which no check tries (`statuses.held`).
    _note_defined(ctx, now=now)
    report.changes = evaluate_and_record(ctx, now=now, checked=not left, clock=clock)
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

    They are stored WRITE_BATCH entries at a time, and whenever no fetch ended for a
    `feedreads.LULL`, so a feed that hangs until its timeout keeps back no other feed's news.
    A feed's next check is counted from when it was checked (by `clock`), not from the start
    of a long cycle, so no feed is fetched twice within its interval."""
    writes = _Writes(ctx, report, now, leases)
    titled = frozenset(f.id for f in ctx.definitions.feeds if f.title)  # the feeds file names them
    fetches = 0
    timeout = None if ctx.parse_timeout is None else ctx.parse_timeout.total_seconds()
    memory = ctx.parse_max_memory
    for done in parse_many(fetched, workers=ctx.parse_workers, timeout=timeout, memory=memory):
        if done is None:  # a lull: the fetches in flight may take long
            writes.flush()
            continue
        (feed, result), parsed = done
        checked = clock() if clock else now
        writes.add(absorb(ctx, feed, result, parsed, now=checked, titled=titled))
        fetches += 1
        if ctx.progress is not None:
            ctx.progress(fetches, max(len(leases.claimed), fetches))
        if len(writes.entries) >= WRITE_BATCH:
            writes.flush()
    writes.flush()


def evaluate_and_record(
    ctx: Context,
    *,
    now: datetime,
    replayed: bool = False,
    checked: bool = False,
    clock: Callable[[], datetime] | None = None,
    before: datetime | None = None,
) -> list[StatusChange]:
    """Record the status changes at `now` of every indicator, as recorded when `clock` says
    (`now` without one: a cycle's changes are dated when it began, recorded when it ends; a
    silence holds what is recorded while it is in force). `checked`: right after a cycle
    that checked every due feed it could claim, so a feed still due for two intervals is one
    no check tries (`statuses.held`): only then do the writers see such feeds unread. At
    start-up, a reload or the digest's own look, before the check that reads the due feeds,
    they do not (after a day down, no ``unknown`` and back on the first check), and an edit
    that moves no status is noted as evaluated.

    An indicator added or edited since a writer last evaluated it is looked at first
    (`first_look`; `before`: a replay's date): its status must not rest on matches its rule
    does not give. One whose look is refused (a replay held the matches, and let them go
    before the statuses were read) gets no change and is not noted evaluated: the next
    evaluation looks. With nothing edited that costs the one read of the hashes evaluated."""
    evaluated = ctx.store.evaluated_with()
    owed = _look(ctx, evaluated, now=now, before=before)[1]
    overdue = checked and not replayed
    recorded = ctx.store.current_statuses()
    current = {i: status for i, (status, _since) in recorded.items()}
    with heap.paused():  # many objects, next to no cycles (`heap.paused`)
        statuses = advance_all(
            ctx.definitions, ctx.store, now=now, current=current, overdue=overdue
        )
    if statuses is None:
        _log_held(ctx, now)
        return []
    found = find_changes(statuses, current, now=now, replayed=replayed, definitions=ctx.definitions)
    found = [c for c in found if c.indicator_id not in owed]  # worked out from the old matches
    found, unread = held(ctx.definitions, ctx.store, found, now=now, checked=checked)
    found = edited(ctx.definitions, evaluated, found)
    if any(c.new_status == UNKNOWN for c in found):  # dated as the readers showed it
        sent = ctx.store.last_digest()
        floor = sent[1] if sent is not None else None
        found = dated(
            ctx.definitions, ctx.store, found, recorded, now=now, floor=floor, overdue=overdue
        )
    done = ctx.store.record_changes(found, alert=ctx.alerts, now=clock() if clock else now)
    hashes = {i.id: i.hash for i in ctx.definitions.indicators if i.id not in unread | owed}
    ctx.store.mark_evaluated({i: h for i, h in hashes.items() if evaluated.get(i, h) != h})
    return done


def match_entries(
    ctx: Context,
    entries: Iterable[tuple[int, Entry]],
    readers: Mapping[str, frozenset[str]] | None = None,
    matcher: Matcher | None = None,
) -> list[tuple[int, Match]]:
    """Matches of stored entries, each only against the indicators that read its feed now: an
    entry of a feed no indicator reads (their files deleted or their feeds narrowed, or the
    feed taken out of the feeds file, as a replay finds its stored entries) matches none.
    `matcher`: of some of the indicators only (the context's: all of them)."""
    readers = readers_of(ctx.definitions) if readers is None else readers
    matcher = ctx.matcher if matcher is None else matcher
    found = []
    for entry_id, entry in entries:
        allowed = readers.get(entry.feed_id)
        if not allowed:
            continue
        for match in matcher.match(entry):
            if match.indicator_id in allowed:
                found.append((entry_id, match))
    return found


def store_entries(
    ctx: Context,
    entries: Sequence[Entry],
    *,
    now: datetime,
    readers: Mapping[str, frozenset[str]] | None = None,
    records: Sequence[FetchRecord] = (),
) -> Added:
    """Store new entries with their matches, in one transaction; with the `records` of the
    fetches that read them (recorded in it too, as `ctx.owner`'s), not those of a read left
    out (`Added.dropped`: its feed moved, or its lease was taken, since it was claimed)."""
    hashes = {i.id: i.hash for i in ctx.definitions.indicators}
    return ctx.store.add_news(
        entries,
        now=now,
        match=lambda fresh: match_entries(ctx, fresh, readers),
        definition_hashes=hashes,
        records=records,
        owner=ctx.owner if records else None,
        told=told,
    )


def rematch(
    ctx: Context,
    since: datetime,
    *,
    clock: Callable[[], datetime] = utcnow,
    batch: int = REPLAY_BATCH,
    done: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Match stored entries from `since` on again with today's definitions, replacing their
    matches; returns (entries, matches written: none of an entry the clean-up deleted after
    it was read).

    `batch` entries at a time: each page is read and matched outside any write transaction,
    and its matches replaced in one short one (then `done` is told how many entries are), so
    a daemon's writes wait for one batch at most. The replay holds the matches meanwhile
    (`Store.begin_replay`): no evaluation records a status from the half-rewritten matches,
    and one that stopped half way is finished by the next replay, from its date if earlier."""
    owner = replay_owner(ctx)
    start = ctx.store.begin_replay(since, owner=owner, now=clock(), lease=REPLAY_LEASE)
    if start < since:
        log.warning("replay: a replay from %s stopped half way; this one replays from then",
                    f"{start:%Y-%m-%d}")  # fmt: skip
    readers = readers_of(ctx.definitions)
    hashes = {i.id: i.hash for i in ctx.definitions.indicators}
    entries = written = 0
    after = 0
    while page := ctx.store.entries_since(start, after=after, limit=batch):
        stored = [(entry_id, entry) for entry_id, entry, _seen in page]
        matches = match_entries(ctx, stored, readers)
        hold = (owner, clock() + REPLAY_LEASE)
        ids = [entry_id for entry_id, _ in stored]
        written += ctx.store.replace_matches(ids, matches, hashes, hold=hold)
        entries, after = entries + len(stored), ids[-1]
        if done is not None:
            done(entries)
    ctx.store.end_replay(owner=owner)
    return entries, written


def replay(
    ctx: Context,
    since: datetime,
    *,
    now: datetime,
    clock: Callable[[], datetime] = utcnow,
    done: Callable[[int], None] | None = None,
) -> tuple[int, int, list[StatusChange]]:
    """`monitor replay --since`: match the stored entries from `since` on again (`rematch`),
    then record the status changes at `now`, marked replayed; returns (entries, matches
    written, changes).

    That evaluation notes every indicator as evaluated with its definition as it is, so an
    indicator added or edited since its last evaluation whose window begins before `since`
    is first looked at (`first_look`, by that evaluation): else the entries between its
    window's start and `since` would keep the matches of the old rule (or none), its status
    would rest on them, and no later preparation would look again."""
    prepare(ctx, now=now, evaluate=False)
    entries, written = rematch(ctx, since, clock=clock, done=done)
    return entries, written, evaluate_and_record(ctx, now=now, replayed=True, before=since)


def replay_owner(ctx: Context) -> str:
    """Who holds the matches while `rematch` rewrites them (`Store.begin_replay`)."""
    return f"replay {ctx.owner}"


def _log_held(ctx: Context, now: datetime) -> None:
    """Say why an evaluation recorded nothing: a replay holds the matches."""
    hold = ctx.store.replay_hold()
    if hold is not None:  # else it ended since
        level = logging.WARNING if hold.stalled(now) else logging.INFO
        log.log(level, "evaluate: %s", hold.note(now))


class _Writes:
    """Entries and fetch records of several feeds, stored together in one transaction, so a
    read is stored whole or not at all (and a crash costs fetching those bodies again)."""

    def __init__(self, ctx: Context, report: CycleReport, now: datetime, leases: Leases) -> None:
        self.ctx, self.report, self.now, self.leases = ctx, report, now, leases
        self.readers = readers_of(ctx.definitions)
        self.entries: list[Entry] = []
        self.reads: list[Read] = []

    def add(self, read: Read) -> None:
        self.entries.extend(read.entries)
        self.reads.append(read)

    def flush(self) -> None:
        """Store them. A read is left out whole, its entries and its record, when the feeds
        file gave its feed another URL since it was claimed (another daemon's reload, or a
        `monitor check`'s), or when its lease ran out and another process claimed the feed
        (a slow fetch, a paused daemon): that one's read is the feed's. Counted as dropped,
        not as checked, and logged once."""
        if not self.reads:
            return
        records = [read.record for read in self.reads]
        if self.entries:
            added = store_entries(
                self.ctx, self.entries, now=self.now, readers=self.readers, records=records
            )
            self.report.new_entries += len(added.entries)
            self.report.matches += added.matches
            dropped = added.dropped
        else:
            dropped = self.ctx.store.record_fetches(records, owner=self.ctx.owner)
        for read in self.reads:
            why = dropped.get(read.record.feed_id)
            if why is None:
                tally(self.report, read)
            else:
                self.report.dropped += 1
                _log_dropped(read.record, why)
        self.leases.done(r.feed_id for r in records)
        self.entries, self.reads = [], []


def _log_dropped(record: FetchRecord, why: Dropped) -> None:
    if why is Dropped.MOVED:
        log.info("feed %s was read at its old address %s, which the feeds file no longer gives "
                 "it: the read is not stored (dropped: moved); its new address is due at once",
                 record.feed_id, record.listed_url)  # fmt: skip
    else:
        log.info("feed %s was read after its lease ran out, and another process claimed it "
                 "meanwhile: the read is not stored (dropped: lease taken); the other "
                 "process's read is the feed's", record.feed_id)  # fmt: skip


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
        dropped=report.dropped,
        ok=True,
    )
