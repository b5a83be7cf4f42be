"""Feeds: the configured set, due feeds claimed with a lease, and their health (what each fetch
found: `fetches.py`). Feeds that leave the configuration are kept with `active = False`: they
are never due and not reported, and start afresh if configured again.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal, Self

from sqlalchemy import Connection, nulls_first, or_, select, text, update

from monitor.domain import CLOCK_SLACK, Feed, FeedHealth
from monitor.links import without_password
from monitor.store.base import StoreBase, chunks, once_more_if_disconnected
from monitor.store.feedlocks import hold_reloads, lock_feed_rows
from monitor.store.schema import feed_table, sqlite_utc

# A feed without a successful read for more than this many of its intervals is **stale**: not
# read when it should have been (the daemon down, say), whatever its row said at its last check.
STALE_AFTER = 2
# How a feed stands at a time (`FeedState.state_at`): the one word the page, /feeds, /healthz,
# `monitor status` and the digest all say of it.
FeedStateWord = Literal["dead", "failing", "stale", "rate-limited", "ok", "new"]

# Only what `due_feeds` and `feed_health` need: reading a datetime or the tags costs more.
_DUE_COLUMNS = [
    feed_table.c[name]
    for name in (
        "id",
        "url",
        "moved_to",
        "etag",
        "last_modified",
        "body_hash",
        "error_count",
        "interval_seconds",
    )
]
_HEALTH_COLUMNS = [
    feed_table.c[name]
    for name in (
        "id",
        "failing_since",
        "interval_seconds",
        "dead",
        "last_error",
        "last_success_at",
        "next_check_at",
    )
]


# /healthz's counts of the active feeds: failing, never read, read within `intervals` of theirs,
# read with a warning, silent (`FeedState.silent_since`, in SQL), moved, rate limited, and stale
# (`FeedState.stale_at`, in SQL: `intervals` is its STALE_AFTER).
_FEED_COUNTS = (
    "SELECT count(*), sum(CASE WHEN dead OR failing_since IS NOT NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN last_success_at IS NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN {recent} THEN 1 ELSE 0 END), "
    "sum(CASE WHEN warning <> '' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN NOT dead AND failing_since IS NULL AND silent_after_seconds > 0 "
    "AND {silent} THEN 1 ELSE 0 END), "
    "sum(CASE WHEN moved_to IS NOT NULL AND moved_to <> '' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN NOT dead AND failing_since IS NULL AND last_error <> '' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN NOT dead AND failing_since IS NULL AND last_success_at IS NOT NULL "
    "AND NOT ({recent}) THEN 1 ELSE 0 END) "
    "FROM feed WHERE active"
)
_SQLITE_FEED_COUNTS = text(
    _FEED_COUNTS.format(
        recent="julianday(last_success_at) >= "
        "julianday(:now) - :intervals * interval_seconds / 86400.0",
        silent="julianday(last_new_at) < julianday(:now) - silent_after_seconds / 86400.0",
    )
)
_PG_FEED_COUNTS = text(
    _FEED_COUNTS.format(
        recent="last_success_at >= "
        "CAST(:now AS timestamptz) - make_interval(secs => :intervals * interval_seconds)",
        silent="last_new_at < CAST(:now AS timestamptz) - make_interval(secs => "
        "silent_after_seconds)",
    )
)
_FAILING_FEEDS = text(
    "SELECT id FROM feed WHERE active AND (dead OR failing_since IS NOT NULL) "
    "ORDER BY id LIMIT :named"
)


def _sooner(old: Any, interval_seconds: int) -> datetime | None:
    """The next check of a feed whose interval got shorter: one new interval after its last
    check, when that is before the one planned; None otherwise, and while it backs off."""
    if old.interval_seconds <= interval_seconds or old.error_count or not old.last_checked_at:
        return None
    sooner: datetime = old.last_checked_at + timedelta(seconds=interval_seconds)
    planned = old.next_check_at
    return sooner if planned is None or sooner < planned else None


@dataclass(frozen=True)
class DueFeed:
    """A feed claimed for fetching: `url` is where it lives now (moved_to, else url);
    `listed_url` the URL the feeds file gave it then, which its read is recorded for."""

    id: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    error_count: int
    interval: timedelta
    lease_until: datetime
    listed_url: str


@dataclass(frozen=True)
class FeedState:
    """Everything /feeds and the digest show about a feed: its URLs and messages as people
    see them, a password in them as `***` (`links.without_password`); `DueFeed` fetches."""

    id: str
    url: str
    moved_to: str | None
    title: str
    tags: tuple[str, ...]
    interval: timedelta
    last_checked_at: datetime | None
    last_success_at: datetime | None
    http_status: int | None
    not_modified: bool  # the last answer was a 304 Not Modified it took (one it refused fails)
    error_count: int
    last_error: str
    next_check_at: datetime | None
    dead: bool
    failing_since: datetime | None
    active: bool
    warning: str = ""  # why the body last read was not right, though readable; "" when it was
    # When a check last stored a new entry of it, else when it was first read; None: never read.
    last_new_at: datetime | None = None
    silent_after: timedelta = timedelta(0)  # silent when no new entry for longer; 0: never
    lease_owner: str | None = None  # the daemon that claimed it, until `lease_until`
    lease_until: datetime | None = None

    def due_at(self, now: datetime) -> bool:
        """To be checked at `now`: never checked, or its next check's time has come."""
        return self.next_check_at is None or self.next_check_at <= now

    def held_at(self, now: datetime) -> bool:
        """Due at `now` but claimed by a process whose lease still runs: being checked, or held
        by one that is gone until the lease runs out (or a process of its host takes it over)."""
        return self.due_at(now) and self.lease_until is not None and self.lease_until > now

    @property
    def rate_limited(self) -> bool:
        """Its last answer asked to be read later (429, or 503 with Retry-After): not failing
        for it, and not read (`last_error` says the answer; a failure or a read clears it)."""
        return not self.dead and self.failing_since is None and bool(self.last_error)

    def stale_at(self, now: datetime) -> bool:
        """Read once, but not successfully for more than STALE_AFTER of its intervals at `now`
        (dead and failing feeds say more, and are not called stale)."""
        if self.dead or self.failing_since is not None or self.last_success_at is None:
            return False
        return now - self.last_success_at > self.interval * STALE_AFTER

    def state_at(self, now: datetime) -> FeedStateWord:
        """How the feed stands at `now`, worked out when asked (never the state its last check
        wrote): `dead` (gone: 410), `failing`, `stale` (`stale_at`), `rate-limited`, `ok`, or
        `new` (never checked)."""
        if self.dead:
            return "dead"
        if self.failing_since is not None:
            return "failing"
        if self.stale_at(now):
            return "stale"
        if self.rate_limited:
            return "rate-limited"
        return "ok" if self.last_checked_at is not None else "new"

    def silent_since(self, now: datetime) -> datetime | None:
        """`last_new_at` when the feed is **silent** at `now`: it brought no new entry for
        longer than `silent_after` though it is read (not failing, not gone: those say more);
        else None. Information, as a warning is: it changes no status."""
        if not self.silent_after or self.last_new_at is None:
            return None
        if self.dead or self.failing_since is not None:
            return None
        return self.last_new_at if now - self.last_new_at > self.silent_after else None


