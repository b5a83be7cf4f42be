"""What every query module shares: the engine, one transaction per call with database errors as
`StoreError("store: …")`, INSERT … ON CONFLICT for the dialect, compare-and-set claims, and the
match version that kept evidence reads are checked against.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ParamSpec, Self, TypeVar

from sqlalchemy import ARRAY, Connection, Engine, String, Table, all_, bindparam, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from monitor.errors import StoreError

log = logging.getLogger("monitor.store")
P = ParamSpec("P")
R = TypeVar("R")


# The longest sleep of SQLite's busy handler between two tries at a lock (sqlite3.c: `delays`),
# and the pause that lets a process waiting for a lock have it (`give_way`).
SQLITE_RETRY = timedelta(milliseconds=100)
GIVE_WAY = 1.5 * SQLITE_RETRY
IDS_PER_IN = 5_000  # values per IN (...) list, well below SQLite's bound-parameter limit


def chunks(items: Iterable[Any], size: int = IDS_PER_IN) -> Iterator[list[Any]]:
    """`items` in lists of at most `size`, for one IN (...) list each."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


PARAMETERS_PER_INSERT = 800  # of one INSERT … VALUES (…), (…): below SQLite's oldest bound (999)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """INSERT `rows`, tuples of `columns`' values, through the driver, many rows a statement:
    for many small rows (a cold cycle's ~120,000 story keys) SQLAlchemy's building of a
    parameter dict per row costs more than the insert, and a statement per row a fifth more
    than one per 200 rows. Each statement's values are flattened into one tuple as the rows
    come, so a cold cycle holds about 600 tuples rather than 120,000 (each a garbage collector's
    count)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join([mark] * len(columns))})"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    per = max(1, PARAMETERS_PER_INSERT // len(columns))
    full: list[tuple[Any, ...]] = []
    rest: list[Any] = []  # the rows after the last full statement
    for chunk in chunks(rows, per):
        if len(chunk) < per:
            rest = chunk
        else:
            full.append(tuple(itertools.chain.from_iterable(chunk)))
    if full:
        conn.exec_driver_sql(head + ", ".join([one] * per), full)
    if rest:
        values = tuple(itertools.chain.from_iterable(rest))
        conn.exec_driver_sql(head + ", ".join([one] * len(rest)), values)


# Tries of one unit of work whose connection is lost under it: the first, and two more on a
# new connection each, a WARNING before each; the last loss fails it (`after_a_lost_connection`).
TRIES_WHEN_DISCONNECTED = 3


def once_more_if_disconnected(method: Callable[P, R]) -> Callable[P, R]:
    """Run `method` again when its connection was lost under it (PostgreSQL restarted, or
    its backend was ended, while a statement ran), up to TRIES_WHEN_DISCONNECTED tries: the
    pool's check before each use catches a connection lost between uses, not one lost during
    one. For the methods that are safe to run again: every read, and the writes whose claim or
    insert that conflicts does nothing twice."""

    @functools.wraps(method)
    def again(*args: P.args, **kwargs: P.kwargs) -> R:
        return after_a_lost_connection(
            lambda: method(*args, **kwargs), lambda: method(*args, **kwargs)
        )

    return again


def after_a_lost_connection(
    first: Callable[[], R], again: Callable[[], R], *, doing: str = "reconnecting for try"
) -> R:
    """`first()`, and `again()` on a new connection each time the connection of the try before
    was lost under it, up to TRIES_WHEN_DISCONNECTED tries in all, each after a WARNING
    (`…; reconnecting for try 2 of 3`; `doing` words its middle). A lost try may have committed
    (only the answer to its COMMIT lost): `again` is what recognises that try's work as its own
    where running it once more would not (`DigestsMixin.claim_digest`, `ChangesMixin.alert_sent`).
    The last try's loss is a StoreError that says so, not `disconnected` (no caller tries it
    yet again)."""
    attempt, tried = first, 1
    while True:
        try:
            return attempt()
        except StoreError as exc:
            if not exc.disconnected:
                raise
            if tried == TRIES_WHEN_DISCONNECTED:
                raise StoreError(
                    f"{exc} (the connection was lost at each of {tried} tries: giving up)"
                ) from exc
            tried += 1
            log.warning("%s; %s %d of %d", exc, doing, tried, TRIES_WHEN_DISCONNECTED)
            attempt = again


# What moves when stored matches change (see `Store.evidence_read`): a counter row every
# transaction that writes matches or verdicts moves as it commits (`_matches_written`). Reading
# it is one primary-key lookup, whatever the history. Upsert: a database whose rows were all
# deleted (the tests' truncated PostgreSQL databases) gets it back at its first write.
_MATCH_VERSION = "SELECT coalesce((SELECT value FROM counter WHERE name = 'matches'), 0)"
_MOVE_MATCH_VERSION = (
    "INSERT INTO counter (name, value) VALUES ('matches', 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counter.value + 1 RETURNING value"
)


