"""How the answers with an ETag may be cached, over the wire (the real server on 127.0.0.1): a 304
carries the same Cache-Control and Vary as its 200, since a cache takes the 304's headers for
the copy it keeps; behind tokens an answer is private and kept per Cookie and Authorization."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx2 as httpx
import pytest
from sqlalchemy import event

from monitor.domain import Definitions
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.store import Store
from tests import webdata
from tests.test_web_signin import PAGE, Clock, as_browser, serve, sign_in
from tests.webdata import NOW

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store = webdata.db_url, webdata.defs, webdata.store  # fixtures

BEARER = {"Authorization": "Bearer bob-token-2"}
CACHED = (
    "/indicators",
    "/indicators/visa-easing",
    "/indicators/visa-easing/history",
    "/feeds",
    "/changes.atom",
    "/indicators/visa-easing/changes.atom",
)
PAGES = ("/", PAGE)
CACHING = ("cache-control", "vary")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client(
    store: Store, defs: Definitions, clock: Clock, **values: object
) -> Iterator[httpx.Client]:
    with (
        serve(store, defs, clock, **values) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as web,
    ):
        yield web


@pytest.fixture
def guarded(store: Store, defs: Definitions, clock: Clock) -> Iterator[httpx.Client]:
    yield from client(store, defs, clock)


@pytest.fixture
def open_web(store: Store, defs: Definitions, clock: Clock) -> Iterator[httpx.Client]:
    yield from client(store, defs, clock, api_tokens={})


def twice(web: httpx.Client, path: str, headers: dict[str, str]) -> tuple[httpx.Response, ...]:
    """The answer, and the 304 to a conditional GET with its ETag."""
    first = web.get(path, headers=headers)
    assert first.status_code == 200, (path, first.text)
    again = web.get(path, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304, path
    return first, again


def caching(answer: httpx.Response) -> dict[str, str | None]:
    return {name: answer.headers.get(name) for name in CACHING}


SIGNED_IN = {"cache-control": "private, no-cache", "vary": "Cookie, Authorization"}


def test_a_signed_in_page_and_its_304_are_private_and_vary_by_cookie(
    guarded: httpx.Client,
) -> None:
    browser = as_browser(sign_in(guarded))
    for path in PAGES:
        first, again = twice(guarded, path, browser)
        assert caching(first) == caching(again) == SIGNED_IN, path
        assert again.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize("path", CACHED)
def test_answers_behind_a_token_and_their_304_are_private(guarded: httpx.Client, path: str) -> None:
    """The same body for every token, but only for a token: no shared cache may keep it, and
    a browser's copy from one session is not another's (without one it gets 401 or sign-in)."""
    first, again = twice(guarded, path, BEARER)
    assert caching(first) == caching(again) == SIGNED_IN


@pytest.mark.parametrize("path", (*PAGES, *CACHED))
def test_without_tokens_an_answer_and_its_304_are_cached_alike(
    open_web: httpx.Client, path: str
) -> None:
    """Without tokens every visitor gets the same answer (no session bar, no CSRF token): it
    may be shared, checked again each time, and varies by no request header."""
    first, again = twice(open_web, path, {"Accept": "text/html"} if path in PAGES else {})
    assert caching(first) == caching(again) == {"cache-control": "no-cache", "vary": None}


@pytest.mark.parametrize(
    "path", ["/indicators/nope", "/indicators/nope/page", "/indicators/visa-easing/history?limit=0"]
)
def test_an_error_as_json_or_as_a_page_varies_by_accept(open_web: httpx.Client, path: str) -> None:
    """A browser gets a page where a tool gets JSON, at the same address: a cache that kept one
    must not hand it to the other (a 404 may be kept without being told it may)."""
    page = open_web.get(path, headers={"Accept": "text/html"})
    data = open_web.get(path, headers={"Accept": "application/json"})
    assert page.status_code == data.status_code and page.status_code in (404, 422)
    assert page.headers["content-type"].startswith("text/html")
    assert data.headers["content-type"].startswith("application/json")
    assert page.headers.get("vary") == data.headers.get("vary") == "Accept"


def test_if_modified_since_sees_a_change_recorded_after_a_later_dated_one(
    open_web: httpx.Client, store: Store, defs: Definitions, clock: Clock
) -> None:
    """A cycle's changes are dated when it began and recorded when it ends: an analyst's verdict
    in between is dated later but recorded first. A poller that kept the history's
    Last-Modified after the verdict still gets the cycle's change, not a 304."""
    began = NOW - timedelta(hours=1)
    clock.now = NOW - timedelta(minutes=30)  # the verdict, while the cycle fetches
    herald = webdata.entry_id(store, webdata.VISA_HERALD)
    said = open_web.post(
        f"/indicators/visa-easing/evidence/{herald}/verdict",
        json={"outcome": "eased", "verdict": "no", "note": "tour groups"},
    )
    assert said.json()["status"] == "eased:reported"
    history = "/indicators/visa-easing/history"
    kept = open_web.get(history).headers["last-modified"]

    clock.now = NOW  # the cycle ends: a second publisher, read at its start, confirms again
    ctx = webdata.context(store, defs)
    second = webdata.news("herald", 9, "China extends visa-free entry for Korean visitors",
                         "https://www.koreatimes.co.kr/a/9", began)  # fmt: skip
    store_entries(ctx, [second], now=began)
    (change,) = evaluate_and_record(ctx, now=began, clock=clock)
    assert change.at < datetime.fromisoformat(said.json()["change"]["at"])

    again = open_web.get(history, headers={"If-Modified-Since": kept})
    assert again.status_code == 200
    assert again.json()["items"][0]["new_status"] == "eased:confirmed"


