"""The reads of `store.engine` whose connection to PostgreSQL is lost while they run (a restart
of the server, a failover; here `tests.pgproxy` closes the connection instead of passing the
answer to a statement on): the check of the schema's revision every command makes as it opens
the store, `monitor db current`'s, the schema comparison, and the reads `monitor db upgrade`
makes under its lock before it writes. Each is run again on a new connection after one WARNING,
up to 3 tries, as the store's other reads are, so the command answers as without the loss. They
failed with one line (`Error: store: unable to …`, exit 1). An upgrade whose connection is lost
once it migrates is not run again: its one transaction went with it, and the error says the
schema is as it was (lost at its COMMIT: that it may have been committed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine

from monitor import migrate
from monitor.store import metadata, open_store, schema_differences, schema_status, upgrade_database
from monitor.store.engine import Upgrade
from tests.pgproxy import LosesACommit
from tests.test_lost_commits_again import env_of, proxy
from tests.test_lost_reads import warnings
from tests.webdata import defs
from tests.webdata import run_cli as run

pytestmark = pytest.mark.postgres

__all__ = ["defs", "proxy"]  # fixtures

HEAD = migrate.head()
BEFORE = f"{int(HEAD) - 1:04d}"  # the revision before the code's
LOCK = b"pg_advisory_xact_lock"  # the upgrade's first statement: it waits for other upgrades
REVISION = b"FROM alembic_version"  # the schema's revision, read by every one of them
MIGRATING = b"ADD COLUMN unread_feeds"  # what 0034 runs
TRY_2 = "; reconnecting for try 2 of 3"


def _opened(url: str) -> str:
    with open_store(url) as store:
        return store.where


READS: dict[str, tuple[bytes, Callable[[str], object]]] = {
    "schema_status": (REVISION, schema_status),
    "schema_differences": (b"pg_catalog", schema_differences),
    "open_store": (REVISION, _opened),  # `check_schema`, as every command opens the store
    "upgrade_database": (LOCK, upgrade_database),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_schema_read_whose_connection_is_lost_is_run_again(
    proxy: LosesACommit, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """The read is lost as it runs: it is run again on a new connection and answers as it does
    without the loss, after one WARNING. It failed (`store: unable to …`)."""
    marker, read = READS[name]
    wanted = read(proxy.url)
    proxy.arm(marker, statement=True)
    with caplog.at_level(logging.WARNING):
        assert read(proxy.url) == wanted
    assert proxy.losses == 1
    said = warnings(caplog)
    assert len(said) == 1, said
    assert said[0].startswith("store: unable to ")
    assert said[0].endswith(TRY_2)


@pytest.fixture
def older(proxy: LosesACommit) -> Iterator[LosesACommit]:
    """The proxy's database, taken back to the revision before the code's (with its rows)."""
    engine = create_engine(proxy.url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, BEFORE)
    finally:
        engine.dispose()
    assert schema_status(proxy.url) == (BEFORE, HEAD)
    yield proxy


def _warned(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    return [line.split(" monitor.store: ")[1] for line in lines if " WARNING " in line]


@pytest.mark.parametrize(
    ("args", "marker"),
    [
        (("db", "current"), REVISION),
        (("db", "upgrade"), LOCK),
        (("db", "upgrade"), REVISION),
        (("status",), REVISION),
    ],
    ids=["db-current", "db-upgrade-lock", "db-upgrade-revision", "status-schema-check"],
)
def test_a_db_command_whose_read_is_lost_answers(
    proxy: LosesACommit, args: tuple[str, ...], marker: bytes
) -> None:
    """`monitor db current`, `monitor db upgrade` (at the code's revision already) and the check
    of the schema's revision `monitor status` makes as it opens the store lose their connection
    once: they answer as without the loss, after one WARNING, exit 0. They said `Error: store:
    unable to …` and exited 1."""
    env = env_of(proxy)
    wanted = run(env, *args)
    assert wanted.exit_code == 0, wanted.output
    proxy.arm(marker, statement=True)

    result = run(env, *args)

    assert proxy.losses == 1
    assert result.exit_code == 0, result.output
    assert result.stdout == wanted.stdout
    (warned,) = _warned(result.stderr)
    assert warned.startswith("store: unable to ") and warned.endswith(TRY_2)


@pytest.mark.parametrize("marker", [LOCK, REVISION])
def test_an_upgrade_whose_read_is_lost_before_it_migrates_upgrades(
    older: LosesACommit, marker: bytes
) -> None:
    """`monitor db upgrade` of a database at the revision before the code's loses its connection
    as it reads under its lock, before it writes: it starts again on a new connection and
    upgrades, exit 0. It failed, exit 1, the database left at the old revision."""
    older.arm(marker, statement=True)

    result = run(env_of(older), "db", "upgrade")

    assert older.losses == 1
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"db: upgraded from revision {BEFORE} to {HEAD}"
    assert len(_warned(result.stderr)) == 1
    assert schema_status(older.url) == (HEAD, HEAD)


def test_an_upgrade_lost_at_each_of_three_tries_gives_up_saying_so(older: LosesACommit) -> None:
    """Lost at each of 3 tries of its reads, the upgrade fails with one line that says so, after
    two WARNINGs; the database is as it was."""
    older.arm(LOCK, statement=True, times=3)

    result = run(env_of(older), "db", "upgrade")

    assert older.losses == 3
    assert result.exit_code == 1
    assert [w[-len(" 2 of 3") :] for w in _warned(result.stderr)] == [" 2 of 3", " 3 of 3"]
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: store: unable to upgrade ")
    assert last.endswith("(the connection was lost at each of 3 tries: giving up)")
    assert schema_status(older.url) == (BEFORE, HEAD)


def test_an_upgrade_lost_as_it_migrates_is_not_run_again_and_says_the_schema_is_as_it_was(
    older: LosesACommit,
) -> None:
    """Lost as it migrates, the upgrade's one transaction goes with its connection: it is not
    run again (its reads are), and its line says the schema is as it was, which it is."""
    older.arm(MIGRATING, statement=True)

    result = run(env_of(older), "db", "upgrade")

    assert older.losses == 1
    assert result.exit_code == 1
    assert _warned(result.stderr) == []
    assert result.stderr.splitlines()[-1].endswith(
        "(the connection was lost as it migrated, before its COMMIT: its one transaction was "
        "rolled back and the schema is as it was; run `monitor db upgrade` again)"
    )
    assert schema_status(older.url) == (BEFORE, HEAD)
    assert upgrade_database(older.url) == Upgrade(BEFORE, HEAD)  # as the line says


def test_an_upgrade_whose_commit_is_lost_says_it_may_have_been_committed(
    older: LosesACommit,
) -> None:
    """The answer to the upgrade's COMMIT is lost (it committed): the line says it may have
    been, and `monitor db current` says which."""
    older.arm(MIGRATING)

    result = run(env_of(older), "db", "upgrade")

    assert older.losses == 1
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].endswith(
        "(the connection was lost at its COMMIT: the upgrade may or may not have been "
        "committed; `monitor db current` says which, and `monitor db upgrade` again finishes it)"
    )
    assert schema_status(older.url) == (HEAD, HEAD)
