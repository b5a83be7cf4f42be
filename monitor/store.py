"""SQLModel tables and every query: the only module that imports SQLModel or SQLAlchemy.

`open_store(url)` gives a `Store`; its methods take and return domain objects or the small
frozen dataclasses below, never ORM rows. SQLite serves one daemon (WAL, 30 s busy timeout,
writes take the lock up front with BEGIN IMMEDIATE); PostgreSQL serves several, which claim due
feeds with `FOR UPDATE SKIP LOCKED` and a lease. Writes that could race are compare-and-set.
Datetimes are timezone-aware UTC in and out. Database errors surface as `StoreError("store: …")`.

Feeds that leave the configuration are kept with `active = False`: they are never due and not
reported, and come back with their state if configured again.

Analysts' verdicts are append-only rows; evidence reads apply the standing one (the latest per
entry, indicator and outcome): a `no` drops a match, a `yes` adds its entry if no rule matched it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    inspect,
    nulls_first,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from monitor import migrate
from monitor.domain import (
    INITIAL,
    QUIET,
    Entry,
    Evidence,
    Feed,
    FeedHealth,
    Judgement,
    Match,
    StatusChange,
    Verdict,
)
from monitor.errors import StoreError, VerdictError

__all__ = [
    "AlertClaim",
    "Cycle",
    "CycleTotals",
    "DigestState",
    "DueFeed",
    "FeedCounts",
    "FeedState",
    "FetchRecord",
    "Store",
    "StoredEntry",
    "metadata",
    "open_store",
    "schema_status",
    "upgrade",
]

BUSY_TIMEOUT_MS = 30_000
DIGEST_CLAIM_TIMEOUT = timedelta(minutes=15)  # an unsent claim older than this may be retaken
_CHUNK = 5_000  # ids per IN (...) list, well below SQLite's bound-parameter limit


# ---------------------------------------------------------------- column types


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC: timestamptz on PostgreSQL; on SQLite the text
    SQLAlchemy's DATETIME writes ("2026-01-31 12:00:00.000000", naive UTC), made in C."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"store: naive datetime {value.isoformat()}")
        if value.utcoffset():
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return _sqlite_when(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_when(value: datetime) -> str:
    """An aware UTC datetime as UTCDateTime stores it on SQLite."""
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _text() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False))


# ---------------------------------------------------------------- tables


class FeedTable(SQLModel, table=True):
    __tablename__ = "feed"

    id: str = Field(primary_key=True)
    url: str
    moved_to: str | None = None
    title: str = ""
    tags: list[str] = _json()
    interval_seconds: int
    active: bool = True
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    http_status: int | None = None
    last_checked_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    failing_since: datetime | None = _when()
    error_count: int = 0
    last_error: str = _text()
    next_check_at: datetime | None = _when(index=True)
    dead: bool = False
    lease_owner: str | None = None
    lease_until: datetime | None = _when()


class EntryTable(SQLModel, table=True):
    __tablename__ = "entry"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    feed_id: str
    guid: str
    link: str
    title: str = _text()
    text: str = _text()
    published: datetime | None = _when()
    first_seen: datetime = _when(nullable=False, index=True)
    time: datetime = _when(nullable=False, index=True)
    publisher: str


class MatchTable(SQLModel, table=True):
    __tablename__ = "entry_match"
    __table_args__ = (Index("ix_entry_match_indicator_entry", "indicator_id", "entry_id"),)

    entry_id: int = Field(
        sa_column=Column(Integer, ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    )
    indicator_id: str = Field(primary_key=True)
    outcome_id: str = Field(primary_key=True)
    terms: list[str] = _json()
    snippet: str = _text()
    definition_hash: str


class IndicatorStateTable(SQLModel, table=True):
    __tablename__ = "indicator_state"

    indicator_id: str = Field(primary_key=True)
    status: str
    since: datetime = _when(nullable=False)
    definition_hash: str = ""
    version: int = 0
    started_at: datetime | None = _when()  # when monitoring it began (its state was made)


class StatusChangeTable(SQLModel, table=True):
    """Append-only: one row per recorded status change."""

    __tablename__ = "status_change"
    __table_args__ = (Index("ix_status_change_indicator_at", "indicator_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str
    at: datetime = _when(nullable=False, index=True)
    old_status: str
    new_status: str
    evidence: list[dict[str, Any]] = _json()
    definition_hash: str
    replayed: bool = False
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The alert outbox: NULL notified_at means the change still has to be alerted.
    notified_at: datetime | None = _when(index=True)
    notify_attempts: int = 0
    notify_after: datetime | None = _when()  # not retried before
    notify_owner: str | None = None  # the daemon sending it now…
    notify_until: datetime | None = _when()  # …until then (its claim)
    notify_error: str = _text()
    notify_done: list[str] = _json()  # keys of the channels that accepted it already


class VerdictTable(SQLModel, table=True):
    """Append-only: one row per analyst's verdict; the latest per (entry, indicator, outcome)
    stands (the highest id)."""

    __tablename__ = "verdict"
    __table_args__ = (Index("ix_verdict_indicator_entry", "indicator_id", "entry_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("entry.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    indicator_id: str
    outcome_id: str
    verdict: str  # yes | no
    who: str
    at: datetime = _when(nullable=False)
    note: str = _text()


class DigestTable(SQLModel, table=True):
    __tablename__ = "digest"

    day: date = Field(primary_key=True)
    claimed_at: datetime | None = _when()
    claimed_by: str | None = None
    sent_at: datetime | None = _when()
    failed_at: datetime | None = _when()
    attempts: int = 0
    last_error: str = _text()


class CycleTable(SQLModel, table=True):
    __tablename__ = "cycle"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _when(nullable=False)
    finished_at: datetime = _when(nullable=False)
    feeds_checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: int = 0
    ok: bool = True


metadata = SQLModel.metadata  # for Alembic's env.py
_feed: Table = metadata.tables["feed"]
_entry: Table = metadata.tables["entry"]
_match: Table = metadata.tables["entry_match"]
_state: Table = metadata.tables["indicator_state"]
_change: Table = metadata.tables["status_change"]
_digest: Table = metadata.tables["digest"]
_cycle: Table = metadata.tables["cycle"]
_verdict: Table = metadata.tables["verdict"]


# Only what `due_feeds` and `feed_health` need: reading a datetime or the tags costs more.
_DUE_COLUMNS = [
    _feed.c[name]
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
    _feed.c[name]
    for name in (
        "id",
        "failing_since",
        "interval_seconds",
        "dead",
        "last_error",
        "last_success_at",
    )
]

_ENTRY_COLUMNS = {
    "key": "text",
    "feed_id": "text",
    "guid": "text",
    "link": "text",
    "title": "text",
    "text": "text",
    "published": "timestamptz",
    "first_seen": "timestamptz",
    "time": "timestamptz",
    "publisher": "text",
}
# On PostgreSQL one row of arrays beats a VALUES list: psycopg parses every placeholder in Python.
_PG_ADD_ENTRIES = text(
    "INSERT INTO entry ({names}) SELECT * FROM unnest({arrays}) "
    "ON CONFLICT (key) DO NOTHING RETURNING id, key".format(
        names=", ".join(f'"{name}"' for name in _ENTRY_COLUMNS),
        arrays=", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _ENTRY_COLUMNS.items()),
    )
)


_DATA_VERSION = (
    "SELECT (SELECT max(id) FROM cycle), (SELECT max(id) FROM status_change), "
    "(SELECT max(entry_id) FROM entry_match), (SELECT max(id) FROM verdict)"
)


# /healthz's counts of the active feeds: failing, never read, read within `intervals` of theirs.
_FEED_COUNTS = (
    "SELECT count(*), sum(CASE WHEN dead OR failing_since IS NOT NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN last_success_at IS NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN {recent} THEN 1 ELSE 0 END) FROM feed WHERE active"
)
_SQLITE_FEED_COUNTS = text(
    _FEED_COUNTS.format(
        recent="julianday(last_success_at) >= "
        "julianday(:now) - :intervals * interval_seconds / 86400.0"
    )
)
_PG_FEED_COUNTS = text(
    _FEED_COUNTS.format(
        recent="last_success_at >= "
        "CAST(:now AS timestamptz) - make_interval(secs => :intervals * interval_seconds)"
    )
)
_FAILING_FEEDS = text(
    "SELECT id FROM feed WHERE active AND (dead OR failing_since IS NOT NULL) "
    "ORDER BY id LIMIT :named"
)


# What moves when stored matches change (see `Store.evidence`). PostgreSQL gives every row it
# writes (insert or update) the writing transaction's id as xmin, so the count and the sum of
# xmin of the matches move with every match added, rewritten or deleted. (One scan of the
# matches alone: restricted to a window it would have to read every entry in the window.)
# Verdicts change evidence too; they are append-only, so their count and top id tell.
_PG_MATCH_VERSION = (
    "SELECT count(*), coalesce(sum(xmin::text::bigint), 0), "
    "(SELECT count(*) FROM verdict), (SELECT coalesce(max(id), 0) FROM verdict) FROM entry_match"
)
_SQLITE_VERSION_WRAP = 2**31  # PRAGMA user_version is a signed 32-bit integer


# On SQLite a plain executemany runs in C; RETURNING would have SQLAlchemy bind row by row.
_SQLITE_ADD_ENTRIES = (
    "INSERT INTO entry ({names}) VALUES ({marks}) ON CONFLICT (key) DO NOTHING".format(
        names=", ".join(f'"{name}"' for name in _ENTRY_COLUMNS),
        marks=", ".join("?" for _ in _ENTRY_COLUMNS),
    )
)


def _sqlite_add_entries(conn: Connection, batch: dict[str, Entry], now: datetime) -> dict[str, int]:
    """Insert the entries whose key is new; return key -> id of those. The transaction holds
    SQLite's write lock (BEGIN IMMEDIATE), so the new rows are those above the previous top id."""
    top = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM entry").scalar_one()
    seen = _sqlite_utc(now)
    rows = []
    for key, e in batch.items():
        published = e.published
        when = _sqlite_utc(published) if published is not None else None
        time = when if published is not None and published <= now else seen
        rows.append(
            (key, e.feed_id, e.guid, e.link, e.title, e.text, when, seen, time, e.publisher)
        )
    conn.exec_driver_sql(_SQLITE_ADD_ENTRIES, rows)
    found = conn.exec_driver_sql("SELECT key, id FROM entry WHERE id > ?", (top,))
    return {key: entry_id for key, entry_id in found}


