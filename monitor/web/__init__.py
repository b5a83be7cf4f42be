"""The HTTP endpoint: JSON API, Prometheus metrics and the status page, from the same views.

The only module that imports FastAPI. `create_app` builds the app over a store and a
definitions callable (the daemon reloads definitions); `monitor.server` runs it with its limits
(`WebServer` on a thread for `monitor run`, `serve` in the foreground for `monitor serve`).
Every endpoint answers HEAD, every answer carries `X-Content-Type-Options: nosniff`, and a
request whose Host is not in MONITOR_HTTP_ALLOWED_HOSTS gets 400 (`guard.Guard`).

    GET /healthz                         open; ok / degraded (200) / unhealthy, stale (503)
    GET /indicators                      every indicator's status
    GET /indicators/{id}                 one, with the evidence behind its status
    GET /indicators/{id}/history         its status changes, newest first (?since ?limit ?before)
    GET /indicators/{id}/page            its page (HTML) with the full history (?before)
    GET /feeds, GET /metrics             feed health; Prometheus text
    GET /export/…, /changes.atom, …      exports and Atom feeds: monitor.webexport's routes
    GET /                                the page people read (HTML)
    GET /entries?q=TEXT                  entries whose title or text has TEXT: monitor.webentries
    GET /indicators/{id}/explain/{entry} why its rules did or did not fire: monitor.webexplain
    POST /indicators/{id}/evidence/{entry}/verdict   an analyst's verdict (JSON body)
    POST /indicators/{id}/page/verdict   the same from the page's buttons (a form; 303 back)
    GET|POST /silences, POST /silences/{id}/end   silences (monitor.websilences), and their forms
    GET /signin, POST /signin, /signout  signing a browser in and out (monitor.signin), with tokens

With tokens set (MONITOR_API_TOKEN, MONITOR_API_TOKENS), every endpoint but /healthz needs
`Authorization: Bearer <token>` or a browser's session from /signin (`monitor.signin`),
/openapi.json too (there is no /docs: see the README). Errors are JSON `{"detail": ...}` (a page
when a browser's Accept names text/html), never a stack trace; a path's or query's integer is
ASCII digits alone (`webmodels.given.digits_only`) or 422. The pages, /indicators…, /feeds
and the Atom feeds carry an ETag (a hash of the body) and honour If-None-Match with 304; the
others (/healthz, /metrics, /entries, /silences, the exports, an explanation) are made afresh,
without one.
How errors and those conditional answers leave: `web.replies`. A database that does not answer
is 503 at every endpoint, logged as one outage of the whole app (`monitor.weboutage`).

Statuses and evidence (`views.ViewCache`) are computed again only when the data version moved
(a cycle ended, a status was recorded, an entry matched), the definitions were reloaded, or a
minute passed. History pages are rendered once per data version, the HTML pages and the JSON of
GET /indicators once per computation of the views (`answers.AnswerCache`, the most recently
used 8 MB of answers), each kept also by a replay's hold on the statuses, which moves no data
version: both are read in one query (`Store.version_and_hold`).

A verdict is by the name of the token (bearer or session) that made it, else by `anonymous`;
it re-evaluates the indicator at once. A request that could change state (POST) which the
browser says comes from another site's page, or whose page it does not say (`Origin: null`), is
refused (403, by `Sec-Fetch-Site` and `Origin`: `guard.Guard`), so another site cannot make a
visitor's browser judge or silence.

/healthz: `starting` (200) for one MAX_AGE before a first successful cycle, then `stale` (503);
after it `unhealthy` (503) if no feed was read in two intervals, `degraded` if some fails.
`incompatible` (503) once another version migrated the database (`monitor.webschema`): then
every request but a GET or HEAD is refused with 503 too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from monitor import healthz as service_health
from monitor import metrics as prometheus
from monitor import page, server, signin, views, webentries, webexplain, webexport, websilences
from monitor.answers import Answer, AnswerCache
from monitor.domain import Definitions, as_utc, utcnow
from monitor.errors import StoreError, VerdictError
from monitor.guard import Guard
from monitor.reloading import Validity
from monitor.server import Limits, WebServer, serve
from monitor.settings import Settings
from monitor.statuses import Judged, judge, standing
from monitor.store import Store
from monitor.timeline import TIMELINE_DAYS
from monitor.views import Snapshot, ViewCache
from monitor.web.replies import Conditional, asked, database_answered, install_error_handlers
from monitor.webmodels import (
    HistoryOut,
    IndicatorDetailOut,
    IndicatorOut,
    JudgedOut,
    VerdictIn,
    error_answer,
    indicators_json,
)
from monitor.webmodels.feeds import FeedOut, HealthOut
from monitor.webmodels.given import digits_only
from monitor.weboutage import Outage
from monitor.webschema import SchemaWatch, refuse_writes

__all__ = ["Limits", "WebServer", "create_app", "serve"]

log = logging.getLogger("monitor.web")

HISTORY_LIMIT = 50
HISTORY_MAX = 500
_MAX_ID = 2**63 - 1

_NO_STORE = "no-store"

IndicatorId = Annotated[str, Path(description="The indicator's id (its file stem).")]
EntryId = Annotated[
    int,
    Path(ge=1, le=_MAX_ID, description="The entry's id (`entry_id` of its evidence)."),
    digits_only(_MAX_ID),
]


_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the If-None-Match ETag still matches."}
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: error_answer("The database did not answer.")}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: error_answer("No indicator has this id.")}
_CACHED = {**_NOT_MODIFIED, **_UNAVAILABLE}
_CACHED_ONE = {**_NOT_MODIFIED, **_NOT_FOUND, **_UNAVAILABLE}
_JUDGE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: error_answer("No indicator or no stored entry has this id."),
    422: error_answer("The indicator has no such outcome, or the body is not a verdict."),
    **_UNAVAILABLE,
}


# ---------------------------------------------------------------- the app


def create_app(
    *,
    store: Store,
    definitions: Callable[[], Definitions],
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
    validity: Callable[[], Validity] = Validity,
    on_schema_change: Callable[[str], None] | None = None,
    failing: Callable[[], str | None] = lambda: None,
) -> FastAPI:
    """The FastAPI app over `store`; `definitions()` is called per request (it may reload), and
    `validity()` then says whether the files on disk are valid (`Reloader.validity`);
    `failing()` why the checks of the daemon serving it fail (`Daemon.check_failure`).
    `on_schema_change(problem)` is told once when another version migrated the database."""
    auth = signin.Auth(settings, clock)
    token = auth.enabled
    guarded = [Depends(auth)] if token else []
    refusals: dict[int | str, dict[str, Any]] = (
        {401: error_answer("A valid `Authorization: Bearer` token is required.")} if token else {}
    )
    app = FastAPI(
        title="monitor",
        summary="Status of the 'what to watch' indicators, with the news behind each.",
        version="0.1.0",
        redoc_url=None,
        # With a token, the description needs it too (below). No /docs: it needs a CDN.
        openapi_url=None if token else "/openapi.json",
        docs_url=None,
        dependencies=[Depends(refuse_writes)],  # the first thing every route does
    )
    if token:
        app.get("/openapi.json", include_in_schema=False, dependencies=guarded)(
            lambda: JSONResponse(app.openapi(), headers=server.cache_headers(guarded=True))
        )
    install_error_handlers(app)
    signin.install(app, auth)
    app.add_middleware(
        Guard,
        allowed_hosts=settings.http_allowed_hosts,
        bind_host=settings.http_host,
        public_url=settings.public_url,
        max_body_bytes=settings.http_max_body_bytes,
    )
    app.state.monitor = _State(store, definitions, settings, clock, clock(), validity, failing)
    app.state.schema = SchemaWatch(
        lambda: store.file_problem() or store.schema_problem(), clock, on_found=on_schema_change
    )  # a deleted SQLite file (`Store.file_problem`) is no database to write to either
    app.include_router(_open)
    routers = (_cached, _api, _pages, webentries.router, webexplain.router, webexport.router,
               websilences.router)  # fmt: skip
    answering = [*guarded, Depends(database_answered)]  # routes that read the database
    for router in routers:
        app.include_router(router, dependencies=answering, responses=refusals)
    return app


@dataclass
class _State:
    """What the endpoints read, kept on `app.state.monitor`."""

    store: Store
    definitions: Callable[[], Definitions]
    settings: Settings
    clock: Callable[[], datetime]
    started: datetime
    validity: Callable[[], Validity] = Validity
    failing: Callable[[], str | None] = lambda: None

    def __post_init__(self) -> None:
        self.views = ViewCache(self.store)
        self.answers: AnswerCache[Answer] = AnswerCache()
        self.pages: AnswerCache[_History] = AnswerCache()
        self.outage = Outage()  # requests in a row the database did not answer, at any endpoint

    def feed_store(self) -> Store:
        """The store with its feeds as the feeds file has them: one no daemon stored yet listed
        (and counted) as never read, as the daemon's start stores it (`Store.with_configured`)."""
        return self.store.with_configured(
            self.definitions().feeds, now=self.clock(),
            default_interval=self.settings.check_interval,
            default_silent_after=self.settings.feed_silent_after,
        )  # fmt: skip

    def snapshot(
        self, indicator_id: str | None = None, *, evidence: bool = True
    ) -> tuple[Snapshot, str]:
        """The current views (without `evidence`: perhaps only counting it) and a replay's hold
        on the statuses as of them (`views.replay_note`), read in one query: a hold moves no
        data version, so it leaves the views and the answers kept by them as they were, and
        answers keep it in their key. 404 first when `indicator_id` names no indicator."""
        definitions = self.definitions()
        if indicator_id is not None:
            _known(definitions, indicator_id)
        return self.views.get(definitions, now=self.clock(), evidence=evidence)


