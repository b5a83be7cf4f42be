"""The daily digest's schedule and its exactly-once send, shared by `monitor run` and the CLI.

    due_day(now, ...) -> date | None                 which day's digest is due at `now`, if any
    digest_input(definitions, store, ...) -> DigestInput   assembled from the store and views
    send_daily_digest(definitions, store, settings, ...) -> DigestResult
    resend_refused(definitions, store, settings, ...) -> Resent | None
    sent_digest(store, day) -> SentDigest | None      the message that went out, kept with the day

Exactly once, healthchecks style: the day's row is claimed in the database *before* sending;
after a send it is marked sent, after a failure the claim is released (so a later run retries);
a claim left by a crashed sender goes stale and is retaken (`store.DIGEST_CLAIM_TIMEOUT`), at
once by a daemon of the same host that sees the sender is gone (`Store.take_over_claims`): a
sender killed after the server took the digest and before it was marked sent has it sent twice.
Recipients the server refused with a temporary (4xx) answer while it took the digest for the
others are sent it again later, up to RESENDS times, each resend claimed the same way: the
message that went out, kept with the day's row (`sent_digest`), not one built again.
Building the message (`digest.build_digest`) and sending it (`mail.send_with_retry`) stay in
monitor.digest and monitor.mail; this module decides which data and which day.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from monitor.digest import build_digest
from monitor.digestinput import DayVerdict, DigestInput, Reads, feed_problems
from monitor.domain import Definitions, StatusChange, utc_text
from monitor.errors import DigestError
from monitor.mail import (
    Refused,
    addresses,
    as_sent,
    deliver,
    is_temporary,
    is_transient,
    refused_in,
    refused_words,
    send_with_retry,
    sent_message,
)
from monitor.settings import Settings
from monitor.silences import Silence, digest_changes, is_held, release_time
from monitor.standing import indicator_views_at
from monitor.store import STALE_AFTER, FeedState, Store
from monitor.views import indicator_views, judged_since, replay_note

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 31  # how far back the previous digest is looked for
DIGEST_RETRY = timedelta(minutes=5)  # after a failed digest, doubling up to DIGEST_RETRY_MAX
DIGEST_RETRY_MAX = timedelta(hours=1)
RESENDS = 5  # times a digest is sent again to the recipients refused with a 4xx answer

__all__ = [
    "DIGEST_RETRY",
    "DIGEST_RETRY_MAX",
    "RESENDS",
    "DigestResult",
    "Resent",
    "SentDigest",
    "digest_input",
    "digest_message",
    "due_day",
    "feed_problems",
    "refused_note",
    "resend_refused",
    "retry_delay",
    "send_daily_digest",
    "sent_digest",
    "slot",
]


@dataclass(frozen=True)
class DigestResult:
    day: date
    sent: bool
    where: str = ""  # "smtp:host:port" or the .eml path, when sent
    reason: str = ""  # why not sent: already sent, claimed elsewhere, or the error
    refused: Refused = ()  # sent, but the server refused these recipients (the others have it)
    again_at: datetime | None = None  # when those refused with a 4xx answer are tried again


@dataclass(frozen=True)
class Resent:
    """The digest of `day` sent again to the recipients it was refused for with a 4xx answer."""

    day: date
    taken: tuple[str, ...]  # the recipients that have it now
    refused: Refused  # those still recorded as refused (a 5xx answer too)
    again_at: datetime | None  # the next try; None: what is refused now stays so


@dataclass(frozen=True)
class SentDigest:
    """The digest of `day` as it went out at `sent_at`: `raw` the RFC 5322 message as sent."""

    day: date
    sent_at: datetime
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return sent_message(self.raw)


def sent_digest(store: Store, day: date) -> SentDigest | None:
    """The message of `day`'s digest as it went out, kept with it; None when it was not sent,
    or sent before the message was kept (revision 0017): then it can only be built again."""
    kept = store.kept_digest(day)
    return None if kept is None else SentDigest(day, *kept)


def retry_delay(failures: int) -> timedelta:
    """How long after its `failures`-th failure in a row a digest is tried again: 5 min, 10,
    20, 40, then every hour."""
    return min(DIGEST_RETRY * (1 << max(0, failures - 1)), DIGEST_RETRY_MAX)


def refused_note(refused: Refused, again_at: datetime | None) -> str:
    """'the server refused a@x (450 …); `monitor run` tries the 4xx ones again from …'."""
    return f"the server refused {refused_words(refused)}{_again(again_at)}"


def _again(again_at: datetime | None) -> str:
    if again_at is None:
        return ""
    return f"; `monitor run` tries the 4xx ones again from {utc_text(again_at)}"


def slot(day: date, digest_time: time, zone: tzinfo) -> datetime:
    """The moment the digest of `day` is due: `digest_time` on `day` in `zone`. A time the
    clocks pass twice that day (02:30 when they go back from 03:00 to 02:00) is its first
    time; a time they skip (02:30 when they go forward from 02:00 to 03:00) is the moment they
    skip to, 03:00 (Python's fold=0 would read it with the offset from before the jump: 03:30)."""
    wall = datetime.combine(day, digest_time)
    first = wall.replace(tzinfo=zone)  # fold=0: the first of two; in a gap, an hour past it
    if _wall(first, zone) == wall:
        return first
    return _first_past(wall, zone)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    """The clock on the wall in `zone` at `moment` (naive)."""
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


def _first_past(wall: datetime, zone: tzinfo) -> datetime:
    """The first moment the clock in `zone` reads `wall` or later, for a `wall` time it skips:
    between the moment that time would be with the offset after the jump and with the one
    before, found to the microsecond."""
    ends = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    before, after = ends  # the clock reads before `wall` at `before`, past it at `after`
    while after - before > timedelta(microseconds=1):
        middle = before + (after - before) / 2
        if _wall(middle, zone) >= wall:
            after = middle
        else:
            before = middle
    return after.astimezone(zone)


def due_day(
    now: datetime,
    *,
    digest_time: time,
    zone: tzinfo,
    last_sent: date | None,
    began: datetime | None = None,
) -> date | None:
    """The day whose digest should go out at `now`: today once its time has come; before that,
    yesterday's when it was missed (a digest was sent before, but not since yesterday).
    Only the latest missed day is returned, so a long outage yields one digest, not one a day.
    `began`: when monitoring began (the first check cycle); with no digest sent before, today's
    is not due when its time came before that: nothing was missed, and the first digest goes
    out at the next digest time, not as soon as a new database's first check is done."""
    today = now.astimezone(zone).date()
    if now >= slot(today, digest_time, zone):
        if last_sent is None and began is not None and began > slot(today, digest_time, zone):
            return None
        return today
    yesterday = today - timedelta(days=1)
    if last_sent is not None and last_sent < yesterday:
        return yesterday
    return None


# ---------------------------------------------------------------- what the digest says


def _began_after(store: Store, start: datetime) -> datetime | None:
    """When monitoring began (the first cycle recorded started), if after `start`: the first
    digest lists changes since then, not since a time nothing was watched."""
    began = store.first_cycle_started()
    return began if began is not None and began > start else None


def previous_send(store: Store, day: date, *, digest_time: time, zone: tzinfo) -> datetime | None:
    """Up to when the latest digest of a day before `day` listed changes (looking back a
    month): the changes after that are the next digest's. A digest sent before that was kept
    listed them up to when it was sent, but not past the next day's digest time."""
    last = store.last_digest()
    days = [last[0]] if last is not None and last[0] < day else []
    days += [day - timedelta(days=back) for back in range(1, LOOKBACK_DAYS + 1)]
    for earlier in days:
        state = store.digest_state(earlier)
        if state is not None and state.sent_at is not None:
            if state.covered_until is not None:
                return state.covered_until
            return covered_until(earlier, state.sent_at, digest_time=digest_time, zone=zone)
    return None


def covered_until(day: date, now: datetime, *, digest_time: time, zone: tzinfo) -> datetime:
    """The end of the changes the digest of `day` built at `now` lists: `now`, but at most the
    next day's digest time (a past day's digest leaves the later changes to the next one)."""
    return min(now, slot(day + timedelta(days=1), digest_time, zone))


def covered_by(
    store: Store, day: date, now: datetime, *, digest_time: time, zone: tzinfo
) -> datetime:
    """The end of the changes the digest of `day` lists: for a day whose digest went out, what
    it covered then (kept with it), so that built again (--send --force, or one sent before its
    message was kept: `sent_digest`) it lists the same changes; else `covered_until` as of
    `now`, but not past where the digest of a later day that went out began (`--date` of a
    day left unsent: what that one listed is not listed twice)."""
    state = store.digest_state(day)
    if state is not None and state.sent_at is not None:
        sent = state.covered_until
        return sent or covered_until(day, state.sent_at, digest_time=digest_time, zone=zone)
    end = covered_until(day, now, digest_time=digest_time, zone=zone)
    later = store.next_sent_digest(day)
    if later is None:
        return end
    began = previous_send(store, later, digest_time=digest_time, zone=zone)
    return min(end, began or slot(later - timedelta(days=1), digest_time, zone))


def digest_input(
    definitions: Definitions,
    store: Store,
    *,
    day: date,
    now: datetime,
    timezone: str,
    digest_time: time = time(7, 0),
    public_url: str | None = None,
    kept_since: datetime | None = None,
) -> DigestInput:
    """The digest of `day` as of `now`: the changes since the previous digest was sent (or,
    without one, since the day before's digest time) up to `now` — at most a day past `day`'s
    digest time — but those a silence holds (they come in the digest after it ends), then the
    silences in force, every indicator's standing status and the feed problems (and a
    replay's hold on the statuses).

    The standing statuses are those at the end of the changes it lists (`covered_by`: for a
    day whose digest went out, where that one's ended): now for today's, the next day's digest
    time for a past day's (`standing.indicator_views_at`; `kept_since`: from
    when retention keeps every change, now - MONITOR_RETENTION)."""
    zone = ZoneInfo(timezone)
    previous = previous_send(store, day, digest_time=digest_time, zone=zone)
    start = previous or slot(day - timedelta(days=1), digest_time, zone)
    end = covered_by(store, day, now, digest_time=digest_time, zone=zone)
    window = store.changes_between(start, end)
    silences = store.silences(ending_after=start)
    changes, held = _changes(store, window, silences, start, end)
    past = end < now
    standing = (
        indicator_views_at(definitions, store, at=end, kept_since=kept_since)
        if past
        else indicator_views(definitions, store, now=now)
    )
    feeds = store.feeds()
    began = None if previous else _began_after(store, start)
    return DigestInput(
        day=day,
        reads=_reads(store, start, end, feeds),
        first_since=None if previous else began or start,
        monitoring_began=began is not None,
        generated_at=now,
        timezone=timezone,
        changes=tuple(changes),
        silences=tuple(store.silences(active_at=now)),
        held=held,
        indicators=tuple(standing),
        feed_problems=feed_problems(feeds, now=now, zone=zone),
        replay_note=replay_note(store.replay_hold(), now=now),
        page_url=public_url,
        standing_at=end if past else None,
        removed=frozenset(c.indicator_id for c in changes).union(v.id for v in standing)
        - {i.id for i in definitions.indicators},
        titles=tuple((i.id, i.title) for i in definitions.indicators),
        verdicts=_verdicts(store, window, silences, start, end),
        judged=tuple(judged_since(store, changes, until=end)),
    )


def _verdicts(
    store: Store,
    window: Sequence[StatusChange],
    silences: Sequence[Silence],
    start: datetime,
    end: datetime,
) -> tuple[DayVerdict, ...]:
    """The verdicts given in the digest's span, each with the status it moved its indicator to
    (the change of `window`, the span's, that names it as its reason, also one a silence holds
    back: with when that silence ends, `held_until`), "" for none."""
    given = store.verdicts_between(start, end)
    if not given:
        return ()
    moved = {(c.indicator_id, c.reason, c.at): c for c in window}
    days = []
    for v, title in given:
        change = moved.get((v.indicator_id, v.reason, v.at))
        if change is None:
            days.append(DayVerdict(v, title))
            continue
        held = is_held(change, silences, end)
        until = release_time(change, silences) if held else None
        days.append(DayVerdict(v, title, change.new_status, until))
    return tuple(days)


def _reads(store: Store, start: datetime, end: datetime, feeds: Sequence[FeedState]) -> Reads:
    cycles, checks, new, last, failed = store.reads_between(start, end)
    return Reads(cycles, checks, new, last, _unchecked(store, start, end, feeds), failed)


def _unchecked(
    store: Store, start: datetime, end: datetime, feeds: Sequence[FeedState]
) -> tuple[datetime, datetime] | None:
    """The longest stretch in the digest's span that no cycle checked a feed, when longer than
    two of the shortest check interval (as a feed is stale after two of its own): the daemon
    was down, its host asleep. The readers said `unknown` meanwhile; the recorded statuses,
    and so the digest's, run on across it."""
    if not feeds:
        return None
    gap = store.longest_unchecked(start, end)
    due = min(feed.interval for feed in feeds) * STALE_AFTER
    return gap if gap is not None and gap[1] - gap[0] > due else None


def _changes(
    store: Store,
    window: list[StatusChange],
    silences: Sequence[Silence],
    start: datetime,
    end: datetime,
) -> tuple[list[StatusChange], int]:
    """The changes a digest from `start` to `end` lists — those of `window`, dated
    start <= at < end (`Store.changes_between`), that no silence holds, and those recorded
    before whose silence ended after `start`, by `end` — and how many dated in it are held
    back (`monitor.silences.digest_changes`); `silences`: those ending after `start`."""
    if not silences:
        return window, 0
    released = [s for s in silences if s.end <= end and s.created_at < start]
    held = {  # what each held, recorded while in force before this digest's window (by id)
        c.id: c
        for s in released
        for c in store.changes_recorded(s.indicator_id, s.created_at, min(s.end, start))
        if c.at < start
    }
    earlier = sorted(held.values(), key=lambda c: (c.at, c.id or 0))
    shown = digest_changes(window, earlier, silences, start=start, end=end)
    return shown, sum(is_held(c, silences, end) for c in window)


def digest_message(
    definitions: Definitions, store: Store, settings: Settings, *, day: date, now: datetime
) -> EmailMessage:
    data = digest_input(
        definitions,
        store,
        day=day,
        now=now,
        timezone=settings.timezone,
        digest_time=settings.digest_time,
        public_url=settings.public_url,
        kept_since=now - settings.retention,
    )
    return build_digest(data, sender=settings.digest_from, recipients=settings.digest_to)


# ---------------------------------------------------------------- sending once


def send_daily_digest(
    definitions: Definitions,
    store: Store,
    settings: Settings,
    *,
    day: date,
    now: datetime,
    owner: str,
    force: bool = False,
    sleep: Callable[[float], None] = _time.sleep,
    clock: Callable[[], datetime] | None = None,
    guard: AbstractContextManager[object] | None = None,
) -> DigestResult:
    """Claim the digest of `day`, send it (retrying transient failures) and mark it sent, with
    the recipients the server refused (when it refused every one, it is a failure).

    Not sent when it already was, or another sender holds a fresh claim — unless `force`.
    On any failure (DigestError from delivery, or whatever `sleep` raises when a daemon stops)
    the claim is released and the error propagates; a later call retries. The message is
    built inside `guard` (the daemon's lock against a check cycle recording changes meanwhile),
    as of `clock()` when given, and kept with the day as it went out (`sent_digest`). A forced
    send of a sent day is a request to send it again: it is built anew, and kept instead."""
    state = store.digest_state(day)
    if state is not None and state.sent_at is not None and not force:
        reason = f"already sent at {state.sent_at:%Y-%m-%d %H:%M:%S} UTC"  # a missed day: later
        if state.refused:
            reason += f"; {refused_note(state.refused, state.resend_at)}"
        return DigestResult(
            day, False, reason=reason, refused=state.refused, again_at=state.resend_at
        )
    if not store.claim_digest(day, owner=owner, now=now) and not force:
        return DigestResult(day, False, reason="claimed by another sender")
    try:
        with guard or nullcontext():
            built_at = clock() if clock else now
            message = digest_message(definitions, store, settings, day=day, now=built_at)
        sent = send_with_retry(message, settings, sleep=sleep)
    except BaseException as exc:  # whatever happened, a later run may try again
        store.mark_digest_failed(day, str(exc) or type(exc).__name__, (clock or (lambda: now))())
        raise
    end = covered_by(store, day, built_at, digest_time=settings.digest_time, zone=settings.zone)
    sent_at = (clock or (lambda: now))()
    again = _resend_at(sent.refused, 0, sent_at)
    store.mark_digest_sent(day, sent_at, covered_until=end, refused=sent.refused, resend_at=again,
                           message=sent.raw or as_sent(message))  # fmt: skip
    if sent.refused:
        log.warning("digest: %s sent to %s, but it refused %s%s", day.isoformat(), sent.where,
                    refused_words(sent.refused), _again(again))  # fmt: skip
    else:
        log.info("digest: %s sent to %s", day.isoformat(), sent.where)
    return DigestResult(day, True, where=sent.where, refused=sent.refused, again_at=again)


def _resend_at(
    refused: Refused, resends: int, now: datetime, recipients: Collection[str] | None = None
) -> datetime | None:
    """When to send the digest again to those `refused` with a temporary (4xx) answer (that
    are still `recipients`), after `resends` resends: None when none is, or that was the last."""
    again = [a for a, answer in refused if is_temporary(answer)]
    if recipients is not None:
        again = [address for address in again if address in recipients]
    if not again or resends >= RESENDS:
        return None
    return now + retry_delay(resends + 1)


def resend_refused(
    definitions: Definitions,
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
    guard: AbstractContextManager[object] | None = None,
    owner: str | None = None,
) -> Resent | None:
    """Send a sent digest again to the recipients the server refused with a temporary (4xx)
    answer, when that is due (`Store.claim_resend`: one caller, across daemons), and record who
    is refused now: one taken leaves the list; a 5xx answer, a recipient no longer in
    MONITOR_DIGEST_TO, or the RESENDS-th resend leaves the refusal recorded for good. The
    message is the one that went out, as kept (`sent_digest`: its Message-ID, every byte of
    its parts), taken inside `guard`; one sent before it was kept is built again (`covered_by`:
    the changes it listed, but statuses and feed health as of the resend). `owner`, the daemon,
    is named with the claim, so that its restart takes it over at once if it is killed. None
    when no resend was due."""
    claimed = store.claim_resend(now=now, most=RESENDS, owner=owner)
    if claimed is None:
        return None
    day, resend = claimed
    state = store.digest_state(day)
    refused = state.refused if state is not None else ()
    with guard or nullcontext():
        kept = sent_digest(store, day)
        message = kept.raw if kept is not None else digest_message(  # sent as it is kept
            definitions, store, settings, day=day, now=clock() if clock else now
        )  # fmt: skip
    recipients = addresses(settings.digest_to)  # who is still a recipient, whatever its To says
    to = [a for a, answer in refused if is_temporary(answer) and a in recipients]
    still, more, where = _resend(message, settings, to, refused)
    left = tuple(sorted([r for r in refused if r[0] not in to] + list(still)))
    again = _resend_at(left, resend, clock() if clock else now, recipients) if more else None
    if not store.mark_resent(day, resend, refused=left, resend_at=again):
        log.warning("digest: %s: resend %d was taken over by another sender", day, resend)
    taken = tuple(a for a in to if a not in dict(still))
    if taken:
        log.info("digest: %s sent again to %s at %s", day.isoformat(), ", ".join(taken), where)
    if still:
        log.warning("digest: %s: resend %d of %d: %s%s", day.isoformat(), resend, RESENDS,
                    refused_note(still, again), "" if again else "; not tried again")  # fmt: skip
    return Resent(day, taken, left, again)


def _resend(
    message: EmailMessage | bytes, settings: Settings, to: Sequence[str], refused: Refused
) -> tuple[Refused, bool, str]:
    """Deliver `message` to `to`: who refused it now, whether to try again, where it went."""
    if not to:
        return (), False, ""
    try:
        delivery = deliver(message, settings, to=to)
    except DigestError as exc:  # every one refused it, or no answer at all: a try all the same
        log.warning("%s (sending the digest again)", exc)
        answered = refused_in(exc)
        still = answered or tuple(r for r in refused if r[0] in to)
        return still, bool(answered) or is_transient(exc), ""
    return delivery.refused, True, delivery.where
