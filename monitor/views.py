"""What people and tools are shown: the answers of the API and the CLI's `--json`, and the
indicators' views the page and the digest render.

One function per answer (`indicators`, `history`, `entries`, `feeds`, `exported`; /healthz's
is `monitor.healthz`), called by the API's route and by the CLI command alike; each returns the
`monitor.webmodels` model the route declares, built by that model's `of` (`exported`: a stream
of them).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlsplit

from monitor.domain import (
    INITIAL,
    MIXED,
    QUIET,
    UNKNOWN,
    Definitions,
    Status,
    StatusChange,
    how_long,
    without_controls,
    zoned_text,
)
from monitor.evaluate import unread_text
from monitor.statuses import kept_statuses, unread_since
from monitor.store import FeedState, ReplayHold, Store
from monitor.webmodels import (
    ChangeEvidenceOut,
    ChangeOut,
    EntryOut,
    HistoryOut,
    IndicatorOut,
    IndicatorView,
    OutcomeOut,
    PeriodOut,
)
from monitor.webmodels.feeds import FeedOut

if TYPE_CHECKING:
    from monitor.match.judged import JudgedSince, Piece

log = logging.getLogger("monitor.web")

NOT_READ_YET = "feeds not read yet"  # the reason of an unknown the next cycle will look into
UNKNOWN_GLYPH = "⚠"  # drawn before `unknown` everywhere, so it never reads as a grey `quiet`


@dataclass(frozen=True)
class Colour:
    """How a status is drawn, the same on the page and in the digest."""

    background: str
    text: str
    fill: str  # of its stretch of the page's timeline


PALETTE: dict[str, Colour] = {
    QUIET: Colour("#ecece7", "#46463f", "#dcdcd6"),  # grey: read, nothing matched
    # charcoal with a yellow word: no outcome's hue, nothing like quiet's grey
    UNKNOWN: Colour("#3f3f46", "#fde047", "#3f3f46"),
    MIXED: Colour("#efe7ff", "#4b2a99", "#8b5cf6"),
}


_OUTCOME_HUES = (  # outcome n of an indicator takes hue n % 4: (reported, confirmed)
    (Colour("#dbeafe", "#1e3a8a", "#93c5fd"), Colour("#1d4ed8", "#ffffff", "#1d4ed8")),  # blue
    (Colour("#ffedd5", "#7c2d12", "#fdba74"), Colour("#c2410c", "#ffffff", "#c2410c")),  # orange
    (Colour("#dcfce7", "#14532d", "#86efac"), Colour("#15803d", "#ffffff", "#15803d")),  # green
    (Colour("#fce7f3", "#831843", "#f9a8d4"), Colour("#be185d", "#ffffff", "#be185d")),  # pink
)
OTHER = "other"  # a status naming an outcome the definitions no longer have

COLOURS: dict[str, Colour] = {
    **PALETTE,
    **{
        f"o{n} {level}": colour
        for n, pair in enumerate(_OUTCOME_HUES)
        for level, colour in zip(("reported", "confirmed"), pair, strict=True)
    },
    OTHER: Colour("#f1f1f1", "#333333", "#999999"),
}
"""Every status's colour, by its tone (`tone_of`): the one table the page's CSS and the
digest's inline styles are both drawn from."""


def tone_of(status: str, outcome_ids: Sequence[str]) -> str:
    """A status's key in COLOURS (and the page's CSS classes): `quiet`, `mixed`, `unknown`,
    `oN LEVEL` for the indicator's Nth outcome (`outcome_ids` in definition order), else
    `other`."""
    if status in PALETTE:
        return status
    outcome_id, _, level = status.partition(":")
    if outcome_id not in outcome_ids or f"o0 {level}" not in COLOURS:
        return OTHER
    return f"o{list(outcome_ids).index(outcome_id) % len(_OUTCOME_HUES)} {level}"


