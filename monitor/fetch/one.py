"""One feed's fetch: the GET through httpx's pool, redirects followed by hand, the answer
classified, the body read within its caps and inflated, every failure as a message."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import os
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx2

from monitor.domain import parse_http_date, utcnow
from monitor.fetch.addresses import Resolve, check_redirect, kinds, system_resolve
from monitor.fetch.model import (
    Failure,
    FeedRequest,
    FetchLimits,
    FetchResult,
    FetchStatus,
    clip_error,
)
from monitor.links import without_password

if TYPE_CHECKING:
    pass

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
NO_BODY = frozenset({204, 304})  # answers that have no body, whatever their headers say
DRAIN_BYTES = 65_536  # an unread body at most this long is read, so its connection is reused
DRAIN_SECONDS = 1.0  # ... if that takes no longer than this
ENCODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}  # what we ask for
GZIP_MAGIC = b"\x1f\x8b"  # how a gzip member begins
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # Retry-After's seconds, "1.5" too
# The longest wait a Retry-After is read as, above every caller's own cap: a timedelta holds
# less than 10^14 s, and a header may say 10^30.
RETRY_AFTER_LONGEST = timedelta(days=365)
SCHEME_LIKE = re.compile(r"([^/?#]*):")  # a colon before any "/", "?" or "#"


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Retry-After as delay-seconds (also fractional, as some services send: rounded up) or an
    HTTP-date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if DELAY_SECONDS.fullmatch(value):
        seconds = math.ceil(Decimal(value))
        return timedelta(seconds=min(seconds, int(RETRY_AFTER_LONGEST.total_seconds())))
    when = parse_http_date(value)
    return None if when is None else max(when - now, timedelta(0))


# ---------------------------------------------------------------- one feed


@cache
def _tls() -> ssl.SSLContext:
    """The certificate store, loaded once per process: loading it costs more than a cycle of
    304 answers, and a context is safe to share between clients."""
    return httpx2.create_ssl_context(trust_env=False)


class Client:
    """Sends each GET straight to httpx's pooled transport, or to one through a proxy when the
    environment names one for the URL (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY). No
    cookies are kept, nothing is decoded by httpx and redirects are left to `_fetch_one`."""

    def __init__(
        self,
        limits: FetchLimits,
        transport: httpx2.AsyncBaseTransport | None,
        resolve: Resolve | None = None,
    ) -> None:
        self.resolve = resolve or system_resolve  # how a redirect's host is judged
        self._limits = limits.pool
        self._transport = transport or httpx2.AsyncHTTPTransport(
            verify=_tls(), limits=self._limits, trust_env=False
        )
        self._proxies = {} if transport is not None else getproxies()
        self._proxied: dict[str, httpx2.AsyncBaseTransport] = {}
        self._headers = {
            "User-Agent": limits.user_agent,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",  # the two `_decoded` inflates with a cap
        }
        self._timeout = httpx2.Timeout(limits.timeout).as_dict()

    async def get(self, url: str, headers: dict[str, str]) -> httpx2.Response:
        """The response to a GET, its body not read yet: the caller closes it. A URL's
        `user:password@` is sent as HTTP basic auth (the transport itself sends none)."""
        request = httpx2.Request(
            "GET",
            _url(url),
            headers={**self._headers, **_basic_auth(url), **headers},
            extensions={"timeout": self._timeout},
        )
        response = await self._transport_for(request.url).handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        for transport in (self._transport, *self._proxied.values()):
            await transport.aclose()

    def _transport_for(self, url: httpx2.URL) -> httpx2.AsyncBaseTransport:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or proxy_bypass(url.host):
            return self._transport
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx2.AsyncHTTPTransport(
                proxy=proxy, verify=_tls(), limits=self._limits, trust_env=False
            )
        return self._proxied[proxy]


@lru_cache(maxsize=4096)  # the same feeds every cycle; parsing a URL costs a tenth of a 304
def _url(url: str) -> httpx2.URL:
    return httpx2.URL(url)


def _basic_auth(url: str) -> dict[str, str]:
    """`Authorization: Basic …` from the URL's `user:password@` (percent-decoded), as httpx's
    own client sends it; no header when the URL has none."""
    if "@" not in url:
        return {}  # nearly every feed: no parse per request
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return {}
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


async def fetch_guarded(client: Client, request: FeedRequest, limits: FetchLimits) -> FetchResult:
    """One feed, never raising: every failure becomes a FAILED/GONE/RATE_LIMITED result."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limits.total_timeout):
            result = await _fetch_one(client, request, limits)
    except Failure as failure:
        result = _failed(request, failure.status, failure.message)
    except TimeoutError:
        result = _failed(request, FetchStatus.FAILED, _total_timeout_message(limits))
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        result = _failed(request, FetchStatus.FAILED, _describe_http_error(exc, limits))
    except Exception as exc:  # one feed's surprise must not stop the others
        result = _failed(request, FetchStatus.FAILED, f"fetch: {_surprise(exc)}")
    error = clip_error(without_password(result.error))  # errors are stored, logged and shown
    return replace(result, error=error, elapsed=round(time.monotonic() - started, 6))


