"""The HTTP endpoint: JSON API, Prometheus metrics and the status page, from the same views.

The only module that imports FastAPI. `create_app` builds the app over a store and a
definitions callable (the daemon reloads definitions); `WebServer` (monitor.server) runs it on a
background thread for `monitor run`; `serve` runs it in the foreground for `monitor serve`, both
with the limits of `monitor.server`. Every endpoint answers HEAD as well, every answer carries
`X-Content-Type-Options: nosniff`, and a request whose Host is not in MONITOR_HTTP_ALLOWED_HOSTS
(by default the bind address and the local names) gets 400 (`server.Guard`).

    GET /healthz                         open; ok / degraded (200) / unhealthy, stale (503)
    GET /indicators                      every indicator's status
    GET /indicators/{id}                 one, with the evidence behind its status
    GET /indicators/{id}/history         its status changes, newest first (?since ?limit ?before)
    GET /indicators/{id}/page            its page (HTML) with the full history (?before)
    GET /feeds                           feed health
    GET /metrics                         Prometheus text
    GET /                                the page people read (HTML)
    GET /entries?q=TEXT                  stored entries whose title or text contains TEXT
    POST /indicators/{id}/evidence/{entry}/verdict   an analyst's verdict (JSON body)
    POST /indicators/{id}/page/verdict   the same from the page's buttons (a form; 303 back)

With MONITOR_API_TOKEN set, every endpoint but /healthz needs `Authorization: Bearer <token>`,
/openapi.json too (and /docs, the Swagger UI, is off). Errors are JSON `{"detail": ...}`, never
a stack trace. Answers carry an ETag (a hash of the body) and honour If-None-Match with 304.

The indicators' statuses and evidence (`views.ViewCache`) are computed again only when the
database's data version moved (a cycle ended, a status was recorded, a new entry matched),
the definitions were reloaded, or a minute passed; a `monitor replay` that records no status
change shows within that minute. History pages are rendered once per data version, the
HTML pages once per computation of the views, as of its time (`views.AnswerCache`, the most
recently used 8 MB of answers).

A verdict is recorded as by `api` (`page` from the page's form) when MONITOR_API_TOKEN is set,
else by `anonymous`; it re-evaluates the indicator at once and moves the data version, so the
next request computes the views again. The form endpoint refuses a cross-site post (403, by
`Sec-Fetch-Site` and `Origin`), so another site cannot make a visitor's browser judge.

/healthz before the first successful cycle: `starting` (200) for one MAX_AGE after the server
started, then `stale` (503), so a fresh daemon is healthy while `monitor serve` over a database
nobody checks into is not. After it: `unhealthy` (503) when no feed was read successfully
within two check intervals (or ever), `degraded` (200) when some feed fails, else `ok`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter

from monitor import metrics, page
from monitor.domain import Definitions, StatusChange, parse_http_date, utcnow
from monitor.errors import StoreError, VerdictError
from monitor.pipeline import Judged, judge
from monitor.server import Guard, Limits, WebServer, serve
from monitor.settings import Settings
from monitor.store import FeedCounts, FeedState, Store
from monitor.views import (
    Answer,
    AnswerCache,
    Snapshot,
    ViewCache,
    change_json,
    entry_json,
    indicator_json,
    verdict_json,
)
from monitor.webmodels import (
    EntryOut,
    ErrorOut,
    FeedOut,
    HealthOut,
    HistoryOut,
    IndicatorDetailOut,
    IndicatorOut,
    JudgedOut,
    VerdictIn,
)

__all__ = ["Limits", "WebServer", "create_app", "serve"]

log = logging.getLogger("monitor.web")

HISTORY_LIMIT = 50
HISTORY_MAX = 500
HEALTH_FACTOR = 3  # /healthz: a last success older than this many check intervals is stale
_MAX_ID = 2**63 - 1
# The pages run no script and load nothing: anything injected could not run or call out.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_INDICATORS = TypeAdapter(list[IndicatorOut])
_DETAIL = TypeAdapter(IndicatorDetailOut)
_HISTORY = TypeAdapter(HistoryOut)
_FEEDS = TypeAdapter(list[FeedOut])
_HEALTH = TypeAdapter(HealthOut)
_JUDGED = TypeAdapter(JudgedOut)
_ENTRIES = TypeAdapter(list[EntryOut])
FORM_MAX_BYTES = 16_384  # the page's verdict form: a note of 2,000 characters and a few ids
ENTRIES_LIMIT = 20
ENTRIES_MAX = 200

_HTML = "text/html; charset=utf-8"
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}

IndicatorId = Annotated[str, Path(description="The indicator's id (its file stem).")]
EntryId = Annotated[
    int, Path(ge=1, le=2**63 - 1, description="The entry's id (`entry_id` of its evidence).")
]


def _error(description: str) -> dict[str, Any]:
    """An error answer: JSON also on the HTML pages (so not `model`, which takes their type)."""
    schema = ErrorOut.model_json_schema()
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the If-None-Match ETag still matches."}
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: _error("The database did not answer.")}
_NOT_FOUND = {404: _error("No indicator has this id.")}
_JUDGE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _error("No indicator or no stored entry has this id."),
    422: _error("The indicator has no such outcome, or the body is not a verdict."),
}


# ---------------------------------------------------------------- the app


def create_app(
    *,
    store: Store,
    definitions: Callable[[], Definitions],
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The FastAPI app over `store`; `definitions()` is called per request (it may reload)."""
    token = settings.api_token.get_secret_value() if settings.api_token else None
    guarded = [Depends(_TokenCheck(token))] if token else []
    auth: dict[int | str, dict[str, Any]] = (
        {401: _error("A valid `Authorization: Bearer` token is required.")} if token else {}
    )
    app = FastAPI(
        title="monitor",
        summary="Status of the 'what to watch' indicators, with the news behind each.",
        version="0.1.0",
        redoc_url=None,
        # With a token, the description needs it too (below) and /docs is off.
        openapi_url=None if token else "/openapi.json",
        docs_url=None if token else "/docs",
    )
    if token:
        app.get("/openapi.json", include_in_schema=False, dependencies=guarded)(
            lambda: JSONResponse(app.openapi())
        )
    _install_error_handlers(app)
    app.add_middleware(
        Guard, allowed_hosts=settings.http_allowed_hosts, bind_host=settings.http_host
    )
    api = _Api(store, definitions, settings, clock, started=clock())

    app.get(
        "/healthz",
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "Unhealthy (see `status`)."}},
        summary="Database reachable and checks recent",
    )(api.healthz)
    routes: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
        (
            "/indicators",
            api.indicators,
            {
                "response_model": list[IndicatorOut],
                "responses": {**_NOT_MODIFIED, **_UNAVAILABLE},
                "summary": "Every indicator's status",
            },
        ),
        (
            "/indicators/{indicator_id}",
            api.indicator,
            {
                "response_model": IndicatorDetailOut,
                "responses": {**_NOT_MODIFIED, **_NOT_FOUND, **_UNAVAILABLE},
                "summary": "One indicator with the evidence behind its status",
            },
        ),
        (
            "/indicators/{indicator_id}/history",
            api.history,
            {
                "response_model": HistoryOut,
                "responses": {**_NOT_MODIFIED, **_NOT_FOUND, **_UNAVAILABLE},
                "summary": "Status changes of one indicator, newest first",
            },
        ),
        (
            "/feeds",
            api.feeds,
            {
                "response_model": list[FeedOut],
                "responses": {**_NOT_MODIFIED, **_UNAVAILABLE},
                "summary": "Feed health",
            },
        ),
        (
            "/metrics",
            api.metrics,
            {
                "response_class": Response,
                "responses": {
                    200: {
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                        "description": "Prometheus text exposition format.",
                    },
                    **_UNAVAILABLE,
                },
                "summary": "Prometheus metrics",
            },
        ),
        (
            "/",
            api.index,
            {
                "response_class": HTMLResponse,
                "responses": {**_NOT_MODIFIED, **_UNAVAILABLE},
                "summary": "The status page (HTML)",
            },
        ),
        (
            "/indicators/{indicator_id}/page",
            api.indicator_page,
            {
                "response_class": HTMLResponse,
                "responses": {**_NOT_MODIFIED, **_NOT_FOUND, **_UNAVAILABLE},
                "summary": "One indicator's page (HTML) with its full history",
            },
        ),
    ]
    routes.append(
        (
            "/entries",
            api.entries,
            {
                "response_model": list[EntryOut],
                "responses": {**_UNAVAILABLE},
                "summary": "Stored entries whose title or text contains `q`, newest first",
            },
        )
    )
    for path, endpoint, options in routes:
        options["responses"] = {**options["responses"], **auth}
        app.get(path, dependencies=guarded, **options)(endpoint)
    judging = {**_JUDGE_ERRORS, **_UNAVAILABLE, **auth}
    app.post(
        "/indicators/{indicator_id}/evidence/{entry_id}/verdict",
        dependencies=guarded,
        response_model=JudgedOut,
        responses=judging,
        summary="An analyst's verdict: the entry is (yes) or is not (no) evidence of an outcome",
    )(api.verdict)
    app.post(
        "/indicators/{indicator_id}/page/verdict",
        dependencies=guarded,
        response_class=RedirectResponse,
        status_code=303,
        include_in_schema=False,  # the page's form; tools use the JSON endpoint above
    )(api.page_verdict)
    return app


