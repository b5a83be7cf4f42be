"""The shapes people and tools are shown: one pydantic model per concept, published by
/openapi.json, returned by the API's routes and printed by the CLI's `--json`.

Each model is built from the store's or the domain's read type by one classmethod (`of`), so
there is no dict in between and the API, the CLI and the page cannot drift apart. `IndicatorView`
is the one read type made here: an indicator's status with the domain's evidence, as
`monitor.views` computes it for the page, the digest and `IndicatorOut`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from monitor import owners
from monitor.domain import Evidence, Judgement, Level, OutcomeState, StatusChange, Verdict, iso_time
from monitor.silences import Silence
from monitor.statuses import Judged
from monitor.store import FeedCounts, FeedState, StoredEntry

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
    with_warning: int = Field(
        description="Feeds whose body last read came with a warning (`/feeds` says which): "
        "information, changing no status."
    )
    silent: int = Field(
        description="Feeds read as usual that brought no new entry for longer than their "
        "`silent_after` (`/feeds` says which): information, changing no status."
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
        )


HealthStatus = Literal[
    "ok", "degraded", "unhealthy", "starting", "stale", "unavailable", "incompatible"
]


class HealthOut(_Model):
    status: HealthStatus = Field(
        description="`ok` (200): a cycle succeeded recently and every feed reads. `degraded` "
        "(200): some feed is failing, or the latest digest is not sent after a failed try. "
        "`unhealthy` (503): no feed was read successfully within "
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


LevelName = Literal["none", "reported", "confirmed"]
_LEVELS: dict[Level, LevelName] = {
    Level.NONE: "none",
    Level.REPORTED: "reported",
    Level.CONFIRMED: "confirmed",
}


class OutcomeOut(_Model):
    id: str
    label: str
    level: LevelName
    sources: list[str] = Field(description="Distinct publishers, one per story.")
    evidence_count: int = Field(description="Stories inside the window, copies counted once.")

    @classmethod
    def of(cls, state: OutcomeState, label: str) -> Self:
        level: LevelName = _LEVELS[state.level]
        return cls(
            id=state.outcome_id,
            label=label,
            level=level,
            sources=list(state.sources),
            evidence_count=state.stories,
        )


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

    @classmethod
    def of(cls, item: Evidence) -> Self:
        return cls(
            entry_id=item.entry_id,
            outcome=item.outcome_id,
            title=item.title,
            link=item.link,
            publisher=item.publisher,
            time=item.time,
            terms=list(item.terms),
            snippet=item.snippet,
            judged="yes" if item.judged else None,
        )


@dataclass(frozen=True)
class IndicatorView:
    """An indicator's recorded status and the evidence that stands behind it now: what the page,
    the digest and `IndicatorOut` show (`monitor.views.indicator_views`); for a past day's
    digest, the status it held then with the evidence its change kept
    (`monitor.standing.indicator_views_at`)."""

    id: str
    group: str
    title: str
    question: str
    status: str
    since: datetime
    reason: str  # why the status is unknown ("feeds not read: …"); "" for any other status
    started: datetime  # when monitoring it began
    window_days: float
    outcomes: tuple[OutcomeOut, ...]
    evidence: tuple[Evidence, ...]  # of the outcome(s) behind the status, newest first…
    evidence_count: int  # …the newest of this many stories
    silent_feeds: tuple[str, ...] = ()  # the feeds it reads that are silent (FeedState)
    first_read: datetime | None = None  # when a first reading that recorded no change ended
    # the unknown it began in (`Store.first_readings`)


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
    silent_feeds: list[str] = Field(
        description="The feeds it reads that are silent (no new entry for longer than their "
        "`silent_after`; `/feeds` says since when): a `quiet` from them says little. Changes "
        "no status."
    )

    @classmethod
    def of(cls, view: IndicatorView) -> Self:
        return cls(
            id=view.id,
            group=view.group,
            title=view.title,
            question=view.question,
            status=view.status,
            since=view.since,
            reason=view.reason,
            outcomes=list(view.outcomes),
            evidence_count=view.evidence_count,
            silent_feeds=list(view.silent_feeds),
        )


class IndicatorDetailOut(IndicatorOut):
    evidence: list[EvidenceOut] = Field(description="The stories behind the status, newest first.")

    @classmethod
    def of(cls, view: IndicatorView) -> Self:
        evidence = [EvidenceOut.of(e) for e in view.evidence]
        return cls(**dict(IndicatorOut.of(view)), evidence=evidence)


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
    evidence: list[EvidenceOut] = Field(
        description="Its top evidence items (the newest stories, at most 20 are recorded)."
    )
    evidence_count: int = Field(description="How many evidence items it had in all.")
    title: str | None = Field(
        description="The indicator's title when it was recorded (also once its file is gone); "
        "null for a change recorded before monitor kept it (revision 0023)."
    )
    outcome_label: str | None = Field(
        description="The label then of the outcome `new_status` names; null for quiet, unknown, "
        "mixed, and a change recorded before revision 0023."
    )

    @classmethod
    def of(cls, change: StatusChange) -> Self:
        outcome, named, _level = change.new_status.partition(":")
        return cls(
            id=_recorded(change.id, "a change"),
            indicator=change.indicator_id,
            at=change.at,
            old_status=change.old_status,
            new_status=change.new_status,
            replayed=change.replayed,
            reason=change.reason or None,
            definition_hash=change.definition_hash,
            evidence=[EvidenceOut.of(e) for e in change.evidence],
            evidence_count=change.evidence_count,
            title=change.title or None,
            outcome_label=dict(change.labels).get(outcome) if named else None,
        )


class HistoryOut(_Model):
    indicator: str
    items: list[ChangeOut] = Field(description="Status changes, newest first.")
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )

    @classmethod
    def of(
        cls, indicator_id: str, changes: Sequence[StatusChange], next_before: int | None
    ) -> Self:
        items = [ChangeOut.of(c) for c in changes]
        return cls(indicator=indicator_id, items=items, next_before=next_before)


class ChangeEvidenceOut(EvidenceOut):
    """A piece of evidence of a recorded status change: a row of `monitor export evidence`."""

    change_id: int = Field(description="The change it stands behind (`id` of its change).")
    indicator: str
    matched: list[str] = Field(
        description="The terms as words a person wrote, as the digest shows them: the words "
        "each matched in the headline or snippet (a regex term never by its source)."
    )
    lede: str = Field(
        description="The snippet without the headline it starts with: the news beyond the "
        "headline, or empty."
    )

    @classmethod
    def of_change(
        cls, change: StatusChange, item: Evidence, *, matched: Sequence[str], lede: str
    ) -> Self:
        change_id = _recorded(change.id, "a change")
        return cls(
            **dict(EvidenceOut.of(item)),
            change_id=change_id,
            indicator=change.indicator_id,
            matched=list(matched),
            lede=lede,
        )


class PeriodOut(_Model):
    """A stretch of time an indicator held one status: a row of `monitor export history`."""

    indicator: str
    status: str
    since: Time
    until: Time | None = Field(description="When the next change ended it; null: it holds now.")
    change_id: int | None = Field(
        description="The change that began it; null for the status held when monitoring began."
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
    verdict: Judgement
    who: str = Field(description="`api` or `page` with a token configured, else `anonymous`.")
    at: Time
    note: str

    @classmethod
    def of(cls, verdict: Verdict) -> Self:
        return cls(
            id=_recorded(verdict.id, "a verdict"),
            entry_id=verdict.entry_id,
            indicator=verdict.indicator_id,
            outcome=verdict.outcome_id,
            verdict=verdict.verdict,
            who=verdict.who,
            at=verdict.at,
            note=verdict.note,
        )


class JudgedOut(_Model):
    verdict: VerdictOut
    status: str = Field(description="The indicator's status after the verdict.")
    change: ChangeOut | None = Field(
        description="The status change the verdict caused (its `reason` names the verdict); "
        "null when the status stayed."
    )

    @classmethod
    def of(cls, judged: Judged) -> Self:
        change = ChangeOut.of(judged.change) if judged.change else None
        return cls(verdict=VerdictOut.of(judged.verdict), status=judged.status, change=change)


class SilenceIn(_Model):
    """A silence to begin now: hold back one indicator's alerts and digest lines for a time."""

    indicator: str = Field(min_length=1, description="The indicator's id.")
    outcome: str | None = Field(
        default=None, description="Only changes to or from this outcome; null: every change."
    )
    duration: str = Field(
        alias="for",
        min_length=1,
        max_length=20,
        description="How long, as durations are written in the settings: `90m`, `12h`, `7d`, `2w`.",
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why, in a few words.")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


SilenceState = Literal["active", "ended", "expired"]


class SilenceOut(_Model):
    id: int = Field(description="What `POST /silences/{id}/end` and `monitor silence --end` name.")
    indicator: str
    outcome: str | None = Field(description="Only changes to or from this outcome; null: all.")
    reason: str
    created_by: str = Field(
        description="Who: the CLI user (`$USER`), or over HTTP the name of the token that made "
        "it (`api` for MONITOR_API_TOKEN), else `anonymous`."
    )
    created_at: Time
    until: Time = Field(description="When it ends unless ended earlier.")
    ended_at: Time | None = Field(description="When it was ended early; null if it was not.")
    ended_by: str | None
    state: SilenceState = Field(
        description="`active` (holding changes back now), `ended` (early) or `expired`."
    )

    @classmethod
    def of(cls, silence: Silence, *, now: datetime) -> Self:
        return cls(
            id=_recorded(silence.id, "a silence"),
            indicator=silence.indicator_id,
            outcome=silence.outcome_id,
            reason=silence.reason,
            created_by=silence.created_by,
            created_at=silence.created_at,
            until=silence.until,
            ended_at=silence.ended_at,
            ended_by=silence.ended_by,
            state=silence.state(now),
        )


EMPTY_SEARCH = "the query must not be empty (nor only white space)"


def search_text(text: str) -> str:
    """The text of a search of the stored entries (GET /entries `?q=`, `monitor search TEXT`);
    a ValueError when it is empty or only white space, a search that would list every entry
    rather than find one (422 over HTTP, a usage error in the CLI)."""
    if not text.strip():
        raise ValueError(EMPTY_SEARCH)
    return text


SearchText = Annotated[str, AfterValidator(search_text)]


def whole_number(given: str, most: int) -> int | None:
    """`given` as a whole number when it is ASCII digits alone, no more of them than `most`
    has (the caller bounds the value); else None. int() and pydantic would take " 7", "+7" and
    "1_0" (10), pydantic "7.0", int() "١" (1), and each refuses 5,000 digits its own way."""
    if given.isascii() and given.isdigit() and len(given) <= len(str(most)):
        return int(given)
    return None


def digits_only(most: int) -> BeforeValidator:
    """Every integer of the API's paths and queries (`Annotated[int, Query(ge=, le=most),
    digits_only(most)]`): read by `whole_number`, else a 422 naming the parameter, of the type
    pydantic gives `abc` (`int_parsing`), saying what is taken."""
    refusal = "Input should be a valid integer: ASCII digits 0-9 alone, at most {most} of them"

    def read(given: object) -> object:
        if isinstance(given, int) and not isinstance(given, bool):
            return given  # a default
        found = whole_number(given, most) if isinstance(given, str) else None
        if found is None:
            raise PydanticCustomError("int_parsing", refusal, {"most": len(str(most))})
        return found

    return BeforeValidator(read)


class EntryOut(_Model):
    id: int = Field(description="The entry id that verdicts name.")
    time: Time = Field(description="Published, or first seen when that is unknown.")
    feed: str
    publisher: str
    title: str
    link: str

    @classmethod
    def of(cls, found: StoredEntry) -> Self:
        e = found.entry
        return cls(
            id=found.id,
            time=found.time,
            feed=e.feed_id,
            publisher=e.publisher,
            title=e.title,
            link=e.link,
        )


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
            next_check_at=feed.next_check_at,
            due=feed.due_at(now),
            held_by=owners.shown(holder) if holder else None,
            held_until=feed.lease_until if holder else None,
            dead=feed.dead,
        )


def _recorded(row_id: int | None, what: str) -> int:
    """The id of a stored row; what has no id yet was never recorded and is not shown."""
    if row_id is None:
        raise ValueError(f"{what} is shown once it is recorded (it has no id yet)")
    return row_id
