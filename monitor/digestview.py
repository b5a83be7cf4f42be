"""What the digest's templates read: each change, standing status, silence and feed health
problem as the email's parts show it, built from a `DigestInput`. Pure: no I/O.

    context(data, per_change, per_line) -> dict   the templates' variables, with at most
                                                   that much evidence per change and per
                                                   standing status

Each piece of evidence is listed once (`_Ledger`: under the first change it backs; a standing
status refers back to it), and indicators unknown for the same feeds are said once, under
feed health (`_Outage`). `monitor.digest` renders this with its templates and builds the
message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from urllib.parse import quote

from monitor.counts import count
from monitor.digestinput import (
    DayVerdict,
    DigestInput,
    FeedProblem,
    format_status,
    format_time,
    summary,
    zone_named,
)
from monitor.domain import UNKNOWN, Evidence, Judgement, StatusChange, UnreadFeed
from monitor.languages import marked_language
from monitor.links import without_userinfo
from monitor.shownterms import shown_terms
from monitor.views import (
    COLOURS,
    NOT_READ_YET,
    clean,
    lede,
    named_feeds,
    page_address,
    shown_reason,
    tone_of,
    unread_lines,
    unread_words,
    web_url,
)
from monitor.webmodels import IndicatorView

# The most verdicts of the digest's span its section lists (oldest first); the rest are
# counted, with the command that lists them, as a change's evidence beyond its cap is.
VERDICTS_LISTED = 10


@dataclass(frozen=True)
class _Item:
    title: str
    url: str  # as given, cleaned; shown as text
    href: str | None  # only http(s)
    publisher: str
    when: str
    snippet: str  # the news beyond the headline (`views.lede`), or ""
    terms: str  # the matched terms as words a person wrote, joined
    judged: bool = False  # an analyst's standing `yes` (as the page and `monitor history` say)
    # an analyst's `no` given since the change it is listed under (`not_relevant_words`)
    not_relevant: str = ""
    lang: str = ""  # of its headline and snippet (`marked_language`), "" for the digest's own


@dataclass(frozen=True)
class _Listed:
    """Evidence of an indicator already listed under "What changed": referred back to, not
    listed again."""

    count: int
    anchor: str  # the HTML id of the change it is listed under
    # of a standing status: the pieces of its indicator listed there that an analyst has judged
    # `no` since (marked so there), which its evidence now leaves out
    rejected: int = 0


@dataclass(frozen=True)
class _Change:
    indicator: str
    old: str
    new: str
    old_code: str  # as stored: the badge's data-status, as on the page
    new_code: str
    old_tone: str
    tone: str
    when: str
    items: tuple[_Item, ...]
    more: int
    reason: str = ""  # the analyst's verdict that caused it, if one did
    page: str | None = None  # the indicator's page under MONITOR_PUBLIC_URL
    anchor: str = ""
    listed: _Listed | None = None  # evidence listed under an earlier change
    replayed: bool = False  # recorded by `monitor replay`, not found by a check
    removed: bool = False  # its indicator is no longer defined
    command: str = ""  # that shows the evidence beyond `items` when no page does (`_command`)
    # where the feeds not read then are listed whole, when `reason` cuts them: a command in
    # backticks, which the HTML part shows as <code>
    unread: str = ""


@dataclass(frozen=True)
class _Line:
    title: str
    status: str
    code: str  # as stored: the badge's data-status, as on the page
    why: str  # for unknown, why ("feeds not read: …") under its badge, else ""
    unread: str  # `views.unread_words`: feeds not read under a status the others support
    tone: str
    since: str
    items: tuple[_Item, ...]
    more: int
    page: str | None = None  # the indicator's page under MONITOR_PUBLIC_URL
    listed: _Listed | None = None  # evidence listed under "What changed"
    removed: bool = False  # its indicator is no longer defined
    command: str = ""  # that shows the evidence beyond `items` when no page does (`_command`)


@dataclass(frozen=True)
class _Group:
    name: str
    lines: tuple[_Line, ...]


@dataclass(frozen=True)
class _Silenced:
    indicator: str  # its title, and the outcome's id when the silence is of one
    until: str
    who: str
    reason: str


@dataclass(frozen=True)
class _Verdict:
    """A verdict given in the digest's span, as its section lists it."""

    who: str
    said: str  # "no (not relevant)", "yes (confirmed)"
    target: str  # INDICATOR:OUTCOME
    entry: int
    title: str
    when: str
    note: str
    moved: str  # "moved the status to eased — confirmed", "moved no status" (`_moved`)