def test_metrics_are_never_kept_and_the_guarded_description_is_private(
    guarded: httpx.Client, open_web: httpx.Client
) -> None:
    """/metrics is made afresh from the database for each scrape, as /healthz and /entries are:
    no cache keeps it (`no-store`), with tokens or without. The API's description behind tokens
    is the same for every token, but only for a token, like GET /indicators: private, per
    Cookie and Authorization."""
    for web in (guarded, open_web):
        metrics = web.get("/metrics", headers=BEARER)
        assert metrics.status_code == 200
        assert caching(metrics) == {"cache-control": "no-store", "vary": None}
    described = guarded.get("/openapi.json", headers=BEARER)
    assert described.status_code == 200 and described.json()["info"]["title"] == "monitor"
    assert caching(described) == SIGNED_IN


HELD = ("/", PAGE, "/indicators", "/indicators/visa-easing")  # the answers that say `held`


def test_a_replay_beginning_stopping_and_ending_changes_every_answer_that_says_it(
    open_web: httpx.Client, store: Store, clock: Clock
) -> None:
    """A replay's hold moves no data version (the statuses stand as recorded), yet the page and
    the indicators' JSON say it: an answer kept from before it, or a 304 to a poller's ETag,
    would hide it; and once it ends the answer is the one from before it again."""

    def answers() -> dict[str, tuple[str, str]]:
        found = {}
        for path in HELD:
            answer = open_web.get(path)
            assert answer.status_code == 200, (path, answer.text)
            found[path] = (answer.headers["etag"], answer.text)
        return found

    version, before = store.data_version(), answers()
    since = NOW - timedelta(days=7)
    store.begin_replay(since, owner="replay elsewhere", now=NOW, lease=timedelta(minutes=2))
    running = answers()
    store.stop_replay(owner="replay elsewhere", now=clock.now)
    stopped = answers()
    store.end_replay(owner="replay elsewhere")
    after = answers()

    assert store.data_version() == version  # the views kept all along: only the hold moved
    for path in HELD:
        etags = [kept[path][0] for kept in (before, running, stopped)]
        assert len(set(etags)) == 3, path
        assert "is rewriting the matches" in running[path][1], path
        assert "stopped half way" in stopped[path][1], path
        assert after[path] == before[path], path
        poll = open_web.get(path, headers={"If-None-Match": before[path][0]})
        assert poll.status_code == 304, path


def test_a_kept_answer_costs_one_query(open_web: httpx.Client, store: Store) -> None:
    """The data version that keys the kept answers and a replay's hold, which every answer
    says, are read in one round trip (they were two queries, the hold's the dearer)."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's
            statements.append(statement)

    for path in HELD:
        assert open_web.get(path).status_code == 200  # kept from now on
    engine = store._engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for path in HELD:
            statements.clear()
            assert open_web.get(path).status_code == 200
            assert len(statements) == 1, (path, statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
