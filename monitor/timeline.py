"""How a status reads on the page, and the timeline of an indicator's status: the page's
geometry and words, pure (no HTML; `monitor.page` renders them).

    look(...)       a status's words and tone: its outcome's label and level, the glyph of
                    unknown, the label a change kept for an outcome no longer defined
    timeline(...)   the last TIMELINE_DAYS days of an indicator's changes as stretches of SVG
                    (TIMELINE_WIDTH user units wide), with the changes' marks, the month ticks,
                    the legend and where monitoring began

The web edge reads TIMELINE_DAYS of each indicator's history for the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from monitor.domain import MIXED, QUIET, UNKNOWN, Definitions, StatusChange
from monitor.views import OTHER, status_words, tone_of

__all__ = ["TIMELINE_DAYS", "Segment", "StatusLook", "Timeline", "look", "timeline"]

TIMELINE_DAYS = 90
TIMELINE_WIDTH = 1000.0  # SVG user units; the SVG scales to the card's width


# ---------------------------------------------------------------- statuses


@dataclass(frozen=True)
class StatusLook:
    code: str  # as stored: pressure:confirmed
    tone: str  # css class
    text: str  # what a person reads: the outcome's label, or the status word

    @property
    def badge(self) -> str:
        """The badge's words: the code, with the glyph of unknown (never a plain grey word)."""
        return status_words(self.code) if self.code == UNKNOWN else self.code


def look(
    definitions: Definitions,
    indicator_id: str,
    status: str,
    kept: Sequence[tuple[str, str]] = (),
) -> StatusLook:
    """How `status` reads: its outcome's label and level; for an outcome no longer defined
    (its indicator's file edited), the label a change `kept` (`StatusChange.labels`), else
    the status as it is stored."""
    outcome_id, _, level = status.partition(":")
    try:
        indicator = definitions.indicator(indicator_id)
    except KeyError:
        indicator = None
    ids = [o.id for o in indicator.outcomes] if indicator is not None else []
    tone = tone_of(status, ids)
    if status in (QUIET, MIXED, UNKNOWN):
        return StatusLook(status, tone, status_words(status))
    if indicator is None or tone == OTHER:
        label = dict(kept).get(outcome_id)
        return StatusLook(status, tone, f"{label} ({level})" if label else status_words(status))
    label = indicator.outcome(outcome_id).label
    return StatusLook(status, tone, f"{label} ({level})")


# ---------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    status: StatusLook
    label: str  # the tooltip


@dataclass(frozen=True)
class Timeline:
    segments: tuple[Segment, ...]
    marks: tuple[float, ...]  # x of each change
    ticks: tuple[tuple[float, str], ...]
    legend: tuple[StatusLook, ...]
    changes: int
    monitored_from: tuple[float, str] | None = None  # (x, day) when monitoring began inside


def timeline(
    definitions: Definitions,
    indicator_id: str,
    changes: Sequence[StatusChange],
    current: str,
    *,
    now: datetime,
    zone: tzinfo,
    days: int = TIMELINE_DAYS,
    started: datetime | None = None,
    first_read: datetime | None = None,
    was: str = "",
    since: datetime | None = None,
) -> Timeline:
    """The status over the last `days` days from the changes inside them (any order).

    Nothing is drawn before `started`, when monitoring the indicator began: no status was
    known then, and the stretch says so (`monitored_from`). Before `first_read`, when a first
    reading that recorded no change ended the unknown it began in, it is drawn `unknown`. When
    `current` is not recorded yet (time alone moved it: the feeds went unread while no daemon
    ran), `was` is the status last recorded: drawn up to `since`, when `current` began."""
    start = now - timedelta(days=days)
    begin = start if started is None else min(max(start, started), now)
    inside = sorted((c for c in changes if begin <= c.at <= now), key=lambda c: (c.at, c.id or 0))
    times = [begin, *(c.at for c in inside), now]
    statuses = [inside[0].old_status if inside else was or current]
    statuses += [c.new_status for c in inside]
    if first_read is not None and begin < first_read < times[1]:
        times.insert(1, first_read)
        statuses.insert(0, UNKNOWN)
    if was and since is not None:
        times.insert(-1, min(max(since, times[-2]), now))
        statuses.append(current)
    scale = TIMELINE_WIDTH / (now - start).total_seconds()

    def x(moment: datetime) -> float:
        return round((moment - start).total_seconds() * scale, 2)

    stretches = list(zip(times[:-1], times[1:], statuses, strict=True))
    # A status that held for no time (the first check's change, at the moment monitoring began)
    # is no stretch: drawn zero wide, it would still be in the legend (`export history` has none).
    stretches = [s for s in stretches if s[1] > s[0]] or stretches[-1:]
    kept = [pair for c in inside for pair in c.labels]  # the latest change's label last
    segments = []
    for since, until, status in stretches:
        seen = look(definitions, indicator_id, status, kept)
        span = f"{since.astimezone(zone):%Y-%m-%d} – {until.astimezone(zone):%Y-%m-%d}"
        segments.append(Segment(x(since), x(until) - x(since), seen, f"{seen.text}: {span}"))
    ticks = tuple(
        (x(start + timedelta(days=d)), f"{(start + timedelta(days=d)).astimezone(zone):%b %-d}")
        for d in range(0, days, 30)
    )
    legend = {s.status.code: s.status for s in segments}
    monitored = (x(begin), f"{begin.astimezone(zone):%Y-%m-%d}") if begin > start else None
    return Timeline(
        tuple(segments),
        tuple(x(c.at) for c in inside),
        ticks,
        tuple(legend.values()),
        len(inside),
        monitored,
    )
