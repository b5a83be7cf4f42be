"""Outages around the daemon: its jobs ride them out and lose nothing.

- SMTP down at digest time: the digest fails, its claim is released, and once the server is
  back (after the back-off) it is sent, once;
- PostgreSQL restarted under the daemon (its connections terminated, between and during
  cycles): the next units of work reconnect by themselves;
- SQLite locked by another process (BEGIN EXCLUSIVE for seconds): the cycle waits and goes on;
- the outbox's disk full: a clear error, the digest not marked sent, sent once space is back;
- the database's disk filling up mid-cycle: SQLite's error, nothing stored half-way, the news
  stored by the next check once space is back; /healthz of the daemon says its checks fail
  until one works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient

from monitor.daemon import Daemon, Resting
from monitor.daily import DIGEST_RETRY, digest_input
from monitor.definitions import load_definitions
from monitor.digest import format_status
from monitor.errors import StoreError
from monitor.reloading import Reloader
from monitor.scheduler import build_scheduler
from monitor.settings import Settings
from monitor.store import Store, open_store
from monitor.web import create_app
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer, Route, _RequestHandler
from tests.smtpserver import Handler, running_smtp_server
from tests.storeops import monitored_since_yesterday
from tests.webhook import closed_port

HOUR = timedelta(hours=1)
ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip


class Clock:
    """The daemon's clock, moved by the test."""

    def __init__(self) -> None:
        # The tests move it by under an hour, so it starts an hour before midnight at the
        # latest: a new day under the test would make a second digest due (the SMTP test failed
        # every run after 23:35 UTC). Never more than an hour behind the feeds' items.
        now = datetime.now(UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        self.now = min(now, midnight - timedelta(hours=1))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def home(tmp_path: Path, feed_server: FeedServer) -> Path:
    published = datetime.now(UTC) - timedelta(hours=1)
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    feed_server.route("/herald.xml", body=news.herald(published))
    tags = ", ".join(ALL_TAGS)
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        + "".join(
            f"  - {{id: {name}, url: '{feed_server.url(f'/{name}.xml')}', tags: [{tags}]}}\n"
            for name in ("yonhap", "herald")
        )
    )
    return tmp_path


def make_daemon(home: Path, store: Store, clock: Clock, **overrides: object) -> Daemon:
    values: dict[str, object] = {
        "indicators_dir": ROOT / "indicators",
        "feeds_file": home / "feeds.yaml",
        "outbox_dir": home / "outbox",
        "check_jitter": 0,
        "check_interval": "15m",
        "fetch_timeout": "30s",  # waited for only by a hang: 127.0.0.1 answers well within it
        "digest_to": "a@example.org",
        "digest_time": "00:00",
    }
    settings = Settings(**(values | overrides))  # type: ignore[arg-type]
    definitions = load_definitions(settings.indicators_dir, settings.feeds_file)
    daemon = Daemon(settings, store, definitions, clock=clock, owner="test")
    daemon._sleep = lambda _s: None  # type: ignore[method-assign,assignment]  # no waits between tries
    daemon.start()
    return daemon


# ---------------------------------------------------------------- SMTP


