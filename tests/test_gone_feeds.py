"""A feed that answers 410 Gone: marked dead, tried again once a GONE_RETRY, at once by a forced
check or when the feeds file takes it out and puts it back, and read as before once it answers
again. Whole cycles over feeds served on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Feed
from monitor.fetch import GONE_RETRY
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import FeedState, Store, open_store
from tests import news, twofeeds
from tests.conftest import ROOT
from tests.feedserver import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
TAGS = ("korea", "international")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def context(store: Store, feeds: list[Feed], *, now: datetime = NOW) -> Context:
    shipped = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    definitions = Definitions(shipped.indicators, tuple(feeds), shipped.hash)
    return replace(twofeeds.context(definitions, store, now=now), parse_workers=1)


def serve(feed_server: FeedServer) -> list[Feed]:
    feed_server.route("/yonhap.xml", body=news.yonhap(NOW - timedelta(days=1)))
    feed_server.route("/herald.xml", status=410, body=b"gone")
    return [
        Feed("yonhap", feed_server.url("/yonhap.xml"), TAGS),
        Feed("herald", feed_server.url("/herald.xml"), TAGS),
    ]


def herald(store: Store) -> FeedState:
    return next(f for f in store.feeds() if f.id == "herald")


def gone_once(feed_server: FeedServer, store: Store) -> Context:
    """herald answers 410 at NOW, and is dead; then it answers 200 again."""
    ctx = context(store, serve(feed_server))
    run_cycle(ctx, now=NOW)
    gone = herald(store)
    assert (gone.dead, gone.http_status, gone.failing_since) == (True, 410, NOW)
    assert store.feed_counts(NOW).failing_ids == ("herald",)
    feed_server.route("/herald.xml", body=news.herald(NOW - timedelta(days=1)))
    return ctx


def test_a_gone_feed_is_tried_again_after_gone_retry_and_revived_by_an_answer(
    feed_server: FeedServer, store: Store
) -> None:
    ctx = gone_once(feed_server, store)
    assert herald(store).next_check_at == NOW + GONE_RETRY

    just_before = NOW + GONE_RETRY - timedelta(minutes=1)
    assert run_cycle(ctx, now=just_before).feeds_checked == 1  # yonhap alone
    assert feed_server.hits("/herald.xml") == 1

    report = run_cycle(ctx, now=NOW + GONE_RETRY)
    assert feed_server.hits("/herald.xml") == 2 and report.failed == 0
    back = herald(store)
    assert (back.dead, back.failing_since, back.error_count, back.last_error) == (
        False, None, 0, "",
    )  # fmt: skip
    assert back.http_status == 200 and back.last_success_at == NOW + GONE_RETRY
    assert store.feed_counts(NOW + GONE_RETRY).failing == 0


def test_a_forced_check_tries_a_gone_feed(feed_server: FeedServer, store: Store) -> None:
    ctx = gone_once(feed_server, store)
    later = NOW + timedelta(minutes=1)
    report = run_cycle(replace(ctx, force=True), now=later)
    assert report.feeds_checked == 2 and feed_server.hits("/herald.xml") == 2
    assert not herald(store).dead and herald(store).last_success_at == later


def test_a_gone_feed_that_fails_otherwise_is_failing_not_gone(
    feed_server: FeedServer, store: Store
) -> None:
    """Dead says the last answer was 410: another failure backs off as failures do."""
    ctx = gone_once(feed_server, store)
    feed_server.route("/herald.xml", status=503, body=b"busy")
    run_cycle(ctx, now=NOW + GONE_RETRY)
    failing = herald(store)
    assert (failing.dead, failing.http_status, failing.failing_since) == (False, 503, NOW)
    assert failing.error_count == 2
    assert failing.next_check_at == NOW + GONE_RETRY + 2 * twofeeds.INTERVAL  # interval * 2**1


def test_a_feed_taken_out_of_the_feeds_file_and_put_back_starts_afresh(
    feed_server: FeedServer, store: Store
) -> None:
    ctx = gone_once(feed_server, store)
    later = NOW + timedelta(minutes=5)
    feeds = list(ctx.definitions.feeds)
    prepare(context(store, feeds[:1], now=later), now=later)  # herald taken out…
    assert [f.id for f in store.feeds()] == ["yonhap"]
    prepare(ctx, now=later)  # …and put back: due at once, nothing of its past failures kept
    fresh = herald(store)
    assert (fresh.dead, fresh.failing_since, fresh.error_count, fresh.last_error) == (
        False, None, 0, "",
    )  # fmt: skip
    assert fresh.next_check_at == later and store.feed_counts(later).failing == 0

    run_cycle(ctx, now=later)
    assert feed_server.hits("/herald.xml") == 2 and herald(store).last_success_at == later


def test_a_feed_synced_again_unchanged_keeps_its_state(
    feed_server: FeedServer, store: Store
) -> None:
    """A restart or a reload of an unchanged feeds file is no new start: still gone."""
    ctx = gone_once(feed_server, store)
    prepare(ctx, now=NOW + timedelta(minutes=5))
    assert herald(store).dead and herald(store).next_check_at == NOW + GONE_RETRY
