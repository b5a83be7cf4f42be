"""Three `monitor run` processes on one PostgreSQL database (DESIGN §5).

200 feeds are served by one threaded server on 127.0.0.1 that records every request (path,
time, User-Agent: each daemon sends its own). The daemons check every 4 s for three intervals;
then the one holding leases is killed with SIGKILL in the middle of its cycle, and the two
others carry on. Every feed is fetched once per interval (never twice in one, and never lost:
at worst a busy daemon's cycle late), the feeds the dead daemon held are fetched by the others
at once (they run on the same host, and see that its process is gone: one of them logs taking
its leases over), each status change is recorded once, and one digest is sent.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from monitor import owners
from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.daytime import noon_zone
from tests.smtpserver import running_smtp_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FEEDS = 200
INTERVAL = 4.0  # MONITOR_CHECK_INTERVAL, seconds
# MONITOR_FEED_LEASE: above the longest cycle, as the README asks (~1 s; 12 s was overrun on a
# machine whose two cores were kept busy, and the same feed was then fetched by two daemons).
# The test checks that assumption: a cycle longer than the lease fails it as such.
LEASE = 40.0
FAIL_AFTER = 120.0  # seconds for one step: the deadlines only turn a hang into a failure
TICK = 0.3
ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip


# ---------------------------------------------------------------- the feeds


@dataclass(frozen=True)
class Hit:
    path: str
    at: float  # time.time()
    agent: str


class CountingServer:
    """Serves a body with an ETag per path (304 when it matches) and records every request."""

    def __init__(self, bodies: dict[str, bytes], delay: float = 0.02) -> None:
        self.bodies = bodies
        self.delay = delay
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server.lock:
                    server.hits.append(Hit(self.path, time.time(), self.headers["User-Agent"]))
                body = server.bodies.get(self.path)
                time.sleep(server.delay)
                if body is None:
                    self.send_error(404)
                    return
                etag = f'"{len(body)}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def by_path(self) -> dict[str, list[Hit]]:
        with self.lock:
            found: dict[str, list[Hit]] = defaultdict(list)
            for hit in self.hits:
                found[hit.path].append(hit)
            return found

    def __enter__(self) -> CountingServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def feed_bodies(published: datetime) -> dict[str, bytes]:
    bodies = {
        f"/feed{n:03}.xml": news.rss(
            f"Feed {n}", [news.Item(f"Weather report {n}", f"https://w.example/{n}", published)]
        )
        for n in range(FEEDS)
    }
    bodies["/feed000.xml"] = news.yonhap(published)  # the news that changes two statuses
    bodies["/feed001.xml"] = news.herald(published)
    return bodies


# ---------------------------------------------------------------- the daemons


class Daemon:
    def __init__(self, name: str, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log = cwd / f"{name}.log"
        self._out = self.log.open("wb")
        env = env | {"MONITOR_USER_AGENT": name}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.owner = owners.owner_of(self.proc.pid)  # the daemon's lease owner
        self.stopping_at: float | None = None  # time.time() when it was sent a signal to stop

    def released_at_stop(self) -> int:
        """How many feeds the daemon logged as released unchecked when it was stopped."""
        found = re.findall(r"(\d+) released unchecked", self.log.read_text(errors="replace"))
        return sum(int(n) for n in found)

    def cycle_seconds(self) -> list[float]:
        """The duration of every check cycle the daemon logged."""
        found = []
        for raw in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if str(line.get("message", "")).startswith("cycle:"):
                    found.append(float(line["duration"]))
        return found

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.stopping_at is None:
            self.stopping_at = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._out.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def leases(dsn: str) -> dict[str, dict[str, float]]:
    """owner -> {feed id: lease end (epoch seconds)} of the leases running now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT lease_owner, id, extract(epoch FROM lease_until) FROM feed "
            "WHERE lease_until > now()"
        ).fetchall()
    found: dict[str, dict[str, float]] = defaultdict(dict)
    for owner, feed_id, until in rows:
        found[owner][feed_id] = float(until)
    return found


# ---------------------------------------------------------------- the test


