"""A cycle's fetches as a sliding window, its deadline and its leases, with feeds served on
127.0.0.1 and a store on SQLite and on PostgreSQL: one slow feed holds up no other (neither
their fetches nor the storing of their news), a cycle past its deadline releases what it did
not check, and a claim worked on for longer than its lease is never taken by a second daemon.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Feed
from monitor.fetch import FeedRequest, FetchLimits, FetchResult, FetchStatus
from monitor.pipeline import Context, run_cycle
from monitor.store import Store, open_store
from tests import news, twofeeds
from tests.conftest import ROOT
from tests.feedserver import FeedServer, Route, _RequestHandler
from tests.storeops import lease_until
from tests.test_shutdown import wait_for

NOW = datetime.now(UTC).replace(microsecond=0)
ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip
BODY = news.yonhap(NOW - timedelta(days=1))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def context(store: Store, feeds: list[Feed], **changes: object) -> Context:
    shipped = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    definitions = Definitions(shipped.indicators, tuple(feeds), shipped.hash)
    changes = {"parse_workers": 1, **changes}  # parsed here unless a test says otherwise
    return replace(twofeeds.context(definitions, store, now=NOW), **changes)  # type: ignore[arg-type]


def held_until(event: threading.Event, server: FeedServer) -> object:
    """A route answering only once `event` is set (or giving up when the server stops)."""

    def handler(h: _RequestHandler) -> None:
        if event.wait(60) and not server.stopping.is_set():
            h.answer(Route(body=BODY))

    return handler


def test_a_slow_feed_holds_up_no_other_feed_of_the_cycle(
    feed_server: FeedServer, store: Store
) -> None:
    """The slow feed answers only once every other feed was asked for: with fetches in
    batches that wait for their slowest member, the feeds past its batch never would be."""
    others = [f"f{n:02}" for n in range(40)]
    everyone_asked = threading.Event()

    def slow(h: _RequestHandler) -> None:
        if feed_server.wait_until(lambda s: len(s.requests) == 41, timeout=30):
            everyone_asked.set()
        h.answer(Route(body=BODY))

    feed_server.route("/a-slow.xml", slow)
    for name in others:
        feed_server.route(f"/{name}.xml", body=BODY)
    feeds = [Feed(n, feed_server.url(f"/{n}.xml"), ALL_TAGS) for n in ["a-slow", *others]]

    limits = FetchLimits(timeout=60, total_timeout=60)
    report = run_cycle(context(store, feeds, limits=limits), now=NOW)

    assert everyone_asked.is_set()
    assert report.feeds_checked == 41 and report.failed == 0
    assert all(f.last_success_at is not None for f in store.feeds())


def read(store: Store) -> set[str]:
    """The feeds with a fetch recorded as read."""
    return {f.id for f in store.feeds() if f.last_success_at is not None}


@pytest.mark.parametrize("workers", [1, 2], ids=["parsed-here", "parse-workers"])
def test_a_hanging_feed_keeps_back_no_other_feeds_news(
    feed_server: FeedServer, store: Store, workers: int
) -> None:
    """While one feed hangs (its server answers only once the test says so), what the others
    brought is stored and can be read from the store; so a daemon stopped or killed in that
    wait keeps it. Once the hanging feed answers, the cycle ends with its entries too."""
    answer = threading.Event()
    feed_server.route("/a-held.xml", held_until(answer, feed_server))
    others = {"b", "c", "d"}
    for name in others:
        feed_server.route(f"/{name}.xml", body=BODY)
    names = ["a-held", *sorted(others)]
    feeds = [Feed(n, feed_server.url(f"/{n}.xml"), ALL_TAGS) for n in names]
    limits = FetchLimits(timeout=60, total_timeout=60)
    ctx = context(store, feeds, limits=limits, parse_workers=workers)

    def stored() -> set[str]:
        return {entry.feed_id for _id, entry, _seen in store.entries_since(NOW - timedelta(days=7))}

    reports = []
    worker = threading.Thread(target=lambda: reports.append(run_cycle(ctx, now=NOW)))
    worker.start()
    try:
        # The entries are stored first, then the fetches are recorded, in a second transaction.
        wait_for(
            lambda: (stored(), read(store), feed_server.hits("/a-held.xml")) == (others, others, 1),
            60,
            "the entries and fetches of the feeds that answered, and the held feed asked for",
        )
        state = {f.id: f for f in store.feeds()}
        assert state["a-held"].last_checked_at is None and lease_until(store, "a-held") is not None
        assert worker.is_alive()
    finally:
        answer.set()
        worker.join(30)
    assert reports and reports[0].feeds_checked == 4 and reports[0].failed == 0
    assert reports[0].new_entries == 4 * 3
    assert stored() == set(names)


def test_a_cycle_past_its_deadline_releases_what_it_did_not_check(
    feed_server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    answer = threading.Event()
    now = [NOW]
    deadline = timedelta(minutes=10)

    def held(h: _RequestHandler) -> None:
        # Once the four others were asked for, the cycle's time is up.
        if feed_server.wait_until(lambda s: len(s.requests) == 5, timeout=30):
            now[0] = NOW + deadline
        if answer.wait(60) and not feed_server.stopping.is_set():
            h.answer(Route(body=BODY))

    feed_server.route("/a-held.xml", held)
    for n in range(4):
        feed_server.route(f"/f{n}.xml", body=BODY)
    names = ["a-held", *(f"f{n}" for n in range(4))]
    feeds = [Feed(n, feed_server.url(f"/{n}.xml"), ALL_TAGS) for n in names]
    ctx = context(store, feeds, cycle_deadline=deadline)

    with caplog.at_level(logging.WARNING, logger="monitor.pipeline"):
        report = run_cycle(ctx, now=NOW, clock=lambda: now[0])
    answer.set()

    # The clock jumps once the server was asked for all five; an answer the cycle had not yet
    # taken by then is released too, so how many were checked depends on the machine's pace.
    state = {f.id: f for f in store.feeds()}
    checked = {i for i, f in state.items() if f.last_checked_at is not None}
    assert "a-held" not in checked
    assert report.feeds_checked == len(checked)
    assert all(state[i].last_success_at is not None for i in checked)
    assert state["a-held"].next_check_at is not None and state["a-held"].next_check_at <= NOW
    released = len(names) - len(checked)
    unchecked = f"{released} feed{'' if released == 1 else 's'} released unchecked"
    assert f"deadline of 0:10:00 passed; {unchecked}" in caplog.text
    # Released: another daemon may claim them at once.
    due = store.due_feeds(NOW + deadline, owner="other", lease=timedelta(minutes=5))
    assert {d.id for d in due} == set(names) - checked


def test_a_claim_worked_on_past_its_lease_is_not_taken_by_another_daemon(
    feed_server: FeedServer, store: Store
) -> None:
    """The cycles run on a clock the test moves, so no pace of the machine decides the outcome:
    the clock passes the claim's lease many times over while a feed is still being fetched,
    and the test waits until the renewing thread has read that clock before a second daemon
    looks (the thread renews every third of a lease of wall time; only how soon it does so
    depends on the machine)."""
    answer = threading.Event()
    feed_server.route("/a-held.xml", held_until(answer, feed_server))
    feed_server.route("/b.xml", body=BODY)
    feeds = [Feed(n, feed_server.url(f"/{n}.xml"), ALL_TAGS) for n in ("a-held", "b")]
    lease = timedelta(seconds=0.3)
    limits = FetchLimits(timeout=60, total_timeout=60)
    first = context(store, feeds, owner="first", lease=lease, limits=limits)
    now = [NOW]
    reports = []
    worker = threading.Thread(
        target=lambda: reports.append(run_cycle(first, now=NOW, clock=lambda: now[0]))
    )
    worker.start()
    try:
        assert feed_server.wait_until(lambda s: s.hits("/a-held.xml") == 1)
        assert lease_until(store, "a-held") == NOW + lease  # as claimed
        now[0] = NOW + 100 * lease  # the claim's lease ran out long ago, by the cycle's clock
        pause = threading.Event()  # never set: waited on between looks
        for _ in range(1200):  # a minute at most: only a hang takes that long
            if lease_until(store, "a-held") == now[0] + lease or pause.wait(0.05):
                break
        assert lease_until(store, "a-held") == now[0] + lease, "the lease was never renewed"

        taken: list[str] = []

        def second_fetch(requests: Sequence[FeedRequest]) -> list[FetchResult]:
            taken.extend(r.feed_id for r in requests)
            return [FetchResult(r.feed_id, r.url, FetchStatus.NOT_MODIFIED, 304) for r in requests]

        second = replace(first, owner="second", fetcher=second_fetch)
        report = run_cycle(second, now=now[0], clock=lambda: now[0])
        assert taken == [] and report.feeds_checked == 0
    finally:
        answer.set()
        worker.join(30)
    assert reports and reports[0].feeds_checked == 2 and reports[0].failed == 0
    assert feed_server.hits("/a-held.xml") == 1
