"""Three `monitor run` processes on one PostgreSQL database, each fault put at a chosen point.

The points are reached by conditions, not by time: a feed server that holds a request until the
test lets it go, a row lock the test holds (PostgreSQL shows who waits for it), the digest's
DATA held by the SMTP server. Then one daemon is killed (SIGKILL) or its connection ended
(pg_terminate_backend on its own backend, which is what a restarted server does to it):

- killed mid-fetch, holding the feed's lease: another daemon of the host reads the feed at once
  (not once the lease runs out), and its news is stored once;
- killed after storing a feed's news, while it waits to record the changes that news makes:
  the others record them, each once, and the news stays stored once;
- its connection ended while it waits mid-transaction (storing a read; recording changes): it
  goes on by itself, and nothing is stored twice or lost;
- killed while the SMTP server holds its digest (not taken): another sends it, once;
- killed while a webhook holds its alert (not taken): another sends it, once.

Clock skew between the daemons is not tried: they share this machine's clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.daytime import noon_zone
from tests.feedserver import FeedServer, Route, _RequestHandler
from tests.smtpserver import Handler, running_smtp_server
from tests.test_several_daemons import ALL_TAGS, Daemon, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

INTERVAL = 2.0  # MONITOR_CHECK_INTERVAL, seconds
LEASE = 60.0  # MONITOR_FEED_LEASE: far above a cycle, so only a take-over moves a lease
TICK = 0.2
FAIL_AFTER = 120.0  # seconds for one step: the deadlines only turn a hang into a failure
DAEMONS = 3


# ---------------------------------------------------------------- the parts


class Gate:
    """A feed route that holds its first request until `release`, then answers them all."""

    def __init__(self, body: bytes) -> None:
        self.route = Route(body=body, etag='"1"')
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.agents: list[str] = []

    def __call__(self, handler: _RequestHandler) -> None:
        first = not self.arrived.is_set()
        self.agents.append(handler.headers["User-Agent"])
        self.arrived.set()
        while first and not self.released.wait(0.05):
            if handler.feed_server.stopping.is_set():
                return
        handler.answer(self.route)


class HeldFirstData(Handler):
    """An SMTP server's handler that holds the first DATA until `release`, then answers it
    451 (not taken); the messages after it are taken."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.released = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.arrived.is_set():
            self.arrived.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 not taken"
        return await super().handle_DATA(server, session, envelope)


