"""How the web's answers leave: an error as FastAPI's JSON, or as a page when a browser asks
for HTML (`Vary: Accept`; never a stack trace: a failure is logged and answered 500, a database
that does not answer 503, logged through the app's one record of it, `weboutage.Outage`); and
the conditional answers of the cached routes and pages (an ETag, the endpoint's Last-Modified,
`server.cache_headers`, 304 when the client's copy is current).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from monitor import page, server, signin
from monitor.domain import parse_http_date
from monitor.errors import StoreError

log = logging.getLogger("monitor.web")  # logged as the app's

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")  # the methods a 405's Allow may name


class Conditional(APIRoute):
    """A route whose 200 answers carry an ETag (a hash of the body, unless the endpoint set
    one) and `server.cache_headers`, and are 304 when If-None-Match (or If-Modified-Since,
    against the endpoint's Last-Modified) says the client's copy is current."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def conditional(request: Request) -> Response:
            response = await handler(request)
            return (
                conditional_answer(request, response) if response.status_code == 200 else response
            )

        return conditional


def install_error_handlers(app: FastAPI) -> None:
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("web: %s %s failed", request.method, request.url.path, exc_info=exc)
        # Sent by Starlette's outermost middleware, past Guard: the header is set here.
        return JSONResponse({"detail": "internal error"}, status_code=500, headers=NOSNIFF)

    async def http_error(request: Request, exc: Exception) -> Response:
        """FastAPI's JSON error, or the same as a page when a browser asks for HTML."""
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request)}
        if "text/html" not in request.headers.get("accept", ""):
            return by_accept(await http_exception_handler(request, exc))
        state = request.app.state.monitor  # web._State
        html = page.render_error(
            exc.status_code, exc.detail, now=state.clock(), zone=state.settings.zone
        )
        body = signin.for_visitor(request, html.encode())  # who is signed in, as on every page
        return by_accept(HTMLResponse(body, status_code=exc.status_code, headers=exc.headers))

    async def unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        request.app.state.monitor.outage.failed(asked(request), exc)  # web._State's
        return await http_error(request, StarletteHTTPException(503, "the database did not answer"))

    async def invalid(request: Request, exc: Exception) -> Response:
        """A query or body FastAPI refuses (`?before=abc`): its JSON 422, or a page saying
        which value is wrong when a browser asks for HTML."""
        assert isinstance(exc, RequestValidationError)
        if "text/html" not in request.headers.get("accept", ""):
            return by_accept(await request_validation_exception_handler(request, exc))
        wrong = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'the request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return await http_error(request, StarletteHTTPException(422, wrong))

    app.add_exception_handler(StoreError, unavailable)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


async def database_answered(request: Request) -> AsyncIterator[None]:
    """A dependency of the routes that read the database: one that answered without a store
    error (a 503 does not get past the yield, nor a 404) tells the app's outage record that the
    database answers (`weboutage.Outage`)."""
    yield
    request.app.state.monitor.outage.answered(asked(request))


def asked(request: Request) -> str:
    """The request as the log names it: `GET /indicators` (no query: it may hold a search)."""
    return f"{request.method} {request.url.path}"


def allowed_methods(request: Request) -> str:
    """The methods some route answers at the request's path, for a 405's `Allow`: Starlette
    names only those of the first route there (GET of /silences, whose POST is another route),
    and HEAD is answered wherever GET is (`guard.Guard`)."""
    routes = request.app.router.routes
    found = [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]
    return ", ".join(["GET", "HEAD", *found[1:]] if found[:1] == ["GET"] else found)


def by_accept(answer: Response) -> Response:  # JSON or a page: no cache may swap them
    answer.headers["Vary"] = "Accept"
    return answer


def conditional_answer(request: Request, response: Response) -> Response:
    """The answer with an ETag (and the endpoint's Last-Modified); 304 when the client's copy
    is current."""
    etag = response.headers.get("etag") or server.etag_of(bytes(response.body))
    guarded = request.app.state.auth.enabled
    headers = {"ETag": etag, **server.cache_headers(guarded=guarded), **NOSNIFF}
    if (response.media_type or "").startswith("text/html"):
        headers["Content-Security-Policy"] = page.PAGE_POLICY
    stamp = response.headers.get("last-modified")
    if stamp is not None:
        headers["Last-Modified"] = stamp
    last_modified = parse_http_date(stamp) if stamp else None
    if server.not_modified(request.headers, etag, last_modified):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
