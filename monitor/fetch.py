"""fetch: retrieve feed bodies over HTTP and classify every answer. The only module importing httpx.

Like miniflux's response handler, the fetcher never raises for one feed's trouble: each
`FeedRequest` becomes a `FetchResult` whose `status` says what happened (modified, not
modified, unchanged, rate limited, failed, gone). Requests are conditional (ETag /
Last-Modified), bounded in time (`timeout`, `total_timeout`) and size (`max_bytes`, counted
after decompression), and redirects are followed by hand so that they can be counted,
checked and remembered when permanent. `next_check` is the pure back-off policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import threading
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx

from monitor.transport import Transport

if TYPE_CHECKING:
    from monitor.settings import Settings

__all__ = [
    "FeedRequest",
    "FetchLimits",
    "FetchResult",
    "FetchStatus",
    "FetchStopped",
    "Session",
    "fetch_all",
    "fetch_sync",
    "next_check",
    "parse_retry_after",
]

DEFAULT_USER_AGENT = "monitor/0.1 (news indicator monitor)"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
HTTP_SCHEMES = frozenset({"http", "https"})
STOP_POLL = 0.1  # seconds between looks at a session's stop event


class FetchStatus(StrEnum):
    MODIFIED = "modified"  # a new body to parse
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # 200, but the body's sha256 is the stored one: skip parsing
    RATE_LIMITED = "rate_limited"  # 429, or 503 with Retry-After
    FAILED = "failed"  # transient: network, timeout, 5xx, too large, bad redirect...
    GONE = "gone"  # 410: stop polling


OK_STATUSES = frozenset({FetchStatus.MODIFIED, FetchStatus.NOT_MODIFIED, FetchStatus.UNCHANGED})


@dataclass(frozen=True)
class FeedRequest:
    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 hex of the last body parsed


@dataclass(frozen=True)
class FetchResult:
    feed_id: str
    url: str  # as requested
    status: FetchStatus
    http_status: int | None = None
    body: bytes | None = None  # only when MODIFIED
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    final_url: str | None = None  # the URL that gave the final answer
    moved_to: str | None = None  # every redirect hop was 301/308 and the fetch succeeded
    retry_after: timedelta | None = None
    error: str = ""  # "" when fine, else "fetch: <reason>"
    elapsed: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def failed(self) -> bool:
        return not self.ok


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0  # connect and read, seconds
    total_timeout: float = 60.0  # one feed's whole fetch, including a slow trickle
    max_bytes: int = 10_000_000  # after decompression
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            timeout=settings.fetch_timeout.total_seconds(),
            total_timeout=settings.fetch_total_timeout.total_seconds(),
            max_bytes=settings.max_body_bytes,
            user_agent=settings.user_agent,
            concurrency=settings.fetch_concurrency,
        )


class _Failure(Exception):
    """Internal: ends one feed's fetch with a status and a message."""

    def __init__(self, message: str, status: FetchStatus = FetchStatus.FAILED) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------- public entry points


