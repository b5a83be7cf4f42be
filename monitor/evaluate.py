"""Evidence -> statuses: windows, copies, corroboration. Pure: no I/O, `now` is an argument.

The status model (DESIGN §3):

- only evidence with ``time >= now - indicator.window`` counts;
- copies of one story count once. Per outcome, evidence is clustered into stories: two items
  are one story when they share a link (unless the publisher gave that link to other stories,
  below), have the same (long enough) normalized title, or their
  normalized title + snippet are near-duplicates (Jaccard >= 0.6 over word 3-shingles, or over
  character bigrams for CJK text), or so are their ledes (the first `LEDE_CHARS` characters of
  their text: an outlet that runs a wire story under its own headline keeps its lede). A wire
  story syndicated to several publishers is one story,
  and its source is the publisher of its earliest copy. A link one publisher put on several
  stories (a CMS giving every item one link: the store keeps them apart, `identity.another_item`)
  does not make its items one story: two of its items whose headlines and ledes tell them apart
  (`identity.other_stories`) are one story only by their titles or texts;
- an outcome is ``none`` without stories, ``confirmed`` with at least ``corroborate`` distinct
  sources among its stories, else ``reported``;
- the status is ``unknown`` when the indicator reads at least one feed and none of them can
  support ``quiet``: a feed can when it has been read successfully at least once, is not gone
  and has not been failing for longer than two of its check intervals. So an indicator whose
  feeds were never read is ``unknown`` before its first check and after a first check that
  failed, and one whose feeds all died is ``unknown`` two intervals after the last of them
  failed. The readers (the page, the API, the digest) also pass each feed's last read: one not
  read for two intervals (while no daemon ran, and then a first check that failed) supports
  no status either. This follows DESIGN literally: it wins even when evidence is still inside
  the window, because nobody can tell whether the news has moved on since; the status says why
  (`reason`).
  Otherwise ``quiet`` without evidence, ``mixed`` when two or more outcomes share the highest
  level, else ``OUTCOME:LEVEL``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime, timedelta

from monitor.domain import (
    CLOCK_SLACK,
    INITIAL,
    MIXED,
    QUIET,
    UNKNOWN,
    Definitions,
    Evidence,
    FeedHealth,
    Indicator,
    Level,
    Outcome,
    OutcomeState,
    Status,
    StatusChange,
    UnreadFeed,
    utc_text,
)
from monitor.stories import stories

__all__ = [
    "EVIDENCE_SHOWN",
    "changes",
    "down_reason",
    "evaluate",
    "feeds_down",
    "level_of",
    "overdue",
    "status_string",
    "unread_feeds",
    "unread_text",
    "untried",
]


EVIDENCE_SHOWN = 20  # stories an outcome's state shows (the newest); it counts them all
_REASON_FEEDS = 3  # feeds named in the reason of an unknown status; the others are counted
_REASON_ERROR = 80  # characters of each feed's last error shown there


# ---------------------------------------------------------------- statuses


def evaluate(
    indicator: Indicator,
    evidence: Sequence[Evidence],
    feed_health: Sequence[FeedHealth],
    *,
    now: datetime,
    version: Hashable = None,
) -> Status:
    """The status of one indicator.

    `evidence` are this indicator's stored matches (any age; older ones are ignored here) and
    `feed_health` the health of the feeds it reads. `version`, when given, is the version the
    store read `evidence` at (`EvidenceRead.version`): equal versions mean equal evidence, so
    the stories found in it are kept under that version (see `stories`).
    """
    cutoff = now - indicator.window
    by_outcome: dict[str, list[Evidence]] = {}
    for item in evidence:
        if item.indicator_id == indicator.id and item.time >= cutoff:
            by_outcome.setdefault(item.outcome_id, []).append(item)
    outcomes = tuple(
        _outcome_state(o, by_outcome.get(o.id, ()), _key(version, indicator.id, o.id))
        for o in indicator.outcomes
    )
    unread = unread_feeds(feed_health, now)
    down = down_reason(unread, len(feed_health))
    status = status_string([(o.outcome_id, o.level) for o in outcomes], down)
    return Status(indicator.id, status, outcomes, indicator.hash, down, unread)


def changes(
    statuses: Sequence[Status],
    current: Mapping[str, str],
    *,
    now: datetime,
    replayed: bool = False,
    reason: str | None = None,
    definitions: Definitions | None = None,
) -> list[StatusChange]:
    """A change for every status that differs from `current` (an absent indicator is at INITIAL),
    recorded with `reason` when something other than a check caused it (a verdict); a change to
    ``unknown`` carries the status's reason. With `definitions`, each keeps its indicator's
    title, group and outcome labels as they are now (`StatusChange.title`)."""
    defined = {i.id: i for i in definitions.indicators} if definitions else {}
    found = []
    for status in statuses:
        old = current.get(status.indicator_id, INITIAL)
        indicator = defined.get(status.indicator_id)
        if status.status != old:
            found.append(
                StatusChange(
                    indicator_id=status.indicator_id,
                    at=now,
                    old_status=old,
                    new_status=status.status,
                    evidence=status.evidence,
                    definition_hash=status.definition_hash,
                    replayed=replayed,
                    reason=reason or status.reason,
                    evidence_total=status.evidence_count,
                    title=indicator.title if indicator else "",
                    group=indicator.group if indicator else "",
                    labels=tuple((o.id, o.label) for o in indicator.outcomes) if indicator else (),
                    unread=status.unread,
                )
            )
    return found


def _key(version: Hashable, indicator_id: str, outcome_id: str) -> Hashable:
    return None if version is None else (version, indicator_id, outcome_id)


def _outcome_state(
    outcome: Outcome, evidence: Sequence[Evidence], key: Hashable = None
) -> OutcomeState:
    found = stories(evidence, key=key)
    sources = tuple(dict.fromkeys(story.publisher for story in found))
    level = level_of(outcome, len(found), len(sources))
    return OutcomeState(
        outcome.id, level, sources, tuple(found[:EVIDENCE_SHOWN]), stories=len(found)
    )


def level_of(outcome: Outcome, stories: int, sources: int) -> Level:
    """An outcome's level from how many stories and distinct sources it has in its window."""
    if not stories:
        return Level.NONE
    if sources >= outcome.corroborate:
        return Level.CONFIRMED
    return Level.REPORTED


