"""A hostile web page the analyst visits, in Debian's chromium (driven by Playwright), against a
real server on 127.0.0.1 with no token set (the default): it cannot judge or silence through the
visitor's browser (a form post, a script's `fetch` with a Blob body, which sends no Content-Type
and needs no CORS preflight), and once its name resolves to 127.0.0.1 (DNS rebinding, played by
chromium's --host-resolver-rules) it reads nothing. Every answer the server gave is recorded by
a wrapper around the app, so the test sees what the page cannot (a no-cors answer is opaque)."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from typing import Any

import fastapi
import pytest
from fastapi import FastAPI

import monitor.web
from monitor.domain import Definitions
from monitor.store import Store
from monitor.web import WebServer
from tests import chromium, webdata
from tests.feedserver import FeedServer
from tests.webdata import NOW, VISA_HERALD, entry_id, settings

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

db_url, defs, store = webdata.db_url, webdata.defs, webdata.store  # fixtures

ARGS = [
    "--disable-features=HttpsUpgrades",  # the hostile site is plain http, as it may well be
    "--host-resolver-rules=MAP attacker.test 127.0.0.1, MAP rebind.test 127.0.0.1",
]


class Recorder:
    """ASGI wrapper: every request the app answered, as (method, path, status, host)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str, int, str]] = []
        self._changed = threading.Condition()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode()

        async def noted(message: Any) -> None:
            if message["type"] == "http.response.start":
                with self._changed:
                    self.seen.append((scope["method"], scope["path"], message["status"], host))
                    self._changed.notify_all()
            await send(message)

        await self.app(scope, receive, noted)

    def posts(self, count: int) -> list[tuple[str, str, int, str]]:
        """The first `count` POSTs answered, once they were (a minute: a hang, not a pace)."""
        with self._changed:
            posts = lambda: [s for s in self.seen if s[0] == "POST"]  # noqa: E731
            assert self._changed.wait_for(lambda: len(posts()) >= count, 60), self.seen
            return posts()[:count]


@pytest.fixture(params=["strict", "lenient"])
def app(
    request: pytest.FixtureRequest,
    store: Store,
    defs: Definitions,
    monkeypatch: pytest.MonkeyPatch,
) -> FastAPI:
    """The app as FastAPI reads a body now (`strict`: JSON only with a JSON Content-Type) and
    as it did before 0.132 (`lenient`: a body without Content-Type read as JSON), which
    pyproject's `fastapi>=0.115` allows: the server must refuse the page either way."""
    if request.param == "lenient":
        lenient = functools.partial(fastapi.FastAPI, strict_content_type=False)
        monkeypatch.setattr(monitor.web, "FastAPI", lenient)
    return monitor.web.create_app(
        store=store, definitions=lambda: defs, settings=settings(), clock=lambda: NOW
    )


@pytest.fixture
def recorded(app: FastAPI) -> Iterator[tuple[WebServer, Recorder]]:
    recorder = Recorder(app)
    with WebServer(recorder, host="127.0.0.1", port=0) as running:
        yield running, recorder


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium.launched(*ARGS)


def hostile_page(monitor: str, herald: int) -> bytes:
    """What another site serves: two Blob fetches (JSON without a Content-Type), then a form
    the page submits itself, each to an endpoint that changes state."""
    verdict = json.dumps({"outcome": "eased", "verdict": "no", "note": "pwned"})
    silence = json.dumps({"indicator": "visa-easing", "for": "30d", "reason": "pwned"})
    return f"""<!doctype html><title>cute cats</title>
<form id="f" method="post" action="{monitor}/indicators/visa-easing/page/verdict">
<input name="entry" value="{herald}"><input name="outcome" value="eased">
<input name="verdict" value="no"></form>
<script>
const post = (path, body) => fetch("{monitor}" + path,
  {{method: "POST", mode: "no-cors", body: new Blob([body])}}).catch(() => null);
Promise.all([
  post("/indicators/visa-easing/evidence/{herald}/verdict", {json.dumps(verdict)}),
  post("/silences", {json.dumps(silence)}),
]).then(() => {{ document.title = "sent"; document.getElementById("f").submit(); }});
</script>""".encode()


def test_another_sites_page_cannot_judge_or_silence_through_the_browser(
    recorded: tuple[WebServer, Recorder], browser: Any, store: Store, feed_server: FeedServer
) -> None:
    server, recorder = recorded
    herald = entry_id(store, VISA_HERALD)
    feed_server.route(
        "/cats",
        body=hostile_page(server.url, herald),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    page = browser.new_page()
    page.goto(f"http://attacker.test:{feed_server.port}/cats")

    answered = recorder.posts(3)
    assert sorted((path, status) for _, path, status, _ in answered) == [
        (f"/indicators/visa-easing/evidence/{herald}/verdict", 403),
        ("/indicators/visa-easing/page/verdict", 403),
        ("/silences", 403),
    ]
    assert (store.verdicts(), store.silences()) == ([], [])
    page.close()


def test_a_rebound_name_reads_nothing_while_the_local_address_does(
    recorded: tuple[WebServer, Recorder], browser: Any
) -> None:
    """rebind.test now resolves to 127.0.0.1: the browser takes the server for rebind.test's
    own, so its page's scripts could read every answer; the server answers it 400."""
    server, recorder = recorded
    page = browser.new_page()
    rebound = page.goto(f"http://rebind.test:{server.port}/indicators")
    assert rebound is not None and rebound.status == 400
    assert "'rebind.test:" in page.content() and "is not an allowed host" in page.content()
    own = page.goto(f"{server.url}/indicators")
    assert own is not None and own.status == 200
    assert [(s[2], s[3]) for s in recorder.seen if s[1] == "/indicators"] == [
        (400, f"rebind.test:{server.port}"),
        (200, f"127.0.0.1:{server.port}"),
    ]
    page.close()
