"""An entry is one item of one feed: the same article in two feeds is two entries, each evidence
for the indicators that read its feed, and still one story when one indicator reads both.
Feeds served on 127.0.0.1; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions
from monitor.pipeline import run_cycle
from monitor.store import Store
from monitor.views import indicator_views
from monitor.webmodels import IndicatorDetailOut
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer
from tests.twofeeds import INTERVAL, LOCAL_LINK, WIRE_LINK

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


store, two_feeds = twofeeds.store, twofeeds.two_feeds  # fixtures
serve = twofeeds.serve


def links(store: Store, indicator_id: str) -> list[str]:
    found = storeops.evidence(store, [indicator_id], NOW - 30 * 24 * HOUR)[indicator_id]
    return sorted(e.link for e in found)


def stored(store: Store) -> list[tuple[str, str]]:
    return sorted((e.feed_id, e.guid) for _, e, _ in store.entries_since(NOW - 30 * 24 * HOUR))


def test_an_indicator_gets_an_article_first_stored_from_a_feed_it_does_not_read(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml", twofeeds.wire(NOW - HOUR))
    serve(feed_server, "/b.xml")
    first = run_cycle(ctx, now=NOW)
    assert first.new_entries == 1
    assert {c.indicator_id: c.new_status for c in first.changes} == {
        "reads-a": "waived:reported",
        "reads-both": "waived:reported",
    }

    serve(feed_server, "/b.xml", twofeeds.wire(NOW - HOUR))  # feed b carries it later
    second = run_cycle(ctx, now=NOW + INTERVAL)

    assert second.new_entries == 1
    assert stored(store) == [("a", WIRE_LINK), ("b", WIRE_LINK)]
    assert links(store, "reads-b") == [WIRE_LINK]
    # reads-both now has two copies of one story: still one source, nothing changed for it
    assert [(c.indicator_id, c.new_status) for c in second.changes] == [
        ("reads-b", "waived:reported")
    ]


def test_the_same_article_in_two_feeds_is_one_story_from_one_source(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml", twofeeds.wire(NOW - HOUR))
    serve(feed_server, "/b.xml", twofeeds.wire(NOW - HOUR))

    report = run_cycle(ctx, now=NOW)

    assert report.new_entries == 2
    assert links(store, "reads-both") == [WIRE_LINK, WIRE_LINK]  # two entries...
    changes = {c.indicator_id: c for c in report.changes}
    both = changes["reads-both"]
    assert both.new_status == "waived:reported"  # ...one story: not corroborated
    assert [e.link for e in both.evidence] == [WIRE_LINK]
    view = next(v for v in indicator_views(two_feeds, store, now=NOW) if v.id == "reads-both")
    shown = IndicatorDetailOut.of(view).model_dump(mode="json")
    assert [e["link"] for e in shown["evidence"]] == [WIRE_LINK]
    assert shown["outcomes"][0]["evidence_count"] == 1
    assert [e.link for e in store.history("reads-both")[0].evidence] == [WIRE_LINK]

    # A second publisher's story in feed a corroborates it.
    serve(feed_server, "/a.xml", twofeeds.wire(NOW - HOUR), twofeeds.local(NOW))
    later = run_cycle(ctx, now=NOW + INTERVAL)
    assert later.new_entries == 1
    assert {c.indicator_id: c.new_status for c in later.changes} == {
        "reads-a": "waived:confirmed",
        "reads-both": "waived:confirmed",
    }


# One story of the wire, carried by both feeds under its short headline with a summary of each
# feed's own (no shingle in common), and a link written in another case in feed b.
TOUR = "Tour deal"
TOUR_A = "Seoul and Beijing agreed on Monday to a visa waiver for tour groups from March."
TOUR_B = "Group travellers receive visa waiver status under the arrangement, officials said."


def test_one_story_under_its_link_in_another_case_and_port_is_counted_once(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    link = "https://wire.example.com/visa-1"
    serve(feed_server, "/a.xml", news.Item(TOUR, link, NOW - HOUR, TOUR_A))
    copy = news.Item(TOUR, "HTTPS://Wire.Example.COM:443/visa-1", NOW - HOUR / 2, TOUR_B)
    serve(feed_server, "/b.xml", copy)  # later than a's: a's is the story's first copy
    # The path is case-sensitive: the wire's other page is another story.
    other = news.Item(TOUR, "https://wire.example.com/Visa-1", NOW - HOUR, TOUR_B)

    report = run_cycle(ctx, now=NOW)

    assert report.new_entries == 2
    [both] = [c for c in report.changes if c.indicator_id == "reads-both"]
    assert [e.link for e in both.evidence] == [link]
    view = next(v for v in indicator_views(two_feeds, store, now=NOW) if v.id == "reads-both")
    shown = IndicatorDetailOut.of(view).model_dump(mode="json")
    assert [e["link"] for e in shown["evidence"]] == [link]
    assert shown["outcomes"][0]["evidence_count"] == 1

    serve(feed_server, "/b.xml", other)
    run_cycle(ctx, now=NOW + INTERVAL)
    views = indicator_views(two_feeds, store, now=NOW + INTERVAL)
    shown = IndicatorDetailOut.of(next(v for v in views if v.id == "reads-both")).model_dump()
    assert shown["outcomes"][0]["evidence_count"] == 2


def test_fetching_a_feed_again_stores_nothing_twice(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml", twofeeds.wire(NOW - HOUR))
    serve(feed_server, "/b.xml", twofeeds.wire(NOW - HOUR))
    assert run_cycle(ctx, now=NOW).new_entries == 2

    # Both bodies change, so both are parsed and stored again: only the new item is new.
    serve(feed_server, "/a.xml", twofeeds.local(NOW), twofeeds.wire(NOW - HOUR))
    serve(feed_server, "/b.xml", twofeeds.wire(NOW - HOUR), twofeeds.wire(NOW - HOUR))
    again = run_cycle(ctx, now=NOW + INTERVAL)

    assert (again.feeds_checked, again.new_entries) == (2, 1)
    assert stored(store) == [("a", LOCAL_LINK), ("a", WIRE_LINK), ("b", WIRE_LINK)]
    assert links(store, "reads-a") == [LOCAL_LINK, WIRE_LINK]


# ---------------------------------------------------------------- a guid a CMS reuses

GUID = "https://wire.example.com/?p=1"  # the slot some CMSs give every story in turn
LATER = "Busan port sees visa waiver tourists return"
LATER_LINK = "https://wire.example.com/busan-2"
WIRE_TEXT = "Tour groups from China may enter without a visa from March, officials said."
LATER_TEXT = "Ferries from Qingdao brought the first groups under the visa waiver to Busan."


def under_guid(title: str, link: str, text: str) -> news.Item:
    return news.Item(title, link, NOW - HOUR, text, guid=GUID)


def evidence_of(store: Store, indicator_id: str) -> list[tuple[int, str, str, str]]:
    found = storeops.evidence(store, [indicator_id], NOW - 30 * 24 * HOUR)[indicator_id]
    return sorted((e.entry_id, e.title, e.link, e.snippet) for e in found)


def test_a_later_story_under_the_guid_of_a_stored_one_is_stored_once_as_news(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml", under_guid(twofeeds.WIRE, WIRE_LINK, WIRE_TEXT))
    serve(feed_server, "/b.xml")
    assert run_cycle(ctx, now=NOW).new_entries == 1
    [first] = evidence_of(store, "reads-a")

    # The CMS puts a later story under that guid while the first is still stored: news.
    serve(feed_server, "/a.xml", under_guid(LATER, LATER_LINK, LATER_TEXT))
    later = run_cycle(ctx, now=NOW + INTERVAL)
    assert later.new_entries == 1
    assert [e[1:3] for e in evidence_of(store, "reads-a")] == [
        (twofeeds.WIRE, WIRE_LINK),  # the first, as it was
        (LATER, LATER_LINK),
    ]
    assert evidence_of(store, "reads-a")[0] == first  # its id, headline, link and snippet
    assert sorted(e.title for _, e, _ in store.entries_since(NOW - 24 * HOUR)) == sorted(
        [twofeeds.WIRE, LATER]
    )

    # The feed offers it again at the next check (another item beside it, so the body is read
    # again): it is stored already.
    other = news.Item("Seoul stocks close higher", "https://wire.example.com/3", NOW)
    serve(feed_server, "/a.xml", under_guid(LATER, LATER_LINK, LATER_TEXT), other)
    assert run_cycle(ctx, now=NOW + 2 * INTERVAL).new_entries == 1  # the other item alone

    # The first story back with a word of its headline edited (its text unchanged): the
    # same item, as any headline edit under a stored item's guid.
    edited = twofeeds.WIRE.replace("agree", "agreed")
    serve(feed_server, "/a.xml", under_guid(edited, WIRE_LINK, WIRE_TEXT), other)
    assert run_cycle(ctx, now=NOW + 3 * INTERVAL).new_entries == 0
    assert len(store.entries_since(NOW - 24 * HOUR)) == 3


# ---------------------------------------------------------------- one guid on every item

FERRY = "Ferry line from Incheon to Weihai resumes"
FERRY_TEXT = "Passenger ferries sail again from Incheon to Weihai, the operator said."
FERRIES = """\
id: ferries
group: Tests
title: Ferries, as read in a
question: Do ferries sail again?
feeds: {ids: [a]}
window: 30d
outcomes:
  - id: sailing
    label: Ferries sail
    corroborate: 2
    rule: {any: [ferry, ferries]}