def _sqlite_utc(value: datetime) -> str:
    return _sqlite_when(_aware(value).astimezone(UTC))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise StoreError(f"store: naive datetime {value.isoformat()}")
    return value


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in _ENTRY_COLUMNS}


# ---------------------------------------------------------------- what the store returns


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored: its id and its time (published if known and not in the future, else
    first seen)."""

    id: int
    entry: Entry
    time: datetime


@dataclass(frozen=True)
class DueFeed:
    """A feed claimed for fetching: `url` is where it lives now (moved_to, else url)."""

    id: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    error_count: int
    interval: timedelta
    lease_until: datetime


@dataclass(frozen=True)
class FeedState:
    """Everything /feeds and the digest show about a feed."""

    id: str
    url: str
    moved_to: str | None
    title: str
    tags: tuple[str, ...]
    interval: timedelta
    last_checked_at: datetime | None
    last_success_at: datetime | None
    http_status: int | None
    not_modified: bool  # the last answer was 304 Not Modified
    error_count: int
    last_error: str
    next_check_at: datetime | None
    dead: bool
    failing_since: datetime | None
    active: bool


@dataclass(frozen=True)
class FeedCounts:
    """The configured feeds at a time, counted (`Store.feed_counts`)."""

    total: int
    failing: int  # failing now (gone included)
    never_read: int  # never fetched successfully
    read_recently: int  # fetched successfully within two of their intervals
    failing_ids: tuple[str, ...]  # the first few failing ones, by id


@dataclass(frozen=True)
class AlertClaim:
    """A recorded change claimed for alerting (`Store.claim_alerts`)."""

    change: StatusChange
    attempts: int  # failed tries so far
    done: tuple[str, ...]  # keys of the channels that accepted it already
    until: datetime  # the claim's end: another daemon may take it over then


@dataclass(frozen=True)
class DigestState:
    day: date
    claimed_at: datetime | None
    claimed_by: str | None
    sent_at: datetime | None
    attempts: int
    last_error: str


@dataclass(frozen=True)
class Cycle:
    """The counts of one check cycle."""

    started_at: datetime
    finished_at: datetime
    feeds_checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: int = 0
    ok: bool = True
    id: int | None = None


@dataclass(frozen=True)
class FetchRecord:
    """What one fetch found, for `record_fetches`.

    `etag`, `last_modified`, `body_hash`, `moved_to` and `title` left None keep their stored
    value ("" clears it). A success clears `failing_since`; a failure sets it once.
    """

    feed_id: str
    now: datetime
    ok: bool
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    moved_to: str | None = None
    error: str = ""
    dead: bool = False
    next_check_at: datetime | None = None
    error_count: int = 0
    title: str | None = None


# ---------------------------------------------------------------- opening


def open_store(url: str) -> Store:
    """Connect to `url` and return the store.

    An empty database is brought to the code's schema revision (`upgrade`) first, so a fresh
    SQLite file needs no setup. A database at another revision is refused: an older one names
    `monitor db upgrade`, the command that migrates it.
    """
    engine = _engine(url)
    try:
        current, head = _schema_status(engine)
        if current is None:
            current = _upgrade(engine, empty_only=True)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"store: unable to open {engine.url!r}: {_reason(exc)}") from exc
    if current != head:
        engine.dispose()
        raise StoreError(_schema_problem(current, head))
    return Store(engine)


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store: bad database URL {url!r}: {exc}") from exc
    is_sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if is_sqlite and database not in ("", ":memory:") and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            folder = Path(database).parent
            raise StoreError(f"store: cannot create {folder}: {exc.strerror or exc}") from exc
    try:
        engine = create_engine(parsed, pool_pre_ping=not is_sqlite)
    except SQLAlchemyError as exc:
        raise StoreError(f"store: unable to open {parsed!r}: {_reason(exc)}") from exc
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


# ---------------------------------------------------------------- schema revisions


def upgrade(url: str) -> tuple[str | None, str]:
    """Migrate the database at `url` to the code's schema revision (`monitor db upgrade`).

    Returns (revision before, revision after). Safe to run twice and from several machines at
    once: on PostgreSQL the upgrade holds an advisory lock, on SQLite the write lock. A database
    made before migrations existed (tables, no revision) is taken to be at the first revision.
    """
    engine = _engine(url)
    try:
        before, head = _schema_status(engine)
        return before, _upgrade(engine) or head
    except SQLAlchemyError as exc:
        raise StoreError(f"store: unable to upgrade {engine.url!r}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def schema_status(url: str) -> tuple[str | None, str]:
    """(the database's schema revision or None, the code's revision)."""
    engine = _engine(url)
    try:
        return _schema_status(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"store: unable to read {engine.url!r}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def schema_differences(url: str) -> list[Any]:
    """How the database at `url` differs from the models ([] when it matches them)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return migrate.differences(conn, metadata)
    finally:
        engine.dispose()


