"""Who is asking, at the HTTP edge: a bearer token (tools) or the session cookie of a browser
signed in with a token (people), and the page and endpoints of signing in and out. The keys,
cookies and CSRF tokens themselves are monitor.session's.

    GET  /signin?next=PATH   the sign-in page; a browser already signed in goes on to PATH
    POST /signin             form `token`, `next`: the session cookie and 303 to `next`; 401
                             with the page again for a token that is not one, 429 after
                             SIGNIN_FAILURES wrong ones from an address within SIGNIN_WINDOW
    POST /signout            form `csrf`: the session ends, the cookie is cleared, 303 to /signin

They exist only with tokens set (MONITOR_API_TOKEN, MONITOR_API_TOKENS). Then every guarded
endpoint depends on `Auth`: a bearer token that is one of them, else a session. Without either,
a browser asking for a page (Accept: text/html) is sent to /signin?next=<where it was>, anything
else gets 401 (JSON). A request that changes state on a session's strength (not a bearer
token's) must carry its CSRF token, the form field `csrf` or the header `X-CSRF-Token`, else 403:
another site's page cannot make a signed-in browser act. The cookie is HttpOnly,
SameSite=Strict, lasts MONITOR_SESSION_TTL, and is Secure (named `__Host-monitor-session`) when
MONITOR_PUBLIC_URL is https.

The pages are rendered once for every visitor with page.CSRF_SLOT and page.SESSION_SLOT in them;
`page_answer` fills them for the one asking (`for_visitor` alone for a page made afresh).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, NoReturn
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor import page, server
from monitor.session import Keyring, Session, Throttle
from monitor.settings import Settings

__all__ = [
    "ANONYMOUS",
    "Auth",
    "Visitor",
    "for_visitor",
    "install",
    "page_answer",
    "safe_next",
    "visitor_of",
]

log = logging.getLogger("monitor.web")

SIGNIN_FAILURES = 10  # wrong tokens (form or bearer) from one address ...
SIGNIN_WINDOW = timedelta(minutes=5)  # ... within this long, and it must wait
FORM_MAX_BYTES = 4096  # the sign-in and sign-out forms
NEXT_MAX = 2000  # longest `next` path followed after signing in
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NO_STORE = {"Cache-Control": "no-store"}
_PAGE_FORM = re.compile(r"(/indicators/[^/]+/page)/(?:verdict|silence|silence/end)")


@dataclass(frozen=True)
class Visitor:
    """Who a request is: the token's name (what a verdict records as who), and the session
    when a browser's cookie said so (its forms carry `csrf`)."""

    name: str
    session: Session | None = None
    csrf: str = ""


ANONYMOUS = Visitor("anonymous")  # no tokens are set: anyone who reaches the port


class SignInRequired(Exception):
    """A browser without a session asked for a page: it is sent to the sign-in page."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


_BEARER = HTTPBearer(
    auto_error=False, description="A token of MONITOR_API_TOKEN or MONITOR_API_TOKENS."
)


class Auth:
    """The dependency of every guarded endpoint, and what the sign-in endpoints share."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        tokens = settings.named_tokens()
        secret = settings.session_secret
        self.keyring = (
            Keyring(
                tokens,
                ttl=settings.session_ttl,
                secret=secret.get_secret_value() if secret else None,
                clock=clock,
            )
            if tokens
            else None
        )
        self.throttle = Throttle(failures=SIGNIN_FAILURES, window=SIGNIN_WINDOW, clock=clock)
        self.secure = (settings.public_url or "").startswith("https:")
        self.cookie = "__Host-monitor-session" if self.secure else "monitor-session"
        self.clock, self.zone = clock, settings.zone

    @property
    def enabled(self) -> bool:
        return self.keyring is not None

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> Visitor:
        visitor = await self._visitor(request, credentials)
        request.state.visitor = visitor
        return visitor

    async def _visitor(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> Visitor:
        keyring = self.ring
        if credentials is not None:
            wait = self.wait(request)
            if wait is not None:
                raise HTTPException(429, _too_many(wait), headers={"Retry-After": str(wait)})
            name = self.identify(request, credentials.credentials)
            if name is None:
                _refuse()
            return Visitor(name)
        session = self.session(request)
        if session is None:
            if "text/html" in request.headers.get("accept", ""):
                raise SignInRequired(signin_url(_back(request)))
            _refuse()
        if request.method not in _SAFE_METHODS and not keyring.csrf_ok(
            session, await _csrf_of(request)
        ):
            raise HTTPException(
                403, "the form's CSRF token does not match this session; reload the page"
            )
        return Visitor(session.name, session, keyring.csrf(session))

    @property
    def ring(self) -> Keyring:
        assert self.keyring is not None, "Auth is a dependency only with tokens set"
        return self.keyring

    def wait(self, request: Request) -> int | None:
        """Seconds the address must wait after too many wrong tokens; None: it may try."""
        wait = self.throttle.wait(_address(request))
        return None if wait is None else max(1, int(wait.total_seconds() + 0.999))

    def identify(self, request: Request, token: str) -> str | None:
        """The token's name; None for a wrong one, which counts against the address."""
        name = self.ring.identify(token)
        if name is None:
            self.throttle.failed(_address(request))
            log.warning("web: a wrong token from %s", _address(request))
        return name

    def session(self, request: Request) -> Session | None:
        cookie = request.cookies.get(self.cookie)
        return self.ring.read(cookie) if cookie else None

    def signin_page(self, next_path: str, problem: str | None, status: int) -> HTMLResponse:
        body = page.render_signin(
            next_path=next_path,
            problem=problem,
            names=len(self.ring.names),
            now=self.clock(),
            zone=self.zone,
        )
        headers = {**_NO_STORE, "Content-Security-Policy": page.PAGE_POLICY}
        return HTMLResponse(body, status_code=status, headers=headers)


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _too_many(seconds: int) -> str:
    return f"too many wrong tokens from this address; try again in {seconds} s"


def _refuse() -> NoReturn:
    raise HTTPException(
        401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
    )


async def _csrf_of(request: Request) -> str | None:
    """The CSRF token a request carries: the header, else the field of a form body (read
    whole; Guard has capped its size, and the endpoint reads it again from the cache)."""
    header = request.headers.get("x-csrf-token")
    if header is not None:
        return header
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=16)
    except ValueError:
        return None
    return form.get("csrf", [None])[0]


