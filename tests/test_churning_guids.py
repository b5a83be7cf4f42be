"""Some CMSs write a new guid (or, without guids, a new session or tracking parameter into the
link) for every item at every request: the same items were stored again at every check, as
new entries that kept the feed from ever going silent. An item of a feed whose stored entry
has its link (without tracking parameters), headline and text is that entry, and the feed's
warning says so. Feeds served on 127.0.0.1; SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, inspect

from monitor import migrate
from monitor.domain import Definitions, Entry
from monitor.feedreads import known_again
from monitor.identity import item_key, untracked
from monitor.pipeline import run_cycle
from monitor.store import Store, metadata, open_store, schema_differences, upgrade
from monitor.views import indicator_views
from monitor.webmodels import IndicatorDetailOut
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer, Handler
from tests.test_migrations import _rows, _sql, rewound
from tests.twofeeds import INTERVAL

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
STORIES = [
    (twofeeds.WIRE, "https://wire.example.com/visa-1", "Tour groups may enter without a visa."),
    (twofeeds.LOCAL, "https://wire.example.com/busan-2", "Ferries brought the first groups."),
    ("Seoul stocks close higher", "https://wire.example.com/stocks-3", "KOSPI up 1%."),
]


store, two_feeds = twofeeds.store, twofeeds.two_feeds  # fixtures


def churning(change: str, stories: list[tuple[str, str, str]]) -> Handler:
    """A feed of `stories` whose items get a new guid (`change` "guid"), or have none and get a
    new session and tracking parameter in their link ("link"), at every request."""
    requests = itertools.count(1)

    def handler(request: object) -> None:
        n = next(requests)
        items = [
            news.Item(title, link, NOW - HOUR, text, guid=f"urn:{n}:{link}")
            if change == "guid"
            else news.Item(title, f"{link}?sid={n}&utm_source=rss{n}", NOW - HOUR, text)
            for title, link, text in stories
        ]
        body = news.rss("a", items)
        request.send_response(200)  # type: ignore[attr-defined]
        request.send_header("Content-Type", "application/rss+xml")  # type: ignore[attr-defined]
        request.send_header("Content-Length", str(len(body)))  # type: ignore[attr-defined]
        request.end_headers()  # type: ignore[attr-defined]
        request.wfile.write(body)  # type: ignore[attr-defined]

    return handler


def evidence_count(store: Store, definitions: Definitions, indicator_id: str) -> int:
    view = next(v for v in indicator_views(definitions, store, now=NOW) if v.id == indicator_id)
    shown = IndicatorDetailOut.of(view).model_dump(mode="json")
    return int(shown["outcomes"][0]["evidence_count"])


@pytest.mark.parametrize("change", ["guid", "link"])
def test_items_offered_under_a_new_guid_or_link_at_every_read_are_stored_once(
    feed_server: FeedServer, two_feeds: Definitions, store: Store, change: str
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    feed_server.route("/a.xml", churning(change, STORIES))
    feed_server.route("/b.xml", body=news.rss("b", []))
    assert run_cycle(ctx, now=NOW).new_entries == 3

    reports = [run_cycle(ctx, now=NOW + n * INTERVAL) for n in (1, 2, 3)]

    assert [(r.feeds_checked, r.not_modified, r.new_entries) for r in reports] == [(2, 1, 0)] * 3
    assert len(store.entries_since(NOW - DAY)) == 3
    feed = next(f for f in store.feeds() if f.id == "a")
    assert feed.last_new_at == NOW  # silent since the first read, as a feed of old news is
    assert feed.warning == known_again(change, 3)
    assert feed.warning.startswith("3 items under ")  # not `3 item(s)`
    assert evidence_count(store, two_feeds, "reads-a") == 2

    # A story the CMS adds is news, under its own changing guid or link like the others.
    more = ("Seoul and Tokyo agree visa waiver too", "https://wire.example.com/tokyo-4", "New.")
    feed_server.route("/a.xml", churning(change, [*STORIES, more]))
    later = run_cycle(ctx, now=NOW + 4 * INTERVAL)
    assert later.new_entries == 1
    assert evidence_count(store, two_feeds, "reads-a") == 3
    assert next(f for f in store.feeds() if f.id == "a").last_new_at == NOW + 4 * INTERVAL
    assert run_cycle(ctx, now=NOW + 5 * INTERVAL).new_entries == 0


def test_an_item_under_a_new_guid_with_another_headline_or_text_is_news(store: Store) -> None:
    first = Entry("a", "g1", "https://wire.example.com/1", "Visa deal signed", "Text.", None, "x")
    assert len(storeops.add_entries(store, [first], now=NOW)) == 1
    offered = [
        replace(first, guid="g2", title="Visa deal signed, officials say"),
        replace(first, guid="g3", text="Text, updated."),
        replace(first, guid="g4", link="https://wire.example.com/1?page=2"),
        replace(first, feed_id="b", guid="g5"),  # the same article in another feed
        replace(first, guid="g6", title="VISA deal  signed!"),  # only case and punctuation
    ]
    again = storeops.add_entries(store, offered, now=NOW + HOUR)
    assert [e.guid for _, e in again] == ["g2", "g3", "g4", "g5"]


def test_an_item_deleted_by_retention_offered_under_a_new_guid_is_not_news(store: Store) -> None:
    """Retention keeps a deleted entry's item key with its key (forgotten): an undated item the
    feed still carries under a new guid would otherwise be evidence of today."""
    old = Entry("a", "g1", "https://wire.example.com/1", "Visa deal signed", "Text.", None, "x")
    storeops.add_entries(store, [old], now=NOW - 400 * DAY)
    pruned = store.prune(now=NOW, before=NOW - 365 * DAY, matched_before=NOW, buckets=())
    assert pruned.entries == 1

    assert storeops.add_entries(store, [replace(old, guid="g2")], now=NOW) == []
    # The forgotten item key stays while the feed offers it, as a forgotten key does.
    assert storeops.add_entries(store, [replace(old, guid="g3")], now=NOW + 200 * DAY) == []
    store.prune(now=NOW + 300 * DAY, before=NOW + 100 * DAY, matched_before=NOW, buckets=())
    assert storeops.add_entries(store, [replace(old, guid="g4")], now=NOW + 300 * DAY) == []


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://a.example/x", "https://a.example/x"),
        ("https://a.example/x?utm_source=rss&utm_medium=feed", "https://a.example/x"),
        ("https://a.example/x?id=7&sid=abc&UTM_Campaign=z", "https://a.example/x?id=7"),
        ("https://a.example/x?PHPSESSID=1&page=2#top", "https://a.example/x?page=2#top"),
        ("https://a.example/x;jsessionid=A1B2?id=7", "https://a.example/x?id=7"),
        ("https://a.example/x?fbclid=1#c", "https://a.example/x#c"),
        ("https://a.example/x?ref=rss&sort=new", "https://a.example/x?ref=rss&sort=new"),
    ],
)
def test_a_link_without_tracking_parameters_keeps_the_rest_as_written(
    link: str, expected: str
) -> None:
    assert untracked(link) == expected


def test_0022_gives_stored_entries_their_item_keys(
    database_url: str, feed_server: FeedServer, two_feeds: Definitions
) -> None:
    """An upgraded store knows the items it has at once: the next read of a feed whose guids
    change stores none of them again."""
    feed_server.route("/a.xml", churning("guid", STORIES))
    feed_server.route("/b.xml", body=news.rss("b", []))
    with open_store(database_url) as store:
        ctx = twofeeds.context(two_feeds, store, now=NOW)
        assert run_cycle(ctx, now=NOW).new_entries == 3
        untitled = Entry("b", "g9", "", "", "Only a text.", None, "x")  # no link: no item key
        assert len(storeops.add_entries(store, [untitled], now=NOW)) == 1
    _downgrade(database_url, "0021", lambda columns: "item_key" not in columns)

    assert upgrade(database_url) == ("0021", migrate.head())

    assert schema_differences(database_url) == []
    stored = _rows(database_url, "SELECT feed_id, link, title, text, item_key FROM entry")
    assert sorted(row[4] or "" for row in stored) == sorted(
        item_key(*map(str, row[:4])) for row in stored
    )
    assert len({row[4] for row in stored}) == 4  # three item keys and a NULL
    with open_store(database_url) as store:
        ctx = twofeeds.context(two_feeds, store, now=NOW)
        assert run_cycle(ctx, now=NOW + INTERVAL).new_entries == 0


def _downgrade(url: str, revision: str, check: Callable[[set[str]], bool]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, revision)
        assert check({c["name"] for c in inspect(engine).get_columns("entry")})
    finally:
        engine.dispose()


def churning_without_links(
    stories: list[tuple[str, str, str]], requests: Iterator[int] | None = None
) -> Handler:
    """A feed of `stories` without links whose items get a new guid at every request (the
    next of `requests`)."""
    requests = requests or itertools.count(1)

    def handler(request: object) -> None:
        n = next(requests)
        items = [
            news.Item(title, "", NOW - HOUR, text, guid=f"urn:{n}:{i}")
            for i, (title, _link, text) in enumerate(stories)
        ]
        body = re.sub(rb"<link></link>", b"", news.rss("a", items))
        request.send_response(200)  # type: ignore[attr-defined]
        request.send_header("Content-Type", "application/rss+xml")  # type: ignore[attr-defined]
        request.send_header("Content-Length", str(len(body)))  # type: ignore[attr-defined]
        request.end_headers()  # type: ignore[attr-defined]
        request.wfile.write(body)  # type: ignore[attr-defined]

    return handler


def test_items_without_links_offered_under_a_new_guid_at_every_read_are_stored_once(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    """Without a link an item is known by its headline and text: a feed without links whose
    guids change at every read stores its items once, and a story it adds is still news."""
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    requests = itertools.count(1)
    feed_server.route("/a.xml", churning_without_links(STORIES, requests))
    feed_server.route("/b.xml", body=news.rss("b", []))
    assert run_cycle(ctx, now=NOW).new_entries == 3
    assert {e.link for _, e, _ in store.entries_since(NOW - DAY)} == {""}

    reports = [run_cycle(ctx, now=NOW + n * INTERVAL).new_entries for n in (1, 2)]

    assert reports == [0, 0]
    assert len(store.entries_since(NOW - DAY)) == 3
    assert next(f for f in store.feeds() if f.id == "a").warning == known_again("guid", 3)
    assert evidence_count(store, two_feeds, "reads-a") == 2
    edited = [(STORIES[0][0], "", "Tour groups may enter without a visa from March."), *STORIES]
    feed_server.route("/a.xml", churning_without_links(edited, requests))  # edited: news
    assert run_cycle(ctx, now=NOW + 3 * INTERVAL).new_entries == 1


def test_0026_gives_stored_entries_without_a_link_their_item_keys(
    database_url: str, feed_server: FeedServer, two_feeds: Definitions
) -> None:
    feed_server.route("/a.xml", churning_without_links(STORIES))
    feed_server.route("/b.xml", body=news.rss("b", []))
    with open_store(database_url) as store:
        assert run_cycle(twofeeds.context(two_feeds, store, now=NOW), now=NOW).new_entries == 3
        wordless = Entry("b", "g9", "", "", "Only a text.", None, "x")  # no headline: no key
        assert len(storeops.add_entries(store, [wordless], now=NOW)) == 1
    rewound(database_url, "0026")
    _sql(  # as the older code stored them
        database_url,
        "UPDATE entry SET item_key = NULL",
    )

    assert upgrade(database_url) == ("0025", migrate.head())

    stored = _rows(database_url, "SELECT feed_id, link, title, text, item_key FROM entry")
    assert sorted(row[4] or "" for row in stored) == sorted(
        item_key(*map(str, row[:4])) for row in stored
    )
    assert sum(1 for row in stored if row[4] is None) == 1
    with open_store(database_url) as store:
        ctx = twofeeds.context(two_feeds, store, now=NOW)
        assert run_cycle(ctx, now=NOW + INTERVAL).new_entries == 0
