"""Where things stood at a past moment: every indicator's status then, worked out from the
status changes recorded (a past day's digest shows it under "Standing status").

    indicator_views_at(definitions, store, at=...) -> list[IndicatorView]

The views are those of `monitor.views` (`indicator_view`), built from the status a change
recorded instead of one worked out now.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from monitor.domain import (
    UNKNOWN,
    Definitions,
    Indicator,
    Level,
    Outcome,
    OutcomeState,
    Status,
    StatusChange,
    UnreadFeed,
)
from monitor.evaluate import level_of
from monitor.ruletree import AllNode, Rule
from monitor.store import Around, Store
from monitor.views import indicator_view
from monitor.webmodels import IndicatorView


def indicator_views_at(
    definitions: Definitions, store: Store, *, at: datetime, kept_since: datetime | None = None
) -> list[IndicatorView]:
    """Every indicator with the status it held at `at` (a past day's digest: what stood at the
    end of what it covers), from the status changes recorded: the status its latest change
    before `at` set, since then, with the evidence that change kept. Without one, the status
    its first later change changed from — or, with no change at all, the one it holds now —
    since its first quiet reading (which records no change: `Store.first_readings`), and
    `unknown` before it, since monitoring it began.

    An indicator whose file is gone since is listed as its changes kept it (`_as_kept`), while
    it was still monitored at `at` (`Store.monitoring_ended`). An indicator nobody monitored at
    `at` had no status then and is left out: one whose monitoring began later or had ended,
    and one without a change before `at` when `at` is before `kept_since` (retention deleted
    the changes older than that, and what they said)."""
    around, started = store.changes_around(at), store.monitoring_started()
    current, first = store.current_statuses(), store.first_readings()
    ended, defined = store.monitoring_ended(), {i.id for i in definitions.indicators}
    gone = sorted(i for i in current if i not in defined and not (i in ended and ended[i] <= at))
    views = []
    for indicator_id in [*(i.id for i in definitions.indicators), *gone]:
        before, after = around.get(indicator_id, Around())
        begun = started.get(indicator_id)
        if before is not None:
            status, since = before.new_status, before.at
        else:
            held = after.old_status if after is not None else current.get(indicator_id, ("",))[0]
            begun = max(begun, kept_since) if begun and kept_since else begun
            if begun is None or begun > at or not held:
                continue
            status, since = held, begun
            read = first.get(indicator_id)
            if read is not None and read > begun:
                status, since = (UNKNOWN, begun) if at < read else (held, read)
        known = definitions
        if indicator_id not in defined:  # its file is gone: as its changes kept it
            kept = _as_kept(indicator_id, status, before, after)
            known = replace(definitions, indicators=(kept,))
        shown = _held(known.indicator(indicator_id), status, before)
        view = indicator_view(indicator_id, known, shown, status, since)
        began = started.get(indicator_id, since)
        views.append(replace(view, started=began, first_read=first.get(indicator_id)))
    return views


def _as_kept(
    indicator_id: str, status: str, before: StatusChange | None, after: StatusChange | None
) -> Indicator:
    """An indicator whose file is gone, as a change of it kept it (`StatusChange.title`): its
    title, group and outcome labels then; its id, no group and its outcome ids as labels where
    the change kept none (recorded before migration 0023). Its outcomes match nothing, and
    their `corroborate` is the default: all a `mixed` status kept is its evidence."""
    named = next((c for c in (before, after) if c is not None and c.title), before or after)
    labels = dict(named.labels) if named is not None else {}
    evidence = before.evidence if before is not None else ()
    told = [status.partition(":")[0] if ":" in status else "", *(e.outcome_id for e in evidence)]
    labels |= {o: o for o in told if o and o not in labels}
    nothing = Rule(AllNode(()))
    return Indicator(
        indicator_id,
        group=named.group if named is not None else "",
        title=(named.title if named is not None else "") or indicator_id,
        question="",
        outcomes=tuple(Outcome(o, label, nothing) for o, label in labels.items()),
    )


def _held(indicator: Indicator, status: str, change: StatusChange | None) -> Status:
    """`status` as the change that set it (None: not known) recorded it, for `indicator_view`:
    its reason and, for `unknown`, the feeds not read (`_unread`). A change keeps the evidence
    of the outcome(s) behind its status only: those are at the level the status names
    (`mixed`: the highest their kept evidence tells), the others read `none`."""
    evidence = change.evidence if change is not None else ()
    kept = {o.id: tuple(e for e in evidence if e.outcome_id == o.id) for o in indicator.outcomes}
    sources = {o: tuple(dict.fromkeys(e.publisher for e in items)) for o, items in kept.items()}
    named, sep, said = status.partition(":")
    top = Level.__members__.get(said.upper()) if sep else None
    if top is None:
        told = [level_of(o, len(kept[o.id]), len(sources[o.id])) for o in indicator.outcomes]
        top = max(told, key=lambda level: level.value, default=Level.NONE)
    behind = {o.id for o in indicator.outcomes if kept[o.id] or (sep and o.id == named)}
    total = change.evidence_count if change is not None else 0
    outcomes = tuple(
        OutcomeState(
            o.id,
            top if o.id in behind else Level.NONE,
            sources[o.id],
            kept[o.id],
            stories=total if behind == {o.id} else len(kept[o.id]),
        )
        for o in indicator.outcomes
    )
    hash_ = change.definition_hash if change is not None else indicator.hash
    reason = change.reason if change is not None else ""
    return Status(indicator.id, status, outcomes, hash_, reason, _unread(status, change))


def _unread(status: str, change: StatusChange | None) -> tuple[UnreadFeed, ...]:
    """The feeds not read under `status` as the change that set it kept them (`unread_feeds`,
    from revision 0034 on): for `unknown`, every feed the indicator reads, as long as it stays
    so. Under another status they may have been read again since without a change: not
    said."""
    if status != UNKNOWN or change is None:
        return ()
    return change.unread or ()


__all__ = ["indicator_views_at"]
