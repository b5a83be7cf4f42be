"""The silences of the HTTP endpoint (`monitor.web` includes its router, behind the same token
as the verdict endpoints), and the page's forms, whose reading the verdict form shares.

    GET  /silences                           silences, newest first (?indicator ?active)
    POST /silences                           begin one (JSON body: indicator, outcome, for, reason)
    POST /silences/{id}/end                  end one now
    POST /indicators/{id}/page/silence       the same from the indicator page's form (303 back)
    POST /indicators/{id}/page/silence/end   its "End silence" button (form: silence; 303 back)

Who: the name of the token that made the request (by bearer header or a session signed in with
it; `api` for MONITOR_API_TOKEN), else `anonymous`, as for verdicts. The page's forms carry the
session's CSRF token (`monitor.signin` checks it). Errors: 404 no such indicator or silence,
409 the silence is over, 422 a bad outcome, duration or reason. A post from another site's page
never reaches these routes (`guard.Guard`: 403). An id a form posts (`form_id`, the verdict
form's entry too) is ASCII digits or 422.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from monitor import page, server, signin
from monitor.domain import Definitions
from monitor.errors import SilenceError
from monitor.silences import MAX_SILENCE_ID, Silence
from monitor.statuses import begin_silence
from monitor.store import Store
from monitor.webmodels import SilenceIn, SilenceOut, error_answer
from monitor.webmodels.given import digits_only, true_or_false, whole_number

__all__ = ["form_id", "read_form", "router"]

FORM_MAX_BYTES = 16_384  # a form of the page: a note or reason of 2,000 characters and a few ids
_CODES = {"unknown": 404, "over": 409, "invalid": 422}


class _Monitor(Protocol):
    """What these routes read of `web`'s state (`app.state.monitor`)."""

    store: Store
    definitions: Callable[[], Definitions]
    clock: Callable[[], datetime]


def _monitor(request: Request) -> _Monitor:
    state: _Monitor = request.app.state.monitor
    return state


State = Annotated[_Monitor, Depends(_monitor)]
SilenceId = Annotated[
    int,
    Path(ge=1, le=MAX_SILENCE_ID, description="The silence's id."),
    digits_only(MAX_SILENCE_ID),
]


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: error_answer("The database did not answer.")}
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: error_answer("No indicator or no silence has this id."),
    409: error_answer("The silence is over already (ended or expired)."),
    422: error_answer("No such outcome, not a duration, no reason, or not a silence."),
    **_UNAVAILABLE,
}

router = APIRouter()


@router.get(
    "/silences",
    response_model=list[SilenceOut],
    responses={404: error_answer("No indicator has this id."), **_UNAVAILABLE},
    summary="Silences, newest first",
)
def silences(
    state: State,
    response: Response,
    indicator: Annotated[str | None, Query(description="Only this indicator's.")] = None,
    active: Annotated[
        bool,
        Query(description="Only those in force now: `true` or `false` alone."),
        true_or_false(),
    ] = False,
) -> list[SilenceOut]:
    """Every silence (of one indicator; only those in force now with `active=true`): who began
    it, why, until when, and who ended it early (the items `monitor silence --list --json`
    prints); 404 for an unknown indicator, as the command answers, but for one whose file was
    removed with silences recorded (its history is served too)."""
    gone = False
    if indicator is not None:
        try:
            state.definitions().indicator(indicator)
        except KeyError:
            gone = True
    now = state.clock()
    found = state.store.silences(indicator, active_at=now if active else None, limit=500)
    if gone and not found and not state.store.silences(indicator, limit=1):
        raise HTTPException(404, state.definitions().no_indicator(str(indicator)))
    response.headers["Cache-Control"] = "no-store"
    return [SilenceOut.of(s, now=now) for s in found]


@router.post(
    "/silences",
    response_model=SilenceOut,
    status_code=201,
    responses=_ERRORS,
    summary="Begin a silence: hold back an indicator's alerts and digest lines for a time",
)
def add_silence(state: State, request: Request, body: SilenceIn) -> SilenceOut:
    """Begin a silence now. Changes are still recorded; those recorded while it is in force
    are alerted, and listed by the digest, once when it ends."""
    who = signin.visitor_of(request).name
    target = (body.indicator, body.outcome or None)
    silence = _begin(state, target, body.duration, body.reason, who)
    return SilenceOut.of(silence, now=silence.created_at)