@dataclass(frozen=True)
class _Problem:
    name: str
    url: str
    href: str | None
    text: str
    members: tuple[str, ...] = ()  # of an `_Outage`: the indicators it made unknown


@dataclass(frozen=True)
class _Outage:
    """Indicators unknown for the same feeds (the same reason): why is said once, under feed
    health, in an entry named `name` that lists them; each one's change and standing status
    names the feeds and points to it (`pointer`)."""

    name: str  # "7 indicators unknown": its entry under feed health
    reason: str  # as shown
    feeds: tuple[str, ...]  # the feeds not read, () when not kept (an older change's)
    lines: tuple[IndicatorView, ...]

    @property
    def pointer(self) -> str:
        """What a change to it and its standing status say instead of the whole reason."""
        where = f"\u201c{self.name}\u201d under feed health, below"
        if not self.feeds:
            return f"feeds not read: listed in {where}"
        return f"feeds not read: {named_feeds(self.feeds)}; see {where}"

    def said(self, indicator_id: str, reason: str) -> str:
        """What a change of `indicator_id` for `reason` (as shown) says: the `pointer` when
        this entry lists that indicator, else `reason` (a change of an indicator no longer
        unknown, or unknown for other feeds since, would point to an entry without it)."""
        listed = any(line.id == indicator_id for line in self.lines)
        return self.pointer if listed else reason


def _unknown_why(line: IndicatorView, zone: tzinfo) -> str:
    """Why an `unknown` indicator is so, as shown; "" for any other status."""
    return shown_reason(line.reason, zone) if line.status == UNKNOWN else ""


def _outages(data: DigestInput, zone: tzinfo) -> dict[str, _Outage]:
    """The reasons two or more unknown indicators share (a day the feeds died gives each the
    same one), by their shown text: said once, not under each indicator three times over."""
    by_reason: dict[str, list[IndicatorView]] = {}
    for line in data.indicators:
        why = _unknown_why(line, zone)
        if why:
            by_reason.setdefault(why, []).append(line)
    shared = [(why, lines) for why, lines in by_reason.items() if len(lines) > 1]
    outages = {}
    for n, (why, lines) in enumerate(shared, 1):
        feeds = {tuple(u.feed_id for u in line.unread_feeds) for line in lines}
        named = feeds.pop() if len(feeds) == 1 else ()
        name = f"{len(lines)} indicators unknown" + (f" (group {n})" if len(shared) > 1 else "")
        outages[why] = _Outage(name, why, named, tuple(lines))
    return outages


def _covered(unread: Sequence[UnreadFeed], problems: Sequence[FeedProblem]) -> bool:
    """Whether feed health lists each of these feeds with the error and time its reason
    gives: then the reason need not say them again."""
    by_id = {p.feed_id: p for p in problems}
    return bool(unread) and all(
        (p := by_id.get(u.feed_id)) is not None
        and p.since == u.since
        and " ".join(u.error.split()) in " ".join(p.problem.split())
        for u in unread
    )


def _tone(status: str, outcome_ids: Sequence[str]) -> str:
    """Inline CSS of a status badge, from the colour table the page's CSS is drawn from."""
    colour = COLOURS[tone_of(status, outcome_ids)]
    return f"background:{colour.background};color:{colour.text};border:1px solid {colour.fill}"


def _item(evidence: Evidence, zone: tzinfo, not_relevant: str = "") -> _Item:
    url = clean(evidence.link)
    return _Item(
        title=clean(evidence.title) or "(untitled)",
        url=url,
        href=web_url(url),
        publisher=clean(evidence.publisher),
        when=format_time(evidence.time, zone),
        snippet=lede(evidence.title, evidence.snippet),
        terms=", ".join(shown_terms(evidence.terms, evidence.title, evidence.snippet)),
        judged=bool(evidence.judged),
        not_relevant=not_relevant,
        lang=marked_language(f"{evidence.title} {evidence.snippet}"),
    )


def _key(evidence: Evidence) -> tuple[str, int, str]:
    """One piece of evidence of one indicator: its entry, or its link (or headline) when it has
    no entry id. An article behind two indicators is listed under each one's change: under the
    other's it would show that one's matched terms, and this one's change would seem to rest
    on less than it does."""
    entry = (evidence.entry_id, "") if evidence.entry_id else (0, evidence.link or evidence.title)
    return (evidence.indicator_id, *entry)


