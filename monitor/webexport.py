"""The HTTP endpoint's exports and Atom feeds: routes `monitor.web` includes behind the same
guard as its other read endpoints (a bearer token with MONITOR_API_TOKEN set).

    GET /export/history                  the statuses each indicator held, one row a stretch
    GET /export/changes                  every status change, in the order recorded
    GET /export/evidence                 each piece of evidence of those changes
                                         (each: ?format=csv|json ?since ?indicator)
    GET /changes.atom                    the latest status changes as an Atom feed
    GET /indicators/{id}/changes.atom    one indicator's (also one no longer defined)

An export is streamed as the store reads it, a page at a time (`monitor.views.exported`,
`monitor.export`): its first chunk is read before the answer starts, so a database that does not
answer is a 503, not a cut-off file. A feed is small (`atom.FEED_LIMIT` changes) and answered
with an ETag; If-None-Match gives 304. Its evidence judged `no` since is marked
(`views.judged_since`, one read of the verdicts a poll, as a page of the changes export). A feed
leaves out the changes a silence in force holds and shows those a silence held when it ends
(`silences.feed_changes`, as the alerts and the digest): a poll reads the changes recorded last
that are not held (by when recorded: a change to `unknown` recorded now may be dated days
before, and goes out now), the silences ending after the oldest of them was recorded, and of
those that ended since, the changes each held — index ranges, not the history.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from monitor import atom, export, server, views
from monitor.domain import Definitions, as_utc
from monitor.settings import Settings
from monitor.silences import Outgoing, feed_changes
from monitor.store import Store
from monitor.views import ExportKind
from monitor.webmodels import error_answer

__all__ = ["router"]

Format = Literal["csv", "json"]
_MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
_SUMMARY = {
    "history": "The statuses each indicator held, one row per stretch of time",
    "changes": "Every status change, in the order recorded",
    "evidence": "Each piece of evidence of every status change",
}


class Served(Protocol):
    """What the routes read of the app's state (`monitor.web`'s `app.state.monitor`)."""

    store: Store
    definitions: Callable[[], Definitions]
    settings: Settings
    clock: Callable[[], datetime]


def _served(request: Request) -> Served:
    state: Served = request.app.state.monitor
    return state


_STRING = {"type": "string"}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: error_answer("The database did not answer.")}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: error_answer("No indicator has this id.")}

router = APIRouter()


# ---------------------------------------------------------------- exports


def _export_route(kind: ExportKind) -> None:
    model = export.MODELS[kind]

    def endpoint(
        request: Request,
        format: Annotated[
            Format, Query(description="`csv` (a header row, UTF-8) or `json` (an array).")
        ] = "csv",
        since: Annotated[
            datetime | None,
            Query(description="Only from this time on (ISO 8601 or a date; UTC if no zone)."),
        ] = None,
        indicator: Annotated[
            str | None, Query(max_length=200, description="Only this indicator's.")
        ] = None,
    ) -> Response:
        state = _served(request)
        try:
            moment = None if since is None else as_utc(since)
            rows = views.exported(
                kind, state.definitions(), state.store, indicator_id=indicator, since=moment,
                kept_since=state.clock() - state.settings.retention,
            )  # fmt: skip
        except KeyError:
            raise HTTPException(404, state.definitions().no_indicator(str(indicator))) from None
        text = export.csv_text(model, rows) if format == "csv" else export.json_text(rows)
        chunks = _encoded(text)
        first = next(chunks)  # here, so that a database error is a 503 before the answer starts
        filename = f"monitor-{kind}.{format}"
        return StreamingResponse(
            itertools.chain([first], chunks),
            media_type=_MEDIA[format],
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    endpoint.__doc__ = (
        f"{_SUMMARY[kind]}: CSV (one row per item, the fields of `{model.__name__}`; a cell that "
        "starts with = + - or @ is prefixed with a quote) or a JSON array of them. Streamed."
    )
    router.add_api_route(
        f"/export/{kind}",
        endpoint,
        methods=["GET"],
        name=f"export_{kind}",
        summary=_SUMMARY[kind],
        response_model=list[model],  # type: ignore[valid-type]  # the JSON's schema
        responses={
            200: {"description": "The export.", "content": {"text/csv": {"schema": _STRING}}},
            **_NOT_FOUND,
            **_UNAVAILABLE,
        },
    )


for _kind in views.EXPORTS:
    _export_route(_kind)


def _encoded(text: Iterator[str]) -> Iterator[bytes]:
    for chunk in text:
        yield chunk.encode("utf-8", "replace")  # a lone surrogate cannot be UTF-8


# ---------------------------------------------------------------- Atom

_ATOM_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An Atom 1.0 feed.",
        "content": {"application/atom+xml": {"schema": {"type": "string"}}},
    },
    304: {"description": "Not Modified: the If-None-Match ETag still matches."},
}


@router.get(
    "/changes.atom",
    response_class=Response,
    responses={**_ATOM_CONTENT, **_UNAVAILABLE},
    summary="The latest status changes as an Atom feed",
)
def changes_atom(request: Request) -> Response:
    """The latest status changes of every indicator as an Atom 1.0 feed, newest first: each
    entry links to the indicator's page (to its history when it is no longer defined) and lists
    the evidence (headline, link, publisher). A change a silence holds is left out until the
    silence ends, then shown updated at its end."""
    return _feed(request, _served(request), None)


@router.get(
    "/indicators/{indicator_id}/changes.atom",
    response_class=Response,
    responses={**_ATOM_CONTENT, **_NOT_FOUND, **_UNAVAILABLE},
    summary="One indicator's latest status changes as an Atom feed",
)
def indicator_changes_atom(
    request: Request,
    indicator_id: Annotated[str, Path(description="The indicator's id (its file stem).")],
) -> Response:
    """One indicator's latest status changes as an Atom 1.0 feed, newest first; a change a
    silence holds is left out until the silence ends, as in /changes.atom. Also of one no
    longer defined (its file removed), as its history is, linking to that history."""
    state = _served(request)
    defined = indicator_id in {i.id for i in state.definitions().indicators}
    if not defined and indicator_id not in state.store.current_statuses():
        raise HTTPException(404, state.definitions().no_indicator(indicator_id))
    return _feed(request, state, indicator_id)


def _outgoing(store: Store, indicator_id: str | None, now: datetime) -> list[Outgoing]:
    """The latest changes (of one indicator) as they went out by `now`: none a silence holds,
    those a silence held as of its end (`silences.feed_changes`)."""
    limit = atom.FEED_LIMIT
    latest = store.latest_changes(limit=limit, indicator_id=indicator_id, shown_at=now)
    if not latest:
        return []
    silences = store.silences(indicator_id, ending_after=latest[-1].recorded)
    released = [
        change
        for silence in silences
        if len(latest) == limit and silence.end <= now  # else `latest` has every change not held
        for change in store.released_changes(silence, now, limit=limit)
    ]
    return feed_changes(latest, released, silences, now=now, limit=limit)


def _feed(request: Request, state: Served, indicator_id: str | None) -> Response:
    now = state.clock()
    changes = _outgoing(state.store, indicator_id, now)
    judged = views.judged_since(state.store, [out.change for out in changes])
    public_url = state.settings.public_url
    base = public_url or str(request.base_url)
    body = atom.changes_feed(
        changes,
        titles={i.id: i.title for i in state.definitions().indicators},
        base_url=base,
        self_url=base.rstrip("/") + request.url.path,
        authority=atom.tag_authority(public_url),
        indicator_id=indicator_id,
        now=now,
        judged=judged,
    )
    etag = server.etag_of(body)
    headers = {"ETag": etag, **server.cache_headers(guarded=bool(state.settings.named_tokens()))}
    went_out = [c.at for c in changes]  # a mark changes the body, moving no entry's `updated`
    last_modified = max([*went_out, *filter(None, [atom.marked_at(judged)])], default=None)
    if last_modified is not None:
        headers["Last-Modified"] = server.http_date(last_modified)
    if server.not_modified(request.headers, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=atom.CONTENT_TYPE, headers=headers)