def new_revision(url: str, message: str) -> None:
    """Autogenerate a revision from the models against the database at `url` (developers)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            migrate.new_revision(conn, metadata, message)
    finally:
        engine.dispose()


_FIRST_REVISION = "0001"
_UPGRADE_LOCK = 0x6D6F6E69  # "moni": pg_advisory_xact_lock key of schema upgrades


def _schema_status(engine: Engine) -> tuple[str | None, str]:
    with engine.connect() as conn, conn.begin():
        return migrate.current(conn), migrate.head()


def _upgrade(engine: Engine, *, empty_only: bool = False) -> str | None:
    """Upgrade to head in one transaction that concurrent upgrades wait for; returns the
    revision after. With `empty_only`, a database that has tables is left as it is."""
    with engine.connect() as conn:
        conn.execution_options(monitor_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
            current = migrate.current(conn)
            if current is None and inspect(conn).get_table_names():
                if empty_only:
                    return None
                migrate.stamp(conn, metadata, _FIRST_REVISION)  # made by create_all before 0001
            elif empty_only and current is not None:
                return current
            migrate.upgrade(conn, metadata)
            return migrate.current(conn)


def _schema_problem(current: str | None, head: str) -> str:
    if current is None:
        return (
            "store: the database has tables but no schema revision (it predates migrations, or "
            f"is not monitor's); run `monitor db upgrade` to bring it to revision {head}"
        )
    if current in migrate.revisions():
        return (
            f"store: the database schema is at revision {current}, older than this monitor's "
            f"{head}; run `monitor db upgrade` first"
        )
    return (
        f"store: the database schema is at revision {current}, unknown to this monitor (whose "
        f"latest is {head}): it was migrated by a newer version; upgrade monitor"
    )


def _configure_sqlite(engine: Engine) -> None:
    """WAL, busy timeout, foreign keys; transactions begun by us (IMMEDIATE for writes)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.create_function("monitor_casefold", 1, _casefold, deterministic=True)
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("monitor_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _casefold(value: str | None) -> str | None:
    """SQLite's lower() folds ASCII only; entry search folds every script as Python does."""
    return None if value is None else value.casefold()


def _set_wal(cursor: Any) -> None:
    """PRAGMA journal_mode = WAL, retried until the busy timeout: connections opening a new file
    at once race to switch it, and SQLite answers the losers "database is locked" at once
    instead of waiting."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _reason(exc: SQLAlchemyError) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {exc.orig}".strip()
    return str(exc).splitlines()[0]


# ---------------------------------------------------------------- the store


class Store:
    """Every query monitor makes. Each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._evidence_kept: _KeptEvidence | None = None  # the last `evidence` read

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(monitor_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store: unable to {what}: {_reason(exc)}") from exc

    def _insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT support for the engine's dialect."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        raise StoreError(f"store: unsupported database {self.dialect!r}")

    # ------------------------------------------------------------ feeds

    def sync_feeds(
        self,
        feeds: Sequence[Feed],
        *,
        now: datetime,
        default_interval: timedelta = timedelta(minutes=15),
    ) -> None:
        """Upsert the configured feeds keeping their state; mark the others inactive.

        A feed whose URL changed starts afresh: no validators, no redirect, no failures.
        """
        with self._tx("sync feeds", write=True) as conn:
            known = {row.id: row for row in conn.execute(select(_feed.c.id, _feed.c.url))}
            for feed in feeds:
                values: dict[str, Any] = {
                    "url": feed.url,
                    "title": feed.title,
                    "tags": list(feed.tags),
                    "interval_seconds": int((feed.interval or default_interval).total_seconds()),
                    "active": True,
                }
                old = known.get(feed.id)
                if old is None:  # another daemon starting at once may have just added it
                    new = self._insert(_feed).values(id=feed.id, **values, **_fresh(now))
                    conn.execute(new.on_conflict_do_nothing(index_elements=["id"]))
                elif old.url != feed.url:
                    conn.execute(
                        update(_feed).where(_feed.c.id == feed.id).values(**values, **_fresh(now))
                    )
                else:
                    conn.execute(update(_feed).where(_feed.c.id == feed.id).values(**values))
            configured = [f.id for f in feeds]
            conn.execute(update(_feed).where(_feed.c.id.not_in(configured)).values(active=False))

    def due_feeds(
        self,
        now: datetime,
        *,
        owner: str,
        lease: timedelta,
        limit: int | None = None,
        skip: Collection[str] = (),
        force: bool = False,
    ) -> list[DueFeed]:
        """Claim the feeds due at `now` for `owner` until `now + lease`; skip others' leases,
        and the feeds named in `skip` (those a cycle already holds).

        `force`: every live feed not yet checked at or after `now`, whatever its schedule
        (`monitor check --force`), so a cycle claiming in batches still takes each one once."""
        free = or_(
            _feed.c.lease_until.is_(None), _feed.c.lease_until <= now, _feed.c.lease_owner == owner
        )
        due = or_(_feed.c.next_check_at.is_(None), _feed.c.next_check_at <= now)
        if force:
            due = or_(_feed.c.last_checked_at.is_(None), _feed.c.last_checked_at < now)
        query = (
            select(*_DUE_COLUMNS)
            .where(_feed.c.active, ~_feed.c.dead, free)
            .where(due)
            .where(_feed.c.id.not_in(list(skip)))
            .order_by(nulls_first(_feed.c.next_check_at), _feed.c.id)
            .limit(limit)
        )
        until = now + lease
        with self._tx("claim due feeds", write=True) as conn:
            rows = self._claim(conn, query, _feed, [free], lease_owner=owner, lease_until=until)
        return [_due_feed(row, until) for row in rows]

    def _claim(
        self, conn: Connection, query: Any, table: Table, holds: list[Any], **mark: Any
    ) -> list[Any]:
        """The rows `query` selects (rows locked by another daemon skipped on PostgreSQL) that
        this call marks with `mark`: compare-and-set on `holds`, so a row another daemon took
        between the select and the update is left out, and no row is ever in two hands."""
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if not rows:
            return []
        taken = set(
            conn.execute(
                update(table)
                .where(table.c.id.in_([row.id for row in rows]), *holds)
                .values(**mark)
                .returning(table.c.id)
            ).scalars()
        )
        return [row for row in rows if row.id in taken]

    def renew_leases(self, feed_ids: Collection[str], *, owner: str, until: datetime) -> int:
        """Extend `owner`'s leases on these feeds to `until`, while it still works on them;
        returns how many were renewed (a lease another daemon took over is left alone).

        On PostgreSQL rows locked at that moment are skipped, never waited for: the lock is the
        cycle recording those feeds (which ends their leases), and waiting could deadlock
        with it."""
        if not feed_ids:
            return 0
        owned = select(_feed.c.id).where(
            _feed.c.id.in_(list(feed_ids)), _feed.c.lease_owner == owner
        )
        if self.dialect == "postgresql":
            owned = owned.with_for_update(skip_locked=True)
        with self._tx("renew leases", write=True) as conn:
            renewed = conn.execute(
                update(_feed)
                .where(_feed.c.id.in_(owned), _feed.c.lease_owner == owner)
                .values(lease_until=until)
            )
            return int(renewed.rowcount or 0)

    def release_leases(self, *, owner: str, feed_ids: Collection[str] | None = None) -> int:
        """Give up `owner`'s leases (on these feeds, or all), so that any daemon may check
        them at once; the feeds' state is left as it was. Returns how many were released."""
        if feed_ids is not None and not feed_ids:
            return 0
        query = update(_feed).where(_feed.c.lease_owner == owner)
        if feed_ids is not None:
            query = query.where(_feed.c.id.in_(list(feed_ids)))
        with self._tx("release leases", write=True) as conn:
            released = conn.execute(query.values(lease_owner=None, lease_until=None))
            return int(released.rowcount or 0)

    def record_fetch(self, feed_id: str, **what: Any) -> None:
        """Store what one fetch found and release the lease (see `FetchRecord`)."""
        self.record_fetches([FetchRecord(feed_id, **what)])

    def record_fetches(self, records: Sequence[FetchRecord]) -> None:
        """Store what fetches found and release their leases, in one transaction (one
        executemany per set of columns written)."""
        groups: dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]] = {}
        for record in records:
            values = _fetch_values(record)
            groups.setdefault(tuple(values), []).append((record.feed_id, values))
        if not groups:
            return
        update_feeds = _sqlite_update_feeds if self.dialect == "sqlite" else _update_feeds
        with self._tx("record fetch", write=True) as conn:
            for names, rows in groups.items():
                if update_feeds(conn, names, rows) != len(rows):
                    ids = [feed_id for feed_id, _ in rows]
                    among = " among " if len(ids) > 1 else " "
                    raise StoreError(f"store: unknown feed{among}{_names(ids)}")

    def feed_health(self) -> list[FeedHealth]:
        """Health of every configured feed, for `evaluate`."""
        with self._tx("read feed health") as conn:
            rows = conn.execute(select(*_HEALTH_COLUMNS).where(_feed.c.active).order_by(_feed.c.id))
            return [
                FeedHealth(
                    feed_id=row.id,
                    failing_since=row.failing_since,
                    interval=timedelta(seconds=row.interval_seconds),
                    dead=row.dead,
                    last_error=row.last_error,
                    never_read=row.last_success_at is None,
                )
                for row in rows
            ]

    def feed_counts(self, now: datetime, *, intervals: int = 2, named: int = 5) -> FeedCounts:
        """How the configured feeds stand at `now`, for /healthz: one aggregate over the feed
        table and the ids of the first few failing feeds, in plain SQL (building the statements
        with SQLAlchemy costs more than running them); no row is read into Python."""
        sqlite = self.dialect == "sqlite"
        at = _sqlite_utc(now) if sqlite else now
        params = {"now": at, "intervals": intervals, "named": named}
        with self._tx("count feeds") as conn:
            row = conn.execute(_SQLITE_FEED_COUNTS if sqlite else _PG_FEED_COUNTS, params).one()
            failing_ids = tuple(conn.execute(_FAILING_FEEDS, params).scalars())
        total, failing, never_read, read_recently = (int(n or 0) for n in row)
        return FeedCounts(total, failing, never_read, read_recently, failing_ids)

    def feeds(self, *, include_inactive: bool = False) -> list[FeedState]:
        query = select(_feed).order_by(_feed.c.id)
        if not include_inactive:
            query = query.where(_feed.c.active)
        with self._tx("list feeds") as conn:
            return [_feed_state(row) for row in conn.execute(query)]

    # ------------------------------------------------------------ entries and matches

    def add_entries(self, entries: Sequence[Entry], *, now: datetime) -> list[tuple[int, Entry]]:
        """Store entries not seen before (by key, also within the batch); return those new."""
        with self._tx("add entries", write=True) as conn:
            return self._insert_entries(conn, entries, now)

    def add_news(
        self,
        entries: Sequence[Entry],
        *,
        now: datetime,
        match: Callable[[Sequence[tuple[int, Entry]]], Sequence[tuple[int, Match]]],
        definition_hashes: Mapping[str, str],
    ) -> tuple[list[tuple[int, Entry]], int]:
        """Store new entries and their matches (`match` of the new ones) in one transaction.

        Either both are stored or neither, so a crash between them cannot leave entries
        whose matches are lost. Returns the new entries and how many matches were stored.
        """
        with self._tx("add entries and matches", write=True) as conn:
            new = self._insert_entries(conn, entries, now)
            rows = _match_rows(match(new), definition_hashes) if new else []
            if not rows:
                return new, 0
            self._matches_written(conn)
            return new, self._upsert_matches(conn, rows)

    def _insert_entries(
        self, conn: Connection, entries: Sequence[Entry], now: datetime
    ) -> list[tuple[int, Entry]]:
        batch: dict[str, Entry] = {}
        for entry in entries:
            batch.setdefault(entry.key, entry)
        if not batch:
            return []
        if self.dialect == "postgresql":
            rows = [_entry_values(key, entry, now) for key, entry in batch.items()]
            new = {key: entry_id for entry_id, key in conn.execute(_PG_ADD_ENTRIES, _columns(rows))}
        else:
            new = _sqlite_add_entries(conn, batch, now)
        return [(new[key], entry) for key, entry in batch.items() if key in new]

    def add_matches(
        self, items: Sequence[tuple[int, Match]], definition_hashes: Mapping[str, str]
    ) -> int:
        """Store matches; returns how many were new or now carry a different definition hash."""
        rows = _match_rows(items, definition_hashes)
        if not rows:
            return 0
        with self._tx("add matches", write=True) as conn:
            self._matches_written(conn)
            return self._upsert_matches(conn, rows)

    def replace_matches(
        self,
        entry_ids: Sequence[int],
        items: Sequence[tuple[int, Match]],
        definition_hashes: Mapping[str, str],
    ) -> int:
        """Make `items` the only matches of `entry_ids` (for replay); returns how many."""
        rows = _match_rows(items, definition_hashes)
        ids = list(dict.fromkeys(entry_ids))
        with self._tx("replace matches", write=True) as conn:
            self._matches_written(conn)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(delete(_match).where(_match.c.entry_id.in_(chunk)))
            return self._upsert_matches(conn, rows) if rows else 0

    def _upsert_matches(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        """Insert `rows`, or update those stored with another definition hash; returns how many
        were written. Only in a transaction that calls `_matches_written`."""
        statement = self._insert(_match)
        statement = statement.on_conflict_do_update(
            index_elements=["entry_id", "indicator_id", "outcome_id"],
            set_={
                "terms": statement.excluded.terms,
                "snippet": statement.excluded.snippet,
                "definition_hash": statement.excluded.definition_hash,
            },
            where=_match.c.definition_hash != statement.excluded.definition_hash,
        ).returning(_match.c.entry_id)
        return len(conn.execute(statement, rows).all())

    def evidence(
        self,
        indicator_ids: Sequence[str] | None,
        since: datetime,
        *,
        definition_hashes: Mapping[str, str] | None = None,
    ) -> dict[str, list[Evidence]]:
        """Matches of entries with time >= since, per indicator (every asked id is a key),
        newest first. With `definition_hashes`, only matches made by those definitions count.

        Without them the answer is kept, and given again while the matches it was read from
        have not moved: one cheap `_match_version` query instead of reading every match, so a
        check cycle that stored no match reads no evidence. Any process writing through a
        `Store` moves that version (entries themselves are never rewritten). The kept answer
        may have been read at an earlier `since`, so it holds a superset of a later call's;
        `_KeptEvidence.within` cuts it, and every answer is what a fresh read would give.
        """
        if definition_hashes is not None:
            with self._tx("read evidence") as conn:
                return _read_evidence(conn, indicator_ids, since, definition_hashes)
        ids = None if indicator_ids is None else tuple(indicator_ids)
        kept = self._evidence_kept
        with self._tx("read evidence") as conn:
            # The version before the matches: a write between the two reads costs one read
            # more, not a stale answer.
            version = self._match_version(conn)
            if kept and kept.answers(ids, since, version):
                return kept.within(since)
            found = _read_evidence(conn, ids, since, None)
        fresh = _KeptEvidence(ids, since, version, _interned(found, kept))
        self._evidence_kept = fresh
        return fresh.within(since)

    def _match_version(self, conn: Connection) -> tuple[int, ...]:
        """What moves when any process adds, rewrites or deletes a match or adds a verdict: on
        PostgreSQL the count and the sum of xmin of the matches and the count and top id of
        the verdicts; on SQLite the database's user_version, which every transaction that
        writes matches or verdicts moves."""
        if self.dialect == "sqlite":
            return (int(conn.exec_driver_sql("PRAGMA user_version").scalar_one()),)
        return tuple(int(n) for n in conn.exec_driver_sql(_PG_MATCH_VERSION).one())

    def _matches_written(self, conn: Connection) -> None:
        """Move SQLite's match version in a transaction that writes matches; it commits or
        rolls back with them, and the transaction holds the write lock (BEGIN IMMEDIATE), so
        reading and setting it cannot race. PostgreSQL needs nothing: see _PG_MATCH_VERSION."""
        if self.dialect == "sqlite":
            version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
            conn.exec_driver_sql(f"PRAGMA user_version = {(version + 1) % _SQLITE_VERSION_WRAP}")

    def entries_since(self, since: datetime) -> list[tuple[int, Entry, datetime]]:
        """(id, entry, first seen) of entries with time >= since, oldest first (for replay)."""
        query = select(_entry).where(_entry.c.time >= since).order_by(_entry.c.time, _entry.c.id)
        with self._tx("read entries") as conn:
            return [(row.id, _entry_of(row), row.first_seen) for row in conn.execute(query)]

    def delete_old_entries(self, before: datetime) -> int:
        """Delete entries first seen before `before` that no indicator matched and no analyst
        judged.

        No match goes with them, so evidence stays as it was; the match version moves all the
        same, so that a kept evidence read never depends on that."""
        matched = exists().where(_match.c.entry_id == _entry.c.id)
        judged = exists().where(_verdict.c.entry_id == _entry.c.id)
        statement = delete(_entry).where(_entry.c.first_seen < before, ~matched, ~judged)
        with self._tx("delete old entries", write=True) as conn:
            deleted = conn.execute(statement).rowcount
            if deleted:
                self._matches_written(conn)
            return deleted

    def entry(self, entry_id: int) -> StoredEntry | None:
        with self._tx("read an entry") as conn:
            row = conn.execute(select(_entry).where(_entry.c.id == entry_id)).first()
        return None if row is None else _stored_entry(row)

    def search_entries(self, text: str, *, limit: int = 20) -> list[StoredEntry]:
        """Entries whose title or text contains `text` (case-insensitive), newest first."""
        fold: Callable[[Any], Any]
        if self.dialect != "sqlite":
            fold, folded = func.lower, text.lower()
        elif text.isascii():  # SQLite's LIKE ignores the case of ASCII letters, in C
            fold, folded = (lambda column: column), text
        else:  # its lower() and LIKE fold ASCII only
            fold, folded = func.monitor_casefold, text.casefold()
        contains = or_(
            fold(_entry.c.title).contains(folded, autoescape=True),
            fold(_entry.c.text).contains(folded, autoescape=True),
        )
        query = (
            select(_entry)
            .where(contains)
            .order_by(_entry.c.time.desc(), _entry.c.id.desc())
            .limit(limit)
        )
        with self._tx("search entries") as conn:
            return [_stored_entry(row) for row in conn.execute(query)]

    # ------------------------------------------------------------ verdicts

    def add_verdict(self, verdict: Verdict) -> Verdict:
        """Append a verdict; it stands until a later one on the same (entry, indicator,
        outcome). Moves the match version, so kept evidence reads are read again."""
        values = {
            "entry_id": verdict.entry_id,
            "indicator_id": verdict.indicator_id,
            "outcome_id": verdict.outcome_id,
            "verdict": str(verdict.verdict),
            "who": verdict.who,
            "at": verdict.at,
            "note": verdict.note,
        }
        with self._tx("record verdict", write=True) as conn:
            known = conn.execute(select(_entry.c.id).where(_entry.c.id == verdict.entry_id))
            if known.first() is None:
                raise VerdictError(f"verdict: no entry {verdict.entry_id}", unknown="entry")
            self._matches_written(conn)
            new_id = conn.execute(_verdict.insert().values(**values).returning(_verdict.c.id))
            return replace(verdict, id=int(new_id.scalar_one()))

    def verdicts(
        self, indicator_id: str | None = None, *, limit: int = 100
    ) -> list[tuple[Verdict, StoredEntry]]:
        """Every verdict (of one indicator), newest first, with its entry."""
        query = select(_verdict, *_JUDGED_ENTRY).join(_entry, _entry.c.id == _verdict.c.entry_id)
        if indicator_id is not None:
            query = query.where(_verdict.c.indicator_id == indicator_id)
        query = query.order_by(_verdict.c.id.desc()).limit(limit)
        with self._tx("read verdicts") as conn:
            rows = conn.execute(query).all()
        return [(_verdict_of(row), _judged_entry(row)) for row in rows]

    def standing_verdicts(self) -> list[tuple[Verdict, StoredEntry]]:
        """The verdict that stands per (entry, indicator, outcome), with its entry, by entry id
        (for the labeled export)."""
        query = (
            select(_verdict, *_JUDGED_ENTRY)
            .join(_entry, _entry.c.id == _verdict.c.entry_id)
            .where(_verdict.c.id.in_(_latest_verdicts().scalar_subquery()))
            .order_by(_verdict.c.entry_id, _verdict.c.id)
        )
        with self._tx("read verdicts") as conn:
            rows = conn.execute(query).all()
        return [(_verdict_of(row), _judged_entry(row)) for row in rows]

    # ------------------------------------------------------------ statuses

    def ensure_indicators(self, indicator_ids: Iterable[str], *, now: datetime) -> None:
        """Give indicators seen for the first time a state: INITIAL (unknown) since `now`, as
        nothing was read for them yet; the first evaluation records what they are."""
        rows = [
            {"indicator_id": i, "status": INITIAL, "since": now, "definition_hash": ""}
            | {"version": 0, "started_at": now}
            for i in dict.fromkeys(indicator_ids)
        ]
        if rows:
            statement = self._insert(_state).on_conflict_do_nothing(index_elements=["indicator_id"])
            with self._tx("add indicators", write=True) as conn:
                conn.execute(statement, rows)

    def data_version(self) -> tuple[int, int, int, int]:
        """(latest cycle, latest status change, latest matched entry, latest verdict): ids that
        move when a cycle ends, a status is recorded, a new entry is matched or an analyst
        judges one. Four index lookups, cheap enough for every request; a replay that rewrites
        old matches moves none of them."""
        with self._tx("read the data version") as conn:
            row = conn.exec_driver_sql(_DATA_VERSION).one()  # plain SQL: ~0.15 ms less
        return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0))

    def current_statuses(self) -> dict[str, tuple[str, datetime]]:
        """indicator id -> (status, since)."""
        with self._tx("read statuses") as conn:
            rows = conn.execute(select(_state.c.indicator_id, _state.c.status, _state.c.since))
            return {row.indicator_id: (row.status, row.since) for row in rows}

    def monitoring_started(self) -> dict[str, datetime]:
        """indicator id -> when monitoring it began (the page's timeline starts there)."""
        query = select(_state.c.indicator_id, _state.c.started_at, _state.c.since)
        with self._tx("read statuses") as conn:
            return {row.indicator_id: row.started_at or row.since for row in conn.execute(query)}

    def record_changes(
        self, changes: Sequence[StatusChange], *, alert: bool = False
    ) -> list[StatusChange]:
        """Record each change unless its old status is no longer the stored one.

        With `alert`, each (not replayed) change is recorded as pending in the alert outbox,
        in the same transaction: a crash cannot lose its alert (`claim_alerts`). Otherwise
        it is recorded as needing none.

        Each change is its own compare-and-set transaction; a change another worker has
        already made (or overtaken) is skipped. Returns the recorded changes with their ids.

        An indicator's first reading is not news: its state moves from INITIAL (unknown: nothing
        read yet) to quiet without a change row (so no alert and no line in the digest). Any
        other first status, and every later move, is a recorded change.
        """
        recorded = []
        for change in changes:
            with self._tx("record status change", write=True) as conn:
                before = self._swap_status(conn, change)
                if before is None or _first_reading(change, before):
                    continue
                pending = alert and not change.replayed
                values = _change_values(change) | {"notified_at": None if pending else change.at}
                change_id = conn.execute(
                    _change.insert().values(**values).returning(_change.c.id)
                ).scalar_one()
                recorded.append(replace(change, id=change_id))
        return recorded

    def _swap_status(self, conn: Connection, change: StatusChange) -> int | None:
        """Move the indicator's state from the change's old status to its new one (compare and
        set); returns the state's version before, or None when the old status did not hold."""
        key = _state.c.indicator_id == change.indicator_id
        row = conn.execute(select(_state.c.status, _state.c.version).where(key)).first()
        values = {
            "status": change.new_status,
            "since": change.at,
            "definition_hash": change.definition_hash,
        }
        if row is None:
            if change.old_status != INITIAL:
                return None
            statement = (
                self._insert(_state)
                .values(indicator_id=change.indicator_id, version=1, started_at=change.at, **values)
                .on_conflict_do_nothing(index_elements=["indicator_id"])
                .returning(_state.c.version)
            )
            return 0 if conn.execute(statement).first() is not None else None
        if row.status != change.old_status:
            return None
        swapped = conn.execute(
            update(_state)
            .where(key, _state.c.status == row.status, _state.c.version == row.version)
            .values(version=row.version + 1, **values)
        )
        return int(row.version) if swapped.rowcount == 1 else None

    def history(
        self,
        indicator_id: str,
        *,
        since: datetime | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[StatusChange]:
        """Status changes of one indicator, newest first; page with `before_id`."""
        query = select(_change).where(_change.c.indicator_id == indicator_id)
        if since is not None:
            query = query.where(_change.c.at >= since)
        if before_id is not None:
            query = query.where(_change.c.id < before_id)
        query = query.order_by(_change.c.id.desc()).limit(limit)
        with self._tx("read history") as conn:
            return [_change_of(row) for row in conn.execute(query)]

    def changes_between(self, start: datetime, end: datetime) -> list[StatusChange]:
        """Changes with start <= at < end, oldest first (for the digest)."""
        query = (
            select(_change)
            .where(_change.c.at >= start, _change.c.at < end)
            .order_by(_change.c.at, _change.c.id)
        )
        with self._tx("read changes") as conn:
            return [_change_of(row) for row in conn.execute(query)]

    # ------------------------------------------------------------ the alert outbox

    def claim_alerts(
        self, now: datetime, *, owner: str, lease: timedelta, limit: int = 50
    ) -> list[AlertClaim]:
        """Claim recorded changes whose alert is due for `owner` until `now + lease`, oldest
        first: pending, not backing off, not claimed by another daemon whose claim holds.

        Compare-and-set, like `due_feeds` (row locks skipped on PostgreSQL), so each change is
        in one daemon's hands at a time."""
        free = or_(
            _change.c.notify_until.is_(None),
            _change.c.notify_until <= now,
            _change.c.notify_owner == owner,
        )
        due = or_(_change.c.notify_after.is_(None), _change.c.notify_after <= now)
        query = (
            select(_change)
            .where(_change.c.notified_at.is_(None), due, free)
            .order_by(_change.c.id)
            .limit(limit)
        )
        until = now + lease
        pending = _change.c.notified_at.is_(None)
        with self._tx("claim alerts", write=True) as conn:
            rows = self._claim(
                conn, query, _change, [free, pending], notify_owner=owner, notify_until=until
            )
        return [
            AlertClaim(_change_of(row), row.notify_attempts, tuple(row.notify_done), until)
            for row in rows
        ]

    def alert_sent(self, change_id: int, *, owner: str, now: datetime, done: Sequence[str]) -> bool:
        """Mark a claimed change alerted; False when `owner` no longer held its claim."""
        values = {"notified_at": now, "notify_done": list(done), "notify_error": ""}
        return self._release_alert(change_id, owner, values)

    def alert_failed(
        self,
        change_id: int,
        *,
        owner: str,
        error: str,
        retry_at: datetime,
        done: Sequence[str],
    ) -> bool:
        """Count a failed try of a claimed change, keep the channels that accepted it, and
        release it until `retry_at`; False when `owner` no longer held its claim."""
        values = {
            "notify_attempts": _change.c.notify_attempts + 1,
            "notify_after": retry_at,
            "notify_error": error,
            "notify_done": list(done),
        }
        return self._release_alert(change_id, owner, values)

    def _release_alert(self, change_id: int, owner: str, values: dict[str, Any]) -> bool:
        statement = (
            update(_change)
            .where(_change.c.id == change_id, _change.c.notify_owner == owner)
            .where(_change.c.notified_at.is_(None))
            .values(notify_owner=None, notify_until=None, **values)
        )
        with self._tx("record an alert", write=True) as conn:
            return conn.execute(statement).rowcount == 1

    def pending_alerts(self) -> int:
        """How many recorded changes still wait for their alert."""
        query = select(func.count()).where(_change.c.notified_at.is_(None))
        with self._tx("count pending alerts") as conn:
            return int(conn.execute(query).scalar_one())

    # ------------------------------------------------------------ digest

    def claim_digest(
        self,
        day: date,
        *,
        owner: str,
        now: datetime,
        stale: timedelta = DIGEST_CLAIM_TIMEOUT,
    ) -> bool:
        """True for the one caller that may send the digest of `day`.

        That is the first claimant, or a later one when the previous claim was released by
        `mark_digest_failed` or is unsent and older than `stale`. A sent digest is never
        claimed again.
        """
        claim = {"claimed_at": now, "claimed_by": owner}
        with self._tx("claim digest", write=True) as conn:
            first = conn.execute(
                self._insert(_digest)
                .values(day=day, attempts=1, last_error="", **claim)
                .on_conflict_do_nothing(index_elements=["day"])
                .returning(_digest.c.day)
            ).first()
            if first is not None:
                return True
            retaken = conn.execute(
                update(_digest)
                .where(_digest.c.day == day, _digest.c.sent_at.is_(None))
                .where(or_(_digest.c.claimed_at.is_(None), _digest.c.claimed_at <= now - stale))
                .values(attempts=_digest.c.attempts + 1, **claim)
            )
            return retaken.rowcount == 1

    def mark_digest_sent(self, day: date, now: datetime) -> None:
        with self._tx("mark digest sent", write=True) as conn:
            conn.execute(
                update(_digest).where(_digest.c.day == day).values(sent_at=now, last_error="")
            )

    def mark_digest_failed(self, day: date, error: str, now: datetime) -> None:
        """Record the error and release the claim so that a later attempt may retry."""
        with self._tx("mark digest failed", write=True) as conn:
            conn.execute(
                update(_digest)
                .where(_digest.c.day == day)
                .values(last_error=error, failed_at=now, claimed_at=None, claimed_by=None)
            )

    def last_digest(self) -> tuple[date, datetime] | None:
        """(day, sent at) of the latest digest sent."""
        query = (
            select(_digest.c.day, _digest.c.sent_at)
            .where(_digest.c.sent_at.is_not(None))
            .order_by(_digest.c.day.desc())
            .limit(1)
        )
        with self._tx("read digests") as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.day, row.sent_at)

    def digest_state(self, day: date) -> DigestState | None:
        with self._tx("read digests") as conn:
            row = conn.execute(select(_digest).where(_digest.c.day == day)).first()
        if row is None:
            return None
        return DigestState(
            row.day, row.claimed_at, row.claimed_by, row.sent_at, row.attempts, row.last_error
        )

    # ------------------------------------------------------------ cycles

    def record_cycle(self, cycle: Cycle) -> int:
        values = {k: v for k, v in cycle.__dict__.items() if k != "id"}
        with self._tx("record cycle", write=True) as conn:
            return int(
                conn.execute(_cycle.insert().values(**values).returning(_cycle.c.id)).scalar_one()
            )

    def last_cycle(self) -> Cycle | None:
        with self._tx("read cycles") as conn:
            row = conn.execute(select(_cycle).order_by(_cycle.c.id.desc()).limit(1)).first()
        return None if row is None else Cycle(**row._asdict())

    def last_successful_cycle(self) -> datetime | None:
        """When the latest cycle that went well finished."""
        query = select(func.max(_cycle.c.finished_at)).where(_cycle.c.ok)
        with self._tx("read cycles") as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    # ------------------------------------------------------------ metrics

    def cycle_totals(self, buckets: Sequence[float] = ()) -> CycleTotals:
        """Sums over every recorded cycle, and how many lasted at most each of `buckets` s."""
        duration: Any
        if self.dialect == "postgresql":
            duration = func.date_part("epoch", _cycle.c.finished_at - _cycle.c.started_at)
        else:
            days = func.julianday(_cycle.c.finished_at) - func.julianday(_cycle.c.started_at)
            duration = days * 86400.0
        sums = [func.coalesce(func.sum(_cycle.c[name]), 0) for name in _CYCLE_COUNTS]
        within = [func.count().filter(duration <= bound) for bound in buckets]
        query = select(func.count(), *sums, func.coalesce(func.sum(duration), 0.0), *within)
        with self._tx("read cycle totals") as conn:
            row = tuple(conn.execute(query).one())
        counts = dict(zip(_CYCLE_COUNTS, map(int, row[1 : 1 + len(sums)]), strict=True))
        return CycleTotals(
            cycles=int(row[0]),
            seconds=float(row[1 + len(sums)]),
            within=tuple(int(n) for n in row[2 + len(sums) :]),
            **counts,
        )

    def change_counts(self) -> dict[str, int]:
        """indicator id -> how many status changes were recorded (replays included)."""
        query = select(_change.c.indicator_id, func.count()).group_by(_change.c.indicator_id)
        with self._tx("count status changes") as conn:
            return {indicator_id: int(n) for indicator_id, n in conn.execute(query)}


