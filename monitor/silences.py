"""Silences: an analyst holds back the alerts and the digest's "what changed" of one indicator
(or of one of its outcomes) for a time, with a reason. Pure: which changes a silence holds and
when they are released; the store keeps the rows, alerts and the digest ask here.

A silence is in force from its creation to its end: `until`, or when someone ended it early.
It holds the status changes of its indicator recorded while it is in force (with an outcome:
those whose old or new status is of that outcome), by when each was recorded, not the moment it
is dated: a change to `unknown` is dated when the feeds stopped supporting the status, which can
be before the silence began although it was recorded after. Changes are still recorded as
usual; a held change is *released* when the last silence holding it ends, and then goes out
once: its alert is sent (saying it was held, by whom and why) and it appears in the next
digest's "what changed" and the Atom feeds (updated then). Nothing is folded or dropped: every
held change goes out at its release.

    Silence                       one silence (a row, and its end row when ended early)
    holder(change, ss)            the silence whose end releases a change; None when none holds it
    release_time(change, ss)      when a change goes out; None when no silence holds it
    is_held(change, ss, now)      whether it is held back at `now`
    held_back(silence, when)      the line a released change goes out with (alert, feed entry)
    digest_changes(...)           the changes a digest shows: its window's not held, and the
                                  earlier ones released within it
    feed_changes(...)             the latest changes a feed shows, by when each went out
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from monitor.domain import StatusChange

__all__ = [
    "MAX_SILENCE_ID",
    "Outgoing",
    "Silence",
    "digest_changes",
    "feed_changes",
    "held_back",
    "holder",
    "is_held",
    "outcome_of",
    "release_time",
]

MAX_SILENCE_ID = 2**31 - 1  # a silence id is a 32-bit integer column on PostgreSQL


@dataclass(frozen=True)
class Silence:
    """One silence: append-only; ending it early appends an end row (`ended_at`, `ended_by`)."""

    indicator_id: str
    outcome_id: str | None  # None: every outcome of the indicator
    reason: str
    created_by: str
    created_at: datetime
    until: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def end(self) -> datetime:
        """When it stops holding changes: `until`, or when it was ended early."""
        if self.ended_at is not None and self.ended_at < self.until:
            return self.ended_at
        return self.until

    def active(self, now: datetime) -> bool:
        return self.created_at <= now < self.end

    def state(self, now: datetime) -> Literal["active", "ended", "expired"]:
        """`active`, `ended` (early, by someone) or `expired`."""
        if self.active(now):
            return "active"
        return "ended" if self.ended_at is not None and self.ended_at < self.until else "expired"

    def covers(self, change: StatusChange) -> bool:
        """Whether it holds `change`: its indicator (and outcome), recorded while in force
        (`StatusChange.recorded`, whatever moment it is dated)."""
        if change.indicator_id != self.indicator_id:
            return False
        outcomes = (outcome_of(change.old_status), outcome_of(change.new_status))
        if self.outcome_id is not None and self.outcome_id not in outcomes:
            return False
        return self.created_at <= change.recorded < self.end

    @property
    def target(self) -> str:
        """`INDICATOR` or `INDICATOR:OUTCOME`."""
        return self.indicator_id + (f":{self.outcome_id}" if self.outcome_id else "")


def outcome_of(status: str) -> str | None:
    """The outcome of `OUTCOME:LEVEL`; None for quiet, mixed and unknown."""
    outcome, colon, _level = status.partition(":")
    return outcome if colon else None


def holder(change: StatusChange, silences: Iterable[Silence]) -> Silence | None:
    """The silence whose end releases `change`: the last to end of those holding it; None when
    none does."""
    return max((s for s in silences if s.covers(change)), key=lambda s: s.end, default=None)


def release_time(change: StatusChange, silences: Iterable[Silence]) -> datetime | None:
    """When `change` goes out: the end of the last silence holding it; None when none does."""
    held_by = holder(change, silences)
    return None if held_by is None else held_by.end


def is_held(change: StatusChange, silences: Iterable[Silence], now: datetime) -> bool:
    released = release_time(change, silences)
    return released is not None and released > now


def held_back(silence: Silence, when: str) -> str:
    """What a change `silence` held says when it goes out (its alert, its feed entry): `Held
    back by a silence until it expired WHEN (by ana: state visit …)`, `WHEN` its end as the
    reader reads times."""
    ended = "ended" if silence.ended_at is not None else "expired"
    who = f"(by {silence.created_by}: {silence.reason})"
    return f"Held back by a silence until it {ended} {when} {who}"


def digest_changes(
    window: Sequence[StatusChange],
    earlier: Sequence[StatusChange],
    silences: Sequence[Silence],
    *,
    start: datetime,
    end: datetime,
) -> list[StatusChange]:
    """What a digest covering (start, end] shows, oldest first: the changes recorded in it that
    no silence holds at `end`, and the changes recorded before it that a silence held until a
    moment in it (the previous digest held them back). `silences`: at least every silence that
    ends after `start`."""
    shown = [c for c in window if not is_held(c, silences, end)]
    for change in earlier:
        released = release_time(change, silences)
        if released is not None and start < released <= end:
            shown.append(change)
    return sorted(shown, key=lambda c: (c.at, c.id or 0))


@dataclass(frozen=True)
class Outgoing:
    """A change as it went out: `held_by` the silence that held it back until its end."""

    change: StatusChange
    held_by: Silence | None = None

    @property
    def at(self) -> datetime:
        """When it went out: when it was recorded (`StatusChange.recorded`: a change to
        `unknown` is dated earlier, when the feeds stopped supporting the status), or when the
        silence holding it ended."""
        return self.change.recorded if self.held_by is None else self.held_by.end


def feed_changes(
    latest: Sequence[StatusChange],
    released: Iterable[StatusChange],
    silences: Sequence[Silence],
    *,
    now: datetime,
    limit: int,
) -> list[Outgoing]:
    """The `limit` changes that went out last by `now`, newest first (by when they went out,
    then when recorded, then id); those held at `now` are left out. `latest`: the `limit`
    changes recorded last that are not held at `now`; `silences`: at least every silence ending
    after the last of them was recorded; `released`: for each of those that ended by `now`, at
    least the `limit` changes it held recorded last that are not held at `now`. Any other
    change went out before the last of `latest` (recorded before it, or released by a silence
    that ended before it), so it is not among the `limit` last."""
    out: dict[int | None, Outgoing] = {}  # by id: a released change may be among the latest
    for change in [*latest, *released]:
        held_by = holder(change, silences)
        if held_by is None or held_by.end <= now:
            out.setdefault(change.id, Outgoing(change, held_by))
    order = sorted(
        out.values(), key=lambda o: (o.at, o.change.recorded, o.change.id or 0), reverse=True
    )
    return order[:limit]
