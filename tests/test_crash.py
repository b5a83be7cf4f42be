"""SIGKILL during check cycles: nothing lost, no status change twice, the database intact.

A driver process runs check cycles back to back over one SQLite file (every feed due at every
cycle) while the feeds, served slowly, keep growing. It is killed with SIGKILL at a random
moment, again and again: while it starts (migrating the new file), fetches, parses, stores
entries and matches, records fetches or records status changes. After each kill:

- `PRAGMA integrity_check` says ok and no foreign key dangles;
- the status changes still form one chain per indicator (each old status is the previous
  new status, never the same status twice in a row);
- a complete cycle run afterwards (the feeds frozen as they were last served) leaves every
  entry the server ever served in the database, each once: a feed whose validators moved on
  without its entries being stored would answer 304 and lose them for good.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer, _RequestHandler

pytestmark = pytest.mark.slow

KILLS = 24
FEEDS = 10
OWNER = "crash-test"  # the driver and the completing cycle: a restarted daemon's leases
MAX_ITEMS = 100
ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip
HEADLINES = [news.VISA_YONHAP, news.VISA_HERALD, news.FLIGHTS, news.GENERAL, news.GENERAL]

# Imports and compiles the definitions once, then forks one cycle-running child per line read;
# the child is what gets killed (a fresh process and database connection each time, without
# paying Python's start-up every run).
DRIVER = """
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.definitions import load_definitions
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import open_store

indicators, feeds_file, url, owner = sys.argv[1:5]
definitions = load_definitions(Path(indicators), Path(feeds_file))
matcher = Matcher(definitions.indicators)


def cycles():
    ctx = Context(
        definitions=definitions,
        matcher=matcher,
        store=open_store(url),
        limits=FetchLimits(timeout=5, total_timeout=10, concurrency=4),
        check_interval=timedelta(0),  # every feed is due at every cycle
        owner=owner,
        parse_workers=1,
    )
    prepare(ctx, now=datetime.now(UTC))
    print("ready", flush=True)
    while True:
        report = run_cycle(ctx, now=datetime.now(UTC))
        print(report.summary(), file=sys.stderr, flush=True)


for _line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            cycles()
        finally:
            os._exit(1)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


@dataclass
class GrowingFeeds:
    """Feeds whose items accumulate with time (each version keeps every earlier item), sent
    slowly; every guid served is recorded. Frozen, each feed serves its last version again."""

    started: float = field(default_factory=time.monotonic)
    frozen: bool = False
    served: dict[int, int] = field(default_factory=dict)  # feed -> highest version served
    lock: threading.Lock = field(default_factory=threading.Lock)

    def version(self, feed: int) -> int:
        with self.lock:
            if self.frozen:
                return self.served.get(feed, 0)
            version = int((time.monotonic() - self.started) / 0.4)
            self.served[feed] = max(self.served.get(feed, 0), version)
            return version

    def handler(self, feed: int) -> object:
        def handle(h: _RequestHandler) -> None:
            version = self.version(feed)
            etag = f'"{version}"'
            if h.headers.get("If-None-Match") == etag:
                h.send_response(304)
                h.send_header("ETag", etag)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            body = feed_body(feed, version)
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            h.send_header("ETag", etag)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            try:
                for start in range(0, len(body), 4096):  # slowly: cycles take a while
                    if not h.wait(0.004):
                        return
                    h.wfile.write(body[start : start + 4096])
            except (BrokenPipeError, ConnectionResetError):
                h.close_connection = True

        return handle

    def guids(self) -> set[str]:
        return {guid for feed, version in self.served.items() for guid in guids(feed, version)}


def count(version: int) -> int:
    return min(5 + 3 * version, MAX_ITEMS)


def guids(feed: int, version: int) -> list[str]:
    return [f"feed{feed}-item{n}" for n in range(count(version))]


