"""fetch: retrieve feed bodies over HTTP and classify every answer. The only module importing
httpx2 (the maintained line of httpx).

Like miniflux's response handler, the fetcher never raises for one feed's trouble: each
`FeedRequest` becomes a `FetchResult` whose `status` says what happened (modified, not
modified, unchanged, rate limited, failed, gone). Requests are conditional (ETag /
Last-Modified), bounded in time (`timeout`, `total_timeout`) and size (`max_bytes`, counted
after every layer of decompression), and redirects are followed by hand so that they can be
counted, checked (never from https down to http unless the feed was http) and remembered
when permanent. Connections come from httpx's own pool, at most `concurrency` open at once
and `keepalive` of them kept idle, so a cycle over many hosts holds few descriptors.

`Fetcher` runs a cycle's fetches on an event loop in a thread as a sliding window: a fetch
starts as soon as another ends, and results come back in the order they finish, so one slow
feed never holds up the others. `next_check` is the pure back-off policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import queue
import re
import ssl
import threading
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx2

from monitor.domain import parse_http_date, utcnow

if TYPE_CHECKING:
    from monitor.settings import Settings

__all__ = [
    "MAX_ERROR_CHARS",
    "FeedRequest",
    "FetchLimits",
    "FetchResult",
    "FetchStatus",
    "FetchStopped",
    "Fetcher",
    "clip_error",
    "fetch_all",
    "fetch_sync",
    "next_check",
    "parse_retry_after",
]

DEFAULT_USER_AGENT = "monitor/0.1 (news indicator monitor)"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
HTTP_SCHEMES = frozenset({"http", "https"})
ENCODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}  # what we ask for
MAX_ERROR_CHARS = 500  # an error text stored on a feed or logged is cut to this length
HALT_POLL = 0.1  # seconds between looks at a Fetcher's `halt` while it waits for a result
CLOSE_TIMEOUT = 2.0  # seconds a Fetcher's close waits for its connections to close
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SCHEME_LIKE = re.compile(r"([^/?#]*):")  # a colon before any "/", "?" or "#"


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
    timeout: float = 20.0  # connect, read and wait for a pooled connection, seconds
    total_timeout: float = 60.0  # one feed's whole fetch, including a slow trickle
    max_bytes: int = 10_000_000  # after decompression
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = 16  # fetches at once, and so connections open at once
    keepalive: int = 16  # idle connections kept for reuse (at most `concurrency`)
    keepalive_expiry: float = 5.0  # seconds an idle connection is kept

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            timeout=settings.fetch_timeout.total_seconds(),
            total_timeout=settings.fetch_total_timeout.total_seconds(),
            max_bytes=settings.max_body_bytes,
            user_agent=settings.user_agent,
            concurrency=settings.fetch_concurrency,
            keepalive=settings.fetch_keepalive,
            keepalive_expiry=settings.fetch_keepalive_expiry.total_seconds(),
        )

    @property
    def pool(self) -> httpx2.Limits:
        """The connection pool's bounds: one connection per fetch in flight (a fetch's
        redirect hops close each answer before the next), a few kept idle."""
        most = max(1, self.concurrency)
        return httpx2.Limits(
            max_connections=most,
            max_keepalive_connections=max(0, min(self.keepalive, most)),
            keepalive_expiry=self.keepalive_expiry,
        )


class _Failure(Exception):
    """Internal: ends one feed's fetch with a status and a message."""

    def __init__(self, message: str, status: FetchStatus = FetchStatus.FAILED) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clip_error(text: str) -> str:
    """`text` cut to MAX_ERROR_CHARS (ending in "…" when cut): a hostile server chooses
    much of what goes into an error, and errors are stored, logged and shown."""
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return text[: MAX_ERROR_CHARS - 1] + "…"


# ---------------------------------------------------------------- public entry points


