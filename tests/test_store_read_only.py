"""Commands that only read open the database read-only: they write nothing (not even the
statuses a check would record: those are worked out in memory), refuse a missing database in
one line, and a read-only store cannot write, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import PIPE

import pytest
from click.testing import CliRunner

from monitor import incremental
from monitor.cli import main
from monitor.definitions import load_definitions
from monitor.domain import Entry
from monitor.errors import StoreError
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, store_entries
from monitor.store import Cycle, open_store
from tests import news, storeops
from tests.conftest import ROOT
from tests.readfeeds import read_once

# What a reader says of no database: not `run monitor check`, which would make a new, empty one
# where a deleted one was (a daemon's stop says to put it back from a backup).
NEW_EMPTY = (
    "`monitor check` or `monitor run` starts a new, empty one there (if one was expected there, "
    "put it back from a backup first)"
)

READERS = [
    ["status"],
    ["status", "--json"],
    ["history", "visa-easing"],
    ["search", "visa"],
    ["verdict", "list"],
    ["verdict", "export"],
    ["digest", "--preview"],
    ["export", "history"],
    ["export", "evidence", "--format", "json"],
]


def env_for(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(ROOT / "config" / "feeds.yaml"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
    }


def stored_news(database_url: str) -> None:
    """Feeds read, then visa news stored and its stories kept, but no change recorded (a check
    stopped between the two): a check would record visa-easing `unknown -> eased:confirmed`
    now, and the readers show it without recording it (they read the kept stories)."""
    definitions = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    now = datetime.now(UTC)
    feed = definitions.feeds_for(definitions.indicator("visa-easing"))[0]
    with open_store(database_url) as store:
        ctx = Context(definitions, Matcher(definitions.indicators), store, FetchLimits())
        prepare(ctx, now=now)
        read_once(ctx, now=now)
        hour = now - timedelta(hours=1)
        store_entries(ctx, [
            Entry(feed, "y1", "https://en.yna.co.kr/view/AEN1", news.VISA_YONHAP, "", hour,
                  "yna.co.kr"),
            Entry(feed, "h1", "https://www.koreaherald.com/view/1", news.VISA_HERALD, "", hour,
                  "koreaherald.com"),
        ], now=now)  # fmt: skip
        incremental.advance(definitions.indicators, store, now=now)


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_reading_commands_leave_the_sqlite_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "data" / "monitor.db"
    url = f"sqlite:///{path}"
    stored_news(url)
    env = env_for(url, tmp_path)
    before = fingerprint(path)

    results = {" ".join(args): CliRunner().invoke(main, args, env=env) for args in READERS}

    for args, result in results.items():
        assert result.exit_code == 0, (args, result.output)
    assert fingerprint(path) == before
    # what a check would record, shown without recording it
    items = {i["id"]: i for i in json.loads(results["status --json"].stdout)}
    assert items["visa-easing"]["status"] == "eased:confirmed"
    assert "eased — confirmed" in results["digest --preview"].stdout  # standing statuses
    with open_store(url) as store:
        assert store.current_statuses()["visa-easing"][0] == "quiet"
        assert store.history("visa-easing") == []


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_missing_database_is_one_line_and_nothing_is_created(
    tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "data" / "monitor.db"
    env = env_for(f"sqlite:///{path}", tmp_path)

    result = CliRunner().invoke(main, args, env=env)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: store: no database at {path}; {NEW_EMPTY}"]
    assert not path.exists()


@pytest.mark.parametrize("args", [["status"], ["replay", "--since", "2026-01-01"]], ids=" ".join)
def test_the_files_a_deleted_database_leaves_say_it_was_there(
    tmp_path: Path, args: list[str]
) -> None:
    """A SQLite file deleted under a process holding it (the daemon, which then stops) leaves
    its write-ahead log and its index: a command finding them says to put the file back from a
    backup, not to run `monitor check`, and makes nothing there."""
    path = tmp_path / "data" / "monitor.db"
    with open_store(f"sqlite:///{path}") as store:
        assert store.current_statuses() == {}  # a connection open, in WAL mode
        path.unlink()  # the store holds it open, as the daemon does
    left = sorted(p.name for p in path.parent.iterdir())
    assert left == ["monitor.db-shm", "monitor.db-wal"]  # SQLite keeps them for the lost file
    env = env_for(f"sqlite:///{path}", tmp_path)

    result = CliRunner().invoke(main, args, env=env)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"Error: store: no database at {path}, but monitor.db-wal and monitor.db-shm are still "
        "there: the database file was deleted or moved, and they may hold its latest writes. "
        "Put that very file back beside them (they are of that file alone); to restore an "
        "older backup instead, or to start afresh, move monitor.db-wal and monitor.db-shm away "
        "first (a new database there would delete them)"
    ]
    assert sorted(p.name for p in path.parent.iterdir()) == left


# Commands that write, but only to rows stored already: with no database yet they would make
# and migrate one, then fail on the row (`no silence 1`, `no entry 1`). And those whose work
# means nothing on a database never made (a mistyped MONITOR_DATABASE_URL): they made one and
# silenced an indicator no daemon watches there, or sent a digest of nothing.
ON_STORED_ROWS = [
    ["silence", "--end", "1"],
    ["silence", "visa-easing", "--for", "7d", "--reason", "state visit"],
    ["verdict", "1", "visa-easing:eased", "no"],
    ["verdict", "add", "1", "visa-easing:eased", "yes", "--note", "the rule missed it"],
    ["replay", "--since", "2026-01-01"],
    ["replay", "--since", "2026-01-01", "--dry-run"],
    ["digest", "--send"],
    ["digest", "--send", "--date", "2026-01-06", "--force"],
]


@pytest.mark.parametrize("args", ON_STORED_ROWS, ids=" ".join)
def test_a_command_on_stored_rows_makes_no_database_and_says_there_is_none(
    tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "data" / "monitor.db"
    env = env_for(f"sqlite:///{path}", tmp_path)

    result = CliRunner().invoke(main, args, env=env)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [f"Error: store: no database at {path}; {NEW_EMPTY}"]
    assert not path.exists() and not path.parent.exists()


@pytest.mark.parametrize("host", ["", " "])
def test_monitor_serve_refuses_an_empty_host_before_anything(tmp_path: Path, host: str) -> None:
    """`monitor serve --host "$HOST"` with HOST unset bound 127.0.0.1 unsaid: a usage error
    now (exit 2), said before the database is looked at."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= env_for(f"sqlite:///{tmp_path / 'monitor.db'}", tmp_path) | {"PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "monitor", "serve", "--host", host, "--port", "0"]

    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        "Error: Invalid value for '--host': an empty address is none to listen on (give one, or "
        "leave --host out for MONITOR_HTTP_HOST) (see 'monitor serve --help')"
    ]