class HeldFirstAlert:
    """A webhook on 127.0.0.1 that holds the first POST until `release`, then answers it 500
    (not taken), and takes the others (200); `sender` is the port the first came from."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.sender = 0
        self.taken: list[str] = []  # the titles of the alerts taken
        hook = self

        class Answer(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 200
                if not hook.arrived.is_set():
                    hook.sender = self.client_address[1]
                    hook.arrived.set()
                    hook.released.wait()
                    status = 500
                else:
                    hook.taken.append(json.loads(body)["title"])
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.httpd.daemon_threads = True
        self.url = f"json://127.0.0.1:{self.httpd.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HeldFirstAlert:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets process `pid` holds open (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def waiting_backend(dsn: str, pid: int) -> int | None:
    """The backend of process `pid` that waits for a lock, if one does."""
    ports = sorted(tcp_ports(pid))
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND client_port = ANY(%s)",
            [ports],
        ).fetchone()
    return None if row is None else int(row[0])


def query(dsn: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, list(args)).fetchall()


def stored_twice(dsn: str) -> list[tuple[object, ...]]:
    return query(dsn, "SELECT feed_id, guid, count(*) FROM entry GROUP BY 1, 2 HAVING count(*) > 1")


def changes(dsn: str) -> list[tuple[object, ...]]:
    return query(dsn, "SELECT indicator_id, old_status, new_status FROM status_change ORDER BY id")


def assert_each_change_once(dsn: str) -> None:
    """Every indicator's changes form one chain (each from the status the one before set), and
    none is recorded twice."""
    last: dict[object, object] = {}
    for indicator, old, new in changes(dsn):
        assert old != new, (indicator, old, new)
        if indicator in last:
            assert last[indicator] == old, (indicator, old, new, changes(dsn))
        last[indicator] = new


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)


def start(
    home: Path,
    postgres_url: str,
    feed_server: FeedServer,
    routes: dict[str, object],
    daemons: list[Daemon],
    **settings: str,
) -> Callable[[], str]:
    """Serve `routes`, start the daemons on them; returns what their logs say (for failures)."""
    tags = ", ".join(ALL_TAGS)
    lines = []
    for name, route in routes.items():
        if isinstance(route, Route):
            feed_server.routes[f"/{name}.xml"] = route
        else:
            feed_server.route(f"/{name}.xml", route)  # type: ignore[arg-type]
        url = feed_server.url(f"/{name}.xml")
        lines.append(f"  - {{id: {name}, url: '{url}', tags: [{tags}]}}\n")
    (home / "feeds.yaml").write_text("feeds:\n" + "".join(lines))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env = (
        inherited
        | {
            "MONITOR_DATABASE_URL": postgres_url,
            "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
            "MONITOR_FEEDS_FILE": str(home / "feeds.yaml"),
            "MONITOR_CHECK_INTERVAL": f"{INTERVAL:g}s",
            "MONITOR_CHECK_JITTER": "0",
            "MONITOR_TICK_INTERVAL": f"{TICK:g}s",
            "MONITOR_FEED_LEASE": f"{LEASE:g}s",
            "MONITOR_OUTBOX_DIR": str(home / "outbox"),
            "MONITOR_DIGEST_TIME": "00:00",  # due at once, the next one eleven hours off or more
            "MONITOR_TIMEZONE": noon_zone(datetime.now(UTC)),
            "MONITOR_HTTP_PORT": "0",
            "MONITOR_LOG_FORMAT": "json",
            "PYTHONPATH": str(ROOT),
        }
        | settings
    )
    daemons += [Daemon(f"daemon-{n}", env, home) for n in range(DAEMONS)]
    return lambda: "\n".join(f"--- {d.name}\n{d.log.read_text()[-4000:]}" for d in daemons)


def lines_with(daemon: Daemon, *words: str) -> list[str]:
    text = daemon.log.read_text(errors="replace")
    return [line for line in text.splitlines() if all(w in line for w in words)]


def start_gated(
    home: Path, postgres_url: str, feed_server: FeedServer, daemons: list[Daemon]
) -> tuple[str, Gate, Callable[[], str]]:
    """The daemons on yonhap, held at its fetch by the gate returned, and herald, read as usual
    (news of two hours ago): the libpq URL of their database, the gate and their logs."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    published = datetime.now(UTC) - timedelta(hours=2)
    gate = Gate(news.yonhap(published))
    herald = Route(body=news.herald(published), etag='"1"')
    routes: dict[str, object] = {"yonhap": gate, "herald": herald}
    return dsn, gate, start(home, postgres_url, feed_server, routes, daemons)


# ---------------------------------------------------------------- the tests


