"""`monitor export history` (GET /export/history) over a daemon's first moments, on SQLite and
PostgreSQL: the daemon makes each indicator's state when it starts and reads the feeds in its
first cycle a moment later. That moment was exported as a stretch of its own, `unknown` from
10:00:07Z until 10:00:07Z, at the head of every indicator's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor import views
from monitor.domain import Definitions, StatusChange
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import Store
from tests.test_daily import definitions, store

__all__ = ["definitions", "store"]  # fixtures: the shipped indicators on two local feeds


def test_a_daemons_first_cycle_a_moment_after_its_start_leaves_no_empty_stretch(
    definitions: Definitions, store: Store
) -> None:
    start = datetime.now(UTC).replace(microsecond=100_000)  # the news is 3 hours old
    ctx = Context(definitions, Matcher(definitions.indicators), store, FetchLimits(timeout=30))
    prepare(ctx, now=start)  # the daemon's start
    run_cycle(ctx, now=start + timedelta(milliseconds=400))  # its first cycle

    rows = list(views.exported("history", definitions, store, indicator_id="visa-easing"))

    assert [(r.status, r.until) for r in rows] == [("eased:confirmed", None)]
    assert all(r.until is None or r.until > r.since for r in rows)


def test_a_stretch_of_whole_seconds_is_kept() -> None:
    """A status that held for a second or more is a stretch, whatever its fractions."""
    at = datetime(2026, 12, 7, 10, 0, 7, 900_000, tzinfo=UTC)
    change = StatusChange("x", at + timedelta(milliseconds=200), "unknown", "a:reported", (), "h")
    found = list(views.periods("x", [change], started=at, current=None))
    assert [p.status for p in found] == ["unknown", "a:reported"]  # 10:00:07 until 10:00:08
