"""transport: a lean HTTP/1.1 transport for httpx on asyncio streams. The only module using h11.

httpx's default transport (httpcore) costs about 0.5 ms of CPU per request here, most of it
checking every idle connection of its pool with a system call each time it hands out one;
over loopback that is thirty times the cost of the request itself, and most checks of a
cycle are a 304. A feed check is one GET, so this transport does only what that needs:

- HTTP/1.1 through h11 (the parser httpcore itself uses), one request per connection at a
  time, the response body streamed as it arrives;
- connections kept alive per origin and reused while the client lives; a reused connection
  that the server closed in the meantime is replaced once, as any client does for a GET;
- TLS with the caller's context (certificates checked, SNI sent);
- the connect, read and write timeouts httpx passes with each request.

httpx keeps everything else: the client, headers, decoding and the exceptions raised, which
are httpx's own, so a caller cannot tell the transports apart except by their speed. Proxies
are httpx's business too: `fetch` uses this transport only when no proxy is configured.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import h11
import httpx

__all__ = ["Transport"]

T = TypeVar("T")
READ_SIZE = 65_536
MAX_HEADERS = 100 * 1024  # bytes of a response head, as httpcore allows
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
_Release = Callable[["_Connection"], None]


class Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio streams, with a keep-alive pool per origin."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{url.scheme}://'."
            )
        origin = (url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme])
        timeouts = request.extensions.get("timeout", {})
        connection = self._reusable(origin)
        if connection is not None:
            try:
                return await connection.send(request, timeouts, self._release)
            except _Stale:
                connection.close()  # closed by the server while idle: once more on a new one
        connection = await _Connection.open(origin, self._ssl, timeouts)
        try:
            return await connection.send(request, timeouts, self._release)
        except _Stale as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response."
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
            if connection.usable:
                return connection
            connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        """Back to the pool once its response was read to the end, if it can serve another."""
        if self._closed or not connection.next_cycle():
            connection.close()
            return
        self._idle.setdefault(connection.origin, []).append(connection)


class _Stale(Exception):
    """The server closed a connection before it answered anything."""


class _Connection:
    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADERS)

    @classmethod
    async def open(
        cls, origin: Origin, tls: ssl.SSLContext, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, host, port = origin
        secure = scheme == "https"
        try:
            reader, writer = await _within(
                timeouts.get("connect"),
                asyncio.open_connection(
                    host,
                    port,
                    ssl=tls if secure else None,
                    server_hostname=host if secure else None,
                    limit=READ_SIZE,
                ),
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return cls(origin, reader, writer)

    @property
    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    async def send(
        self,
        request: httpx.Request,
        timeouts: dict[str, float | None],
        release: _Release,
    ) -> httpx.Response:
        """Send the request head (a feed check has no body) and read the response head."""
        head = h11.Request(
            method=request.method,
            target=request.url.raw_path,
            headers=list(request.headers.raw),
        )
        try:
            self.writer.write(self.h11.send(head) + (self.h11.send(h11.EndOfMessage()) or b""))
            await _within(timeouts.get("write"), self.writer.drain())
        except TimeoutError as exc:
            self.close()
            raise httpx.WriteTimeout("write timed out") from exc
        except OSError as exc:
            raise _Stale() from exc
        answered = False
        while True:
            event = await self._next_event(timeouts.get("read"), stale_on_eof=not answered)
            if isinstance(event, h11.InformationalResponse):
                answered = True
                continue
            if not isinstance(event, h11.Response):
                self.close()
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} from server")
            return httpx.Response(
                status_code=event.status_code,
                headers=event.headers.raw_items(),
                stream=_Body(self, timeouts.get("read"), release),
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": event.reason},
            )

    async def _next_event(self, timeout: float | None, *, stale_on_eof: bool = False) -> object:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    self.close()
                    if stale_on_eof:
                        raise _Stale()
                    raise httpx.RemoteProtocolError("server closed the connection mid-response")
                return event
            try:
                data = await _within(timeout, self.reader.read(READ_SIZE))
            except TimeoutError as exc:
                self.close()
                raise httpx.ReadTimeout("read timed out") from exc
            except OSError as exc:
                self.close()
                if stale_on_eof and self.h11.their_state is h11.SEND_RESPONSE:
                    raise _Stale() from exc
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            if not data and stale_on_eof and self.h11.their_state is h11.SEND_RESPONSE:
                self.close()
                raise _Stale()
            try:
                self.h11.receive_data(data)
            except h11.RemoteProtocolError as exc:
                self.close()
                raise httpx.RemoteProtocolError(str(exc)) from exc

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
        self.h11.start_next_cycle()
        return self.usable

    def close(self) -> None:
        self.writer.close()


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; the connection goes back to the pool at its end."""

    def __init__(self, connection: _Connection, timeout: float | None, release: _Release) -> None:
        self._connection = connection
        self._timeout = timeout
        self._release = release
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._done:
            event = await self._connection._next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                self._release(self._connection)

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


async def _within(timeout: float | None, awaitable: Awaitable[T]) -> T:
    async with asyncio.timeout(timeout):  # no task of its own, unlike asyncio.wait_for
        return await awaitable
