"""A TCP proxy on 127.0.0.1 in front of the test's PostgreSQL that can lose a connection right
after a transaction committed: the server commits and answers, the answer never reaches the
client, which sees its connection closed (what a restart of the server, or a network cut,
between its commit and its answer does); or while a statement runs (`statement=True`: the
answer to that statement is lost so). The fault is at the transport: the bytes are
PostgreSQL's own protocol, read only to find the COMMIT (a simple query, as psycopg sends it)
and what the transaction ran (the query texts, in Parse and Query messages)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

STARTUP = 196608  # protocol 3.0: the startup message (an SSL or GSS request comes before it)


class LosesACommit:
    """`url` goes through the proxy. `arm(b"text")`: the next transaction whose statements
    contain `text` commits, and its connection is then closed before the client reads the
    answer; `lost` is set then (once: the proxy forwards faithfully after). `arm(b"text",
    times=n)`: the next n such transactions, each on its connection; `losses` counts them;
    `skip=k`: after k such transactions went through. `statement=True`: statements rather than
    transactions, each lost as it runs (the client never has its answer, whether or not its
    transaction ever commits: a read's, a dry run's)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._server = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
        query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
        self.url = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
        self.lost = threading.Event()
        self._marker: bytes | None = None
        self._left = 0  # transactions still to lose
        self._skip = 0  # transactions to let through first
        self._statement = False  # lose a statement's answer, not its transaction's commit's
        self.losses = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def arm(self, marker: bytes, *, times: int = 1, skip: int = 0, statement: bool = False) -> None:
        with self._lock:
            self._marker, self._left, self._skip = marker, times, skip
            self._statement = statement
            self.losses = 0
            self.lost.clear()

    def __enter__(self) -> LosesACommit:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._server)
            with self._lock:
                self._sockets += [client, server]
            doomed = threading.Event()  # the next answer to the client is not forwarded
            up = threading.Thread(target=self._up, args=(client, server, doomed), daemon=True)
            down = threading.Thread(target=self._down, args=(server, client, doomed), daemon=True)
            up.start()
            down.start()

    def _up(self, client: socket.socket, server: socket.socket, doomed: threading.Event) -> None:
        """Client to server, message by message; the COMMIT of an armed transaction dooms its
        answer (an armed statement, its own). A transaction's text: its queries, and those of
        the prepared statements it runs (psycopg prepares a statement run often, then sends
        only its name)."""
        statements: dict[bytes, bytes] = {}
        transaction = b""
        for kind, body in _messages(client, server):
            if kind == b"P":  # Parse: name, query
                name, text = body.split(b"\0", 2)[:2]
                statements[name] = text
                transaction += text
            elif kind == b"B":  # Bind: portal, statement
                text = statements.get(body.split(b"\0", 2)[1], b"")
                transaction += text
                if self._hit(text, statement=True):
                    doomed.set()
            elif kind == b"Q":
                if body.rstrip(b"\0") in (b"COMMIT", b"ROLLBACK"):
                    if body.startswith(b"COMMIT") and self._hit(transaction, statement=False):
                        doomed.set()
                    transaction = b""
                else:
                    transaction += body
                    if self._hit(body, statement=True):
                        doomed.set()
        _close(client, server)

    def _hit(self, text: bytes, *, statement: bool) -> bool:
        """Whether `text` (a statement's, or a committing transaction's) is the next armed one
        to lose, counting it."""
        with self._lock:
            if self._marker is None or self._statement != statement:
                return False
            if self._marker not in text:
                return False
            if self._skip:
                self._skip -= 1
                return False
            self._left -= 1
            if not self._left:
                self._marker = None
            return True

    def _down(self, server: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        """Server to client, until a doomed answer: then both ends are closed."""
        for chunk in _chunks(server):
            if doomed.is_set():
                with self._lock:
                    self.losses += 1
                self.lost.set()
                _close(client, server)
                return
            with contextlib.suppress(OSError):
                client.sendall(chunk)
        _close(client, server)


def _messages(client: socket.socket, server: socket.socket) -> Iterator[tuple[bytes, bytes]]:
    """The messages from `client` (type, body), forwarded to `server` once those of the chunk
    that completes them were yielded; those before the startup message have no type (b"")."""
    buffer = b""
    started = False
    for chunk in _chunks(client):
        buffer += chunk
        while True:
            head = 4 if not started else 5
            if len(buffer) < head:
                break
            length = int.from_bytes(buffer[head - 4 : head], "big")
            if len(buffer) < head - 4 + length:
                break
            kind = buffer[:1] if started else b""
            body = buffer[head : head - 4 + length]
            buffer = buffer[head - 4 + length :]
            if not started:
                started = int.from_bytes(body[:4], "big") == STARTUP
            yield kind, body
        with contextlib.suppress(OSError):
            server.sendall(chunk)


def _chunks(sock: socket.socket) -> Iterator[bytes]:
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        yield chunk


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
