"""monitor.transport, through fetch, against real servers on 127.0.0.1: connections kept alive and
reused without mixing answers, stale and abandoned connections, framings, TLS, proxies from the
environment, a session's stop, and the errors a broken server causes. No mocks.

Statuses, redirects, size caps, bombs and read timeouts through `fetch_sync` are in
test_fetch.py and test_hostile.py; here the connection is the subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.fetch import (
    FeedRequest,
    FetchLimits,
    FetchResult,
    FetchStatus,
    FetchStopped,
    Session,
    fetch_all,
    fetch_sync,
)
from monitor.transport import Transport, origin_of
from tests import feedserver
from tests.feedserver import FeedServer, Handler, Route, _RequestHandler
from tests.smtpserver import self_signed_cert

feed_server = feedserver.feed_server  # the fixture

FAST = FetchLimits(timeout=2, total_timeout=5, concurrency=4)
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def rss(title: str) -> bytes:
    """A small feed whose title tells which request it answers."""
    return b'<rss version="2.0"><channel><title>%s</title></channel></rss>' % title.encode()


def raw(answer: bytes, *, close: bool) -> Handler:
    """A route answering with exactly these bytes (status line and all)."""

    def handler(h: _RequestHandler) -> None:
        h.wfile.write(answer)
        h.wfile.flush()
        h.close_connection = close

    return handler


def one(server: FeedServer, path: str, session: Session) -> FetchResult:
    [result] = session.fetch([FeedRequest(path, server.url(path))])
    return result


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests talk to 127.0.0.1 directly unless one sets a proxy itself."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


# ---------------------------------------------------------------- keep-alive


def test_a_session_reuses_connections_and_every_feed_gets_its_own_answer(
    feed_server: FeedServer,
) -> None:
    paths = [f"/feed/{i}" for i in range(20)]
    etags: dict[str, str | None] = {}
    with Session(FAST) as session:
        for batch in range(3):
            versions = [batch if i % 2 == 0 else 0 for i in range(20)]  # odd feeds never change
            for path, version in zip(paths, versions, strict=True):
                feed_server.route(path, body=rss(f"{path} v{version}"), etag=f'"{version}"')
            requests = [FeedRequest(p, feed_server.url(p), etag=etags.get(p)) for p in paths]
            results = session.fetch(requests)
            for i, (path, result) in enumerate(zip(paths, results, strict=True)):
                assert result.feed_id == path
                if batch > 0 and i % 2:
                    assert result.status is FetchStatus.NOT_MODIFIED, result.error
                else:
                    assert result.status is FetchStatus.MODIFIED, result.error
                    assert result.body == rss(f"{path} v{versions[i]}")
                etags[path] = result.etag
    assert len(feed_server.requests) == 60
    # 60 requests, at most 4 at a time: 200s read to their end and 304s both free a connection.
    assert feed_server.accepted <= FAST.concurrency


def test_connections_the_server_closed_while_idle_are_replaced() -> None:
    with FeedServer(idle_timeout=0.1) as server:
        paths = [f"/feed/{i}" for i in range(4)]
        for path in paths:
            server.route(path, body=rss(path))
        with Session(FAST) as session:
            requests = [FeedRequest(path, server.url(path)) for path in paths]
            first = session.fetch(requests)
            assert server.wait_until(lambda s: s.closed == s.accepted == 4)
            second = session.fetch(requests)
    for result in first + second:
        assert result.status is FetchStatus.MODIFIED, result.error
        assert result.body == rss(result.feed_id)
    assert server.accepted == 8


def test_a_kept_connection_closed_as_the_request_arrives_is_retried_once(
    feed_server: FeedServer,
) -> None:
    """The race every keep-alive client meets: the server closes an idle connection just as
    the next request goes out, so that request gets no answer at all."""
    served: set[int] = set()

    def one_answer_per_connection(h: _RequestHandler) -> None:
        port = h.client_address[1]
        if port in served:
            h.close_connection = True  # closed without a word
            return
        served.add(port)
        h.answer(Route(body=rss(h.path)))

    paths = [f"/feed/{i}" for i in range(4)]
    for path in paths:
        feed_server.route(path, one_answer_per_connection)
    with Session(FAST) as session:
        requests = [FeedRequest(path, feed_server.url(path)) for path in paths]
        results = session.fetch(requests) + session.fetch(requests)
    for result in results:
        assert result.status is FetchStatus.MODIFIED, result.error
        assert result.body == rss(result.feed_id)
    assert len(feed_server.requests) == 12  # each request of the second batch was sent twice


def test_an_idle_connection_the_server_said_goodbye_on_is_not_reused() -> None:
    """A server may announce that it closes an idle connection with a 408 (RFC 9110, 15.5.9)
    before closing it: that 408 answers no request of ours."""
    goodbye = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    with FeedServer(idle_timeout=0.1, idle_goodbye=goodbye) as server:
        server.route("/feed", body=rss("feed"))
        with Session(FAST) as session:
            first = one(server, "/feed", session)
            assert server.wait_until(lambda s: s.closed == 1)
            second = one(server, "/feed", session)
    for result in (first, second):
        assert result.status is FetchStatus.MODIFIED, result.error
        assert result.body == rss("feed")


def test_bytes_past_the_content_length_never_become_the_next_answer(
    feed_server: FeedServer,
) -> None:
    # A server counting characters instead of bytes: "é" is two bytes, one character.
    body = "<rss><channel><title>Café</title></channel></rss>".encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) - 1)
    feed_server.route("/miscounted", raw(head + body, close=False))
    feed_server.route("/small", body=rss("small"))
    limits = FetchLimits(timeout=2, total_timeout=5, concurrency=1)
    with Session(limits) as session:
        one(feed_server, "/miscounted", session)
        small = one(feed_server, "/small", session)
    assert small.status is FetchStatus.MODIFIED, small.error
    assert small.body == rss("small")


BIG = rss("big") + b"x" * 2_000_000


@pytest.mark.parametrize(
    "options",
    [
        {"body": BIG},  # refused on its Content-Length, body never read
        {"body": BIG, "chunked": True},  # given up mid-body
        {"status": 404, "body": b"<html>not found</html>"},  # an error page, never read
        {"status": 302, "headers": {"Location": "/small"}, "body": b"moved"},
    ],
    ids=["content-length", "chunked", "error-page", "redirect-body"],
)
def test_a_body_left_unread_never_becomes_the_next_answer(
    feed_server: FeedServer, options: dict[str, object]
) -> None:
    feed_server.route("/big", **options)
    feed_server.route("/small", body=rss("small"))
    limits = FetchLimits(timeout=2, total_timeout=5, max_bytes=100_000, concurrency=1)
    with Session(limits) as session:
        for _ in range(2):
            one(feed_server, "/big", session)
            small = one(feed_server, "/small", session)
            assert small.status is FetchStatus.MODIFIED, small.error
            assert small.body == rss("small")


# ---------------------------------------------------------------- framings

BODY = rss("framed") + b"<!--" + b"y" * 5000 + b"-->"
HEAD_10 = b"HTTP/1.0 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
HEAD_11 = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)


@pytest.mark.parametrize(
    ("route", "connections"),
    [
        (Route(body=BODY, chunked=True, chunk_size=700), 1),
        (Route(body=BODY, close_delimited=True), 2),
        (Route(body=BODY, headers={"Connection": "close"}), 2),
        (raw(HEAD_10 + BODY, close=True), 2),
        (raw(CONTINUE + HEAD_11 + BODY, close=False), 1),
    ],
    ids=["chunked", "close-delimited", "connection-close", "http-1.0", "informational-first"],
)
def test_every_framing_gives_the_whole_body_and_the_next_request_works(
    feed_server: FeedServer, route: Route | Handler, connections: int
) -> None:
    feed_server.routes["/feed"] = route
    with Session(FAST) as session:
        results = [one(feed_server, "/feed", session) for _ in range(2)]
    for result in results:
        assert result.status is FetchStatus.MODIFIED, result.error
        assert result.body == BODY
    assert feed_server.accepted == connections  # kept alive unless the answer ends it


# ---------------------------------------------------------------- TLS


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


def test_a_self_signed_certificate_is_refused_by_default(https_server: FeedServer) -> None:
    [result] = fetch_sync([FeedRequest("f", https_server.url("/feed"))], FAST)
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: cannot connect: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert "self-signed certificate" in result.error
    assert https_server.requests == []


def test_a_context_trusting_the_certificate_fetches_over_one_connection(
    https_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    requests = [FeedRequest(str(i), https_server.url("/feed")) for i in range(3)]
    limits = FetchLimits(timeout=2, total_timeout=5, concurrency=1)
    results = asyncio.run(fetch_all(requests, limits, transport=Transport(context)))
    for result in results:
        assert result.status is FetchStatus.MODIFIED, result.error
        assert result.body == rss("secure")
    assert https_server.accepted == 1


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


# ---------------------------------------------------------------- stopping


def test_a_stopped_session_raises_at_once_without_waiting_for_timeouts(
    feed_server: FeedServer,
) -> None:
    feed_server.route("/hang", body=rss("late"), delay=60)
    stop = threading.Event()
    stopped_at: list[float] = []

    def stop_once_both_requests_wait() -> None:
        if feed_server.wait_until(lambda s: s.hits("/hang") == 2):
            stopped_at.append(time.monotonic())
            stop.set()

    stopper = threading.Thread(target=stop_once_both_requests_wait)
    stopper.start()
    with Session(FetchLimits(timeout=30, total_timeout=60), stop=stop) as session:
        with pytest.raises(FetchStopped):
            session.fetch([FeedRequest(str(i), feed_server.url("/hang")) for i in range(2)])
        raised_at = time.monotonic()
    stopper.join()
    assert stopped_at, "the requests never reached the server"
    assert raised_at - stopped_at[0] < 1


def test_a_fetch_given_up_before_the_answer_closes_its_connection(
    feed_server: FeedServer,
) -> None:
    """A feed abandoned on its total timeout while it waits for the response head: within a
    session (a daemon's lifetime) its socket must not stay open."""
    left = threading.Event()

    def never_answer(h: _RequestHandler) -> None:
        h.close_connection = True
        h.connection.settimeout(0.02)
        while not feed_server.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                if not h.connection.recv(1):
                    left.set()  # the client closed its end
                    return

    feed_server.route("/hang", never_answer)
    limits = FetchLimits(timeout=10, total_timeout=0.3)
    with Session(limits) as session, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = one(feed_server, "/hang", session)
        assert result.error == "fetch: gave up after 0.3s in all (total timeout)"
        assert left.wait(1), "the connection is still open"
        gc.collect()
    # closed by the transport, not only by StreamWriter.__del__ when the garbage is collected
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


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


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"ICY 200 OK\r\n\r\n" + rss("radio"), "illegal status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad Content-Length"),
        (b"", "server closed the connection without answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n<rss>", "without sending complete"),
    ],
    ids=["bad-status-line", "bad-content-length", "no-answer", "cut-short"],
)
def test_a_server_breaking_http_gives_a_protocol_error(
    feed_server: FeedServer, answer: bytes, error: str
) -> None:
    feed_server.route("/feed", raw(answer, close=True))
    [result] = fetch_sync([FeedRequest("f", feed_server.url("/feed"))], FAST)
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: server broke the HTTP protocol: "), result.error
    assert error in result.error


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://例え.jp/feed", ("http", "xn--r8jz45g.jp", 80)),
        ("https://NEWS.Example.com/rss", ("https", "news.example.com", 443)),
        ("http://[::1]:8080/rss", ("http", "::1", 8080)),
    ],
)
def test_an_international_host_is_reached_and_checked_by_its_ascii_name(
    url: str, origin: tuple[str, str, int]
) -> None:
    assert origin_of(httpx.URL(url)) == origin