"""
SHARED = (
    "2 items share the {} of an earlier one: stored as stories of their own, told apart by headline"
)


@pytest.fixture
def with_ferries(tmp_path: Path, two_feeds: Definitions) -> Definitions:
    """The two feeds' indicators, and `ferries`, reading feed a."""
    (tmp_path / "indicators" / "ferries.yaml").write_text(FERRIES)
    return load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")


def stories_of(store: Store, definitions: Definitions, indicator_id: str) -> int:
    view = next(v for v in indicator_views(definitions, store, now=NOW) if v.id == indicator_id)
    return int(IndicatorDetailOut.of(view).model_dump(mode="json")["outcomes"][0]["evidence_count"])


def four_stories(guid: str | None, link: str | None = None) -> list[news.Item]:
    """Two visa stories, a ferry story and the first again (a repeat), all under `guid` (None:
    each its link) and `link` (None: each its own)."""
    stories = [
        (twofeeds.WIRE, WIRE_LINK, WIRE_TEXT),
        (LATER, LATER_LINK, LATER_TEXT),
        (FERRY, "https://wire.example.com/ferry-3", FERRY_TEXT),
        (twofeeds.WIRE, WIRE_LINK, WIRE_TEXT),
    ]
    return [news.Item(t, link or own, NOW - HOUR, text, guid=guid) for t, own, text in stories]


