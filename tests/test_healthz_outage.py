"""GET /healthz while the database does not answer: 503 at every request, but the outage is
logged once, then at the 2nd, 4th, 8th… request in a row, and once when it answers again, so a
load balancer probing every few seconds does not flood the log. The database really goes away:
the SQLite file's folder deleted, the PostgreSQL database dropped under the app."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.definitions import load_definitions
from monitor.store import Store, open_store, upgrade
from monitor.web import create_app
from tests.conftest import ROOT
from tests.databases import KINDS, PostgresServer, _server
from tests.webdata import NOW, settings

Outage = tuple[Store, Callable[[], None], Callable[[], None]]  # store, take it away, bring back


@pytest.fixture(params=KINDS)
def outage(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_server: PostgresServer | str
) -> Iterator[Outage]:
    """A store at the code's schema, and how to make its database go away and come back."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
        with open_store(url) as store:

            def gone() -> None:
                shutil.rmtree(tmp_path / "data")
                store.close()  # drop pooled connections to the deleted file

            def back() -> None:
                with open_store(url):  # made again at the code's schema
                    pass

            yield store, gone, back
        return
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
    assert down[0].startswith("web: healthz: store: ")
    assert down[0].endswith("; answering 503 while it lasts (said again at the 2nd, 4th, 8th… "
                            "request in a row)")  # fmt: skip
    for n, line in zip((2, 4, 8), down[1:], strict=True):
        assert line.startswith(f"web: healthz: the database still does not answer ({n} requests "
                               "in a row): store: ")  # fmt: skip
    assert again.json()["database"] is True
    assert up == [
        ("INFO", "web: healthz: the database answers again, after 9 failed requests in a row")
    ]
    assert len(steady) == 1  # said once: an answering database is no news
