"""The status page people read: HTML from the same views the JSON API serves.

Rendering only: the web edge reads the store and hands the data in. Here are the index and an
indicator's page (`render_index`, `render_indicator`), the rows their templates get (cards,
evidence items, history, verdicts, silences, feeds) and the highlighting of matched terms; the
frame every page shares, the pages' addresses and the small pages (`render_error`,
`render_explanation`, `render_signin`, `render_session`) are `monitor.page.frame`'s, named here
too; how a status reads and its timeline are `monitor.timeline`'s.

Jinja2 autoescapes every template; feed-derived text is never marked safe. Matched terms are
highlighted by escaping the text around each hit and wrapping the (escaped) hit in <mark>; only
http(s) links get an href.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from markupsafe import Markup, escape

from monitor import owners
from monitor.domain import UNKNOWN, Definitions, Evidence, StatusChange, Verdict
from monitor.languages import marked_language
from monitor.links import without_userinfo
from monitor.match.judged import JudgedSince, Piece
from monitor.page.frame import (
    CSRF_SLOT,
    PAGE_POLICY,
    SESSION_SLOT,
    ago,
    environment,
    evidence_anchor,
    explain_url,
    format_time,
    indicator_url,
    render_error,
    render_explanation,
    render_session,
    render_signin,
    silence_url,
    slots,
    verdict_url,
)
from monitor.shownterms import shown_terms, term_spans, whole_words
from monitor.silences import Silence
from monitor.store import FeedState, StoredEntry
from monitor.timeline import TIMELINE_DAYS, StatusLook, Timeline, look, timeline
from monitor.views import (
    clean,
    lede,
    moved_words,
    shown_reason,
    silent_words,
    status_words,
    unread_lines,
    unread_words,
    web_url,
)
from monitor.webmodels import IndicatorView

__all__ = [
    "CSRF_SLOT",
    "PAGE_POLICY",
    "SESSION_SLOT",
    "ago",
    "evidence_anchor",
    "explain_url",
    "format_time",
    "highlight",
    "indicator_url",
    "render_error",
    "render_explanation",
    "render_index",
    "render_indicator",
    "render_session",
    "render_signin",
    "silence_url",
    "verdict_url",
    "web_url",
]

EVIDENCE_ON_INDEX = 3


# ---------------------------------------------------------------- small helpers


def _spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    found = []
    for term in terms:
        found += [whole_words(text, *span) for span in term_spans(term, text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: Sequence[str]) -> Markup:
    """`text` escaped, with every hit of `terms` in <mark>."""
    parts, pos = [], 0
    for start, end in _spans(text, terms):
        parts += [escape(text[pos:start]), Markup("<mark>%s</mark>") % text[start:end]]
        pos = end
    parts.append(escape(text[pos:]))
    return Markup("").join(parts)


# ---------------------------------------------------------------- what templates get


@dataclass(frozen=True)
class Item:
    title: Markup  # the headline, escaped, with the matched terms in <mark>
    href: str | None
    link: str
    publisher: str
    when: str
    snippet: Markup
    words: tuple[str, ...]  # the terms that matched, as words a person wrote (`shown_terms`)
    outcome: str  # the outcome's label when the indicator has several, else ""
    label: str = ""  # the outcome's label, always: the verdict buttons' names say it
    anchor: str = ""  # its id on the indicator's page (`evidence_anchor`)
    entry_id: int = 0
    outcome_id: str = ""
    judged: bool = False  # an analyst's standing `yes`
    why: str = ""  # its explanation (`explain_url`); "" for an outcome no longer defined
    lang: str = ""  # of its headline and snippet (`marked_language`), "" for the page's own
    # under a change: an analyst's `no` on it since (`JudgedSince.words`, in the page's zone)
    not_relevant: str = ""


@dataclass(frozen=True)
class Card:
    view: IndicatorView
    status: StatusLook
    since: str
    since_ago: str
    url: str
    items: tuple[Item, ...]
    more: int
    timeline: Timeline
    why: str  # "⚠ unknown — feeds not read: …" when the status is unknown, else ""
    unread: str = ""  # `views.unread_words`: feeds not read under a status the others support


@dataclass(frozen=True)
class ChangeRow:
    change: StatusChange
    old: StatusLook
    new: StatusLook
    when: str
    items: tuple[Item, ...]
    reason: str  # why, its times in the page's zone
    unread: tuple[str, ...] = ()  # the feeds not read then, whole (`views.unread_lines`)


@dataclass(frozen=True)
class VerdictRow:
    verdict: Verdict
    outcome: str  # the outcome's label
    when: str
    title: str
    href: str | None
    standing: str  # statuses.standing: superseded, or why a yes adds no evidence; "" else
    why: str  # the entry's explanation, for the verdict's outcome while it is defined
    why_of: str  # what it explains, for the link's accessible name: "the rule of LABEL"
    anchor: str = ""  # `evidence_anchor`, on the newest verdict of an entry not in the evidence


@dataclass(frozen=True)
class SilenceRow:
    silence: Silence
    outcome: str  # the outcome's label; "" for the whole indicator
    until: str
    until_in: str  # "in 3 days"
    since: str


@dataclass(frozen=True)
class FeedRow:
    feed: FeedState
    name: str
    state: str  # ok | silent | failing | dead | new
    checked: str
    next_check: str
    href: str | None
    silent: str = ""  # views.silent_words: `no new item since DAY (N days)`; "" when it is not
    moved: str = ""  # views.moved_words: `moved permanently to URL: …`; "" when it did not


def _item(
    definitions: Definitions,
    e: Evidence,
    zone: tzinfo,
    kept: Sequence[tuple[str, str]] = (),
    judged: JudgedSince | None = None,
) -> Item:
    """An evidence item as the page lists it; its outcome's label when the indicator has
    several, the label a change `kept` (`StatusChange.labels`) for one no longer defined;
    under a change, the analyst's `no` on it since (`judged`)."""
    why = explain_url(e.indicator_id, e.entry_id, e.outcome_id)
    try:
        indicator = definitions.indicator(e.indicator_id)
        label = indicator.outcome(e.outcome_id).label
        outcome = label if len(indicator.outcomes) > 1 else ""
    except KeyError:
        outcome, why = dict(kept).get(e.outcome_id, e.outcome_id), ""
        label = outcome
    return Item(
        title=highlight(clean(e.title), e.terms) if clean(e.title) else Markup("(no headline)"),
        href=web_url(e.link),
        link=clean(e.link),
        publisher=clean(e.publisher),
        when=format_time(e.time, zone),
        snippet=highlight(lede(e.title, e.snippet), e.terms),
        words=shown_terms(e.terms, e.title, e.snippet),
        outcome=outcome,
        label=label,
        anchor=evidence_anchor(e.entry_id, e.outcome_id),
        entry_id=e.entry_id,
        outcome_id=e.outcome_id,
        judged=bool(e.judged),
        why=why,
        lang=marked_language(f"{e.title} {e.snippet}"),
        not_relevant=judged.words(format_time(judged.at, zone)) if judged else "",
    )


