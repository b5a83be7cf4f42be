"""`monitor run` stopped mid-cycle, as a subprocess on a SQLite file.

SIGTERM while some feeds are answered and others held by the server: the answered ones are
parsed and stored before the process exits (code 0), the held ones are released (no lease is
left), and a restarted daemon checks them at once. And the stop is bounded: a daemon whose
threads are stuck writing to a log pipe nobody reads still ends, with code 0.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor.domain import StatusChange
from monitor.owners import owner_of
from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer, Route, _RequestHandler

pytestmark = pytest.mark.slow

ALL_TAGS = ("korea, china, japan, international, search-dialogue, search-travel, "
            "search-culture, search-northkorea, search-business")  # fmt: skip
ANSWERED = ("yonhap", "herald")
HELD = ("held1", "held2")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until `condition()` holds; the timeout only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def environment(tmp_path: Path, feeds: dict[str, str], **extra: str) -> dict[str, str]:
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        + "".join(
            f"  - {{id: {name}, url: '{url}', tags: [{ALL_TAGS}]}}\n" for name, url in feeds.items()
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return env | {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}",
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "MONITOR_CHECK_INTERVAL": "1h",
        "MONITOR_TICK_INTERVAL": "0.2s",
        "MONITOR_HTTP_PORT": "0",
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_DIGEST_TIME": "00:00",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def start(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"], env=env, cwd=cwd, stdout=out, stderr=out
        )


def held_feeds(
    feed_server: FeedServer, names: tuple[str, ...], published: datetime
) -> threading.Event:
    """Serve each of `names` (`/NAME.xml`) only once the returned event is set: a fetch in
    flight for as long as a test wants (the feed server stopping ends it unanswered)."""
    answer = threading.Event()

    def held(h: _RequestHandler) -> None:
        if answer.wait(60) and not feed_server.stopping.is_set():
            h.answer(Route(body=news.yonhap(published)))

    for name in names:
        feed_server.route(f"/{name}.xml", held)
    return answer


def feed_rows(db: Path) -> dict[str, tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, last_checked_at, lease_owner, lease_until FROM feed")
        return {row[0]: row[1:] for row in rows}


def cycles_of(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM cycle").fetchone()[0])


def entries_of(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT feed_id, count(*) FROM entry GROUP BY feed_id").fetchall())


def test_sigterm_stores_what_was_answered_and_releases_the_rest(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    published = datetime.now(UTC) - timedelta(hours=2)
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    feed_server.route("/herald.xml", body=news.herald(published))
    answer = held_feeds(feed_server, HELD, published)
    feeds = {name: feed_server.url(f"/{name}.xml") for name in ANSWERED + HELD}
    env = environment(tmp_path, feeds)
    db, log = tmp_path / "monitor.db", tmp_path / "run.log"

    first = start(env, tmp_path, log)
    try:
        # Every feed was asked for: two are answered, two wait for an answer.
        wait_for(lambda: len(feed_server.requests) == 4, 60, "the four requests")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, log.read_text()
    finally:
        first.kill()

    rows = feed_rows(db)
    for name in ANSWERED:
        assert rows[name][0] is not None, log.read_text()  # checked and recorded
        assert rows[name][1:] == (None, None)
    for name in HELD:
        assert rows[name] == (None, None, None), log.read_text()  # unchecked and released
    assert set(entries_of(db)) == set(ANSWERED)

    # Restarted, the daemon checks the released feeds at once (not after a lease runs out).
    answer.set()
    second = start(env, tmp_path, log)
    try:
        wait_for(lambda: all(r[0] is not None for r in feed_rows(db).values()), 60, "checks")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()
    finally:
        second.kill()
    assert set(entries_of(db)) == set(ANSWERED + HELD)
    assert all(feed_server.hits(f"/{name}.xml") == 1 for name in ANSWERED)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_restart_after_sigkill_checks_the_killed_daemons_feeds_at_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`kill -9` in the middle of a cycle leaves the held feeds leased for MONITOR_FEED_LEASE
    (an hour here); the restarted daemon, on the same host, sees their owner is gone and checks
    them in its first cycle."""
    published = datetime.now(UTC) - timedelta(hours=2)
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    answer = held_feeds(feed_server, HELD, published)
    feeds = {name: feed_server.url(f"/{name}.xml") for name in ("yonhap", *HELD)}
    env = environment(tmp_path, feeds, MONITOR_FEED_LEASE="1h")
    db, log = tmp_path / "monitor.db", tmp_path / "run.log"

    first = start(env, tmp_path, log)
    try:
        wait_for(lambda: len(feed_server.requests) == 3, 60, "the three requests")
        first.kill()
        assert first.wait(30) == -signal.SIGKILL
    finally:
        first.kill()
    owners = {feed_rows(db)[name][1] for name in HELD}
    assert len(owners) == 1 and None not in owners, feed_rows(db)  # still leased, for an hour
    (dead,) = owners

    answer.set()
    second = start(env, tmp_path, log)
    try:
        wait_for(lambda: all(feed_rows(db)[name][0] for name in HELD), 60, "the held feeds")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()
    finally:
        second.kill()
    assert set(entries_of(db)) >= set(HELD)
    took = r"claims: took over (\d+) feeds from (\S+), a process of this host that is gone"
    said = re.findall(took, log.read_text())
    assert [owner for _n, owner in said] == [dead] and int(said[0][0]) >= len(HELD)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_sigterm_releases_the_alert_and_digest_claims_the_daemon_holds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A claim a send left (its job ended without marking it: an error, a stop while waiting
    for the work lock) is released at a clean stop, not left for its lease to run out: the
    next daemon sends that alert and that digest at once."""
    feed_server.route("/yonhap.xml", body=news.yonhap(datetime.now(UTC) - timedelta(hours=2)))
    env = environment(tmp_path, {"yonhap": feed_server.url("/yonhap.xml")})
    db, log = tmp_path / "monitor.db", tmp_path / "run.log"
    day = date(2026, 1, 1)

    daemon = start(env, tmp_path, log)
    try:
        wait_for(lambda: feed_server.requests, 60, "the first request")  # the schema is made
        wait_for(lambda: feed_rows(db)["yonhap"][0] is not None, 60, "the first check")
        # and its statuses recorded (the cycle's row comes after them): a change recorded before
        # would be from a status the cycle then leaves, and skipped as one that never held
        wait_for(lambda: cycles_of(db), 60, "the first cycle's end")
        owner = owner_of(daemon.pid)  # as the daemon names itself
        now = datetime.now(UTC)
        with open_store(f"sqlite:///{db}") as store:
            indicator, (status, _since) = sorted(store.current_statuses().items())[0]
            new = "mixed" if status != "mixed" else "unknown"
            store.record_changes([StatusChange(indicator, now, status, new, (), "h")], alert=True)
            assert store.claim_alerts(now, owner=owner, lease=timedelta(hours=1), limit=1)
            assert store.claim_digest(day, owner=owner, now=now)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, log.read_text()
    finally:
        daemon.kill()

    with sqlite3.connect(db) as conn:
        held = conn.execute(
            "SELECT (SELECT count(*) FROM status_change WHERE notify_owner = :o)"
            " + (SELECT count(*) FROM digest WHERE claimed_by = :o)"
            " + (SELECT count(*) FROM feed WHERE lease_owner = :o)",
            {"o": owner},
        ).fetchone()[0]
    assert held == 0, log.read_text()
    assert f"released the claims of 1 alert and the digest of {day}" in log.read_text()
    with open_store(f"sqlite:///{db}") as store:
        later = datetime.now(UTC)
        claims = store.claim_alerts(later, owner="next", lease=timedelta(hours=1))
        assert [c.change.indicator_id for c in claims] == [indicator]
        assert store.claim_digest(day, owner="next", now=later)


def blocked_on_a_pipe(pid: int) -> bool:
    """Some thread of the process waits to write to a full pipe."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "wchan").read_text().strip().endswith("pipe_write"):
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_daemon_stuck_writing_its_log_still_stops_within_its_budget(tmp_path: Path) -> None:
    """Its log goes to a pipe nobody reads: once full, every log call blocks, the SIGTERM
    handler's among them. The shutdown bound ends the process anyway."""
    import fcntl

    feeds = {f"dead{n}": f"http://127.0.0.1:9/{'x' * 200}/{n}.xml" for n in range(300)}
    env = environment(tmp_path, feeds, MONITOR_CHECK_INTERVAL="1s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    try:
        fcntl.fcntl(proc.stdout.fileno(), 1031, 4096)  # F_SETPIPE_SZ: fills with a few lines
        wait_for(lambda: blocked_on_a_pipe(proc.pid), 60, "the log pipe to fill")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)  # without a bound it never ends
    finally:
        proc.kill()
        proc.stdout.close()
    assert code == 0


