"""A daemon back after days down records no `quiet` its feeds cannot support: evidence that left
its window while nobody read the feeds does not make the indicator `quiet` (a claim that the
feeds were read and nothing matched) until a check reads them, and meanwhile the history and
the API agree (the API says `unknown`: not read since). Whole cycles over a feed served on
127.0.0.1, the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.definitions import load_definitions
from monitor.domain import QUIET, UNKNOWN
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, evaluate_and_record, prepare, run_cycle
from monitor.store import Store, open_store
from monitor.web import create_app
from tests.feedserver import FeedServer
from tests.news import Item, rss
from tests.webdata import settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
WAIVED = "waived:reported"
INDICATOR = """\
id: visa
group: Tests
title: Visas
question: Is there a visa waiver?
window: 30d
outcomes:
  - id: waived
    label: A visa waiver
    corroborate: 2
    rule: {any: [visa waiver]}
"""
# 29 days old at NOW: inside the window then, out of it three days later
STORY = rss("A", [Item("Seoul and Beijing agree visa waiver", "https://wire.example.com/1",
                       NOW - timedelta(days=29))])  # fmt: skip


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def context(folder: Path, url: str, store: Store) -> Context:
    (folder / "indicators").mkdir()
    (folder / "indicators" / "visa.yaml").write_text(INDICATOR)
    (folder / "feeds.yaml").write_text(f"feeds:\n  - {{id: a, url: '{url}'}}\n")
    definitions = load_definitions(folder / "indicators", folder / "feeds.yaml")
    return Context(definitions=definitions, matcher=Matcher(definitions.indicators), store=store,
                   limits=FetchLimits(timeout=30, total_timeout=60), check_interval=INTERVAL,
                   parse_workers=1)  # fmt: skip


def api(ctx: Context, now: datetime) -> tuple[str, str]:
    """(status, reason) of visa as GET /indicators answers at `now`."""
    app = create_app(store=ctx.store, definitions=lambda: ctx.definitions, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    (item,) = TestClient(app).get("/indicators").json()
    return item["status"], item["reason"]


def history(store: Store) -> list[tuple[str, str]]:
    return [(c.old_status, c.new_status) for c in reversed(store.history("visa"))]


def test_back_after_days_down_quiet_is_recorded_only_once_the_feeds_are_read(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    feed_server.route("/a.xml", body=STORY)
    ctx = context(tmp_path, feed_server.url("/a.xml"), store)
    prepare(ctx, now=NOW)
    run_cycle(ctx, now=NOW)
    assert history(store) == [(UNKNOWN, WAIVED)]

    back = NOW + timedelta(days=3)  # the daemon starts again; the story has left its window
    assert prepare(ctx, now=back) == []  # what `monitor run` does at start-up
    not_read = "feeds not read: a: not read since 2026-12-01 09:00 UTC"
    assert history(store) == [(UNKNOWN, WAIVED)]
    assert api(ctx, back) == (UNKNOWN, not_read)

    feed_server.route("/a.xml", status=503, body=b"the network is not up yet")
    first = back + timedelta(seconds=30)
    assert run_cycle(ctx, now=first).changes == []
    assert history(store) == [(UNKNOWN, WAIVED)]
    assert api(ctx, first) == (UNKNOWN, f"{not_read} (fetch: HTTP 503 Service Unavailable)")

    feed_server.route("/a.xml", body=STORY)  # read at last: nothing inside the window
    read = first + INTERVAL
    run_cycle(ctx, now=read)
    assert history(store) == [(UNKNOWN, WAIVED), (WAIVED, QUIET)]
    assert store.history("visa")[0].at == read
    assert api(ctx, read) == (QUIET, "")


def test_a_feed_failing_on_after_the_restart_is_recorded_unknown(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """What is held back is `quiet`, a claim; `unknown` is none: two intervals after its first
    failure the writer records it, as it does for a feed that fails while the daemon runs, and
    no `quiet` comes between."""
    feed_server.route("/a.xml", body=STORY)
    ctx = context(tmp_path, feed_server.url("/a.xml"), store)
    prepare(ctx, now=NOW)
    run_cycle(ctx, now=NOW)
    feed_server.route("/a.xml", status=503, body=b"down")
    back = NOW + timedelta(days=3)
    prepare(ctx, now=back)
    for n in range(4):
        run_cycle(ctx, now=back + n * 2 * INTERVAL)  # back-off: the interval doubles
    assert history(store) == [(UNKNOWN, WAIVED), (WAIVED, UNKNOWN)]
    assert api(ctx, back + 6 * INTERVAL)[0] == UNKNOWN


def test_a_replay_is_not_held_back(tmp_path: Path, feed_server: FeedServer, store: Store) -> None:
    """`monitor replay` re-reads what is stored, when asked: its `quiet` is marked replayed,
    and recorded whether or not a daemon read the feeds lately."""
    feed_server.route("/a.xml", body=STORY)
    ctx = context(tmp_path, feed_server.url("/a.xml"), store)
    prepare(ctx, now=NOW)
    run_cycle(ctx, now=NOW)
    back = NOW + timedelta(days=3)
    prepare(ctx, now=back, evaluate=False)  # as `monitor replay` does
    (change,) = evaluate_and_record(ctx, now=back, replayed=True)
    assert (change.old_status, change.new_status, change.replayed) == (WAIVED, QUIET, True)
