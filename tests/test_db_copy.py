"""`monitor db copy --to URL`: a watch moved from SQLite to PostgreSQL (and back) reads the same
there and goes on as if nothing moved: the daemon on the copy sends no digest or alert the
source sent, records no status change again, and writes new rows under new ids. The source is
read as one moment while it is written to; the target is written in one transaction, so a copy
stopped half way (Ctrl-C, or the process killed) leaves it empty. Real SQLite files, a real
PostgreSQL, a real SMTP server and webhook, the daemon's clock given (no sleeps)."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from monitor.cli import main
from monitor.daemon import Daemon
from monitor.definitions import load_definitions
from monitor.digest import DAY_HEADER
from monitor.domain import Verdict
from monitor.errors import StoreError
from monitor.pipeline import store_entries
from monitor.settings import Settings
from monitor.silences import Silence
from monitor.statuses import judge
from monitor.store import copy_database, metadata, open_store
from monitor.web import create_app
from tests import news, webdata
from tests.conftest import ROOT
from tests.databases import PostgresServer, _server, created_database
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer, running_smtp_server
from tests.test_scheduler import write_feeds
from tests.webhook import Webhook, running_webhook

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2026, 11, 2, 6, 0, tzinfo=SEOUL).astimezone(UTC)  # before the digest time
FAIL_AFTER = 60  # seconds: only a broken copy takes this long to show a step


@pytest.fixture(autouse=True)
def _no_monitor_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the settings a test gives (the CLI reads MONITOR_* and ./.env)."""
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def target_url(
    database_url: str, tmp_path: Path, _postgres_server: PostgresServer | str
) -> Iterator[str]:
    """The other backend than the source's (`database_url`): for a SQLite source a PostgreSQL
    database just created, without any table; for a PostgreSQL one a SQLite file not made."""
    if database_url.startswith("sqlite"):
        with created_database(_server(_postgres_server)) as url:
            yield url
        return
    yield f"sqlite:///{tmp_path / 'copy' / 'monitor.db'}"


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as SQLAlchemy reads it (aware datetimes, JSON as Python),
    ordered by primary key in Python (the two backends collate text differently)."""
    engine = create_engine(url)
    found = {}
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                keys = [c.name for c in table.primary_key.columns]
                read = [row._mapping for row in conn.execute(select(table))]
                read.sort(key=lambda row: tuple(str(row[k]) for k in keys))
                found[table.name] = [tuple(row.values()) for row in read]
    finally:
        engine.dispose()
    return found


# ---------------------------------------------------------------- a watch moved


def _daemon(
    home: Path, smtp: SMTPServer, hook: Webhook, clock: list[datetime], url: str, owner: str
) -> Daemon:
    settings = Settings(
        indicators_dir=ROOT / "indicators", feeds_file=home / "feeds.yaml",
        outbox_dir=home / "outbox", check_jitter=0, smtp_host=smtp.host, smtp_port=smtp.port,
        smtp_starttls=False, digest_to=["reader@example.org"], digest_time="07:00",
        timezone="Asia/Seoul", notify_urls=[hook.apprise_url("/alerts")],
    )  # fmt: skip
    definitions = load_definitions(settings.indicators_dir, settings.feeds_file)
    return Daemon(settings, open_store(url), definitions, clock=lambda: clock[0], owner=owner)


def _watch(daemon: Daemon, clock: list[datetime]) -> None:
    """A day of a watch: checks, alerts, the digest, an analyst's verdict and silences."""
    daemon.start()
    assert daemon.check()
    daemon.alerts()
    clock[0] = datetime(2026, 11, 2, 7, 0, 30, tzinfo=SEOUL).astimezone(UTC)
    daemon.check()
    assert daemon.digest()
    store, now = daemon.store, clock[0] + timedelta(minutes=2)
    evidence = store.history("visa-easing")[0].evidence[0]
    judge(daemon.definitions, store, entry_id=evidence.entry_id,
          target=("visa-easing", evidence.outcome_id), verdict="no", who="ana",
          note="not a waiver", now=now, alert=True)  # fmt: skip
    daemon.alerts()
    held_back = store.add_silence(Silence("flight-routes", None, "state visit", "ana", now,
                                          now + timedelta(days=7)))  # fmt: skip
    ended = store.add_silence(Silence("visa-easing", None, "noise", "bo", now, now + timedelta(1)))
    assert held_back.id is not None and ended.id is not None
    store.end_silence(ended.id, who="bo", now=now + timedelta(minutes=1))
    assert store.pending_alerts() == 0


