"""A feed given another URL in the feeds file starts afresh, as a new feed does: never read. So
an indicator that reads only it is `unknown` until its new address is read, and no surface
claims `quiet` on the strength of a read of the old one. Whole cycles over feeds served on
127.0.0.1, the store on SQLite and PostgreSQL, the statuses as the API and the history show
them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from monitor.domain import QUIET, UNKNOWN, Definitions, Entry
from monitor.match import Matcher
from monitor.metrics import render
from monitor.pipeline import Context, run_cycle
from monitor.store import Added, Store, open_store
from monitor.web import create_app
from tests import twofeeds
from tests.feedserver import FeedServer, Handler, Route
from tests.news import Item, rss
from tests.webdata import settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOTHING = rss("A", [Item("Seoul stocks close higher on chip rally", "https://a.example.com/1")])


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def reads_a(store: Store, definitions: Definitions, now: datetime) -> tuple[str, str]:
    """(status, reason) of `reads-a` as GET /indicators answers at `now`."""
    app = create_app(store=store, definitions=lambda: definitions, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    found = TestClient(app).get("/indicators").json()
    item = next(i for i in found if i["id"] == "reads-a")
    return item["status"], item["reason"]


def here(ctx: Context) -> Context:
    """The cycle's bodies parsed in this process."""
    return replace(ctx, parse_workers=1)


def history(store: Store) -> list[tuple[str, str]]:
    return [(c.old_status, c.new_status) for c in reversed(store.history("reads-a"))]


def moved(tmp_path: Path, feed_server: FeedServer, store: Store, path: str) -> Context:
    """The feeds file now gives feed a the address `path` (b stays); loaded and synced, as a
    reload does, at NOW + 4h."""
    urls = (feed_server.url(path), feed_server.url("/b.xml"))
    definitions = twofeeds.definitions(tmp_path, *urls)
    return here(twofeeds.context(definitions, store, now=NOW + timedelta(hours=4)))  # prepares