def status_words(status: str, reason: str = "") -> str:
    """What a person reads for a status word: `⚠ unknown — feeds not read: …` for unknown."""
    if status != UNKNOWN:
        return status
    return f"{UNKNOWN_GLYPH} {UNKNOWN}" + (f" — {reason}" if reason else "")


def clean(text: str) -> str:
    """Feed-derived or stored text on one line: control, bidi override and isolate characters
    dropped as parse and definitions drop them (`domain.without_controls`), whitespace (line
    breaks too) collapsed."""
    return " ".join(without_controls(text).split())


def shown_reason(reason: str | None, zone: tzinfo) -> str:
    """A change's or a status's `reason` as the page, the digest and alerts show it: on one
    line, its moments in their `zone` as every other time there (`domain.zoned_text`)."""
    return clean(zoned_text(reason or "", zone))


UNREAD_NAMED = 3  # feeds `unread_words` names; the others are counted, as in a reason


def unread_words(view: IndicatorView) -> str:
    """What a person reads of the feeds an indicator reads that support no status now, when
    others still support its status (the page's card, `monitor status`): `25 of its feeds not
    read (bad01, bad02, bad03 and 22 more): the status stands on the others`; "" when every
    one reads, and for `unknown`, whose reason says it."""
    if view.status == UNKNOWN or not view.unread_feeds:
        return ""
    ids = [u.feed_id for u in view.unread_feeds]
    return f"{len(ids)} of its feeds not read ({named_feeds(ids)}): the status stands on the others"


def named_feeds(ids: Sequence[str]) -> str:
    """`bad01, bad02, bad03 and 22 more`: the first UNREAD_NAMED feeds, the others counted."""
    more = len(ids) - UNREAD_NAMED
    return ", ".join(ids[:UNREAD_NAMED]) + (f" and {more} more" if more > 0 else "")


def unread_lines(change: StatusChange, zone: tzinfo) -> tuple[str, ...]:
    """The feeds that supported no status when `change` was recorded, a line each as its
    `reason` words them but with the error whole (`a: failing since … (error)`), in `zone`:
    what the page, `monitor history`, alerts and the feeds list under the reason. () when the
    change kept none (recorded before they were kept, or every feed read), or when its reason
    already says each of them whole (three at most, no error cut)."""
    lines = [unread_text(u, whole=True) for u in change.unread or ()]
    if all(line in change.reason for line in lines):
        return ()
    return tuple(shown_reason(line, zone) for line in lines)


# ---------------------------------------------------------------- evidence as news

_LEAD = re.compile(r"^[\s\-–—:|.,;·]+")


def lede(title: str, snippet: str) -> str:
    """The snippet without the headline it starts with (a hit in the headline gives a snippet of
    the headline and the text after it; a late hit in a long one, of its last words): what is
    left is the news beyond the headline, or "". A text that itself opens with the headline
    (many feeds' descriptions do) loses that copy too."""
    title, snippet = clean(title), clean(snippet)
    body = snippet.removeprefix("…").lstrip()
    folded = body.casefold()
    for start in [0, *(m.end() for m in re.finditer(r"\s+", title))]:
        tail = title[start:]
        if tail and folded.startswith(tail.casefold()) and (start == 0 or body != snippet):
            rest = _LEAD.sub("", body[len(tail) :])
            if start == 0 and rest.casefold().startswith(title.casefold()):
                rest = _LEAD.sub("", rest[len(title) :])
            return rest if rest and rest != "…" else ""
    return snippet


