"""The shapes of the HTTP API's answers: pydantic models that /openapi.json publishes.

They validate the shared payloads of `monitor.views` (the dicts `monitor status --json` prints
too), so the API and the CLI cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorOut(_Model):
    """Every error answer: 401, 404, 500 and 503 carry a message; 422 lists the bad values."""

    detail: str = Field(description="What went wrong, in one line; never a stack trace.")


class FeedCountsOut(_Model):
    total: int = Field(description="Configured feeds.")
    failing: int = Field(description="Feeds failing now (gone ones included).")
    never_read: int = Field(description="Feeds never fetched successfully.")
    read_recently: int = Field(
        description="Feeds fetched successfully within two of their check intervals."
    )


class HealthOut(_Model):
    status: Literal["ok", "degraded", "unhealthy", "starting", "stale", "unavailable"] = Field(
        description="`ok` (200): a cycle succeeded recently and every feed reads. `degraded` "
        "(200): some feed is failing. `unhealthy` (503): no feed was read successfully within "
        "two check intervals, or ever. `starting` (200): no cycle yet, but the server started "
        "less than `max_age_seconds` ago. `stale` (503): the last successful cycle (or the "
        "server start, when there was none) is older. `unavailable` (503): the database did "
        "not answer."
    )
    database: bool = Field(description="The database answered.")
    last_successful_cycle: datetime | None = Field(
        description="When the latest successful check cycle finished (UTC)."
    )
    age_seconds: float | None = Field(description="Seconds since then.")
    max_age_seconds: float = Field(description="Older than this is unhealthy (503).")
    feeds: FeedCountsOut | None = Field(description="The feeds, counted (null: not read).")
    reasons: list[str] = Field(description="Why the status is not `ok`, one line each.")


class OutcomeOut(_Model):
    id: str
    label: str
    level: Literal["none", "reported", "confirmed"]
    sources: list[str] = Field(description="Distinct publishers, one per story.")
    evidence_count: int = Field(description="Stories inside the window, copies counted once.")


class EvidenceOut(_Model):
    outcome: str
    title: str = Field(description="The headline, as the feed gave it (plain text).")
    link: str = Field(description="As the feed gave it; not necessarily http(s).")
    publisher: str
    time: datetime = Field(description="Published, or first seen when that is unknown.")
    terms: list[str] = Field(description="The rule terms that matched.")
    snippet: str = Field(description="Plain text around the first match.")


class IndicatorOut(_Model):
    id: str
    group: str = Field(description="The 'what to watch' marker the indicator belongs to.")
    title: str
    question: str
    status: str = Field(
        description="`quiet`, `unknown`, `mixed` or `OUTCOME:LEVEL` (`pressure:confirmed`)."
    )
    since: datetime = Field(description="When the indicator took this status.")
    reason: str = Field(
        description="Why the status is `unknown` (`feeds not read: …`); empty for any other."
    )
    outcomes: list[OutcomeOut]
    evidence_count: int = Field(description="Stories behind the status now.")


class IndicatorDetailOut(IndicatorOut):
    evidence: list[EvidenceOut] = Field(description="The stories behind the status, newest first.")


class ChangeOut(_Model):
    id: int = Field(description="Pass as `before` to read the changes older than this one.")
    indicator: str
    at: datetime
    old_status: str
    new_status: str
    replayed: bool = Field(description="Recorded by `monitor replay`, not by a check.")
    definition_hash: str = Field(description="sha256 of the definition file that decided it.")
    reason: str = Field(description="Why, when the evidence does not say (`feeds not read: …`).")
    evidence: list[EvidenceOut]


class HistoryOut(_Model):
    indicator: str
    items: list[ChangeOut] = Field(description="Status changes, newest first.")
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class FeedOut(_Model):
    id: str
    title: str
    url: str = Field(description="The configured URL.")
    moved_to: str | None = Field(description="Where the feed lives now after a permanent redirect.")
    tags: list[str]
    interval_seconds: float
    last_checked_at: datetime | None
    last_success_at: datetime | None
    http_status: int | None = Field(description="Of the last answer; null when none came.")
    not_modified: bool = Field(description="The last answer was 304 Not Modified.")
    error_count: int = Field(description="Failures in a row.")
    last_error: str
    failing_since: datetime | None
    next_check_at: datetime | None
    dead: bool = Field(description="Gone (410) or failing for good: no longer fetched.")
