"""A change a writer holds back waits for the check that reads the feeds, but not for ever: a feed
no check tries (its lease held by a process that does not get to it) leaves the indicator
`unknown`, recorded once the feed was due for two check intervals, with the reason. Whole cycles
over feeds served on 127.0.0.1, the store on SQLite and PostgreSQL, the time controlled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.domain import QUIET, UNKNOWN, Definitions, utc_text
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import Store, open_store
from monitor.web import create_app
from tests import twofeeds
from tests.feedserver import FeedServer
from tests.news import Item, rss
from tests.webdata import settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTERVAL = twofeeds.INTERVAL
STEP = timedelta(minutes=5)  # the daemon's cycles, while the other process holds feed a
NOTHING = rss("A", [Item("Seoul stocks close higher on chip rally", "https://a.example.com/1")])
OTHER = "web2:4242"  # a daemon that claimed feed a and does not get to it


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def here(ctx: Context) -> Context:
    """The cycle's bodies parsed in this process."""
    return replace(ctx, parse_workers=1)


def reads_a(store: Store, definitions: Definitions, now: datetime) -> tuple[str, str]:
    """(status, reason) of `reads-a` as GET /indicators answers at `now`."""
    app = create_app(store=store, definitions=lambda: definitions, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    found = TestClient(app).get("/indicators").json()
    item = next(i for i in found if i["id"] == "reads-a")
    return item["status"], item["reason"]


def history(store: Store) -> list[tuple[str, str]]:
    return [(c.old_status, c.new_status) for c in reversed(store.history("reads-a"))]


def held_elsewhere(store: Store, at: datetime) -> None:
    """The other daemon holds feed a's lease at `at` (claimed, or renewed as it works on it)."""
    if not store.renew_leases(["a"], owner=OTHER, until=at + STEP):
        claimed = store.due_feeds(at, owner=OTHER, lease=STEP, skip=["b"])
        assert [f.id for f in claimed] == ["a"]


def cycles(ctx: Context, store: Store, start: datetime, end: datetime) -> None:
    """This daemon's cycles every STEP from `start` to `end`, feed a held by the other one."""
    at = start
    while at <= end:
        held_elsewhere(store, at)
        run_cycle(ctx, now=at)
        at += STEP


def test_a_moved_feed_no_check_tries_makes_its_indicator_unknown_after_two_intervals(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """The change to `unknown` of a feed given another URL waits for the check that tries it;
    when none does, it was held for as long as that lasted, the status recorded (and alerted)
    `quiet` while nobody read the feed. Now two intervals after the feed was due it is
    recorded, saying why."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    first = twofeeds.context(twofeeds.definitions(tmp_path, *urls), store, now=NOW)
    run_cycle(here(first), now=NOW)
    assert reads_a(store, first.definitions, NOW) == (QUIET, "")

    feed_server.route("/a-new.xml", body=NOTHING)  # it would answer, were it tried
    reload_at = NOW + timedelta(hours=4)
    moved = twofeeds.definitions(tmp_path, feed_server.url("/a-new.xml"), urls[1])
    ctx = here(twofeeds.context(moved, store, now=reload_at))  # the reload
    bound = reload_at + 2 * INTERVAL
    cycles(ctx, store, reload_at, bound - STEP)
    assert history(store) == []  # held: the check that tries it may come
    assert reads_a(store, moved, bound - STEP) == (UNKNOWN, "feeds not read: a: never read yet")

    cycles(ctx, store, bound, bound + 2 * STEP)

    why = f"feeds not read: a: never read (not tried since {utc_text(reload_at)})"
    assert feed_server.hits("/a-new.xml") == 0
    assert history(store) == [(QUIET, UNKNOWN)]
    (change,) = store.history("reads-a")
    assert (change.at, change.reason) == (bound, why)
    assert reads_a(store, moved, bound + 2 * STEP) == (UNKNOWN, why)  # the readers agree
    assert store.current_statuses()["reads-both"][0] == QUIET  # b was read

    store.release_leases(owner=OTHER)  # the other daemon lets go: the next check reads it
    run_cycle(ctx, now=bound + 3 * STEP)
    assert feed_server.hits("/a-new.xml") == 1
    assert history(store) == [(QUIET, UNKNOWN), (UNKNOWN, QUIET)]


def test_a_moved_feed_tried_by_the_first_check_after_a_restart_changes_no_status(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """A daemon down for a day after the reload that moved a feed: the feed was due all that
    time, yet at start-up nothing is recorded (the check that follows tries it), and that check
    reads it: no `unknown` and back, two alerts for nothing learnt."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    first = twofeeds.context(twofeeds.definitions(tmp_path, *urls), store, now=NOW)
    run_cycle(here(first), now=NOW)
    feed_server.route("/a-new.xml", body=NOTHING)
    moved = twofeeds.definitions(tmp_path, feed_server.url("/a-new.xml"), urls[1])
    twofeeds.context(moved, store, now=NOW + timedelta(hours=1))  # the reload, then down

    back = NOW + timedelta(days=1)
    ctx = here(twofeeds.context(moved, store, now=back))  # the start-up
    assert history(store) == []
    run_cycle(ctx, now=back)
    assert feed_server.hits("/a-new.xml") == 1
    assert history(store) == []
    assert store.pending_alerts() == 0


def test_evidence_that_left_its_window_while_no_check_read_the_feed_ends_in_unknown(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """A daemon back after a night down, feed a held by another daemon that does not get to
    it: the evidence of reads-a left its window meanwhile. `quiet` is held (nobody read the
    feed), and the status recorded stayed `waived:reported` for as long as that lasted while
    the readers said `unknown`. Now the check that finds the feed due for two intervals, and
    not tried, records `unknown`, dated when the readers began to say so."""
    published = NOW - timedelta(days=30) + timedelta(hours=1)  # leaves the 30d window at 10:00
    feed_server.route("/a.xml", body=rss("A", [twofeeds.wire(published)]))
    feed_server.route("/b.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    definitions = twofeeds.definitions(tmp_path, *urls)
    ctx = here(twofeeds.context(definitions, store, now=NOW))
    run_cycle(ctx, now=NOW)
    assert history(store) == [(UNKNOWN, "waived:reported")]  # its first reading

    back = NOW + timedelta(hours=12)  # the daemon starts again; a is held by the other one
    held_elsewhere(store, back)
    assert prepare(ctx, now=back) == []  # the start-up: its check may read a
    unread = f"feeds not read: a: not read since {utc_text(NOW)}"
    assert reads_a(store, definitions, back) == (UNKNOWN, unread)

    run_cycle(ctx, now=back)

    assert feed_server.hits("/a.xml") == 1  # the first cycle's only
    assert history(store) == [(UNKNOWN, "waived:reported"), ("waived:reported", UNKNOWN)]
    change = store.history("reads-a")[0]
    assert (change.at, change.reason) == (NOW + 2 * INTERVAL, unread)  # as the readers said
    assert reads_a(store, definitions, back) == (UNKNOWN, unread)

    store.release_leases(owner=OTHER)
    run_cycle(ctx, now=back + STEP)
    assert history(store)[-1] == (UNKNOWN, QUIET)  # read at last: nothing in the window
