"""The entry search of the HTTP endpoint (`monitor.web` includes its router, behind the token).

GET /entries?q=TEXT: stored entries whose title or text contains TEXT, newest first (by time,
then id), `?limit=` a page. When more match, a `Link: </entries?q=…&limit=…&before=ID>;
rel="next"` header names the next page: `before` is the id of the page's last entry, and the
next page is what comes after it in that order (a cursor, not an offset), so entries stored
meanwhile neither repeat an entry on the next page nor skip one.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from monitor import views
from monitor.store import Store
from monitor.webmodels import EntryOut, error_answer
from monitor.webmodels.given import SEARCH_MAX, SearchText, digits_only

__all__ = ["ENTRIES_LIMIT", "ENTRIES_MAX", "router"]

ENTRIES_LIMIT = 20
ENTRIES_MAX = 200
MAX_ID = 2**63 - 1


class _Monitor(Protocol):
    """What this route reads of `web`'s state (`app.state.monitor`)."""

    store: Store


def _monitor(request: Request) -> _Monitor:
    state: _Monitor = request.app.state.monitor
    return state


State = Annotated[_Monitor, Depends(_monitor)]


_NEXT = {
    "description": 'When more entries match: `</entries?q=…&limit=…&before=ID>; rel="next"`.',
    "schema": {"type": "string"},
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A page of entries, newest first.", "headers": {"Link": _NEXT}},
    404: error_answer("No stored entry has the id `before` names (retention deleted it since)."),
    503: error_answer("The database did not answer."),
}

router = APIRouter()


@router.get(
    "/entries",
    response_model=list[EntryOut],
    responses=_RESPONSES,
    summary="Stored entries whose title or text contains `q`, newest first",
)
def entries(
    state: State,
    response: Response,
    q: Annotated[
        SearchText,
        Query(
            min_length=1,
            max_length=SEARCH_MAX,
            description="In title or text (any case); not blank.",
        ),
    ],
    limit: Annotated[
        int,
        Query(ge=1, le=ENTRIES_MAX, description="At most this many entries."),
        digits_only(ENTRIES_MAX),
    ] = ENTRIES_LIMIT,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Only the entries after the one with this id, newest first: the id of "
            "the last entry of the page before (the `before` of the `Link` header's next page).",
        ),
        digits_only(MAX_ID),
    ] = None,
) -> list[EntryOut]:
    """Stored entries whose title or text contains `q`, newest first (by time, then id), a
    page at a time: their ids are what a verdict names, so an entry the rules missed can be
    confirmed. A `Link` header with `rel="next"` names the next page while more match."""
    response.headers["Cache-Control"] = "no-store"
    try:
        items, next_before = views.entries(state.store, q, limit=limit, before=before)
    except KeyError:
        raise HTTPException(404, f"before: no stored entry {before}") from None
    if next_before is not None:
        query = urlencode({"q": q, "limit": limit, "before": next_before})
        response.headers["Link"] = f'</entries?{query}>; rel="next"'
    return items