_BEARER = HTTPBearer(auto_error=False, description="The value of MONITOR_API_TOKEN.")


class _TokenCheck:
    """The dependency of every guarded endpoint: a Bearer token equal to MONITOR_API_TOKEN."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
    ) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not (credentials and hmac.compare_digest(given, self._expected)):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )


def _install_error_handlers(app: FastAPI) -> None:
    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        log.error("web: %s", exc)
        return JSONResponse({"detail": "the database did not answer"}, status_code=503)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("web: %s %s failed", request.method, request.url.path, exc_info=exc)
        # Sent by Starlette's outermost middleware, past Guard: the header is set here.
        return JSONResponse({"detail": "internal error"}, status_code=500, headers=_NOSNIFF)

    app.add_exception_handler(StoreError, unavailable)
    app.add_exception_handler(Exception, unexpected)


class _Api:
    """The endpoints: each reads the store, builds the shared views and renders them."""

    def __init__(
        self,
        store: Store,
        definitions: Callable[[], Definitions],
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        started: datetime,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.settings = settings
        self.clock = clock
        self.started = started
        self.max_age = settings.health_max_age or settings.check_interval * HEALTH_FACTOR
        self.views = ViewCache(store)
        self.answers = AnswerCache()
        self.token = settings.api_token is not None

    # ------------------------------------------------------------ JSON

    def healthz(self) -> Response:
        """Open without a token. 503 when the database does not answer, when the last
        successful check cycle is older than MONITOR_HEALTH_MAX_AGE (default three check
        intervals: `stale`), or when no feed was read successfully within two of its check
        intervals, or ever (`unhealthy`); `degraded` (200) when some feed is failing. Before
        any cycle has finished the answer is `starting` (200) for one MAX_AGE after the server
        started, then `stale` (503). Reads the cycle table's latest row and five columns of
        the feed table: cheap enough to poll."""
        now = self.clock()
        data: dict[str, Any] = {
            "database": True,
            "last_successful_cycle": None,
            "age_seconds": None,
            "max_age_seconds": self.max_age.total_seconds(),
            "feeds": None,
            "reasons": [],
        }
        try:
            last = self.store.last_successful_cycle()
            counts = self.store.feed_counts(now)
        except StoreError as exc:
            log.error("web: healthz: %s", exc)
            reasons = ["the database did not answer"]
            return _health(
                data | {"status": "unavailable", "database": False, "reasons": reasons}, 503
            )
        data["feeds"] = {
            "total": counts.total,
            "failing": counts.failing,
            "never_read": counts.never_read,
            "read_recently": counts.read_recently,
        }
        if last is None:
            fresh = now - self.started <= self.max_age
            reasons = [] if fresh else ["no check cycle finished since the server started"]
            status = "starting" if fresh else "stale"
            return _health(data | {"status": status, "reasons": reasons}, 200 if fresh else 503)
        age = max((now - last).total_seconds(), 0.0)
        data |= {"last_successful_cycle": last, "age_seconds": age}
        if age > self.max_age.total_seconds():
            reasons = [f"the last successful check cycle finished {age:.0f} s ago"]
            return _health(data | {"status": "stale", "reasons": reasons}, 503)
        status, reasons = _feed_health(counts)
        return _health(
            data | {"status": status, "reasons": reasons}, 503 if status == "unhealthy" else 200
        )

    def indicators(self, request: Request) -> Response:
        """Every indicator: id, group, title, question, status, since, outcome levels and
        evidence counts (the items `monitor status --json` prints)."""
        snapshot = self.views.get(self.definitions(), now=self.clock())
        answer = self.answers.get(
            ("indicators",),
            snapshot,
            lambda: _rendered(_INDICATORS, [indicator_json(v) for v in snapshot.views]),
        )
        return _conditional(request, answer.body, "application/json", etag=answer.etag)

    def indicator(self, request: Request, indicator_id: IndicatorId) -> Response:
        """One indicator and the evidence behind its current status, newest first."""
        definitions = self.definitions()
        _known(definitions, indicator_id)
        snapshot = self.views.get(definitions, now=self.clock())
        view = snapshot.view(indicator_id)
        answer = self.answers.get(
            ("indicator", indicator_id),
            snapshot,
            lambda: _rendered(_DETAIL, indicator_json(view, with_evidence=True)),
        )
        return _conditional(request, answer.body, "application/json", etag=answer.etag)

    def history(
        self,
        request: Request,
        indicator_id: IndicatorId,
        since: Annotated[
            datetime | None,
            Query(description="Only changes at or after this time (ISO 8601; UTC if no zone)."),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=HISTORY_MAX, description="Changes per page.")
        ] = HISTORY_LIMIT,
        before: Annotated[
            int | None,
            Query(
                ge=1,
                le=_MAX_ID,
                description="Only changes older than the one with this id "
                "(the `next_before` of the previous page).",
            ),
        ] = None,
    ) -> Response:
        """Status changes of one indicator with their evidence, newest first, a page at a time."""
        _known(self.definitions(), indicator_id)
        since = _aware(since)
        answer = self.answers.get(
            ("history", indicator_id, since, limit, before),
            self.store.data_version(),
            lambda: self._changes(indicator_id, since, limit, before),
        )
        return _conditional(
            request,
            answer.body,
            "application/json",
            last_modified=answer.last_modified,
            etag=answer.etag,
        )

    def entries(
        self,
        q: Annotated[
            str,
            Query(
                min_length=1, max_length=200, description="Text in the title or text (any case)."
            ),
        ],
        limit: Annotated[
            int, Query(ge=1, le=ENTRIES_MAX, description="At most this many entries.")
        ] = ENTRIES_LIMIT,
    ) -> Response:
        """Stored entries whose title or text contains `q`, newest first: their ids are what a
        verdict names, so an entry the rules missed can be confirmed."""
        # No stored text holds a NUL (PostgreSQL refuses one in a query, too).
        found = [] if "\x00" in q else self.store.search_entries(q, limit=limit)
        body = _ENTRIES.dump_json(_ENTRIES.validate_python([entry_json(f) for f in found]))
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------ verdicts

    def verdict(self, indicator_id: IndicatorId, entry_id: EntryId, body: VerdictIn) -> Response:
        """Record an analyst's verdict on an entry as evidence of one outcome of the indicator.
        `no` takes it out of that outcome's evidence at once, `yes` adds it (or confirms it);
        the indicator is re-evaluated at once and a status change names the verdict as its
        reason. The latest verdict per entry and outcome stands. Returns the verdict and the
        indicator's status after it."""
        who = "api" if self.token else "anonymous"
        judged = self._judge(indicator_id, entry_id, body.outcome, body.verdict, body.note, who)
        data = {
            "verdict": verdict_json(judged.verdict),
            "status": judged.status,
            "change": change_json(judged.change) if judged.change else None,
        }
        body_json = _JUDGED.dump_json(_JUDGED.validate_python(data))
        return Response(
            body_json, media_type="application/json", headers={"Cache-Control": "no-store"}
        )

    async def page_verdict(self, request: Request, indicator_id: IndicatorId) -> Response:
        """The page's "Not relevant" / "Confirm" buttons: a form post (entry, outcome, verdict,
        note), answered with a redirect back to the indicator's page."""
        if _cross_site(request):
            raise HTTPException(403, "verdict: a form of another site may not post verdicts")
        try:
            body = await _small_body(request, FORM_MAX_BYTES)
            form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        except ValueError:  # more fields than the form has
            raise HTTPException(422, "verdict: not the page's form") from None
        field = {name: values[0] for name, values in form.items()}
        try:
            entry_id = int(field.get("entry", ""))
        except ValueError:
            raise HTTPException(422, "entry: not an entry id") from None
        if not 1 <= entry_id < 2**63:
            raise HTTPException(422, "entry: not an entry id")
        who = "page" if self.token else "anonymous"
        verdict, note = field.get("verdict", ""), field.get("note", "")[:2000]
        judge_args = (indicator_id, entry_id, field.get("outcome", ""), verdict, note, who)
        await run_in_threadpool(self._judge, *judge_args)
        return RedirectResponse(f"{page.indicator_url(indicator_id)}#evidence", status_code=303)

    def _judge(
        self, indicator_id: str, entry_id: int, outcome: str, verdict: str, note: str, who: str
    ) -> Judged:
        definitions = self.definitions()
        _known(definitions, indicator_id)
        try:
            return judge(
                definitions, self.store, entry_id=entry_id,
                target=(indicator_id, outcome), verdict=verdict, who=who, note=note,
                now=self.clock(),
            )  # fmt: skip
        except VerdictError as exc:
            code = 404 if exc.unknown in ("indicator", "entry") else 422
            raise HTTPException(code, str(exc)) from None

    def feeds(self, request: Request) -> Response:
        """Every configured feed: last check, HTTP status, not-modified, failures, next check."""
        return _json(request, _FEEDS, [_feed_json(f) for f in self.store.feeds()])

    def metrics(self) -> Response:
        """Counters, the cycle duration histogram and timestamps, read from the database."""
        return Response(metrics.render(self.store), media_type=metrics.CONTENT_TYPE)

    # ------------------------------------------------------------ HTML

    def index(self, request: Request) -> Response:
        """Every indicator grouped by its marker: status, since, evidence with the matched
        terms highlighted, a 90-day timeline, a link to its page; feed health at the bottom."""
        snapshot = self.views.get(self.definitions(), now=self.clock())
        answer = self.answers.get(("index",), snapshot, lambda: self._index(snapshot))
        return _conditional(request, answer.body, _HTML, etag=answer.etag)

    def indicator_page(
        self,
        request: Request,
        indicator_id: IndicatorId,
        before: Annotated[
            int | None, Query(ge=1, le=_MAX_ID, description="Show changes older than this id.")
        ] = None,
    ) -> Response:
        """One indicator's page: status, question, all current evidence, the 90-day timeline
        and its full history, 50 changes a page."""
        definitions = self.definitions()
        _known(definitions, indicator_id)
        snapshot = self.views.get(definitions, now=self.clock())
        answer = self.answers.get(
            ("page", indicator_id, before),
            snapshot,
            lambda: self._indicator_page(snapshot, indicator_id, before),
        )
        return _conditional(request, answer.body, _HTML, etag=answer.etag)

    # ------------------------------------------------------------ rendering
    # The pages are rendered as of their snapshot's time ("as of", "3 minutes ago"), so a
    # page and its ETag stay the same for as long as the snapshot does.

    def _index(self, snapshot: Snapshot) -> Answer:
        now = snapshot.now
        start = now - timedelta(days=page.TIMELINE_DAYS)
        recent = {v.id: self._recent(v.id, start) for v in snapshot.views}
        html = page.render_index(
            snapshot.definitions,
            snapshot.views,
            recent,
            self.store.feeds(),
            last_cycle=self.store.last_successful_cycle(),
            now=now,
            zone=self.settings.zone,
        )
        return _answer(html.encode())

    def _indicator_page(self, snapshot: Snapshot, indicator_id: str, before: int | None) -> Answer:
        now = snapshot.now
        view = snapshot.view(indicator_id)
        history, next_before = self._history(
            indicator_id, since=None, limit=HISTORY_LIMIT, before=before
        )
        recent = self._recent(indicator_id, now - timedelta(days=page.TIMELINE_DAYS))
        html = page.render_indicator(
            snapshot.definitions,
            view,
            recent,
            history,
            next_before=next_before,
            now=now,
            zone=self.settings.zone,
            verdicts=self.store.verdicts(indicator_id, limit=HISTORY_LIMIT),
        )
        return _answer(html.encode())

    def _changes(
        self, indicator_id: str, since: datetime | None, limit: int, before: int | None
    ) -> Answer:
        """A page of GET /indicators/{id}/history, rendered."""
        changes, next_before = self._history(indicator_id, since=since, limit=limit, before=before)
        data = {
            "indicator": indicator_id,
            "items": [change_json(c) for c in changes],
            "next_before": next_before,
        }
        return _rendered(_HISTORY, data, changes[0].at if changes and before is None else None)

    # ------------------------------------------------------------ reading

    def _history(
        self, indicator_id: str, *, since: datetime | None, limit: int, before: int | None
    ) -> tuple[list[StatusChange], int | None]:
        found = self.store.history(indicator_id, since=since, limit=limit + 1, before_id=before)
        chunk, more = found[:limit], len(found) > limit
        return chunk, (chunk[-1].id if more and chunk else None)

    def _recent(self, indicator_id: str, start: datetime) -> Sequence[StatusChange]:
        return self.store.history(indicator_id, since=start, limit=1000)


