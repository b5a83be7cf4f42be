"""Silences: an analyst holds back the alerts and the digest's "what changed" of one indicator
(or of one of its outcomes) for a time, with a reason. Pure: which changes a silence holds and
when they are released; the store keeps the rows, alerts and the digest ask here.

A silence is in force from its creation to its end: `until`, or when someone ended it early.
It holds the status changes of its indicator recorded while it is in force (with an outcome:
those whose old or new status is of that outcome). Changes are still recorded as usual; a held
change is *released* when the last silence holding it ends, and then goes out once: its alert
is sent (saying it was held, by whom and why) and it appears in the next digest's "what
changed". Nothing is folded or dropped: every held change goes out at its release.

    Silence                       one silence (a row, and its end row when ended early)
    release_time(change, ss)      when a change goes out; None when no silence holds it
    is_held(change, ss, now)      whether it is held back at `now`
    digest_changes(...)           the changes a digest shows: its window's not held, and the
                                  earlier ones released within it
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from monitor.domain import StatusChange

__all__ = ["Silence", "digest_changes", "is_held", "outcome_of", "release_time"]


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
        """Whether it holds `change`: its indicator (and outcome), recorded while in force."""
        if change.indicator_id != self.indicator_id:
            return False
        outcomes = (outcome_of(change.old_status), outcome_of(change.new_status))
        if self.outcome_id is not None and self.outcome_id not in outcomes:
            return False
        return self.created_at <= change.at < self.end

    @property
    def target(self) -> str:
        """`INDICATOR` or `INDICATOR:OUTCOME`."""
        return self.indicator_id + (f":{self.outcome_id}" if self.outcome_id else "")


def outcome_of(status: str) -> str | None:
    """The outcome of `OUTCOME:LEVEL`; None for quiet, mixed and unknown."""
    outcome, colon, _level = status.partition(":")
    return outcome if colon else None


def release_time(change: StatusChange, silences: Iterable[Silence]) -> datetime | None:
    """When `change` goes out: the end of the last silence holding it; None when none does."""
    ends = [s.end for s in silences if s.covers(change)]
    return max(ends) if ends else None


def is_held(change: StatusChange, silences: Iterable[Silence], now: datetime) -> bool:
    released = release_time(change, silences)
    return released is not None and released > now


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