def test_smtp_down_at_digest_time_then_back_sends_the_digest_once(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    clock = Clock()
    with open_store(f"sqlite:///{home / 'monitor.db'}") as store:
        monitored_since_yesterday(store, clock.now)
        daemon = make_daemon(
            home, store, clock, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
        )
        assert daemon.check()
        day = clock.now.date()

        with caplog.at_level(logging.WARNING):
            assert not daemon.digest()  # refused: five tries, then back off
        down = store.digest_state(day)
        assert down is not None and down.sent_at is None and down.claimed_by is None
        assert f"smtp 127.0.0.1:{port}" in down.last_error
        assert "trying again in" in caplog.text

        with running_smtp_server(port=port) as smtp:
            assert not daemon.digest()  # still backing off
            clock.advance(DIGEST_RETRY + timedelta(seconds=1))
            assert daemon.digest()
            clock.advance(DIGEST_RETRY * 4)
            assert not daemon.digest()  # sent: never again
            (received,) = smtp.messages
        sent = store.digest_state(day)

    assert "2 indicators changed" in received.message["Subject"]
    assert sent is not None and sent.sent_at is not None and sent.last_error == ""
    assert sent.attempts == 2


def test_feeds_gone_unread_as_the_digest_is_built_are_in_what_changed_once(
    home: Path, feed_server: FeedServer
) -> None:
    """The feeds fail from 06:15, so at 06:45 (two intervals) the indicators stop being able
    to say `quiet`: the change to `unknown` is dated then. The digest is due at 06:45 too, and
    is built before a check records that change; the server refuses its first try, and during
    the back-off a check records it, dated 06:45 — before the digest's end (it was built
    after), after its start. It must be listed under "what changed" in this digest or the next,
    not in neither."""
    clock = Clock()
    clock.now = datetime.combine(datetime.now(UTC).date() - timedelta(days=2), time(6), UTC)
    with (
        running_smtp_server(fail_first=1) as smtp,
        open_store(f"sqlite:///{home / 'monitor.db'}") as store,
    ):
        daemon = make_daemon(home, store, clock, digest_time="06:45", smtp_host=smtp.host,
                             smtp_port=smtp.port, smtp_starttls=False)  # fmt: skip
        assert daemon.check()  # read at 06:00
        for name in ("yonhap", "herald"):
            feed_server.route(f"/{name}.xml", status=503, body=b"down")
        for _ in range(2):  # failing at 06:15 and 06:30: unread from 06:45
            clock.advance(timedelta(minutes=15))
            assert daemon.check()
        clock.advance(timedelta(minutes=15, seconds=10))  # 06:45:10, the digest job's tick

        def a_check_meanwhile(_seconds: float) -> None:
            clock.advance(timedelta(seconds=5))
            daemon.check()

        daemon._sleep = a_check_meanwhile  # type: ignore[method-assign,assignment]
        assert daemon.digest()
        day = clock.now.date()
        went = [c for c in store.changes_between(clock.now - HOUR, clock.now)
                if c.new_status == "unknown"]  # fmt: skip
        later = digest_input(
            daemon.definitions, store, day=day + timedelta(days=1),
            now=datetime.combine(day + timedelta(days=1), time(6, 45), UTC), timezone="UTC",
            digest_time=time(6, 45),
        )  # fmt: skip
        (received,) = smtp.messages
    assert len(went) == len(daemon.definitions.indicators)  # each was read, and is unread now
    text = received.message.get_body(("plain",))
    assert text is not None
    listed = " ".join(str(text.get_content()).split()).partition("WHAT CHANGED")[2]
    listed = listed.partition("STANDING STATUS")[0]
    titles = {i.id: i.title for i in daemon.definitions.indicators}
    in_this = {
        c.indicator_id for c in went
        if f"{titles[c.indicator_id]} {format_status(c.old_status)} → ⚠ unknown" in listed
    }  # fmt: skip
    in_next = {c.indicator_id for c in later.changes if c.new_status == "unknown"}
    went_unknown = {c.indicator_id for c in went}
    assert in_this | in_next == went_unknown and not in_this & in_next


# ---------------------------------------------------------------- the network, after a night


def test_back_after_a_night_to_a_network_that_is_down_the_digest_says_unknown_not_quiet(
    home: Path, feed_server: FeedServer
) -> None:
    """A daemon stopped (or its host asleep) overnight comes back after the digest time, and
    its first check fails (the network is not up yet). No feed was read for a day: the digest
    it sends then must not claim `quiet` — the failed check made the feeds look read again."""
    clock = Clock()
    clock.now = datetime.combine(datetime.now(UTC).date() - timedelta(days=2), time(6), UTC)
    with open_store(f"sqlite:///{home / 'monitor.db'}") as store:
        assert make_daemon(home, store, clock, digest_time="07:00").check()
        read_at = clock.now
        clock.advance(timedelta(hours=26))  # the next day, 08:00: the digest is due
        for name in ("yonhap", "herald"):
            feed_server.route(f"/{name}.xml", status=503, body=b"down")
        daemon = make_daemon(home, store, clock, digest_time="07:00")
        daemon.check()
        assert {f.failing_since for f in store.feeds()} == {clock.now}
        assert daemon.digest()
    (eml,) = (home / "outbox").glob("digest-*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",))
    assert text is not None
    body = " ".join(str(text.get_content()).split())  # unwrapped
    standing = body.partition("STANDING STATUS")[2].partition("FEED HEALTH")[0]
    indicators = len(daemon.definitions.indicators)
    assert message["Subject"].endswith(f": no changes, {indicators} unknown")
    assert standing.count("⚠ unknown") == indicators and "quiet" not in standing
    unread = read_at + timedelta(minutes=30)  # two intervals after the last read
    assert standing.count(f"⚠ unknown (since {unread:%Y-%m-%d %H:%M} UTC)") == indicators
    # why, said once under feed health (the same for each), each standing status pointing there
    pointer = f"feeds not read: yonhap, herald; see “{indicators} indicators unknown”"
    assert standing.count(pointer) == indicators
    health = body.partition("FEED HEALTH")[2]
    assert health.count(f"herald: not read since {read_at:%Y-%m-%d %H:%M} UTC") == 1


