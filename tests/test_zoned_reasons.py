"""The reason of an `unknown` names moments (`failing since 2026-12-05 08:35 UTC`). The page, the
digest and alerts write every time in MONITOR_TIMEZONE and say so ("Times are Asia/Seoul."),
so they write those moments in it too: beside "since 2026-12-05 17:35 KST" the same moment as
"08:35 UTC" read as another one. The API and the CLI keep UTC, as for every time they give.
Feeds on 127.0.0.1, a SQLite file, real cycles at a fixed clock, the page over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from monitor import web
from monitor.alerttext import build_alert
from monitor.daily import digest_input
from monitor.digest import render
from monitor.domain import Definitions
from monitor.pipeline import run_cycle
from monitor.store import Store
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.webdata import settings

store = twofeeds.store

SEOUL = "Asia/Seoul"
READ = datetime(2026, 12, 5, 8, 20, tzinfo=UTC)
FAILED = READ + twofeeds.INTERVAL  # 08:35 UTC, 17:35 in Seoul
LATER = FAILED + 3 * twofeeds.INTERVAL  # failing for longer than two intervals: unknown
REASON = (
    "feeds not read: a: failing since 2026-12-05 08:35 UTC (fetch: HTTP 503 Service Unavailable)"
)
IN_SEOUL = REASON.replace("08:35 UTC", "17:35 KST")


@pytest.fixture
def failing(tmp_path: Path, feed_server: FeedServer, store: Store) -> Definitions:
    """reads-a, quiet after a first reading of feed a, then unknown: a answers 503 since."""
    definitions = twofeeds.definitions(
        tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml")
    )
    feed_server.route("/a.xml", body=news.rss("a", []))
    feed_server.route("/b.xml", status=404)
    ctx = twofeeds.context(definitions, store, now=READ)
    run_cycle(ctx, now=READ)
    feed_server.route("/a.xml", status=503)
    for moment in (FAILED, FAILED + twofeeds.INTERVAL, LATER):
        run_cycle(ctx, now=moment)
    assert store.current_statuses()["reads-a"][0] == "unknown"
    return definitions


@pytest.fixture
def page(failing: Definitions, store: Store) -> Iterator[TestClient]:
    app = web.create_app(
        store=store,
        definitions=lambda: failing,
        settings=settings(timezone=SEOUL),
        clock=lambda: LATER,
    )
    with TestClient(app) as client:
        yield client


def test_the_page_writes_the_moments_of_a_reason_in_its_time_zone(page: TestClient) -> None:
    index = page.get("/").text
    one = page.get("/indicators/reads-a/page").text

    assert "Times are Asia/Seoul." in index
    assert f"⚠ unknown — {IN_SEOUL}" in index
    assert f"⚠ unknown — {IN_SEOUL}" in one
    assert f'because <span dir="auto">{IN_SEOUL}</span>' in one  # the change in its history
    assert "08:35 UTC" not in index + one
    # The API gives the reason as recorded, in UTC like every time it gives.
    assert page.get("/indicators/reads-a").json()["reason"] == REASON


def test_the_digest_writes_the_moments_of_a_reason_in_its_time_zone(
    failing: Definitions, store: Store
) -> None:
    data = digest_input(failing, store, day=LATER.date(), now=LATER, timezone=SEOUL)
    text, html = render(data)

    assert "08:35 UTC" not in text and "08:35 UTC" not in html
    lines = " ".join(text.split())  # the text part is wrapped
    assert f"because {IN_SEOUL}" in lines  # what changed
    assert f"status unknown since 2026-12-05 18:05 KST: {IN_SEOUL}" in lines  # feed health
    assert IN_SEOUL in html


def test_an_alert_writes_the_moments_of_a_reason_in_its_time_zone(
    failing: Definitions, store: Store
) -> None:
    (change,) = [c for c in store.history("reads-a") if c.new_status == "unknown"]

    alert = build_alert(change, "Visas, as read in a", zone=ZoneInfo(SEOUL))

    assert change.reason == REASON
    assert alert.body.splitlines()[1:3] == ["quiet → ⚠ unknown (2026-12-05 18:05 KST)", IN_SEOUL]
    assert build_alert(change, "Visas").body.splitlines()[2] == REASON  # in UTC: as it is


def test_a_moment_a_zone_cannot_hold_is_left_as_written() -> None:
    from monitor.domain import zoned_text

    edge = "not read since 9999-12-31 23:30 UTC"
    assert zoned_text(edge, ZoneInfo(SEOUL)) == edge
    assert zoned_text(REASON, UTC) == REASON
    assert zoned_text(REASON, ZoneInfo("America/New_York")) == REASON.replace(
        "08:35 UTC", "03:35 EST"
    )
