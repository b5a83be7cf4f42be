"""Signals during the start-up of `monitor run` and `monitor serve`, as subprocesses on a SQLite
file, each held at one stage of its start-up (`tests.startpause`) while the signal arrives.

Before its handlers were installed first, a daemon signalled in its first second and a half
(imports, settings, the migration of a new database, the definitions, the daemon's own set-up)
died of the signal: SIGTERM left exit -15 and nothing in the log, SIGHUP (the reload signal)
ended it, Ctrl-C said "Aborted!" with exit 1; stopped once its parse workers were started it
logged "running" after the stop and started its web server and jobs only to stop them.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import migrate
from monitor.definitions import load_definitions
from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_shutdown import children_of, environment, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc"),
]

MIGRATION = sorted(migrate.MIGRATIONS.glob("versions/0*.py"))[len(migrate.revisions()) // 2].name
IMPORTS = "monitor.scheduler:<module>"  # `monitor run` imports the daemon's modules
SETTINGS = "monitor.settings:load_settings"
MIGRATING = f"monitor.migrate:upgrade@{MIGRATION}:upgrade"  # a new database, half migrated
DEFINITIONS = "monitor.definitions:load_definitions"
DAEMON = "monitor.daemon:Daemon.__init__"  # the rules compiled, the daemon's context made
PREPARING = "monitor.pipeline:prepare"  # the parse workers' forkserver runs; the feeds sync
SERVICES = "monitor.server:WebServer.start"
SERVING = "monitor.server:serve"  # `monitor serve`: everything loaded, uvicorn about to start


@dataclass
class Paused:
    proc: subprocess.Popen[bytes]
    marker: Path
    log: Path
    db: Path

    def signal(self, signum: int, *, once_said: bool = False) -> list[int]:
        """Send `signum` where the process is held, then let it go on; its descendants then.
        `once_said`: only once the handler logged that it was received (logging is set up by
        then): held in a start-up stage's own thread, the process could otherwise see the go
        before its main thread ran the handler, and go on as if no signal had come."""
        family = descendants(self.proc.pid)
        self.proc.send_signal(signum)
        if once_said:
            said = f"{signal.Signals(signum).name} received"
            wait_for(lambda: said in self.text() or self.proc.poll() is not None, 60, said)
        self.marker.with_name(self.marker.name + ".go").touch()
        return family

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def paused_at(
    place: str, command: str, tmp_path: Path, feed_server: FeedServer
) -> Iterator[Paused]:
    """`monitor COMMAND` on a new SQLite file (made first for `serve`, which makes none), held
    when it first enters `place`."""
    feed_server.route("/yonhap.xml", body=news.yonhap(datetime.now(UTC) - timedelta(hours=2)))
    env = environment(tmp_path, {"yonhap": feed_server.url("/yonhap.xml")})
    if command == "serve":
        open_store(env["MONITOR_DATABASE_URL"]).close()
    marker, log = tmp_path / "paused", tmp_path / "run.log"
    argv = [sys.executable, "-m", "tests.startpause", place, str(marker), command]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=out, stderr=out)
    try:
        held = lambda: marker.exists() or proc.poll() is not None  # noqa: E731
        wait_for(held, 120, f"the start-up to reach {place}")
        assert proc.poll() is None, log.read_text()
        yield Paused(proc, marker, log, tmp_path / "monitor.db")
    finally:
        proc.kill()
        proc.wait()


def descendants(pid: int) -> list[int]:
    try:
        children = children_of(pid)
    except OSError:  # it has ended
        return []
    return [p for child in map(int, children) for p in (child, *descendants(child))]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cycles(db: Path) -> int:
    """Check cycles recorded; 0 while the database is not made yet."""
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM cycle").fetchone()[0])
    except sqlite3.OperationalError:  # no such table yet (or busy being made)
        return 0


def schema_of(db: Path) -> tuple[str, list[str]]:
    """SQLite's integrity check and the schema revision ([] for a database with no tables)."""
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in tables:
            assert not tables, tables  # else a migration was left half done
            return integrity, []
        return integrity, [
            row[0] for row in conn.execute("SELECT version_num FROM alembic_version")
        ]


STOPS = [
    *[(place, signal.SIGTERM) for place in (IMPORTS, SETTINGS, MIGRATING, DEFINITIONS)],
    *[(place, signal.SIGTERM) for place in (DAEMON, PREPARING, SERVICES)],
    (IMPORTS, signal.SIGINT),
    (MIGRATING, signal.SIGINT),
]


@pytest.mark.parametrize(("place", "signum"), STOPS)
def test_a_stop_during_start_up_ends_the_daemon_cleanly(
    tmp_path: Path, feed_server: FeedServer, place: str, signum: signal.Signals
) -> None:
    """Exit 0 with "stopped" in the log and no traceback, before the daemon runs (nothing
    says "running", no feed is fetched); a migration begun is finished (or, killed, rolled
    back: one transaction), and no process of the daemon's is left."""
    with paused_at(place, "run", tmp_path, feed_server) as daemon:
        family = daemon.signal(signum)
        assert daemon.proc.wait(60) == 0, daemon.text()
    if place in (PREPARING, SERVICES):
        assert len(family) >= 1, "the parse workers' forkserver was started"
    text = daemon.text()
    assert "stopped" in text.splitlines()[-1], text
    assert f"{signum.name} received" in text and "Traceback" not in text, text
    assert "running:" not in text and not feed_server.requests, text
    # The parse workers' forkserver and the resource tracker end once the daemon has ended.
    wait_for(lambda: not any(map(running, family)), 60, f"the end of {family}")
    if daemon.db.exists():
        assert schema_of(daemon.db) in (("ok", []), ("ok", [migrate.head()]))


