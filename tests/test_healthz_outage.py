"""The HTTP endpoint while the database does not answer: 503 at every request (/healthz's
`unavailable`, the others' error, a browser's error page), but the outage is the app's one
record, logged once, then at the 2nd, 4th, 8th… failed request in a row whatever endpoints they
asked, and once when it answers again, so a load balancer probing /healthz or a dashboard
polling /indicators every few seconds does not flood the log. The database really goes away:
the PostgreSQL database dropped under the app, then made again. A SQLite file has no such
outage: one deleted under the server is a stop, not a wait (tests/test_deleted_database.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from monitor.definitions import load_definitions
from monitor.store import Store, open_store, upgrade
from monitor.web import create_app
from tests.conftest import ROOT
from tests.databases import PostgresServer, _server
from tests.webdata import NOW, settings

pytestmark = pytest.mark.postgres

Outage = tuple[Store, Callable[[], None], Callable[[], None]]  # store, take it away, bring back


@pytest.fixture
def outage(_postgres_server: PostgresServer | str) -> Iterator[Outage]:
    """A store at the code's schema, and how to make its database go away and come back."""
    server = _server(_postgres_server)
    name = server.create()
    try:
        upgrade(server.url(name))
        with open_store(server.url(name)) as store:
            yield store, lambda: server.drop(name), lambda: _created(server, name)
    finally:
        server.drop(name)


def _created(server: PostgresServer, name: str) -> None:
    server.create(name=name)
    upgrade(server.url(name))  # its schema, as `monitor db upgrade` makes it


def test_an_outage_answers_503_every_time_and_is_logged_at_growing_intervals(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    store, gone, back = outage
    defs = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: NOW)  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/healthz").json()["database"] is True
    gone()

    with caplog.at_level(logging.INFO, logger="monitor.web"):
        codes = [client.get("/healthz").status_code for _ in range(9)]
        down = [r.getMessage() for r in caplog.records if r.name == "monitor.web"]
        caplog.clear()
        back()
        again = client.get("/healthz")
        up = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "monitor.web"]
        client.get("/healthz")
        steady = [r for r in caplog.records if r.name == "monitor.web"]

    assert codes == [503] * 9
    assert len(down) == 4, down  # the 1st, 2nd, 4th and 8th request
    assert down[0].startswith("web: GET /healthz: store: ")
    assert down[0].endswith("; answering 503 while it lasts (said again at the 2nd, 4th, 8th… "
                            "failed request in a row)")  # fmt: skip
    for n, line in zip((2, 4, 8), down[1:], strict=True):
        assert line.startswith(f"web: GET /healthz: the database still does not answer ({n} "
                               "requests in a row): store: ")  # fmt: skip
    assert again.json()["database"] is True
    assert up == [
        ("INFO", "web: GET /healthz: the database answers again, after 9 failed requests in a row")
    ]
    assert len(steady) == 1  # said once: an answering database is no news


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
DOWN = {"detail": "the database did not answer"}
# What a dashboard, a scraper, a reader's browser and a load balancer ask, in turn: each
# endpoint reads the database its own way, so each fails with its own store error.
ASKED = ("/indicators", "/indicators/{id}", "/feeds", "/indicators/{id}/history",
         "/entries?q=visa", "/metrics", "/", "/indicators/{id}/page", "/healthz",
         "POST /indicators/{id}/evidence/1/verdict")  # fmt: skip


def test_every_endpoint_shares_one_outage_record(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    store, gone, back = outage
    defs = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    first = defs.indicators[0]
    clock = [NOW]
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: clock[0])  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)

    def ask(asked: str) -> tuple[int, str, str]:
        """Status, Content-Type and body; every 3 s, as a dashboard polls (the schema's watch
        reads the database every 5 s of the app's clock)."""
        clock[0] += timedelta(seconds=3)
        method, _, path = asked.rpartition(" ")
        path = path.format(id=first.id)
        page = path == "/" or path.endswith("/page")
        if method == "POST":
            body = {"outcome": first.outcomes[0].id, "verdict": "no"}
            answer = client.post(path, json=body)
        else:
            answer = client.get(path, headers=BROWSER if page else {})
        return answer.status_code, answer.headers["content-type"], answer.text

    def said() -> list[tuple[str, str]]:
        lines = [(r.levelname, r.getMessage()) for r in caplog.records
                 if r.name.startswith("monitor") and r.levelno >= logging.INFO]  # fmt: skip
        caplog.clear()
        return lines

    assert {ask(a)[0] for a in ASKED[:-1]} == {200}
    gone()
    with caplog.at_level(logging.DEBUG):
        asked = [ASKED[n % len(ASKED)] for n in range(20)]
        answers = [ask(a) for a in asked[:10]]
        nowhere = ask("/indicators/no-such")  # 404 without reading the database: no news
        answers += [ask(a) for a in asked[10:]]
        down = said()
        back()
        caplog.clear()
        again = [ask(a) for a in ("/feeds", *ASKED[:-1])]  # no entry 1 to judge
        up = said()

    for a, (code, kind, text) in zip(asked, answers, strict=True):
        assert code == 503, (a, text)
        if a == "/healthz":
            assert kind == "application/json" and '"status":"unavailable"' in text
        elif a == "/" or a.endswith("/page"):  # the page a browser gets for an error
            assert kind.startswith("text/html") and "the database did not answer" in text
        else:
            assert kind == "application/json" and text == '{"detail":"the database did not answer"}'
    assert nowhere[0] == 404
    assert [level for level, _ in down] == ["ERROR"] * 5, down  # the 1st, 2nd, 4th, 8th, 16th
    assert down[0][1].startswith("web: GET /indicators: store: unable to read ")
    assert down[0][1].endswith("; answering 503 while it lasts (said again at the 2nd, 4th, "
                               "8th… failed request in a row)")  # fmt: skip
    for n, (_, line) in zip((2, 4, 8, 16), down[1:], strict=True):
        request = asked[n - 1].format(id=first.id)
        request = request if request.startswith("POST ") else f"GET {request}"
        assert line.startswith(f"web: {request}: the database still does not answer ({n} "
                               "requests in a row): store: unable to ")  # fmt: skip
    assert [code for code, _, _ in again] == [200] * len(again)
    assert up == [("INFO", "web: GET /feeds: the database answers again, after 20 failed "
                           "requests in a row")]  # fmt: skip
