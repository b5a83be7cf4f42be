"""fetch's connections against real servers on 127.0.0.1: a bounded pool under a low descriptor
limit, stopping mid-fetch, TLS, redirects between https and http, and proxies from the
environment. No mocks.

Statuses, redirects, size caps and bombs are in test_fetch.py; here the connection is the
subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from monitor.fetch import (
    FeedRequest,
    Fetcher,
    FetchLimits,
    FetchResult,
    FetchStatus,
    fetch_all,
    fetch_sync,
)
from tests import feedserver
from tests.conftest import ROOT
from tests.feedserver import FeedServer, _RequestHandler
from tests.smtpserver import self_signed_cert

feed_server = feedserver.feed_server  # the fixture

FAST = FetchLimits(timeout=30, total_timeout=60, concurrency=4)  # no test here waits for these
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def rss(title: str) -> bytes:
    return b'<rss version="2.0"><channel><title>%s</title></channel></rss>' % title.encode()


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests talk to 127.0.0.1 directly unless one sets a proxy itself."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


# ---------------------------------------------------------------- many origins, few descriptors


class ManyOrigins:
    """`count` listening ports on 127.0.0.1 (each its own origin) served by one asyncio loop
    in a thread: GET answers a small feed naming its port, and keeps the connection alive."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.ports: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        body = rss(str(port))
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while await reader.readuntil(b"\r\n\r\n"):
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                writer.write(head + body)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def _start(self) -> list[asyncio.Server]:
        return [await asyncio.start_server(self._serve, "127.0.0.1", 0) for _ in range(self.count)]

    def __enter__(self) -> ManyOrigins:
        self._thread.start()
        servers = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        self.ports = [s.sockets[0].getsockname()[1] for s in servers]
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


LOW_LIMIT = """
import json, resource, sys
from monitor.fetch import FeedRequest, FetchLimits, fetch_sync
resource.setrlimit(resource.RLIMIT_NOFILE, (96, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
ports = json.loads(sys.argv[1])
requests = [FeedRequest(str(p), f"http://127.0.0.1:{p}/feed") for p in ports]
results = fetch_sync(requests, FetchLimits(timeout=10, total_timeout=30, concurrency=16))
print(json.dumps([[r.feed_id, r.status.value, r.error] for r in results]))
"""


def test_many_origins_all_succeed_under_a_low_descriptor_limit() -> None:
    """300 origins through a process allowed 96 descriptors: the pool keeps a bounded number
    of connections open instead of one per origin."""
    with ManyOrigins(300) as origins:
        done = subprocess.run(
            [sys.executable, "-c", LOW_LIMIT, json.dumps(origins.ports)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    failed = [r for r in results if r[1] != "modified"]
    assert failed == []
    assert len(results) == 300


# ---------------------------------------------------------------- stopping


def test_a_halted_fetcher_abandons_its_fetches_and_closes_their_connections(
    feed_server: FeedServer,
) -> None:
    left = [threading.Event(), threading.Event()]
    held: list[threading.Event] = []

    def never_answer(h: _RequestHandler) -> None:
        gone = left[len(held)]
        held.append(gone)
        h.close_connection = True
        h.connection.settimeout(0.02)
        while not feed_server.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                if not h.connection.recv(1):
                    gone.set()  # the client closed its end
                    return

    feed_server.route("/hang", never_answer)
    feed_server.route("/ok", body=rss("ok"))
    stop = threading.Event()
    with Fetcher(FetchLimits(timeout=30, total_timeout=60)) as fetcher:
        fetcher.submit([FeedRequest(f"hang{i}", feed_server.url("/hang")) for i in range(2)])
        fetcher.submit([FeedRequest("ok", feed_server.url("/ok"))])
        first = fetcher.next_result(halt=stop.is_set)
        assert first is not None and first.feed_id == "ok" and first.body == rss("ok")
        assert feed_server.wait_until(lambda s: s.hits("/hang") == 2)
        stop.set()
        assert fetcher.next_result(halt=stop.is_set) is None
        assert fetcher.abandoned == ["hang0", "hang1"]
        assert all(event.wait(5) for event in left), "a connection is still open"


def test_a_slow_fetch_never_holds_up_the_next_ones(feed_server: FeedServer) -> None:
    """A sliding window: with two at once, one fetch held back leaves the other slot to every
    other feed in turn."""
    release = threading.Event()

    def slow(h: _RequestHandler) -> None:
        release.wait(30)
        h.answer(feedserver.Route(body=rss("slow")))

    feed_server.route("/slow", slow)
    for i in range(10):
        feed_server.route(f"/f{i}", body=rss(str(i)))
    order: list[str] = []
    with Fetcher(FetchLimits(timeout=40, total_timeout=60, concurrency=2)) as fetcher:
        fetcher.submit([FeedRequest("slow", feed_server.url("/slow"))])
        fetcher.submit([FeedRequest(f"f{i}", feed_server.url(f"/f{i}")) for i in range(10)])
        while (result := fetcher.next_result()) is not None:
            assert result.status is FetchStatus.MODIFIED, result.error
            order.append(result.feed_id)
            if len(order) == 10:
                release.set()
    assert order == [f"f{i}" for i in range(10)] + ["slow"]


def test_a_wait_within_a_time_ends_with_the_hung_fetch_still_outstanding(
    feed_server: FeedServer,
) -> None:
    """`next_result(within=…)` gives the caller its thread back while a fetch hangs (the cycle
    stores what it has meanwhile), and the fetch is still given once it ends."""
    release = threading.Event()

    def held(h: _RequestHandler) -> None:
        if release.wait(30) and not feed_server.stopping.is_set():
            h.answer(feedserver.Route(body=rss("held")))

    feed_server.route("/held", held)
    with Fetcher(FAST) as fetcher:
        fetcher.submit([FeedRequest("held", feed_server.url("/held"))])
        assert feed_server.wait_until(lambda s: s.hits("/held") == 1)
        assert fetcher.next_result(within=0.05) is None
        assert fetcher.outstanding == 1
        release.set()
        result = fetcher.next_result()
        assert result is not None and result.feed_id == "held" and result.body == rss("held")
        assert fetcher.next_result() is None and fetcher.abandoned == []


# ---------------------------------------------------------------- TLS and redirects


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cert = self_signed_cert(tmp_path_factory.mktemp("tls"))
    if cert is None:
        pytest.skip("the openssl command is missing: no certificate to serve HTTPS with")
    return cert


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[FeedServer]:
    with FeedServer(tls=certificate) as server:
        server.route("/feed", body=rss("secure"))
        yield server


def trusting(certificate: tuple[Path, Path]) -> httpx2.AsyncHTTPTransport:
    return httpx2.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=str(certificate[0])))


