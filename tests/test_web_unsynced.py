"""`monitor serve` on a database no daemon has started on yet lists, counts and draws the
configured feeds as never read, as a daemon does from its start (`pipeline.prepare` stores
them): not "0 feeds". On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from monitor.domain import Definitions
from monitor.pipeline import prepare
from monitor.store import Store
from monitor.web import create_app
from tests import webdata
from tests.webdata import NOW

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, empty = webdata.db_url, webdata.defs, webdata.empty  # fixtures


def served(store: Store, defs: Definitions) -> TestClient:
    app = create_app(store=store, definitions=lambda: defs, settings=webdata.settings(),
                     clock=lambda: NOW)  # fmt: skip
    return TestClient(app, raise_server_exceptions=False)


def test_serve_before_any_daemon_shows_the_configured_feeds_never_read(
    empty: Store, defs: Definitions
) -> None:
    """/indicators said `yonhap: never read yet` while /feeds said `[]` and /healthz counted
    `total: 0`: a page started first read as if no feed was configured."""
    client = served(empty, defs)
    configured = sorted(f.id for f in defs.feeds)

    listed = client.get("/feeds").json()
    counted = client.get("/healthz").json()["feeds"]
    page = client.get("/", headers={"Accept": "text/html"}).text

    assert [f["id"] for f in listed] == configured
    assert {(f["last_success_at"], f["last_checked_at"], f["due"]) for f in listed} == {
        (None, None, True)
    }
    assert (counted["total"], counted["never_read"], counted["read_recently"]) == (
        len(configured),
        len(configured),
        0,
    )
    assert all(f'<tr data-feed="{i}">' in page for i in configured)  # the feed table
    gauges = feed_gauges(client)  # /metrics called them ok, and had no count of them
    assert gauges["monitor_feeds_never_read"] == counted["never_read"] == len(configured)
    assert empty.feeds() == []  # nothing written: serve only reads


def test_serve_before_any_daemon_shows_the_feeds_as_a_starting_daemon_does(
    empty: Store, defs: Definitions
) -> None:
    """One way to show a never-read feed: what serve shows before the daemon's start is what it
    shows after (the daemon stored the feeds, none read yet)."""
    client = served(empty, defs)
    before = (
        client.get("/feeds").json(),
        client.get("/healthz").json()["feeds"],
        feed_gauges(client),
    )

    prepare(webdata.context(empty, defs), now=NOW, evaluate=False)

    after = (
        client.get("/feeds").json(),
        client.get("/healthz").json()["feeds"],
        feed_gauges(client),
    )
    assert after == before
    by_state = sum(v for k, v in before[2].items() if k.startswith("monitor_feeds{"))
    assert by_state == len(defs.feeds)  # /metrics counted 0 feeds before a daemon


def feed_gauges(client: TestClient) -> dict[str, float]:
    """/metrics' `monitor_feeds…` lines: {'monitor_feeds{state="ok"}': 3.0, …}."""
    lines = client.get("/metrics").text.splitlines()
    found = (line.rsplit(" ", 1) for line in lines if line.startswith("monitor_feeds"))
    return {name: float(value) for name, value in found}