def _surprise(exc: BaseException) -> str:
    """'ValueError: Port out of range 0-65535': the first error inside an exception group
    (the HTTP client's task groups wrap what went wrong in one), with its type."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


async def _fetch_one(client: Client, request: FeedRequest, limits: FetchLimits) -> FetchResult:
    url = request.url
    if _scheme(url) not in HTTP_SCHEMES:
        raise Failure(f"fetch: unsupported URL scheme {_scheme(url)!r} in {url!r}")
    own = request.listed_url or url  # the feed's own URL, which redirects are judged by
    origin: list[tuple[str, str]] | None = None  # its addresses, at its first redirect
    forgotten = False  # a former move, to where the feed would not be redirected now
    if own != url:
        origin = await kinds(*_host_port(own), client.resolve)
        try:
            await check_redirect(url, *_host_port(url), origin, client.resolve)
        except Failure:
            url, forgotten = own, True
    seen = {url}
    hops = 0
    remember = True  # every hop so far was permanent, and none went from https down to http
    headers = _conditional_headers(request)
    while True:
        response = await client.get(url, headers)
        try:
            if response.status_code in REDIRECTS:
                target = _redirect_target(response, url, request.url)
                hops += 1
                if hops > limits.max_redirects:
                    raise Failure(f"fetch: too many redirects (>{limits.max_redirects})")
                if target in seen:
                    raise Failure(f"fetch: redirect loop at {target}")
                seen.add(target)
                if origin is None:
                    origin = await kinds(*_host_port(own), client.resolve)
                await check_redirect(target, *_host_port(target), origin, client.resolve)
                remember = (
                    remember
                    and response.status_code in PERMANENT_REDIRECTS
                    and not (_scheme(url) == "https" and _scheme(target) == "http")
                )
                url = target
                continue
            result = await _classify(response, request, limits, final_url=url)
        finally:
            await _release(response)
        if result.ok and hops and remember:
            return replace(result, moved_to=url)
        return replace(result, moved_to="") if result.ok and forgotten else result


async def _release(response: httpx2.Response) -> None:
    """Close an answer. A body left unread that is known to be small (a 304's that declares
    none; an error page's or a redirect's, declared at most DRAIN_BYTES) is read first:
    closed unread, it would take its connection down with it, and the next feed would pay a
    new TCP and TLS handshake. A warm cycle is mostly 304s."""
    try:
        if not response.is_stream_consumed and _small(response):
            async with asyncio.timeout(DRAIN_SECONDS):
                async for _chunk in response.aiter_raw():
                    pass
    except (httpx2.HTTPError, TimeoutError):
        pass  # the connection is closed with the answer
    finally:
        await response.aclose()


def _small(response: httpx2.Response) -> bool:
    declared = response.headers.get("content-length", "")
    if response.status_code in NO_BODY:
        # Its connection is reused only when it declares no body at all: a server that sends
        # one anyway (against HTTP) would have it read as the start of the next feed's answer.
        return declared in ("", "0") and "transfer-encoding" not in response.headers
    return declared.isdigit() and int(declared) <= DRAIN_BYTES


def _redirect_target(response: httpx2.Response, url: str, first_url: str) -> str:
    """Where a redirect leads, checked: a well-formed http(s) URL, and never from https down
    to http unless the feed's own URL was http."""
    code = response.status_code
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise Failure(f"fetch: HTTP {code} redirect without a Location")
    malformed = Failure(f"fetch: HTTP {code} redirect to a malformed Location {location!r}")
    scheme_like = SCHEME_LIKE.match(location)
    if scheme_like and not SCHEME.fullmatch(scheme_like[1]):
        raise malformed  # "ht!tp://…" is neither a URL nor a relative reference
    try:
        target = urljoin(url, location)
        parts = urlsplit(target)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise malformed from None
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        raise Failure(f"fetch: redirect to non-HTTP scheme {scheme!r}")
    if not parts.hostname:
        raise malformed
    try:
        _url(target)
    except httpx2.InvalidURL:
        raise malformed from None
    if _scheme(url) == "https" and scheme == "http" and _scheme(first_url) != "http":
        raise Failure(f"fetch: HTTP {code} redirect from https to http refused ({target})")
    return _credentials_kept(url, target)


