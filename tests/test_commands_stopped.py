"""Every command stopped by Ctrl-C or SIGTERM ends with one line saying what it was doing and
what it did, exit 130 or 143 (`cli.common.Command.stopped`). `monitor db upgrade` and the short
commands (status, history, verdict list, silence --list, db current…) died on SIGTERM with
nothing said (exit -15) and said click's `Aborted!` on Ctrl-C (exit 1). `monitor db upgrade`
says whether the schema is as it was: it migrates in one transaction, rolled back when stopped
before it commits. Each is a real process, sent a real signal once PostgreSQL says it waits
(on a table the test locked, or on the upgrades' advisory lock the test holds).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
import psycopg
import pytest
from sqlalchemy import create_engine

from monitor import migrate
from monitor.cli import main
from monitor.cli.common import Command
from monitor.domain import Definitions
from monitor.store import metadata, open_store, schema_status, upgrade_database
from monitor.store.engine import _UPGRADE_LOCK
from tests.test_check_interrupted import SIGNALS
from tests.test_cli_ops import shipped
from tests.test_export_interrupted import locked, waiting
from tests.test_leases import wait_for
from tests.test_replay_held import monitor
from tests.webdata import VISA_HERALD, WEB, cli_entry_id, defs, populate

pytestmark = pytest.mark.postgres

__all__ = ["defs"]  # fixture

HEAD = migrate.head()
BEFORE = f"{int(HEAD) - 1:04d}"  # the revision before the code's
DAEMONS = {"run", "serve"}  # they take the signals themselves (`shutdown.Signals`)


def _commands(group: click.Group, path: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{path}{name} ")
        else:
            yield f"{path}{name}", cmd


def test_every_command_says_what_it_was_doing_when_stopped() -> None:
    """Each command but the daemon's has its line for Ctrl-C and SIGTERM; many had none."""
    found = dict(_commands(main))
    assert len(found) > 20
    assert all(isinstance(cmd, Command) for cmd in found.values())
    silent = sorted(name for name, cmd in found.items() if getattr(cmd, "stopped", None) is None)
    assert silent == sorted(DAEMONS)


READERS = [
    (["status"], "feed", "while reading the statuses; nothing written"),
    (
        ["history", "north-korea-stance"],
        "status_change",
        "while reading the status changes of north-korea-stance; nothing written",
    ),
    (["verdict", "list"], "verdict", "while reading the verdicts; nothing written"),
    (["silence", "--list"], "silence", "while reading the silences; nothing written"),
    (["db", "current"], "alembic_version", "while reading the schema revision; nothing written"),
]


def stopped_while_waiting(
    url: str, table: str, signum: int, args: list[str], env: dict[str, str]
) -> tuple[int, str, str]:
    """Run `monitor ARGS` while `table` is locked, send `signum` once it waits on it (it must):
    its exit code, stdout and stderr."""
    with locked(url, table) as watcher:
        command = monitor(*args, env=env | {"MONITOR_DATABASE_URL": url})
        wait_for(lambda: waiting(watcher) or command.poll() is not None, f"{args[0]} waiting")
        assert command.poll() is None, command.communicate()  # it waits on `table`
        command.send_signal(signum)
        out, err = command.communicate(timeout=60)
    return command.returncode, out, err


@SIGNALS
@pytest.mark.parametrize(
    ("args", "table", "said"), READERS, ids=[" ".join(a[:2]) for a, _, _ in READERS]
)
def test_a_read_command_stopped_while_it_reads_says_so_in_one_line(
    tmp_path: Path,
    postgres_url: str,
    signum: int,
    code: int,
    why: str,
    args: list[str],
    table: str,
    said: str,
) -> None:
    """The command waits on a table the test locked; the signal ends it with one line that
    says what it was reading and that it wrote nothing, exit 130 or 143."""
    returncode, out, err = stopped_while_waiting(
        postgres_url, table, signum, args, shipped(tmp_path)
    )

    assert returncode == code, err
    name = " ".join(args[:2]) if args[0] in ("verdict", "db") else args[0]
    assert err.splitlines()[-1] == f"Error: {name}: {why} {said}"
    assert "Traceback" not in err and "Aborted!" not in err and out == ""


