"""Signing in, over the wire: the real server on 127.0.0.1 with named tokens, asked as a browser
(Accept: text/html, its cookie) and as a tool (a bearer header). The sign-in page and its
redirects, the session cookie's attributes, CSRF on every form, who a verdict records,
sign-out, expiry, tampering, the open-redirect guard and the brake on guessing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.cookies import SimpleCookie

import httpx2 as httpx
import pytest

from monitor.domain import Definitions
from monitor.guard import NULL_ORIGIN
from monitor.signin import SIGNIN_FAILURES, SIGNIN_WINDOW
from monitor.store import Store
from monitor.web import WebServer, create_app
from tests import webdata
from tests.webdata import NOW, VISA_HERALD

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store = webdata.db_url, webdata.defs, webdata.store  # fixtures

TOKENS = "alice:alice-token-1,bob:bob-token-2"
PAGE = "/indicators/visa-easing/page"
HTML = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Site": "same-origin"}
COOKIE = "monitor-session"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def serve(store: Store, defs: Definitions, clock: Clock, **values: object) -> WebServer:
    settings = webdata.settings(**({"api_tokens": TOKENS} | values))
    app = create_app(store=store, definitions=lambda: defs, settings=settings, clock=clock)
    return WebServer(app, host="127.0.0.1", port=0)


@pytest.fixture
def web(store: Store, defs: Definitions, clock: Clock) -> Iterator[httpx.Client]:
    with (
        serve(store, defs, clock) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as client,
    ):
        yield client


def sign_in(web: httpx.Client, token: str = "alice-token-1", next_path: str = "/") -> str:
    """The session cookie's value, from the form a browser posts."""
    answer = web.post("/signin", data={"token": token, "next": next_path}, headers=HTML)
    assert answer.status_code == 303, answer.text
    return session_of(answer)


def session_of(answer: httpx.Response, name: str = COOKIE) -> str:
    jar = SimpleCookie(answer.headers["set-cookie"])
    return jar[name].value


def as_browser(cookie: str) -> dict[str, str]:
    return {**HTML, "Cookie": f"{COOKIE}={cookie}"}


def csrf_of(html: str) -> str:
    tokens = set(re.findall(r'name="csrf" value="([^"]*)"', html))
    assert len(tokens) == 1, tokens  # one token on every form of the page
    return tokens.pop()


def herald(web: httpx.Client) -> int:
    bearer = {"Authorization": "Bearer bob-token-2"}
    found = web.get("/entries", params={"q": VISA_HERALD}, headers=bearer).json()
    return int(next(f["id"] for f in found if f["title"] == VISA_HERALD))


def judge_form(entry: int, csrf: str | None) -> dict[str, str]:
    form = {"entry": str(entry), "outcome": "eased", "verdict": "no"}
    return form | ({"csrf": csrf} if csrf is not None else {})


# ---------------------------------------------------------------- without a session