def status_string(levels: Sequence[tuple[str, Level]], down: str = "") -> str:
    """``unknown`` when the feeds are `down` (`feeds_down`), else what the outcomes' levels
    ((outcome id, level) each) say."""
    if down:
        return UNKNOWN
    top = max((level.value for _o, level in levels), default=0)
    if top == 0:
        return QUIET
    leaders = [(o, level) for o, level in levels if level.value == top]
    if len(leaders) > 1:
        return MIXED
    return f"{leaders[0][0]}:{leaders[0][1].label}"


UNREAD_AFTER = 2  # check intervals a feed may go unread (failing, or not checked at all)…
UNREAD_MIN = timedelta(minutes=10)  # …and, not failing, at least this long (an interval of 0s)
NO_FEEDS = "feeds not read: none selected (no feed in the feeds file has its tags or ids)"


def feeds_down(feed_health: Sequence[FeedHealth], now: datetime) -> str:
    """Why the feeds cannot support ``quiet`` ("feeds not read: a: never read (fetch: …)"), or
    "" when at least one can. An indicator reading no feed at all (its tags and ids select
    none, as with a feeds file of one's own) has read nothing: `quiet` would claim too much."""
    return down_reason(unread_feeds(feed_health, now), len(feed_health))


def unread_feeds(feed_health: Sequence[FeedHealth], now: datetime) -> tuple[UnreadFeed, ...]:
    """The feeds of `feed_health` that support no status at `now`, in its order: all of them
    when the indicator reading them is ``unknown`` for it (`feeds_down`)."""
    return tuple(u for u in (_unread(h, now) for h in feed_health) if u is not None)


def down_reason(unread: Sequence[UnreadFeed], feeds: int) -> str:
    """`feeds_down` of an indicator reading `feeds` feeds, `unread` of them supporting no status:
    "" while one of them can; else the first few named (`unread_text`), the others counted."""
    if not feeds:
        return NO_FEEDS
    if len(unread) < feeds:
        return ""  # one can
    shown = "; ".join(unread_text(u) for u in unread[:_REASON_FEEDS])
    more = len(unread) - _REASON_FEEDS
    return f"feeds not read: {shown}" + (f"; and {more} more" if more > 0 else "")


