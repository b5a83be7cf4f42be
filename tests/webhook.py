"""A real HTTP webhook receiver on 127.0.0.1 for tests, collecting POSTed JSON.

    with running_webhook(fail_first=2) as hook:
        url = hook.apprise_url("/alerts")              # json://127.0.0.1:PORT/alerts
        ...
        hook.received[0].json["message"]

`fail_first=N` answers the first N requests with `fail_status` (500; a 429 or a 503 comes
with `Retry-After: retry_after`, 120 unless told, none when None); `redirect=301` (or another
3xx) answers every request with that redirect to `location` (`/moved`, which answers 200, to a
GET as well, as many servers do; or another server's address); `answer` is the body of every
answer (`{}`; Slack's webhooks answer `ok`); `max_chars=N` answers 400
to a JSON body with a string longer than N characters, as services with a limit on a message
do (Mattermost, Discord, Telegram…); `delay` seconds pass before each
answer; with `hold=True` no request is answered until `hook.release.set()` (set on exit), and
`hook.arrived` counts those waiting, so a test sees a slow channel without timing it.
`closed_port()` gives a port nothing listens on, for a channel that is down.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Webhook:
    host: str
    port: int
    fail_first: int = 0
    fail_status: int = 500
    redirect: int = 0
    max_chars: int = 0
    delay: float = 0.0
    hold: bool = False
    location: str = "/moved"
    answer: bytes = b"{}"
    retry_after: str | None = "120"
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    requests: list[Request] = field(default_factory=list)  # every request, failed or not
    received: list[Request] = field(default_factory=list)  # the POSTs answered 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apprise_url(self, path: str = "/hook") -> str:
        return f"json://{self.host}:{self.port}{path}"

    def record(self, request: Request) -> int:
        with self.lock:
            self.requests.append(request)
            if len(self.requests) <= self.fail_first:
                return self.fail_status
            if self.redirect and request.path != "/moved":
                return self.redirect
            if self.max_chars and _longest_string(request.json) > self.max_chars:
                return 400
            if request.method == "POST":
                self.received.append(request)
            return 200


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_longest_string(v) for v in items), default=0)


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            time.sleep(hook.delay)
            if hook.hold:
                hook.arrived.release()
                hook.release.wait()
            request = Request(self.path, dict(self.headers.items()), body, self.command)
            status = hook.record(request)
            self.send_response(status)
            if status in (429, 503) and hook.retry_after is not None:
                self.send_header("Retry-After", hook.retry_after)
            if 300 <= status < 400:
                self.send_header("Location", hook.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(hook.answer)))
            self.end_headers()
            self.wfile.write(hook.answer)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@contextlib.contextmanager
def running_webhook(
    *,
    fail_first: int = 0,
    fail_status: int = 500,
    redirect: int = 0,
    max_chars: int = 0,
    delay: float = 0.0,
    hold: bool = False,
    location: str = "/moved",
    answer: bytes = b"{}",
    retry_after: str | None = "120",
) -> Iterator[Webhook]:
    hook = Webhook(
        HOST, 0, fail_first=fail_first, fail_status=fail_status, redirect=redirect,
        max_chars=max_chars, delay=delay, hold=hold, location=location, answer=answer,
        retry_after=retry_after,
    )  # fmt: skip
    server = ThreadingHTTPServer((HOST, 0), _handler(hook))
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def receiving_every_request(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """A receiver that every request made through `requests` reaches, whatever host and scheme
    it names: the transport's only change, for plugins whose host is fixed (Ryver's
    https://ORG.ryver.com, ServerChan's, Gotify's)."""
    send = requests.Session.send

    def to_hook(
        session: requests.Session, request: requests.PreparedRequest, **kw: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(("http", f"{hook.host}:{hook.port}", parts.path, parts.query, ""))
        return send(session, request, **kw)

    with running_webhook() as hook:
        monkeypatch.setattr(requests.Session, "send", to_hook)
        yield hook


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port