def test_monitor_serve_makes_no_database_and_says_there_is_none(tmp_path: Path) -> None:
    """`monitor serve` shows what checks recorded: on a path no check wrote (a mistyped
    MONITOR_DATABASE_URL) it made and migrated a database and served an empty monitor. Now it
    refuses as the readers do; `monitor run` still makes it on its first start. A real process
    (serve installs signal handlers): before, it was still serving when the wait ran out."""
    path = tmp_path / "data" / "monitor.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= env_for(f"sqlite:///{path}", tmp_path) | {"PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "monitor", "serve", "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=PIPE, stderr=PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, stdout) == (1, "")
    assert stderr.splitlines() == [f"Error: store: no database at {path}; {NEW_EMPTY}"]
    assert not path.exists() and not path.parent.exists()


def test_a_command_on_stored_rows_migrates_no_empty_database(
    empty_database_url: str, tmp_path: Path
) -> None:
    """An empty database (a PostgreSQL one just created, say) is none yet: no tables made."""
    env = env_for(empty_database_url, tmp_path)

    missing = (
        r"store: no database at .*; `monitor check` or `monitor run` starts a new, empty one"
        if empty_database_url.startswith("sqlite")
        else r"store: the PostgreSQL database .* is empty .* run `monitor db upgrade`"
    )

    result = CliRunner().invoke(main, ["silence", "--end", "1"], env=env)

    assert result.exit_code == 1
    assert re.match("^Error: " + missing, result.stderr), result.stderr
    with pytest.raises(StoreError, match="^" + missing):
        open_store(empty_database_url, read_only=True)  # still without a table


def test_a_database_without_tables_is_missing_to_a_reader(empty_database_url: str) -> None:
    missing = (
        r"^store: no database at .*; `monitor check` or `monitor run` starts a new, empty one"
        if empty_database_url.startswith("sqlite")
        else r"^store: the PostgreSQL database .* is empty .* run `monitor db upgrade`"
    )
    with pytest.raises(StoreError, match=missing):
        open_store(empty_database_url, read_only=True)


def test_a_read_only_store_cannot_write(database_url: str) -> None:
    open_store(database_url).close()  # made, at the code's revision
    now = datetime.now(UTC)
    with open_store(database_url, read_only=True) as reader:
        assert storeops.last_cycle(reader) is None
        with pytest.raises(StoreError, match=r"^store: unable to record cycle: .*read-?only"):
            reader.record_cycle(Cycle(started_at=now, finished_at=now))
    with open_store(database_url) as store:
        assert storeops.last_cycle(store) is None


@pytest.mark.postgres
def test_status_on_postgresql_writes_nothing(postgres_url: str, tmp_path: Path) -> None:
    stored_news(postgres_url)
    with open_store(postgres_url) as store:
        before = (store.data_version(), store.current_statuses(), store.feeds())

    result = CliRunner().invoke(main, ["status", "--json"], env=env_for(postgres_url, tmp_path))

    assert result.exit_code == 0, result.output
    items = {i["id"]: i for i in json.loads(result.stdout)}
    assert items["visa-easing"]["status"] == "eased:confirmed"
    with open_store(postgres_url) as store:
        assert (store.data_version(), store.current_statuses(), store.feeds()) == before


def test_db_current_reads_without_writing(tmp_path: Path) -> None:
    """`monitor db current` is a reader too: a missing database has no revision (exit 1, as
    for any database not at the code's) and is not created; a stored one is left as it was."""
    path = tmp_path / "data" / "monitor.db"
    env = env_for(f"sqlite:///{path}", tmp_path)

    missing = CliRunner().invoke(main, ["db", "current"], env=env)

    assert missing.exit_code == 1
    assert missing.stdout.splitlines()[0] == "database: (none)"
    assert not path.exists() and not path.parent.exists()
    stored_news(f"sqlite:///{path}")
    before = fingerprint(path)
    current = CliRunner().invoke(main, ["db", "current"], env=env)
    assert current.exit_code == 0, current.output
    database, code = current.stdout.splitlines()
    assert database.split()[-1] == code.split()[-1]
    assert fingerprint(path) == before