def test_three_daemons_share_the_feeds_and_survive_a_killed_one(
    tmp_path: Path, postgres_url: str, daemons: list[Daemon]
) -> None:
    zone = noon_zone(datetime.now(UTC))  # the digest's day cannot end under the test
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    published = datetime.now(UTC) - timedelta(hours=2)
    tags = ", ".join(ALL_TAGS)
    with CountingServer(feed_bodies(published)) as server, running_smtp_server() as smtp:
        (tmp_path / "feeds.yaml").write_text("feeds:\n" + "".join(
            f"  - {{id: feed{n:03}, url: '{server.url(f'/feed{n:03}.xml')}', tags: [{tags}]}}\n"
            for n in range(FEEDS)
        ))  # fmt: skip
        digest_at = datetime.now(ZoneInfo(zone)) + timedelta(seconds=8)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
            "MONITOR_DATABASE_URL": postgres_url,
            "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
            "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
            "MONITOR_CHECK_INTERVAL": f"{INTERVAL:g}s",
            "MONITOR_CHECK_JITTER": "0",
            "MONITOR_TICK_INTERVAL": f"{TICK:g}s",
            "MONITOR_FEED_LEASE": f"{LEASE:g}s",
            "MONITOR_SMTP_HOST": smtp.host,
            "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false",
            "MONITOR_DIGEST_TO": "reader@example.org",
            "MONITOR_DIGEST_TIME": digest_at.strftime("%H:%M:%S"),
            "MONITOR_TIMEZONE": zone,
            "MONITOR_HTTP_PORT": "0",  # any free port, one per daemon
            "MONITOR_LOG_FORMAT": "json",
            "PYTHONPATH": str(ROOT),
        }
        daemons += [Daemon(f"daemon-{n}", env, tmp_path) for n in range(3)]
        logs = lambda: "\n".join(f"--- {d.name}\n{d.log.read_text()[-3000:]}" for d in daemons)  # noqa: E731

        def fetched_at_least(times: int, after: float = 0.0) -> bool:
            hits = server.by_path()
            return len(hits) == FEEDS and all(
                sum(h.at > after for h in found) >= times for found in hits.values()
            )

        # Three intervals with the three daemons.
        try:
            wait_for(lambda: fetched_at_least(1), FAIL_AFTER, "a first check of every feed")
            wait_for(lambda: fetched_at_least(3), FAIL_AFTER, "three intervals")
        except AssertionError:
            raise AssertionError(logs()) from None

        # SIGKILL the daemon that holds leases, in the middle of its cycle.
        held: dict[str, float] = {}
        victim: Daemon | None = None

        def somebody_holds_leases() -> bool:
            nonlocal victim, held
            running = leases(dsn)
            for daemon in daemons:
                if running.get(daemon.owner):
                    daemon.proc.send_signal(signal.SIGKILL)
                    victim, held = daemon, running[daemon.owner]
                    return True
            return False

        wait_for(somebody_holds_leases, FAIL_AFTER, "a daemon in the middle of a cycle")
        killed_at = time.time()
        assert victim is not None
        assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
        # What it held when it died: what our look just before the kill saw (the survivors take
        # its leases over at once, so a look after the kill may find none left). It may have
        # stored a batch in between; such a feed is not due, so no one fetches it early. It may
        # even have stored all of them (a cycle of a few feeds takes hundredths of a second):
        # then it died holding no lease, and nobody has one to take over. What it still holds
        # now, dead, it died holding (unless a survivor took it over already).
        left = leases(dsn).get(victim.owner, {})
        survivors = [d for d in daemons if d is not victim]

        # Its feeds are taken over at once, not when its leases run out; then an interval more.
        try:
            wait_for(lambda: fetched_at_least(1, after=killed_at), FAIL_AFTER,
                     "the others to check every feed after the kill")  # fmt: skip
            wait_for(lambda: smtp.messages, FAIL_AFTER, "the digest")
            # every feed checked once more after it: the survivors ticked on, still one digest
            digest_seen = time.time()
            wait_for(lambda: fetched_at_least(1, after=digest_seen), FAIL_AFTER, "more checks")
        except AssertionError:
            raise AssertionError(logs()) from None
        codes = [d.stop() for d in survivors]

    assert codes == [0, 0], logs()
    slowest = max(seconds for d in daemons for seconds in d.cycle_seconds())
    assert slowest < LEASE, f"a cycle took {slowest:.1f} s, over the {LEASE:g} s lease"
    hits = server.by_path()
    assert sorted(hits) == sorted(f"/feed{n:03}.xml" for n in range(FEEDS))
    agents = {d.name for d in daemons}

    def killed_cycle(feed_id: str, hit: Hit) -> bool:
        """The dead daemon's last fetch of a feed it held, in the cycle it was killed in: no
        other daemon fetched the feed between it and the kill. (Its leases were renewed while
        it worked, so their end does not tell when it claimed them.)"""
        found = hits[f"/{feed_id}.xml"]
        last = max((h.at for h in found if h.agent == victim.name), default=None)
        if hit.agent != victim.name or hit.at != last:
            return False
        return not [h for h in found if h.agent != victim.name and last < h.at <= killed_at]

    def abandoned_at_stop(feed_id: str, before: Hit, after: Hit) -> bool:
        """A survivor's last fetch of a feed, in flight when it was told to stop: it released
        the feed unchecked (DESIGN: what was not answered is released), and the other survivor,
        still running, checked it at once."""
        stopped = next(d for d in survivors if d.name == before.agent).stopping_at
        found = hits[f"/{feed_id}.xml"]
        last = max(h.at for h in found if h.agent == before.agent)
        return (
            stopped is not None
            and before.at == last
            and after.agent != before.agent
            and after.at >= stopped
        )

    # A feed is due again INTERVAL after the start of the cycle that checked it (no jitter),
    # and that cycle fetched it at most `slowest` seconds after its start: a fetch sooner than
    # this after the previous one is a second fetch in one interval, whatever the machine's
    # pace (a fixed INTERVAL / 2 was crossed by a loaded machine's slow cycles).
    soonest = INTERVAL - slowest - 0.5
    redone: dict[str, int] = defaultdict(int)  # survivor -> its abandoned fetches done again
    for path, found in hits.items():
        feed_id = path.strip("/").removesuffix(".xml")
        assert {h.agent for h in found} <= agents
        assert not [h for h in found if h.agent == victim.name and h.at > killed_at + 0.5]
        for before, after in itertools.pairwise(found):
            gap = after.at - before.at
            if feed_id in held and killed_cycle(feed_id, before):
                # the dead daemon's fetch is done again by another one, after the kill
                assert after.at >= killed_at and after.agent != victim.name, (path, before, after)
                continue
            early = gap < soonest
            if early and before.agent != victim.name and abandoned_at_stop(feed_id, before, after):
                redone[before.agent] += 1
                continue
            assert gap >= soonest, (
                f"{path} fetched twice in one interval: {before} {after} (victim {victim.name} "
                f"killed at {killed_at}, held {feed_id in held}: {held.get(feed_id)})"
            )
            # Never lost: late at worst by a lease and a busy survivor's cycle (a cycle judges
            # leases by its start time, so a lease that ends mid-cycle is taken by the next one).
            assert gap < 2 * (INTERVAL + LEASE), f"{path} was lost: {before} {after}"

    for daemon in survivors:  # only feeds the daemon said it released were fetched again
        assert redone[daemon.name] <= daemon.released_at_stop(), (daemon.name, redone, logs())

    # Each feed the dead daemon held was fetched by another one after the kill, which took the
    # leases it died with over at once (one survivor logs it: each lease is released once).
    # `killed_at` is taken just before the signal, so the victim's own last fetch may come after
    # it.
    for feed_id in held:
        later = [h for h in hits[f"/{feed_id}.xml"] if h.at >= killed_at]
        assert [h for h in later if h.agent != victim.name], (feed_id, later)
    if left:  # it died holding leases: a survivor took them over, and said so
        took = [d.name for d in survivors if f"from {victim.owner}, a process" in d.log.read_text()]
        assert took, logs()

    with open_store(postgres_url) as store:
        assert store.change_counts() == {"visa-easing": 1, "flight-routes": 1}
        assert [c.new_status for c in store.history("visa-easing")] == ["eased:confirmed"]
        sent = store.digest_state(digest_at.date())
    assert sent is not None and sent.sent_at is not None and sent.attempts == 1
    assert len(smtp.messages) == 1
