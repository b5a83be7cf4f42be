"""Opening a database and its schema revisions: the engine (SQLite configured for one daemon:
WAL, busy timeout, BEGIN IMMEDIATE for writes), `upgrade`, `schema_status`, and why a database
at another revision is refused.

Each read here is run again on a new connection when its connection is lost under it, as the
store's others are (`once_more_if_disconnected`): the check every command makes as it opens the
store, `monitor db current`'s, and those `monitor db upgrade` makes before it writes.
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SAWarning, SQLAlchemyError

from monitor import migrate
from monitor.errors import StoreError
from monitor.fold import fold, narrow
from monitor.store import leftovers
from monitor.store.base import connection_lost, error_text, log, once_more_if_disconnected
from monitor.store.schema import metadata

BUSY_TIMEOUT_MS = 30_000


def connect(
    url: str, *, read_only: bool = False, checkpoints: bool = True, must_exist: bool = False
) -> Engine:
    """An engine for `url`. `read_only`: one that cannot write (SQLite `mode=ro`, PostgreSQL
    `default_transaction_read_only`), for a database that must exist already; `must_exist`:
    one that may write, but a SQLite file that does not exist is not made (nor its folder).
    A SQLite file that does not exist beside its `-wal`, `-shm` or `-journal` (deleted under a
    daemon) is refused, whatever the mode: SQLite, making a new file, deletes them, and the
    latest writes of the lost one with them.
    Without `checkpoints`, a commit on SQLite never copies the write-ahead log into the file
    (SQLite does that when the log passes 1,000 pages, in the commit that passes it): the
    owner calls `Store.checkpoint` off its path instead."""
    parsed = _parse(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        _refuse_ignored_arguments(parsed)
    file = sqlite_file(parsed)
    options: dict[str, Any] = {}
    if file and file.is_dir():  # "no database" would send its user to make one there
        raise StoreError(f"store: {file.resolve()} is a folder, not a database file")
    left = _left_beside(file) if file and not file.is_file() else []
    if left or (file and (read_only or must_exist) and not file.is_file()):
        raise StoreError(_missing(str(file), left=left))  # SQLite would delete `left`, making one
    if file and read_only:
        uri = "file:" + quote(str(file.resolve()))
        parsed = parsed.set(database=uri, query={**parsed.query, "mode": "ro", "uri": "true"})
    elif file:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            folder = file.parent
            raise StoreError(f"store: cannot create {folder}: {exc.strerror or exc}") from exc
    elif read_only and not is_sqlite:
        options["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    try:
        engine = create_engine(parsed, pool_pre_ping=not is_sqlite, **options)
    except SQLAlchemyError as exc:
        raise StoreError(f"store: unable to open {where(parsed)}: {error_text(exc)}") from exc
    except ImportError as exc:  # a dialect whose driver is not installed (`mysql://`)
        raise StoreError(
            f"store: unable to open {where(parsed)}: the driver of {parsed.drivername} is not "
            f"installed ({exc})"
        ) from exc
    except (ValueError, TypeError) as exc:  # a URL argument the driver cannot take
        raise StoreError(f"store: unable to open {where(parsed)}: bad URL argument: {exc}") from exc
    if is_sqlite:
        _configure_sqlite(engine, read_only=read_only, checkpoints=checkpoints)
    return engine


def _refuse_ignored_arguments(parsed: URL) -> None:
    """Refuse in one line a SQLite URL argument its driver would ignore (`?foo=bar`, or a SQLite
    URI argument without `uri=true`): SQLAlchemy warns on stderr and goes ahead without it, and
    a read-only engine's URI (`connect`) hands it to SQLite, which ignores it silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)
        try:
            parsed.get_dialect()().create_connect_args(parsed)
        except SAWarning as exc:
            why = str(exc).partition(" (Background on")[0].replace(" and are being ignored", "")
            raise StoreError(
                f"store: unable to open {where(parsed)}: bad URL argument: {why}"
            ) from exc
        except (ValueError, TypeError):
            return  # a value the driver cannot take: `create_engine` says which (`connect`)