def test_stories_under_one_guid_in_one_body_are_each_stored_and_matched_once(
    feed_server: FeedServer, with_ferries: Definitions, store: Store
) -> None:
    """A CMS gives every item of its feed one guid: each story is stored and matched by the
    rules that match it; the item it repeats is stored once, and a check of the same items
    again stores nothing."""
    ctx = twofeeds.context(with_ferries, store, now=NOW)
    serve(feed_server, "/a.xml", *four_stories(GUID))
    serve(feed_server, "/b.xml")
    report = run_cycle(ctx, now=NOW)

    assert report.new_entries == 3
    assert sorted(e.title for _, e, _ in store.entries_since(NOW - 24 * HOUR)) == sorted(
        [twofeeds.WIRE, LATER, FERRY]
    )
    assert [e[1] for e in evidence_of(store, "reads-a")] == [twofeeds.WIRE, LATER]
    assert [e[1] for e in evidence_of(store, "ferries")] == [LATER, FERRY]
    assert (
        stories_of(store, with_ferries, "reads-a"),
        stories_of(store, with_ferries, "ferries"),
    ) == (2, 2)
    [feed_a] = [f for f in store.feeds() if f.id == "a"]
    assert feed_a.warning == SHARED.format("guid")

    # The same body at the next check, then the same items in another order (read again).
    assert run_cycle(ctx, now=NOW + INTERVAL).new_entries == 0
    serve(feed_server, "/a.xml", *reversed(four_stories(GUID)))
    again = run_cycle(ctx, now=NOW + 2 * INTERVAL)
    assert (again.feeds_checked, again.not_modified, again.new_entries) == (2, 1, 0)
    assert len(store.entries_since(NOW - 24 * HOUR)) == 3


def test_the_same_item_twice_in_a_body_is_stored_once(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml", twofeeds.wire(NOW - HOUR), twofeeds.wire(NOW - HOUR))
    serve(feed_server, "/b.xml")
    assert run_cycle(ctx, now=NOW).new_entries == 1
    assert stored(store) == [("a", WIRE_LINK)]
    assert [f.warning for f in store.feeds()] == ["", ""]


def test_stories_under_one_link_are_not_one_story_but_copies_of_each_still_are(
    feed_server: FeedServer, with_ferries: Definitions, store: Store
) -> None:
    """No guids, the front page as every item's link: the stories are stored and counted apart
    (a shared link makes no copies of one publisher's other stories), and the first story
    carried by feed b under that link is still a copy of it."""
    front = "https://wire.example.com/"
    ctx = twofeeds.context(with_ferries, store, now=NOW)
    serve(feed_server, "/a.xml", *four_stories(None, front))
    serve(feed_server, "/b.xml", news.Item(twofeeds.WIRE, front, NOW - HOUR, WIRE_TEXT))
    assert run_cycle(ctx, now=NOW).new_entries == 4
    assert links(store, "reads-both") == [front] * 3
    assert stories_of(store, with_ferries, "reads-a") == 2
    assert stories_of(store, with_ferries, "reads-both") == 2  # feed b's copy counts once
    assert stories_of(store, with_ferries, "ferries") == 2
    assert {f.id: f.warning for f in store.feeds()} == {"a": SHARED.format("link"), "b": ""}
