"""Copying a whole database into another (`monitor db copy`): SQLite to PostgreSQL, or any
backend to any, every row with its id.

The source is read in one transaction, a snapshot (SQLite: one read transaction of the
write-ahead log; PostgreSQL: REPEATABLE READ), so the copy is of one moment even while a daemon
writes to it. The target is brought to the code's schema revision first (`upgrade_database`,
as `monitor db upgrade`), then written in one transaction: an error or Ctrl-C half way leaves
it as it was, empty; a SQLite file the copy made (with the folders it made) is removed, so no
empty database is left looking like a copy. A target that holds rows already is refused before
anything is written to it (the `matches` counter a new schema starts at 0 is not a row of
anyone's). Rows go across a batch at a time, so memory stays bounded whatever the size; on
PostgreSQL the id sequences are moved past the ids copied, so the next row written gets a new
one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, delete, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from monitor.counts import plural
from monitor.errors import StoreError
from monitor.store.base import error_text
from monitor.store.engine import check_schema, connect, sqlite_file, upgrade_database, where
from monitor.store.leftovers import unlink_database
from monitor.store.schema import counter_table, metadata

BATCH = 5_000  # rows read and written at a time
_COPY_LOCK = 0x6D6F6E63  # "monc": pg_advisory_xact_lock key of a copy into a database

# Progress(table, rows copied so far, rows it has): after each batch, and once per empty table.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Copied:
    """What `copy_database` did: from where to where, and the rows of each table."""

    source: str  # `where`: never a password
    target: str
    rows: tuple[tuple[str, int], ...]  # (table, rows), in the order copied


def copy_database(
    source_url: str, target_url: str, *, progress: Progress | None = None, batch: int = BATCH
) -> Copied:
    """Copy every row of the database at `source_url` into the one at `target_url`, which is
    migrated to the code's schema first and must hold no rows. StoreError (one line) when the
    source is not at the code's revision, the target holds rows, or either fails."""
    source = _source(source_url)
    made = _made_by_copy(target_url)
    try:
        _refuse_held(target_url)
        upgrade_database(target_url)
        target = connect(target_url)
        try:
            return _copy(source, target, progress or (lambda *_: None), batch)
        finally:
            target.dispose()
    except BaseException:  # Ctrl-C too: the file made here is no database of anyone's
        _remove(made)
        raise
    finally:
        source.dispose()


def _made_by_copy(url: str) -> list[Path]:
    """The SQLite file at `url` and the folders above it that do not exist yet (the copy would
    make them), innermost first; none for a file there already or another backend."""
    try:
        file = sqlite_file(make_url(url))
    except (ArgumentError, ValueError):
        return []  # `connect` says why
    if file is None or file.exists():
        return []
    made = [file]
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        made.append(folder)
        folder = folder.parent
    return made


def _remove(made: list[Path]) -> None:
    """The file a failed copy made, its write-ahead log and shared memory, and the folders
    it made when they hold nothing else."""
    if not made:
        return
    file, *folders = made
    try:
        unlink_database(file)
    except OSError:  # none made: its "folder" is a file, say; the copy's own error is told
        return
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # something else was put there meanwhile
            return


def _source(url: str) -> Engine:
    engine = connect(url, read_only=True)
    try:
        check_schema(engine, read_only=True)
    except StoreError as exc:
        engine.dispose()
        why = str(exc).removeprefix("store: ")
        raise StoreError(f"store: cannot copy from {where(engine.url)}: {why}") from None
    return engine


def _refuse_held(url: str) -> None:
    """Before the target is migrated: one that holds rows is refused, not migrated."""
    engine = connect(url)
    try:
        with engine.connect() as conn, conn.begin():
            _check_empty(conn)
    except SQLAlchemyError as exc:
        raise StoreError(f"store: unable to read {where(engine.url)}: {_line(exc)}") from exc
    finally:
        engine.dispose()


def _check_empty(conn: Connection) -> None:
    held = _held(conn)
    if held:
        holds = ", ".join(f"{name} {n:,} {plural('row', n)}" for name, n in held)
        raise StoreError(
            f"store: the target {where(conn.engine.url)} holds data already ({holds}); "
            "copy into an empty database (nothing was written)"
        )


def _held(conn: Connection) -> list[tuple[str, int]]:
    """(table, rows) of monitor's tables present that hold rows of their own."""
    present = set(inspect(conn).get_table_names())
    held = []
    for table in metadata.sorted_tables:
        if table.name not in present:
            continue
        query = select(func.count()).select_from(table)
        if table is counter_table:  # a new schema's `matches` counter at 0 is no one's data
            query = query.where(counter_table.c.value != 0)
        rows = conn.execute(query).scalar_one()
        if rows:
            held.append((table.name, rows))
    return held


def _copy(source: Engine, target: Engine, progress: Progress, batch: int) -> Copied:
    try:
        with _snapshot(source) as reading, target.connect() as writing:
            writing.execution_options(monitor_write=True)  # SQLite: BEGIN IMMEDIATE
            with writing.begin():
                copied = _write(reading, writing, progress, batch)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"store: copying into {where(target.url)} failed, nothing was kept: {_line(exc)}"
        ) from exc
    return Copied(where(source.url), where(target.url), copied)


def _write(
    reading: Connection, writing: Connection, progress: Progress, batch: int
) -> tuple[tuple[str, int], ...]:
    """Every table's rows, in the target's one transaction; (table, rows) of each."""
    postgresql = writing.dialect.name == "postgresql"
    if postgresql:
        writing.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _COPY_LOCK})
    _check_empty(writing)  # under the lock: another copy may have begun meanwhile
    writing.execute(delete(counter_table))  # the new schema's, replaced by the source's
    copied = tuple(
        (table.name, _copy_table(reading, writing, table, progress, batch))
        for table in metadata.sorted_tables
    )
    if postgresql:
        _advance_sequences(writing)
    return copied


class _snapshot:
    """A connection reading the source in one transaction: one moment of it."""

    def __init__(self, engine: Engine) -> None:
        self._conn = engine.connect()
        if engine.dialect.name == "postgresql":
            self._conn = self._conn.execution_options(isolation_level="REPEATABLE READ")

    def __enter__(self) -> Connection:
        self._conn.begin()
        return self._conn

    def __exit__(self, *_: object) -> None:
        self._conn.rollback()
        self._conn.close()


def _copy_table(
    reading: Connection, writing: Connection, table: Table, progress: Progress, batch: int
) -> int:
    total = reading.execute(select(func.count()).select_from(table)).scalar_one()
    done = 0
    order = list(table.primary_key.columns)
    rows = reading.execute(select(table).order_by(*order).execution_options(yield_per=batch))
    for part in rows.partitions():
        writing.execute(insert(table), [dict(row._mapping) for row in part])
        done += len(part)
        progress(table.name, done, total)
    if not done:
        progress(table.name, 0, total)
    return done


def _advance_sequences(conn: Connection) -> None:
    """Each table's id sequence past the largest id copied (its next value is that plus 1)."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column is not table.autoincrement_column:
                continue
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE(MAX({column.name}), 0) + 1, false) FROM {table.name}"
                )
            )


def _line(exc: SQLAlchemyError) -> str:
    return " ".join(error_text(exc).split())