def page_address(public_url: str | None, indicator_id: str) -> str | None:
    """The indicator's page under MONITOR_PUBLIC_URL (None when it is not set)."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/indicators/{quote(indicator_id, safe='')}/page"


def web_url(link: str) -> str | None:
    """The link when it is an absolute http(s) URL, else None (javascript:, data:, relative).

    The page and the digest make a link of feed-derived URLs only through this."""
    link = link.strip()
    if not link or any(ch.isspace() or ord(ch) < 32 for ch in link):
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return link


def indicator_views(
    definitions: Definitions, store: Store, *, now: datetime, evidence: bool = True
) -> list[IndicatorView]:
    """Every indicator with its status at `now` and the evidence behind it (without `evidence`,
    only counted). That is the recorded status unless time alone moved it (evidence left its
    window, the feeds went unread) before a check recorded that: then it is shown since the
    feeds stopped supporting the status (went unread or failing), or else since `now`; one no
    check evaluated yet, since None (not a moment). Each names its silent feeds and the
    silences in force over it at `now`."""
    recorded, started = store.current_statuses(), store.monitoring_started()
    first = store.first_readings()
    worked = kept_statuses(definitions, store, now=now, evidence=evidence)
    unread = unread_since(definitions, store, {
        w.indicator_id for w in worked
        if w.status == UNKNOWN and recorded.get(w.indicator_id, (INITIAL, now))[0] != UNKNOWN
    }, now=now)  # fmt: skip
    silent = {f.id for f in store.feeds() if f.silent_since(now) is not None}
    silenced: dict[str, list[int]] = {}
    for silence in store.silences(active_at=now):  # newest first
        if silence.id is not None:
            silenced.setdefault(silence.indicator_id, []).append(silence.id)
    views = []
    for worked_out in worked:
        status, since = recorded.get(worked_out.indicator_id, (INITIAL, None))  # None: no check
        was = ""  # the status recorded, when the one shown is not recorded yet
        if worked_out.status != status:  # not recorded yet: since it moved, if that is known
            moved = unread.get(worked_out.indicator_id, now)
            was = status if worked_out.indicator_id in recorded else ""
            kept = since if status != INITIAL and since is not None else moved
            status, since = worked_out.status, max(moved, kept)
        view = indicator_view(worked_out.indicator_id, definitions, worked_out, status, since)
        began = started.get(worked_out.indicator_id, since)
        among = _among(definitions, view, silent)
        read = first.get(worked_out.indicator_id)
        held = tuple(silenced.get(view.id, ()))
        views.append(replace(view, started=began, silent_feeds=among, first_read=read, was=was,
                             silences=held))  # fmt: skip
    return views


def _among(definitions: Definitions, view: IndicatorView, silent: set[str]) -> tuple[str, ...]:
    """The feeds of `silent` the indicator reads, in the order of the feeds file."""
    if not silent:  # as most of the time: no need to work out which feeds it reads
        return ()
    return tuple(f for f in definitions.feeds_for(definitions.indicator(view.id)) if f in silent)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The views of one set of definitions at one data version, computed at `now`.

    Equal only to itself: answers rendered from it are kept while it is the current one."""

    definitions: Definitions
    version: tuple[int, ...]
    now: datetime
    views: tuple[IndicatorView, ...]

    def view(self, indicator_id: str) -> IndicatorView:
        return next(v for v in self.views if v.id == indicator_id)

    def fresh(
        self, definitions: Definitions, version: tuple[int, ...], now: datetime, max_age: timedelta
    ) -> bool:
        """Still right at `now`: same definitions object, same version, not too old."""
        same = self.definitions is definitions and self.version == version
        return same and timedelta(0) <= now - self.now < max_age


