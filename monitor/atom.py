"""Status changes as an Atom 1.0 feed (RFC 4287), for the feed readers people already live in:
GET /changes.atom (every indicator) and GET /indicators/{id}/changes.atom. Pure: the web hands
in the changes as they went out, newest first (`silences.feed_changes`: a change a silence held
goes out when the silence ends, like its alert).

Each entry is one change: its title names the indicator and the move (`Visa rules: quiet →
eased:reported`), `published` is the moment it is dated (`at`) and `updated` when it went out:
when it was recorded, or the end of the silence that held it back. The two differ for a change
to `unknown`, dated when the feeds stopped supporting the status (hours or days before a check
recorded it): by `updated` a reader sees it as new, among the latest, not sorted below older
entries or left out of the feed's FEED_LIMIT. The feed's `updated` is the latest entry's. Its
link is the indicator's page (`views.page_address`: under MONITOR_PUBLIC_URL, else under the
address the feed was asked at), and its HTML content gives the new status, why (when the
evidence does not say) and each piece of evidence: headline linked to the article, publisher,
date, then as the digest shows it: the snippet without the headline (`views.lede`) and the
matched terms as words (`shownterms.shown_terms`, a regex never by its source). A change a
silence held says so, as its alert does (`silences.held_back`). A piece an analyst judged `no`
after the change, itself or as a copy of its story, is marked under it in the words of `monitor
history` and the digest (`✗ judged not relevant by ana at …`, `match.judged`); the entry's
`updated` does not move for it: the verdict is a correction of the record, not news, and a reader
that showed the old change as new again for every `no` on its evidence would repeat the past
(a `no` that moves a status is news: it records a change of its own, its reason the verdict). The
body and its ETag change, and `Last-Modified` (`marked_at`) is the latest verdict marked when
later than every entry's `updated`, so a poll fetches the marks. A change of an indicator no
longer defined (its file removed) is titled as it kept it (its title then; its id if recorded
before that was kept) marked "(no longer defined)", as in the digest, and links to its history
(GET /indicators/{id}/history, still served) instead of its page, which is gone.

Ids are tag: URIs (RFC 4151) that never change for a change: `tag:HOST,DATE:INDICATOR/change/ID`
with HOST the host of MONITOR_PUBLIC_URL (`localhost` when unset) and DATE the day the change
is dated (`at`, as ever, so no entry's id moved when `updated` became the recording time).
ElementTree escapes every text and attribute; feed-derived text is first cleaned of what XML
1.0 cannot carry at all (control characters, lone surrogates), so any headline makes a
well-formed feed.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from monitor.domain import StatusChange, iso_time
from monitor.match.judged import JudgedSince, Piece
from monitor.shownterms import shown_terms
from monitor.silences import Outgoing, held_back
from monitor.views import clean, lede, page_address, unread_lines, web_url

__all__ = [
    "CONTENT_TYPE",
    "FEED_LIMIT",
    "changes_feed",
    "entry_id",
    "marked_at",
    "tag_authority",
]

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
FEED_LIMIT = 50  # the most recent changes a feed carries
NO_LONGER_DEFINED = "(no longer defined)"  # after the id of a removed indicator, as the digest
FEED_ID_DATE = "2026"  # the date of the feeds' own tag: ids (any fixed date keeps them stable)
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # after `clean` took the controls


def tag_authority(public_url: str | None) -> str:
    """The host that names the ids: MONITOR_PUBLIC_URL's, else `localhost`."""
    host = urlsplit(public_url).hostname if public_url else None
    return host or "localhost"


def entry_id(authority: str, change: StatusChange) -> str:
    """The change's stable id: `tag:HOST,YYYY-MM-DD:INDICATOR/change/ID`."""
    day = change.at.date().isoformat()
    return f"tag:{authority},{day}:{quote(change.indicator_id, safe='')}/change/{change.id}"