# ---------------------------------------------------------------- PostgreSQL


def terminate_backends(url: str) -> int:
    """What a PostgreSQL restart does to clients: every other connection to the database ends.

    pg_terminate_backend(pid, timeout) waits until each backend has exited, as a restart
    has ended every session before it accepts new ones; without the timeout the signal
    may land only after the next pool pre-ping on a loaded machine."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.mark.postgres
def test_postgresql_restarted_mid_run_the_daemon_reconnects(
    home: Path, postgres_url: str, feed_server: FeedServer
) -> None:
    clock = Clock()
    with open_store(postgres_url) as store:
        monitored_since_yesterday(store, clock.now)  # today's digest is due after the checks
        daemon = make_daemon(home, store, clock)
        assert daemon.check()
        assert terminate_backends(postgres_url) >= 1  # the pool's idle connection

        clock.advance(timedelta(minutes=16))
        assert daemon.check()  # between cycles: a fresh connection, no operator

        # during a cycle: the connections die while a feed is being fetched (its request
        # kills them before it is answered, so it happens mid-cycle however slow the machine)
        herald = Route(body=news.herald(clock.now))
        killed: list[int] = []

        def kill_then_answer(handler: _RequestHandler) -> None:
            killed.append(terminate_backends(postgres_url))
            handler.answer(herald)

        feed_server.route("/herald.xml", kill_then_answer)
        clock.advance(timedelta(minutes=16))
        assert daemon.check()
        assert len(killed) == 1

        clock.advance(timedelta(minutes=16))
        assert daemon.check()
        assert daemon.digest()  # written to the outbox
        feeds = store.feeds()
        statuses = store.current_statuses()
    assert all(f.last_error == "" and f.error_count == 0 for f in feeds)
    assert statuses["visa-easing"][0] == "eased:confirmed"
    assert len(list((home / "outbox").glob("digest-*.eml"))) == 1


@pytest.mark.postgres
def test_a_connection_ended_during_a_statement_is_retried_once(postgres_url: str) -> None:
    """What the pool's check before each use cannot catch: the server ends a connection while
    a statement of a check cycle runs on it (here: releasing leases waits for a row lock, and
    its backend is ended while it waits). The store reconnects and runs it once more."""
    from monitor.domain import Feed

    raw = postgres_url.replace("+psycopg", "")
    now = datetime(2026, 1, 6, tzinfo=UTC)
    with open_store(postgres_url) as store, psycopg.connect(raw) as locker:
        store.sync_feeds([Feed("yonhap", "https://yna.example/rss", ("korea",))], now=now)
        assert [f.id for f in store.due_feeds(now, owner="d1", lease=timedelta(minutes=5))]
        locker.execute("SELECT id FROM feed FOR UPDATE")  # holds the row until it commits
        released: list[int] = []
        failed: list[BaseException] = []

        def release() -> None:
            try:
                released.append(store.release_leases(owner="d1"))
            except BaseException as exc:  # reported by the assertion below
                failed.append(exc)

        worker = threading.Thread(target=release)
        worker.start()
        assert ended_while_waiting(raw, locker, worker), failed
        locker.commit()  # the retried release takes the row at once
        worker.join(timeout=60)
        assert failed == [] and released == [1]
        assert store.due_feeds(now, owner="d2", lease=timedelta(minutes=5))  # free again


@pytest.mark.postgres
def test_a_connection_ended_while_a_cycle_records_its_changes_is_retried_once(
    home: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The evaluation's write waits for the evaluations' lock (another daemon's evaluation holds
    it) and its backend is ended meanwhile: it is worked out again on a new connection, and the
    cycle records its changes. It failed the cycle ("check: failed", an ERROR with a
    traceback): the next check recorded them."""
    raw = postgres_url.replace("+psycopg", "")
    with open_store(postgres_url) as store, psycopg.connect(raw) as locker:
        daemon = make_daemon(home, store, Clock())  # its start evaluated: the counter is there
        locker.execute("SELECT value FROM counter WHERE name = 'evaluated' FOR UPDATE")
        failed: list[BaseException] = []

        def check() -> None:
            try:
                daemon.check()
            except BaseException as exc:  # reported by the assertion below
                failed.append(exc)

        worker = threading.Thread(target=check)
        with caplog.at_level(logging.WARNING):
            worker.start()
            assert ended_while_waiting(raw, locker, worker), failed
            locker.commit()
            worker.join(timeout=60)
        assert failed == []
        assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