def _state(request: Request) -> _State:
    state: _State = request.app.state.monitor
    return state


State = Annotated[_State, Depends(_state)]


_open = APIRouter()  # /healthz: no token
_cached = APIRouter(route_class=Conditional)  # JSON with an ETag
_pages = APIRouter(route_class=Conditional, default_response_class=HTMLResponse)
_api = APIRouter()  # answers not to be cached


# ---------------------------------------------------------------- JSON


@_open.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Unhealthy (see `status`)."}},
    summary="Database reachable and checks recent",
)
def healthz(state: State, request: Request, response: Response) -> HealthOut:
    """Open without a token. 503 when the database does not answer, when the last
    successful check cycle is older than MONITOR_HEALTH_MAX_AGE (default three check
    intervals: `stale`), or when no feed was read successfully within two of its check
    intervals, or ever (`unhealthy`); `degraded` (200) when a feed, digest or alert fails, or
    the daemon's checks do (`failing`). Before
    any cycle has finished the answer is `starting` (200) for one MAX_AGE after the server
    started, then `stale` (503). `incompatible` (503) once another version migrated the
    database (`monitor.webschema`). Reads the cycle table's latest row and five columns of
    the feed table: cheap enough to poll."""
    max_age = service_health.health_max_age(state.settings, state.definitions())
    health = service_health.health(state.feed_store(), now=state.clock(), started=state.started,
                                   max_age=max_age, validity=state.validity(),
                                   failing=state.failing(), outage=state.outage,
                                   asked=asked(request),
                                   schema=request.app.state.schema.problem)  # fmt: skip
    response.status_code = health.code
    response.headers["Cache-Control"] = _NO_STORE
    return health


