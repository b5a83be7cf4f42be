"""What a fetch is asked and what it answers: requests, results, statuses and limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import httpx2

from monitor.domain import without_controls

if TYPE_CHECKING:
    from monitor.settings import Settings

DEFAULT_USER_AGENT = "monitor/0.1 (news indicator monitor)"
MAX_ERROR_CHARS = 500  # an error text stored on a feed or logged is cut to this length
_LINE_BREAKS = re.compile(r"\s*[\n\r\u2028\u2029]\s*")


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
    # The feeds file's URL when `url` is where the feed moved permanently (`moved_to`): its own
    # address, which redirects are judged by; a `url` it would not be redirected to is not used.
    listed_url: str | None = None


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
    # ("" when the request's `url`, a former move, was refused and `listed_url` read instead)
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


class Failure(Exception):
    """Internal: ends one feed's fetch with a status and a message."""

    def __init__(self, message: str, status: FetchStatus = FetchStatus.FAILED) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clip_error(text: str) -> str:
    """`text` on one line, without control characters (`domain.CONTROLS`: an escape sequence
    reaches the terminal of whoever reads the log or the digest), cut to MAX_ERROR_CHARS
    (ending in "…" when cut): a hostile server chooses much of what goes into an error (the
    reason phrase of its answer, the charset of its Content-Type), and errors are stored,
    logged one a line and shown."""
    text = _LINE_BREAKS.sub(" ", without_controls(text))
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return text[: MAX_ERROR_CHARS - 1] + "…"