def _cli(url: str, settings: Settings, *args: str) -> str:
    env = {"MONITOR_DATABASE_URL": url, "MONITOR_INDICATORS_DIR": str(settings.indicators_dir),
           "MONITOR_FEEDS_FILE": str(settings.feeds_file)}  # fmt: skip
    result = CliRunner().invoke(main, list(args), env=env, prog_name="monitor")
    assert result.exit_code == 0, result.output
    return result.stdout


def _reads(url: str, daemon: Daemon, now: datetime) -> dict[str, Any]:
    """What people and tools read of the watch: the commands' JSON, the endpoints, the page."""
    read: dict[str, Any] = {
        " ".join(args): _cli(url, daemon.settings, *args)
        for args in (
            ("status", "--json"),
            ("history", "visa-easing", "--json"),
            ("history", "flight-routes", "--json"),
            ("verdict", "list", "--json"),
            ("silence", "--list", "--json"),
        )
    }
    with open_store(url, read_only=True) as store:
        app = create_app(store=store, definitions=lambda: daemon.definitions,
                         settings=daemon.settings, clock=lambda: now)  # fmt: skip
        client = TestClient(app)
        for path in ("/healthz", "/indicators", "/feeds", "/"):
            read[path] = client.get(path).text
        metrics = client.get("/metrics").text.splitlines()
        read["/metrics"] = [line for line in metrics if line.startswith("monitor_")]
    return read


