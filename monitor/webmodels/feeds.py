"""How the service and its feeds stand: the answers of GET /healthz (with the feeds counted)
and GET /feeds, one `FeedOut` per configured feed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import Field

from monitor import owners
from monitor.store import FeedCounts, FeedState, FeedStateWord
from monitor.webmodels.base import Model as _Model
from monitor.webmodels.base import Time


class FeedCountsOut(_Model):
    total: int = Field(description="Configured feeds.")
    failing: int = Field(description="Feeds failing now (gone ones included).")
    never_read: int = Field(description="Feeds never fetched successfully.")
    read_recently: int = Field(
        description="Feeds fetched successfully within two of their check intervals."
    )
    with_warning: int = Field(
        description="Feeds whose body last read came with a warning (`/feeds` says which): "
        "information, changing no status."
    )
    silent: int = Field(
        description="Feeds read as usual that brought no new entry for longer than their "
        "`silent_after` (`/feeds` says which): information, changing no status."
    )
    moved: int = Field(
        description="Feeds that moved permanently (read at the address a 301 or 308 gave: "
        "update their url in the feeds file; `/feeds` says which): information, changing no "
        "status."
    )
    rate_limited: int = Field(
        description="Feeds whose last answer asked to be read later (429, or 503 with "
        "Retry-After; `/feeds` says which): not failing, changing no status."
    )
    stale: int = Field(
        description="Feeds read before but not successfully within two of their check "
        "intervals, neither failing nor gone (the daemon down, say; `/feeds` says which: "
        "`state` `stale`)."
    )

    @classmethod
    def of(cls, counts: FeedCounts) -> Self:
        return cls(
            total=counts.total,
            failing=counts.failing,
            never_read=counts.never_read,
            read_recently=counts.read_recently,
            with_warning=counts.with_warning,
            silent=counts.silent,
            moved=counts.moved,
            rate_limited=counts.rate_limited,
            stale=counts.stale,
        )


HealthStatus = Literal[
    "ok", "degraded", "unhealthy", "starting", "stale", "unavailable", "incompatible"
]


class HealthOut(_Model):
    status: HealthStatus = Field(
        description="`ok` (200): a cycle succeeded recently and every feed reads. `degraded` "
        "(200): some feed is failing or stale, or the latest digest is not sent after a "
        "failed try. `unhealthy` (503): no feed was read successfully within "
        "two check intervals, or ever. `starting` (200): no cycle yet, but the server started "
        "less than `max_age_seconds` ago. `stale` (503): the last successful cycle (or the "
        "server start, when there was none) is older. `unavailable` (503): the database did "
        "not answer. `incompatible` (503): another version migrated the database while this "
        "server ran; it takes no writes."
    )
    database: bool = Field(description="The database answered.")
    last_successful_cycle: Time | None = Field(
        description="When the latest successful check cycle finished (UTC), whether or not it "
        "checked a feed: the daemon's cycles run."
    )
    last_check: Time | None = Field(
        default=None,
        description="When the latest successful cycle that checked at least one feed finished "
        "(UTC): the page's Last check. Earlier than `last_successful_cycle` when the later "
        "cycles found every due feed held by another daemon's lease.",
    )
    age_seconds: float | None = Field(description="Seconds since then.")
    max_age_seconds: float = Field(description="Older than this is unhealthy (503).")
    feeds: FeedCountsOut | None = Field(description="The feeds, counted (null: not read).")
    reasons: list[str] = Field(description="Why the status is not `ok`, one line each.")

    @property
    def code(self) -> int:
        """The HTTP status it is answered with."""
        return 503 if self.status in ("unhealthy", "stale", "unavailable", "incompatible") else 200


class FeedOut(_Model):
    id: str
    title: str
    url: str = Field(description="The configured URL.")
    moved_to: str | None = Field(description="Where the feed lives now after a permanent redirect.")
    tags: list[str]
    state: FeedStateWord = Field(
        description="How it stands now, as the page's feed health says it: `dead` (gone), "
        "`failing`, `stale` (read before, but not successfully within two intervals), "
        "`rate-limited`, `ok` or `new` (never checked)."
    )
    interval_seconds: float
    last_checked_at: Time | None
    last_success_at: Time | None
    http_status: int | None = Field(description="Of the last answer; null when none came.")
    not_modified: bool = Field(description="The last answer was 304 Not Modified.")
    error_count: int = Field(
        description="Checks in a row that did not read it (failures and rate limits): the "
        "back-off's exponent."
    )
    last_error: str
    warning: str = Field(
        description="Why the body last read was not right, though it was read (ill-formed XML, "
        "items left out, a charset guessed); empty when it was. Changes no status."
    )
    last_new_at: Time | None = Field(
        description="When a check last stored a new entry of it; for a feed that has brought "
        "none, its first successful read; null: never read."
    )
    silent_after_seconds: float = Field(
        description="Its `silent_after`, else MONITOR_FEED_SILENT_AFTER; 0: never silent."
    )
    silent: bool = Field(
        description="Read as usual (not failing, not gone), but no new entry for longer than "
        "`silent_after_seconds`: an outlet that gave the feed up may still serve it. Changes "
        "no status."
    )
    failing_since: Time | None
    rate_limited: bool = Field(
        description="Its last answer asked to be read later (429, or 503 with Retry-After; "
        "`last_error` says it): not failing for it, and not read. Once it goes unread for two "
        "intervals, its indicators are `unknown` as for any feed not read."
    )
    next_check_at: Time | None = Field(
        description="When it is checked next, as scheduled: a past time once it is due."
    )
    due: bool = Field(
        description="To be checked now: never checked, or `next_check_at` has passed (the "
        "page's `due`)."
    )
    held_by: str | None = Field(
        description="Due, and leased by the process checking it (`host:pid`: a daemon or "
        "`monitor check`) until `held_until`; null when no lease holds it."
    )
    held_until: Time | None = Field(
        description="When that lease runs out, unless it is renewed (being checked) or a "
        "process of its host takes it over (its holder is gone); null when not held."
    )
    dead: bool = Field(
        description="Gone: its last answer was 410. Tried again once a day; an answer revives it."
    )

    @classmethod
    def of(cls, feed: FeedState, now: datetime) -> Self:
        holder = feed.lease_owner if feed.held_at(now) else None  # the page's `held by`
        return cls(
            id=feed.id,
            title=feed.title,
            url=feed.url,
            moved_to=feed.moved_to,
            tags=list(feed.tags),
            state=feed.state_at(now),
            interval_seconds=feed.interval.total_seconds(),
            last_checked_at=feed.last_checked_at,
            last_success_at=feed.last_success_at,
            http_status=feed.http_status,
            not_modified=feed.not_modified,
            error_count=feed.error_count,
            last_error=feed.last_error,
            warning=feed.warning,
            last_new_at=feed.last_new_at,
            silent_after_seconds=feed.silent_after.total_seconds(),
            silent=feed.silent_since(now) is not None,
            failing_since=feed.failing_since,
            rate_limited=feed.rate_limited,
            next_check_at=feed.next_check_at,
            due=feed.due_at(now),
            held_by=owners.shown(holder) if holder else None,
            held_until=feed.lease_until if holder else None,
            dead=feed.dead,
        )