@dataclass(frozen=True)
class FeedCounts:
    """The configured feeds at a time, counted (`Store.feed_counts`)."""

    total: int
    failing: int  # failing now (gone included)
    never_read: int  # never fetched successfully
    read_recently: int  # fetched successfully within two of their intervals
    with_warning: int  # whose body last read came with a warning
    silent: int  # silent: no new entry for longer than their silent_after (`silent_since`)
    failing_ids: tuple[str, ...]  # the first few failing ones, by id
    moved: int = 0  # moved permanently (`moved_to`): their url in the feeds file to update
    rate_limited: int = 0  # whose last answer asked to be read later (`rate_limited`)
    stale: int = 0  # not read successfully for more than STALE_AFTER intervals (`stale_at`)


class FeedsMixin(StoreBase):
    """The feed table: configuration, due feeds and leases, health."""

    _configured_feeds: tuple[FeedState, ...] = ()  # see `with_configured`

    def with_configured(
        self,
        feeds: Sequence[Feed],
        *,
        now: datetime,
        default_interval: timedelta,
        default_silent_after: timedelta,
    ) -> Self:
        """This store (the same connection pool: close only one) listing and counting each of
        the configured `feeds` the table holds no active row of as `sync_feeds` would add it,
        in memory: never read, due at `now`. What a reader that syncs nothing (`monitor serve`)
        shows before any daemon started, as a daemon does from its start: not "0 feeds". Reads
        nothing until asked (`feeds`, `feed_counts`)."""
        view = copy.copy(self)
        view._configured_feeds = tuple(
            _feed_state(SimpleNamespace(id=f.id, **row, lease_owner=None, lease_until=None))
            for f in feeds
            for row in [_configured(f, default_interval, default_silent_after) | _fresh(now)]
        )
        return view

    def _unsynced(self, active: Collection[str]) -> list[FeedState]:
        """The configured feeds (`with_configured`) of no `active` row, as `sync_feeds` adds
        them: afresh."""
        return [f for f in self._configured_feeds if f.id not in active]

    @once_more_if_disconnected
    def sync_feeds(
        self,
        feeds: Sequence[Feed],
        *,
        now: datetime,
        default_interval: timedelta = timedelta(minutes=15),
        default_silent_after: timedelta = timedelta(days=14),
    ) -> None:
        """Upsert the configured feeds keeping their state; mark the others inactive. A feed's
        `interval` and `silent_after` are stored, the defaults given here for those without.

        A feed whose URL changed, or that comes back into the configuration, starts afresh: no
        validators, no redirect, no failures (not dead), due at once; one whose URL changed is
        no longer leased either (a claim was to read the old address, whose read
        `record_fetches` leaves out), so any daemon reads the new one at once. A feed the file
        gives no title keeps the one its body gave (`record_fetches`) while its URL stays. A feed
        whose interval got shorter is next checked one new interval after its last check, not
        at the time the old interval set (unless it is backing off from failures).

        Only the feeds whose row the file changes are written, their rows locked by id
        (PostgreSQL: `feedlocks`), so other daemons store their reads of the others, and claim
        them, meanwhile; reloads run one after another (`hold_reloads`). Safe to run again
        (`once_more_if_disconnected`): a try whose commit went through left the rows as the
        file says, and the next finds nothing to write.
        """
        wanted = {f.id: _configured(f, default_interval, default_silent_after) for f in feeds}
        with self._tx("sync feeds", write=True) as conn:
            if self._rehearsing is None:  # a dry run's feeds are a copy of its own
                hold_reloads(conn)  # one reload after another: each reads what the last left
            stored = {row.id: row for row in conn.execute(select(*_CONFIGURED))}
            changed = [i for i in sorted(wanted) if i in stored and _changes(stored[i], wanted[i])]
            gone = [i for i in sorted(stored) if stored[i].active and i not in wanted]
            known = _locked(conn, sorted([*changed, *gone]))  # by id (`feedlocks`)
            for feed_id in sorted({*changed, *(wanted.keys() - stored.keys())}):  # new ones too
                old = known.get(feed_id)
                if old is None:  # new (ON CONFLICT: an older version's reload added it meanwhile)
                    values = wanted[feed_id] | _fresh(now)
                    new = self._insert(feed_table).values(id=feed_id, **values)
                    conn.execute(new.on_conflict_do_nothing(index_elements=["id"]))
                else:
                    values = _written(old, wanted[feed_id], now)
                    conn.execute(
                        update(feed_table).where(feed_table.c.id == feed_id).values(values)
                    )
            for chunk in chunks(gone):
                conn.execute(
                    update(feed_table).where(feed_table.c.id.in_(chunk)).values(active=False)
                )

    @once_more_if_disconnected
    def due_feeds(
        self,
        now: datetime,
        *,
        owner: str,
        lease: timedelta,
        limit: int | None = None,
        skip: Collection[str] = (),
        force: bool = False,
        current: datetime | None = None,
    ) -> list[DueFeed]:
        """Claim the feeds due at `now` for `owner` until `now + lease`; skip others' leases,
        and the feeds named in `skip` (those a cycle already holds). A feed last checked (or
        leased) later than the clock's `current` reading (default `now`) by more than
        CLOCK_SLACK is due (and free): the clock went back. (`now` is when the cycle began; in a
        long cycle other daemons check feeds after it, and those are not due.)

        A dead (gone) feed is due as any other, at the `next_check_at` its 410 set (GONE_RETRY).
        `force`: every feed not yet checked at or after `now`, whatever its schedule, dead ones
        too (`monitor check --force`), so a cycle claiming in batches still takes each one once."""
        # A check or a lease recorded further ahead of `now` than CLOCK_SLACK was recorded on
        # a clock that ran ahead and was set back: the feed is due and its lease is over, or no
        # feed would be read until the clock caught up with them.
        ahead = (current or now) + CLOCK_SLACK
        free = or_(
            feed_table.c.lease_until.is_(None),
            feed_table.c.lease_until <= now,
            feed_table.c.lease_until > ahead + lease,
            feed_table.c.lease_owner == owner,
        )
        checked_ahead = feed_table.c.last_checked_at > ahead
        due = or_(
            feed_table.c.next_check_at.is_(None), feed_table.c.next_check_at <= now, checked_ahead
        )
        if force:
            due = or_(
                feed_table.c.last_checked_at.is_(None),
                feed_table.c.last_checked_at < now,
                checked_ahead,
            )
        query = (
            select(*_DUE_COLUMNS)
            .where(feed_table.c.active, free)
            .where(due)
            .where(self._not_in(feed_table.c.id, skip))
            .order_by(nulls_first(feed_table.c.next_check_at), feed_table.c.id)
            .limit(limit)
        )
        until = now + lease
        with self._tx("claim due feeds", write=True) as conn:
            rows = self._claim(
                conn, query, feed_table, [free], lease_owner=owner, lease_until=until
            )
        return [_due_feed(row, until) for row in rows]

    @once_more_if_disconnected
    def renew_leases(self, feed_ids: Collection[str], *, owner: str, until: datetime) -> int:
        """Extend `owner`'s leases on these feeds to `until`, while it still works on them;
        returns how many were renewed (a lease another daemon took over is left alone).

        On PostgreSQL rows locked at that moment are skipped, never waited for: the lock is the
        cycle recording those feeds (which ends their leases), and waiting could deadlock
        with it."""
        if not feed_ids:
            return 0
        owned = select(feed_table.c.id).where(
            feed_table.c.id.in_(list(feed_ids)), feed_table.c.lease_owner == owner
        )
        if self.dialect == "postgresql":
            owned = owned.with_for_update(skip_locked=True)
        with self._tx("renew leases", write=True) as conn:
            renewed = conn.execute(
                update(feed_table)
                .where(feed_table.c.id.in_(owned), feed_table.c.lease_owner == owner)
                .values(lease_until=until)
            )
            return int(renewed.rowcount or 0)

    @once_more_if_disconnected
    def release_leases(self, *, owner: str, feed_ids: Collection[str] | None = None) -> int:
        """Give up `owner`'s leases (on these feeds, or all), so that any daemon may check
        them at once; the feeds' state is left as it was. Returns how many were released."""
        if feed_ids is not None and not feed_ids:
            return 0
        owned = [feed_table.c.lease_owner == owner]
        if feed_ids is not None:
            owned.append(feed_table.c.id.in_(list(feed_ids)))
        with self._tx("release leases", write=True) as conn:
            lock_feed_rows(conn, *owned)
            query = update(feed_table).where(*owned)
            released = conn.execute(query.values(lease_owner=None, lease_until=None))
            return int(released.rowcount or 0)

    @once_more_if_disconnected
    def feed_health(self) -> list[FeedHealth]:
        """Health of every configured feed, for `evaluate`."""
        with self._tx("read feed health") as conn:
            rows = conn.execute(
                select(*_HEALTH_COLUMNS).where(feed_table.c.active).order_by(feed_table.c.id)
            )
            return [
                FeedHealth(
                    feed_id=row.id,
                    failing_since=row.failing_since,
                    interval=timedelta(seconds=row.interval_seconds),
                    dead=row.dead,
                    last_error=without_password(row.last_error),
                    never_read=row.last_success_at is None,
                    last_read=row.last_success_at,
                    due_at=row.next_check_at,
                )
                for row in rows
            ]

    @once_more_if_disconnected
    def feed_counts(
        self, now: datetime, *, intervals: int = STALE_AFTER, named: int = 5
    ) -> FeedCounts:
        """How the configured feeds stand at `now`, for /healthz: one aggregate over the feed
        table and the ids of the first few failing feeds, in plain SQL (building the statements
        with SQLAlchemy costs more than running them); no row is read into Python (but the
        active ids, given the configured feeds: `with_configured`)."""
        sqlite = self.dialect == "sqlite"
        at = sqlite_utc(now) if sqlite else now
        params = {"now": at, "intervals": intervals, "named": named}
        with self._tx("count feeds") as conn:
            row = conn.execute(_SQLITE_FEED_COUNTS if sqlite else _PG_FEED_COUNTS, params).one()
            failing_ids = tuple(conn.execute(_FAILING_FEEDS, params).scalars())
            added = 0  # the configured feeds no row holds yet (`with_configured`): never read
            if self._configured_feeds:
                active = select(feed_table.c.id).where(feed_table.c.active)
                added = len(self._unsynced(set(conn.execute(active).scalars())))
        total, failing, never_read, recently, warned, silent, moved, limited, stale = (
            int(n or 0) for n in row
        )
        return FeedCounts(
            total + added, failing, never_read + added, recently, warned, silent, failing_ids,
            moved, limited, stale,
        )  # fmt: skip

    @once_more_if_disconnected
    def feeds(self, *, include_inactive: bool = False) -> list[FeedState]:
        query = select(feed_table).order_by(feed_table.c.id)
        if not include_inactive:
            query = query.where(feed_table.c.active)
        with self._tx("list feeds") as conn:
            found = [_feed_state(row) for row in conn.execute(query)]
        added = {f.id: f for f in self._unsynced({f.id for f in found if f.active})}
        if not added:
            return found
        kept = [f for f in found if f.id not in added]  # an inactive one: configured again
        return sorted([*kept, *added.values()], key=_by_id)