def _verdict_row(
    definitions: Definitions, verdict: Verdict, stored: StoredEntry, zone: tzinfo, standing: str
) -> VerdictRow:
    outcome: str | None = verdict.outcome_id
    try:
        label = definitions.indicator(verdict.indicator_id).outcome(verdict.outcome_id).label
    except KeyError:  # an outcome no longer defined: why each of the others did not fire
        label, outcome = verdict.outcome_id, None
    return VerdictRow(
        verdict=verdict,
        outcome=label,
        when=format_time(verdict.at, zone),
        title=clean(stored.entry.title) or "(no headline)",
        href=web_url(stored.entry.link),
        standing=standing,
        why=explain_url(verdict.indicator_id, verdict.entry_id, outcome),
        why_of=f"the rule of {label}" if outcome else "every outcome's rule",
    )


def _silence_rows(
    definitions: Definitions, silences: Sequence[Silence], *, now: datetime, zone: tzinfo
) -> list[SilenceRow]:
    rows = []
    for s in silences:
        label = ""
        if s.outcome_id is not None:
            try:
                label = definitions.indicator(s.indicator_id).outcome(s.outcome_id).label
            except KeyError:
                label = s.outcome_id
        until, since = format_time(s.until, zone), format_time(s.created_at, zone)
        rows.append(SilenceRow(s, label, until, ago(s.until, now), since))
    return rows


