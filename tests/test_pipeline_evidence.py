"""A daemon keeps its evidence reads and story clusters from cycle to cycle, yet its statuses
follow what other daemons store and what `monitor replay` replaces on the same database, and
equal those of a daemon that starts afresh. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Entry, Status, StatusChange
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import (
    Context,
    evaluate_and_record,
    prepare,
    rematch,
    store_entries,
)
from monitor.statuses import evaluate_all, readers_of
from monitor.store import Store, open_store
from monitor.stories import _stories_of
from tests import news
from tests.conftest import ROOT
from tests.readfeeds import read_once

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def shipped() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


def context(definitions: Definitions, store: Store) -> Context:
    ctx = Context(definitions, Matcher(definitions.indicators), store, FetchLimits())
    prepare(ctx, now=NOW)
    read_once(ctx, now=NOW)
    return ctx


def visa_news(feed_id: str, age: timedelta = timedelta(hours=1)) -> list[Entry]:
    """Two publishers reporting two visa stories: visa-easing is `eased:confirmed`."""
    return [
        Entry(feed_id, "y1", "https://en.yna.co.kr/view/AEN1", news.VISA_YONHAP, "", NOW - age,
              "yna.co.kr"),
        Entry(feed_id, "h1", "https://www.koreaherald.com/view/1", news.VISA_HERALD, "",
              NOW - age, "koreaherald.com"),
    ]  # fmt: skip


def statuses(changes: Sequence[StatusChange]) -> dict[str, str]:
    return {c.indicator_id: c.new_status for c in changes}


def test_a_daemon_follows_what_others_store_and_replay(
    shipped: Definitions, database_url: str
) -> None:
    feed = shipped.feeds_for(shipped.indicator("visa-easing"))[0]
    with open_store(database_url) as mine, open_store(database_url) as theirs:
        daemon, other = context(shipped, mine), context(shipped, theirs)
        assert evaluate_and_record(daemon, now=NOW) == []

        store_entries(other, visa_news(feed), now=NOW)
        changes = evaluate_and_record(daemon, now=NOW + MINUTE)
        assert statuses(changes) == {"visa-easing": "eased:confirmed"}
        assert evaluate_and_record(daemon, now=NOW + 2 * MINUTE) == []

        # `monitor replay` with definitions that no longer have the indicator's outcome
        without = tuple(i for i in shipped.indicators if i.id != "visa-easing")
        replay = context(Definitions(without, shipped.feeds, "replayed"), theirs)
        assert rematch(replay, NOW - DAY) == (2, 0)
        changes = evaluate_and_record(daemon, now=NOW + 3 * MINUTE)
        assert statuses(changes) == {"visa-easing": "quiet"}


def by_id(found: list[Status]) -> dict[str, Status]:
    return {s.indicator_id: s for s in found}


def test_statuses_from_kept_evidence_equal_fresh_ones_as_time_passes(
    shipped: Definitions, database_url: str
) -> None:
    """Evidence is kept from an earlier, wider read; each cycle still counts only what is
    inside each indicator's window at its own time."""
    feed = shipped.feeds_for(shipped.indicator("visa-easing"))[0]
    with open_store(database_url) as store:
        ctx = context(shipped, store)
        store_entries(ctx, visa_news(feed, DAY)[:1] + visa_news(feed, 20 * DAY)[1:], now=NOW)
        for days in (0, 5, 10, 15, 25, 35, 70):
            now = NOW + days * DAY
            kept = evaluate_all(shipped, store, now=now)
            with open_store(database_url) as afresh:
                assert by_id(kept) == by_id(evaluate_all(shipped, afresh, now=now)), days
        visa = [by_id(evaluate_all(shipped, store, now=NOW + d * DAY)) for d in (0, 15, 35)]
        assert [v["visa-easing"].status for v in visa] == [
            "eased:confirmed",
            "eased:reported",
            "quiet",
        ]


def test_who_reads_what_is_worked_out_once_per_definitions(shipped: Definitions) -> None:
    """Kept per feeds and feed selections: equal definitions hit, other feeds miss."""
    assert readers_of(shipped) is readers_of(shipped)
    assert readers_of(replace(shipped)) is readers_of(shipped)  # equal, not the same object
    first = shipped.feeds[0]
    reloaded = Definitions(shipped.indicators, (first,), shipped.hash)
    assert set(readers_of(reloaded)) == {first.id}
    assert readers_of(reloaded)[first.id] == readers_of(shipped)[first.id]
    assert len(readers_of(shipped)) == len(shipped.feeds)


def test_kept_stories_follow_the_match_version_not_the_objects(
    shipped: Definitions, database_url: str
) -> None:
    """Evidence read again into new, equal objects (another store reading the same version
    would do the same) still finds its stories kept; a new match moves the version and
    misses."""
    feed = shipped.feeds_for(shipped.indicator("visa-easing"))[0]
    with open_store(database_url) as store:
        ctx = context(shipped, store)
        store_entries(ctx, visa_news(feed), now=NOW)
        first = evaluate_all(shipped, store, now=NOW)
        before = store.evidence_read(None, NOW - DAY)
        store._evidence_kept = None  # read the same matches again, into new objects
        again = store.evidence_read(None, NOW - DAY)
        assert again.version == before.version and again.found == before.found
        assert again.found["visa-easing"][0] is not before.found["visa-easing"][0]
        _stories_of.cache_clear()
        evaluate_all(shipped, store, now=NOW)
        missed = _stories_of.cache_info().misses
        store._evidence_kept = None
        assert by_id(evaluate_all(shipped, store, now=NOW)) == by_id(first)
        assert _stories_of.cache_info().misses == missed
        assert _stories_of.cache_info().hits >= 1

        link = "https://en.yna.co.kr/view/AEN2"
        more = Entry(feed, "y2", link, news.VISA_YONHAP, "", NOW - MINUTE, "yna.co.kr")
        store_entries(ctx, [more], now=NOW)  # one more match
        assert store.evidence_read(None, NOW - DAY).version != before.version
        evaluate_all(shipped, store, now=NOW)
        assert _stories_of.cache_info().misses > missed