def feed_body(feed: int, version: int) -> bytes:
    published = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        f"<title>Feed {feed}</title><link>https://news{feed}.example.com/</link>",
    ]
    for n, guid in enumerate(guids(feed, version)):
        title = f"{HEADLINES[n % len(HEADLINES)]} ({feed}.{n})"
        parts.append(
            f"<item><title>{escape(title)}</title><guid>{guid}</guid>"
            f"<link>https://news{feed}.example{feed}.com/{n}</link><pubDate>{published}</pubDate>"
            f"<description>Report number {n} of feed {feed}.</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


# ---------------------------------------------------------------- checks


def integrity(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def status_chains(db: Path) -> int:
    """Each indicator's changes form one chain from quiet; returns how many changes there are."""
    with sqlite3.connect(db) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        if "status_change" not in tables:
            return 0  # killed while the schema was being created
        rows = conn.execute(
            "SELECT indicator_id, old_status, new_status FROM status_change ORDER BY id"
        ).fetchall()
        states = dict(conn.execute("SELECT indicator_id, status FROM indicator_state"))
    last: dict[str, str] = {}
    for indicator, old, new in rows:
        assert old == last.get(indicator, "unknown"), (indicator, old, new, last.get(indicator))
        assert new != old, (indicator, old, new)
        last[indicator] = new
    for indicator, status in last.items():
        assert states[indicator] == status
    return len(rows)


def stored_guids(db: Path) -> set[str]:
    """The guids stored, after checking that none is stored twice for one feed (a feed fetched
    whole again after a crash finds its stored items by key, which names the feed)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT feed_id, guid FROM entry").fetchall()
    assert len(rows) == len(set(rows)), "an item of one feed was stored twice"
    return {guid for _feed, guid in rows}


# ---------------------------------------------------------------- the driver


@pytest.fixture
def served(feed_server: FeedServer, tmp_path: Path) -> Iterator[tuple[GrowingFeeds, Path]]:
    feeds = GrowingFeeds()
    lines = ["feeds:"]
    for n in range(FEEDS):
        feed_server.route(f"/feed{n}.xml", feeds.handler(n))  # type: ignore[arg-type]
        url = feed_server.url(f"/feed{n}.xml")
        lines.append(f"  - {{id: feed{n}, url: '{url}', tags: [{', '.join(ALL_TAGS)}]}}")
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("\n".join(lines) + "\n")
    yield feeds, feeds_file


class Driver:
    """The forking driver process (see DRIVER)."""

    def __init__(self, tmp_path: Path, feeds_file: Path, url: str) -> None:
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        self.log = (tmp_path / "driver.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(ROOT / "indicators"), str(feeds_file), url, OWNER],
            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        )  # fmt: skip

    def line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        assert line, f"the driver ended: {self.proc.poll()}"
        return line

    def run_and_kill(self, rng: random.Random, *, during_start: bool) -> str:
        """Fork a child running cycles and SIGKILL it at a random moment: while it opens the
        database and syncs the feeds, or once it runs cycles."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        pid = int(self.line())
        if during_start:
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            assert self.line() == "ready"
            time.sleep(rng.uniform(0.0, 1.5))
        os.kill(pid, signal.SIGKILL)
        lines = [self.line()]
        while lines[-1] != "reaped":  # dead, its locks released
            lines.append(self.line())
        return "start" if during_start and "ready" not in lines else "cycles"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


@functools.cache
def compiled(feeds_file: Path) -> tuple[Definitions, Matcher]:
    definitions = load_definitions(ROOT / "indicators", feeds_file)
    return definitions, Matcher(definitions.indicators)


def complete_cycle(feeds_file: Path, url: str) -> None:
    definitions, matcher = compiled(feeds_file)
    with open_store(url) as store:
        ctx = Context(
            definitions=definitions,
            matcher=matcher,
            store=store,
            limits=FetchLimits(timeout=30, total_timeout=60),  # must read every feed, loaded or not
            check_interval=timedelta(0),
            owner=OWNER,
            parse_workers=1,
        )
        prepare(ctx, now=datetime.now(UTC))
        report = run_cycle(ctx, now=datetime.now(UTC))
    assert report.failed == 0, report.errors


def test_sigkill_at_random_points_of_cycles_loses_nothing(
    served: tuple[GrowingFeeds, Path], tmp_path: Path
) -> None:
    feeds, feeds_file = served
    db = tmp_path / "monitor.db"
    url = f"sqlite:///{db}"
    rng = random.Random(int(os.environ.get("MONITOR_CRASH_SEED", "7")))
    points: list[str] = []
    driver = Driver(tmp_path, feeds_file, url)
    try:
        for run in range(KILLS):
            feeds.frozen = False
            points.append(driver.run_and_kill(rng, during_start=run % 6 == 0))
            if not db.exists():
                continue
            integrity(db)
            status_chains(db)

            feeds.frozen = True  # a restart finds the feeds as they were last served
            complete_cycle(feeds_file, url)
            missing = feeds.guids() - stored_guids(db)
            assert not missing, f"run {run} ({points[-1]}): lost {len(missing)} entries"
            integrity(db)
            status_chains(db)
    finally:
        driver.close()

    assert points.count("cycles") >= 20
    assert status_chains(db) >= 2  # the news moved some indicators
    assert len(stored_guids(db)) > FEEDS * 20