def children_of(pid: int) -> list[str]:
    """The process's children, whichever of its threads started them (start-up's stages run
    in a thread of their own: the parse workers' forkserver is that thread's child)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [child for task in tasks for child in (task / "children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_during_start_up_is_handled_not_fatal(
    tmp_path: Path, feed_server: FeedServer, signum: signal.Signals
) -> None:
    """Start-up brings the database up to the definitions (here while another process holds
    the write lock): SIGHUP then asks for a reload, it does not kill the daemon, and SIGTERM
    stops it cleanly (exit 0), as at any other time."""
    feed_server.route("/yonhap.xml", body=news.yonhap(datetime.now(UTC) - timedelta(hours=2)))
    env = environment(tmp_path, {"yonhap": feed_server.url("/yonhap.xml")})
    db, log = tmp_path / "monitor.db", tmp_path / "run.log"
    upgrade = [sys.executable, "-m", "monitor", "db", "upgrade"]
    subprocess.run(upgrade, env=env, cwd=tmp_path, check=True, capture_output=True)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the daemon's start-up waits for it
    daemon = start(env, tmp_path, log)
    try:
        # Its parse workers' forkserver started: the daemon is in Daemon.start.
        wait_for(lambda: children_of(daemon.pid), 60, "the daemon's start-up")
        daemon.send_signal(signum)
        writer.rollback()
        if signum == signal.SIGHUP:
            running = lambda: cycles_of(db) == 1 or daemon.poll() is not None  # noqa: E731
            wait_for(running, 60, "a first cycle")
            assert daemon.poll() is None, f"ended by {daemon.returncode}: {log.read_text()}"
            assert "SIGHUP received" in log.read_text()
            daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, log.read_text()
        assert "stopped" in log.read_text()
    finally:
        writer.close()
        daemon.kill()
