"""Why a rule did or did not fire on a stored entry, over HTTP (`monitor.web` includes its
router, behind the token as every read is).

GET /indicators/{id}/explain/{entry}: each outcome of the indicator (`?outcome=` one of them),
its rule node by node (`monitor.match.explain`): the document `monitor explain --json` prints.
Worked out on demand, with the indicator's rules compiled for the request: the matching of
news never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from monitor.domain import Definitions
from monitor.match import Matcher
from monitor.match.explain import EntryExplanation, explain_entry
from monitor.store import Store
from monitor.webmodels import error_answer
from monitor.webmodels.given import digits_only

__all__ = ["router"]

MAX_ID = 2**63 - 1


class _Monitor(Protocol):
    """What this route reads of `web`'s state (`app.state.monitor`)."""

    store: Store
    definitions: Callable[[], Definitions]


def _monitor(request: Request) -> _Monitor:
    state: _Monitor = request.app.state.monitor
    return state


State = Annotated[_Monitor, Depends(_monitor)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
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
) -> EntryExplanation:
    """Each outcome of the indicator (or `outcome`): whether it fired on the entry, and its rule
    node by node: whether each part holds, in which sentences (from 1, the headline first),
    the terms found; a `near`'s groups, a `none`'s vetoes, the `unless` cues; then the entry's
    sentences. As `monitor explain INDICATOR[:OUTCOME] --entry ID --json` prints it."""
    response.headers["Cache-Control"] = "no-store"
    indicator = next((i for i in state.definitions().indicators if i.id == indicator_id), None)
    if indicator is None:
        raise HTTPException(404, f"no indicator {indicator_id!r}")
    if outcome is not None and outcome not in {o.id for o in indicator.outcomes}:
        raise HTTPException(422, f"explain: indicator {indicator_id} has no outcome {outcome!r}")
    stored = state.store.entry(entry)
    if stored is None:
        raise HTTPException(404, f"explain: no entry {entry}")
    title, text = stored.entry.title, stored.entry.text
    return explain_entry(
        Matcher((indicator,)), indicator_id, title, text, outcome_id=outcome, entry_id=entry
    )
