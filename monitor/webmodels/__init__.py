"""The shapes people and tools are shown: one pydantic model per concept, published by
/openapi.json, returned by the API's routes and printed by the CLI's `--json`.

Each model is built from the store's or the domain's read type by one classmethod (`of`), so
there is no dict in between and the API, the CLI and the page cannot drift apart. `IndicatorView`
is the one read type made here: an indicator's status with the domain's evidence, as
`monitor.views` computes it for the page, the digest and `IndicatorOut`.

The health and feed answers are in `webmodels.feeds`, what a path or a query is read as in
`webmodels.given`, and what every model is made of in `webmodels.base`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Self

from pydantic import ConfigDict, Field, TypeAdapter

from monitor.domain import (
    Evidence,
    Judgement,
    Level,
    OutcomeState,
    StatusChange,
    UnreadFeed,
    UnreadWhy,
    Verdict,
)
from monitor.silences import Silence
from monitor.statuses import Judged
from monitor.store import StoredEntry
from monitor.webmodels.base import Model as _Model
from monitor.webmodels.base import Time
from monitor.webmodels.base import recorded as _recorded

if TYPE_CHECKING:
    from monitor.match.judged import JudgedSince, Piece


class ErrorOut(_Model):
    """Every error answer: 401, 404, 500 and 503 carry a message; 422 lists the bad values."""

    detail: str = Field(description="What went wrong, in one line; never a stack trace.")


def error_answer(description: str) -> dict[str, object]:
    """A route's error answer in `responses=`: JSON also on the HTML pages (so not `model`,
    which takes their type)."""
    schema = ErrorOut.model_json_schema()
    return {"description": description, "content": {"application/json": {"schema": schema}}}


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


class JudgedSinceOut(_Model):
    """An analyst's `no` given after a change on a piece of evidence it lists: no longer evidence
    (the change is as it was recorded)."""

    verdict: Literal["no"]
    who: str
    at: Time = Field(description="When the `no` was given, after the change.")
    note: str
    copy_of: int | None = Field(
        description="The entry the `no` is on when it is another copy of this piece's story "
        "(a `no` takes a story's copies out of the evidence with it); null: on this piece."
    )

    @classmethod
    def of(cls, judged: JudgedSince) -> Self:
        return cls(
            verdict="no", who=judged.who, at=judged.at, note=judged.note, copy_of=judged.copy_of
        )


class ChangeEvidenceItemOut(EvidenceOut):
    """A piece of evidence as a recorded change lists it."""

    judged_since: JudgedSinceOut | None = Field(
        default=None,
        description="The analyst's `no` that stands on it, given after the change (`monitor "
        "history` says `✗ judged not relevant by WHO at WHEN`, as the Atom feeds do); null "
        "when none does, or a later `yes` stands instead (`GET /export/changes` and "
        "`/export/evidence` mark it too).",
    )

    @classmethod
    def marked(cls, item: Evidence, judged: JudgedSince | None) -> Self:
        since = JudgedSinceOut.of(judged) if judged is not None else None
        return cls(**dict(EvidenceOut.of(item)), judged_since=since)


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
    since: datetime | None  # None: `unknown` before any check evaluated it (nothing recorded)
    reason: str  # why the status is unknown ("feeds not read: …"); "" for any other status
    started: datetime | None  # when monitoring it began (None: not yet, as `since`)
    window_days: float
    outcomes: tuple[OutcomeOut, ...]
    evidence: tuple[Evidence, ...]  # of the outcome(s) behind the status, newest first…
    evidence_count: int  # …the newest of this many stories
    silent_feeds: tuple[str, ...] = ()  # the feeds it reads that are silent (FeedState)
    unread_feeds: tuple[UnreadFeed, ...] = ()  # the feeds it reads that support no status now
    silences: tuple[int, ...] = ()  # the ids of the silences in force over it, newest first
    first_read: datetime | None = None  # when a first reading that recorded no change ended
    # the unknown it began in (`Store.first_readings`)
    was: str = ""  # the status last recorded, when `status` is not recorded yet (time alone
    # moved it since: the feeds went unread, evidence left the window): drawn up to `since`


class UnreadFeedOut(_Model):
    """A feed an indicator reads that supports no status now."""

    feed: str = Field(description="The feed's id, as `GET /feeds` names it.")
    why: UnreadWhy = Field(
        description="`gone` (its last answer was 410), `never_read` (no fetch of it ever "
        "succeeded), `not_tried` (never read, and due for two check intervals with no check "
        "trying it), `failing` (for longer than two check intervals), `not_read` (not read "
        "successfully for two check intervals: no daemon ran, it was rate limited), "
        "`clock_set_back` (last read after now)."
    )
    since: Time | None = Field(
        description="`failing`: its first failure; `not_tried`: when it became due; "
        "`not_read`, `clock_set_back`: its last successful read; `gone`: its failure, if "
        "known; null for `never_read`."
    )
    error: str = Field(description="Its last error, whole (`reason` cuts it); empty without one.")

    @classmethod
    def of(cls, unread: UnreadFeed) -> Self:
        return cls(feed=unread.feed_id, why=unread.why, since=unread.since, error=unread.error)


class IndicatorOut(_Model):
    id: str
    group: str = Field(description="The 'what to watch' marker the indicator belongs to.")
    title: str
    question: str
    status: str = Field(
        description="`quiet`, `unknown`, `mixed` or `OUTCOME:LEVEL` (`pressure:confirmed`)."
    )
    since: Time | None = Field(
        description="When the indicator took this status; null for `unknown` before any check "
        "evaluated it (monitoring it has not begun), never the moment asked."
    )
    reason: str = Field(
        description="Why the status is `unknown` (`feeds not read: …`), for people: it names "
        "three feeds at most and counts the others (`; and 21 more`), each error cut at 80 "
        "characters (`unread_feeds` has them all, whole); empty for any other status."
    )
    outcomes: list[OutcomeOut]
    evidence_count: int = Field(description="Stories behind the status now.")
    silent_feeds: list[str] = Field(
        description="The feeds it reads that are silent (no new entry for longer than their "
        "`silent_after`; `/feeds` says since when): a `quiet` from them says little. Changes "
        "no status."
    )
    unread_feeds: list[UnreadFeedOut] = Field(
        description="The feeds it reads that support no status now, in the order of the feeds "
        "file, every one: when it is all the feeds it reads, the status is `unknown` and "
        "`reason` names them in short; else (some feeds still read) the status stands on the "
        "others."
    )

    silences: list[int] = Field(
        description="The ids of the silences in force over it (of every outcome or of one), "
        "newest first, as `GET /silences?active=true` gives them and the page marks it "
        "`silenced`: its changes are recorded, their alerts held. Changes no status."
    )
    held: str = Field(
        description="While a replay holds every status (`monitor replay` rewriting the "
        "matches, or one that stopped half way), why, in the line /healthz, the page and "
        "`monitor status` say it in (`statuses held: a replay from 2026-01-01 is rewriting the "
        "matches; …`): `status` is the one recorded before it, and no change is recorded (nor "
        "alerted) until it finishes. Empty otherwise."
    )

    @classmethod
    def of(cls, view: IndicatorView, held: str = "") -> Self:
        """`held`: `views.replay_note`, read apart from the views (a replay's hold moves no
        data version, which they are kept by)."""
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
            unread_feeds=[UnreadFeedOut.of(u) for u in view.unread_feeds],
            silences=list(view.silences),
            held=held,
        )


_INDICATORS = TypeAdapter(list[IndicatorOut])


def indicators_json(items: list[IndicatorOut]) -> bytes:
    """GET /indicators's body: the bytes FastAPI writes for its `response_model`, made here so
    that the route can keep them (`web.indicators`)."""
    return _INDICATORS.dump_json(items, by_alias=True)


class IndicatorDetailOut(IndicatorOut):
    evidence: list[EvidenceOut] = Field(description="The stories behind the status, newest first.")

    @classmethod
    def of(cls, view: IndicatorView, held: str = "") -> Self:
        evidence = [EvidenceOut.of(e) for e in view.evidence]
        return cls(**dict(IndicatorOut.of(view, held)), evidence=evidence)


class ChangeOut(_Model):
    id: int = Field(description="Pass as `before` to read the changes older than this one.")
    indicator: str
    at: Time = Field(description="When it is dated: the moment its status held from.")
    recorded_at: Time = Field(
        description="When it was recorded, which can be after `at`: a change to unknown is "
        "dated when the feeds stopped supporting the status, a check's when its cycle began "
        "(`at` for a change recorded before revision 0032)."
    )
    old_status: str
    new_status: str
    replayed: bool = Field(description="Recorded by `monitor replay`, not by a check.")
    reason: str | None = Field(
        description="Why, when the evidence does not say: the verdict that caused it"
        " (`verdict: no on entry 123 by cli: note`) or the feeds not read (`feeds not read: …`);"
        " null for a change a check's evidence explains."
    )
    unread_feeds: list[UnreadFeedOut] | None = Field(
        description="The feeds the indicator read that supported no status when it was "
        "recorded, every one, each error whole, as the indicator's `unread_feeds` says them now: "
        "of a change to `unknown`, all the feeds it reads (`reason` names three, each error cut "
        "at 80 characters); empty when every feed read; null for a change recorded before "
        "monitor kept them (revision 0034), which has its `reason` alone."
    )
    definition_hash: str = Field(description="sha256 of the definition file that decided it.")
    evidence: list[ChangeEvidenceItemOut] = Field(
        description="Its top evidence items (the newest stories, at most 20 are recorded), as "
        "recorded, each marked (`judged_since`) when an analyst judged it `no` since."
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
    def of(cls, change: StatusChange, judged: Mapping[Piece, JudgedSince] | None = None) -> Self:
        """`judged`: its pieces an analyst judged `no` since (`views.judged_since`)."""
        outcome, named, _level = change.new_status.partition(":")
        marks = judged or {}
        return cls(
            id=_recorded(change.id, "a change"),
            indicator=change.indicator_id,
            at=change.at,
            recorded_at=change.recorded,
            old_status=change.old_status,
            new_status=change.new_status,
            replayed=change.replayed,
            reason=change.reason or None,
            unread_feeds=None
            if change.unread is None
            else [UnreadFeedOut.of(u) for u in change.unread],
            definition_hash=change.definition_hash,
            evidence=[
                ChangeEvidenceItemOut.marked(e, marks.get((e.entry_id, e.outcome_id)))
                for e in change.evidence
            ],
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
        cls,
        indicator_id: str,
        changes: Sequence[StatusChange],
        next_before: int | None,
        judged: Sequence[Mapping[Piece, JudgedSince]] = (),
    ) -> Self:
        """`judged`: per change, its pieces judged `no` since (`views.judged_since`)."""
        marks = list(judged) or [{} for _c in changes]
        items = [ChangeOut.of(c, m) for c, m in zip(changes, marks, strict=True)]
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
    judged_since: JudgedSinceOut | None = Field(
        default=None,
        description="As its change lists it in the history (`ChangeEvidenceItemOut`): the "
        "analyst's `no` that stands on it, given after the change; null when none does (in CSV "
        "the columns `judged_since_verdict`, `_who`, `_at`, `_note`, `_copy_of`, empty then).",
    )

    @classmethod
    def of_change(
        cls,
        change: StatusChange,
        item: Evidence,
        *,
        matched: Sequence[str],
        lede: str,
        judged: JudgedSince | None = None,
    ) -> Self:
        """`judged`: the `no` given since `change` on the piece or its story (`judged_since`)."""
        change_id = _recorded(change.id, "a change")
        return cls(
            **dict(EvidenceOut.of(item)),
            change_id=change_id,
            indicator=change.indicator_id,
            matched=list(matched),
            lede=lede,
            judged_since=JudgedSinceOut.of(judged) if judged is not None else None,
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
    who: str = Field(
        description="Who: `cli` from the CLI, or over HTTP and on the page the name of the token "
        "that made it, by bearer header or session (`api` for MONITOR_API_TOKEN), else "
        "`anonymous`."
    )
    at: Time
    note: str
    superseded: bool = Field(
        default=False,
        description="Whether a later verdict on the same entry, indicator and outcome stands "
        "instead (`monitor verdict list` marks it `superseded by a later verdict`); false for "
        "the one that stands, and for a verdict just recorded.",
    )

    @classmethod
    def of(cls, verdict: Verdict, *, superseded: bool = False) -> Self:
        return cls(
            id=_recorded(verdict.id, "a verdict"),
            entry_id=verdict.entry_id,
            indicator=verdict.indicator_id,
            outcome=verdict.outcome_id,
            verdict=verdict.verdict,
            who=verdict.who,
            at=verdict.at,
            note=verdict.note,
            superseded=superseded,
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