def test_a_watch_copied_reads_the_same_and_its_daemon_sends_nothing_twice(
    database_url: str, target_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    """Checked, alerted, digested and judged on one backend, copied to the other: every table
    alike, every read alike; the daemon on the copy records no change again, alerts nothing
    and sends no second digest of the day, and the next day's goes out as usual."""
    feed_server.route("/yonhap.xml", body=news.yonhap(START - timedelta(hours=3)))
    feed_server.route("/herald.xml", body=news.herald(START - timedelta(hours=3)))
    feeds = {"yonhap": feed_server.url("/yonhap.xml"), "herald": feed_server.url("/herald.xml")}
    write_feeds(tmp_path / "feeds.yaml", feeds)
    clock = [START]
    with running_smtp_server() as smtp, running_webhook() as hook:
        source = _daemon(tmp_path, smtp, hook, clock, database_url, owner="source")
        try:
            _watch(source, clock)
        finally:
            source.store.close()
        sent, alerted = len(smtp.messages), len(hook.received)

        copied = copy_database(database_url, target_url)

        assert rows(target_url) == rows(database_url)
        now = clock[0] + timedelta(minutes=5)
        read = _reads(database_url, source, now)
        assert _reads(target_url, source, now) == read
        assert "not a waiver" in read["verdict list --json"]
        assert "state visit" in read["silence --list --json"]
        clock[0] = now
        moved = _daemon(tmp_path, smtp, hook, clock, target_url, owner="moved")
        try:
            changes = moved.store.history("visa-easing") + moved.store.history("flight-routes")
            moved.start()
            moved.check()
            assert not moved.alerts() and not moved.digest()
            again = moved.store.history("visa-easing") + moved.store.history("flight-routes")
            assert len(smtp.messages) == sent and len(hook.received) == alerted
            clock[0] = datetime(2026, 11, 3, 7, 0, 30, tzinfo=SEOUL).astimezone(UTC)
            moved.check()
            assert moved.digest()
        finally:
            moved.store.close()
    assert again == changes
    assert sent == 1 and alerted >= 2  # the first readings, and the verdict's change
    assert [m.message[DAY_HEADER] for m in smtp.messages] == ["2026-11-02", "2026-11-03"]
    assert dict(copied.rows)["verdict"] == 1 and dict(copied.rows)["silence"] == 2


# ---------------------------------------------------------------- ids, refusals, progress


@pytest.fixture
def source(database_url: str) -> str:
    """The web tests' watch (a month of news, changes, a digest sent) with a verdict."""
    defs = webdata.definitions()
    with open_store(database_url) as store:
        webdata.populate(store, defs)
        entry = webdata.entry_id(store, webdata.FLIGHTS)
        judge(defs, store, entry_id=entry, target=("flight-routes", "expanded"), verdict="no",
              who="ana", now=webdata.NOW)  # fmt: skip
        for reason in ("state visit", "wire copies"):
            store.add_silence(Silence("visa-easing", None, reason, "ana", webdata.NOW,
                                      webdata.NOW + timedelta(days=1)))  # fmt: skip
    return database_url


def test_rows_written_after_the_copy_get_new_ids(source: str, target_url: str) -> None:
    """On PostgreSQL the id sequences are moved past the copied ids: an entry, a verdict, a
    silence and a status change written on the copy are stored, under the next ids."""
    copy_database(source, target_url)
    before = rows(target_url)
    defs = webdata.definitions()
    with open_store(target_url) as store:
        later = webdata.NOW + timedelta(minutes=1)
        fresh = webdata.news(
            "yonhap", 9, "Seoul and Tokyo talk trade", "https://a.example/9", later
        )
        added = store_entries(webdata.context(store, defs), [fresh], now=later)
        entry = webdata.entry_id(store, webdata.GENERAL)
        judged = judge(defs, store, entry_id=entry, target=("flight-routes", "expanded"),
                       verdict="yes", who="bo", now=webdata.NOW + timedelta(minutes=1))  # fmt: skip
        silence = store.add_silence(Silence("visa-easing", None, "x", "bo", webdata.NOW,
                                            webdata.NOW + timedelta(days=1)))  # fmt: skip
    after = rows(target_url)

    def next_id(table: str) -> int:
        return max(row[0] for row in before[table]) + 1

    assert [row[0] for row in after["entry"]][-1] == next_id("entry")
    assert added is not None and len(after["entry"]) == len(before["entry"]) + 1
    assert silence.id == next_id("silence")
    assert max(row[0] for row in after["verdict"]) == next_id("verdict")
    assert judged is not None
    assert len(after["status_change"]) == len(before["status_change"]) + 1
    assert max(row[0] for row in after["status_change"]) == next_id("status_change")


def test_a_target_that_holds_rows_is_refused_and_left_as_it_was(
    source: str, target_url: str
) -> None:
    copy_database(source, target_url)
    with open_store(target_url) as store:
        store.add_verdict(Verdict(1, "visa-easing", "eased", "no", "bo", webdata.NOW))
    before = rows(target_url)

    with pytest.raises(StoreError) as raised:
        copy_database(source, target_url)

    message = str(raised.value)
    assert "holds data already (" in message and "verdict 2 rows" in message
    assert "nothing was written" in message and "\n" not in message
    assert rows(target_url) == before


def test_a_source_at_an_older_schema_is_refused_naming_db_upgrade(
    source: str, target_url: str
) -> None:
    engine = create_engine(source)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()

    with pytest.raises(StoreError, match=r"cannot copy from .*older than.*monitor db upgrade"):
        copy_database(source, target_url)

    assert make_url(target_url).get_backend_name() != "sqlite" or not _file(target_url).exists()


def _file(url: str) -> Path:
    return Path(make_url(url).database or "")


def test_the_command_shows_progress_and_counts_and_never_a_password(
    source: str, _postgres_server: PostgresServer | str, tmp_path: Path
) -> None:
    """Into PostgreSQL from SQLite, or the other way, the PostgreSQL URL with a password
    (trust authentication takes it and asks for none)."""
    with created_database(_server(_postgres_server)) as url:
        target = str(make_url(url).set(password="s3cret-word"))
        if source.startswith("postgresql"):
            source = str(make_url(source).set(password="s3cret-word"))
            target = f"sqlite:///{tmp_path / 'copy.db'}"
        result = _run(source, "db", "copy", "--to", target)
        again = _run(source, "db", "copy", "--to", target)

    assert result.exit_code == 0, result.output
    assert "monitor: db copy: copying entry: 4 of 4 rows" in result.stderr
    assert "monitor: db copy: copying verdict: 1 of 1 row" in result.stderr
    assert result.stdout.startswith("db: copied ")
    assert "entry 4, " in result.stdout and "verdict 1" in result.stdout
    assert again.exit_code == 1
    assert again.stderr.count("\n") == 1 and "holds data already" in again.stderr
    for said in (result.output, again.output):
        assert "s3cret-word" not in said


@pytest.mark.parametrize(
    "url",
    [
        "monitor:s3cret-word@db.example.org/monitor",
        "postgresql+psycopg//monitor:s3cret-word@db.example.org/m",
    ],
)
def test_a_url_that_cannot_be_read_is_refused_without_its_password(
    tmp_path: Path, url: str
) -> None:
    source = f"sqlite:///{tmp_path / 'monitor.db'}"
    open_store(source).close()
    result = _run(source, "db", "copy", "--to", url)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: store: bad database URL ")
    assert "monitor:***@db.example.org/m" in result.stderr and result.stderr.count("\n") == 1
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("mysql://monitor:s3cret-word@db.example.org/m",
         "unable to open m on db.example.org: the driver of mysql is not installed "
         "(No module named 'MySQLdb')"),
        ("mysql+pymysql://monitor:s3cret-word@db.example.org:3307/m",
         "unable to open m on db.example.org:3307: the driver of mysql+pymysql is not installed"),
        ("postgresql+pg8000://monitor:s3cret-word@db.example.org/m",
         "unable to open m on db.example.org:5432: the driver of postgresql+pg8000 is not "
         "installed"),
        ("postgresql+psycopg://monitor:s3cret-word@db.example.org:54x2/m",
         "bad database URL 'postgresql+psycopg://monitor:***@db.example.org:54x2/m': "
         "invalid literal for int()"),
        ("sqlite:///{tmp}/new/copy.db?timeout=soon",
         "unable to open {tmp}/new/copy.db: bad URL argument: could not convert string to float"),
        ("sqlite:///{tmp}/file/copy.db", "cannot create {tmp}/file: "),
        ("postgresql+psycopg://postgres:s3cret-word@127.0.0.1:5432/monitor_no_such_database",
         'unable to read monitor_no_such_database on 127.0.0.1:5432: OperationalError: '
         'connection failed: '),
    ],
    ids=["driver-missing", "driver-missing-port", "dbapi-missing", "port", "url-argument",
         "folder-is-a-file", "no-such-postgresql-database"],
)  # fmt: skip
def test_a_target_that_cannot_be_opened_is_one_line_and_nothing_is_made(
    tmp_path: Path, target: str, says: str, _postgres_server: PostgresServer | str
) -> None:
    """A target the copy cannot open (its driver not installed, an argument its driver cannot
    take, a folder that cannot be made, a PostgreSQL database that does not exist) is one line
    naming it, exit 1 as the other store errors, no password shown, and no file or folder made."""
    if "127.0.0.1" in target:
        _server(_postgres_server)
    source = f"sqlite:///{tmp_path / 'monitor.db'}"
    open_store(source).close()
    (tmp_path / "file").write_text("a file where the target's folder would be\n")
    before = set(tmp_path.iterdir())
    result = _run(source, "db", "copy", "--to", target.format(tmp=tmp_path))

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: store: ") and result.stderr.count("\n") == 1
    assert says.format(tmp=tmp_path) in result.stderr
    assert "s3cret" not in result.output
    made = {path.name for path in set(tmp_path.iterdir()) - before}
    assert made <= {"monitor.db-wal", "monitor.db-shm"}  # the source's, read


