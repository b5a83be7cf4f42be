"""fetch: retrieve feed bodies over HTTP and classify every answer. The only package importing
httpx2 (the maintained line of httpx): `model` holds what a fetch is asked and answers, `one`
one feed's GET, redirects, classification and capped body, `addresses` where a redirect may
lead, and this module the cycle's entry points.

Like miniflux's response handler, the fetcher never raises for one feed's trouble: each
`FeedRequest` becomes a `FetchResult` whose `status` says what happened (modified, not
modified, unchanged, rate limited, failed, gone). Requests are conditional (ETag /
Last-Modified), bounded in time (`timeout`, `total_timeout`) and size (`max_bytes`, counted
after every layer of decompression), and redirects are followed by hand so that they can be
counted, checked (never from https down to http unless the feed was http; never from a
public feed into the operator's network, `addresses`) and remembered when permanent.
Connections come from httpx's own pool, at most `concurrency` open at once and `keepalive` of
them kept idle, so a cycle over many hosts holds few descriptors.

`Fetcher` runs a cycle's fetches on an event loop in a thread as a sliding window: a fetch
starts as soon as another ends, and results come back in the order they finish, so one slow
feed never holds up the others. `next_check` is the pure back-off policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

import httpx2

from monitor.fetch.addresses import Resolve
from monitor.fetch.model import (
    MAX_ERROR_CHARS,
    FeedRequest,
    FetchLimits,
    FetchResult,
    FetchStatus,
    clip_error,
)
from monitor.fetch.one import RETRY_AFTER_LONGEST, Client, fetch_guarded, parse_retry_after

HALT_POLL = 0.1  # seconds between looks at a Fetcher's `halt` while it waits for a result
CLOSE_TIMEOUT = 2.0  # seconds a Fetcher's close waits for its connections to close
# A gone feed (410) is tried again this long after (or after the back-off cap, if longer): a
# server misconfigured for a while, or a CMS that moved, must not lose a source for good.
GONE_RETRY = timedelta(days=1)

__all__ = [
    "GONE_RETRY",
    "MAX_ERROR_CHARS",
    "RETRY_AFTER_LONGEST",
    "FeedRequest",
    "FetchLimits",
    "FetchResult",
    "FetchStatus",
    "FetchStopped",
    "Fetcher",
    "Resolve",
    "clip_error",
    "fetch_all",
    "fetch_sync",
    "next_check",
    "parse_retry_after",
]


# ---------------------------------------------------------------- public entry points


async def fetch_all(
    requests: Sequence[FeedRequest],
    limits: FetchLimits,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    resolve: Resolve | None = None,
) -> list[FetchResult]:
    """Fetch every feed with at most `limits.concurrency` at once; results in request order.
    `resolve` gives the addresses a redirect's host is judged by (default: the system's)."""
    client = Client(limits, transport, resolve)
    semaphore = asyncio.Semaphore(max(1, limits.concurrency))

    async def bounded(request: FeedRequest) -> FetchResult:
        async with semaphore:
            return await fetch_guarded(client, request, limits)

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
        self._client: Client | None = None
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

    def next_result(
        self, *, halt: Callable[[], bool] | None = None, within: float | None = None
    ) -> FetchResult | None:
        """The next fetch to finish; None when none is outstanding, or after a halt (once the
        answers that came in before it were given). With `within`, also None when no fetch
        finished within that many seconds: then `outstanding` stays above 0, and the caller
        may do other work before it asks again."""
        end = None if within is None else time.monotonic() + within
        while self._outstanding > 0:
            if halt is not None and not self._halted and halt():
                self._halt()
            try:
                if self._halted:  # nothing more will come
                    result = self._results.get_nowait()
                else:
                    result = self._results.get(timeout=_wait(end))
            except queue.Empty:
                if self._halted:
                    break
                if end is not None and time.monotonic() >= end:
                    return None
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
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="monitor-fetch", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # no thread can be started (a limit on processes): none runs
                loop.close()
                raise
            self._loop, self._thread = loop, thread
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
        self._client = self._client or Client(self.limits, self._transport)
        while self._waiting and len(self._running) < max(1, self.limits.concurrency):
            request = self._waiting.popleft()
            task = asyncio.ensure_future(fetch_guarded(self._client, request, self.limits))
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


def _wait(end: float | None) -> float:
    """How long to wait for a result before looking at `halt` again, or giving up at `end`."""
    if end is None:
        return HALT_POLL
    return min(HALT_POLL, max(end - time.monotonic(), 0.0))


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
    the server's Retry-After. Gone: GONE_RETRY, or the cap when longer; the caller marks the
    feed dead until an answer that is not a 410.
    """
    if result.ok:
        return now + interval, 0
    cap = max(max_backoff, interval)
    if result.status is FetchStatus.GONE:
        return now + max(GONE_RETRY, cap), errors_before + 1
    exponent = min(max(errors_before, 0), 62)
    delay_seconds = min(interval.total_seconds() * 2.0**exponent, cap.total_seconds())
    delay = timedelta(seconds=delay_seconds)
    if result.status is FetchStatus.RATE_LIMITED and result.retry_after is not None:
        delay = min(max(delay, result.retry_after), cap)
    return now + delay, errors_before + 1