@pytest.mark.postgres
def test_a_connection_ended_as_a_sent_digest_is_marked_sent_is_retried_once(
    home: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SMTP server took the digest, and the daemon's connection ends while it marks the day
    sent (PostgreSQL restarted; here: its backend ended while it waits for the day's row, which
    the test holds from the moment the message was taken). The day is marked sent on a new
    connection. It was left unsent under the daemon's claim: no one sent it for 15 min, when
    the claim went stale, then a daemon sent it a second time."""
    raw = postgres_url.replace("+psycopg", "")
    clock = Clock()
    day = clock.now.date()
    with psycopg.connect(raw) as locker:

        class HoldsTheDay(Handler):
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                answer = await super().handle_DATA(server, session, envelope)
                if len(self.messages) == 1:
                    locker.execute("SELECT day FROM digest WHERE day = %s FOR UPDATE", [day])
                return answer

        handler = HoldsTheDay()
        with open_store(postgres_url) as store, running_smtp_server(handler=handler) as smtp:
            monitored_since_yesterday(store, clock.now)
            daemon = make_daemon(
                home, store, clock, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False
            )
            assert daemon.check()
            failed: list[BaseException] = []

            def digest() -> None:
                try:
                    daemon.digest()
                except BaseException as exc:  # reported by the assertion below
                    failed.append(exc)

            worker = threading.Thread(target=digest)
            with caplog.at_level(logging.WARNING):
                worker.start()
                assert ended_while_waiting(raw, locker, worker), failed
                locker.commit()
                worker.join(timeout=60)
            sent = store.digest_state(day)
            clock.advance(timedelta(minutes=20))  # past a claim's 15 min and a retry's 5
            with contextlib.suppress(StoreError):
                daemon.digest()
    assert len(smtp.messages) == 1
    assert failed == []
    assert sent is not None and sent.sent_at is not None and sent.claimed_by is None
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


def ended_while_waiting(raw: str, locker: psycopg.Connection, worker: threading.Thread) -> bool:
    """End the backend of the session that waits for a lock `locker` holds, once `worker`
    makes one wait (a condition waited on); False when `worker` ended first."""
    with psycopg.connect(raw, autocommit=True) as admin:
        waiting: list[tuple[int]] = []
        while not waiting and worker.is_alive():
            waiting = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> %s",
                [locker.info.backend_pid],
            ).fetchall()
        if waiting:
            admin.execute("SELECT pg_terminate_backend(%s, 30000)", [waiting[0][0]])
    return bool(waiting)


@pytest.mark.postgres
def test_a_reload_whose_connection_ended_is_run_again_and_applied(
    home: Path, postgres_url: str, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection of a reload storing a changed feeds file ended while it waited for a
    feed row (PostgreSQL restarted): the reload is run again on a new connection, with one
    WARNING, and the new file is in force at once. Once, the load was taken for done: the
    daemon went on with the old feeds until a file changed again (SIGHUP said "definitions
    unchanged"); then that check failed and the next applied the file."""
    raw = postgres_url.replace("+psycopg", "")
    feeds = home / "feeds.yaml"
    extra = feed_server.url("/extra.xml")
    with open_store(postgres_url) as store, psycopg.connect(raw) as locker:
        daemon = make_daemon(home, store, Clock())
        daemon.reloader = Reloader(ROOT / "indicators", feeds, daemon.definitions, settle=0)
        named = feeds.read_text().replace("{id: herald,", "{id: herald, title: Herald,")
        feeds.write_text(named + f"  - {{id: extra, url: '{extra}'}}\n")  # a row changed too
        locker.execute("SELECT id FROM feed FOR UPDATE")  # holds the rows until it commits
        failed: list[BaseException] = []

        def reload() -> None:
            try:
                daemon.reload_if_changed()
            except BaseException as exc:  # reported by the assertions below
                failed.append(exc)

        worker = threading.Thread(target=reload)
        worker.start()
        assert ended_while_waiting(raw, locker, worker), failed
        locker.commit()
        worker.join(timeout=60)
        assert failed == []
        assert "extra" in {f.id for f in daemon.definitions.feeds}  # the set in force
        assert [r.getMessage().endswith("reconnecting for try 2 of 3") for r in caplog.records
                if r.levelno == logging.WARNING] == [True]  # fmt: skip
        assert {f.id: f.title for f in store.feeds()} == {
            "extra": "",
            "herald": "Herald",
            "yonhap": "",
        }


# ---------------------------------------------------------------- SQLite


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()  # until the test lets go
conn.execute("COMMIT")
"""


@pytest.fixture
def locker(home: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def test_sqlite_locked_by_another_process_the_cycle_waits_and_goes_on(
    home: Path, locker: list[subprocess.Popen[str]]
) -> None:
    db = home / "monitor.db"
    clock = Clock()
    with open_store(f"sqlite:///{db}") as store:
        daemon = make_daemon(home, store, clock)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(db)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        locker.append(holder)
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"

        checked: list[bool] = []
        worker = threading.Thread(target=lambda: checked.append(daemon.check()))
        worker.start()
        worker.join(0.5)  # however long it is given, it cannot finish while the lock is held
        assert worker.is_alive() and checked == []
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
        worker.join(60)
        statuses = store.current_statuses()
        feeds = store.feeds()
    assert checked == [True]  # it waited for the lock instead of failing
    assert all(f.last_error == "" for f in feeds)
    assert statuses["visa-easing"][0] == "eased:confirmed"


# ---------------------------------------------------------------- disk full


@contextlib.contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at `mount` (needs root: skips otherwise)."""
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and the mount command")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to the brim; deleting the file returned gives the space back."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):  # until ENOSPC
        while True:
            f.write(b"\0" * 4096)
    return filler


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled to the brim."""
    with tmpfs(tmp_path / "outbox", "64k") as mount:
        fill(mount)
        yield mount


def test_a_full_outbox_disk_is_a_clear_error_and_the_digest_stays_unsent(
    home: Path, tiny_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with open_store(f"sqlite:///{home / 'monitor.db'}") as store:
        monitored_since_yesterday(store, clock.now)
        daemon = make_daemon(home, store, clock, outbox_dir=tiny_disk)
        assert daemon.check()
        day = clock.now.date()

        with caplog.at_level(logging.ERROR, logger="monitor.daemon"):
            assert not daemon.digest()
        full = store.digest_state(day)
        assert full is not None and full.sent_at is None and full.claimed_by is None
        assert full.last_error.startswith(f"digest: cannot write {tiny_disk}/digest-")
        assert "No space left on device" in full.last_error
        assert "No space left on device" in caplog.text
        assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]  # no partial file

        (tiny_disk / "filler").unlink()  # space again
        clock.advance(DIGEST_RETRY + timedelta(seconds=1))
        assert daemon.digest()
        assert not daemon.digest()
        sent = store.digest_state(day)
    assert sent is not None and sent.sent_at is not None
    assert [p.name for p in tiny_disk.iterdir()] == [f"digest-{day.isoformat()}.eml"]


def test_a_database_disk_that_fills_mid_cycle_fails_it_clearly_and_loses_no_news(
    home: Path, tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The disk under the SQLite database fills up while the cycle fetches (its feeds claimed):
    the cycle fails in SQLite's own words, at the write of the news (not at the release of the
    leases after it, which fails too and is a warning), and stores nothing half-way. Once there
    is space again, the next check reads both feeds and stores their news."""
    clock = Clock()
    with tmpfs(tmp_path / "data", "4m") as disk, open_store(f"sqlite:///{disk / 'm.db'}") as store:
        daemon = make_daemon(home, store, clock)
        filled: list[Path] = []
        filling = threading.Lock()
        published = clock.now - timedelta(hours=1)
        bodies = {"/yonhap.xml": news.yonhap(published), "/herald.xml": news.herald(published)}

        def fills_the_disk(h: _RequestHandler) -> None:  # before either feed is answered
            with filling:
                if not filled:
                    filled.append(fill(disk))
            h.answer(Route(body=bodies[h.path]))

        for path in bodies:
            feed_server.route(path, fills_the_disk)

        with pytest.raises(StoreError) as failed, caplog.at_level(logging.WARNING):
            daemon.check()
        assert str(failed.value) == (
            "store: unable to add entries and matches: OperationalError: database or disk is full"
        )
        [warning] = [r.getMessage() for r in caplog.records if "leases" in r.getMessage()]
        assert warning.startswith("cycle: its feeds' leases were not released either (store: ")
        assert filled  # the disk filled after the feeds were claimed
        assert store.entries_since(clock.now - timedelta(days=30)) == []
        assert all(f.last_checked_at is None for f in store.feeds())  # not recorded as read

        filled[0].unlink()  # space again
        clock.advance(daemon.settings.tick_interval)  # the next tick
        assert daemon.check()
        stored = {
            e.feed_id for _id, e, _seen in store.entries_since(clock.now - timedelta(days=30))
        }
        assert stored == {"yonhap", "herald"}
        assert all(f.last_success_at is not None for f in store.feeds())


