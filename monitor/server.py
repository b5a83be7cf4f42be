"""What stands between a socket and the app: uvicorn and its limits (the checks every request
passes before an endpoint sees it are monitor.guard's).

The only module that imports uvicorn. `WebServer` runs an app on a background thread
(`monitor run`), `serve` in the foreground (`monitor serve`); both with `Limits`:

- at most `max_connections` open connections. uvicorn's `limit_concurrency` counts idle
  sockets as well and answers 503 once they fill it, so 300 idle sockets would lock everyone
  out; here a new connection closes instead the one that has waited longest without a request
  in progress (idle, or still sending its headers), and is itself closed only when every
  open connection is busy with a request.
- a request's line and headers at most `max_header_bytes` and `max_headers` lines, else 431.
  httptools (uvicorn's parser) has no limit and buffers a header line whole, so the bytes
  are counted before they reach it; h11's `max_incomplete_event_size` would do the same for
  h11 only.
- `header_timeout`: a connection that opened, or began a request, and has not completed the
  headers this long after is closed (idle sockets, slowloris). uvicorn's `timeout_keep_alive`
  only starts after a first answer.
- `keepalive_timeout`: uvicorn's `timeout_keep_alive`, an idle connection after an answer.

The protocol's own refusals (400, 431) carry `X-Content-Type-Options: nosniff`, as every answer
through `guard.Guard` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from monitor.domain import parse_http_date
from monitor.errors import MonitorError
from monitor.guard import MAX_BODY_BYTES
from monitor.settings import Settings

__all__ = [
    "Limits",
    "WebServer",
    "cache_headers",
    "etag_of",
    "http_date",
    "not_modified",
    "read_at_most",
    "serve",
]

log = logging.getLogger("monitor.web")


_SLICE = 4096  # bytes fed to the parser at a time while it reads headers


@dataclass(frozen=True)
class Limits:
    """The caps of one server; the defaults are the settings' defaults."""

    max_connections: int = 100
    max_header_bytes: int = 32768
    max_headers: int = 100
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_connections=settings.http_max_connections,
            max_header_bytes=settings.http_max_header_bytes,
            max_headers=settings.http_max_headers,
            header_timeout=settings.http_header_timeout.total_seconds(),
            keepalive_timeout=settings.http_keepalive_timeout.total_seconds(),
            max_body_bytes=settings.http_max_body_bytes,
        )


# ---------------------------------------------------------------- the connection


class _Refused(Exception):
    """Raised from a parser callback to stop reading a request that is over a limit."""


class _GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on open connections, on header bytes and lines,
    and a deadline for the headers. `LIMITS` is set by the subclass `_protocol` makes."""

    LIMITS = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True  # no request whose headers are complete is in progress
        self._header_bytes = 0
        self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: HTTPStatus | None = None
        self._waiting_since = 0.0

    # -------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._waiting_since = self.loop.time()
        self._arm_header_timer()
        self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._awaiting_headers:
                super().data_received(data)
                return
            self._arm_header_timer()
            room = self.LIMITS.max_header_bytes - self._header_bytes
            if room <= 0:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                return
            piece, data = data[: min(room, _SLICE)], data[min(room, _SLICE) :]
            self._header_bytes += len(piece)
            try:
                super().data_received(piece)
            except _Refused:  # httptools passed the callback's exception through
                self._refuse(self._refusal or HTTPStatus.BAD_REQUEST)
                return

    # -------------------------------------------------------- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.LIMITS.max_headers:
            self._refusal = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # super() starts the next one, whose headers are read
        super().on_response_complete()
        if not pipelined:
            self._awaiting_headers = True
            self._waiting_since = self.loop.time()

    # -------------------------------------------------------- refusals

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse; also how httptools reports the
        exception a callback raised, so the refusal a limit chose is answered here."""
        self._refuse(self._refusal or HTTPStatus.BAD_REQUEST)

    def _refuse(self, status: HTTPStatus) -> None:
        if self.transport.is_closing():
            return
        text = {
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
                f"web: request headers over {self.LIMITS.max_header_bytes} bytes "
                f"or {self.LIMITS.max_headers} lines"
            ),
        }.get(status, "web: invalid HTTP request")
        log.warning("%s from %s", text, self.client[0] if self.client else "?")
        body = json.dumps({"detail": text}).encode()
        head = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "x-content-type-options: nosniff",
            "connection: close",
        ]
        self.transport.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)
        self.transport.close()

    # -------------------------------------------------------- the header deadline

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.LIMITS.header_timeout, self._headers_late
            )

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            log.info("web: closed a connection that sent no complete request in time")
            self.transport.close()

    # -------------------------------------------------------- the connection cap

    @property
    def _busy(self) -> bool:
        """A request of this connection is being answered (or waits behind one)."""
        return not self._awaiting_headers or bool(self.pipeline)

    def _make_room(self) -> None:
        """Over the cap: close the connection that has waited longest for a request; this
        new one when every other is busy."""
        open_ = [
            c
            for c in self.connections
            if isinstance(c, _GuardedProtocol) and not c.transport.is_closing()
        ]
        if len(open_) <= self.LIMITS.max_connections:
            return
        waiting = [c for c in open_ if c is not self and not c._busy]
        if not waiting:
            log.warning("web: %d connections busy; refusing a new one", len(open_) - 1)
            self.transport.close()
            return
        oldest = min(waiting, key=lambda c: c._waiting_since)
        log.info("web: at %d connections; closing the one idle longest", len(open_) - 1)
        oldest.transport.close()


