"""A dry run's store (`Store.rehearsal`, for `monitor replay --dry-run`): the ordinary code
runs, writes and reads back what it wrote, and the database is left as it was, without holding,
for the run, any lock that the writes of a daemon sharing the database wait for.

- SQLite file: the run is an ordinary one on a copy of the database, made by SQLite's online
  backup in one step (in WAL mode that is a read: writers go on meanwhile) beside the file,
  and deleted when the run ends, however it ends; locked by its process while that lives, so
  that the copy of one killed outright is deleted by the next store that may write
  (`leftovers`). Refused up front when the disk has no room for the copy.
- PostgreSQL: one REPEATABLE READ transaction on one connection, whose first statements shadow
  every table but the entries' with a temporary copy (a session's temporary tables come first
  in its search path); then the transaction is made read-only, so a write or a row lock on a
  shared table fails at once instead of holding what a daemon waits for. Each of the store's
  transactions is a savepoint of it; it is rolled back at the end, the copies with it. It holds
  the ACCESS SHARE locks of a read, which only a schema change waits for.
- SQLite in memory (no other connection sees it): one transaction, each of the store's a
  savepoint of it, rolled back at the end.
"""

from __future__ import annotations

import copy
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.store import leftovers
from monitor.store.base import StoreBase, after_a_lost_connection, connection_lost, error_text
from monitor.store.engine import connect, sqlite_file
from monitor.store.schema import entry_table, forgotten_table, metadata

# Read by a replay, never written, and by far the largest: read where they are.
_SHARED = {entry_table.name, forgotten_table.name}
R = TypeVar("R")


class RehearsalsMixin(StoreBase):
    """`rehearsal`: this store as a dry run."""

    @contextmanager
    def rehearsal(self) -> Iterator[Self]:
        """This store as a dry run (see the module): what it writes is read back while it lasts
        and then leaves no trace, and a daemon sharing the database writes meanwhile."""
        file = sqlite_file(self._engine.url)
        if file is not None:
            with self._on_a_copy(file) as store:
                yield store
        else:
            with self._in_one_transaction() as store:
                yield store

    def rehearsed(self, work: Callable[[Self], R]) -> R:
        """`work(store)` on this store as a dry run (`rehearsal`). On PostgreSQL, when the dry
        run's one connection is lost (a restarted server, a failover), all it did went with its
        transaction, and so did its copies of the tables: it cannot go on, on this connection
        or another. It is safe to start again, recording nothing, so it is started again on a
        new connection, from the database as it is then, up to TRIES_WHEN_DISCONNECTED tries
        in all, each after a WARNING (`…; reconnecting to start the dry run again, try 2 of
        3`); lost at each, it fails with one error that says so."""

        def one_try() -> R:
            try:
                with self.rehearsal() as store:
                    return work(store)
            except StoreError as exc:
                if not exc.dry_run_lost:
                    raise
                raise StoreError(str(exc), disconnected=True) from exc

        return after_a_lost_connection(
            one_try, one_try, doing="reconnecting to start the dry run again, try"
        )

    @contextmanager
    def _on_a_copy(self, file: Path) -> Iterator[Self]:
        """A store on a copy of the SQLite database in `file`, deleted when it ends, however
        it ends (an error, Ctrl-C, SIGTERM)."""
        try:
            raw = self._engine.raw_connection()
        except SQLAlchemyError as exc:
            raise StoreError(f"store: unable to begin a dry run: {error_text(exc)}") from exc
        source = raw.driver_connection
        try:
            if not isinstance(source, sqlite3.Connection):  # pysqlite's, as `connect` makes it
                raise StoreError(f"store: a dry run cannot copy {self._engine.url!r}")
            copied, lock = _scratch_file(source, file)
        except BaseException:
            raw.close()
            raise
        try:
            try:
                _backup(source, copied)
            finally:
                raw.close()
            engine = connect(f"sqlite:///{copied}")
            try:
                yield type(self)(engine)
            finally:
                engine.dispose()
        finally:
            leftovers.delete(copied, lock)

    @contextmanager
    def _in_one_transaction(self) -> Iterator[Self]:
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"store: unable to begin a dry run: {error_text(exc)}") from exc
        with conn:
            try:
                conn.execution_options(monitor_write=True)  # SQLite: BEGIN IMMEDIATE
                outer = conn.begin()
                if self.dialect == "postgresql":
                    _shadow(conn)
            except SQLAlchemyError as exc:
                message = f"store: unable to begin a dry run: {error_text(exc)}"
                raise StoreError(message, dry_run_lost=connection_lost(exc)) from exc
            view = copy.copy(self)
            view._rehearsing = conn
            try:
                yield view
            finally:
                outer.rollback()


