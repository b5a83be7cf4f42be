"""A database's first start, as an operator meets it through the real commands.

- SQLite: the first command that writes makes a new file at the code's schema (the quick start
  is one command) and says so in the log, naming the file: a mistyped path shows at once.
- PostgreSQL: an empty database is refused by every command but `monitor db upgrade`, in one
  line naming the database and its server: a mistyped database name in MONITOR_DATABASE_URL must
  not start a fresh, empty monitor (a second daemon beside the others, writing elsewhere).
  `monitor db upgrade` makes the schema there and says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from monitor import migrate
from monitor.errors import StoreError
from monitor.store import open_store, upgrade
from tests.databases import PostgresServer, _server, created_database
from tests.feedserver import FeedServer
from tests.test_cli_ops import run, shipped, three_feeds

SILENCE = ["silence", "visa-easing", "--for", "1h", "--reason", "state visit"]


@pytest.fixture
def empty_postgres(_postgres_server: PostgresServer | str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, without any table: one just created."""
    with created_database(_server(_postgres_server)) as url:
        yield url


def tables(url: str) -> list[str]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return sorted(name for (name,) in found)


def refusal(url: str) -> str:
    where = make_url(url)
    return (
        f"Error: store: the PostgreSQL database {where.database} on {where.host}:{where.port} "
        "is empty (it has no tables): if it is the one meant for monitor, run `monitor db "
        "upgrade` to create monitor's schema in it; if not, check the database name in "
        "MONITOR_DATABASE_URL"
    )


@pytest.mark.postgres
@pytest.mark.parametrize("args", [SILENCE, ["status"]], ids=["writer", "reader"])
def test_a_command_on_an_empty_postgresql_database_is_refused_naming_it(
    empty_postgres: str, tmp_path: Path, args: list[str]
) -> None:
    env = shipped(tmp_path) | {"MONITOR_DATABASE_URL": empty_postgres}

    result = run(args, tmp_path, env)

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [refusal(empty_postgres)]
    assert result.stdout == ""
    assert tables(empty_postgres) == []  # nothing was made in it


@pytest.mark.postgres
def test_open_store_refuses_an_empty_postgresql_database_until_it_is_upgraded(
    empty_postgres: str,
) -> None:
    with pytest.raises(StoreError, match=r"is empty \(it has no tables\): .*`monitor db upgrade`"):
        open_store(empty_postgres)
    assert tables(empty_postgres) == []
    upgrade(empty_postgres)
    with open_store(empty_postgres) as store:
        assert store.feeds() == []


@pytest.mark.postgres
def test_db_upgrade_makes_the_schema_in_an_empty_postgresql_database_and_says_so(
    empty_postgres: str, tmp_path: Path
) -> None:
    env = shipped(tmp_path) | {"MONITOR_DATABASE_URL": empty_postgres}
    where = make_url(empty_postgres)

    made = run(["db", "upgrade"], tmp_path, env)

    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        f"db: created monitor's schema (revision {migrate.head()}) in the empty database "
        f"{where.database} on {where.host}:{where.port}"
    ]
    assert "alembic_version" in tables(empty_postgres)
    silenced = run(SILENCE, tmp_path, env)
    assert silenced.returncode == 0, silenced.stderr
    again = run(["db", "upgrade"], tmp_path, env)
    assert again.stdout.splitlines() == [f"db: already at revision {migrate.head()}"]


@pytest.mark.postgres
def test_db_upgrade_of_a_database_that_cannot_be_reached_names_it_as_other_store_errors(
    _postgres_server: PostgresServer | str, tmp_path: Path
) -> None:
    """`db upgrade` names the database and its server as `status` does when it cannot reach
    it, not by its URL."""
    url = make_url(_server(_postgres_server).url("monitor_no_such_database"))
    with_password = url.set(password="s3cret-word").render_as_string(hide_password=False)
    env = shipped(tmp_path) | {"MONITOR_DATABASE_URL": with_password}
    place = f"monitor_no_such_database on {url.host}:{url.port}"

    upgraded = run(["db", "upgrade"], tmp_path, env)
    read = run(["status"], tmp_path, env)

    assert upgraded.returncode == read.returncode == 1, upgraded.stderr
    assert upgraded.stderr.startswith(f"Error: store: unable to upgrade {place}: OperationalError")
    assert read.stderr.startswith(f"Error: store: unable to open {place}: OperationalError")
    assert upgraded.stderr.count("\n") == 1 and "s3cret" not in upgraded.stderr


def test_the_first_command_on_a_new_sqlite_file_makes_it_and_says_so(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`monitor check` (as `monitor run`): the commands that only act on what is stored (a
    silence, a verdict, the digest's sending, serve) refuse a database that does not exist."""
    env = three_feeds(tmp_path, feed_server)
    path = tmp_path / "data" / "monitor.db"
    made = f"INFO monitor.store: created a new SQLite database, {path} (schema revision "

    first = run(["check"], tmp_path, env)
    second = run(SILENCE, tmp_path, env)

    assert first.returncode == 0, first.stderr
    assert [line for line in first.stderr.splitlines() if made in line] != []
    assert path.is_file()
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stderr


def test_db_upgrade_on_a_new_sqlite_file_says_it_made_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "monitor.db"

    made = run(["db", "upgrade"], tmp_path, shipped(tmp_path))

    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        f"db: created monitor's schema (revision {migrate.head()}) in a new SQLite database, {path}"
    ]


@pytest.mark.parametrize("args", [["check"], ["db", "upgrade"]], ids=" ".join)
def test_a_first_start_beside_a_deleted_databases_log_refuses_and_deletes_nothing(
    tmp_path: Path, feed_server: FeedServer, args: list[str]
) -> None:
    """A SQLite file deleted under a process holding it (a daemon, which then stops) leaves
    its write-ahead log, with the writes not yet copied into the file, and the log's index. A
    command that would make the database there refuses: SQLite, making a new file, deletes
    them, and those writes with them."""
    env = three_feeds(tmp_path, feed_server)
    path = tmp_path / "data" / "monitor.db"
    assert run(["check"], tmp_path, env).returncode == 0  # made and written
    held = sqlite3.connect(path)  # a daemon's connection: it holds the log open
    assert held.execute("SELECT count(*) FROM cycle").fetchone() == (1,)
    second = run(["check"], tmp_path, env)  # its writes stay in the log while `held` is open
    assert second.returncode == 0, second.stderr
    path.unlink()
    held.close()  # the last connection: SQLite keeps the log of a file deleted
    wal = path.with_name("monitor.db-wal")
    log = wal.read_bytes()
    assert len(log) > 32  # the log's header, and frames: the second check's writes
    left = sorted(p.name for p in path.parent.iterdir())
    assert left == ["monitor.db-shm", "monitor.db-wal"]

    refused = run(args, tmp_path, env)

    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.splitlines()[-1:] == [
        f"Error: store: no database at {path}, but monitor.db-wal and monitor.db-shm are still "
        "there: the database file was deleted or moved, and they may hold its latest writes. "
        "Put that very file back beside them (they are of that file alone); to restore an "
        "older backup instead, or to start afresh, move monitor.db-wal and monitor.db-shm away "
        "first (a new database there would delete them)"
    ]
    assert sorted(p.name for p in path.parent.iterdir()) == left  # nothing made, nothing gone
    assert wal.read_bytes() == log
