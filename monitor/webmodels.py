"""The shapes of the HTTP API's answers: pydantic models that /openapi.json publishes.

They validate the shared payloads of `monitor.views` (the dicts `monitor status --json` prints
too), so the API and the CLI cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from monitor.domain import iso_time

# Every time in an answer: ISO 8601 in UTC with `Z`, by the one function the CLI uses too.
Time = Annotated[
    datetime,
    PlainSerializer(iso_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


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
    last_successful_cycle: Time | None = Field(
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
    entry_id: int = Field(
        description="The stored entry's id: what a verdict (POST "
        "/indicators/{id}/evidence/{entry}/verdict) and `monitor verdict` name."
    )
    outcome: str
    title: str = Field(description="The headline, as the feed gave it (plain text).")
    link: str = Field(description="As the feed gave it; not necessarily http(s).")
    publisher: str
    time: Time = Field(description="Published, or first seen when that is unknown.")
    terms: list[str] = Field(description="The rule terms that matched.")
    snippet: str = Field(description="Plain text around the first match.")
    judged: Literal["yes"] | None = Field(
        description="`yes` when an analyst's standing verdict confirms it (`terms` is empty "
        "when no rule matched it); null otherwise."
    )


class IndicatorOut(_Model):
    id: str
    group: str = Field(description="The 'what to watch' marker the indicator belongs to.")
    title: str
    question: str
    status: str = Field(
        description="`quiet`, `unknown`, `mixed` or `OUTCOME:LEVEL` (`pressure:confirmed`)."
    )
    since: Time = Field(description="When the indicator took this status.")
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
    at: Time
    old_status: str
    new_status: str
    replayed: bool = Field(description="Recorded by `monitor replay`, not by a check.")
    reason: str | None = Field(
        description="Why, when the evidence does not say: the verdict that caused it"
        " (`verdict: no on entry 123 by cli: note`) or the feeds not read (`feeds not read: …`);"
        " null for a change a check's evidence explains."
    )
    definition_hash: str = Field(description="sha256 of the definition file that decided it.")
    evidence: list[EvidenceOut]


class HistoryOut(_Model):
    indicator: str
    items: list[ChangeOut] = Field(description="Status changes, newest first.")
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class VerdictIn(_Model):
    """An analyst's verdict on one piece of evidence (or on any stored entry)."""

    outcome: str = Field(min_length=1, description="The outcome of the indicator it judges.")
    verdict: Literal["yes", "no"] = Field(
        description="`no`: the entry is not evidence of the outcome (it leaves it at once); "
        "`yes`: it is (also when no rule matched it)."
    )
    note: str = Field(default="", max_length=2000, description="Why, in a few words.")


class VerdictOut(_Model):
    id: int
    entry_id: int
    indicator: str
    outcome: str
    verdict: Literal["yes", "no"]
    who: str = Field(description="`api` or `page` with a token configured, else `anonymous`.")
    at: datetime
    note: str


class JudgedOut(_Model):
    verdict: VerdictOut
    status: str = Field(description="The indicator's status after the verdict.")
    change: ChangeOut | None = Field(
        description="The status change the verdict caused (its `reason` names the verdict); "
        "null when the status stayed."
    )


class EntryOut(_Model):
    id: int = Field(description="The entry id that verdicts name.")
    time: datetime = Field(description="Published, or first seen when that is unknown.")
    feed: str
    publisher: str
    title: str
    link: str


class FeedOut(_Model):
    id: str
    title: str
    url: str = Field(description="The configured URL.")
    moved_to: str | None = Field(description="Where the feed lives now after a permanent redirect.")
    tags: list[str]
    interval_seconds: float
    last_checked_at: Time | None
    last_success_at: Time | None
    http_status: int | None = Field(description="Of the last answer; null when none came.")
    not_modified: bool = Field(description="The last answer was 304 Not Modified.")
    error_count: int = Field(description="Failures in a row.")
    last_error: str
    failing_since: Time | None
    next_check_at: Time | None
    dead: bool = Field(description="Gone (410) or failing for good: no longer fetched.")
