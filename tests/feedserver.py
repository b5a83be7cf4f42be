"""A real HTTP server on 127.0.0.1 for fetch tests, with routes configured per test.

    def test_x(feed_server: FeedServer) -> None:
        feed_server.route("/feed.xml", body=b"<rss/>", etag='"v1"')
        feed_server.redirect("/old", "/feed.xml", status=301)
        url = feed_server.url("/old")
        ...
        assert feed_server.hits("/feed.xml") == 1

Each route answers with a status, headers and a body, and can: honour If-None-Match /
If-Modified-Since (answer 304), gzip its body, send it chunked or close-delimited, lie
about Content-Length, wait before answering, or trickle the body slowly. Every request's
path and headers are recorded. A route may also be any callable taking the handler.
Waits end early when the server stops, so a hanging route never blocks the test-suite.

Options of the server itself, for transport tests: `tls=(certfile, keyfile)` serves HTTPS;
`idle_timeout=s` closes a keep-alive connection left idle that long, after sending
`idle_goodbye` (bytes, e.g. a 408 answer). `accepted` and `closed` count connections, and
`wait_until(predicate)` waits for a condition on the server's state.
"""

from __future__ import annotations

import gzip
import select
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

__all__ = ["FeedServer", "Handler", "Recorded", "Route", "feed_server"]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # sent as ETag; a matching If-None-Match gets 304
    last_modified: str | None = None  # sent as Last-Modified; an equal If-Modified-Since: 304
    gzip: bool = False  # compress the body, Content-Encoding: gzip
    chunked: bool = False  # Transfer-Encoding: chunked instead of Content-Length
    close_delimited: bool = False  # no length at all: the body ends when the connection closes
    content_length: int | None = None  # a Content-Length to claim instead of the real one
    delay: float = 0.0  # seconds to wait before the status line
    trickle: float = 0.0  # seconds to wait between chunks of the body
    chunk_size: int = 1024


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]  # lower-cased names


Handler = Callable[["_RequestHandler"], None]


class FeedServer:
    """Routes by path (query string included when the route names one)."""

    def __init__(
        self,
        *,
        tls: tuple[Path, Path] | None = None,
        idle_timeout: float | None = None,
        idle_goodbye: bytes = b"",
    ) -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self.idle_timeout = idle_timeout
        self.idle_goodbye = idle_goodbye
        self.accepted = 0  # connections accepted
        self.closed = 0  # connections closed by the server after serving them
        self._lock = threading.Condition()
        self._httpd = _QuietServer(("127.0.0.1", 0), _RequestHandler)
        self._httpd.tls = _server_context(tls) if tls else None
        self._httpd.feed_server = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -------------------------------------------------------- configuring

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        scheme = "https" if self._httpd.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def route(
        self, path: str, handler: Handler | None = None, /, **options: object
    ) -> Route | None:
        """Serve `path` with a Route built from `options`, or with a callable handler."""
        if handler is not None:
            self.routes[path] = handler
            return None
        route = Route(**options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.route(path, status=status, headers={"Location": to})

    # -------------------------------------------------------- inspecting

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(Recorded(path, headers))
            self._lock.notify_all()

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def last(self, path: str) -> Recorded:
        with self._lock:
            return [r for r in self.requests if r.path == path][-1]

    def count_connection(self, *, closed: bool = False) -> None:
        with self._lock:
            if closed:
                self.closed += 1
            else:
                self.accepted += 1
            self._lock.notify_all()

    def wait_until(self, predicate: Callable[[FeedServer], bool], timeout: float = 60) -> bool:
        """Wait until `predicate(self)` holds (checked at each request and connection); the
        timeout only turns a hang into False, so it is far above any loaded machine's pace."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self), timeout)

    # -------------------------------------------------------- life cycle

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    feed_server: FeedServer
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.tls is not None:  # the handshake happens in the connection's own thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def process_request(self, request: object, client_address: object) -> None:
        self.feed_server.count_connection()
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def finish_request(self, request: object, client_address: object) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.do_handshake()
        super().finish_request(request, client_address)  # type: ignore[arg-type]

    def shutdown_request(self, request: object) -> None:
        super().shutdown_request(request)  # type: ignore[arg-type]
        self.feed_server.count_connection(closed=True)

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return  # a client that gave up or refused our certificate: expected here
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedserver/1"

    @property
    def feed_server(self) -> FeedServer:
        return self.server.feed_server  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def handle(self) -> None:
        """Requests until the connection closes; or, with the server's `idle_timeout`,
        until it has been idle that long (then `idle_goodbye` is sent and it closes)."""
        idle = self.feed_server.idle_timeout
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            if idle is not None and not _readable(self.connection, idle):
                if self.feed_server.idle_goodbye:
                    self.wfile.write(self.feed_server.idle_goodbye)
                return
            self.handle_one_request()

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.feed_server.record(self.path, headers)
        route = self.feed_server.routes.get(self.path) or self.feed_server.routes.get(
            self.path.split("?", 1)[0]
        )
        if route is None:
            self.answer(Route(status=404, body=b"not found"))
        elif isinstance(route, Route):
            self.answer(route)
        else:
            route(self)

    def wait(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping."""
        return not self.feed_server.stopping.wait(seconds)

    def answer(self, route: Route) -> None:
        if route.delay and not self.wait(route.delay):
            return
        if self._not_modified(route):
            self.send_response(304)
            if route.etag:
                self.send_header("ETag", route.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = gzip.compress(route.body) if route.gzip else route.body
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        if route.gzip:
            self.send_header("Content-Encoding", "gzip")
        self._send_body(route, body)

    def _not_modified(self, route: Route) -> bool:
        if route.etag and self.headers.get("If-None-Match") == route.etag:
            return True
        since = self.headers.get("If-Modified-Since")
        return bool(route.last_modified and since == route.last_modified)

    def _send_body(self, route: Route, body: bytes) -> None:
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif route.close_delimited:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            length = len(body) if route.content_length is None else route.content_length
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            for chunk in _chunks(body, route.chunk_size):
                if route.trickle and not self.wait(route.trickle):
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if route.chunked else chunk)
                self.wfile.flush()
            if route.chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: expected in limit tests


def _readable(sock: socket.socket, timeout: float) -> bool:
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(select.select([sock], [], [], timeout)[0])


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), max(1, size)):
        yield body[start : start + size]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server