# ---------------------------------------------------------------- answers


async def _small_body(request: Request, limit: int) -> bytes:
    """The request's body, read no further than `limit` bytes (413 past it)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"verdict: a form is at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _cross_site(request: Request) -> bool:
    """Whether a browser says the post comes from a page of another origin (a form there): by
    Sec-Fetch-Site, which every current browser sends, else by an Origin naming another host.
    An Origin of "null" is not taken for one: the page's no-referrer policy makes a browser
    send it for the page's own forms."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


def _known(definitions: Definitions, indicator_id: str) -> None:
    try:
        definitions.indicator(indicator_id)
    except KeyError:
        raise HTTPException(404, f"no indicator {indicator_id!r}") from None


def _feed_health(counts: FeedCounts) -> tuple[str, list[str]]:
    """`ok`, `degraded` or `unhealthy`, and why, from the feeds' counts."""
    reasons = []
    if counts.total and not counts.read_recently:
        if counts.never_read == counts.total:
            reasons.append("no feed was ever read successfully")
        else:
            reasons.append("no feed read successfully within two check intervals")
    if counts.failing:
        names = ", ".join(counts.failing_ids)
        more = counts.failing - len(counts.failing_ids)
        names += f" and {more} more" if more > 0 else ""
        reasons.append(f"{counts.failing} of {counts.total} feeds failing: {names}")
    if counts.total and not counts.read_recently:
        return "unhealthy", reasons
    return ("degraded" if reasons else "ok"), reasons