def test_while_the_database_disk_is_full_healthz_says_so_and_the_checks_back_off(
    home: Path, tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A check that fails (the disk under the database full) leaves the last successful cycle
    recent, so /healthz said `ok` for up to MONITOR_HEALTH_MAX_AGE (45 minutes by default)
    while no news was stored; and as no read was stored, every due feed was fetched again at
    every tick (every 10 s) while the disk stayed full. The daemon's /healthz is `degraded`
    from the first failure, says since when, why and when the next try is; the next tick tries
    again, then two ticks later, four…; once a check works, all is as before."""
    clock = Clock()
    tick = timedelta(seconds=10)
    with tmpfs(tmp_path / "data", "4m") as disk, open_store(f"sqlite:///{disk / 'm.db'}") as store:
        daemon = make_daemon(home, store, clock, check_interval="10m", tick_interval="10s")
        app = create_app(
            store=store,
            definitions=lambda: daemon.definitions,
            settings=daemon.settings,
            clock=clock,
            failing=daemon.check_failure,
        )
        healthz = TestClient(app).get
        assert daemon.check()  # the first cycle: /healthz is ok
        assert healthz("/healthz").json()["status"] == "ok"

        filled: list[Path] = []
        published = clock.now - timedelta(minutes=30)
        bodies = {"/yonhap.xml": news.yonhap(published), "/herald.xml": news.herald(published)}

        def fills_the_disk(h: _RequestHandler) -> None:
            if not filled:
                filled.append(fill(disk))
            h.answer(Route(body=bodies[h.path] + b" "))  # a new body: stored, not a 304

        for path in bodies:
            feed_server.route(path, fills_the_disk)
        clock.advance(timedelta(minutes=10))  # both feeds due
        failed_at = clock.now
        with pytest.raises(StoreError, match="database or disk is full"):
            daemon.check()
        clock.advance(tick)  # the next tick tries again, and fails
        with pytest.raises(StoreError, match="database or disk is full"):
            daemon.check()
        fetched = [feed_server.hits(path) for path in bodies]
        next_try = clock.now + 2 * tick
        told = healthz("/healthz")
        clock.advance(tick)
        with pytest.raises(Resting):  # not tried: two ticks after the second failure
            daemon.check()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            build_scheduler(daemon).get_job("check").func()  # as the job: nothing to say
        assert caplog.records == []
        assert [feed_server.hits(path) for path in bodies] == fetched  # nor fetched

        filled[0].unlink()  # space again
        clock.advance(tick)
        assert daemon.check()  # tried, and it works
        healed = healthz("/healthz").json()

    assert told.status_code == 200
    assert told.json()["status"] == "degraded"
    assert told.json()["age_seconds"] < 60 * 60  # the last good cycle alone says nothing yet
    assert told.json()["reasons"] == [  # since the first failure, with the latest error
        f"the checks fail since {failed_at:%Y-%m-%d %H:%M:%S} UTC (2 in a row; the next at"
        f" {next_try:%H:%M:%S} UTC): store: unable to claim due feeds: OperationalError: database"
        " or disk is full"
    ]
    assert (healed["status"], healed["reasons"]) == ("ok", [])
    assert daemon.check_failure() is None