@once_more_if_disconnected
def check_schema(engine: Engine, *, read_only: bool = False, must_exist: bool = False) -> bool:
    """Raise StoreError unless the database is at the code's schema revision; returns whether
    it made the schema (an empty SQLite database).

    An empty SQLite database is brought to it first (`upgrade`), so a fresh file needs no
    setup; `read_only` and `must_exist` migrate nothing and call an empty database missing. An
    empty PostgreSQL database is refused, naming it and its server: its schema is made by
    `monitor db upgrade` alone, so a mistyped database name is an error, not a new monitor. A
    database at another revision is refused: an older one names `monitor db upgrade`, which
    migrates it.
    """
    made_here = not (read_only or must_exist) and engine.dialect.name == "sqlite"
    created = False
    try:
        current, head = _schema_status(engine)
        if current is None and made_here:
            before, current, _ = _upgrade(engine, empty_only=True)
            created = before is None and current is not None
        empty = current is None and not _has_tables(engine)
    except SQLAlchemyError as exc:
        message = f"store: unable to open {where(engine.url)}: {error_text(exc)}"
        raise StoreError(message, disconnected=connection_lost(exc)) from exc
    if empty and engine.dialect.name != "sqlite":
        raise StoreError(_empty(engine.url))
    if empty:
        raise StoreError(_missing(engine.url.render_as_string(hide_password=True)))
    if current != head:
        raise StoreError(_schema_problem(current, head))
    return created


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise StoreError(f"store: bad database URL {_unsecret(url)!r}: {exc}") from exc


def _unsecret(url: str) -> str:
    """A URL that could not be parsed, its password (between the user's `:` and the last `@`)
    shown as `***`."""
    head, at, host = url.rpartition("@")
    scheme, slashes, userinfo = head.rpartition("://")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{slashes}{userinfo.split(':')[0]}:***@{host}"


def sqlite_file(parsed: URL) -> Path | None:
    """The file of a SQLite database in a file (not in memory, not a `file:` URI)."""
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database)


@dataclass(frozen=True)
class OpenedFile:
    """The SQLite file a store opened: its path and which file it was (device, inode). A file
    deleted under a running daemon stays open to it and takes its writes, which end with the
    process: `problem` says so, so the daemon stops instead (`Daemon.check`)."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, engine: Engine) -> OpenedFile | None:
        """The file of `engine` as it is now; None for a database not in a file, or no file."""
        file = sqlite_file(engine.url)
        if file is None:
            return None
        try:
            found = file.stat()
        except OSError:
            return None
        return cls(file.resolve(), found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """Why the path no longer names the file opened (deleted, its folder too, or another
        file put there), or None: one stat."""
        try:
            found = self.path.stat()
        except OSError:
            folder = self.path.parent
            gone = "deleted" if folder.is_dir() else f"deleted with its folder {folder}"
        else:
            if (found.st_dev, found.st_ino) == (self.device, self.inode):
                return None
            gone = "replaced by another file"
        return (
            f"store: the database file {self.path} was {gone} while monitor ran; what is "
            "written now would be lost with the process. Put the file back before starting "
            "monitor again: a start refuses while the -wal and -shm it leaves are there, and "
            "makes a new, empty database where nothing is left"
        )


def _missing(where: str, *, left: list[str] | None = None) -> str:
    """No database at `where`. The readers cannot know whether one was there (deleted under a
    daemon, a volume not mounted, a mistyped URL) or none ever was, so they do not send its
    user to `check` or `run` blindly, which start a new, empty one; with `left`, the files a
    SQLite database leaves beside it (`_left_beside`), one was there, and they say so; no
    command makes a database beside them (`connect`)."""
    if left:
        names = " and ".join(left)
        are, they, them = ("is", "it", "it") if len(left) == 1 else ("are", "they", "them")
        return (
            f"store: no database at {where}, but {names} {are} still there: the database file "
            f"was deleted or moved, and {they} may hold its latest writes. Put that very file "
            f"back beside {them} ({they} {are} of that file alone); to restore an older backup "
            f"instead, or to start afresh, move {names} away first (a new database there would "
            f"delete {them})"
        )
    return (
        f"store: no database at {where}; `monitor check` or `monitor run` starts a new, empty "
        "one there (if one was expected there, put it back from a backup first)"
    )


def _left_beside(file: Path) -> list[str]:
    """The names of the files SQLite keeps beside a database file (its write-ahead log and the
    log's index, a rollback journal) still there without it: a database file deleted under a
    daemon leaves its `-wal` and `-shm` when the daemon stops."""
    found = []
    for suffix in ("-wal", "-shm", "-journal"):
        companion = file.with_name(file.name + suffix)
        if companion.is_file():
            found.append(companion.name)
    return found


_DEFAULT_PORTS = {"postgresql": 5432}  # the backends monitor runs on that have a server


def where(url: URL) -> str:
    """A database as a person names it: a SQLite file's path, else the database and its
    server (`monitor on db.example.org:5432`), never a password. A server's port is the URL's,
    else its backend's default when monitor knows it (PostgreSQL's 5432), else left out."""
    file = sqlite_file(url)
    if file is not None:
        return str(file.resolve())
    database = url.database or ""
    if database.startswith("file:"):  # a read-only engine's (`connect`)
        return unquote(database.removeprefix("file:"))
    if url.get_backend_name() == "sqlite":
        return "an in-memory SQLite database"
    port = url.port or _DEFAULT_PORTS.get(url.get_backend_name())
    server = (f"{url.host}:{port}" if port else url.host) if url.host else "the local socket"
    return f"{url.database} on {server}"


def _empty(url: URL) -> str:
    return (
        f"store: the PostgreSQL database {where(url)} is empty (it has no tables): if it is "
        "the one meant for monitor, run `monitor db upgrade` to create monitor's schema in it; "
        "if not, check the database name in MONITOR_DATABASE_URL"
    )


def remove_left_copies(url: URL) -> None:
    """Delete the copies of a SQLite database that dry runs killed outright left beside it
    (`leftovers.remove_left`: never a running one's), each with a line in the log."""
    file = sqlite_file(url)
    for left in leftovers.remove_left(file) if file is not None else ():
        log.warning(
            "removed a dry run's copy of the database, left by a process that ended without "
            "deleting it (killed?): %s (%.1f MB)",
            left.path.resolve(),
            left.size / 1_000_000,
        )


def _has_tables(engine: Engine) -> bool:
    with engine.connect() as conn, conn.begin():
        return bool(inspect(conn).get_table_names())


# ---------------------------------------------------------------- schema revisions


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade_database` did."""

    before: str | None  # the database's revision, as found once the lock was held; None: none
    after: str  # its revision now
    created: str | None = None  # where the schema was made in an empty database (`where`)
    # (revision, what users see change) of each revision run over stored rows that says so
    # (`migrate.notices`), oldest first
    notices: tuple[tuple[str, str], ...] = ()


def upgrade(url: str) -> tuple[str | None, str]:
    """Migrate the database at `url` to the code's schema revision: `upgrade_database`'s
    (revision before, revision after)."""
    done = upgrade_database(url)
    return done.before, done.after


@once_more_if_disconnected
def upgrade_database(url: str) -> Upgrade:
    """Migrate the database at `url` to the code's schema revision (`monitor db upgrade`),
    making the whole schema in an empty one, in one transaction (`_upgrade`): run again on a
    new connection when the connection is lost before it writes.

    Safe to run twice and from several machines at once: on PostgreSQL the upgrade holds an
    advisory lock, on SQLite the write lock. A database made before migrations existed
    (tables, no revision) is taken to be at the first revision.
    """
    engine = connect(url)
    remove_left_copies(engine.url)
    try:
        head = migrate.head()
        before, after, start = _upgrade(engine)  # read under the lock: another upgrade's done
    finally:
        engine.dispose()
    after = after or head
    if before is None and start is None:  # it had no tables
        return Upgrade(before, after, created=_made_in(engine.url))
    return Upgrade(before, after, notices=tuple(migrate.notices(start or after, after)))


def _made_in(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"a new SQLite database, {where(url)}"
    return f"the empty database {where(url)}"


@once_more_if_disconnected
def schema_status(url: str) -> tuple[str | None, str]:
    """(the database's schema revision or None, the code's revision), read without writing:
    a SQLite file that does not exist is not created, it has no revision."""
    file = sqlite_file(_parse(url))
    if file and not file.is_file():
        return None, migrate.head()
    engine = connect(url, read_only=True)
    try:
        return _schema_status(engine)
    except SQLAlchemyError as exc:
        message = f"store: unable to read {where(engine.url)}: {error_text(exc)}"
        raise StoreError(message, disconnected=connection_lost(exc)) from exc
    finally:
        engine.dispose()


@once_more_if_disconnected
def schema_differences(url: str) -> list[Any]:
    """How the database at `url` differs from the models ([] when it matches them)."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return migrate.differences(conn, metadata)
    except SQLAlchemyError as exc:
        message = f"store: unable to compare {where(engine.url)}: {error_text(exc)}"
        raise StoreError(message, disconnected=connection_lost(exc)) from exc
    finally:
        engine.dispose()


def revision_problem(engine: Engine) -> str | None:
    """Why the database is not at the code's schema revision, or None when it is: for a daemon
    that was running when another version migrated it. StoreError when it cannot be read."""
    try:
        current, head = _schema_status(engine)
    except SQLAlchemyError as exc:
        message = f"store: unable to read the schema revision: {error_text(exc)}"
        raise StoreError(message, disconnected=connection_lost(exc)) from exc
    return None if current == head else _schema_problem(current, head)


def new_revision(url: str, message: str) -> None:
    """Autogenerate a revision from the models against the database at `url` (developers)."""
    engine = connect(url)
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


def _upgrade(
    engine: Engine, *, empty_only: bool = False
) -> tuple[str | None, str | None, str | None]:
    """Upgrade to head in one transaction that concurrent upgrades wait for; returns the
    revisions before (as found once the lock is held) and after, and the one the migrations
    ran from over stored rows (None: the database had no tables). With `empty_only`, a
    database that has tables is left as it is.

    A StoreError when it fails, `disconnected` when the connection was lost before it wrote
    (its caller runs it again); lost once it wrote, the error says what became of the schema:
    as it was when lost before its COMMIT (PostgreSQL rolls back the transaction of a client
    gone, and none of it counts before COMMIT), unknown when lost at its COMMIT."""
    wrote: list[str] = []  # "migrating", then "committing"
    try:
        return _upgrade_in_one_transaction(engine, empty_only, wrote)
    except SQLAlchemyError as exc:
        lost = connection_lost(exc)
        message = f"store: unable to upgrade {where(engine.url)}: {error_text(exc)}"
        if lost and wrote:
            message += UPGRADE_LOST[wrote[-1]]
        raise StoreError(message, disconnected=lost and not wrote) from exc


UPGRADE_LOST = {
    "migrating": (
        " (the connection was lost as it migrated, before its COMMIT: its one transaction was "
        "rolled back and the schema is as it was; run `monitor db upgrade` again)"
    ),
    "committing": (
        " (the connection was lost at its COMMIT: the upgrade may or may not have been "
        "committed; `monitor db current` says which, and `monitor db upgrade` again finishes it)"
    ),
}


def _upgrade_in_one_transaction(
    engine: Engine, empty_only: bool, wrote: list[str]
) -> tuple[str | None, str | None, str | None]:
    """`_upgrade`'s transaction; `wrote` says how far past its reads it went."""
    with engine.connect() as conn:
        conn.execution_options(monitor_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin() as transaction:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
            current = start = migrate.current(conn)
            if current is None and inspect(conn).get_table_names():
                if empty_only:
                    return None, None, None
                wrote.append("migrating")
                migrate.stamp(conn, metadata, _FIRST_REVISION)  # made by create_all before 0001
                start = _FIRST_REVISION
            elif empty_only and current is not None:
                return current, current, current
            elif current is not None and current not in migrate.revisions():
                raise StoreError(_schema_problem(current, migrate.head()))  # a newer monitor's
            if current != migrate.head():
                wrote[:] = ["migrating"]
            migrate.upgrade(conn, metadata)
            after = migrate.current(conn)
            if wrote:  # a COMMIT of nothing written lost: run again, as a read
                wrote.append("committing")
            transaction.commit()
            return current, after, start


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


def _configure_sqlite(engine: Engine, *, read_only: bool, checkpoints: bool = True) -> None:
    """WAL, busy timeout, foreign keys; transactions begun by us (IMMEDIATE for writes).
    A read-only connection leaves the journal mode as it is (switching it is a write)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.create_function("monitor_casefold", 1, _casefold, deterministic=True)
        dbapi_connection.create_function("monitor_fold", 1, _fold, deterministic=True)
        if not read_only:
            # A new file vacuums incrementally: deleted rows' pages can be given back at once
            # (`Store.compact`). Only a new one: setting it writes to an existing file, which
            # `Store.compact` converts when it vacuums it.
            if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
                cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
            _set_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            if not checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint = 0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("monitor_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _casefold(value: str | None) -> str | None:
    """SQLite's lower() folds ASCII only; entry search folds every script as Python does, with
    full-width Latin letters and digits as ASCII (ＳＡＭＳＵＮＧ is samsung, as for a rule)."""
    return None if value is None else narrow(value).casefold()


def _fold(value: str | None) -> str | None:
    """Case-folded with Traditional Chinese as Simplified, as the matcher reads a text: entry
    search with a Chinese query finds the entries in either script."""
    return None if value is None else fold(narrow(value).casefold())


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