_CYCLE_COUNTS = ("feeds_checked", "not_modified", "failed", "new_entries", "matches", "changes")


@dataclass(frozen=True)
class CycleTotals:
    """Sums over every recorded cycle, for /metrics."""

    cycles: int = 0
    feeds_checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: int = 0
    seconds: float = 0.0  # their total duration
    within: tuple[int, ...] = ()  # how many lasted at most each asked bound


# ---------------------------------------------------------------- row <-> domain


def _fresh(now: datetime) -> dict[str, Any]:
    """Feed state of a feed never fetched (or whose URL changed): due at once."""
    return {
        "moved_to": None,
        "etag": None,
        "last_modified": None,
        "body_hash": None,
        "http_status": None,
        "failing_since": None,
        "error_count": 0,
        "last_error": "",
        "dead": False,
        "next_check_at": now,
    }


def _fetch_values(r: FetchRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_checked_at": r.now,
        "http_status": r.http_status,
        "dead": r.dead,
        "next_check_at": r.next_check_at,
        "error_count": r.error_count,
        "lease_owner": None,
        "lease_until": None,
    }
    kept = {"etag": r.etag, "last_modified": r.last_modified, "body_hash": r.body_hash}
    kept["moved_to"] = r.moved_to
    values |= {name: value or None for name, value in kept.items() if value is not None}
    if r.title is not None:
        values["title"] = r.title
    if r.ok:
        values |= {"last_success_at": r.now, "failing_since": None, "last_error": ""}
    else:
        values |= {"failing_since_once": r.now, "last_error": r.error}
    return values