@router.post(
    "/silences/{silence_id}/end",
    response_model=SilenceOut,
    responses=_ERRORS,
    summary="End a silence now",
)
def end_silence(state: State, request: Request, silence_id: SilenceId) -> SilenceOut:
    """End a silence in force now: the changes it held go out (alerts, the next digest)."""
    who = signin.visitor_of(request).name
    return SilenceOut.of(_end(state, silence_id, who), now=state.clock())


@router.post(
    "/indicators/{indicator_id}/page/silence",
    response_class=RedirectResponse,
    status_code=303,
    include_in_schema=False,  # the page's form; tools use POST /silences
)
async def page_silence(state: State, request: Request, indicator_id: str) -> Response:
    """The page's "Silence" form (outcome, for, reason); a redirect back to the page."""
    field = await read_form(request, "silence")
    who = signin.visitor_of(request).name
    target = (indicator_id, field.get("outcome") or None)
    args = (state, target, field.get("for", ""), field.get("reason", ""), who)
    await run_in_threadpool(_begin, *args)
    return RedirectResponse(f"{page.indicator_url(indicator_id)}#silence", status_code=303)


@router.post(
    "/indicators/{indicator_id}/page/silence/end",
    response_class=RedirectResponse,
    status_code=303,
    include_in_schema=False,
)
async def page_end_silence(state: State, request: Request, indicator_id: str) -> Response:
    """The page's "End silence" button (form: silence); a redirect back to the page."""
    field = await read_form(request, "silence")
    silence_id = form_id(field, "silence", "silence: not a silence id", most=MAX_SILENCE_ID)
    who = signin.visitor_of(request).name
    await run_in_threadpool(_end_of, state, indicator_id, silence_id, who)
    return RedirectResponse(f"{page.indicator_url(indicator_id)}#silence", status_code=303)


async def read_form(request: Request, what: str, max_fields: int = 8) -> dict[str, str]:
    """A form the page posted, as field -> first value: 413 when longer than FORM_MAX_BYTES,
    422 with more fields than the page's forms have (another site's form: `guard.Guard`)."""
    try:
        body = await server.read_at_most(request.stream(), FORM_MAX_BYTES)
        if body is None:
            raise HTTPException(413, f"{what}: a form is at most {FORM_MAX_BYTES} bytes")
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=max_fields)
    except ValueError:  # more fields than the form has
        raise HTTPException(422, f"{what}: not the page's form") from None
    return {name: values[0] for name, values in form.items()}


def form_id(field: Mapping[str, str], name: str, refusal: str, *, most: int = 2**63 - 1) -> int:
    """The id in the form's field `name`; 422 `refusal` (a tampered or broken form) unless it
    is ASCII digits alone (`whole_number`, as the paths' and queries' integers), from 1 to
    `most`."""
    found = whole_number(field.get(name, ""), most)
    if found is None or not 1 <= found <= most:
        raise HTTPException(422, refusal)
    return found


def _begin(
    state: _Monitor, target: tuple[str, str | None], duration: str, reason: str, who: str
) -> Silence:
    try:
        return begin_silence(
            state.definitions(), state.store, target=target, duration=duration,
            reason=reason, who=who, now=state.clock(),
        )  # fmt: skip
    except SilenceError as exc:  # a field named as the JSON body (and the form) has it
        if exc.problem == "unknown":  # the only unknown a new silence names: its indicator
            raise HTTPException(404, state.definitions().no_indicator(target[0])) from None
        raise HTTPException(_CODES.get(exc.problem, 422), exc.worded(f'"{exc.field}"')) from None


def _end_of(state: _Monitor, indicator_id: str, silence_id: int, who: str) -> Silence:
    """End a silence of this indicator's page: a silence of another indicator is none of its
    own (404), as the page shows only its own."""
    found = state.store.silence(silence_id)
    if found is None or found.indicator_id != indicator_id:
        raise HTTPException(404, f"silence: no silence {silence_id} of {indicator_id!r}")
    return _end(state, silence_id, who)


def _end(state: _Monitor, silence_id: int, who: str) -> Silence:
    try:
        return state.store.end_silence(silence_id, who=who, now=state.clock())
    except SilenceError as exc:
        raise HTTPException(_CODES.get(exc.problem, 422), str(exc)) from None