def test_killed_mid_fetch_its_feed_is_read_at_once_by_another_and_its_news_stored_once(
    tmp_path: Path, postgres_url: str, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    dsn, gate, logs = start_gated(tmp_path, postgres_url, feed_server, daemons)
    try:
        wait_for(gate.arrived.is_set, FAIL_AFTER, "a daemon fetching yonhap")
        victim = next(d for d in daemons if d.name == gate.agents[0])
        ((owner, until),) = query(
            dsn, "SELECT lease_owner, extract(epoch FROM lease_until) FROM feed WHERE id = 'yonhap'"
        )
        assert owner == victim.owner
        assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
        gate.released.set()  # its answer goes to a closed connection
        wait_for(lambda: len(gate.agents) > 1, FAIL_AFTER, "another daemon to fetch yonhap")
        took_at = datetime.now(UTC).timestamp()
        assert gate.agents[1] != victim.name
        wait_for(lambda: len(query(dsn, "SELECT 1 FROM entry WHERE feed_id = 'yonhap'")) == 3,
                 FAIL_AFTER, "yonhap's news stored")  # fmt: skip
        seen = feed_server.hits("/herald.xml")
        wait_for(lambda: feed_server.hits("/herald.xml") >= seen + 2, FAIL_AFTER, "more checks")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{logs()}") from None
    survivors = [d for d in daemons if d is not victim]
    codes = [d.stop() for d in survivors]
    assert codes == [0, 0], logs()
    assert took_at < float(until)  # taken over at once, not once its lease ran out
    took = [d for d in survivors if lines_with(d, "claims: took over", victim.owner)]
    assert len(took) == 1, logs()
    assert stored_twice(dsn) == []
    assert_each_change_once(dsn)
    assert [c for c in changes(dsn) if c[0] == "visa-easing"][-1][2] == "eased:confirmed"


def test_killed_between_storing_news_and_recording_its_changes_the_others_record_them_once(
    tmp_path: Path, postgres_url: str, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    dsn, gate, logs = start_gated(tmp_path, postgres_url, feed_server, daemons)
    try:
        wait_for(gate.arrived.is_set, FAIL_AFTER, "a daemon fetching yonhap")
        victim = next(d for d in daemons if d.name == gate.agents[0])
        wait_for(lambda: query(dsn, "SELECT 1 FROM entry WHERE feed_id = 'herald'"), FAIL_AFTER,
                 "herald's news stored")  # fmt: skip
        wait_for(lambda: query(dsn, "SELECT 1 FROM counter WHERE name = 'evaluated'"),
                 FAIL_AFTER, "an evaluation")  # fmt: skip
        with psycopg.connect(dsn) as locker:
            # The evaluations' lock: whoever records changes waits for it.
            locker.execute("SELECT value FROM counter WHERE name = 'evaluated' FOR UPDATE")
            gate.released.set()
            wait_for(lambda: len(query(dsn, "SELECT 1 FROM entry WHERE feed_id = 'yonhap'")) == 3,
                     FAIL_AFTER, "yonhap's news stored")  # fmt: skip
            wait_for(lambda: waiting_backend(dsn, victim.proc.pid), FAIL_AFTER,
                     "the daemon that stored it to wait to record its changes")  # fmt: skip
            assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
        survivors = [d for d in daemons if d is not victim]

        def confirmed() -> bool:
            with open_store(postgres_url) as store:
                status = store.current_statuses().get("visa-easing")
            return status is not None and status[0] == "eased:confirmed"

        wait_for(confirmed, FAIL_AFTER, "the others to record the change yonhap's news makes")
        # one more cycle of every survivor after it: nothing recorded again
        seen = feed_server.hits("/herald.xml")
        wait_for(lambda: feed_server.hits("/herald.xml") >= seen + 2, FAIL_AFTER, "more checks")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{logs()}") from None
    codes = [d.stop() for d in survivors]
    assert codes == [0, 0], logs()
    assert stored_twice(dsn) == []
    assert len(query(dsn, "SELECT 1 FROM entry WHERE feed_id = 'yonhap'")) == 3
    assert_each_change_once(dsn)
    assert [c for c in changes(dsn) if c[0] == "visa-easing"][-1][2] == "eased:confirmed"


@pytest.mark.parametrize(
    "lock",
    [
        "SELECT id FROM feed WHERE id = 'yonhap' FOR UPDATE",  # storing the read
        "SELECT value FROM counter WHERE name = 'evaluated' FOR UPDATE",  # recording changes
    ],
    ids=["storing", "recording"],
)
def test_a_connection_ended_mid_transaction_the_daemon_goes_on_and_loses_nothing(
    tmp_path: Path, postgres_url: str, feed_server: FeedServer, daemons: list[Daemon], lock: str
) -> None:
    dsn, gate, logs = start_gated(tmp_path, postgres_url, feed_server, daemons)
    try:
        wait_for(gate.arrived.is_set, FAIL_AFTER, "a daemon fetching yonhap")
        victim = next(d for d in daemons if d.name == gate.agents[0])
        wait_for(lambda: query(dsn, "SELECT 1 FROM entry WHERE feed_id = 'herald'"), FAIL_AFTER,
                 "herald's news stored")  # fmt: skip
        wait_for(lambda: query(dsn, "SELECT 1 FROM counter WHERE name = 'evaluated'"),
                 FAIL_AFTER, "an evaluation")  # fmt: skip
        with psycopg.connect(dsn) as locker:
            locker.execute(lock)
            gate.released.set()
            backend: list[int] = []

            def waits() -> bool:
                found = waiting_backend(dsn, victim.proc.pid)
                backend[:] = [found] if found else []
                return bool(found)

            wait_for(waits, FAIL_AFTER, "the daemon to wait mid-transaction")
            query(dsn, "SELECT pg_terminate_backend(%s, 30000)", backend[0])
        seen = {d.name: feed_server.hits("/herald.xml") for d in daemons}

        def confirmed() -> bool:
            with open_store(postgres_url) as store:
                status = store.current_statuses().get("visa-easing")
            return status is not None and status[0] == "eased:confirmed"

        wait_for(confirmed, FAIL_AFTER, "the change yonhap's news makes")
        wait_for(lambda: feed_server.hits("/herald.xml") >= sum(seen.values()) // 3 + 3,
                 FAIL_AFTER, "more checks")  # fmt: skip
        # the daemon whose connection ended goes on checking
        mark = len(gate.agents)
        wait_for(lambda: victim.name in gate.agents[mark:] or victim.proc.poll() is not None,
                 FAIL_AFTER, "the daemon to check yonhap again")  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{logs()}") from None
    assert victim.proc.poll() is None, logs()
    codes = [d.stop() for d in daemons]
    assert codes == [0, 0, 0], logs()
    assert stored_twice(dsn) == []
    assert len(query(dsn, "SELECT 1 FROM entry WHERE feed_id = 'yonhap'")) == 3
    assert_each_change_once(dsn)
    said = [line for line in victim.log.read_text().splitlines() if '"level": "warning"' in line
            or '"level": "error"' in line]  # fmt: skip
    assert len(said) == 1 and "reconnecting for try 2 of 3" in said[0], said


def test_killed_while_the_smtp_server_holds_its_digest_another_sends_it_once(
    tmp_path: Path, postgres_url: str, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    zone = noon_zone(datetime.now(UTC))  # the digest's day cannot end under the test
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    published = datetime.now(UTC) - timedelta(hours=2)
    handler = HeldFirstData()
    with running_smtp_server(handler=handler) as smtp:
        digest_at = datetime.now(ZoneInfo(zone)) + timedelta(seconds=8)
        routes: dict[str, object] = {
            "yonhap": Route(body=news.yonhap(published), etag='"1"'),
            "herald": Route(body=news.herald(published), etag='"1"'),
        }
        logs = start(
            tmp_path, postgres_url, feed_server, routes, daemons,
            MONITOR_SMTP_HOST=smtp.host,
            MONITOR_SMTP_PORT=str(smtp.port),
            MONITOR_SMTP_STARTTLS="false",
            MONITOR_DIGEST_TO="reader@example.org",
            MONITOR_DIGEST_TIME=digest_at.strftime("%H:%M:%S"),
            MONITOR_TIMEZONE=zone,
        )  # fmt: skip
        try:
            wait_for(handler.arrived.is_set, FAIL_AFTER, "a daemon sending the digest")
            day = digest_at.date()
            (owner,) = query(dsn, "SELECT claimed_by FROM digest WHERE day = %s", day)[0]
            victim = next(d for d in daemons if d.owner == owner)
            assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
            handler.released.set()
            wait_for(lambda: smtp.messages, FAIL_AFTER, "another daemon to send the digest")
            seen = feed_server.hits("/herald.xml")
            wait_for(lambda: feed_server.hits("/herald.xml") >= seen + 2, FAIL_AFTER,
                     "more checks")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{logs()}") from None
        codes = [d.stop() for d in daemons if d is not victim]
    assert codes == [0, 0], logs()
    assert len(smtp.messages) == 1
    assert handler.attempts == 1  # the held one is not counted by the base handler
    with open_store(postgres_url) as store:
        sent = store.digest_state(digest_at.date())
    assert sent is not None and sent.sent_at is not None
    took = [d.name for d in daemons if d is not victim
            and f"from {victim.owner}, a process" in d.log.read_text()]  # fmt: skip
    assert took, logs()


def test_killed_while_a_channel_holds_its_alert_another_sends_it_once(
    tmp_path: Path, postgres_url: str, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    published = datetime.now(UTC) - timedelta(hours=2)
    with HeldFirstAlert() as hook:
        routes: dict[str, object] = {
            "yonhap": Route(body=news.yonhap(published), etag='"1"'),
            "herald": Route(body=news.herald(published), etag='"1"'),
        }
        logs = start(
            tmp_path, postgres_url, feed_server, routes, daemons, MONITOR_NOTIFY_URLS=hook.url
        )
        try:
            wait_for(hook.arrived.is_set, FAIL_AFTER, "a daemon sending an alert")
            victim = next(d for d in daemons if hook.sender in tcp_ports(d.proc.pid))
            assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
            hook.released.set()
            pending = "SELECT 1 FROM status_change WHERE notified_at IS NULL"
            wait_for(lambda: query(dsn, "SELECT 1 FROM status_change") and not query(dsn, pending),
                     FAIL_AFTER, "every change alerted")  # fmt: skip
            seen = feed_server.hits("/herald.xml")
            wait_for(lambda: feed_server.hits("/herald.xml") >= seen + 2, FAIL_AFTER,
                     "more checks")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{logs()}") from None
        codes = [d.stop() for d in daemons if d is not victim]
    assert codes == [0, 0], logs()
    assert_each_change_once(dsn)
    assert len(hook.taken) == len(changes(dsn)), (hook.taken, changes(dsn))
    assert len(set(hook.taken)) == len(hook.taken), hook.taken
    took = [d for d in daemons if d is not victim and lines_with(d, "alert from", victim.owner)]
    assert len(took) == 1, logs()  # at once: its claim would have held for over a minute