def _update_feeds(
    conn: Connection, names: tuple[str, ...], rows: list[tuple[str, dict[str, Any]]]
) -> int:
    """Write `names` (`_fetch_values`) of each (feed id, values); returns the rows updated."""
    statement = update(_feed).where(_feed.c.id == bindparam("v_feed_id"))
    params = [
        {"v_feed_id": feed_id} | {f"v_{name}": v for name, v in values.items()}
        for feed_id, values in rows
    ]
    return conn.execute(statement.values(dict(map(_fetch_set, names))), params).rowcount


def _sqlite_update_feeds(
    conn: Connection, names: tuple[str, ...], rows: list[tuple[str, dict[str, Any]]]
) -> int:
    """`_update_feeds` by a plain executemany, which runs in C (SQLAlchemy binds row by row in
    Python), with datetimes written as UTCDateTime writes them."""
    sets = ", ".join(
        "failing_since = coalesce(failing_since, ?)"
        if name == "failing_since_once"
        else f'"{name}" = ?'
        for name in names
    )
    params = [
        (*(_sqlite_utc(v) if isinstance(v, datetime) else v for v in values.values()), feed_id)
        for feed_id, values in rows
    ]
    return conn.exec_driver_sql(f"UPDATE feed SET {sets} WHERE id = ?", params).rowcount