@pytest.mark.parametrize("place", [IMPORTS, SETTINGS, MIGRATING, DEFINITIONS, DAEMON])
def test_a_reload_during_start_up_does_not_end_the_daemon(
    tmp_path: Path, feed_server: FeedServer, place: str
) -> None:
    """SIGHUP is the reload signal at every moment: during start-up it is taken in (the
    definitions are read again at the first check), the daemon goes on to its first cycle."""
    with paused_at(place, "run", tmp_path, feed_server) as daemon:
        daemon.signal(signal.SIGHUP)
        ran = lambda: daemon.proc.poll() is not None or cycles(daemon.db) == 1  # noqa: E731
        wait_for(ran, 120, "a first cycle")
        assert daemon.proc.poll() is None, f"ended by {daemon.proc.returncode}: {daemon.text()}"
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(60) == 0, daemon.text()
    text = daemon.text()
    assert "running:" in text and "stopped" in text, text
    if place in (DEFINITIONS, DAEMON):  # read before the signal: read again
        assert "definitions unchanged" in text, text


@pytest.mark.parametrize(
    ("place", "signum"),
    [
        (SETTINGS, signal.SIGTERM),
        (DEFINITIONS, signal.SIGINT),
        (SERVING, signal.SIGTERM),
        (DEFINITIONS, signal.SIGHUP),
    ],
)
def test_monitor_serve_takes_signals_from_its_start(
    tmp_path: Path, feed_server: FeedServer, place: str, signum: signal.Signals
) -> None:
    """`monitor serve` alike (on a database made: it makes none, so migrates none): a stop
    during start-up ends it with exit 0, a reload does not end it."""
    with paused_at(place, "serve", tmp_path, feed_server) as server:
        server.signal(signum)
        if signum == signal.SIGHUP:
            up = lambda: server.proc.poll() is not None or "running on" in server.text()  # noqa: E731
            wait_for(up, 120, "the server to listen")
            assert server.proc.poll() is None, f"ended by {server.proc.returncode}: {server.text()}"
            server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 0, server.text()
    assert "Traceback" not in server.text() and "Aborted" not in server.text(), server.text()
    if server.db.exists():
        assert schema_of(server.db) in (("ok", []), ("ok", [migrate.head()]))


def sleeping(pid: int) -> bool:
    """A thread of the process sleeps (SQLite's busy wait for a lock, between its tries)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if "nanosleep" in (task / "wchan").read_text():
                return True
        except OSError:
            continue
    return False


def test_a_stop_while_start_up_waits_for_a_locked_database_ends_it_within_its_bound(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Another process holds the new database's write lock: start-up waits for it (up to 30 s,
    the busy timeout) inside SQLite, where the command's thread could not take a signal. A
    stop then still ends the process 8 s later (the bound: exit 0), the database untouched."""
    env = environment(tmp_path, {"yonhap": feed_server.url("/yonhap.xml")})
    db, log = tmp_path / "monitor.db", tmp_path / "run.log"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("BEGIN IMMEDIATE")
    try:
        with log.open("ab") as out:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"], env=env, cwd=tmp_path, stdout=out,
                stderr=out,
            )  # fmt: skip
        try:
            waiting = lambda: daemon.poll() is not None or sleeping(daemon.pid)  # noqa: E731
            wait_for(waiting, 120, "the start-up to wait for the lock")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0, log.read_text()
        finally:
            daemon.kill()
            daemon.wait()
    finally:
        writer.rollback()
        writer.close()
    assert "still stopping after 8s; exiting now" in log.read_text(), log.read_text()
    assert schema_of(db) == ("ok", [])


def test_a_stop_during_the_start_up_look_ends_it_between_pages_writing_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """visa-easing was edited while no daemon ran: the daemon's start-up looks at the stored
    news with the edited rule (`pipeline.first_look`). SIGTERM while it matches a page ends the
    look there (it used to read every page, then write), nothing of it written, and the daemon
    exits 0 as for a stop before its start-up: the next start looks again."""
    feed_server.route("/yonhap.xml", body=news.yonhap(datetime.now(UTC) - timedelta(hours=2)))
    indicators = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators", indicators)
    env = environment(tmp_path, {"yonhap": feed_server.url("/yonhap.xml")})
    env["MONITOR_INDICATORS_DIR"] = str(indicators)
    checked = subprocess.run([sys.executable, "-m", "monitor", "check"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    visa = indicators / "visa-easing.yaml"
    visa.write_text(visa.read_text() + "# edited while no daemon ran\n")
    marker, log = tmp_path / "paused", tmp_path / "run.log"
    place = "monitor.pipeline:match_entries"  # the look matches its first page
    argv = [sys.executable, "-m", "tests.startpause", place, str(marker), "run"]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=out, stderr=out)
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, 120, "the look")
        assert proc.poll() is None, log.read_text()
        Paused(proc, marker, log, tmp_path / "monitor.db").signal(signal.SIGTERM, once_said=True)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        proc.kill()
        proc.wait()
    text = log.read_text()
    assert "start-up: abandoned (looking at the stored news: visa-easing: stopped after 3 " in text
    assert "look again:" not in text and "Traceback" not in text, text
    assert "running:" not in text and "stopped" in text.splitlines()[-1], text
    edited = load_definitions(indicators, tmp_path / "feeds.yaml").indicator("visa-easing")
    with open_store(env["MONITOR_DATABASE_URL"], read_only=True) as store:
        assert store.evaluated_with()["visa-easing"] != edited.hash  # to be looked at again