class _Ledger:
    """Which evidence the digest has listed, and under which change: each piece once."""

    def __init__(self) -> None:
        self._where: dict[tuple[str, int, str], str] = {}
        self._rejected: dict[str, list[tuple[tuple[str, int, str], str]]] = {}  # by indicator

    def items(
        self,
        evidence: Sequence[Evidence],
        zone: tzinfo,
        limit: int,
        anchor: str | None,
        marks: Mapping[tuple[int, str, str], str] | None = None,
    ) -> tuple[tuple[_Item, ...], int, _Listed | None]:
        """The evidence not listed under a change yet (at most `limit`: listed under the change
        `anchor`; None, a standing status, lists them and records nothing: another standing
        status lists its own), how many more there are, and what was listed before. `marks`:
        what an analyst's `no` since says beside a piece, by (entry, indicator, outcome)."""
        fresh = [e for e in evidence if _key(e) not in self._where]
        before = [self._where[_key(e)] for e in evidence if _key(e) in self._where]
        shown = fresh[:limit]
        said = marks or {}
        items = tuple(
            _item(e, zone, said.get((e.entry_id, e.indicator_id, e.outcome_id), "")) for e in shown
        )
        if anchor is not None:
            self._where.update((_key(e), anchor) for e in shown)
            for e, item in zip(shown, items, strict=True):
                if item.not_relevant:
                    self._rejected.setdefault(e.indicator_id, []).append((_key(e), anchor))
        listed = _Listed(len(before), before[0]) if before else None
        return items, len(fresh) - len(shown), listed

    def rejected(
        self, indicator_id: str, evidence: Sequence[Evidence], listed: _Listed | None
    ) -> _Listed | None:
        """A standing status's `listed` with the pieces of `indicator_id` listed under a change
        and marked as judged `no` since that its `evidence` leaves out (a past day's keeps one
        no change dropped): "1 piece listed above" under a change that lists three would
        otherwise not add up."""
        own = {_key(e) for e in evidence}
        judged = [
            (key, anchor) for key, anchor in self._rejected.get(indicator_id, []) if key not in own
        ]
        if not judged:
            return listed
        if listed is None:
            return _Listed(0, judged[0][1], len(judged))
        return replace(listed, rejected=len(judged))


def listed_words(listed: _Listed, where: str, *, above: bool = True) -> str:
    """What a change or standing status says of its evidence listed under an earlier change
    (`above`: the text part's `, above`; the HTML part links to it): `2 pieces of evidence
    listed under What changed, above`, and of the pieces judged `no` since: `…; 1 more listed
    there was judged not relevant since`, or without one still evidence, `2 pieces of evidence
    listed under What changed, above, were judged not relevant since`."""
    said = f"listed {where}" + (", above" if above else "")
    n = listed.rejected
    were = "was" if n == 1 else "were"
    if not listed.count:
        comma = "," if above else ""
        return f"{count(n, 'piece')} of evidence {said}{comma} {were} judged not relevant since"
    words = f"{count(listed.count, 'piece')} of evidence {said}"
    return words + (f"; {n} more listed there {were} judged not relevant since" if n else "")


def _command(page: str | None, indicator_id: str) -> str:
    """What shows the evidence a digest leaves out when no page of it does (no
    MONITOR_PUBLIC_URL, or an indicator no longer defined): `monitor history ID`; "" else."""
    return "" if page else f"monitor history {indicator_id}"


def _anchor(change: StatusChange, n: int) -> str:
    return f"change-{n}-{quote(change.indicator_id, safe='')}"


