"""The entry search of the HTTP endpoint (`monitor.web` includes its router, behind the token).

GET /entries?q=TEXT: stored entries whose title or text contains TEXT, newest first.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response

from monitor import views
from monitor.store import Store
from monitor.webmodels import EntryOut, ErrorOut, SearchText

__all__ = ["ENTRIES_LIMIT", "ENTRIES_MAX", "router"]

ENTRIES_LIMIT = 20
ENTRIES_MAX = 200


class _Monitor(Protocol):
    """What this route reads of `web`'s state (`app.state.monitor`)."""

    store: Store


def _monitor(request: Request) -> _Monitor:
    state: _Monitor = request.app.state.monitor
    return state


State = Annotated[_Monitor, Depends(_monitor)]

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "The database did not answer.",
        "content": {"application/json": {"schema": ErrorOut.model_json_schema()}},
    }
}

router = APIRouter()


@router.get(
    "/entries",
    response_model=list[EntryOut],
    responses=_UNAVAILABLE,
    summary="Stored entries whose title or text contains `q`, newest first",
)
def entries(
    state: State,
    response: Response,
    q: Annotated[
        SearchText,
        Query(min_length=1, max_length=200, description="In title or text (any case); not blank."),
    ],
    limit: Annotated[
        int, Query(ge=1, le=ENTRIES_MAX, description="At most this many entries.")
    ] = ENTRIES_LIMIT,
) -> list[EntryOut]:
    """Stored entries whose title or text contains `q`, newest first: their ids are what a
    verdict names, so an entry the rules missed can be confirmed."""
    response.headers["Cache-Control"] = "no-store"
    return views.entries(state.store, q, limit=limit)