def _back(request: Request) -> str:
    """Where to return after signing in: the page asked for; for a form's post, its page (the
    forms post to PAGE/verdict, PAGE/silence and PAGE/silence/end), else `/`."""
    path = request.url.path
    if request.method not in _SAFE_METHODS:
        form = _PAGE_FORM.fullmatch(path)
        return form.group(1) if form else "/"
    return f"{path}?{request.url.query}" if request.url.query else path


def safe_next(value: str) -> str:
    """`value` when it is a path of this site, else `/`: never another site (no open
    redirect through `//host`, `/\\host`, a scheme, or a tab or newline a browser drops)."""
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or len(value) > NEXT_MAX
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/signin", "/signout"):
        return "/"
    return value


def signin_url(next_path: str) -> str:
    return "/signin" if next_path == "/" else f"/signin?next={quote(next_path, safe='/')}"


def visitor_of(request: Request) -> Visitor:
    """Who the guarded endpoint's request is (anonymous without tokens)."""
    visitor: Visitor = getattr(request.state, "visitor", ANONYMOUS)
    return visitor


def page_answer(request: Request, body: bytes, etag: str) -> HTMLResponse:
    """A page rendered for everyone, with the visitor's CSRF token and "signed in as" bar."""
    visitor = visitor_of(request)
    body = for_visitor(request, body)
    if visitor.session is not None:  # its page is its own: so is the ETag
        etag = server.etag_of(f"{etag}{visitor.name}{visitor.csrf}".encode())
    return HTMLResponse(body, headers={"ETag": etag})


def for_visitor(request: Request, body: bytes) -> bytes:
    """`body` (a page with page.CSRF_SLOT and page.SESSION_SLOT) with the visitor's CSRF token
    and, for a session, its "signed in as" bar."""
    visitor = visitor_of(request)
    bar = page.render_session(visitor.name, visitor.csrf) if visitor.session else ""
    body = body.replace(page.CSRF_SLOT.encode(), visitor.csrf.encode())
    return body.replace(page.SESSION_SLOT.encode(), bar.encode())


# ---------------------------------------------------------------- the endpoints

_routes = APIRouter()


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


def install(app: FastAPI, auth: Auth) -> None:
    """The sign-in endpoints (with tokens set), and the redirect of SignInRequired."""
    app.state.auth = auth

    async def to_signin(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(exc.location, status_code=303, headers=_NO_STORE)

    app.add_exception_handler(SignInRequired, to_signin)
    if auth.enabled:
        app.include_router(_routes)


@_routes.get("/signin", include_in_schema=False)
async def signin_page(
    request: Request, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """The sign-in page; a browser that is signed in already goes on to `next`."""
    auth, target = _auth(request), safe_next(next_path)
    if auth.session(request) is not None:
        return RedirectResponse(target, status_code=303, headers=_NO_STORE)
    return auth.signin_page(target, problem=None, status=200)


@_routes.post("/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    """A token for a session cookie; never says more than that the token is not one."""
    auth = _auth(request)  # another site's form (login CSRF) is refused before: guard.Guard
    form = await _form(request)
    target = safe_next(form.get("next", "/"))
    wait = auth.wait(request)
    if wait is not None:
        refused = auth.signin_page(target, f"T{_too_many(wait)[1:]}.", 429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    name = auth.identify(request, form.get("token", ""))
    if name is None:
        return auth.signin_page(target, "That is not a token of this monitor.", 401)
    cookie, session = auth.ring.issue(name)
    response = RedirectResponse(target, status_code=303, headers=_NO_STORE)
    response.set_cookie(
        auth.cookie,
        cookie,
        max_age=int((session.expires - session.issued).total_seconds()),
        path="/",
        secure=auth.secure,
        httponly=True,
        samesite="strict",
    )
    log.info("web: %s signed in", name)
    return response


@_routes.post("/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    """Ends the session (a form with its CSRF token) and clears the cookie."""
    auth = _auth(request)
    session = auth.session(request)
    if session is not None:
        form = await _form(request)
        if not auth.ring.csrf_ok(session, form.get("csrf")):
            raise HTTPException(403, "sign-out: the form's CSRF token does not match this session")
        auth.ring.revoke(session)
        log.info("web: %s signed out", session.name)
    response = RedirectResponse("/signin", status_code=303, headers=_NO_STORE)
    response.delete_cookie(
        auth.cookie, path="/", secure=auth.secure, httponly=True, samesite="strict"
    )
    return response


async def _form(request: Request) -> dict[str, str]:
    body = await server.read_at_most(request.stream(), FORM_MAX_BYTES)
    if body is None:
        raise HTTPException(413, f"a sign-in form is at most {FORM_MAX_BYTES} bytes")
    try:
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:
        raise HTTPException(422, "not the sign-in form") from None
    return {name: values[0] for name, values in form.items()}