def _protocol(limits: Limits) -> type[asyncio.Protocol]:
    return type("GuardedProtocol", (_GuardedProtocol,), {"LIMITS": limits})


# ---------------------------------------------------------------- serving


def _config(app: Any, host: str, port: int, limits: Limits) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_protocol(limits),
        ws="none",  # no endpoint speaks WebSocket: an upgrade request is plain HTTP
        log_config=None,  # the logging monitor.logs configured
        lifespan="off",
        access_log=False,  # monitor.logs silences uvicorn.access anyway; skip building lines
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=limits.keepalive_timeout,  # type: ignore[arg-type]  # a float works
        backlog=min(2048, 8 * limits.max_connections),
    )


class _ForegroundServer(uvicorn.Server):
    """Stops gracefully on SIGTERM or SIGINT and returns, instead of re-raising the signal
    once stopped (uvicorn's default), so that `monitor serve` exits 0 like `monitor run`."""

    def __init__(self, config: uvicorn.Config, stop: Callable[[], bool] | None = None) -> None:
        super().__init__(config)
        self._stop = stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def on_tick(self, counter: int) -> bool:
        """Every tenth of a second: stop (gracefully, as on SIGTERM) once `stop()` says so."""
        if self._stop is not None and self._stop():
            return True
        return await super().on_tick(counter)


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    limits: Limits | None = None,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Run in the foreground until SIGINT or SIGTERM (`monitor serve`), or until `stop()` (a
    flag: it is asked ten times a second) says so. A port it cannot listen on (taken) is a
    MonitorError, as for `WebServer.start`: uvicorn logs why and exits 3."""
    server = _ForegroundServer(_config(app, host, port, limits or Limits()), stop)
    try:
        server.run()
    except SystemExit:
        if server.started:
            raise
        raise MonitorError(f"web: unable to listen on {host}:{port}") from None


class WebServer:
    """uvicorn on a background thread: `start()` returns once it listens, `stop()` waits
    (bounded) for open requests. Port 0 picks a free port; `port` tells which."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None
    ) -> None:
        self._server = uvicorn.Server(_config(app, host, port, limits or Limits()))
        self._thread: threading.Thread | None = None
        self.host = host

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        if not servers or not servers[0].sockets:
            raise MonitorError("web: the server is not listening")
        return int(servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise MonitorError("web: the server was already started")
        self._thread = threading.Thread(target=self._run, name="monitor-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise MonitorError(
                    f"web: unable to listen on {self.host}:{self._server.config.port}"
                )
            time.sleep(0.01)
        log.info("web: listening on %s", self.url)

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; start() reports it
            log.debug("web: the server thread ended at start-up")

    def stop(self, timeout: float = 10.0) -> None:
        """Finish open requests (at most `timeout` seconds), then close."""
        thread = self._thread
        if thread is None:
            return
        self._server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            self._server.force_exit = True
            thread.join(2.0)

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- conditional requests


def etag_of(body: bytes) -> str:
    """A strong ETag: a hash of the body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def cache_headers(*, guarded: bool) -> dict[str, str]:
    """How an answer with an ETag may be kept, the same on its 200 and on its 304 (a cache takes
    the 304's headers for the copy it keeps, so a 304 without them left a copy shared). Every
    copy is checked again before it is used (`no-cache`). Behind tokens (`guarded`) an answer is
    for the one who asked: no shared cache keeps it (`private`), and a browser keeps its copy per
    Cookie and Authorization, since a page carries the visitor's name and CSRF token and, without
    them, the answer is the sign-in page or 401."""
    if guarded:
        return {"Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    return {"Cache-Control": "no-cache"}


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime | None) -> bool:
    """Whether the client's copy is current: by If-None-Match, else If-Modified-Since."""
    match = headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since = headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    client = parse_http_date(since)
    return client is not None and last_modified.replace(microsecond=0) <= client


async def read_at_most(stream: AsyncIterator[bytes], limit: int) -> bytes | None:
    """A request's body, read no further than `limit` bytes: None past it."""
    chunks, size = [], 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