@pytest.fixture
def older(postgres_url: str) -> str:
    """The test's database, taken back to the revision before the code's."""
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, BEFORE)
    finally:
        engine.dispose()
    assert schema_status(postgres_url) == (BEFORE, HEAD)
    return postgres_url


@contextlib.contextmanager
def upgrades_held(url: str) -> Iterator[psycopg.Connection]:
    """The upgrades' advisory lock held by the test (an upgrade waits for it), and a connection
    to see who waits."""
    libpq = url.replace("+psycopg", "")
    with psycopg.connect(libpq, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_UPGRADE_LOCK,))
        with psycopg.connect(libpq, autocommit=True) as watcher:
            yield watcher
        holder.execute("SELECT pg_advisory_unlock(%s)", (_UPGRADE_LOCK,))


def _waits_for_the_lock(watcher: psycopg.Connection) -> bool:
    row = watcher.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    return row is not None and row[0] > 0


UPGRADE_STOPPED = (
    "before its one transaction committed: nothing of it stays, the schema is as it was; run "
    "`monitor db upgrade` again"
)


@SIGNALS
def test_an_upgrade_stopped_while_it_waits_for_another_says_the_schema_is_as_it_was(
    tmp_path: Path, older: str, signum: int, code: int, why: str
) -> None:
    """`monitor db upgrade` waits for another upgrade (the test holds their lock); stopped
    there, it says the schema is as it was, which it is. It died with nothing said (-15)."""
    env = shipped(tmp_path) | {"MONITOR_DATABASE_URL": older}
    with upgrades_held(older) as watcher:
        upgrade = monitor("db", "upgrade", env=env)
        wait_for(lambda: _waits_for_the_lock(watcher) or upgrade.poll() is not None, "the lock")
        upgrade.send_signal(signum)
        out, err = upgrade.communicate(timeout=60)

    assert upgrade.returncode == code, err
    assert err.splitlines()[-1] == f"Error: db upgrade: {why} {UPGRADE_STOPPED}"
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    assert schema_status(older) == (BEFORE, HEAD)


@SIGNALS
def test_an_upgrade_stopped_as_it_migrates_leaves_the_schema_as_it_was(
    tmp_path: Path, older: str, signum: int, code: int, why: str
) -> None:
    """`monitor db upgrade` has begun to migrate (its ALTER TABLE waits on the table the test
    locked); stopped there, its one transaction is rolled back: the schema is at the old
    revision, without the new column, and a second upgrade makes it."""
    returncode, out, err = stopped_while_waiting(
        older, "status_change", signum, ["db", "upgrade"], shipped(tmp_path)
    )

    assert returncode == code, err
    assert err.splitlines()[-1] == f"Error: db upgrade: {why} {UPGRADE_STOPPED}"
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    assert schema_status(older) == (BEFORE, HEAD)
    with psycopg.connect(older.replace("+psycopg", "")) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'status_change' AND column_name = 'unread_feeds'"
        ).fetchall()
    assert columns == []
    assert upgrade_database(older).after == HEAD


@SIGNALS
def test_a_verdict_stopped_as_it_is_recorded_says_it_is_recorded_whole_or_not_at_all(
    postgres_url: str, defs: Definitions, signum: int, code: int, why: str
) -> None:
    """`monitor verdict` waits to write its verdict (the test locked the table); stopped there,
    it says what it was recording and where to see whether it was: it was not. It died with
    nothing said (-15)."""
    with open_store(postgres_url) as store:
        populate(store, defs)
        before = store.verdicts()
    env = {
        "MONITOR_DATABASE_URL": postgres_url,
        "MONITOR_INDICATORS_DIR": str(WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(WEB / "feeds.yaml"),
    }
    entry = cli_entry_id(env, VISA_HERALD)
    args = ["verdict", str(entry), "visa-easing:eased", "no"]

    returncode, out, err = stopped_while_waiting(postgres_url, "verdict", signum, args, env)

    assert returncode == code, err
    assert err.splitlines()[-1] == (
        f"Error: verdict add: {why} while recording the verdict on entry {entry}: it is "
        "recorded whole or not at all (`monitor verdict list` shows which), and a status it "
        "moves that was not recorded yet is recorded at the next check"
    )
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    with open_store(postgres_url) as store:
        assert store.verdicts() == before