def _changes(
    data: DigestInput, zone: tzinfo, ledger: _Ledger, limit: int, outages: dict[str, _Outage]
) -> tuple[_Change, ...]:
    titles = {line.id: line.title for line in data.indicators}
    outcomes = {line.id: [o.id for o in line.outcomes] for line in data.indicators}
    views = []
    judged = list(data.judged) or [{} for _c in data.changes]
    ordered = sorted(
        zip(data.changes, judged, strict=True), key=lambda c: (c[0].at, c[0].indicator_id)
    )
    for n, (change, since) in enumerate(ordered, 1):
        # An indicator no longer defined nor listed: coloured by the outcomes its change kept.
        ids = outcomes.get(change.indicator_id) or [o for o, _label in change.labels]
        anchor = _anchor(change, n)
        marks = {
            (entry_id, change.indicator_id, outcome_id): clean(j.words(format_time(j.at, zone)))
            for (entry_id, outcome_id), j in since.items()
        }
        items, more, listed = ledger.items(change.evidence, zone, limit, anchor, marks)
        more += change.evidence_count - len(change.evidence)  # a change keeps its top ones
        removed = change.indicator_id in data.removed
        page = None if removed else web_url(page_address(data.page_url, change.indicator_id) or "")
        reason = shown_reason(change.reason, zone)
        outage = outages.get(reason)
        views.append(
            _Change(
                indicator=clean(titles.get(change.indicator_id) or change.title)
                or change.indicator_id,
                old=format_status(change.old_status),
                new=format_status(change.new_status),
                old_code=change.old_status,
                new_code=change.new_status,
                old_tone=_tone(change.old_status, ids),
                tone=_tone(change.new_status, ids),
                when=format_time(change.at, zone),
                items=items,
                more=more,
                reason=outage.said(change.indicator_id, reason) if outage else reason,
                page=page,
                anchor=anchor,
                listed=listed,
                replayed=change.replayed,
                removed=removed,
                command=_command(page, change.indicator_id),
                unread=_unread(change, zone, page),
            )
        )
    return tuple(views)


def _verdicts(data: DigestInput, zone: tzinfo, limit: int) -> tuple[tuple[_Verdict, ...], int]:
    """The day's verdicts as their section lists them, oldest first: at most `limit`, and how
    many more there are (`monitor verdict list` lists them)."""
    views = []
    for day in data.verdicts[:limit]:
        v = day.verdict
        no = v.verdict == Judgement.NO
        views.append(
            _Verdict(
                who=clean(v.who),
                said="no (not relevant)" if no else "yes (confirmed)",
                target=f"{v.indicator_id}:{v.outcome_id}",
                entry=v.entry_id,
                title=clean(day.title) or "(no headline)",
                when=format_time(v.at, zone),
                note=clean(v.note),
                moved=_moved(day, zone),
            )
        )
    return tuple(views), max(0, len(data.verdicts) - limit)


def _moved(day: DayVerdict, zone: tzinfo) -> str:
    """What a verdict did to its indicator's status: `moved the status to eased — reported`,
    `moved no status`, or, for a change a silence holds back, as the digest says of those (`held
    back by the silences below; listed in the digest after they end`): `its change to eased —
    reported is held back by a silence until WHEN; listed in the digest after it ends`."""
    if not day.moved:
        return "moved no status"
    status = format_status(day.moved)
    if day.held_until is None:
        return f"moved the status to {status}"
    until = format_time(day.held_until, zone)
    return (
        f"its change to {status} is held back by a silence until {until};"
        " listed in the digest after it ends"
    )


def _unread(change: StatusChange, zone: tzinfo, page: str | None) -> str:
    """A line under a change's reason when the reason does not say each feed not read then
    whole (`views.unread_lines`): how many, and where they are listed, not the list (a digest
    of many indicators gone unknown would list the same feeds under each, over its budget)."""
    n = len(unread_lines(change, zone))
    if not n:
        return ""
    where = "its page's history" if page else f"`monitor history {change.indicator_id}`"
    each = "each" if n > 1 else "it"
    return f"{count(n, 'feed')} not read then: {where} lists {each} with its whole error"


def _groups(
    data: DigestInput, zone: tzinfo, ledger: _Ledger, limit: int, outages: dict[str, _Outage]
) -> tuple[_Group, ...]:
    groups: dict[str, list[_Line]] = {}
    for line in data.indicators:
        items, more, listed = ledger.items(line.evidence, zone, limit, None)
        listed = ledger.rejected(line.id, line.evidence, listed)
        more += max(0, line.evidence_count - len(line.evidence))  # a view has its newest ones
        removed = line.id in data.removed
        page = None if removed else web_url(page_address(data.page_url, line.id) or "")
        why = (_unknown_why(line, zone) or NOT_READ_YET) if line.status == UNKNOWN else ""
        view = _Line(
            title=clean(line.title) or line.id,
            status=format_status(line.status),
            code=line.status,
            why=outages[why].pointer if why in outages else why,
            unread=unread_words(line),
            tone=_tone(line.status, [o.id for o in line.outcomes]),
            since=format_time(line.since, zone) if line.since else "",  # no check yet
            items=items,
            more=more,
            page=page,
            listed=listed,
            removed=removed,
            command=_command(page, line.id),
        )
        groups.setdefault(clean(line.group) or "Other", []).append(view)
    return tuple(_Group(name, tuple(lines)) for name, lines in groups.items())