@_cached.get(
    "/indicators",
    response_model=list[IndicatorOut],
    responses=_CACHED,
    summary="Every indicator's status",
)
def indicators(state: State) -> Response:
    """Every indicator: id, group, title, question, status, since, outcome levels and
    evidence counts (the items `monitor status --json` prints)."""
    snapshot, held = state.snapshot(evidence=False)
    answer = state.answers.get(("indicators", held), snapshot, lambda: _indicators(snapshot, held))
    response = Response(answer.body, media_type="application/json")
    response.headers["ETag"] = answer.etag  # where FastAPI's answer has it: after the type
    return response


def _indicators(snapshot: Snapshot, held: str) -> Answer:
    """The body made once per snapshot (and replay's hold): building and checking 100 models
    and writing them took most of a request's time in the server (`make bench`'s GET
    /indicators)."""
    body = indicators_json(views.indicators(snapshot.views, held))
    return Answer(body, server.etag_of(body))


@_cached.get(
    "/indicators/{indicator_id}",
    response_model=IndicatorDetailOut,
    responses=_CACHED_ONE,
    summary="One indicator with the evidence behind its status",
)
def indicator(state: State, indicator_id: IndicatorId) -> IndicatorDetailOut:
    """One indicator and the evidence behind its current status, newest first."""
    snapshot, held = state.snapshot(indicator_id)
    return IndicatorDetailOut.of(snapshot.view(indicator_id), held)


@dataclass(frozen=True)
class _History:
    """A page of GET /indicators/{id}/history, kept while the data version is current."""

    page: HistoryOut
    last_modified: datetime | None
    size: int