async def fetch_all(
    requests: Sequence[FeedRequest],
    limits: FetchLimits,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> list[FetchResult]:
    """Fetch every feed with at most `limits.concurrency` at once; results in request order."""
    client = _Client(limits, transport)
    semaphore = asyncio.Semaphore(max(1, limits.concurrency))

    async def bounded(request: FeedRequest) -> FetchResult:
        async with semaphore:
            return await _fetch_guarded(client, request, limits)

    try:
        return list(await asyncio.gather(*(bounded(r) for r in requests)))
    finally:
        await client.aclose()


def fetch_sync(
    requests: Sequence[FeedRequest],
    limits: FetchLimits,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> list[FetchResult]:
    """`fetch_all` for synchronous callers (the CLI); not for use inside a running event loop."""
    return asyncio.run(fetch_all(requests, limits, transport=transport))


class FetchStopped(Exception):
    """The daemon stopped while feeds were being fetched: what was answered was kept."""


class Fetcher:
    """A cycle's fetches on an event loop in a thread of their own, as a sliding window.

    `submit` queues requests from the caller's thread; at most `limits.concurrency` run at
    once and each one that ends starts the next, so a slow feed holds up nothing but its own
    slot. `next_result` gives the fetches in the order they finish. When its `halt()` turns
    true, every fetch in flight or waiting is abandoned (its connection closed) and listed in
    `abandoned`; the answers already in are still given, then None.
    """

    def __init__(
        self, limits: FetchLimits, *, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.limits = limits
        self.abandoned: list[str] = []  # feed ids given up by a halt
        self._transport = transport
        self._results: queue.SimpleQueue[FetchResult] = queue.SimpleQueue()
        self._outstanding = 0  # submitted and not yet given back (the caller's thread)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._halted = False
        # On the loop's thread only:
        self._client: _Client | None = None
        self._waiting: deque[FeedRequest] = deque()
        self._running: dict[asyncio.Task[FetchResult], FeedRequest] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def outstanding(self) -> int:
        """Fetches submitted and not yet given back by `next_result`."""
        return self._outstanding

    def submit(self, requests: Iterable[FeedRequest]) -> None:
        batch = list(requests)
        if not batch or self._halted:
            self.abandoned.extend(r.feed_id for r in batch)
            return
        loop = self._started()
        self._outstanding += len(batch)
        loop.call_soon_threadsafe(self._enqueue, batch)

    def next_result(self, *, halt: Callable[[], bool] | None = None) -> FetchResult | None:
        """The next fetch to finish; None when none is outstanding, or after a halt (once the
        answers that came in before it were given)."""
        while self._outstanding > 0:
            if halt is not None and not self._halted and halt():
                self._halt()
            try:
                if self._halted:  # nothing more will come
                    result = self._results.get_nowait()
                else:
                    result = self._results.get(timeout=HALT_POLL)
            except queue.Empty:
                if self._halted:
                    break
                continue
            self._outstanding -= 1
            return result
        self._outstanding = 0
        return None

    def close(self) -> None:
        """Abandon what is still running, close the connections and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(CLOSE_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CLOSE_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    # ------------------------------------------------------------ the caller's thread

    def _started(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="monitor-fetch", daemon=True
            )
            self._thread.start()
        return self._loop

    def _halt(self) -> None:
        self._halted = True
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._abandon(), self._loop)
        with contextlib.suppress(Exception):
            self.abandoned.extend(future.result(CLOSE_TIMEOUT))
        # What finished before the halt is in the queue; nothing more will come.
        self._outstanding = self._results.qsize()

    # ------------------------------------------------------------ the loop's thread

    def _enqueue(self, requests: list[FeedRequest]) -> None:
        self._waiting.extend(requests)
        self._fill()

    def _fill(self) -> None:
        self._client = self._client or _Client(self.limits, self._transport)
        while self._waiting and len(self._running) < max(1, self.limits.concurrency):
            request = self._waiting.popleft()
            task = asyncio.ensure_future(_fetch_guarded(self._client, request, self.limits))
            self._running[task] = request
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[FetchResult]) -> None:
        self._running.pop(task, None)
        if not task.cancelled():
            self._results.put(task.result())
        self._fill()

    async def _abandon(self) -> list[str]:
        waiting = [r.feed_id for r in self._waiting]
        self._waiting.clear()
        running = dict(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        return [r.feed_id for t, r in running.items() if t.cancelled()] + waiting

    async def _shutdown(self) -> None:
        await self._abandon()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


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
    when = parse_http_date(value)
    return None if when is None else max(when - now, timedelta(0))


# ---------------------------------------------------------------- one feed


@cache
def _tls() -> ssl.SSLContext:
    """The certificate store, loaded once per process: loading it costs more than a cycle of
    304 answers, and a context is safe to share between clients."""
    return httpx2.create_ssl_context(trust_env=False)


class _Client:
    """Sends each GET straight to httpx's pooled transport, or to one through a proxy when the
    environment names one for the URL (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY). No
    cookies are kept, nothing is decoded by httpx and redirects are left to `_fetch_one`."""

    def __init__(self, limits: FetchLimits, transport: httpx2.AsyncBaseTransport | None) -> None:
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
        """The response to a GET, its body not read yet: the caller closes it."""
        request = httpx2.Request(
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
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        result = _failed(request, FetchStatus.FAILED, _describe_http_error(exc, limits))
    except Exception as exc:  # one feed's surprise must not stop the others
        result = _failed(request, FetchStatus.FAILED, f"fetch: {type(exc).__name__}: {exc}")
    return replace(
        result, error=clip_error(result.error), elapsed=round(time.monotonic() - started, 6)
    )


async def _fetch_one(client: _Client, request: FeedRequest, limits: FetchLimits) -> FetchResult:
    url = request.url
    if _scheme(url) not in HTTP_SCHEMES:
        raise _Failure(f"fetch: unsupported URL scheme {_scheme(url)!r} in {url!r}")
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
                    raise _Failure(f"fetch: too many redirects (>{limits.max_redirects})")
                if target in seen:
                    raise _Failure(f"fetch: redirect loop at {target}")
                seen.add(target)
                remember = (
                    remember
                    and response.status_code in PERMANENT_REDIRECTS
                    and not (_scheme(url) == "https" and _scheme(target) == "http")
                )
                url = target
                continue
            result = await _classify(response, request, limits, final_url=url)
        finally:
            await response.aclose()
        if result.ok and hops and remember:
            return replace(result, moved_to=url)
        return result


def _redirect_target(response: httpx2.Response, url: str, first_url: str) -> str:
    """Where a redirect leads, checked: a well-formed http(s) URL, and never from https down
    to http unless the feed's own URL was http."""
    code = response.status_code
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise _Failure(f"fetch: HTTP {code} redirect without a Location")
    malformed = _Failure(f"fetch: HTTP {code} redirect to a malformed Location {location!r}")
    scheme_like = _SCHEME_LIKE.match(location)
    if scheme_like and not _SCHEME.fullmatch(scheme_like[1]):
        raise malformed  # "ht!tp://…" is neither a URL nor a relative reference
    try:
        target = urljoin(url, location)
        parts = urlsplit(target)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise malformed from None
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        raise _Failure(f"fetch: redirect to non-HTTP scheme {scheme!r}")
    if not parts.hostname:
        raise malformed
    try:
        _url(target)
    except httpx2.InvalidURL:
        raise malformed from None
    if _scheme(url) == "https" and scheme == "http" and _scheme(first_url) != "http":
        raise _Failure(f"fetch: HTTP {code} redirect from https to http refused ({target})")
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
        raise _Failure(f"fetch: body larger than {max_bytes} bytes (Content-Length {declared})")
    body = bytearray()
    async for chunk in _decoded(response, max_bytes + 1):
        body += chunk
        if len(body) > max_bytes:
            raise _Failure(f"fetch: body larger than {max_bytes} bytes")
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
            raise _Failure(f"fetch: unsupported Content-Encoding {header!r}")
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
    inflater = None
    try:
        async for data in chunks:
            inflater = inflater or _inflater(coding, data)
            while data and not inflater.eof:
                yield inflater.decompress(data, step)
                data = inflater.unconsumed_tail
        if inflater is not None:
            yield inflater.flush()
    except zlib.error as exc:
        raise _Failure(f"fetch: cannot decode the {coding} body: {exc}") from exc


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
            return f"fetch: cannot connect: {detail}"
        case httpx2.DecodingError():
            return f"fetch: cannot decode the body: {detail}"
        case httpx2.RemoteProtocolError():
            return f"fetch: server broke the HTTP protocol: {detail}"
        case httpx2.InvalidURL() | httpx2.UnsupportedProtocol():
            return f"fetch: invalid URL: {detail}"
        case httpx2.TransportError():
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