def _silenced(data: DigestInput, zone: tzinfo) -> tuple[_Silenced, ...]:
    titles = dict(data.titles) | {line.id: line.title for line in data.indicators}
    return tuple(
        _Silenced(
            indicator=clean(titles.get(s.indicator_id, s.indicator_id))
            + (f" ({clean(s.outcome_id)})" if s.outcome_id else ""),
            until=format_time(s.until, zone),
            who=clean(s.created_by),
            reason=clean(s.reason),
        )
        for s in sorted(data.silences, key=lambda s: (s.until, s.indicator_id))
    )


def _problems(data: DigestInput, zone: tzinfo, outages: dict[str, _Outage]) -> tuple[_Problem, ...]:
    views = []
    if data.replay_note:  # "statuses held: a replay from …"
        name, _, text = data.replay_note.partition(": ")
        views.append(_Problem(name.capitalize(), "", None, clean(text)))
    for p in data.feed_problems:
        url = clean(p.url)
        text = clean(p.text(format_time(p.since, zone) if p.since else ""))
        views.append(_Problem(clean(p.feed_id), url, web_url(without_userinfo(url)), text))
    for line in data.indicators:
        why = _unknown_why(line, zone)
        if why in outages:
            continue  # said once, below
        if line.status == UNKNOWN:
            since = f" since {format_time(line.since, zone)}" if line.since else ""
            text = f"status unknown{since}: {why or 'its feeds are not read'}"
            views.append(_Problem(clean(line.title) or line.id, "", None, text))
    views.extend(_outage(outage, data, zone) for outage in outages.values())
    return tuple(views)


def _outage(outage: _Outage, data: DigestInput, zone: tzinfo) -> _Problem:
    """The one entry of indicators unknown for the same feeds: the feeds (each listed above
    when feed health says its error and since when, else the reason whole) and the indicators,
    each with since when it is unknown unless they all share it."""
    sinces = {format_time(line.since, zone) if line.since else "" for line in outage.lines}
    shared = sinces.pop() if len(sinces) == 1 else ""
    feeds = outage.lines[0].unread_feeds
    if outage.feeds and _covered(feeds, data.feed_problems):
        text = f"feeds not read: {named_feeds(outage.feeds)}, each listed above with its error"
    else:
        text = outage.reason
    members = tuple(
        (clean(line.title) or line.id)
        + (f" (since {format_time(line.since, zone)})" if line.since and not shared else "")
        for line in outage.lines
    )
    return _Problem(outage.name + (f" since {shared}" if shared else ""), "", None, text, members)


def context(
    data: DigestInput, per_change: int, per_line: int, verdicts: int = VERDICTS_LISTED
) -> dict[str, object]:
    """What the templates read of `data`: each change listing at most `per_change` pieces of
    evidence, each standing status at most `per_line` (evidence listed under a change is
    referred back to, not listed again), and at most `verdicts` of the analysts' verdicts."""
    zone = zone_named(data.timezone)
    page = clean(data.page_url) if data.page_url else ""
    ledger = _Ledger()  # the changes first: the standing statuses refer back to them
    outages = _outages(data, zone)
    listed, more_verdicts = _verdicts(data, zone, verdicts)
    return {
        "day": data.day.strftime("%A %d %B %Y").replace(" 0", " "),
        "timezone": data.timezone,
        "summary": summary(data),
        "changes": _changes(data, zone, ledger, per_change, outages),
        "held": data.held,
        "verdicts": listed,
        "more_verdicts": more_verdicts,
        "silenced": _silenced(data, zone),
        "groups": _groups(data, zone, ledger, per_line, outages),
        "standing_at": format_time(data.standing_at, zone) if data.standing_at else "",
        "problems": _problems(data, zone, outages),
        "generated": format_time(data.generated_at, zone),
        "page_url": page,
        "page_href": web_url(page),
    }


__all__ = ["VERDICTS_LISTED", "context", "listed_words"]