def _fresh(now: datetime) -> dict[str, Any]:
    """Feed state of a feed never fetched (or whose URL changed, or configured again): due at
    once, and never read. A read of the old URL (or from before the feed left the file) says
    nothing of what is there now: kept, it let the feed support `quiet` before it was read,
    and a dead feed's indicators were recorded `quiet` at the reload that gave it a new URL."""
    return {
        "last_checked_at": None,
        "last_success_at": None,
        "moved_to": None,
        "etag": None,
        "last_modified": None,
        "body_hash": None,
        "http_status": None,
        "failing_since": None,
        "error_count": 0,
        "last_error": "",
        "warning": "",
        "last_new_at": None,
        "dead": False,
        "next_check_at": now,
    }


# What a reload writes, read first without a lock: a feed whose row says all of it already is
# neither locked nor written (its title: only when the file gives one).
_CONFIGURED = [
    feed_table.c[name]
    for name in ("id", "url", "title", "tags", "interval_seconds", "silent_after_seconds", "active")
]
# What a reload writes from, read again as it locks the rows it writes (records move them).
_LOCKED = [
    feed_table.c[name]
    for name in (
        "id",
        "url",
        "interval_seconds",
        "last_checked_at",
        "next_check_at",
        "error_count",
        "active",
    )
]