def _scratch_file(source: sqlite3.Connection, file: Path) -> tuple[Path, int]:
    """A new, empty file beside `file` for a copy of the database `source` is connected to,
    locked by this process while it lives (`leftovers.new_copy`: the copies of dry runs
    killed outright are deleted by the next command that writes); StoreError when the disk has
    no room for the copy."""
    try:
        pages = source.execute("PRAGMA page_count").fetchone()[0]
        _check_room(file.parent, pages * source.execute("PRAGMA page_size").fetchone()[0])
        return leftovers.new_copy(file)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"store: unable to copy the database for a dry run: {exc}") from exc


def _backup(source: sqlite3.Connection, copied: Path) -> None:
    """Copy the database `source` is connected to into `copied`, in one step of SQLite's
    backup: in one read transaction, which in WAL mode lets writers go on meanwhile."""
    try:
        target = sqlite3.connect(copied)
        try:
            source.backup(target)  # pages=-1: every page in one step
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"store: unable to copy the database for a dry run to {copied}: {exc}"
        ) from exc


ROOM = 1.1  # a dry run's copy, and what the replay writes into it: a tenth of it at most


def _check_room(folder: Path, size: int) -> None:
    need = int(size * ROOM)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise StoreError(
            f"store: a dry run works on a copy of the database ({_mb(size)}), in {folder}, and "
            f"needs {_mb(need)} free there; there are {_mb(free)}: make room, or run the "
            "replay without --dry-run"
        )


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def _shadow(conn: Connection) -> None:
    """On PostgreSQL, shadow every table but `_SHARED` with a temporary copy, as it is now
    (the transaction's snapshot), dropped with the transaction; then make the transaction
    read-only: the shared tables' rows are neither written nor locked."""
    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    quote = conn.dialect.identifier_preparer.quote
    for table in metadata.sorted_tables:
        if table.name not in _SHARED:
            _shadow_table(conn, table, f"{quote(schema)}.{quote(table.name)}", quote)
    conn.exec_driver_sql("SET LOCAL transaction_read_only = on")


def _shadow_table(conn: Connection, table: Table, shared: str, quote: Callable[[str], str]) -> None:
    name = f"pg_temp.{quote(table.name)}"
    columns = ", ".join(quote(c.name) for c in table.columns)
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} (LIKE {shared} INCLUDING ALL)")
    conn.exec_driver_sql(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {shared}")
    serial = table.autoincrement_column
    if serial is not None:  # its default draws from the shared table's sequence: its own
        sequence = f"pg_temp.{quote(f'{table.name}_{serial.name}_seq')}"
        column = quote(serial.name)
        conn.exec_driver_sql(f"CREATE TEMPORARY SEQUENCE {sequence} OWNED BY {name}.{column}")
        conn.exec_driver_sql(
            f"ALTER TABLE {name} ALTER COLUMN {column} SET DEFAULT nextval('{sequence}')"
        )
        conn.exec_driver_sql(
            f"SELECT setval('{sequence}', coalesce(max({column}), 0) + 1, false) FROM {name}"
        )
