"""Two feeds, `a` and `b`, and indicators reading one, the other or both: for the tests of entry
identity (an item is one item of one feed, so the same article in two feeds is two entries)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare
from monitor.store import Store, open_store
from tests import news
from tests.feedserver import FeedServer
from tests.news import Item

INTERVAL = timedelta(minutes=15)
WIRE = "Seoul and Beijing agree visa waiver for tour groups"
WIRE_LINK = "https://wire.example.com/visa-1"
LOCAL = "Busan port sees visa waiver tourists return"
LOCAL_LINK = "https://local.example.org/busan-2"

INDICATOR = """\
id: {id}
group: Tests
title: Visas, as read in {feeds}
question: Is there a visa waiver?
feeds: {{ids: [{feeds}]}}
window: 30d
outcomes:
  - id: waived
    label: A visa waiver
    corroborate: 2
    rule: {{any: [visa waiver]}}
"""
READING = {"reads-a": "a", "reads-b": "b", "reads-both": "a, b"}


def definitions(folder: Path, url_a: str, url_b: str) -> Definitions:
    """Feeds a and b at the given URLs; indicators reads-a, reads-b and reads-both."""
    indicators = folder / "indicators"
    indicators.mkdir(parents=True, exist_ok=True)
    for indicator_id, feeds in READING.items():
        text = INDICATOR.format(id=indicator_id, feeds=feeds)
        (indicators / f"{indicator_id}.yaml").write_text(text)
    feeds = folder / "feeds.yaml"
    lines = [
        f"  - {{id: {i}, url: '{url}', tags: [t]}}\n" for i, url in (("a", url_a), ("b", url_b))
    ]
    feeds.write_text("feeds:\n" + "".join(lines))
    return load_definitions(indicators, feeds)


def context(definitions: Definitions, store: Store, *, now: datetime) -> Context:
    """A daemon's context that has started (or reloaded) with `definitions`: `prepare`d, so
    the stored news inside a new or edited indicator's window is matched against it."""
    ctx = unprepared(definitions, store)
    prepare(ctx, now=now)
    return ctx


def unprepared(definitions: Definitions, store: Store) -> Context:
    """A daemon's context of `definitions` before its start or reload has prepared them."""
    return Context(
        definitions=definitions,
        matcher=Matcher(definitions.indicators),
        store=store,
        limits=FetchLimits(timeout=30, total_timeout=60),  # waited for only by a hang
        check_interval=INTERVAL,
    )


def wire(published: datetime) -> Item:
    """The article both feeds carry."""
    return Item(WIRE, WIRE_LINK, published)


def local(published: datetime) -> Item:
    """An article of another publisher, only in feed a."""
    return Item(LOCAL, LOCAL_LINK, published)


# Fixtures of the tests over the two feeds: `store, two_feeds = twofeeds.store, twofeeds.two_feeds`.


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


@pytest.fixture
def two_feeds(tmp_path: Path, feed_server: FeedServer) -> Definitions:
    return definitions(tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml"))


def serve(feed_server: FeedServer, path: str, *items: news.Item) -> None:
    feed_server.route(path, body=news.rss(path, list(items)))