def _card(
    definitions: Definitions,
    view: IndicatorView,
    changes: Sequence[StatusChange],
    *,
    now: datetime,
    zone: tzinfo,
    limit: int | None,
) -> Card:
    shown = view.evidence if limit is None else view.evidence[:limit]
    return Card(
        view=view,
        status=look(definitions, view.id, view.status),
        since=format_time(view.since, zone) if view.since else "",  # "": no check evaluated it
        since_ago=ago(view.since, now) if view.since else "",
        url=indicator_url(view.id),
        items=tuple(_item(definitions, e, zone) for e in shown),
        more=view.evidence_count - len(shown),
        timeline=timeline(
            definitions,
            view.id,
            changes,
            view.status,
            now=now,
            zone=zone,
            started=view.started or now,  # not begun yet: nothing drawn before now
            first_read=view.first_read,
            was=view.was,
            since=view.since,
        ),
        why=status_words(UNKNOWN, shown_reason(view.reason, zone))
        if view.status == UNKNOWN
        else "",
        unread=unread_words(view),
    )


def _feed_row(feed: FeedState, *, now: datetime, zone: tzinfo) -> FeedRow:
    state = feed.state_at(now)  # at `now`, as /feeds, /healthz and the digest say it
    silent = silent_words(feed, now=now, zone=zone)  # only of a feed read as usual
    return FeedRow(
        feed=feed,
        name=clean(feed.title) or feed.id,
        state="silent" if silent and state != "stale" else state,
        checked=ago(feed.last_checked_at, now) if feed.last_checked_at else "never",
        next_check=_next_check(feed, now=now, zone=zone),
        href=web_url(without_userinfo(feed.moved_to or feed.url)),  # no "reader:***@"
        silent=silent,
        moved=moved_words(feed),
    )


def _next_check(feed: FeedState, *, now: datetime, zone: tzinfo) -> str:
    """When the feed is checked next; `due` once that time has passed (never a past time),
    and who holds it while a lease does: `due — held by web1:4242 until 2026-11-01 01:05 PDT`
    (its day and zone's name, as every time on the page: the hour the clocks go back is two)."""
    if feed.held_at(now) and feed.lease_owner and feed.lease_until:
        until = format_time(feed.lease_until, zone)
        return f"due — held by {owners.shown(feed.lease_owner)} until {until}"
    if feed.next_check_at is None or feed.due_at(now):
        return "due"
    return format_time(feed.next_check_at, zone)


# ---------------------------------------------------------------- pages