class ViewCache:
    """`indicator_views`, computed again only when the data version moved, the definitions
    were reloaded, or `max_age` passed (statuses move as evidence leaves its window).

    A request costs one cheap query, the data version and a replay's hold on the statuses
    together (`store.version_and_hold()`): a hold moves no data version (the views stay as they
    were), yet every answer says it, so each request reads it afresh. Concurrent requests that
    miss wait for one computation instead of each making their own. Views with their evidence
    serve every request; answers that show none (`GET /indicators`) are served by views that
    only count it when no others are fresh. Thread-safe."""

    def __init__(self, store: Store, *, max_age: timedelta = timedelta(seconds=60)) -> None:
        self._store = store
        self._max_age = max_age
        self._lock = threading.Lock()
        self._last: dict[bool, Snapshot] = {}  # with evidence or not -> the latest views

    def get(
        self, definitions: Definitions, *, now: datetime, evidence: bool = True
    ) -> tuple[Snapshot, str]:
        """The current views, and the replay's hold on the statuses as of their time
        (`replay_note`: "" without one), which answers kept by the views keep in their key."""
        version, hold = self._store.version_and_hold()
        hit = self._hit(definitions, version, now, evidence)
        if hit is None:
            with self._lock:
                version, hold = self._store.version_and_hold()  # moved while this one waited?
                hit = self._hit(definitions, version, now, evidence)
                if hit is None:
                    found = indicator_views(definitions, self._store, now=now, evidence=evidence)
                    hit = self._last[evidence] = Snapshot(definitions, version, now, tuple(found))
        return hit, replay_note(hold, now=hit.now)

    def _hit(
        self, definitions: Definitions, version: tuple[int, ...], now: datetime, evidence: bool
    ) -> Snapshot | None:
        for kind in (True,) if evidence else (True, False):
            last = self._last.get(kind)
            if last and last.fresh(definitions, version, now, self._max_age):
                return last
        return None


def indicator_view(
    indicator_id: str, definitions: Definitions, status: Status, shown: str, since: datetime | None
) -> IndicatorView:
    """One indicator's view: its outcomes and evidence from `status`, shown as status `shown` since
    `since` (and, until the caller says otherwise, monitored since then)."""
    indicator = definitions.indicator(indicator_id)
    outcomes = tuple(
        OutcomeOut.of(state, indicator.outcome(state.outcome_id).label) for state in status.outcomes
    )
    return IndicatorView(
        id=indicator.id,
        group=indicator.group,
        title=indicator.title,
        question=indicator.question,
        status=shown,
        since=since,
        reason=(status.reason or NOT_READ_YET) if shown == UNKNOWN else "",
        started=since,
        window_days=indicator.window.total_seconds() / 86400,
        outcomes=outcomes,
        evidence=status.evidence,
        evidence_count=status.evidence_count,
        unread_feeds=status.unread,
    )


# ---------------------------------------------------------------- answers
# One function per answer of the API, called by its route and by the CLI's `--json`.


def indicators(views: Sequence[IndicatorView], held: str = "") -> list[IndicatorOut]:
    """GET /indicators and `monitor status --json`; `held`, a replay's hold (`replay_note`)."""
    return [IndicatorOut.of(v, held) for v in views]


def history_page(
    store: Store, indicator_id: str, *, since: datetime | None, limit: int, before: int | None
) -> tuple[list[StatusChange], int | None]:
    """A page of an indicator's changes, newest first, and the `before` of the next page."""
    found = store.history(indicator_id, since=since, limit=limit + 1, before_id=before)
    chunk, more = found[:limit], len(found) > limit
    return chunk, (chunk[-1].id if more and chunk else None)


def history(
    store: Store,
    indicator_id: str,
    *,
    since: datetime | None = None,
    limit: int,
    before: int | None = None,
) -> HistoryOut:
    """GET /indicators/{id}/history and `monitor history --json` (its items, one a line)."""
    changes, next_before = history_page(
        store, indicator_id, since=since, limit=limit, before=before
    )
    return HistoryOut.of(indicator_id, changes, next_before, judged_since(store, changes))


def judged_since(
    store: Store, changes: Sequence[StatusChange], *, until: datetime | None = None
) -> list[dict[Piece, JudgedSince]]:
    """Per change of `changes`, its pieces of evidence an analyst judged `no` since, itself or
    a copy of its story (`match.judged.judged_marks`), from one read of the verdicts (standing
    as of `until`: a past day's digest): what the digest, `monitor history`, its `--json`, the
    history endpoint, the indicator's page, the changes and evidence exports and the Atom feeds
    mark."""
    from monitor.match.judged import judged_marks  # `status` needs no match package

    if not any(c.evidence for c in changes):
        return [{} for _c in changes]
    read = store.judged_after(
        sorted({c.indicator_id for c in changes}),
        [e.entry_id for c in changes for e in c.evidence],
        after=min(c.at for c in changes),
        until=until,
    )
    return judged_marks(changes, read.verdicts, read.ledes)


