"""Why a rule did or did not fire on a stored entry, over HTTP (`monitor.web` includes its
router, behind the token as every read is).

GET /indicators/{id}/explain/{entry}: each outcome of the indicator (`?outcome=` one of them),
its rule node by node (`monitor.match.explain`): the document `monitor explain --json` prints,
or, when the Accept header names text/html (a browser, following the page's "Why?" links), a
page of the same explanation as `monitor explain` prints it (`page.render_explanation`). Both
say `Vary: Accept`, as the errors do. Worked out on demand, with the indicator's rules compiled
for the request: the matching of news never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from monitor import page, signin
from monitor.domain import Definitions, Indicator
from monitor.match import Matcher
from monitor.match.explain import EntryExplanation, explain_entry
from monitor.settings import Settings
from monitor.statuses import standing_on
from monitor.store import Store, StoredEntry
from monitor.webmodels import error_answer
from monitor.webmodels.given import digits_only

__all__ = ["router"]

MAX_ID = 2**63 - 1


class _Monitor(Protocol):
    """What this route reads of `web`'s state (`app.state.monitor`)."""

    store: Store
    definitions: Callable[[], Definitions]
    settings: Settings
    clock: Callable[[], datetime]


def _monitor(request: Request) -> _Monitor:
    state: _Monitor = request.app.state.monitor
    return state


State = Annotated[_Monitor, Depends(_monitor)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {"schema": {"type": "string"}}},
        "description": "The explanation: JSON, or a page when the Accept header names text/html.",
    },
    404: error_answer("No indicator or no stored entry has this id."),
    422: error_answer("The indicator has no such outcome."),
    503: error_answer("The database did not answer."),
}

router = APIRouter()


@router.get(
    "/indicators/{indicator_id}/explain/{entry}",
    response_model=EntryExplanation,
    responses=_RESPONSES,
    summary="Why each outcome's rule did or did not fire on a stored entry, node by node",
)
def explain(
    state: State,
    request: Request,
    response: Response,
    indicator_id: Annotated[str, Path(description="The indicator's id (its file stem).")],
    entry: Annotated[
        int,
        Path(ge=1, le=MAX_ID, description="The stored entry's id (`GET /entries`)."),
        digits_only(MAX_ID),
    ],
    outcome: Annotated[
        str | None, Query(description="One outcome of the indicator (default: every one).")
    ] = None,
) -> EntryExplanation | HTMLResponse:
    """Each outcome of the indicator (or `outcome`): whether it fired on the entry, and its rule
    node by node: whether each part holds, in which sentences (from 1, the headline first),
    the terms found; a `near`'s groups, a `none`'s vetoes, the `unless` cues; then the entry's
    sentences; `feed`, the entry's, and `feed_read`, false when the indicator does not read it
    (then the entry is never its evidence, whatever the rule says); each outcome's `verdict`,
    the analyst's that stands on the entry (`verdict`, `who`, `at`, `note`, `agrees`: with the
    rule, `beyond_window`: why a yes adds no evidence now, or ""), null when none does. As
    `monitor explain INDICATOR[:OUTCOME] --entry ID --json` prints it; a page of it as
    `monitor explain` prints it when the Accept header names text/html."""
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}  # JSON or a page, never swapped
    response.headers.update(headers)
    definitions = state.definitions()
    try:
        indicator = definitions.indicator(indicator_id)
    except KeyError:
        raise HTTPException(404, definitions.no_indicator(indicator_id)) from None
    if outcome is not None and outcome not in {o.id for o in indicator.outcomes}:
        raise HTTPException(422, f"explain: {indicator.no_outcome(outcome)}")
    stored = state.store.entry(entry)
    if stored is None:
        raise HTTPException(404, f"explain: no entry {entry}")
    title, text, feed = stored.entry.title, stored.entry.text, stored.entry.feed_id
    found = explain_entry(
        Matcher((indicator,)), indicator_id, title, text, outcome_id=outcome, entry_id=entry,
        feed=feed, feed_read=feed in definitions.feeds_for(indicator),
        verdicts=standing_on(state.store, stored, indicator, now=state.clock()),
    )  # fmt: skip
    if "text/html" not in request.headers.get("accept", ""):
        return found
    return _page(state, request, indicator, stored, found, headers)


def _page(
    state: _Monitor,
    request: Request,
    indicator: Indicator,
    stored: StoredEntry,
    found: EntryExplanation,
    headers: dict[str, str],
) -> HTMLResponse:
    """The explanation as a page, in the frame of the others (their Content-Security-Policy)."""
    html = page.render_explanation(
        found,
        indicator_title=indicator.title,
        headline=stored.entry.title,
        link=stored.entry.link,
        now=state.clock(),
        zone=state.settings.zone,
    )
    body = signin.for_visitor(request, html.encode())
    return HTMLResponse(body, headers={**headers, "Content-Security-Policy": page.PAGE_POLICY})