async def fetch_all(
    requests: Sequence[FeedRequest],
    limits: FetchLimits,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[FetchResult]:
    """Fetch every feed with at most `limits.concurrency` at once; results in request order."""
    client = _Client(limits, transport)
    try:
        return await _fetch_with(client, requests, limits)
    finally:
        await client.aclose()


def fetch_sync(
    requests: Sequence[FeedRequest],
    limits: FetchLimits,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[FetchResult]:
    """`fetch_all` for synchronous callers (the CLI); not for use inside a running event loop."""
    with Session(limits, transport=transport) as session:
        return session.fetch(requests)


class Session:
    """Batch after batch of fetches on one event loop and one client, for synchronous callers.

    A cycle fetches a batch, hands it on and fetches the next; in one session the connections
    opened for a batch serve the next ones. With `stop`, a batch in flight is abandoned as
    soon as the event is set and `fetch` raises FetchStopped. Not for use inside a running
    event loop.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.limits = limits
        self._transport = transport
        self._stop = stop
        self._runner = asyncio.Runner()
        self._client: _Client | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def fetch(self, requests: Sequence[FeedRequest]) -> list[FetchResult]:
        return self._runner.run(self._fetch(requests))

    def close(self) -> None:
        if self._client is not None:
            self._runner.run(self._client.aclose())
            self._client = None
        self._runner.close()

    async def _fetch(self, requests: Sequence[FeedRequest]) -> list[FetchResult]:
        self._client = self._client or _Client(self.limits, self._transport)
        work = asyncio.ensure_future(_fetch_with(self._client, requests, self.limits))
        while self._stop is not None and not work.done():
            if self._stop.is_set():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                raise FetchStopped(f"{len(requests)} feeds abandoned")
            await asyncio.wait({work}, timeout=STOP_POLL)
        return await work


class FetchStopped(Exception):
    """A session's stop event was set while it fetched."""


async def _fetch_with(
    client: _Client, requests: Sequence[FeedRequest], limits: FetchLimits
) -> list[FetchResult]:
    semaphore = asyncio.Semaphore(max(1, limits.concurrency))

    async def bounded(request: FeedRequest) -> FetchResult:
        async with semaphore:
            return await _fetch_guarded(client, request, limits)

    return list(await asyncio.gather(*(bounded(r) for r in requests)))


def next_check(
    result: FetchResult,
    *,
    now: datetime,
    interval: timedelta,
    errors_before: int,
    max_backoff: timedelta,
) -> tuple[datetime, int]:
    """When to check a feed next, and its new count of consecutive errors.

    Success: `now + interval`, errors reset. Failure: `now + interval * 2**errors_before`,
    capped at `max_backoff` (never below `interval`). Rate limited: the same, but at least
    the server's Retry-After. Gone: the cap; the caller marks the feed dead.
    """
    if result.ok:
        return now + interval, 0
    cap = max(max_backoff, interval)
    if result.status is FetchStatus.GONE:
        return now + cap, errors_before + 1
    exponent = min(max(errors_before, 0), 62)
    delay_seconds = min(interval.total_seconds() * 2.0**exponent, cap.total_seconds())
    delay = timedelta(seconds=delay_seconds)
    if result.status is FetchStatus.RATE_LIMITED and result.retry_after is not None:
        delay = min(max(delay, result.retry_after), cap)
    return now + delay, errors_before + 1


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Retry-After as delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


# ---------------------------------------------------------------- one feed


@cache
def _tls() -> ssl.SSLContext:
    """The certificate store, loaded once per process: loading it costs more than a cycle of
    304 answers, and a context is safe to share between clients."""
    return httpx.create_ssl_context()


class _Client:
    """Sends each GET straight to a transport: the lean one (`monitor.transport`), or httpx's
    own through a proxy when the environment names one for the URL (HTTP_PROXY, HTTPS_PROXY,
    ALL_PROXY, NO_PROXY). No cookies are kept and redirects are left to `_fetch_one`."""

    def __init__(self, limits: FetchLimits, transport: httpx.AsyncBaseTransport | None) -> None:
        self._transport = transport or Transport(_tls())
        self._proxies = {} if transport is not None else getproxies()
        self._proxied: dict[str, httpx.AsyncBaseTransport] = {}
        self._headers = {
            "User-Agent": limits.user_agent,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",  # the two `_decoded` inflates with a cap
        }
        self._timeout = httpx.Timeout(limits.timeout).as_dict()

    async def get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """The response to a GET, its body not read yet: the caller closes it."""
        request = httpx.Request(
            "GET",
            _url(url),
            headers={**self._headers, **headers},
            extensions={"timeout": self._timeout},
        )
        response = await self._transport_for(request.url).handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        for transport in (self._transport, *self._proxied.values()):
            await transport.aclose()

    def _transport_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or proxy_bypass(url.host):
            return self._transport
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.AsyncHTTPTransport(proxy=proxy, verify=_tls())
        return self._proxied[proxy]


@lru_cache(maxsize=4096)  # the same feeds every cycle; parsing a URL costs a tenth of a 304
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)


async def _fetch_guarded(client: _Client, request: FeedRequest, limits: FetchLimits) -> FetchResult:
    """One feed, never raising: every failure becomes a FAILED/GONE/RATE_LIMITED result."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limits.total_timeout):
            result = await _fetch_one(client, request, limits)
    except _Failure as failure:
        result = _failed(request, failure.status, failure.message)
    except TimeoutError:
        result = _failed(request, FetchStatus.FAILED, _total_timeout_message(limits))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        result = _failed(request, FetchStatus.FAILED, _describe_http_error(exc, limits))
    except Exception as exc:  # one feed's surprise must not stop the others
        result = _failed(request, FetchStatus.FAILED, f"fetch: {type(exc).__name__}: {exc}")
    return _with_elapsed(result, time.monotonic() - started)


async def _fetch_one(client: _Client, request: FeedRequest, limits: FetchLimits) -> FetchResult:
    url = request.url
    if _scheme(url) not in HTTP_SCHEMES:
        raise _Failure(f"fetch: unsupported URL scheme {_scheme(url)!r} in {url!r}")
    seen = {url}
    hops = 0
    all_permanent = True
    headers = _conditional_headers(request)
    while True:
        response = await client.get(url, headers)
        try:
            if response.status_code in REDIRECTS:
                target = _redirect_target(response, url)
                hops += 1
                if hops > limits.max_redirects:
                    raise _Failure(f"fetch: too many redirects (>{limits.max_redirects})")
                if target in seen:
                    raise _Failure(f"fetch: redirect loop at {target}")
                seen.add(target)
                all_permanent = all_permanent and response.status_code in PERMANENT_REDIRECTS
                url = target
                continue
            result = await _classify(response, request, limits, final_url=url)
        finally:
            await response.aclose()
        if result.ok and hops and all_permanent:
            return replace(result, moved_to=url)
        return result


def _redirect_target(response: httpx.Response, url: str) -> str:
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise _Failure(f"fetch: HTTP {response.status_code} redirect without a Location")
    target = urljoin(url, location)
    if _scheme(target) not in HTTP_SCHEMES:
        raise _Failure(f"fetch: redirect to non-HTTP scheme {_scheme(target)!r}")
    return target


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
    response: httpx.Response, request: FeedRequest, limits: FetchLimits, *, final_url: str
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
        return replace(base, status=FetchStatus.NOT_MODIFIED)
    if 200 <= code < 300:
        body = await _read_capped(response, limits.max_bytes)
        digest = hashlib.sha256(body).hexdigest()
        if digest == request.body_hash:
            return replace(base, status=FetchStatus.UNCHANGED)
        return replace(base, status=FetchStatus.MODIFIED, body=body, body_hash=digest)
    return _classify_error(response, base)


def _classify_error(response: httpx.Response, base: FetchResult) -> FetchResult:
    code = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=datetime.now(UTC))
    if code == 410:
        return replace(base, status=FetchStatus.GONE, error="fetch: HTTP 410 Gone")
    if code == 429 or (code == 503 and retry_after is not None):
        hint = f" (retry after {int(retry_after.total_seconds())}s)" if retry_after else ""
        error = f"fetch: HTTP {code}{hint}"
        return replace(base, status=FetchStatus.RATE_LIMITED, retry_after=retry_after, error=error)
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    return replace(base, error=f"fetch: HTTP {code}{reason}".rstrip())


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, or a failure as soon as it grows past `max_bytes`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _Failure(f"fetch: body larger than {max_bytes} bytes (Content-Length {declared})")
    body = bytearray()
    async for chunk in _decoded(response, max_bytes + 1):
        body += chunk
        if len(body) > max_bytes:
            raise _Failure(f"fetch: body larger than {max_bytes} bytes")
    return bytes(body)


async def _decoded(response: httpx.Response, step: int) -> AsyncIterator[bytes]:
    """The body decompressed at most `step` bytes at a time, so a gzip or deflate bomb
    cannot balloon.

    httpx inflates each network read whole (64 KiB of gzip can become 64 MB); gzip and
    deflate are inflated here instead. Other encodings are left to httpx.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("gzip", "x-gzip", "deflate"):
        async for chunk in response.aiter_bytes():
            yield chunk
        return
    inflater = None
    try:
        async for data in response.aiter_raw():
            inflater = inflater or _inflater(encoding, data)
            while data and not inflater.eof:
                yield inflater.decompress(data, step)
                data = inflater.unconsumed_tail
        if inflater is not None:
            yield inflater.flush()
    except zlib.error as exc:
        raise _Failure(f"fetch: cannot decode the {encoding} body: {exc}") from exc


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


def _describe_http_error(exc: httpx.HTTPError | httpx.InvalidURL, limits: FetchLimits) -> str:
    timeout = _seconds(limits.timeout)
    detail = str(exc) or type(exc).__name__
    match exc:
        case httpx.ConnectTimeout():
            return f"fetch: connect timeout after {timeout}"
        case httpx.ReadTimeout():
            return f"fetch: read timeout after {timeout}"
        case httpx.TimeoutException():
            return f"fetch: timeout after {timeout} ({type(exc).__name__})"
        case httpx.ConnectError():
            return f"fetch: cannot connect: {detail}"
        case httpx.DecodingError():
            return f"fetch: cannot decode the body: {detail}"
        case httpx.RemoteProtocolError():
            return f"fetch: server broke the HTTP protocol: {detail}"
        case httpx.InvalidURL() | httpx.UnsupportedProtocol():
            return f"fetch: invalid URL: {detail}"
        case httpx.TransportError():
            return f"fetch: network error: {detail}"
    return f"fetch: {type(exc).__name__}: {detail}"


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


def _with_elapsed(result: FetchResult, elapsed: float) -> FetchResult:
    return replace(result, elapsed=round(elapsed, 6))