def _configured(feed: Feed, default_interval: timedelta, silent_after: timedelta) -> dict[str, Any]:
    """The columns the feeds file sets for `feed` (an active feed)."""
    return {
        "url": feed.url,
        "title": feed.title,
        "tags": list(feed.tags),
        "interval_seconds": int((feed.interval or default_interval).total_seconds()),
        "silent_after_seconds": _seconds(feed.silent_after, silent_after),
        "active": True,
    }


def _changes(row: Any, values: dict[str, Any]) -> bool:
    """Whether the reload writes the feed `row` (`_CONFIGURED`) as `values` (`_configured`)."""
    stored = {name: row._mapping[name] for name in values} | {"tags": list(row.tags)}
    if not values["title"]:
        stored["title"] = ""  # the file gives none: the one stored stays
    return stored != values


def _written(old: Any, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What the reload writes on a stored feed `old` (`_LOCKED`, read locked) configured as
    `values`: all of it afresh when its URL changed or it comes back (not leased either when
    its URL changed: `sync_feeds`); else the file's columns, the title only when the file gives
    one, and a sooner next check when its interval got shorter."""
    if old.url != values["url"] or not old.active:
        moved = {"lease_owner": None, "lease_until": None} if old.url != values["url"] else {}
        return values | moved | _fresh(now)
    written = {name: v for name, v in values.items() if name != "title" or v}
    sooner = _sooner(old, values["interval_seconds"])
    return written if sooner is None else written | {"next_check_at": sooner}


def _locked(conn: Connection, feed_ids: list[str]) -> dict[str, Any]:
    """The rows of `feed_ids` (sorted), `_LOCKED`, locked by id until the transaction ends
    (PostgreSQL: `feedlocks`; SQLite's writer holds the write lock anyway)."""
    found: dict[str, Any] = {}
    for chunk in chunks(feed_ids):
        query = select(*_LOCKED).where(feed_table.c.id.in_(chunk)).order_by(feed_table.c.id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        found.update({row.id: row for row in conn.execute(query)})
    return found


def _seconds(value: timedelta | None, default: timedelta) -> int:
    return int((default if value is None else value).total_seconds())


def _due_feed(row: Any, lease_until: datetime) -> DueFeed:
    return DueFeed(
        id=row.id,
        url=row.moved_to or row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        error_count=row.error_count,
        interval=timedelta(seconds=row.interval_seconds),
        lease_until=lease_until,
        listed_url=row.url,
    )


def _by_id(feed: FeedState) -> str:
    return feed.id


def _feed_state(row: Any) -> FeedState:
    moved_to = without_password(row.moved_to) if row.moved_to else row.moved_to
    return FeedState(
        id=row.id,
        url=without_password(row.url),
        moved_to=moved_to,
        title=row.title,
        tags=tuple(row.tags),
        interval=timedelta(seconds=row.interval_seconds),
        last_checked_at=row.last_checked_at,
        last_success_at=row.last_success_at,
        http_status=row.http_status,
        not_modified=row.http_status == 304 and row.failing_since is None,  # not a refused 304
        error_count=row.error_count,
        last_error=without_password(row.last_error),  # also one stored before it was masked
        warning=without_password(row.warning),
        last_new_at=row.last_new_at,
        silent_after=timedelta(seconds=row.silent_after_seconds),
        next_check_at=row.next_check_at,
        dead=row.dead,
        failing_since=row.failing_since,
        active=row.active,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )
