"""Database fixtures: every test that takes `database_url` runs on SQLite and on PostgreSQL.

    database_url        a database at the code's schema revision, empty of rows:
                        a SQLite file of its own, or a PostgreSQL database of its own
    empty_database_url  the same without any table (for migration tests)
    postgres_url        PostgreSQL only (concurrency tests)

Each SQLite test gets a copy of one file migrated once per session (running every revision
takes ~0.25 CPU-second, copying the file a few milliseconds). Each PostgreSQL test gets a
database of its own (uniquely named, copied from a template migrated
once per session). Creating one takes 50–500 ms, so when the test is over its tables are
truncated (~20 ms) and it is lent to the next test; the session drops them all at the end.
The server is MONITOR_TEST_POSTGRES (a libpq URL of a role that may create databases; default
postgres@127.0.0.1:5432, as in CI); where none is reachable the PostgreSQL cases skip with the
reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from monitor import migrate, store

ADMIN_URL = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "monitor_test_"

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class PostgresServer:
    """Creates, lends, cleans and drops the test databases.

    A database is lent to one test at a time; when the test is over its rows are truncated and
    it goes back to the pool, unless its schema is no longer the code's (then it is dropped).
    """

    def __init__(self, admin_url: str) -> None:
        self._conn = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
        self._info = self._conn.info
        self._template: str | None = None
        self._free: list[str] = []
        if self._info.host in ("127.0.0.1", "localhost", "::1") or self._info.host.startswith("/"):
            self._drop_orphans()

    def _drop_orphans(self) -> None:
        """Drop the databases of test runs that were killed before they could (pid gone)."""
        rows = self._conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            pid = name.removeprefix(PREFIX).split("_")[0]
            if pid.isdigit() and not _alive(int(pid)):
                self.drop(name)

    def url(self, name: str, driver: str = "+psycopg") -> str:
        info = self._info
        auth = info.user + (f":{info.password}" if info.password else "")
        return f"postgresql{driver}://{auth}@{info.host}:{info.port}/{name}"

    def create(self, template: str | None = None, *, name: str | None = None) -> str:
        """A new database (`name`: under that name again, one dropped before, say)."""
        name = name or f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        self._conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop(self, name: str) -> None:
        self._conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def borrow(self) -> str:
        """A database at the code's schema revision without rows."""
        if self._free:
            return self._free.pop()
        if self._template is None:
            self._template = self.create()
            store.upgrade(self.url(self._template))
        return self.create(template=self._template)

    def give_back(self, name: str) -> None:
        if self._clean(name):
            self._free.append(name)
        else:
            self.drop(name)

    def _clean(self, name: str) -> bool:
        """Truncate every table; False when the schema is not the code's any more."""
        tables = [table.name for table in store.metadata.sorted_tables]
        try:
            with psycopg.connect(self.url(name, ""), autocommit=True) as conn:
                conn.execute("SET lock_timeout = '3s'")
                found = conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' ORDER BY table_name"
                ).fetchall()
                if sorted(t for (t,) in found) != sorted([*tables, "alembic_version"]):
                    return False
                version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                if version is None or version[0] != migrate.head():
                    return False
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        except psycopg.Error:
            return False
        return True

    def close(self) -> None:
        for name in [*self._free, *([self._template] if self._template else [])]:
            self.drop(name)
        self._conn.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[PostgresServer | str]:
    """The server, or why there is none (the PostgreSQL cases skip with it)."""
    try:
        server = PostgresServer(ADMIN_URL)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        yield f"no PostgreSQL at {ADMIN_URL} ({reason}); set MONITOR_TEST_POSTGRES"
        return
    try:
        yield server
    finally:
        server.close()


def _server(found: PostgresServer | str) -> PostgresServer:
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture
def postgres_url(_postgres_server: PostgresServer | str) -> Iterator[str]:
    """A PostgreSQL database of this test's own at the code's schema revision, without rows."""
    server = _server(_postgres_server)
    name = server.borrow()
    try:
        yield server.url(name)
    finally:
        server.give_back(name)


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the code's schema revision without rows, made once per session for
    `database_url` to copy (its write-ahead log checkpointed into it when the engine closed)."""
    file = tmp_path_factory.mktemp("migrated") / "monitor.db"
    store.upgrade(f"sqlite:///{file}")
    return file


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the code's schema revision with no rows: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        file = tmp_path / "data" / "monitor.db"
        file.parent.mkdir(exist_ok=True)
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), file)
        return f"sqlite:///{file}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=KINDS)
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_server: PostgresServer | str
) -> Iterator[str]:
    """A database without any table: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with created_database(_server(_postgres_server)) as url:
        yield url


@contextlib.contextmanager
def created_database(server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database of its own, just created (without any table), dropped after."""
    name = server.create()
    try:
        yield server.url(name)
    finally:
        server.drop(name)