def test_a_browser_is_sent_to_sign_in_and_back_while_a_tool_gets_401(web: httpx.Client) -> None:
    asked = f"{PAGE}?before=5"
    answer = web.get(asked, headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/indicators/visa-easing/page%3Fbefore%3D5"
    assert answer.headers["cache-control"] == "no-store"
    assert web.head("/", headers=HTML).headers["location"] == "/signin"

    signin = web.get(answer.headers["location"], headers=HTML)
    assert signin.status_code == 200
    assert f'name="next" value="{PAGE}?before=5"' in signin.text
    assert 'type="password"' in signin.text and 'action="/signin"' in signin.text
    assert "form-action 'self'" in signin.headers["content-security-policy"]

    tool = web.get("/indicators")
    assert tool.status_code == 401
    assert tool.json() == {"detail": "a valid bearer token is required"}
    assert web.get("/", headers={"Accept": "application/json"}).status_code == 401
    assert web.get("/healthz").status_code == 200


def test_a_tool_keeps_its_bearer_token_and_needs_no_csrf(web: httpx.Client, store: Store) -> None:
    bearer = {"Authorization": "Bearer bob-token-2"}
    assert web.get("/indicators", headers=bearer).status_code == 200
    entry = herald(web)
    answer = web.post(
        f"/indicators/visa-easing/evidence/{entry}/verdict",
        json={"outcome": "eased", "verdict": "no"},
        headers=bearer,
    )
    assert answer.status_code == 200
    assert answer.json()["verdict"]["who"] == "bob"
    assert [v.who for v, _ in store.verdicts()] == ["bob"]


def test_the_published_schema_says_a_verdict_is_by_the_name_of_its_token(web: httpx.Client) -> None:
    """/openapi.json is the API's description: `who` of a verdict is the token's name (`bob`),
    as the answer gives it, not `page` (no verdict is by `page` any more)."""
    bearer = {"Authorization": "Bearer bob-token-2"}
    schema = web.get("/openapi.json", headers=bearer).json()
    who = schema["components"]["schemas"]["VerdictOut"]["properties"]["who"]["description"]
    answer = web.post(
        f"/indicators/visa-easing/evidence/{herald(web)}/verdict",
        json={"outcome": "eased", "verdict": "no"},
        headers=bearer,
    )
    assert answer.json()["verdict"]["who"] == "bob"
    assert "the name of the token that made it" in who and "`page`" not in who, who


@pytest.mark.parametrize(
    ("path", "status"),
    [("/indicators/nope/page", 404), ("/indicators/visa-easing/page?before=abc", 422)],
)
def test_an_error_page_shows_who_is_signed_in_and_the_sign_out_button(
    web: httpx.Client, path: str, status: int
) -> None:
    """Every page shows who is signed in and a Sign out button: an error's too (a mistyped
    indicator, a bad value), with the session's CSRF token on that form."""
    page = web.get(path, headers=as_browser(sign_in(web)))
    assert page.status_code == status
    assert 'Signed in as <strong data-who="alice" dir="auto">alice</strong>' in page.text
    assert re.fullmatch(r"[0-9a-f]{64}", csrf_of(page.text))
    assert "<!--csrf-->" not in page.text and "<!--session-->" not in page.text


def test_the_single_api_token_is_named_api(store: Store, defs: Definitions, clock: Clock) -> None:
    with (
        serve(store, defs, clock, api_tokens={}, api_token="solo-token") as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as client,
    ):
        cookie = sign_in(client, "solo-token")
        page = client.get(PAGE, headers=as_browser(cookie))
        assert 'data-who="api"' in page.text
        answer = client.post(
            f"{PAGE}/verdict",
            data=judge_form(herald_with(client, "solo-token"), csrf_of(page.text)),
            headers=as_browser(cookie),
        )
        assert answer.status_code == 303
    assert [v.who for v, _ in store.verdicts()] == ["api"]


def herald_with(web: httpx.Client, token: str) -> int:
    found = web.get(
        "/entries", params={"q": VISA_HERALD}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    return int(next(f["id"] for f in found if f["title"] == VISA_HERALD))


# ---------------------------------------------------------------- signing in


def test_signing_in_sets_a_signed_httponly_strict_cookie_with_an_expiry_and_goes_back(
    web: httpx.Client,
) -> None:
    answer = web.post("/signin", data={"token": "alice-token-1", "next": PAGE}, headers=HTML)

    assert answer.status_code == 303
    assert answer.headers["location"] == PAGE
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "secure" not in attributes  # MONITOR_PUBLIC_URL is not https
    assert "Max-Age=43200" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    value = session_of(answer)
    assert "alice-token-1" not in value

    page = web.get(PAGE, headers=as_browser(value))
    assert page.status_code == 200
    assert 'Signed in as <strong data-who="alice" dir="auto">alice</strong>' in page.text
    assert re.fullmatch(r"[0-9a-f]{64}", csrf_of(page.text))
    assert "<!--csrf-->" not in page.text and "<!--session-->" not in page.text
    assert page.headers["cache-control"] == "private, no-cache"
    assert page.headers["vary"] == "Cookie, Authorization"
    again = web.get(PAGE, headers={**as_browser(value), "If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    assert web.get("/signin", headers=as_browser(value)).headers["location"] == "/"


@pytest.mark.parametrize("token", ["alice-token-1x", "alice-token-", "ALICE-TOKEN-1", "", "zzz"])
def test_a_wrong_token_gets_the_page_again_saying_no_more_than_that(
    web: httpx.Client, token: str
) -> None:
    answer = web.post("/signin", data={"token": token, "next": PAGE}, headers=HTML)

    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert "That is not a token of this monitor." in answer.text
    assert f'name="next" value="{PAGE}"' in answer.text
    assert "alice" not in answer.text


def test_another_sites_form_cannot_sign_a_browser_in(web: httpx.Client) -> None:
    answer = web.post(
        "/signin",
        data={"token": "alice-token-1"},
        headers={**HTML, "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_a_null_origin_neither_signs_in_nor_acts_on_a_session_with_its_csrf_token(
    web: httpx.Client, store: Store
) -> None:
    """A sandboxed frame of another site sends `Origin: null` (and, in a browser older than
    Sec-Fetch-Site, nothing else that tells): the session's CSRF token was all that stood in
    its way. Refused before any token is read, as Django and Rails refuse a null origin."""

    def old_browser(headers: dict[str, str], origin: str = "null") -> dict[str, str]:
        return {k: v for k, v in headers.items() if k != "Sec-Fetch-Site"} | {"Origin": origin}

    signin = web.post("/signin", data={"token": "alice-token-1"}, headers=old_browser(HTML))
    assert signin.status_code == 403
    assert signin.json() == {"detail": NULL_ORIGIN}
    assert "set-cookie" not in signin.headers

    cookie = sign_in(web)
    csrf = csrf_of(web.get(PAGE, headers=as_browser(cookie)).text)
    form = judge_form(herald(web), csrf)
    session = old_browser(as_browser(cookie))
    refused = web.post(f"{PAGE}/verdict", data=form, headers=session)
    assert refused.status_code == 403
    assert refused.json() == {"detail": NULL_ORIGIN}
    signout = web.post("/signout", data={"csrf": csrf}, headers=session)
    assert signout.status_code == 403
    assert store.verdicts() == []

    own = old_browser(as_browser(cookie), str(web.base_url).rstrip("/"))  # the page's forms
    assert web.post(f"{PAGE}/verdict", data=form, headers=own).status_code == 303
    assert [v.who for v, _ in store.verdicts()] == ["alice"]


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        (PAGE, PAGE),
        (f"{PAGE}?before=3#history", f"{PAGE}?before=3#history"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/signout", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)  # fmt: skip
def test_next_is_only_ever_a_path_of_this_site(web: httpx.Client, asked: str, went: str) -> None:
    answer = web.post("/signin", data={"token": "alice-token-1", "next": asked}, headers=HTML)
    assert answer.headers["location"] == went
    signed_in = as_browser(session_of(answer))
    again = web.get("/signin", params={"next": asked}, headers=signed_in)
    assert again.headers["location"] == went


@pytest.mark.parametrize(
    "public_url",
    [
        "https://monitor.example.org/",
        "HTTPS://monitor.example.org/",  # a scheme has no case: it was a cookie sent over http
        "Https://monitor.example.org",
    ],
)
def test_the_cookie_is_secure_and_host_only_when_the_public_url_is_https(
    store: Store, defs: Definitions, clock: Clock, public_url: str
) -> None:
    https = {"public_url": public_url}
    with (
        serve(store, defs, clock, **https) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as client,
    ):
        answer = client.post("/signin", data={"token": "alice-token-1"}, headers=HTML)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-monitor-session=")
        assert "Secure" in cookie and "Domain" not in cookie
        value = session_of(answer, "__Host-monitor-session")
        page = client.get(PAGE, headers={**HTML, "Cookie": f"__Host-monitor-session={value}"})
        assert page.status_code == 200


# ---------------------------------------------------------------- CSRF and who


def test_a_verdict_from_the_page_needs_the_sessions_csrf_token_and_records_its_name(
    web: httpx.Client, store: Store
) -> None:
    alice, bob = sign_in(web), sign_in(web, "bob-token-2")
    page = web.get(PAGE, headers=as_browser(alice))
    entry = herald(web)
    for csrf in (None, "", "0" * 64, csrf_of(web.get(PAGE, headers=as_browser(bob)).text)):
        refused = web.post(
            f"{PAGE}/verdict", data=judge_form(entry, csrf), headers=as_browser(alice)
        )
        assert refused.status_code == 403, csrf
    assert store.verdicts() == []

    answer = web.post(
        f"{PAGE}/verdict", data=judge_form(entry, csrf_of(page.text)), headers=as_browser(alice)
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PAGE}#evidence-{entry}-eased"
    assert [v.who for v, _ in store.verdicts()] == ["alice"]
    after = web.get(PAGE, headers=as_browser(alice)).text
    assert f"verdict: no on entry {entry} by alice" in after


def test_json_on_a_session_needs_the_csrf_header(web: httpx.Client, store: Store) -> None:
    cookie = sign_in(web)
    csrf = csrf_of(web.get(PAGE, headers=as_browser(cookie)).text)
    url = f"/indicators/visa-easing/evidence/{herald(web)}/verdict"
    body = {"outcome": "eased", "verdict": "no"}
    assert web.post(url, json=body, headers=as_browser(cookie)).status_code == 403
    answer = web.post(url, json=body, headers={**as_browser(cookie), "X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert answer.json()["verdict"]["who"] == "alice"


def test_a_form_posted_after_the_session_ended_goes_to_sign_in_and_back_to_its_page(
    web: httpx.Client, store: Store
) -> None:
    answer = web.post(f"{PAGE}/verdict", data=judge_form(herald(web), "x"), headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/signin?next={PAGE}"
    assert store.verdicts() == []


@pytest.mark.parametrize(
    ("form", "fields"),
    [("silence", {"for": "1d", "reason": "a visit"}), ("silence/end", {"silence": "1"})],
)
def test_a_silence_form_posted_after_the_session_ended_comes_back_to_its_page(
    web: httpx.Client, store: Store, form: str, fields: dict[str, str]
) -> None:
    """Not to the form's address, which answers no GET (405 after signing in)."""
    answer = web.post(f"{PAGE}/{form}", data=fields, headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/signin?next={PAGE}"
    assert store.silences() == []

    back = web.post("/signin", data={"token": "alice-token-1", "next": PAGE}, headers=HTML)
    assert back.headers["location"] == PAGE
    assert web.get(PAGE, headers=as_browser(session_of(back))).status_code == 200


# ---------------------------------------------------------------- the end of a session


def test_signing_out_needs_the_csrf_token_and_the_old_cookie_is_refused_after(
    web: httpx.Client,
) -> None:
    cookie = sign_in(web)
    csrf = csrf_of(web.get("/", headers=as_browser(cookie)).text)
    assert 'action="/signout"' in web.get("/", headers=as_browser(cookie)).text

    refused = web.post("/signout", data={"csrf": "0" * 64}, headers=as_browser(cookie))
    assert refused.status_code == 403
    assert web.get("/", headers=as_browser(cookie)).status_code == 200  # still signed in

    out = web.post("/signout", data={"csrf": csrf}, headers=as_browser(cookie))
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    cleared = out.headers["set-cookie"]
    assert cleared.startswith(f'{COOKIE}="";') and "Max-Age=0" in cleared

    again = web.get("/", headers=as_browser(cookie))  # the cookie, kept by a thief
    assert again.status_code == 303 and again.headers["location"] == "/signin"


def test_a_session_ends_at_its_expiry(web: httpx.Client, clock: Clock) -> None:
    cookie = sign_in(web)
    clock.now = NOW + timedelta(hours=12) - timedelta(seconds=5)
    assert web.get("/", headers=as_browser(cookie)).status_code == 200
    clock.now = NOW + timedelta(hours=12, seconds=5)
    assert web.get("/", headers=as_browser(cookie)).headers["location"] == "/signin"


def test_an_altered_cookie_is_no_session(web: httpx.Client) -> None:
    cookie = sign_in(web)
    payload, stamp, signature = cookie.split(".")
    for bad in (f"{payload}x.{stamp}.{signature}", f"{payload}.{stamp}.{signature[::-1]}", "x"):
        answer = web.get("/", headers=as_browser(bad))
        assert answer.status_code == 303, bad
        assert web.get("/indicators", headers={"Cookie": f"{COOKIE}={bad}"}).status_code == 401


# ---------------------------------------------------------------- guessing


def test_too_many_wrong_tokens_stop_the_address_until_the_window_passes(
    web: httpx.Client, clock: Clock
) -> None:
    for _ in range(SIGNIN_FAILURES - 1):
        assert web.post("/signin", data={"token": "guess"}, headers=HTML).status_code == 401
    wrong_bearer = web.get("/indicators", headers={"Authorization": "Bearer guess"})
    assert wrong_bearer.status_code == 401  # the bearer header counts too: the tenth

    held = web.post("/signin", data={"token": "alice-token-1"}, headers=HTML)
    assert held.status_code == 429
    assert "set-cookie" not in held.headers
    assert int(held.headers["retry-after"]) == int(SIGNIN_WINDOW.total_seconds())
    assert "Too many wrong tokens from this address" in held.text
    bearer = web.get("/indicators", headers={"Authorization": "Bearer alice-token-1"})
    assert bearer.status_code == 429 and bearer.headers["retry-after"]

    clock.now = NOW + SIGNIN_WINDOW + timedelta(seconds=1)
    assert web.post("/signin", data={"token": "alice-token-1"}, headers=HTML).status_code == 303


# ---------------------------------------------------------------- without tokens


def test_without_tokens_there_is_no_sign_in_and_the_page_has_no_session_bar(
    store: Store, defs: Definitions, clock: Clock
) -> None:
    with (
        serve(store, defs, clock, api_tokens={}) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as client,
    ):
        assert client.get("/signin", headers=HTML).status_code == 404
        page = client.get(PAGE, headers=HTML)
        assert page.status_code == 200
        assert 'action="/signout"' not in page.text
        assert csrf_of(page.text) == ""
        assert page.headers["cache-control"] == "no-cache"