def _fetch_set(name: str) -> tuple[str, Any]:
    """(column, SET value) of one `_fetch_values` name; failing_since is set only once."""
    if name == "failing_since_once":
        param = bindparam(f"v_{name}", type_=UTCDateTime())
        return "failing_since", func.coalesce(_feed.c.failing_since, param)
    return name, bindparam(f"v_{name}")


def _names(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


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
    )


def _feed_state(row: Any) -> FeedState:
    return FeedState(
        id=row.id,
        url=row.url,
        moved_to=row.moved_to,
        title=row.title,
        tags=tuple(row.tags),
        interval=timedelta(seconds=row.interval_seconds),
        last_checked_at=row.last_checked_at,
        last_success_at=row.last_success_at,
        http_status=row.http_status,
        not_modified=row.http_status == 304,
        error_count=row.error_count,
        last_error=row.last_error,
        next_check_at=row.next_check_at,
        dead=row.dead,
        failing_since=row.failing_since,
        active=row.active,
    )


def _match_rows(
    items: Sequence[tuple[int, Match]], definition_hashes: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Insert values of matches, one per (entry, indicator, outcome)."""
    rows = {
        (entry_id, m.indicator_id, m.outcome_id): {
            "entry_id": entry_id,
            "indicator_id": m.indicator_id,
            "outcome_id": m.outcome_id,
            "terms": list(m.terms),
            "snippet": m.snippet,
            "definition_hash": definition_hashes.get(m.indicator_id, ""),
        }
        for entry_id, m in items
    }
    return list(rows.values())


def _entry_values(key: str, entry: Entry, now: datetime) -> dict[str, Any]:
    fresh = entry.published is not None and _aware(entry.published) <= _aware(now)
    return {
        "key": key,
        "feed_id": entry.feed_id,
        "guid": entry.guid,
        "link": entry.link,
        "title": entry.title,
        "text": entry.text,
        "published": entry.published,
        "first_seen": now,
        "time": entry.published if fresh else now,
        "publisher": entry.publisher,
    }


def _entry_of(row: Any) -> Entry:
    return Entry(
        feed_id=row.feed_id,
        guid=row.guid,
        link=row.link,
        title=row.title,
        text=row.text,
        published=row.published,
        publisher=row.publisher,
    )


def _first_reading(change: StatusChange, version_before: int) -> bool:
    """Whether a change only ends the initial unknown of an indicator because its feeds were
    read and nothing matched."""
    return version_before == 0 and change.old_status == INITIAL and change.new_status == QUIET


def _change_values(change: StatusChange) -> dict[str, Any]:
    return {
        "indicator_id": change.indicator_id,
        "at": change.at,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "evidence": [_evidence_json(e) for e in change.evidence],
        "definition_hash": change.definition_hash,
        "replayed": change.replayed,
        "reason": change.reason or None,
        "notify_attempts": 0,
        "notify_error": "",
        "notify_done": [],
    }


def _evidence_json(e: Evidence) -> dict[str, Any]:
    return {
        "entry_id": e.entry_id,
        "outcome": e.outcome_id,
        "title": e.title,
        "link": e.link,
        "publisher": e.publisher,
        "time": e.time.astimezone(UTC).isoformat(),
        "terms": list(e.terms),
        "snippet": e.snippet,
        **({"judged": e.judged} if e.judged else {}),
    }


def _change_of(row: Any) -> StatusChange:
    evidence = tuple(
        Evidence(
            entry_id=item["entry_id"],
            indicator_id=row.indicator_id,
            outcome_id=item["outcome"],
            title=item["title"],
            link=item["link"],
            publisher=item["publisher"],
            time=datetime.fromisoformat(item["time"]),
            terms=tuple(item["terms"]),
            snippet=item["snippet"],
            judged=item.get("judged", ""),
        )
        for item in row.evidence
    )
    return StatusChange(
        indicator_id=row.indicator_id,
        at=row.at,
        old_status=row.old_status,
        new_status=row.new_status,
        evidence=evidence,
        definition_hash=row.definition_hash,
        replayed=row.replayed,
        id=row.id,
        reason=row.reason or "",
    )


# ---------------------------------------------------------------- evidence


def _read_evidence(
    conn: Connection,
    indicator_ids: Sequence[str] | None,
    since: datetime,
    definition_hashes: Mapping[str, str] | None,
) -> dict[str, list[Evidence]]:
    query = (
        select(_match, _entry.c.title, _entry.c.link, _entry.c.publisher, _entry.c.time)
        .join(_entry, _entry.c.id == _match.c.entry_id)
        .where(_entry.c.time >= since)
        .order_by(_entry.c.time.desc(), _entry.c.id.desc())
    )
    if indicator_ids is not None:
        query = query.where(_match.c.indicator_id.in_(list(indicator_ids)))
    standing = {
        (row.entry_id, row.indicator_id, row.outcome_id): row
        for row in conn.execute(_standing_verdicts(indicator_ids, since))
    }
    found: dict[str, list[Evidence]] = {i: [] for i in indicator_ids or ()}
    matched = set()
    for row in conn.execute(query):
        if definition_hashes is not None and (
            definition_hashes.get(row.indicator_id) != row.definition_hash
        ):
            continue
        key = (row.entry_id, row.indicator_id, row.outcome_id)
        verdict = standing.get(key)
        if verdict is not None and verdict.verdict == Judgement.NO:
            continue  # an analyst said it is not evidence
        matched.add(key)
        found.setdefault(row.indicator_id, []).append(
            Evidence(
                entry_id=row.entry_id,
                indicator_id=row.indicator_id,
                outcome_id=row.outcome_id,
                title=row.title,
                link=row.link,
                publisher=row.publisher,
                time=row.time,
                terms=tuple(row.terms),
                snippet=row.snippet,
                judged="yes" if verdict is not None else "",
            )
        )
    added = [v for k, v in standing.items() if v.verdict == Judgement.YES and k not in matched]
    for row in added:  # entries the rules missed and an analyst confirmed
        found.setdefault(row.indicator_id, []).append(_confirmed(row))
    for indicator_id in {row.indicator_id for row in added}:
        found[indicator_id].sort(key=lambda e: (e.time, e.entry_id), reverse=True)
    return found


def _latest_verdicts() -> Any:
    """Ids of the standing verdicts: the latest per (entry, indicator, outcome)."""
    return select(func.max(_verdict.c.id)).group_by(
        _verdict.c.entry_id, _verdict.c.indicator_id, _verdict.c.outcome_id
    )


def _standing_verdicts(indicator_ids: Sequence[str] | None, since: datetime) -> Any:
    """Standing verdicts on entries with time >= since, with what evidence shows of them."""
    latest = _latest_verdicts()
    if indicator_ids is not None:
        latest = latest.where(_verdict.c.indicator_id.in_(list(indicator_ids)))
    columns = (_entry.c.title, _entry.c.link, _entry.c.publisher, _entry.c.time, _entry.c.text)
    return (
        select(_verdict, *columns)
        .join(_entry, _entry.c.id == _verdict.c.entry_id)
        .where(_verdict.c.id.in_(latest.scalar_subquery()), _entry.c.time >= since)
    )


SNIPPET_CHARS = 240  # of an analyst-confirmed entry's text, shown as its snippet


def _confirmed(row: Any) -> Evidence:
    """Evidence of an entry no rule matched, by an analyst's `yes`: no terms fired."""
    text = " ".join(row.text.split())
    snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
    return Evidence(
        entry_id=row.entry_id,
        indicator_id=row.indicator_id,
        outcome_id=row.outcome_id,
        title=row.title,
        link=row.link,
        publisher=row.publisher,
        time=row.time,
        terms=(),
        snippet=snippet,
        judged="yes",
    )


def _verdict_of(row: Any) -> Verdict:
    return Verdict(
        entry_id=row.entry_id,
        indicator_id=row.indicator_id,
        outcome_id=row.outcome_id,
        verdict=Judgement(row.verdict),
        who=row.who,
        at=row.at,
        note=row.note,
        id=row.id,
    )


def _stored_entry(row: Any) -> StoredEntry:
    return StoredEntry(row.id, _entry_of(row), row.time)


# The entry's columns read with a verdict (its id is the verdict's entry_id).
_JUDGED_ENTRY = [
    _entry.c[name]
    for name in ("feed_id", "guid", "link", "title", "text", "published", "publisher", "time")
]


def _judged_entry(row: Any) -> StoredEntry:
    return StoredEntry(row.entry_id, _entry_of(row), row.time)


@dataclass(frozen=True)
class _KeptEvidence:
    """An evidence read (`Store.evidence`): what it asked, and the match version it saw."""

    ids: tuple[str, ...] | None
    since: datetime
    version: tuple[int, ...]
    found: dict[str, list[Evidence]]  # newest first; never handed out, only copies of it

    def answers(
        self, ids: tuple[str, ...] | None, since: datetime, version: tuple[int, ...]
    ) -> bool:
        """Whether this read answers a read of `ids` from `since` on, the matches being at
        `version` now."""
        return self.ids == ids and self.since <= since and version == self.version

    def within(self, since: datetime) -> dict[str, list[Evidence]]:
        """New lists of the items with time >= since (`since` is not before `self.since`, so
        they are all here; the older ones are at the end of each list)."""
        cut = {}
        for indicator_id, items in self.found.items():
            end = len(items)
            while end and items[end - 1].time < since:
                end -= 1
            cut[indicator_id] = items[:end]
        return cut


def _interned(
    found: dict[str, list[Evidence]], kept: _KeptEvidence | None
) -> dict[str, list[Evidence]]:
    """`found` with every item equal to one of the `kept` read replaced by that very object, so
    evidence that did not change keeps its identity across reads (evaluate's story memo is
    keyed by it)."""
    if kept is None:
        return found
    known = {(e.entry_id, e.indicator_id, e.outcome_id): e for v in kept.found.values() for e in v}
    interned = {}
    for indicator_id, items in found.items():
        same = []
        for item in items:
            old = known.get((item.entry_id, item.indicator_id, item.outcome_id))
            same.append(old if old == item else item)
        interned[indicator_id] = same
    return interned