def changes_feed(
    changes: Sequence[Outgoing],
    *,
    titles: Mapping[str, str],
    base_url: str,
    self_url: str,
    authority: str,
    indicator_id: str | None = None,
    now: datetime,
    judged: Sequence[Mapping[Piece, JudgedSince]] = (),
) -> bytes:
    """The feed of `changes` (newest first, by when they went out: `Outgoing.at`), of every
    indicator or of `indicator_id`'s; `titles` maps the ids of the indicators defined to their
    titles (a change of any other is of one no longer defined), `base_url` is where the pages
    are; `judged`: per change, its pieces an analyst judged `no` since (`views.judged_since`),
    marked in its content (its `updated` stays: see the module's docstring)."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    alternate_type = "text/html"
    if indicator_id is None:
        title, key = "monitor: status changes", "changes"
        alternate: str | None = base_url
    elif indicator_id not in titles:  # no longer defined: its page is gone, its history is not
        kept = next((o.change.title for o in changes if o.change.title), indicator_id)
        title = f"monitor: {kept} {NO_LONGER_DEFINED}"
        key = f"indicators/{quote(indicator_id, safe='')}/changes"
        alternate, alternate_type = _history_address(base_url, indicator_id), "application/json"
    else:
        title, key = (
            f"monitor: {titles[indicator_id]}",
            f"indicators/{quote(indicator_id, safe='')}/changes",
        )
        alternate = page_address(base_url, indicator_id)
    _text(feed, "id", f"tag:{authority},{FEED_ID_DATE}:{key}")
    _text(feed, "title", title)
    _text(feed, "updated", iso_time(max((c.at for c in changes), default=now)))
    _link(feed, self_url, rel="self", type=CONTENT_TYPE.split(";")[0])
    if alternate:
        _link(feed, alternate, rel="alternate", type=alternate_type)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "monitor")
    _text(feed, "generator", "monitor")
    marks = list(judged) or [{} for _c in changes]
    for change, marked in zip(changes, marks, strict=True):
        _entry(feed, change, titles, base_url, authority, marked)
    ET.register_namespace("", ATOM)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _entry(
    feed: ET.Element,
    out: Outgoing,
    titles: Mapping[str, str],
    base_url: str,
    authority: str,
    judged: Mapping[Piece, JudgedSince],
) -> None:
    change = out.change
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    removed = change.indicator_id not in titles
    name = titles.get(change.indicator_id) or change.title or change.indicator_id
    marked = f"{name} {NO_LONGER_DEFINED}" if removed else name
    _text(entry, "id", entry_id(authority, change))
    _text(entry, "title", f"{marked}: {change.old_status} → {change.new_status}")
    _text(entry, "updated", iso_time(out.at))
    _text(entry, "published", iso_time(change.at))
    if removed:  # its page is a 404: its history is still served
        _link(entry, _history_address(base_url, change.indicator_id), rel="alternate",
              type="application/json")  # fmt: skip
    elif page := page_address(base_url, change.indicator_id):
        _link(entry, page, rel="alternate", type="text/html")
    category = ET.SubElement(entry, f"{{{ATOM}}}category")
    category.set("term", _xml(change.indicator_id))
    category.set("label", _xml(name))
    content = _text(entry, "content", _content_html(out, judged, removed=removed))
    content.set("type", "html")


def marked_at(judged: Sequence[Mapping[Piece, JudgedSince]]) -> datetime | None:
    """When the latest mark of a feed's pieces was given: its `Last-Modified` when later than
    the entries' `updated` (the body changed then, though no entry moved)."""
    return max((since.at for marks in judged for since in marks.values()), default=None)


def _history_address(base_url: str, indicator_id: str) -> str:
    return f"{base_url.rstrip('/')}/indicators/{quote(indicator_id, safe='')}/history"


def _content_html(
    out: Outgoing, judged: Mapping[Piece, JudgedSince] | None = None, *, removed: bool = False
) -> str:
    """The entry's content: HTML, every feed-derived text escaped (ElementTree escapes the
    whole once more as XML text); a piece in `judged` is marked `✗ judged not relevant by…`."""
    e, change = html.escape, out.change
    parts = [
        f"<p>Now <strong>{e(change.new_status)}</strong> (was {e(change.old_status)}), "
        f"since {iso_time(change.at)}{' (replayed)' if change.replayed else ''}.</p>"
    ]
    if removed:
        parts.append("<p>This indicator is no longer defined (its file was removed).</p>")
    if change.reason:
        parts.append(f"<p>Why: {e(_xml(change.reason))}</p>")
    if unread := unread_lines(change, UTC):
        listed = "".join(f"<li>{e(_xml(line))}</li>" for line in unread)
        parts.append(f"<p>Feeds not read then ({len(unread)}):</p><ul>{listed}</ul>")
    if out.held_by is not None:
        parts.append(f"<p>{e(_xml(held_back(out.held_by, iso_time(out.held_by.end))))}</p>")
    if change.evidence:
        items = []
        for item in change.evidence:
            headline = e(_xml(item.title)) or "(no headline)"
            link = web_url(item.link)
            linked = f'<a href="{e(link)}">{headline}</a>' if link else headline
            when = item.time.date().isoformat()
            said = lede(item.title, item.snippet)
            words = ", ".join(shown_terms(item.terms, item.title, item.snippet))
            items.append(
                f"<li>{linked} — {e(_xml(item.publisher))}, {when} ({e(item.outcome_id)})"
                + (f"<br>“{e(_xml(said))}”" if said else "")
                + (f"<br>matched: {e(_xml(words))}" if words else "")
                + ("<br>confirmed by an analyst" if item.judged else "")
                + _not_relevant((judged or {}).get((item.entry_id, item.outcome_id)))
                + "</li>"
            )
        parts.append(f"<p>Evidence:</p><ul>{''.join(items)}</ul>")
    return "".join(parts)


def _not_relevant(since: JudgedSince | None) -> str:
    """Under a piece judged `no` since its change: the words of `monitor history` and the digest,
    the time as the feed writes times (ISO 8601, UTC)."""
    if since is None:
        return ""
    return f"<br>✗ {html.escape(_xml(since.words(iso_time(since.at))))}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    child.text = _xml(text)
    return child


def _link(parent: ET.Element, href: str, *, rel: str, type: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", rel=rel, type=type, href=_xml(href))


def _xml(text: str) -> str:
    """Text XML 1.0 can carry: on one line, no control characters, no lone surrogates."""
    return _NOT_XML.sub("", clean(text))