class StoreBase:
    """The engine and the transaction helpers of `Store`; the per-job mixins build on it."""

    _rehearsing: Connection | None = None  # a dry run's one connection (`rehearsals.py`)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def shares_claims(self) -> bool:
        """Whether several daemons may claim this database's due feeds at once (PostgreSQL): a
        cycle then claims a few fetch windows of them at a time (`feedreads.SHARED_CLAIM`), so
        that daemons ticking together share them. SQLite serves one daemon, which claims them
        in large batches."""
        return self.dialect == "postgresql"

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(
        self, what: str, *, write: bool = False, snapshot: bool = False
    ) -> Iterator[Connection]:
        """One transaction. `snapshot`: every statement in it sees the same data (SQLite's
        transactions do; PostgreSQL's default, READ COMMITTED, does not). In a dry run a lost
        connection is `dry_run_lost`, not `disconnected`: the dry run's one transaction went
        with it, so no step of it can be run again on a new one (`Store.rehearsed` starts the
        whole dry run again)."""
        try:
            if self._rehearsing is not None:  # a savepoint in the dry run's transaction
                with self._rehearsing.begin_nested():
                    yield self._rehearsing
                return
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(monitor_write=True)
                with conn.begin():
                    if snapshot and self.dialect == "postgresql":  # for this transaction only
                        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    yield conn
        except SQLAlchemyError as exc:
            lost = connection_lost(exc)
            message = f"store: unable to {what}: {error_text(exc)}"
            if self._rehearsing is not None:
                raise StoreError(message, dry_run_lost=lost or _dead(self._rehearsing)) from exc
            raise StoreError(message, disconnected=lost) from exc

    def give_way(self) -> None:
        """Between two of a run of write transactions: let a process waiting for their lock
        have it, rather than the next of the run. SQLite queues no waiter: each tries again
        after a sleep (its busy handler's, at most SQLITE_RETRY). PostgreSQL wakes the waiter
        for a row lock when the holder commits, but the next transaction of the run, already
        running, takes the row first unless the waiter ran by then. So transactions back to
        back kept one waiting for several of them (3, on a loaded machine, on both); a pause
        longer than SQLite's sleep lets it in."""
        if self._rehearsing is None:
            time.sleep(GIVE_WAY.total_seconds())

    def _insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT support for the engine's dialect. Each dialect's module is
        imported here, when a write needs it: SQLAlchemy's PostgreSQL package loads the modules
        of its five drivers, which a SQLite store never uses."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table)
        raise StoreError(f"store: unsupported database {self.dialect!r}")

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

    def _not_in(self, column: Any, values: Collection[str]) -> Any:
        """`column` is none of `values`: on PostgreSQL one array parameter (`<> ALL`), not one
        parameter per value, so that a cycle's claims, which each skip every feed claimed before
        them (`due_feeds`), do not cost more and more to build, send and parse as it goes on."""
        if self.dialect == "postgresql":
            return column != all_(bindparam("not_in", list(values), type_=ARRAY(String)))
        return column.not_in(list(values))

    def _match_version(self, conn: Connection) -> tuple[int, ...]:
        """What moves when any process adds, rewrites or deletes a match or adds a verdict:
        the `matches` counter (read in the caller's transaction, so in its snapshot)."""
        return (int(conn.exec_driver_sql(_MATCH_VERSION).scalar_one()),)

    def _matches_written(self, conn: Connection) -> int:
        """Move the match version in a transaction that writes matches or verdicts, after its
        writes: it commits or rolls back with them. On PostgreSQL the counter's row lock is
        then held only from there to the commit; SQLite's writer holds the write lock anyway.
        Returns the version it moved to, which the rows written carry (`seq`): as the lock
        orders the writers, a row of a higher `seq` was committed after every lower one."""
        return int(conn.exec_driver_sql(_MOVE_MATCH_VERSION).scalar_one())


def _dead(conn: Connection) -> bool:
    """Whether `conn` was lost before (a dry run's, its loss caught and a step tried again
    on it: SQLAlchemy then refuses it, not as a loss)."""
    return conn.invalidated or conn.closed


def connection_lost(exc: SQLAlchemyError) -> bool:
    """Whether `exc` is the driver's word that the connection was lost under a statement."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def error_text(exc: SQLAlchemyError) -> str:
    """The driver's error on one line (libpq's word of a lost connection takes three)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return " ".join(f"{type(exc.orig).__name__}: {exc.orig}".split())
    return str(exc).splitlines()[0]