def unread_text(unread: UnreadFeed, *, whole: bool = False) -> str:
    """One feed's part of the reason of an unknown status: `a: failing since … (error)`, its
    error on one line and cut at `_REASON_ERROR` characters (`whole`: not cut, as a recorded
    change's feeds are listed under its reason)."""
    error = " ".join(unread.error.split())
    cut = not whole and len(error) > _REASON_ERROR
    error = error[: _REASON_ERROR - 1] + "…" if cut else error
    because = f" ({error})" if error else ""
    feed, since = unread.feed_id, unread.since
    match unread.why:
        case "gone":
            return f"{feed}: gone{because}"
        case "not_tried" if since is not None:
            return f"{feed}: never read (not tried since {utc_text(since)})"
        case "never_read" | "not_tried":
            return f"{feed}: never read{because or ' yet'}"
        case "failing" if since is not None:
            return f"{feed}: failing since {utc_text(since)}{because}"
        case "clock_set_back" if since is not None:
            return f"{feed}: last read at {utc_text(since)}, after now (clock set back)"
        case _:
            read = f" since {utc_text(since)}" if since is not None else ""
            return f"{feed}: not read{read}{because}"


def down_since(feed_health: Sequence[FeedHealth], now: datetime) -> datetime | None:
    """When feeds that cannot support ``quiet`` at `now` (`feeds_down`) stopped supporting it:
    when the last of them went unread or failing for too long (gone: when it failed). A feed
    never read never supported a status (one added to the feeds file while no daemon runs):
    the others tell when it stopped. None when that cannot be told (no feed was ever read, one
    gone without a failure time, or one read after `now`)."""
    moments = []
    for health in feed_health:
        if health.never_read:
            continue
        if health.dead:
            if health.failing_since is None:
                return None
            moments.append(health.failing_since)
        elif health.failing_since is not None:
            unread = _unread_at(health)
            if unread is not None and unread <= health.failing_since:  # unread, then failing
                moments.append(unread)
            else:
                moments.append(health.failing_since + UNREAD_AFTER * health.interval)
        elif health.last_read is not None and health.last_read <= now:
            moments.append(health.last_read + _unread_wait(health))
        else:
            return None
    return max(moments) if moments and max(moments) <= now else None


def _unread(health: FeedHealth, now: datetime) -> UnreadFeed | None:
    """Why one feed cannot support ``quiet``, or None when it can."""
    feed, error = health.feed_id, health.last_error
    if health.dead:
        return UnreadFeed(feed, "gone", health.failing_since, error)
    if health.never_read:
        if untried(health) and overdue(health, now) and health.due_at is not None:
            return UnreadFeed(feed, "not_tried", health.due_at, error)
        return UnreadFeed(feed, "never_read", None, error)
    since = health.failing_since
    if since is not None and since <= now - UNREAD_AFTER * health.interval:
        return UnreadFeed(feed, "failing", since, error)
    read = health.last_read
    if since is None and read is not None and read > now + CLOCK_SLACK:
        return UnreadFeed(feed, "clock_set_back", read, error)
    unread = _unread_at(health)  # not read for that long (and then a check that failed)
    if read is not None and unread is not None and unread <= min(now, since or now):
        return UnreadFeed(feed, "not_read", read, error)
    return None


def _unread_at(health: FeedHealth) -> datetime | None:
    """When a feed read at `last_read` (the readers' health) stops supporting a status if it
    is not read again: two intervals, ten minutes at least, after that; None without one. A
    failing feed that went unread so long before its failures began (the daemon was down, the
    host asleep) is unread from then: its first failed check does not make it read again."""
    return None if health.last_read is None else health.last_read + _unread_wait(health)


def untried(health: FeedHealth) -> bool:
    """Whether no check has tried the feed since it started afresh (new in the feeds file,
    given another URL there, or put back in it: `Store.sync_feeds`)."""
    tried = health.failing_since is not None or health.dead or bool(health.last_error)
    return health.never_read and not tried  # a rate limit leaves an answer, not a failure


def overdue(health: FeedHealth, now: datetime) -> bool:
    """Whether the feed has been due for two of its check intervals (ten minutes at least) at
    `now` with no check trying it: a check moves `due_at` on, and a feed backing off after
    failures (or gone) is due later. Its lease held by a process that does not get to it,
    or no daemon running: nobody reads it."""
    return health.due_at is not None and health.due_at + _unread_wait(health) <= now


def _unread_wait(health: FeedHealth) -> timedelta:
    return max(UNREAD_AFTER * health.interval, UNREAD_MIN)