def dead_for_hours(tmp_path: Path, feed_server: FeedServer, store: Store) -> datetime:
    """Feed a was read (nothing matched), then answered 404 at every check for hours: reads-a
    is recorded `unknown`. Returns the time of the last check."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    ctx = here(twofeeds.context(twofeeds.definitions(tmp_path, *urls), store, now=NOW))
    run_cycle(ctx, now=NOW)
    feed_server.route("/a.xml", status=404, body=b"moved")
    at = NOW
    for n in range(1, 15):
        at = NOW + n * twofeeds.INTERVAL
        run_cycle(ctx, now=at)
    assert history(store) == [(QUIET, UNKNOWN)]
    return at


def test_a_dead_feed_given_a_new_url_is_never_read_until_that_url_answers(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """The fix for a dead feed is a new URL in the feeds file. The reload recorded `unknown ->
    quiet` at once, before the new address was read (the old one's last read counted), and
    kept it when that address failed too, while the API said `unknown`; now nothing is
    recorded until the new address is read, and every surface says why it is unknown."""
    dead_for_hours(tmp_path, feed_server, store)
    feed_server.route("/a-new.xml", status=404, body=b"not here either")
    ctx = moved(tmp_path, feed_server, store, "/a-new.xml")
    reload_at = NOW + timedelta(hours=4)
    assert history(store) == [(QUIET, UNKNOWN)]  # nothing recorded by the reload
    a = next(f for f in store.feeds() if f.id == "a")
    assert (a.last_success_at, a.last_checked_at, a.failing_since) == (None, None, None)
    assert store.feed_counts(reload_at).never_read == 1
    assert reads_a(store, ctx.definitions, reload_at) == (
        UNKNOWN, "feeds not read: a: never read yet",
    )  # fmt: skip

    run_cycle(ctx, now=reload_at)  # the new address fails as well
    assert history(store) == [(QUIET, UNKNOWN)]
    assert reads_a(store, ctx.definitions, reload_at) == (
        UNKNOWN, "feeds not read: a: never read (fetch: HTTP 404 Not Found)",
    )  # fmt: skip

    feed_server.route("/a-new.xml", body=NOTHING)  # the right address at last
    read_at = reload_at + twofeeds.INTERVAL
    run_cycle(ctx, now=read_at)
    assert history(store) == [(QUIET, UNKNOWN), (UNKNOWN, QUIET)]
    assert store.history("reads-a")[0].at == read_at  # when it was read, not at the reload
    assert reads_a(store, ctx.definitions, read_at) == (QUIET, "")


def test_a_read_feed_given_a_new_url_is_unknown_until_that_url_is_read(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """`quiet` says the feeds were read: not the feed at an address nobody read yet."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    first = twofeeds.context(twofeeds.definitions(tmp_path, *urls), store, now=NOW)
    run_cycle(here(first), now=NOW)
    assert reads_a(store, first.definitions, NOW) == (QUIET, "")

    feed_server.route("/a-new.xml", status=404, body=b"a typo")
    ctx = moved(tmp_path, feed_server, store, "/a-new.xml")
    reload_at = NOW + timedelta(hours=4)
    run_cycle(ctx, now=reload_at)
    assert reads_a(store, ctx.definitions, reload_at) == (
        UNKNOWN, "feeds not read: a: never read (fetch: HTTP 404 Not Found)",
    )  # fmt: skip
    assert history(store) == [(QUIET, UNKNOWN)]  # once the new address was tried
    assert store.history("reads-a")[0].reason == (
        "feeds not read: a: never read (fetch: HTTP 404 Not Found)"
    )
    assert store.history("reads-a")[0].at == reload_at
    # reads-both reads b as well, which was read: its quiet still stands
    assert store.current_statuses()["reads-both"][0] == QUIET


def test_a_read_feed_given_a_new_url_that_answers_changes_no_status(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """Moving a feed to a working address teaches nothing: no change is recorded, none alerted.
    The reload recorded `quiet -> unknown` (a: never read yet) before the new address was
    tried, and the check a moment later `unknown -> quiet`: two alerts for one edit of the
    feeds file. Until it is read the readers still say why they cannot say `quiet`."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    first = twofeeds.context(twofeeds.definitions(tmp_path, *urls), store, now=NOW)
    run_cycle(replace(here(first), alerts=True), now=NOW)
    assert reads_a(store, first.definitions, NOW) == (QUIET, "")

    feed_server.route("/a-new.xml", body=NOTHING)
    ctx = replace(moved(tmp_path, feed_server, store, "/a-new.xml"), alerts=True)
    reload_at = NOW + timedelta(hours=4)
    assert history(store) == []
    assert reads_a(store, ctx.definitions, reload_at) == (
        UNKNOWN, "feeds not read: a: never read yet",
    )  # fmt: skip
    run_cycle(ctx, now=reload_at)

    assert feed_server.hits("/a-new.xml") == 1
    assert history(store) == []
    assert store.pending_alerts() == 0
    assert reads_a(store, ctx.definitions, reload_at) == (QUIET, "")


# ------------------------------------------------ a read of the old address ending after the move

OLD_NEWS = rss("A", [twofeeds.wire(NOW)])  # what the old address still carries: it would match


def two_daemons(
    tmp_path: Path, feed_server: FeedServer, daemon_a: Store, daemon_b: Store
) -> tuple[Context, Callable[[datetime], Context]]:
    """Daemon A's context, feeds a and b read at NOW by it (nothing matched); and how daemon B
    reloads a feeds file giving feed a the address /a-new.xml (which answers) at a time."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    feed_server.route("/a-new.xml", body=NOTHING)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    old = twofeeds.definitions(tmp_path / "old", *urls)
    ctx_a = replace(here(twofeeds.context(old, daemon_a, now=NOW)), owner="daemon-a")
    run_cycle(ctx_a, now=NOW)
    assert reads_a(daemon_a, old, NOW) == (QUIET, "")

    def reload_b(at: datetime) -> Context:
        urls = (feed_server.url("/a-new.xml"), feed_server.url("/b.xml"))
        new = twofeeds.definitions(tmp_path / "new", *urls)
        return replace(here(twofeeds.context(new, daemon_b, now=at)), owner="daemon-b")

    return ctx_a, reload_b


def unread_since_the_move(store: Store, at: datetime, new_url: str) -> None:
    """Feed a is at `new_url`, never read, due at `at` and claimed by no one."""
    a = next(f for f in store.feeds() if f.id == "a")
    assert (a.url, a.last_success_at, a.last_checked_at, a.failing_since) == (
        new_url, None, None, None,
    )  # fmt: skip
    assert (a.next_check_at, a.lease_owner, a.lease_until) == (at, None, None)


def test_a_read_of_the_old_address_that_ends_after_the_move_is_not_stored(
    tmp_path: Path, feed_server: FeedServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Daemon A claims feed a and fetches its address; meanwhile daemon B reloads a feeds file
    that gives a another address. A's read of the old one was stored on the feed as B had just
    reset it: its entries (a match here) and the feed as read, due again in an interval, so
    the new address counted as read though nobody tried it, and was not checked. Now that read
    is left out (a log line says so), counted as dropped, not as checked (the cycle's counts
    and /metrics counted it as read), and B reads the new address at once."""
    with open_store(database_url) as daemon_a, open_store(database_url) as daemon_b:
        ctx_a, reload_b = two_daemons(tmp_path, feed_server, daemon_a, daemon_b)
        later = NOW + timedelta(hours=1)
        reloaded: list[Context] = []

        def moved_while_read(handler: Handler) -> None:
            if not reloaded:  # B reloads while A waits for the old address's answer
                reloaded.append(reload_b(later))
            handler.answer(Route(body=OLD_NEWS))

        feed_server.route("/a.xml", moved_while_read)
        with caplog.at_level(logging.INFO, "monitor.pipeline"):
            report = run_cycle(ctx_a, now=later)

        assert (report.feeds_checked, report.failed, report.errors) == (1, 0, [])
        assert report.dropped == 1
        assert (daemon_b.cycle_totals().feeds_checked, daemon_b.cycle_totals().dropped) == (3, 1)
        assert 'monitor_fetches_total{result="dropped"} 1.0' in render(daemon_b, later).decode()
        unread_since_the_move(daemon_b, later, feed_server.url("/a-new.xml"))
        assert twofeeds.WIRE not in [e.title for _, e, _ in daemon_b.entries_since(NOW)]
        ctx_b = reloaded[0]
        assert reads_a(daemon_b, ctx_b.definitions, later) == (
            UNKNOWN, "feeds not read: a: never read yet",
        )  # fmt: skip
        assert f"read at its old address {feed_server.url('/a.xml')}" in caplog.text
        assert caplog.text.count("not stored (dropped: moved)") == 1

        run_cycle(ctx_b, now=later)  # B's check reads the new address at once
        assert feed_server.hits("/a-new.xml") == 1
        assert reads_a(daemon_b, ctx_b.definitions, later) == (QUIET, "")
        assert history(daemon_b) == []  # nothing learnt, nothing recorded


def test_a_move_right_after_a_read_is_stored_finds_it_stored_whole(
    tmp_path: Path, feed_server: FeedServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The move comes right after the read's entries are stored (the feed still had that
    address). They were stored in one transaction and the fetch recorded in a second, so a
    move between the two left the entries stored and the record out, while the log said the
    read was not stored. Now both are stored in one transaction: the read is stored whole,
    counted as checked, and the move then makes the feed new, its new address due at once."""
    with open_store(database_url) as daemon_a, open_store(database_url) as daemon_b:
        ctx_a, reload_b = two_daemons(tmp_path, feed_server, daemon_a, daemon_b)
        later = NOW + timedelta(hours=1)
        add_news = daemon_a.add_news
        reloaded: list[Context] = []

        def moved_once_stored(*args: Any, **kwargs: Any) -> Added:
            added = add_news(*args, **kwargs)
            reloaded.append(reload_b(later))
            return added

        daemon_a.add_news = moved_once_stored  # type: ignore[method-assign]
        feed_server.route("/a.xml", body=OLD_NEWS)
        with caplog.at_level(logging.INFO, "monitor.pipeline"):
            report = run_cycle(ctx_a, now=later)

        assert len(reloaded) == 1
        assert "not stored" not in caplog.text
        assert (report.feeds_checked, report.new_entries, report.dropped) == (2, 1, 0)
        assert twofeeds.WIRE in [e.title for _, e, _ in daemon_b.entries_since(NOW)]
        unread_since_the_move(daemon_b, later, feed_server.url("/a-new.xml"))
        b = next(f for f in daemon_b.feeds() if f.id == "b")
        assert b.last_checked_at == later  # recorded as ever
        run_cycle(reloaded[0], now=later)
        assert feed_server.hits("/a-new.xml") == 1


class _ReloadingWhileMatched:
    """A's matcher: at its first entry (matched in the transaction that stores the read) B
    reloads, in a thread; it goes on once the reload has ended or waits for a lock."""

    def __init__(self, matcher: Matcher, reload: Callable[[], Context], url: str) -> None:
        self.matcher, self.reload, self.url = matcher, reload, url
        self.reloaded: list[Context] = []
        self.thread: threading.Thread | None = None
        self.waited = False  # the reload waited for a lock while the read was being stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self.matcher, name)

    def match(self, entry: Entry) -> Any:
        if self.thread is None:
            self.thread = threading.Thread(target=lambda: self.reloaded.append(self.reload()))
            self.thread.start()
            ended_or_waits = _until(lambda: not self.thread_alive() or _waits_for_a_lock(self.url))
            self.waited = ended_or_waits and self.thread_alive()
        return self.matcher.match(entry)

    def thread_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Wait until `condition()` holds (True), or `timeout` seconds pass (False)."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        done.wait(0.01)
    return True


def _waits_for_a_lock(url: str) -> bool:
    """Whether a session of the database at `url` waits for a lock (another one holds)."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                             "'Lock' AND datname = current_database()").fetchone()  # fmt: skip
    return bool(found and found[0])


def test_a_reload_while_a_read_is_stored_waits_for_it(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL: daemon B reloads a feeds file moving feed a while daemon A stores its read
    of the old address (matching its entries, in the transaction that stores them). The move
    was committed at once, between A's entries and A's record: the entries stayed stored, the
    record was left out and the log said the read was not stored. Now the feeds' rows are
    locked from the start of that transaction: the reload waits for its commit, so the read is
    stored whole, and the move then makes the feed new, its new address due at once."""
    with open_store(postgres_url) as daemon_a, open_store(postgres_url) as daemon_b:
        ctx_a, reload_b = two_daemons(tmp_path, feed_server, daemon_a, daemon_b)
        later = NOW + timedelta(hours=1)
        hooked = _ReloadingWhileMatched(ctx_a.matcher, lambda: reload_b(later), postgres_url)
        feed_server.route("/a.xml", body=OLD_NEWS)
        with caplog.at_level(logging.INFO, "monitor.pipeline"):
            report = run_cycle(replace(ctx_a, matcher=hooked), now=later)  # type: ignore[arg-type]
        assert hooked.thread is not None
        hooked.thread.join(30)

        assert hooked.waited
        assert len(hooked.reloaded) == 1
        assert "not stored" not in caplog.text
        assert (report.feeds_checked, report.new_entries, report.dropped) == (2, 1, 0)
        assert twofeeds.WIRE in [e.title for _, e, _ in daemon_b.entries_since(NOW)]
        unread_since_the_move(daemon_b, later, feed_server.url("/a-new.xml"))