@_cached.get(
    "/indicators/{indicator_id}/history",
    response_model=HistoryOut,
    responses=_CACHED_ONE,
    summary="Status changes of one indicator, newest first",
)
def history(
    state: State,
    response: Response,
    indicator_id: IndicatorId,
    since: Annotated[
        datetime | None,
        Query(description="Only changes at or after this time (ISO 8601; UTC if no zone)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=HISTORY_MAX, description="Changes per page."), digits_only(HISTORY_MAX)
    ] = HISTORY_LIMIT,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=_MAX_ID,
            description="Only changes older than the one with this id "
            "(the `next_before` of the previous page).",
        ),
        digits_only(_MAX_ID),
    ] = None,
) -> HistoryOut:
    """Status changes of one indicator (also one no longer defined), newest first, by pages."""
    _known(state.definitions(), indicator_id, state.store)
    since = None if since is None else as_utc(since)

    def read() -> _History:
        page = views.history(state.store, indicator_id, since=since, limit=limit, before=before)
        # when the page last changed: a change is recorded after the moment it is dated (a
        # cycle's when it began), so a later one can be dated before the one it follows
        at = max(c.recorded_at for c in page.items) if page.items and before is None else None
        return _History(page, at, len(page.model_dump_json()))

    kept = state.pages.get(
        ("history", indicator_id, since, limit, before), state.store.data_version(), read
    )
    if kept.last_modified is not None:
        response.headers["Last-Modified"] = server.http_date(kept.last_modified)
    return kept.page


@_cached.get("/feeds", response_model=list[FeedOut], responses=_CACHED, summary="Feed health")
def feeds(state: State) -> list[FeedOut]:
    """Every configured feed: last check, HTTP status, not-modified, failures, the warning of
    the body last read, when it last brought a new entry and whether it is silent, next
    check."""
    return views.feeds(state.feed_store(), now=state.clock())


@_api.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format.",
        },
        **_UNAVAILABLE,
    },
    summary="Prometheus metrics",
)
def metrics(state: State, request: Request) -> Response:
    """Counters, the cycle duration histogram and timestamps, read from the database (the
    configured feeds no daemon stored yet counted as never read, as /feeds lists them), and
    whether another version migrated it (`monitor_schema_incompatible`: then what still reads
    as this code knows it, `monitor_scrape_collector_success` saying which parts do not). A
    store error is first taken for the database not answering (503), unless the revision,
    read again then, says another version migrated it."""
    gone = state.store.file_problem()
    if gone is not None:  # no database to count from, nor another version's: 503, as /healthz
        raise StoreError(gone)
    schema = request.app.state.schema
    store, now, validity = state.feed_store(), state.clock(), state.validity()
    try:
        body = prometheus.render(store, now, validity, schema.problem)
    except StoreError:
        problem = schema.check(fresh=True)
        if problem is None:
            raise
        body = prometheus.render(store, now, validity, problem)
    headers = {"Cache-Control": _NO_STORE}  # made afresh for each scrape, as /healthz
    return Response(body, media_type=prometheus.CONTENT_TYPE, headers=headers)


# ---------------------------------------------------------------- verdicts


@_api.post(
    "/indicators/{indicator_id}/evidence/{entry_id}/verdict",
    response_model=JudgedOut,
    responses=_JUDGE_ERRORS,
    summary="An analyst's verdict: the entry is (yes) or is not (no) evidence of an outcome",
)
def verdict(
    state: State,
    request: Request,
    response: Response,
    indicator_id: IndicatorId,
    entry_id: EntryId,
    body: VerdictIn,
) -> JudgedOut:
    """Record an analyst's verdict on an entry as evidence of one outcome of the indicator.
    `no` takes it out of that outcome's evidence at once, `yes` adds it (or confirms it);
    the indicator is re-evaluated at once and a status change names the verdict as its
    reason. The latest verdict per entry and outcome stands. Returns the verdict and the
    indicator's status after it. A browser's session sends its CSRF token as X-CSRF-Token."""
    who = signin.visitor_of(request).name
    judged = _judge(state, indicator_id, entry_id, body.outcome, body.verdict, body.note, who)
    response.headers["Cache-Control"] = _NO_STORE
    return JudgedOut.of(judged)


@_api.post(
    "/indicators/{indicator_id}/page/verdict",
    response_class=RedirectResponse,
    status_code=303,
    include_in_schema=False,  # the page's form; tools use the JSON endpoint above
)
async def page_verdict(state: State, request: Request, indicator_id: IndicatorId) -> Response:
    """The page's "Not relevant" / "Confirm" buttons: a form post (entry, outcome, verdict,
    note), answered with a redirect back to the indicator's page, at the entry judged
    (`page.evidence_anchor`: its evidence item, or its verdict once a `no` took it out)."""
    field = await websilences.read_form(request, "verdict")
    entry_id = websilences.form_id(field, "entry", "entry: not an entry id", most=_MAX_ID)
    who = signin.visitor_of(request).name
    verdict, note = field.get("verdict", ""), field.get("note", "")[:2000]
    judge_args = (indicator_id, entry_id, field.get("outcome", ""), verdict, note, who)
    judged = await run_in_threadpool(_judge, state, *judge_args)
    anchor = page.evidence_anchor(entry_id, judged.verdict.outcome_id)  # the judged entry's
    return RedirectResponse(f"{page.indicator_url(indicator_id)}#{anchor}", status_code=303)


