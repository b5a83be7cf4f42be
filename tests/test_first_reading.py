"""An indicator's first check fails (no feed read), a later one reads its feeds and finds
nothing: that first reading records no change (`quiet` is not news), yet every view of the
indicator's past says it was `unknown` until then, as for an indicator whose first reading did
record a change — `export history` (CLI and HTTP), the page's timeline and the status it held
at a past moment (a past day's digest). Real databases (SQLite and PostgreSQL), written
through the store's own `record_changes`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.domain import INITIAL, QUIET, UNKNOWN, Definitions, StatusChange
from monitor.domain import iso_time as iso
from monitor.standing import indicator_views_at
from monitor.store import Store, open_store
from monitor.timeline import look, timeline
from monitor.views import indicator_views
from monitor.web import create_app
from tests.webdata import NOW, WEB, definitions, settings

STARTED = NOW - timedelta(hours=3)  # the first check: every fetch failed, nothing recorded
READ = STARTED + timedelta(minutes=4)  # the feeds first read
DOWN = READ + timedelta(minutes=13)  # every feed failing for two intervals
QUIET_ONE, MOVED_ONE = "business-investment", "flight-routes"


@pytest.fixture
def defs() -> Definitions:
    return definitions()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.ensure_indicators([QUIET_ONE, MOVED_ONE], now=STARTED)
        first = [
            StatusChange(QUIET_ONE, READ, INITIAL, QUIET, (), "h"),  # not news: no row
            StatusChange(MOVED_ONE, READ, INITIAL, "expanded:reported", (), "h"),
        ]
        down = [StatusChange(i, DOWN, s, UNKNOWN, (), "h", reason="feeds not read: x")
                for i, s in ((QUIET_ONE, QUIET), (MOVED_ONE, "expanded:reported"))]  # fmt: skip
        assert len(opened.record_changes(first)) == 1
        assert len(opened.record_changes(down)) == 2
        yield opened


def _history(database_url: str, indicator_id: str) -> list[tuple[str, str, str]]:
    env = {"MONITOR_DATABASE_URL": database_url, "MONITOR_INDICATORS_DIR": str(WEB / "indicators"),
           "MONITOR_FEEDS_FILE": str(WEB / "feeds.yaml")}  # fmt: skip
    args = ["export", "history", "--indicator", indicator_id]
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = csv.DictReader(io.StringIO(result.stdout_bytes.decode(), newline=""))
    return [(r["status"], r["since"], r["until"]) for r in table]


@pytest.mark.parametrize("indicator_id", [QUIET_ONE, MOVED_ONE])
def test_export_history_is_unknown_until_the_feeds_were_first_read(
    database_url: str, store: Store, defs: Definitions, indicator_id: str
) -> None:
    read = "quiet" if indicator_id == QUIET_ONE else "expanded:reported"
    expected = [
        ("unknown", iso(STARTED), iso(READ)),
        (read, iso(READ), iso(DOWN)),
        ("unknown", iso(DOWN), ""),
    ]
    assert _history(database_url, indicator_id) == expected
    app = create_app(store=store, definitions=lambda: defs, settings=settings(), clock=lambda: NOW)
    answer = TestClient(app).get(
        "/export/history", params={"indicator": indicator_id, "format": "json"}
    )
    assert [(p["status"], p["since"], p["until"] or "") for p in answer.json()] == expected


def test_an_indicator_only_ever_quiet_was_unknown_until_first_read(
    database_url: str, defs: Definitions
) -> None:
    with open_store(database_url) as store:
        store.ensure_indicators([QUIET_ONE], now=STARTED)
        assert store.record_changes([StatusChange(QUIET_ONE, READ, INITIAL, QUIET, (), "h")]) == []
        assert _history(database_url, QUIET_ONE) == [
            ("unknown", iso(STARTED), iso(READ)),
            ("quiet", iso(READ), ""),
        ]


def test_the_timeline_and_the_status_at_a_past_moment_agree(
    store: Store, defs: Definitions
) -> None:
    views = {v.id: v for v in indicator_views(defs, store, now=NOW)}
    drawn = {}
    for indicator_id, read in ((QUIET_ONE, QUIET), (MOVED_ONE, "expanded:reported")):
        view, changes = views[indicator_id], store.history(indicator_id)
        line = timeline(defs, indicator_id, changes, view.status, now=NOW, zone=UTC,
                        started=view.started, first_read=view.first_read)  # fmt: skip
        codes = [look(defs, indicator_id, s).code for s in (UNKNOWN, read, UNKNOWN)]
        assert [s.status.code for s in line.segments] == codes
        assert line.changes == len(changes)  # the first reading marks no change
        drawn[indicator_id] = [(s.x, s.width) for s in line.segments]
        before = {v.id: v for v in indicator_views_at(defs, store, at=READ - timedelta(minutes=1))}
        after = {v.id: v for v in indicator_views_at(defs, store, at=READ + timedelta(minutes=1))}
        assert (before[indicator_id].status, before[indicator_id].since) == (UNKNOWN, STARTED)
        assert (after[indicator_id].status, after[indicator_id].since) == (read, READ)
    assert drawn[QUIET_ONE] == drawn[MOVED_ONE]  # the same stretches