def entries(
    store: Store, text: str, *, limit: int, before: int | None = None
) -> tuple[list[EntryOut], int | None]:
    """GET /entries and `monitor search --json` (one a line): a page of the entries after
    `before` (an entry id), newest first, and the id to pass as `before` for the next page
    (None on the last). KeyError when `before` names no stored entry."""
    # No stored text holds a NUL (PostgreSQL refuses one in a query, too).
    found = [] if "\x00" in text else store.search_entries(text, limit=limit + 1, before=before)
    next_before = found[limit - 1].id if len(found) > limit else None
    return [EntryOut.of(f) for f in found[:limit]], next_before


def feeds(store: Store, *, now: datetime) -> list[FeedOut]:
    """GET /feeds."""
    return [FeedOut.of(f, now) for f in store.feeds()]


def silent_words(feed: FeedState, *, now: datetime, zone: tzinfo = UTC) -> str:
    """How a silent feed is shown (the page, the digest, `monitor status`): `no new item since
    2026-11-02 (30 days)`, the day in `zone`; "" for a feed that is not silent."""
    since = feed.silent_since(now)
    if since is None:
        return ""
    return f"no new item since {since.astimezone(zone):%Y-%m-%d} ({how_long(now - since)})"


def moved_words(feed: FeedState) -> str:
    """How a feed that moved permanently (every redirect a 301 or 308, then read at the new
    address, which later checks fetch: `moved_to`) is shown wherever feed health is (the page,
    the digest, `monitor status`): `moved permanently to URL: update its url in the feeds
    file`; "" for a feed read at its own URL. The feeds file still gives the old address."""
    if not feed.moved_to:
        return ""
    return f"moved permanently to {feed.moved_to}: update its url in the feeds file"


def replay_note(hold: ReplayHold | None, *, now: datetime) -> str:
    """One line on a replay's hold on the statuses (`ReplayHold.note`); "" without one."""
    return hold.note(now) if hold is not None else ""


# ---------------------------------------------------------------- exports

ExportKind = Literal["history", "changes", "evidence"]
EXPORTS: tuple[ExportKind, ...] = ("history", "changes", "evidence")


def exported(
    kind: ExportKind,
    definitions: Definitions,
    store: Store,
    *,
    indicator_id: str | None = None,
    since: datetime | None = None,
    kept_since: datetime | None = None,
) -> Iterator[PeriodOut] | Iterator[ChangeOut] | Iterator[ChangeEvidenceOut]:
    """`monitor export KIND` and GET /export/KIND: a stream of rows, read from the store a page
    at a time. `history`: the statuses each indicator held, one row per stretch of time (those
    still holding at `since` or later); `changes`: every status change at or after `since`, in
    the order recorded, its evidence judged `no` since marked (`judged_since`, as the history);
    `evidence`: each piece of evidence of those changes, marked the same way.

    Raises KeyError at once (not when the stream is read) for an `indicator_id` that is neither
    defined nor in the store: a removed indicator's history stays exportable. `kept_since`:
    from when retention keeps every change (now - MONITOR_RETENTION); no status is claimed for
    the time before an indicator's oldest kept change beyond it."""
    from monitor.shownterms import shown_terms  # and the match package: `status` needs neither

    ids = _exported_ids(definitions, store, indicator_id)
    if kind == "history":
        return _history_rows(store, ids, since, kept_since)
    if kind == "changes":
        return (ChangeOut.of(c, marks) for c, marks in _changes_marked(store, indicator_id, since))
    return (
        ChangeEvidenceOut.of_change(
            c,
            item,
            matched=shown_terms(item.terms, item.title, item.snippet),
            lede=lede(item.title, item.snippet),
            judged=marks.get((item.entry_id, item.outcome_id)),
        )
        for c, marks in _changes_marked(store, indicator_id, since)
        for item in c.evidence
    )


