"""A read is stored only while its reader holds the feed's lease. A daemon whose lease ran out
mid-fetch (a slow feed, a paused process) finds the feed claimed by another, which reads and
records it; the first one's read, ending after, is left out whole: neither its entries nor the
feed as it read it, counted as dropped, not as checked. Two store handles on one database (two
daemons, or `monitor check` beside a daemon on SQLite), whole cycles over feeds served on
127.0.0.1, the clock set per cycle."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cycle import CycleReport
from monitor.domain import Definitions
from monitor.fetch import FetchLimits
from monitor.metrics import render
from monitor.pipeline import Context, run_cycle
from monitor.store import Store, open_store
from tests import twofeeds
from tests.feedserver import FeedServer, Handler, Route
from tests.news import Item, rss

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)  # A's cycle claims both feeds, leased for 5 minutes
TAKEN = LATER + timedelta(minutes=6)  # B's cycle: A's leases ran out, A still reading
ANSWERED = TAKEN + timedelta(minutes=1)  # when A is answered (its cycle's deadline: 10 minutes)
CHIPS = Item("Seoul stocks close higher on chip rally", "https://a.example.com/1")
FIRST = rss("A", [CHIPS])
# What A is answered late: an item that matches (since taken down), under its own validators.
STALE = Route(body=rss("A", [CHIPS, twofeeds.local(NOW)]), etag='"stale"',
              last_modified="Tue, 01 Dec 2026 10:00:00 GMT")  # fmt: skip
FRESH = Route(body=rss("A", [CHIPS]) + b"\n", etag='"fresh"',
              last_modified="Tue, 01 Dec 2026 10:10:00 GMT")  # fmt: skip


def daemon(definitions: Definitions, store: Store, owner: str) -> Context:
    """A daemon's context: bodies parsed in this process, one fetch at a time (so A's second
    feed waits for its first, and is claimed by B meanwhile too)."""
    ctx = twofeeds.context(definitions, store, now=NOW)
    limits = FetchLimits(timeout=30, total_timeout=60, concurrency=1)
    return replace(ctx, owner=owner, parse_workers=1, limits=limits)


@contextmanager
def lease_taken_while_read(
    tmp_path: Path, feed_server: FeedServer, database_url: str, late: Route
) -> Iterator[tuple[CycleReport, Store]]:
    """Daemon A reads feeds a and b at NOW; at LATER it claims both and waits for a's answer
    past its lease, while daemon B claims both at TAKEN, reads them (a answers FRESH) and
    records them; then A is answered `late`. A's report, and B's store."""
    feed_server.route("/b.xml", body=FIRST)
    feed_server.route("/a.xml", body=FIRST)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    definitions = twofeeds.definitions(tmp_path, *urls)
    with open_store(database_url) as store_a, open_store(database_url) as store_b:
        ctx_a = daemon(definitions, store_a, "web1:100")
        ctx_b = daemon(definitions, store_b, "web2:200")
        run_cycle(ctx_a, now=NOW)  # both read once: nothing matched
        taken: list[CycleReport] = []
        started = threading.Event()

        def slow(handler: Handler) -> None:
            if started.is_set():  # B's request
                handler.answer(FRESH)
                return
            started.set()
            taken.append(run_cycle(ctx_b, now=TAKEN))  # while A waits for this answer
            handler.answer(late)

        feed_server.route("/a.xml", slow)
        report = run_cycle(ctx_a, now=LATER, clock=lambda: ANSWERED if taken else LATER)
        assert feed_server.hits("/a.xml") == 3 and feed_server.hits("/b.xml") == 3
        assert (taken[0].feeds_checked, taken[0].dropped) == (2, 0)
        yield report, store_b


@pytest.mark.parametrize("late", [STALE, Route(status=503)], ids=["read", "failing"])
def test_a_read_whose_lease_was_taken_meanwhile_is_not_stored(
    tmp_path: Path,
    feed_server: FeedServer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    late: Route,
) -> None:
    """Daemon A claims feeds a and b and waits for a's answer past its lease; daemon B claims
    both, reads them and records them; then A's answer comes (a body since changed, or an
    error). A's reads were stored over B's: the feed as A read it (failing though B read it
    well, checked earlier than it was), A's entries (an item B no longer found, which
    matched), and each read counted twice. Now A's reads are left out, logged and counted as
    dropped: the feeds are as B read them. A's error is not logged as the feed failing (`feed a
    failed: …`, a WARNING beside a cycle that counts no failure): the feed is not failing."""
    with (
        caplog.at_level(logging.INFO, "monitor.pipeline"),
        lease_taken_while_read(tmp_path, feed_server, database_url, late) as (report, store),
    ):
        a = next(f for f in store.feeds() if f.id == "a")
        assert (a.last_checked_at, a.last_success_at, a.next_check_at) == (
            TAKEN, TAKEN, TAKEN + twofeeds.INTERVAL,
        )  # fmt: skip
        assert (a.http_status, a.failing_since, a.error_count, a.last_error) == (200, None, 0, "")
        assert (a.lease_owner, a.lease_until) == (None, None)
        b = next(f for f in store.feeds() if f.id == "b")
        assert (b.last_checked_at, b.lease_owner) == (TAKEN, None)
        titles = [e.title for _, e, _ in store.entries_since(NOW - timedelta(days=1))]
        assert twofeeds.LOCAL not in titles
        assert store.history("reads-a") == []  # nothing matched, no status moved
        assert (report.feeds_checked, report.failed, report.errors) == (0, 0, [])
        assert report.dropped == 2
        for feed in ("a", "b"):
            assert caplog.text.count(f"feed {feed} was read after its lease ran out") == 1
        assert caplog.text.count("not stored (dropped: lease taken)") == 2
        assert "feed a failed" not in caplog.text
        totals = store.cycle_totals()
        assert (totals.cycles, totals.feeds_checked, totals.dropped) == (3, 4, 2)
        metrics = render(store, TAKEN).decode()
        assert 'monitor_fetches_total{result="dropped"} 2.0' in metrics


def test_the_next_check_asks_with_the_lease_holders_validators(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    """A's dropped read leaves B's validators on the feed: the next check of a asks with the
    ETag B was answered with (and gets a 304), not with the one A was."""
    with lease_taken_while_read(tmp_path, feed_server, database_url, STALE) as (_, store):
        feed_server.routes["/a.xml"] = FRESH
        urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
        ctx = daemon(twofeeds.definitions(tmp_path / "again", *urls), store, "web2:200")
        report = run_cycle(ctx, now=TAKEN + 2 * twofeeds.INTERVAL)

        asked = [r.headers.get("if-none-match") for r in feed_server.requests if r.path == "/a.xml"]
        assert asked[-1] == '"fresh"'
        assert (report.feeds_checked, report.not_modified) == (2, 2)