def fetch_trusting(certificate: tuple[Path, Path], url: str) -> FetchResult:
    [result] = asyncio.run(
        fetch_all([FeedRequest("f", url)], FAST, transport=trusting(certificate))
    )
    return result


def test_a_self_signed_certificate_is_refused_by_default(https_server: FeedServer) -> None:
    [result] = fetch_sync([FeedRequest("f", https_server.url("/feed"))], FAST)
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: cannot connect: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert https_server.requests == []


def test_a_context_trusting_the_certificate_fetches(
    https_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    result = fetch_trusting(certificate, https_server.url("/feed"))
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.body == rss("secure")


@pytest.mark.parametrize("status", [301, 302, 308])
def test_a_redirect_from_https_to_http_is_refused(
    https_server: FeedServer, feed_server: FeedServer, certificate: tuple[Path, Path], status: int
) -> None:
    feed_server.route("/plain", body=rss("plain"))
    https_server.redirect("/feed", feed_server.url("/plain"), status)
    result = fetch_trusting(certificate, https_server.url("/feed"))
    assert result.status is FetchStatus.FAILED
    assert result.error == (
        f"fetch: HTTP {status} redirect from https to http refused ({feed_server.url('/plain')})"
    )
    assert result.moved_to is None
    assert feed_server.requests == []


def test_an_http_feed_may_come_back_to_http_but_that_move_is_not_remembered(
    https_server: FeedServer, feed_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    feed_server.redirect("/old", https_server.url("/hop"), 301)
    https_server.redirect("/hop", feed_server.url("/new"), 301)
    feed_server.route("/new", body=rss("new"))
    result = fetch_trusting(certificate, feed_server.url("/old"))
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.body == rss("new")
    assert result.moved_to is None  # a permanent move down to http is never remembered


def test_a_permanent_move_up_to_https_is_remembered(
    https_server: FeedServer, feed_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    feed_server.redirect("/old", https_server.url("/feed"), 301)
    result = fetch_trusting(certificate, feed_server.url("/old"))
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.moved_to == https_server.url("/feed")


# ---------------------------------------------------------------- proxies


@pytest.fixture
def proxy() -> Iterator[FeedServer]:
    """A plain HTTP proxy: asked for absolute URLs, it answers them from its routes."""
    with FeedServer() as server:
        server.route("http://feeds.invalid/feed.xml", body=rss("proxied"))
        yield server


def test_http_proxy_from_the_environment_is_used(
    proxy: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
    [result] = fetch_sync([FeedRequest("f", "http://feeds.invalid/feed.xml")], FAST)
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.body == rss("proxied")
    assert [r.path for r in proxy.requests] == ["http://feeds.invalid/feed.xml"]
    assert proxy.requests[0].headers["host"] == "feeds.invalid"


def test_no_proxy_sends_the_named_host_directly(
    proxy: FeedServer, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.route("/feed.xml", body=rss("direct"))
    monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
    monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
    [result] = fetch_sync([FeedRequest("f", feed_server.url("/feed.xml"))], FAST)
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.body == rss("direct")
    assert proxy.requests == []
    assert feed_server.hits("/feed.xml") == 1


# ---------------------------------------------------------------- errors


@contextlib.contextmanager
def unaccepting_port() -> Iterator[int]:
    """A listening port whose accept queue is full: a further connect hangs in the SYN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        while True:
            filler = socket.socket()
            fillers.append(filler)
            filler.settimeout(0.05)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        yield port
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_a_connect_that_hangs_gives_a_connect_timeout() -> None:
    with unaccepting_port() as port:
        url = f"http://127.0.0.1:{port}/feed"
        limits = FetchLimits(timeout=0.3, total_timeout=5)
        [result] = fetch_sync([FeedRequest("f", url)], limits)
    assert result.status is FetchStatus.FAILED
    assert result.error == "fetch: connect timeout after 0.3s"


# ---------------------------------------------------------------- keep-alive


@pytest.mark.parametrize(("keepalive", "connections"), [(4, 1), (0, 20)])
def test_idle_connections_are_kept_for_reuse_up_to_the_setting(
    feed_server: FeedServer, keepalive: int, connections: int
) -> None:
    for i in range(20):
        feed_server.route(f"/f{i}", body=rss(str(i)))
    limits = FetchLimits(timeout=30, total_timeout=60, concurrency=4, keepalive=keepalive)
    results: list[FetchResult] = []
    with Fetcher(limits) as fetcher:
        for i in range(20):  # one at a time: each answer frees its connection first
            fetcher.submit([FeedRequest(str(i), feed_server.url(f"/f{i}"))])
            result = fetcher.next_result()
            assert result is not None
            results.append(result)
    assert [r.body for r in results] == [rss(str(i)) for i in range(20)]
    assert feed_server.accepted == connections  # kept alive and reused, or one per request


@pytest.mark.parametrize("status", [304, 404, 301])
def test_a_connection_is_reused_after_an_answer_without_a_body_to_keep(
    feed_server: FeedServer, status: int
) -> None:
    """A warm cycle is mostly 304s: each must leave its connection to the next feed (a new
    TCP and TLS handshake per feed otherwise), as must a short error page or redirect."""
    for i in range(10):
        if status == 304:
            feed_server.route(f"/f{i}", body=rss(str(i)), etag=f'"v{i}"')
        elif status == 301:
            feed_server.route(f"/f{i}", status=301, headers={"Location": "/gone"}, body=b"moved")
        else:
            feed_server.route(f"/f{i}", status=404, body=b"<html>not here</html>" * 10)
    feed_server.route("/gone", status=410, body=b"gone")
    limits = FetchLimits(timeout=30, total_timeout=60, concurrency=4, keepalive=4)
    with Fetcher(limits) as fetcher:
        for i in range(10):  # one at a time: each answer frees its connection first
            fetcher.submit([FeedRequest(str(i), feed_server.url(f"/f{i}"), etag=f'"v{i}"')])
            result = fetcher.next_result()
            assert result is not None and result.http_status in (304, 404, 410), result
    assert feed_server.accepted == 1


def test_an_error_page_shorter_than_it_claims_is_still_reported_as_itself(
    feed_server: FeedServer,
) -> None:
    """The unread body of a 404 is read only briefly: a server that promises more than it
    sends costs its connection, not the feed's answer."""
    feed_server.route("/f", status=404, body=b"not here", content_length=1000)
    [result] = fetch_sync([FeedRequest("f", feed_server.url("/f"))], FAST)
    assert (result.status, result.error) == (FetchStatus.FAILED, "fetch: HTTP 404 Not Found")


def test_a_304_that_sends_a_body_against_the_rules_does_not_spoil_the_next_feed(
    feed_server: FeedServer,
) -> None:
    """Some servers send a body with a 304 and declare its length (HTTP says a 304 has none).
    Such a connection is not reused: its stray bytes would be read as the next answer."""

    def not_modified_with_a_body(h: _RequestHandler) -> None:
        h.wfile.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v"\r\nContent-Length: 5\r\n\r\nhello')
        h.close_connection = False

    feed_server.route("/bad", not_modified_with_a_body)
    feed_server.route("/good", body=rss("good"))
    limits = FetchLimits(timeout=30, total_timeout=60, concurrency=1, keepalive=1)
    results: list[FetchResult] = []
    with Fetcher(limits) as fetcher:
        for path in ("/bad", "/good", "/bad", "/good"):
            fetcher.submit([FeedRequest(path, feed_server.url(path), etag='"v"')])
            result = fetcher.next_result()
            assert result is not None
            results.append(result)
    assert [(r.status, r.error) for r in results] == [
        (FetchStatus.NOT_MODIFIED, ""),
        (FetchStatus.MODIFIED, ""),
    ] * 2