def _changes_marked(
    store: Store, indicator_id: str | None, since: datetime | None
) -> Iterator[tuple[StatusChange, dict[Piece, JudgedSince]]]:
    """Each change in the order recorded with its pieces judged `no` since (`judged_since`),
    from one read of the verdicts per page of changes read: what both exports of changes mark."""
    for page in store.iter_change_pages(indicator_id=indicator_id, since=since):
        yield from zip(page, judged_since(store, page), strict=True)


def _exported_ids(definitions: Definitions, store: Store, indicator_id: str | None) -> list[str]:
    defined = [i.id for i in definitions.indicators]
    ids = defined + sorted(set(store.current_statuses()) - set(defined))
    if indicator_id is None:
        return ids
    if indicator_id not in ids:
        raise KeyError(indicator_id)
    return [indicator_id]


def _history_rows(
    store: Store, ids: Sequence[str], since: datetime | None, kept_since: datetime | None
) -> Iterator[PeriodOut]:
    started, current = store.monitoring_started(), store.current_statuses()
    first = store.first_readings()
    for indicator_id in ids:
        changes = store.iter_changes(indicator_id=indicator_id)
        held = current.get(indicator_id)
        begun, read = started.get(indicator_id), first.get(indicator_id)
        found = periods(indicator_id, changes, started=begun, current=held, kept_since=kept_since,
                        first_read=read)  # fmt: skip
        for period in found:
            if since is None or period.until is None or period.until > since:
                yield period


def periods(
    indicator_id: str,
    changes: Iterable[StatusChange],
    *,
    started: datetime | None,
    current: tuple[str, datetime] | None,
    kept_since: datetime | None = None,
    first_read: datetime | None = None,
) -> Iterator[PeriodOut]:
    """`_stretches` but those that held for no time as written (to the second): the `unknown`
    between a daemon's start and its first cycle's reading a moment later, say, which read
    `unknown, 10:00:07Z, 10:00:07Z` at the head of every export."""
    found = _stretches(indicator_id, changes, started=started, current=current,
                       kept_since=kept_since, first_read=first_read)  # fmt: skip
    for period in found:
        if period.until is None or _second(period.until) > _second(period.since):
            yield period


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _stretches(
    indicator_id: str,
    changes: Iterable[StatusChange],
    *,
    started: datetime | None,
    current: tuple[str, datetime] | None,
    kept_since: datetime | None = None,
    first_read: datetime | None = None,
) -> Iterator[PeriodOut]:
    """The stretches of one indicator's statuses from its changes, oldest first: the status
    before its first change (from when monitoring began, but not before `kept_since`: the
    changes before may be gone, and what they said), then one per change, the last one open.
    Without changes, the status it holds now, since monitoring began (retention keeps each
    indicator's latest change, so none was ever recorded). Before `first_read`, when a first
    reading that recorded no change ended the unknown it began in (`Store.first_readings`;
    None: there was none, or it is not known), it was `unknown`, whatever its first change or
    its status now says."""
    begun = max(started, kept_since) if started and kept_since else started
    if first_read is not None and (begun is None or begun < first_read):
        if begun is not None:
            yield PeriodOut(indicator=indicator_id, status=INITIAL, since=begun, until=first_read,
                            change_id=None)  # fmt: skip
        begun = started = first_read
    last: StatusChange | None = None
    for change in changes:
        if last is not None:
            yield PeriodOut(indicator=indicator_id, status=last.new_status, since=last.at,
                            until=change.at, change_id=last.id)  # fmt: skip
        elif begun is not None and begun < change.at:
            yield PeriodOut(indicator=indicator_id, status=change.old_status, since=begun,
                            until=change.at, change_id=None)  # fmt: skip
        last = change
    if last is not None:
        yield PeriodOut(indicator=indicator_id, status=last.new_status, since=last.at,
                        until=None, change_id=last.id)  # fmt: skip
    elif current is not None:
        status, since = current
        yield PeriodOut(indicator=indicator_id, status=status, since=started or since,
                        until=None, change_id=None)  # fmt: skip
