"""transport: a lean HTTP/1.1 transport for httpx on asyncio. The only module importing h11.

httpx's default transport (httpcore) checks every idle connection of its pool with a system
call each time it hands out one, which cost more CPU than the requests themselves when most
checks of a cycle are a 304 (see the README's Performance section). A feed check is one GET,
so this transport does only what that needs:

- HTTP/1.1 through h11 (the parser httpcore itself uses), one request per connection at a
  time, the response body streamed as it arrives;
- connections kept alive per origin while the client lives. A connection is reused only when
  its answer was read to the end and nothing came after it, not even while it sat idle (a
  server's 408 goodbye); one that the server closed while idle is replaced once, as any
  client does for a GET. A request given up (a timeout, a cancellation) closes its connection;
- TLS with the caller's context (certificates checked, SNI sent);
- the connect and read timeouts httpx passes with each request (a request head is small
  enough to leave in the socket buffer, so there is no write wait).

httpx keeps the rest: request and response models, decoding and the exceptions raised, which
are httpx's own. `fetch` sends through this transport, or through httpx's own when the
environment names a proxy for the URL.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import AsyncIterator, Callable

import h11
import httpx

__all__ = ["Transport", "origin_of"]

MAX_HEADERS = 100 * 1024  # bytes of a response head, as httpcore allows
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
_Release = Callable[["_Connection"], None]


class Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio, with a keep-alive pool per origin."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = origin_of(request.url)
        timeouts = request.extensions.get("timeout", {})
        connection = self._reusable(origin)
        if connection is not None:
            try:
                return await connection.send(request, timeouts, self._release)
            except _Stale:
                pass  # closed by the server while idle: once more on a new connection
        connection = await _Connection.open(origin, self._ssl, timeouts)
        try:
            return await connection.send(request, timeouts, self._release)
        except _Stale as exc:
            raise httpx.RemoteProtocolError(
                "server closed the connection without answering"
            ) from exc

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _reusable(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        """Back to the pool once its response was read to the end, if it can serve another."""
        if self._closed or not connection.next_cycle():
            connection.close()
            return
        self._idle.setdefault(connection.origin, []).append(connection)


def origin_of(url: httpx.URL) -> Origin:
    """(scheme, host, port) to connect to; an international host in its ASCII (IDNA) form,
    which is also the name its certificate is checked against."""
    if url.scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
    return url.scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS[url.scheme]


class _Stale(Exception):
    """The server closed a kept-alive connection before it answered anything."""


class _Connection(asyncio.Protocol):
    """One connection: bytes arrive in `data_received` and are parsed by h11 on demand."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADERS)
        self.transport: asyncio.Transport | None = None
        self._busy = False  # a request is in flight: what arrives is its answer
        self._spoke_while_idle = False  # a 408, or anything else unasked for: never reuse
        self._lost = False
        self._heard = False  # any byte of the answer to the request in flight
        self._waiter: asyncio.Future[None] | None = None

    @classmethod
    async def open(
        cls, origin: Origin, tls: ssl.SSLContext, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, host, port = origin
        secure = scheme == "https"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _transport, connection = await loop.create_connection(
                    lambda: cls(origin),
                    host,
                    port,
                    ssl=tls if secure else None,
                    server_hostname=host if secure else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            self._spoke_while_idle = True
            return
        self._heard = True
        self.h11.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self._end_of_input()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._end_of_input()

    def _end_of_input(self) -> None:
        if self._busy:
            self.h11.receive_data(b"")
        else:
            self._spoke_while_idle = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ------------------------------------------------------------ requests

    def reusable(self) -> bool:
        """Idle, open, and nothing arrived while idle (not even bytes not read yet)."""
        if self._lost or self._spoke_while_idle or self.transport is None:
            return False
        if self.transport.is_closing():
            return False
        sock = self.transport.get_extra_info("socket")
        return sock is None or not _readable(sock.fileno())

    async def send(
        self,
        request: httpx.Request,
        timeouts: dict[str, float | None],
        release: _Release,
    ) -> httpx.Response:
        """Send the request head (a feed check has no body) and read the response head."""
        assert self.transport is not None
        self._busy, self._heard = True, False
        try:
            head = h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
            self.transport.write(self.h11.send(head) + (self.h11.send(h11.EndOfMessage()) or b""))
            while True:
                try:
                    event = await self.next_event(timeouts.get("read"))
                except httpx.RemoteProtocolError as exc:
                    if self._heard:
                        raise
                    raise _Stale() from exc  # closed before a byte of the answer
                if isinstance(event, h11.Response):
                    return httpx.Response(
                        status_code=event.status_code,
                        headers=event.headers.raw_items(),
                        stream=_Body(self, timeouts.get("read"), release),
                        extensions={"http_version": b"HTTP/1.1", "reason_phrase": event.reason},
                    )
                if not isinstance(event, h11.InformationalResponse):
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except BaseException:  # a timeout or a cancellation included: nothing may reuse it
            self.close()
            raise

    async def next_event(self, timeout: float | None) -> object:
        """The next h11 event, waiting up to `timeout` for more bytes."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError as exc:
                self.close()
                raise httpx.ReadTimeout("read timed out") from exc
            finally:
                self._waiter = None

    def buffered_end(self) -> bool:
        """Whether the response ends in what was already received (reads nothing more)."""
        try:
            while isinstance(event := self.h11.next_event(), h11.Data):
                pass
        except h11.RemoteProtocolError:
            return False
        return isinstance(event, h11.EndOfMessage)

    def next_cycle(self) -> bool:
        """Ready the connection for another request; False when it cannot take one."""
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False
        if self.h11.trailing_data[0]:  # bytes past the end of the answer: the server lied
            return False
        self.h11.start_next_cycle()
        self._busy = False
        return self.reusable()

    def close(self) -> None:
        self._busy = False
        if self.transport is not None:
            self.transport.close()


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; the connection goes back to the pool at its end."""

    def __init__(self, connection: _Connection, timeout: float | None, release: _Release) -> None:
        self._connection = connection
        self._timeout = timeout
        self._release = release
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._done:
            event = await self._connection.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                self._release(self._connection)
            elif isinstance(event, h11.ConnectionClosed):
                self._done = True
                self._connection.close()
                raise httpx.RemoteProtocolError("server closed the connection mid-answer")

    async def aclose(self) -> None:
        if self._done:
            return
        self._done = True
        # Not iterated to its end: fine when the end is already here (a 304, an empty body),
        # else the rest would arrive as the answer to the next request.
        if self._connection.buffered_end():
            self._release(self._connection)
        else:
            self._connection.close()


def _readable(fd: int) -> bool:
    """Whether bytes (or the end) wait on a socket, without blocking. poll, not select: a
    daemon's descriptors may pass select's limit of 1024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