def _health(data: dict[str, Any], status: int) -> Response:
    return Response(
        _HEALTH.dump_json(_HEALTH.validate_python(data)),
        status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _json(
    request: Request, adapter: TypeAdapter[Any], data: Any, *, last_modified: datetime | None = None
) -> Response:
    body = adapter.dump_json(adapter.validate_python(data))
    return _conditional(request, body, "application/json", last_modified=last_modified)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _answer(body: bytes, last_modified: datetime | None = None) -> Answer:
    return Answer(body, _etag(body), last_modified)


def _rendered(
    adapter: TypeAdapter[Any], data: Any, last_modified: datetime | None = None
) -> Answer:
    return _answer(adapter.dump_json(adapter.validate_python(data)), last_modified)


def _conditional(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    last_modified: datetime | None = None,
    etag: str | None = None,
) -> Response:
    """The answer with an ETag (and Last-Modified); 304 when the client's copy is current."""
    etag = etag or _etag(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = _PAGE_POLICY
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    client = parse_http_date(since)
    return client is not None and last_modified.replace(microsecond=0) <= client


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise HTTPException(422, "since: out of range") from None


def _feed_json(feed: FeedState) -> dict[str, Any]:
    return {
        "id": feed.id,
        "title": feed.title,
        "url": feed.url,
        "moved_to": feed.moved_to,
        "tags": list(feed.tags),
        "interval_seconds": feed.interval.total_seconds(),
        "last_checked_at": feed.last_checked_at,
        "last_success_at": feed.last_success_at,
        "http_status": feed.http_status,
        "not_modified": feed.not_modified,
        "error_count": feed.error_count,
        "last_error": feed.last_error,
        "failing_since": feed.failing_since,
        "next_check_at": feed.next_check_at,
        "dead": feed.dead,
    }