def _judge(
    state: _State,
    indicator_id: str,
    entry_id: int,
    outcome: str,
    verdict: str,
    note: str,
    who: str,
) -> Judged:
    definitions = state.definitions()
    _known(definitions, indicator_id)
    try:
        return judge(
            definitions, state.store, entry_id=entry_id,
            target=(indicator_id, outcome), verdict=verdict, who=who, note=note,
            now=state.clock(), alert=bool(state.settings.notify_urls),
        )  # fmt: skip
    except VerdictError as exc:
        code = 404 if exc.unknown in ("indicator", "entry") else 422
        raise HTTPException(code, str(exc)) from None


# ---------------------------------------------------------------- HTML
# The pages are rendered as of their snapshot's time ("as of", "3 minutes ago"), so a page
# and its ETag stay the same for as long as the snapshot does.


@_pages.get("/", responses=_CACHED, summary="The status page (HTML)")
def index(state: State, request: Request) -> Response:
    """Every indicator grouped by its marker: status, since, evidence with the matched
    terms highlighted, a 90-day timeline, a link to its page; feed health at the bottom."""
    snapshot, held = state.snapshot()
    note = state.validity().reason()
    answer = state.answers.get(
        ("index", note, held), snapshot, lambda: _index(state, snapshot, note, held)
    )
    return signin.page_answer(request, answer.body, answer.etag)


@_pages.get(
    "/indicators/{indicator_id}/page",
    responses=_CACHED_ONE,
    summary="One indicator's page (HTML) with its full history",
)
def indicator_page(
    state: State,
    request: Request,
    indicator_id: IndicatorId,
    before: Annotated[
        int | None,
        Query(ge=1, le=_MAX_ID, description="Show changes older than this id."),
        digits_only(_MAX_ID),
    ] = None,
) -> Response:
    """One indicator's page: status, question, all current evidence, the 90-day timeline
    and its full history, 50 changes a page."""
    snapshot, held = state.snapshot(indicator_id)
    answer = state.answers.get(
        ("page", indicator_id, before, held),
        snapshot,
        lambda: _indicator_page(state, snapshot, indicator_id, before, held),
    )
    return signin.page_answer(request, answer.body, answer.etag)


def _index(state: _State, snapshot: Snapshot, note: str, held: str) -> Answer:
    start = snapshot.now - timedelta(days=TIMELINE_DAYS)
    recent = {v.id: state.store.history(v.id, since=start, limit=1000) for v in snapshot.views}
    html = page.render_index(
        snapshot.definitions,
        snapshot.views,
        recent,
        state.feed_store().feeds(),
        last_check=state.store.last_reading_cycle(),
        last_cycle=state.store.last_successful_cycle(),
        now=snapshot.now,
        zone=state.settings.zone,
        silences=state.store.silences(active_at=snapshot.now),
        definitions_note=note,
        replay_note=held,
    )
    body = html.encode()
    return Answer(body, server.etag_of(body))


def _indicator_page(
    state: _State, snapshot: Snapshot, indicator_id: str, before: int | None, held: str
) -> Answer:
    changes, next_before = views.history_page(
        state.store, indicator_id, since=None, limit=HISTORY_LIMIT, before=before
    )
    start = snapshot.now - timedelta(days=TIMELINE_DAYS)
    verdicts = state.store.verdicts(indicator_id, limit=HISTORY_LIMIT + 1)  # one: are there more?
    html = page.render_indicator(
        snapshot.definitions,
        snapshot.view(indicator_id),
        state.store.history(indicator_id, since=start, limit=1000),
        changes,
        next_before=next_before,
        now=snapshot.now,
        zone=state.settings.zone,
        verdicts=standing(verdicts[:HISTORY_LIMIT], snapshot.definitions, now=snapshot.now),
        older_verdicts=len(verdicts) > HISTORY_LIMIT,
        silences=state.store.silences(indicator_id, active_at=snapshot.now),
        replay_note=held,
        judged=views.judged_since(state.store, changes),
    )
    body = html.encode()
    return Answer(body, server.etag_of(body))


# ---------------------------------------------------------------- guards


def _known(definitions: Definitions, indicator_id: str, store: Store | None = None) -> None:
    """404 unless `indicator_id` is defined (with `store`: or was: it keeps its status)."""
    defined = indicator_id in {i.id for i in definitions.indicators}
    if not defined and (store is None or indicator_id not in store.current_statuses()):
        raise HTTPException(404, definitions.no_indicator(indicator_id))
