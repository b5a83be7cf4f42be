"""What an alert of a status change says: `build_alert(change, indicator_title) -> Alert`, a
short text with the same evidence as the digest. Pure; `monitor.notify` sends it (Apprise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from monitor.digestinput import format_status, format_time
from monitor.domain import StatusChange
from monitor.shownterms import shown_terms
from monitor.silences import Silence, held_back
from monitor.views import clean, lede, page_address, shown_reason, unread_lines

EVIDENCE_PER_ALERT = 5


@dataclass(frozen=True)
class Alert:
    title: str
    body: str  # plain text; Apprise escapes it for channels that want HTML


def build_alert(
    change: StatusChange,
    indicator_title: str,
    *,
    zone: tzinfo = UTC,
    limit: int = EVIDENCE_PER_ALERT,
    public_url: str | None = None,
    held_by: Silence | None = None,
) -> Alert:
    """One change as a short text: indicator, old → new status, why (when the change has a
    reason: feeds not read), the silence that held it back (when one did, so it comes late),
    then each piece of evidence with its title, publisher, time, link, snippet and the terms it
    matched, as words a person wrote; last, the feeds not read then, each error whole, when its
    reason does not say them all (`views.unread_lines`)."""
    title = clean(indicator_title) or change.indicator_id
    lines = [
        title,
        f"{format_status(change.old_status)} → {format_status(change.new_status)}"
        f" ({format_time(change.at, zone)})",
    ]
    if change.reason:
        lines.append(shown_reason(change.reason, zone))
    if held_by is not None:
        lines.append(clean(held_back(held_by, format_time(held_by.end, zone))))
    if page := page_address(public_url, change.indicator_id):
        lines.append(f"Page: {page}")
    if change.evidence:
        lines += ["", "Evidence:"]
    for evidence in change.evidence[:limit]:
        source = ", ".join(
            p for p in (clean(evidence.publisher), format_time(evidence.time, zone)) if p
        )
        lines.append(f"- {clean(evidence.title) or '(untitled)'} ({source})")
        if evidence.link.strip():
            lines.append(f"  {clean(evidence.link)}")
        if snippet := lede(evidence.title, evidence.snippet):
            lines.append(f'  "{snippet}"')
        if words := shown_terms(evidence.terms, evidence.title, evidence.snippet):
            lines.append(f"  matched: {', '.join(words)}")  # as the digest shows them
        if evidence.judged:  # no rule matched it, or not only a rule: as the page says
            lines.append("  confirmed by an analyst")
    if change.evidence_count > min(limit, len(change.evidence)):
        lines.append(f"- and {change.evidence_count - min(limit, len(change.evidence))} more")
    if unread := unread_lines(change, zone):  # last: a channel that cuts a long body cuts these
        lines += ["", f"Feeds not read then ({len(unread)}):", *(f"- {u}" for u in unread)]
    return Alert(
        title=f"monitor: {title}: {format_status(change.new_status)}", body="\n".join(lines)
    )
