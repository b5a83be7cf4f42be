"""The checks every request passes before an endpoint sees it (`monitor.web` puts the app
behind them; `monitor.server` runs it).

`Guard`, an ASGI middleware, answers HEAD wherever GET is answered (FastAPI routes GET only),
refuses a request whose Host is not allowed with 400 (DNS rebinding: a page on another site
whose name resolves to 127.0.0.1 must not read the API; allowed: the loopback names, the bind
address or MONITOR_HTTP_ALLOWED_HOSTS, and MONITOR_PUBLIC_URL's host; a port not digits is
none, and so is an IPv6 address out of its brackets: `_host_and_port`), refuses with 403 a
request that could change state (any method but GET, HEAD, OPTIONS) which the browser says
comes from a page of another site (`cross_site`: a form there, or a `fetch` with a body but no
Content-Type, which needs no CORS preflight and which FastAPI before 0.132 read as JSON), or
whose site it does not say (`Origin: null` without Sec-Fetch-Site: `site_refusal`),
refuses a body over `max_body_bytes` with 413 before any endpoint reads it (a declared
Content-Length at once; a chunked body once that many bytes arrived, so it is never held
whole), and puts `X-Content-Type-Options: nosniff` on every answer.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CROSS_SITE",
    "MAX_BODY_BYTES",
    "NOSNIFF",
    "NULL_ORIGIN",
    "BodyTooLarge",
    "Guard",
    "cross_site",
    "site_refusal",
]

log = logging.getLogger("monitor.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

NOSNIFF = (b"x-content-type-options", b"nosniff")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 65536  # MONITOR_HTTP_MAX_BODY_BYTES's default


def _host_and_port(value: str, *, bare_ipv6: bool = False) -> tuple[str, int | None]:
    """A Host header's name and port: 'Example.org:8000' -> ('example.org', 8000), '[::1]:8000'
    -> ('[::1]', 8000), an IPv6 address in brackets and in its one short form ('[0:0::1]' ->
    '[::1]'), an IPv4-mapped one as its IPv4 address ('[::ffff:127.0.0.1]' -> '127.0.0.1');
    ('', None) for what no client sends as a Host. An IPv6 address is written in
    brackets there (RFC 3986's IP-literal): a bare one ('::1') is none, since with a port
    ('::1:8000') it is itself another address. `bare_ipv6`: read a bare one as an address
    without a port, as an allowed host in the settings and the server's own address are."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        if rest and not rest.startswith(":"):  # '[::1]evil': no host a browser sends
            return "", None
        name, port = _ipv6(name[1:]), rest.removeprefix(":")
    elif value.count(":") > 1:  # a bare IPv6 address
        name, port = (_ipv6(value) if bare_ipv6 else ""), ""
    else:
        name, _, port = value.partition(":")
    if not name or (port and not (port.isascii() and port.isdigit())):  # 'localhost:80@evil'
        return "", None
    return name.rstrip("."), int(port) if port else None


def _ipv6(address: str) -> str:
    """'0:0::1' -> '[::1]', as a Host header writes it; an IPv4-mapped address as the IPv4
    address it is ('::ffff:127.0.0.1' -> '127.0.0.1': a dual-stack socket's peer and server
    are written so); "" for what is no IPv6 address."""
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return ""
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return f"[{parsed.compressed}]"


def _unbracketed(host: str) -> bool:
    """A Host header that is an IPv6 address without its brackets ('::1', '::1:8000')."""
    return host.count(":") > 1 and not host.strip().startswith("[")


def _public_host(public_url: str | None) -> list[str]:
    """The host of MONITOR_PUBLIC_URL, as a Host header names it: [] when unset."""
    host = urlsplit(public_url).hostname if public_url else None
    if not host:
        return []
    return [f"[{host}]" if ":" in host else host]


class Guard:
    """ASGI middleware: the Host check, HEAD as GET without the body, and nosniff."""

    def __init__(
        self,
        app: App,
        *,
        allowed_hosts: Iterable[str],
        bind_host: str,
        public_url: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # The loopback names always: no page can make a browser send them (DNS rebinding sends
        # the attacker's name), and the image's healthcheck and a shell on the machine use them.
        # The public address's host too: readers reach the page there, through a proxy that
        # may pass their Host on, and it is the operator's name, which no attacker resolves.
        named = list(allowed_hosts)
        allowed = [*LOCAL_HOSTS, *(named or [bind_host]), *_public_host(public_url)]
        self._any = "*" in allowed
        self._allowed = [_host_and_port(a, bare_ipv6=True) for a in allowed if a != "*"]
        self._local = not named  # the default also allows the local address

    def allows(self, host: str, server: tuple[str, int | None] | None) -> bool:
        if self._any:
            return True
        name, port = _host_and_port(host)
        if not name:
            return False
        if self._local and server and _host_and_port(str(server[0]), bare_ipv6=True)[0] == name:
            return True
        for allowed, allowed_port in self._allowed:
            suffix = allowed.removeprefix("*")
            hit = name == allowed or (allowed.startswith("*.") and name.endswith(suffix))
            if hit and allowed_port in (None, port):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if not self.allows(host, scope.get("server")):
            log.info("web: refused Host %r", host[:100])
            await _plain_error(send, 400, refused_host(host))
            return
        refusal = None if scope["method"] in SAFE_METHODS else site_refusal(_headers(scope))
        if refusal is not None:
            log.info("web: refused a %s: %s", scope["method"], refusal.removeprefix("web: "))
            await _plain_error(send, 403, refusal)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        if not declared.isdigit() or int(declared) > self.max_body_bytes:
            await _plain_error(send, 413, self._too_large)
            return
        body = _CappedBody(receive, self.max_body_bytes)
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        refused = False

        async def guarded(message: Message) -> None:
            nonlocal refused
            if body.over:  # whatever the endpoint made of the cut body (FastAPI: a 400)
                if not refused:
                    refused = True
                    await _plain_error(send, 413, self._too_large)
                return
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, body.receive, guarded)
        except BodyTooLarge:
            if not refused:
                await _plain_error(send, 413, self._too_large)

    @property
    def _too_large(self) -> str:
        return f"web: a request body is at most {self.max_body_bytes} bytes"


def refused_host(host: str) -> str:
    """The 400's detail for a Host not allowed; for a bare IPv6 address, how to write it."""
    detail = f"web: Host {host[:100]!r} is not an allowed host"
    if _unbracketed(host):
        return f"{detail}: an IPv6 address is written in brackets, as '[::1]' or '[::1]:8000'"
    return detail


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by (lowercase) name, the first of each."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


class BodyTooLarge(Exception):
    """A body without a Content-Length (chunked) ran past the cap while an endpoint read it."""


class _CappedBody:
    """A request's `receive` that counts body bytes and raises BodyTooLarge past the cap."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive, self._limit, self._seen = receive, limit, 0
        self.over = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > self._limit:
                self.over = True
                raise BodyTooLarge
        return message


async def _plain_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        NOSNIFF,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


CROSS_SITE = "web: a page of another site may not change anything here"
NULL_ORIGIN = (
    "web: the browser did not say which site's page sent this (Origin: null), so it is refused "
    "as another site's would be; reload this site's page and send it again"
)


def site_refusal(headers: Mapping[str, str]) -> str | None:
    """Why a request that could change state is refused (403) as another site's, or None.
    `cross_site`, or an Origin of "null" where no Sec-Fetch-Site says the request is the
    page's own: what a sandboxed frame of any site, a file or a cross-site redirect sends, in
    a browser older than Sec-Fetch-Site too, so it is no page of this site (whose
    same-origin referrer policy has its own forms send their origin), as Django and Rails
    refuse it. With or without a session cookie: without tokens, reaching the port is what
    lets a request act, and a browser brings that along as it brings a cookie."""
    if cross_site(headers):
        return CROSS_SITE
    if "sec-fetch-site" not in headers and headers.get("origin") == "null":
        return NULL_ORIGIN
    return None


def cross_site(headers: Mapping[str, str]) -> bool:
    """Whether a browser says the request comes from a page of another origin (a form there, a
    script's `fetch`): by Sec-Fetch-Site, which every current browser sends, else by an Origin
    naming another host ("null" names none: `site_refusal`). With neither header (a tool, or
    a browser older than both) it is not either: the tokens decide (a bearer token, or a
    session's SameSite=Strict cookie and CSRF token). Nor is a Referer read: the page sends
    none to other sites, and another site's page can send none as easily."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc != headers.get("host", "")