def test_a_target_disk_that_fills_half_way_is_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    """The target's disk full half way through the rows (a file-size limit on the process: a
    write past it fails as on a full disk, without root or a small filesystem): one line, exit
    1, and the file and folder the copy made are removed."""
    source = tmp_path / "monitor.db"
    open_store(f"sqlite:///{source}").close()
    with sqlite3.connect(source) as conn:  # 4 MB of rows: the schema fits, they do not
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000) "
            "INSERT INTO story_key SELECT 'visa-easing', 'eased', i, 1 FROM n"
        )
    limit = 1_000_000  # bytes a file of the process may reach

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    target = tmp_path / "new" / "copy.db"
    env = {**os.environ, "MONITOR_DATABASE_URL": f"sqlite:///{source}"}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "db", "copy", "--to", f"sqlite:///{target}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, preexec_fn=small_disk,
        timeout=FAIL_AFTER, check=False,
    )  # fmt: skip

    copying = "monitor: db copy: copying"
    errors = [line for line in done.stderr.splitlines() if not line.startswith(copying)]
    assert done.returncode == 1, done.stderr
    assert f"{copying} story_key: 5,000 of 40,000 rows" in done.stderr  # it was half way
    assert errors == [
        f"Error: store: copying into {target} failed, nothing was kept: OperationalError: "
        "disk I/O error"
    ]
    assert not (tmp_path / "new").exists()


def _run(url: str, *args: str) -> Result:
    env = {"MONITOR_DATABASE_URL": url}
    return CliRunner().invoke(main, list(args), env=env, prog_name="monitor")


# ---------------------------------------------------------------- one moment, one transaction


