"""`monitor replay --dry-run` beside a running daemon: the dry run holds no lock the daemon's
writes wait for, not for a batch's time, so a daemon reloading its feeds file, storing news,
recording a fetch, evaluating and recording its cycle meanwhile neither fails (SQLite:
`database is locked`) nor stalls (PostgreSQL: waits until the dry run ends); and the dry run
still prints what a replay would record, and leaves the database as it was. Real SQLite files
(the daemon's connections wait for no lock at all) and PostgreSQL (the daemon's waits for a
lock end at once, in an error); the daemon's work is put between two batches of the dry run's
replay (no thread, no sleep)."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event

from monitor.cli import main
from monitor.domain import Entry
from monitor.errors import StoreError
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.store import Cycle, FetchRecord, Store, open_store
from tests import twofeeds
from tests.feedserver import FeedServer
from tests.storeops import add_entries, last_cycle
from tests.test_cli_silences import contents
from tests.test_replay_held import monitor, settings_of, until_paused
from tests.test_replay_lock import NOW, definitions, history

__all__ = ["history"]  # the fixture: the old rule found one publisher's entries, 3 batches

MINUTE = timedelta(minutes=1)
DAY = (NOW - timedelta(days=7)).date().isoformat()
WOULD = "watch: said:reported -> said:confirmed (would record)\n"  # the new rule: both publishers
NEWS = Entry(
    feed_id="a",
    guid="fresh",
    link="https://late.example.org/fresh",
    title="Fresh report from the late desk",
    text="Nothing to see.",
    published=NOW,
    publisher="late.example.org",
)


def impatient(url: str) -> Store:
    """The daemon's store: SQLite connections that fail at once on a lock (busy timeout 0),
    PostgreSQL ones whose wait for a lock ends, in an error, after 0.2 s (else the daemon's
    work, run by the dry run's hook, would wait for the dry run, which waits for it)."""
    if url.startswith("postgresql"):
        return open_store(url + "?options=-c%20lock_timeout%3D200")
    store = open_store(url)

    def no_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")

    event.listen(store._engine, "connect", no_wait)
    store._engine.dispose()
    return store


def between_batches(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Run `action` once, when the replay is about to write its second batch of matches."""
    replace, batches = Store.replace_matches, []

    def second(self: Store, *args: Any, **kwargs: Any) -> int:
        if len(batches) == 1:
            action()
        batches.append(1)
        return replace(self, *args, **kwargs)

    monkeypatch.setattr(Store, "replace_matches", second)


def dry_run(tmp_path: Path, url: str) -> Result:
    args = ["replay", "--since", DAY, "--dry-run"]
    return CliRunner().invoke(main, args, env=settings_of(tmp_path, url))


def files_beside(url: str) -> list[str]:
    """The files in a SQLite database's folder ([] for PostgreSQL)."""
    if not url.startswith("sqlite:///"):
        return []
    return sorted(os.listdir(Path(url.removeprefix("sqlite:///")).parent))


def test_a_daemon_reloads_stores_news_evaluates_and_records_a_fetch_while_a_dry_run_replays(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The daemon has the new rule but has not prepared it yet: its evaluation matches the
    # stored news against the edited indicator first (`first_look`), writing its matches too.
    new = definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    daemon = twofeeds.unprepared(new, impatient(history))
    [claimed] = daemon.store.due_feeds(NOW + MINUTE, owner=daemon.owner, lease=MINUTE, force=True)
    files = files_beside(history)
    seen: dict[str, Any] = {}

    def the_daemon_works() -> None:
        now = NOW + MINUTE
        read = FetchRecord("a", now=now, ok=True, http_status=200, listed_url=claimed.url)
        try:
            daemon.store.sync_feeds(daemon.definitions.feeds, now=now)  # SIGHUP: a reload
            seen["stored"] = store_entries(daemon, [NEWS], now=now, records=[read])
            seen["recorded"] = evaluate_and_record(daemon, now=now, checked=True)
            daemon.store.record_cycle(Cycle(started_at=now, finished_at=now))
        except StoreError as exc:
            seen["error"] = str(exc)

    between_batches(monkeypatch, the_daemon_works)
    result = dry_run(tmp_path, history)

    assert "error" not in seen, f"the daemon waited for the dry run: {seen['error']}"
    assert "recorded" in seen, "the daemon's work never ran between two batches"
    assert [e.guid for _id, e in seen["stored"].entries] == ["fresh"]
    assert seen["stored"].dropped == {}  # its fetch recorded too
    edit = [(c.old_status, c.new_status, c.reason) for c in seen["recorded"]]
    assert edit == [("said:reported", "said:confirmed", "definition edited (watch.yaml)")]
    assert result.exit_code == 0, result.output
    assert result.stdout == WOULD  # from the database as it was when the dry run began
    with open_store(history) as store:  # the daemon's writes, and none of the dry run's
        assert store.replay_hold() is None
        assert [c.new_status for c in store.history("watch")] == ["said:confirmed", "said:reported"]
        assert store.feeds()[0].last_checked_at == NOW + MINUTE
        assert store.current_statuses()["watch"][0] == "said:confirmed"
    assert files_beside(history) == files  # no copy left beside the database
    daemon.store.close()


@pytest.mark.parametrize(
    ("signum", "code", "why"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_a_dry_run_stopped_half_way_leaves_no_copy_and_no_change(
    tmp_path: Path, feed_server: FeedServer, history: str, signum: int, code: int, why: str
) -> None:
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    files, before = files_beside(history), contents(history)
    env = settings_of(tmp_path, history)
    replay = monitor("replay", "--since", DAY, "--dry-run", module="tests.pausedreplay", env=env)
    until_paused(replay)
    copies = [name for name in files_beside(history) if ".dry-run-" in name]  # SQLite: its copy
    replay.send_signal(signum)
    out, err = replay.communicate(timeout=60)

    assert replay.returncode == code, err
    assert err.splitlines()[-1] == f"Error: replay: dry run {why}; nothing recorded"
    assert "Traceback" not in err and out == ""
    assert bool(copies) == history.startswith("sqlite")
    assert files_beside(history) == files
    assert contents(history) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_dry_run_without_room_for_its_copy_says_so_and_does_nothing(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    database = Path(history.removeprefix("sqlite:///"))
    size = database.stat().st_size  # its pages (the log was copied in, as it was closed)
    files, before = files_beside(history), contents(history)
    usage = shutil.disk_usage(database.parent)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage._replace(free=size))

    result = dry_run(tmp_path, history)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: store: a dry run works on a copy of the database (")
    assert f"in {database.parent}, and needs " in line
    assert line.endswith(
        f"free there; there are {size / 1e6:,.1f} MB: make room, or run the replay without "
        "--dry-run"
    )
    assert result.stdout == ""
    assert files_beside(history) == files
    assert contents(history) == before


def test_a_dry_run_on_postgresql_writes_copies_of_its_own_never_a_shared_row(
    postgres_url: str,
) -> None:
    with open_store(postgres_url) as store:
        store.record_cycle(Cycle(started_at=NOW, finished_at=NOW))
        with store.rehearsal() as dry:
            dry.record_cycle(Cycle(started_at=NOW + MINUTE, finished_at=NOW + MINUTE))
            ours, theirs = last_cycle(dry), last_cycle(store)
            with pytest.raises(StoreError, match="read-only transaction"):
                add_entries(dry, [NEWS], now=NOW)  # the entries: read where they are
            dry.record_cycle(Cycle(started_at=NOW, finished_at=NOW + 2 * MINUTE))  # goes on
        after = last_cycle(store)

    assert ours is not None and ours.finished_at == NOW + MINUTE  # read back
    assert theirs is not None and theirs.finished_at == NOW  # seen by no one else
    assert after is not None and after.finished_at == NOW  # and gone