def _credentials_kept(url: str, target: str) -> str:
    """`target`, with the credentials of `url` when it names none of its own and is the same
    host and port (also from http up to https), as httpx's client keeps Authorization on such
    a redirect; a relative Location keeps them already. A Location's own credentials stand."""
    here, there = urlsplit(url), urlsplit(target)
    if "@" not in here.netloc or "@" in there.netloc:
        return target
    origin, to = _origin(here), _origin(there)
    upgrade = origin == ("http", to[1], 80) and to == ("https", origin[1], 443)
    if origin != to and not upgrade:
        return target
    userinfo = here.netloc.rpartition("@")[0]
    return there._replace(netloc=f"{userinfo}@{there.netloc}").geturl()


def _host_port(url: str) -> tuple[str, int]:
    """The host and port a connection to `url` is made to, as httpx hands them to the resolver
    (an IDNA name in its ASCII form, an IPv6 address without brackets)."""
    parsed = _url(url)
    return parsed.raw_host.decode("ascii"), parsed.port or _DEFAULT_PORTS[parsed.scheme]


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme)


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _conditional_headers(request: FeedRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    return headers


async def _classify(
    response: httpx2.Response, request: FeedRequest, limits: FetchLimits, *, final_url: str
) -> FetchResult:
    code = response.status_code
    base = FetchResult(
        feed_id=request.feed_id,
        url=request.url,
        status=FetchStatus.FAILED,
        http_status=code,
        content_type=response.headers.get("content-type"),
        etag=response.headers.get("etag") or request.etag,
        last_modified=response.headers.get("last-modified") or request.last_modified,
        body_hash=request.body_hash,
        final_url=final_url,
    )
    if code == 304:
        if not _conditional_headers(request):
            # Not modified since... nothing: the server is broken, and no body was stored.
            error = "fetch: HTTP 304 Not Modified to a request that named no version"
            return replace(base, error=error)
        return replace(base, status=FetchStatus.NOT_MODIFIED)
    if 200 <= code < 300:
        body = await _read_capped(response, limits.max_bytes)
        digest = hashlib.sha256(body).hexdigest()
        if digest == request.body_hash:
            return replace(base, status=FetchStatus.UNCHANGED)
        return replace(base, status=FetchStatus.MODIFIED, body=body, body_hash=digest)
    return _classify_error(response, base)


def _classify_error(response: httpx2.Response, base: FetchResult) -> FetchResult:
    code = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=utcnow())
    if code == 410:
        return replace(base, status=FetchStatus.GONE, error="fetch: HTTP 410 Gone")
    if code == 429 or (code == 503 and retry_after is not None):
        hint = f" (retry after {int(retry_after.total_seconds())}s)" if retry_after else ""
        error = f"fetch: HTTP {code}{hint}"
        return replace(base, status=FetchStatus.RATE_LIMITED, retry_after=retry_after, error=error)
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    return replace(base, error=f"fetch: HTTP {code}{reason}".rstrip())