def render_index(
    definitions: Definitions,
    views: Sequence[IndicatorView],
    changes: Mapping[str, Sequence[StatusChange]],
    feeds: Sequence[FeedState],
    *,
    last_check: datetime | None,
    last_cycle: datetime | None,
    now: datetime,
    zone: tzinfo,
    silences: Sequence[Silence] = (),
    definitions_note: str = "",
    replay_note: str = "",
) -> str:
    """GET /: every indicator by group with its status, evidence and timeline, and whether a
    silence holds its alerts back; feed health; `definitions_note` when the definition files
    on disk are invalid (`Validity.reason`), `replay_note` while a replay holds the statuses
    (`views.replay_note`). "Last check" is `last_check`, when the latest
    cycle that checked a feed finished; `last_cycle`, the latest cycle, is said only when it
    checked none while due feeds are held by a lease."""
    groups: dict[str, list[Card]] = {}
    for view in views:
        card = _card(
            definitions,
            view,
            changes.get(view.id, ()),
            now=now,
            zone=zone,
            limit=EVIDENCE_ON_INDEX,
        )
        groups.setdefault(view.group, []).append(card)
    rows = [_feed_row(feed, now=now, zone=zone) for feed in feeds]
    problems = sum(row.state in ("failing", "dead", "stale") for row in rows)
    warned = sum(bool(row.feed.warning) for row in rows)  # information: no state changes
    silent = sum(row.state == "silent" for row in rows)  # information too
    moved = sum(bool(row.moved) for row in rows)  # so is a permanent redirect
    held = sum(feed.held_at(now) for feed in feeds)
    idle = bool(held) and last_cycle is not None and (last_check is None or last_cycle > last_check)
    return (
        environment()
        .get_template("page-index.html")
        .render(
            groups=groups,
            feeds=rows,
            problems=problems,
            warned=warned,
            silent=silent,
            moved=moved,
            last_check=format_time(last_check, zone) if last_check else None,
            last_check_ago=ago(last_check, now) if last_check else None,
            any_cycle=last_cycle is not None,
            held=held,
            idle_cycle_ago=ago(last_cycle, now) if idle and last_cycle else None,
            now=format_time(now, zone),
            zone=str(zone),
            days=TIMELINE_DAYS,
            silenced={s.indicator_id for s in silences},
            definitions_note=definitions_note,
            replay_note=replay_note,
            **slots(),
        )
    )


def render_indicator(
    definitions: Definitions,
    view: IndicatorView,
    recent: Sequence[StatusChange],
    history: Sequence[StatusChange],
    *,
    next_before: int | None,
    now: datetime,
    zone: tzinfo,
    verdicts: Sequence[tuple[Verdict, StoredEntry, str]] = (),
    older_verdicts: bool = False,
    silences: Sequence[Silence] = (),
    replay_note: str = "",
    judged: Sequence[Mapping[Piece, JudgedSince]] = (),
) -> str:
    """The page of one indicator: status (and `replay_note` while a replay holds it, as the
    index's top line says), question, silences in force (a form to begin one, a button to end
    each), evidence with the buttons that judge it, timeline, verdicts (saying so when
    `older_verdicts` are left out), history (`judged`: per change, its pieces an analyst
    judged `no` since, marked so: `views.judged_since`)."""
    card = _card(definitions, view, recent, now=now, zone=zone, limit=None)
    marks = list(judged) or [{} for _c in history]
    rows = [
        ChangeRow(
            change=c,
            old=look(definitions, view.id, c.old_status, c.labels),
            new=look(definitions, view.id, c.new_status, c.labels),
            when=format_time(c.at, zone),
            items=tuple(
                _item(definitions, e, zone, c.labels, m.get((e.entry_id, e.outcome_id)))
                for e in c.evidence
            ),
            reason=shown_reason(c.reason, zone),
            unread=unread_lines(c, zone),
        )
        for c, m in zip(history, marks, strict=True)
    ]
    older = f"{card.url}?before={next_before}" if next_before is not None else None
    indicator = definitions.indicator(view.id)
    return (
        environment()
        .get_template("page-indicator.html")
        .render(
            card=card,
            history=rows,
            older=older,
            now=format_time(now, zone),
            days=TIMELINE_DAYS,
            judge=verdict_url(view.id),
            outcomes=[(o.id, o.label) for o in indicator.outcomes],
            verdicts=_anchored(
                card.items, [_verdict_row(definitions, v, e, zone, n) for v, e, n in verdicts]
            ),
            older_verdicts=older_verdicts,
            silences=_silence_rows(definitions, silences, now=now, zone=zone),
            silence=silence_url(view.id),
            replay_note=replay_note,
            **slots(),
        )
    )


def _anchored(items: Sequence[Item], rows: Sequence[VerdictRow]) -> list[VerdictRow]:
    """`rows` (newest first), the newest of each entry and outcome not among the evidence
    `items` with its `evidence_anchor`: where the page lands after a `no` took it out."""
    taken = {item.anchor for item in items}
    anchored = []
    for row in rows:
        anchor = evidence_anchor(row.verdict.entry_id, row.verdict.outcome_id)
        anchored.append(row if anchor in taken else replace(row, anchor=anchor))
        taken.add(anchor)
    return anchored