def test_the_source_is_read_as_one_moment_while_it_is_written(source: str, target_url: str) -> None:
    """A verdict and a silence written to the source once the copy is under way (its first
    table read) are not in the copy: it is the source as it was when the copy began."""
    written: list[str] = []

    def meanwhile(table: str, done: int, total: int) -> None:
        if written:
            return
        with open_store(source) as store:
            store.add_verdict(Verdict(1, "visa-easing", "eased", "no", "bo", webdata.NOW))
            store.add_silence(Silence("visa-easing", None, "x", "bo", webdata.NOW,
                                      webdata.NOW + timedelta(days=1)))  # fmt: skip
        written.append(table)

    before = rows(source)
    copy_database(source, target_url, progress=meanwhile)

    assert written == [metadata.sorted_tables[0].name]
    assert rows(target_url) == before
    assert len(rows(source)["verdict"]) == len(before["verdict"]) + 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "killed"]
)
def test_a_copy_stopped_half_way_leaves_the_target_empty(
    tmp_path: Path, postgres_url: str, stop: signal.Signals
) -> None:
    """`monitor db copy` as a process, into PostgreSQL: held at the last table (the test locks
    it against inserts once every other table is written in the copy's transaction), then
    Ctrl-C, SIGTERM or SIGKILL. The target keeps no row; the copy run again makes the whole of
    it. SIGTERM ended the copy on the spot, without the line Ctrl-C ends it with (exit -15)."""
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    defs = webdata.definitions()
    with open_store(url) as store:
        webdata.populate(store, defs)
        judge(defs, store, entry_id=webdata.entry_id(store, webdata.FLIGHTS),
              target=("flight-routes", "expanded"), verdict="no", who="ana",
              now=webdata.NOW)  # fmt: skip
    last = metadata.sorted_tables[-1].name
    assert last == "verdict"
    libpq = str(make_url(postgres_url).set(drivername="postgresql"))
    with psycopg.connect(libpq) as locker:
        locker.execute(f"LOCK TABLE {last} IN SHARE MODE")  # reads go on, inserts wait
        env = {**os.environ, "MONITOR_DATABASE_URL": url}
        copying = subprocess.Popen(
            [sys.executable, "-m", "monitor", "db", "copy", "--to", postgres_url],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_for(lambda: _waiting_on_lock(libpq), "the copy to wait for the lock")
            copying.send_signal(stop)
            _, stderr = copying.communicate(timeout=FAIL_AFTER)
        finally:
            if copying.poll() is None:
                copying.kill()
        locker.rollback()

    left = rows(postgres_url)
    assert all(value == 0 for _, value in left.pop("counter"))  # a new schema's `matches`
    assert not any(left.values())
    if stop == signal.SIGINT:
        assert copying.returncode == 130
        assert "Error: db copy: interrupted; the target keeps no row of it" in stderr
    if stop == signal.SIGTERM:
        assert copying.returncode == 143, stderr
        assert stderr.splitlines()[-1] == (
            "Error: db copy: stopped by SIGTERM; the target keeps no row of it (its schema only; "
            "a SQLite file the copy made is removed): run the copy again"
        )
    assert copy_database(url, postgres_url).rows
    assert rows(postgres_url) == rows(url)


def _waiting_on_lock(libpq: str) -> bool:
    """Whether a session waits for a lock in the database (read anew each time: pg_locks in
    a transaction of its own)."""
    with psycopg.connect(libpq, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return bool(found and found[0])


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + FAIL_AFTER
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {FAIL_AFTER}s waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------- a failed copy into a new file


class _Stop(Exception):
    """A failure half way through the copy (a disk full, a closed stderr)."""


@pytest.mark.parametrize("failure", [KeyboardInterrupt, _Stop], ids=["ctrl-c", "error"])
def test_a_failed_copy_into_a_file_it_made_leaves_no_file(
    source: str, tmp_path: Path, failure: type[BaseException]
) -> None:
    """Stopped half way into a SQLite file that did not exist, the copy removes the file (and
    its -wal and -shm) and the folders it made: an empty database left there would look like a
    copy. A file that was there before is left, without a row."""
    made = tmp_path / "new" / "copy.db"
    there = tmp_path / "there.db"
    open_store(f"sqlite:///{there}").close()

    def stop(table: str, done: int, total: int) -> None:
        raise failure

    for target in (made, there):
        with pytest.raises(failure):
            copy_database(source, f"sqlite:///{target}", progress=stop)

    assert not (tmp_path / "new").exists()
    assert there.is_file()
    assert not any(rows(f"sqlite:///{there}")["entry"])