async def _read_capped(response: httpx2.Response, max_bytes: int) -> bytes:
    """The decoded body, or a failure as soon as it grows past `max_bytes`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise Failure(f"fetch: body larger than {max_bytes} bytes (Content-Length {declared})")
    body = bytearray()
    async for chunk in _decoded(response, max_bytes + 1):
        body += chunk
        if len(body) > max_bytes:
            raise Failure(f"fetch: body larger than {max_bytes} bytes")
    return bytes(body)


def _codings(response: httpx2.Response) -> list[str]:
    """The body's content codings, in the order they were applied; `identity` dropped.

    Only what we ask for (gzip, deflate) is undone; any other coding is refused by name, so
    nothing decodes outside the cap."""
    header = ", ".join(response.headers.get_list("content-encoding"))
    codings = []
    for token in header.split(","):
        name = token.strip().lower()
        if not name or name == "identity":
            continue
        if name not in ENCODINGS:
            raise Failure(f"fetch: unsupported Content-Encoding {header!r}")
        codings.append(ENCODINGS[name])
    return codings


async def _decoded(response: httpx2.Response, step: int) -> AsyncIterator[bytes]:
    """The body with every coding undone, at most `step` bytes at a time from each layer, so
    a bomb (also gzip inside gzip) cannot balloon: nothing is inflated past what is read."""
    if response.is_stream_consumed:  # built whole in memory (httpx2.MockTransport): decoded
        yield response.content
        return
    codings = _codings(response)
    chunks: AsyncIterator[bytes] = response.aiter_raw()
    for coding in reversed(codings):  # the last coding applied is undone first
        chunks = _inflated(chunks, coding, step)
    async for chunk in chunks:
        if chunk:
            yield chunk


async def _inflated(chunks: AsyncIterator[bytes], coding: str, step: int) -> AsyncIterator[bytes]:
    """One coding undone. A gzip body may hold several members one after another (RFC 1952:
    what `cat a.gz b.gz` makes), each inflated in turn; bytes after the end that start no member
    (a server's padding) are left."""
    inflater, members, ended = None, 0, False
    try:
        async for data in chunks:
            while data and not ended:
                if inflater is None:
                    if members and (coding != "gzip" or not data.startswith(GZIP_MAGIC)):
                        ended = True  # deflate is one stream; after a gzip member, padding
                        break
                    inflater, members = _inflater(coding, data), members + 1
                yield inflater.decompress(data, step)
                data = inflater.unconsumed_tail
                if inflater.eof:
                    yield inflater.flush()
                    data, inflater = inflater.unused_data + data, None
        if inflater is not None:
            yield inflater.flush()
    except zlib.error as exc:
        raise Failure(f"fetch: cannot decode the {coding} body: {exc}") from exc


def _inflater(encoding: str, first: bytes) -> zlib._Decompress:
    """gzip; or deflate, which servers send zlib-wrapped (RFC 9110) or raw (old IIS)."""
    if encoding != "deflate":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


# ---------------------------------------------------------------- messages and results


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _total_timeout_message(limits: FetchLimits) -> str:
    return f"fetch: gave up after {_seconds(limits.total_timeout)} in all (total timeout)"


def _describe_http_error(exc: httpx2.HTTPError | httpx2.InvalidURL, limits: FetchLimits) -> str:
    timeout = _seconds(limits.timeout)
    detail = str(exc) or type(exc).__name__
    match exc:
        case httpx2.ConnectTimeout():
            return f"fetch: connect timeout after {timeout}"
        case httpx2.ReadTimeout():
            return f"fetch: read timeout after {timeout}"
        case httpx2.TimeoutException():
            return f"fetch: timeout after {timeout} ({type(exc).__name__})"
        case httpx2.ConnectError():
            return f"fetch: cannot connect: {_connect_detail(exc) or detail}"
        case httpx2.DecodingError():
            return f"fetch: cannot decode the body: {detail}"
        case httpx2.RemoteProtocolError():
            return f"fetch: server broke the HTTP protocol: {detail}"
        case httpx2.InvalidURL() | httpx2.UnsupportedProtocol():
            return f"fetch: invalid URL: {detail}"
        case httpx2.TransportError():
            return f"fetch: network error: {detail}"
    return f"fetch: {type(exc).__name__}: {detail}"


def _connect_detail(exc: BaseException) -> str:
    """Why a connection failed, `[Errno 111] Connection refused`, from the socket error under
    it: the async connect says "All connection attempts failed" whatever the cause (a server
    down, no route to its host); "" when the chain holds no such error, or one whose own words
    say it better (a name not found, a TLS certificate refused)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLError | socket.gaierror):
            return ""
        if isinstance(cause, OSError) and cause.errno:
            return f"[Errno {cause.errno}] {os.strerror(cause.errno)}"
        cause = cause.__cause__ or cause.__context__
    return ""


def _failed(request: FeedRequest, status: FetchStatus, message: str) -> FetchResult:
    return FetchResult(
        feed_id=request.feed_id,
        url=request.url,
        status=status,
        etag=request.etag,
        last_modified=request.last_modified,
        body_hash=request.body_hash,
        error=message,
    )
