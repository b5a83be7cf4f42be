"""What a daily digest is built from, and how it words what it says. Pure: no I/O.

    DigestInput (FeedProblem, Reads)     the stored data of one day's digest
    format_status / format_time          a status and a time as the digest and alerts write them
    subject_for(data) / summary(data)    its subject line and the lines under its title

`monitor.digest` renders this into the email's text and HTML parts and builds the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.counts import count, every_one_failed
from monitor.domain import UNKNOWN, StatusChange, Verdict, how_long
from monitor.errors import DigestError
from monitor.silences import Silence
from monitor.views import moved_words, silent_words, status_words
from monitor.webmodels import IndicatorView

if TYPE_CHECKING:
    from monitor.match.judged import JudgedSince, Piece
    from monitor.store import FeedState

# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class FeedProblem:
    """A feed that needs attention: `problem` reads e.g. "failing: HTTP 503",
    "dead: 410 Gone", "no successful fetch for 2h", "no new item since 2026-11-02 (30 days)";
    `moved` (after `since`) that it moved permanently (`views.moved_words`)."""

    feed_id: str
    url: str
    problem: str
    since: datetime | None = None
    moved: str = ""

    def text(self, when: str) -> str:
        """The line's words, `when` its `since` as the reader writes times: `failing: HTTP
        503 (since WHEN); moved permanently to …`."""
        since = f" (since {when})" if self.since else ""
        return "; ".join(filter(None, [self.problem + since, self.moved]))


@dataclass(frozen=True)
class Reads:
    """What the checks of the digest's span read: `cycles` check cycles that checked a feed,
    `checks` feed checks in them (a 304 and a failure count), `new` entries stored, the latest
    of those cycles finished at `last`; `failed` of the checks failed."""

    cycles: int
    checks: int
    new: int
    last: datetime | None
    unchecked: tuple[datetime, datetime] | None = None  # a stretch no feed was checked in
    failed: int = 0


@dataclass(frozen=True)
class DayVerdict:
    """An analyst's verdict given in the digest's span: on the entry headlined `title`, and the
    status it moved its indicator to (`OUTCOME:LEVEL`, `quiet`), "" when it moved none."""

    verdict: Verdict
    title: str
    moved: str = ""
    # when the change it moved is held back by a silence at the digest's end: that silence's
    # end (`silences.release_time`); None when it is not held
    held_until: datetime | None = None


@dataclass(frozen=True)
class DigestInput:
    day: date
    generated_at: datetime
    timezone: str
    changes: tuple[StatusChange, ...]  # since the last digest
    indicators: tuple[IndicatorView, ...]  # standing statuses with their evidence, newest first
    feed_problems: tuple[FeedProblem, ...]
    page_url: str | None = None
    silences: tuple[Silence, ...] = ()  # in force when it was built
    held: int = 0  # changes those silences hold back: listed in the digest after they end
    # A past day's: when the standing statuses stood (the end of the changes it lists); None:
    # as it is built (`generated_at`).
    standing_at: datetime | None = None
    # Indicators of listed changes and standing statuses whose file is gone since: titled as
    # their changes kept them (`StatusChange.title`; the id for one recorded before that was
    # kept), marked "no longer defined", without a page link (it would be a 404).
    removed: frozenset[str] = frozenset()
    # While a replay holds the statuses, as it was built (`views.replay_note`): first among
    # the problems, since no change it lists could have been recorded meanwhile.
    replay_note: str = ""
    # What the checks since the last digest read, said under the summary, so that a day without
    # a change does not read like one nobody read the feeds (None: not said).
    reads: Reads | None = None
    # Where the changes it lists begin when no digest went out before it (the first one, or
    # none in the month `daily.previous_send` looks back): said as that time, since "since the
    # last digest" would speak of one that never was. None: there was one.
    first_since: datetime | None = None
    # `first_since` is when monitoring began (the first check cycle), inside the digest's span:
    # no change could come before it, and nothing was watched then (or after the span, for a
    # past day before monitoring began: nothing of it was watched).
    monitoring_began: bool = False
    # indicator id -> title, of every indicator defined: what names a silence when no standing
    # status does (a past day before anything was monitored lists none)
    titles: tuple[tuple[str, str], ...] = ()
    # The analysts' verdicts given in the digest's span, oldest first: listed (a `no` that moved
    # no status is still a correction of the evidence), and a `no` that stands at its end marks
    # the piece it judged under a change listed before it.
    verdicts: tuple[DayVerdict, ...] = ()
    # Per change of `changes`, its pieces an analyst judged `no` since, by the digest's end,
    # itself or a copy of its story (`views.judged_since`): marked so under it. () for none.
    judged: tuple[Mapping[Piece, JudgedSince], ...] = ()


# ---------------------------------------------------------------- feed health


def feed_problems(
    feeds: Sequence[FeedState], *, now: datetime, zone: tzinfo = UTC
) -> tuple[FeedProblem, ...]:
    """Feeds that are dead, failing, or stale (no success for more than two intervals), or
    silent (`no new item since DAY (N days)`, the day in `zone`), or whose body last read came
    with a warning (ill-formed, items left out, a charset guessed), or that moved permanently
    (`moved permanently to URL: update its url in the feeds file`, after the rest): one line
    each. The digest's feed health, and `monitor status`'s (which so loads no digest)."""
    problems = []
    for feed in feeds:
        url = feed.moved_to or feed.url
        moved = moved_words(feed)
        if feed.dead:
            problem = FeedProblem(feed.id, url, f"dead: {_error(feed)}", feed.failing_since)
        elif feed.failing_since is not None:
            problem = FeedProblem(feed.id, url, f"failing: {_error(feed)}", feed.failing_since)
        elif feed.stale_at(now) and feed.last_success_at is not None:
            quiet_for = how_long(now - feed.last_success_at)
            why = f" (rate limited: {feed.last_error})" if feed.rate_limited else ""
            problem = FeedProblem(
                feed.id, url, f"no successful fetch for {quiet_for}{why}", feed.last_success_at
            )
        elif feed.rate_limited:  # information: the server asked to be read later
            problem = FeedProblem(feed.id, url, f"rate limited: {feed.last_error}")
        elif feed.warning or feed.silent_since(now) or moved:
            silent = silent_words(feed, now=now, zone=zone)
            warned = f"read with a warning: {feed.warning}" if feed.warning else ""
            problem = FeedProblem(feed.id, url, "; ".join(filter(None, [silent, warned])))
        else:
            continue
        problems.append(replace(problem, moved=moved))
    return tuple(problems)


def _error(feed: FeedState) -> str:
    if feed.last_error:
        return feed.last_error
    return f"HTTP {feed.http_status}" if feed.http_status else "unknown error"


# ---------------------------------------------------------------- formatting helpers


def format_status(status: str) -> str:
    """'pressure:confirmed' -> 'pressure — confirmed'; 'quiet' stays 'quiet'; 'unknown' gets
    its glyph ('⚠ unknown'), so that it never reads like quiet."""
    if not status:
        return "(none)"
    if status == UNKNOWN:
        return status_words(status)
    outcome, sep, level = status.partition(":")
    return f"{outcome} — {level}" if sep else status


def format_time(moment: datetime, zone: tzinfo) -> str:
    """'2026-01-06 09:30 KST' in the given zone; naive times are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def count_changed(changes: Sequence[StatusChange]) -> int:
    return len({change.indicator_id for change in changes})


def subject_for(data: DigestInput) -> str:
    """'monitor digest 2026-01-06: 2 indicators changed, 1 unknown': how many indicators are unknown
    when any is: an inbox shows the subject alone, and "no changes" must not read as all clear
    while the feeds behind the statuses are not read."""
    n = count_changed(data.changes)
    changed = "no changes" if n == 0 else f"{count(n, 'indicator')} changed"
    unknown = count_unknown(data)
    if unknown:
        changed += f", {unknown} unknown"  # short: a subject over 78 characters is folded
    return f"monitor digest {data.day.isoformat()}: {changed}"


def count_unknown(data: DigestInput) -> int:
    """How many indicators stand at `unknown` as the digest is built."""
    return sum(1 for line in data.indicators if line.status == UNKNOWN)


def _since(data: DigestInput) -> str:
    """Since when its changes are listed: 'since the last digest', or for the first digest
    ever, 'since 2026-12-05 07:00 KST', or 'since monitoring began (2026-12-05 09:13 KST)'
    when it began after that."""
    if data.first_since is None:
        return "since the last digest"
    at = format_time(data.first_since, zone_named(data.timezone))
    return f"since monitoring began ({at})" if data.monitoring_began else f"since {at}"


def _before_monitoring(data: DigestInput) -> bool:
    """A past day's digest whose span ends before monitoring began (`monitor digest --date`
    of a day before a new database's first check): nothing of it was watched."""
    began, end = data.first_since, data.standing_at
    return data.monitoring_began and began is not None and end is not None and began >= end


def _read_words(reads: Reads | None, zone: tzinfo) -> str:
    """'The feeds were checked in 22 cycles (134 feed reads), the last at …, and brought 41
    new items.', or that no feed was; "" when unknown. The span is the summary's first
    sentence's ("since the last digest"), not said again. A cycle reads
    every feed due: the cycles are the checks, the feed reads what they did, and how many of
    those failed (`, every one failed`: a day the feeds were down does not read as a quiet
    one)."""
    if reads is None:
        return ""
    if not reads.checks or reads.last is None:
        return "No feed was checked in that time: nothing new was read."
    failed = ""
    if reads.failed:
        every = reads.failed >= reads.checks  # one read that failed: `, and it failed`
        failed = (
            f", {every_one_failed(reads.checks)}" if every else f", {reads.failed} of them failed"
        )
    times = f"in {count(reads.cycles, 'cycle')} ({count(reads.checks, 'feed read')}{failed})"
    items = count(reads.new, "new item") if reads.new else "no new item"
    return (
        f"The feeds were checked {times}, the last at "
        f"{format_time(reads.last, zone)}, and brought {items}." + _unchecked_words(reads, zone)
    )


def _unchecked_words(reads: Reads, zone: tzinfo) -> str:
    """' No feed was checked from … to … (35h): …', or "" when the checks ran as due."""
    if reads.unchecked is None:
        return ""
    begin, end = reads.unchecked
    return (
        f" No feed was checked from {format_time(begin, zone)} to {format_time(end, zone)}"
        f" ({how_long(end - begin)}): news a feed carried only in that time was never read."
    )


def summary(data: DigestInput) -> str:
    """The lines under the title: how many indicators changed since when, what the checks read
    in that time (since when said once), and how many are unknown."""
    n = count_changed(data.changes)
    since = _since(data)
    said = (
        f"No indicator changed {since}." if n == 0 else f"{count(n, 'indicator')} changed {since}."
    )
    if _before_monitoring(data) and data.first_since is not None:
        at = format_time(data.first_since, zone_named(data.timezone))
        said = f"Nothing was monitored in the time this digest covers: monitoring began at {at}."
    read = _read_words(data.reads, zone_named(data.timezone))
    if read:
        said += f" {read}"
    unknown = count_unknown(data)
    if unknown:
        are = "is" if unknown == 1 else "are"
        said += (
            f" {unknown} of {count(len(data.indicators), 'indicator')} {are} unknown: why is"
            " under feed health below."
        )
    return said


def zone_named(name: str) -> ZoneInfo:
    """The zone a digest is written in, by its IANA name; DigestError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DigestError(f"digest: unknown time zone {name!r}") from exc


__all__ = [
    "DayVerdict",
    "DigestInput",
    "FeedProblem",
    "Reads",
    "count_changed",
    "count_unknown",
    "format_status",
    "format_time",
    "subject_for",
    "summary",
    "zone_named",
]
