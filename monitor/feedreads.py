"""The fetch side of a check cycle: due feeds claimed a batch at a time and fetched as a sliding
window, each result with its parse job in the order the fetches finish; and one feed's
read made what the store keeps: its entries and the feed's new state (`FetchRecord`: validators,
back-off, title, warning, and the items known again under a new guid or link), counted in the
cycle's report once it is stored (`tally`; a read left out is counted as dropped).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.counts import count
from monitor.cycle import Context, CycleReport, Source
from monitor.domain import Entry, utc_text
from monitor.fetch import FeedRequest, FetchResult, FetchStatus, clip_error, next_check
from monitor.leases import Leases
from monitor.links import without_password
from monitor.parse import ParsedFeed, ParseJob
from monitor.store import DueFeed, FetchRecord

log = logging.getLogger("monitor.pipeline")  # a feed's failure or warning is logged as the cycle's

CLAIM_BATCH = 256  # feeds claimed at once alone on SQLite; the next claim when none is left
SHARED_CLAIM = 4  # fetch windows (`concurrency`) claimed at once where daemons share the claims
LULL = 0.1  # seconds without a fetch ending after which what is parsed is stored
_UNCHANGED = (FetchStatus.NOT_MODIFIED, FetchStatus.UNCHANGED)  # counted as not modified


def _claim(
    ctx: Context, leases: Leases, *, now: datetime, clock: Callable[[], datetime] | None
) -> list[DueFeed]:
    """The next feeds due at `now` (the longest due first) that the cycle does not hold yet,
    leased for `ctx.lease` from the moment they are claimed: CLAIM_BATCH of them alone on
    SQLite; where daemons share the claims (PostgreSQL: `Store.shares_claims`) SHARED_CLAIM
    fetch windows, so that a daemon holds no more due feeds than it is about to fetch, and
    daemons that tick together each claim and fetch a part of a cycle's feeds (the first to
    claim took up to 256, and the others found none)."""
    current = clock() if clock else now
    lease = ctx.lease + (current - now)
    shared = ctx.store.shares_claims
    limit = SHARED_CLAIM * max(1, ctx.limits.concurrency) if shared else CLAIM_BATCH
    due = ctx.store.due_feeds(
        now, owner=ctx.owner, lease=lease, limit=limit, skip=leases.claimed, force=ctx.force,
        current=current,
    )  # fmt: skip
    leases.hold(f.id for f in due)
    return due


def fetch_due(
    ctx: Context,
    source: Source,
    leases: Leases,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None,
    halt: Callable[[], bool],
) -> Iterator[tuple[tuple[DueFeed, FetchResult], ParseJob | None] | None]:
    """Each fetched feed with its result and, for a new body, the job of parsing it, in the
    order the fetches finish; None after each LULL in which none finished.

    The fetcher is kept at most two windows (2 x `concurrency`) ahead of what was taken from
    here, so fetching keeps pace with parsing instead of piling bodies up in memory; feeds are
    claimed again whenever none is left to hand it, until none is due or `halt()`."""
    claimed: dict[str, DueFeed] = {}
    unsent: deque[DueFeed] = deque()
    ahead = 2 * max(1, ctx.limits.concurrency)
    more = True
    while True:
        halted = halt()
        if more and not unsent and not halted:
            due = _claim(ctx, leases, now=now, clock=clock)
            claimed.update((f.id, f) for f in due)
            unsent.extend(due)
            more = bool(due)
        room = ahead - source.outstanding
        if room > 0 and unsent and not halted:
            source.submit([_request(unsent.popleft()) for _ in range(min(room, len(unsent)))])
        result = source.next_result(halt=halt, within=LULL)
        if result is None:
            if source.outstanding:  # none finished within LULL: a lull
                yield None
                continue
            if (more or unsent) and not halted:
                continue
            return
        feed = claimed[result.feed_id]
        yield (feed, result), _parse_job(feed, result)


def _request(feed: DueFeed) -> FeedRequest:
    listed = feed.listed_url if feed.listed_url != feed.url else None  # it moved: `moved_to`
    return FeedRequest(feed.id, feed.url, feed.etag, feed.last_modified, feed.body_hash, listed)


def _parse_job(feed: DueFeed, result: FetchResult) -> ParseJob | None:
    if result.status is not FetchStatus.MODIFIED or result.body is None:
        return None
    return ParseJob(result.body, feed.id, result.final_url or feed.url, result.content_type)


@dataclass(frozen=True)
class Read:
    """One feed's read as the cycle stores it: its entries and the feed's new state, and whether
    the feed answered that nothing changed (a 304, or the body last read)."""

    entries: Sequence[Entry]
    record: FetchRecord
    not_modified: bool = False


def tally(report: CycleReport, read: Read) -> None:
    """Count a read that was stored in the cycle's report: a fetch that brought nothing is
    failed, a rate limit among them (the feed is not failing for it); and log what it says of
    the feed. A read not stored (dropped: another process's read is the feed's) says nothing
    of it, so it is neither counted nor logged as the feed failing."""
    _log_read(read.record)
    report.feeds_checked += 1
    report.not_modified += read.not_modified
    if not read.record.ok:
        report.failed += 1
        report.rate_limited += read.record.rate_limited
        report.errors.append(f"{read.record.feed_id}: {read.record.error}")


def _log_read(record: FetchRecord) -> None:
    """What a stored read says of its feed: failed, asked to be read later (not the feed
    failing), or read with a warning."""
    if record.rate_limited and record.next_check_at is not None:  # absorb sets it
        when = utc_text(record.next_check_at)
        log.info("feed %s asked to be read later: %s; next check at %s at the earliest",
                 record.feed_id, record.error, when)  # fmt: skip
    elif not record.ok:
        log.warning("feed %s failed: %s", record.feed_id, record.error)
    elif record.warning:
        log.warning("feed %s was read with a warning: %s", record.feed_id, record.warning)


def absorb(
    ctx: Context,
    feed: DueFeed,
    result: FetchResult,
    parsed: ParsedFeed | Exception | None,
    *,
    now: datetime,
    titled: AbstractSet[str] = frozenset(),
) -> Read:
    """The entries of one fetch result and the feed's new state: its own title becomes the
    feed's unless the feeds file gives one (`titled`); a body read sets its warning (without
    one: clears it), a failure or a body not read again keeps the last one's. The validators
    (ETag, Last-Modified, body hash) move on only with a body read whole."""
    error, title, warning = result.error, None, None
    entries: Sequence[Entry] = ()
    if isinstance(parsed, Exception):
        error = str(parsed)
    elif parsed is not None:
        title, entries = parsed.title or None, parsed.entries
        title = None if feed.id in titled else title
        warning = clip_error(without_password(parsed.warning))
    unchanged = parsed is None and result.status in _UNCHANGED
    error = clip_error(without_password(error))  # a parse error names the feed's URL
    ok = result.ok and not error
    limited = result.status is FetchStatus.RATE_LIMITED
    # A body that did not parse keeps the old validators, so it is fetched whole next time;
    # so does a body cut off (its entries before the cut are stored, and it counts as read).
    validated = ok and not (isinstance(parsed, ParsedFeed) and parsed.ends_early)
    failed_result = result if ok else _as_failure(result, error)
    next_at, errors = next_check(
        failed_result,
        now=now,
        interval=feed.interval,
        errors_before=feed.error_count,
        max_backoff=ctx.max_backoff,
    )
    next_at += feed.interval * random.uniform(0.0, ctx.jitter)  # spread feeds out over time
    record = FetchRecord(
        feed.id,
        now=now,
        ok=ok,
        http_status=result.http_status,
        etag=result.etag if validated else None,
        last_modified=result.last_modified if validated else None,
        body_hash=result.body_hash if validated else None,
        moved_to=result.moved_to if ok else None,  # only where a feed was read
        error=error,
        dead=result.status is FetchStatus.GONE,
        next_check_at=next_at,
        error_count=errors,
        title=title,
        warning=warning if ok else None,
        listed_url=feed.listed_url,
        rate_limited=limited,
    )
    return Read(entries, record, unchanged)


# What a feed's warning says of items found stored under another guid or link (`Added`): a CMS
# that writes a new guid, or session or tracking parameter, at every request (or changed its
# guids once: the items it carries from before are known so while it does).
_KNOWN_AGAIN = {
    "guid": "under another guid than when first stored (guids that change from read to read?): "
    "known by their link (if any), headline and text, not stored again",
    "link": "under a link that changed only in a session or tracking parameter: known by their "
    "link without it and their headline, not stored again",
}


def known_again(what: str, n: int) -> str:
    """A warning's note of `n` items known again under another `what` (`guid` or `link`):
    `1 item under another guid than …`, `3 items under …`."""
    return f"{count(n, 'item')} {_KNOWN_AGAIN[what]}"


def told(record: FetchRecord, known: Mapping[str, int]) -> FetchRecord:
    """`record` with its warning telling of the feed's items `known` again under a new guid
    or link (Store.add_news), after the warning its body was read with."""
    if record.warning is None:  # not read (cannot be: its entries were stored)
        return record
    notes = [known_again(what, n) for what, n in sorted(known.items())]
    warning = "; ".join([record.warning, *notes] if record.warning else notes)
    return replace(record, warning=clip_error(warning))


def _as_failure(result: FetchResult, error: str) -> FetchResult:
    if result.failed:
        return result
    return FetchResult(
        result.feed_id, result.url, FetchStatus.FAILED, result.http_status, error=error
    )
