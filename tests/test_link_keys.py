"""An item without a guid is keyed by its link with its scheme and host in any case and without
the default port (`HTTPS://Wire.Example.COM:443/a` is `https://wire.example.com/a`), as a story
is: a feed that writes the link one way at one read and the other way at the next has the item
stored once. Stores of the older code are upgraded (migration 0025), deleted entries' kept keys
too. Feeds served on 127.0.0.1; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

import monitor.identity as identity_module
import monitor.store.oldkeys as oldkeys_module
from monitor import migrate
from monitor.domain import Definitions, Entry, digest_of
from monitor.pipeline import run_cycle
from monitor.store import open_store, upgrade
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer
from tests.test_migrations import _rows, rewound
from tests.twofeeds import INTERVAL, WIRE

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SHOUTED = "HTTPS://Wire.Example.COM:443/visa-1"
PLAIN = "https://wire.example.com/visa-1"

two_feeds = twofeeds.two_feeds  # fixture


def body(link: str, *, guid: bool) -> bytes:
    """Feed a with the wire story under `link`, with the link as its guid or without a guid."""
    served = news.rss("a", [news.Item(WIRE, link, NOW - HOUR)])
    return served if guid else re.sub(rb"<guid>[^<]*</guid>", b"", served)


@pytest.mark.parametrize("guid", [False, True], ids=["no-guid", "guid-is-link"])
def test_an_item_whose_link_changes_case_or_port_between_reads_is_stored_once(
    database_url: str, feed_server: FeedServer, two_feeds: Definitions, guid: bool
) -> None:
    twofeeds.serve(feed_server, "/b.xml")
    with open_store(database_url) as store:
        ctx = twofeeds.context(two_feeds, store, now=NOW)
        reads = []
        for n, link in enumerate([SHOUTED, PLAIN, "https://WIRE.example.com/visa-1"]):
            feed_server.route("/a.xml", body=body(link, guid=guid))
            reads.append(run_cycle(ctx, now=NOW + n * INTERVAL).new_entries)

        assert reads == [1, 0, 0]
        assert [e.link for _, e, _ in store.entries_since(NOW - DAY)] == [SHOUTED]
        # The path is compared as written: another page is another item.
        feed_server.route("/a.xml", body=body("https://wire.example.com/Visa-1", guid=guid))
        assert run_cycle(ctx, now=NOW + 3 * INTERVAL).new_entries == 1


def _old_entry_key(feed_id: str, guid: str, link: str, title: str, text: str) -> str:
    """`identity.entry_key` before 0025: the link as written."""
    return digest_of(feed_id, guid or link or (title + "\n" + text))


def item(link: str, title: str = WIRE, *, guid: str = "", text: str = "Visa text.") -> Entry:
    return Entry("a", guid or link, link, title, text, None, "example.com")


def test_0025_rekeys_the_entries_keyed_by_a_link_read_otherwise_and_their_deleted_keys(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one database: the older formula stores one item twice under two spellings of its
    link; after the upgrade no spelling of any stored or deleted item is stored again."""
    shouted_b, plain_b = "HTTPS://Wire.Example.COM/b", "https://wire.example.com/b"
    later = item(shouted_b, "Busan port sees tourists return", text="Ferries arrived.")
    gone = item("http://Wire.Example.COM:80/old", "An old story")
    with monkeypatch.context() as older, open_store(database_url) as store:
        older.setattr(identity_module, "entry_key", _old_entry_key)
        older.setattr(oldkeys_module, "older_key", lambda _entry: None)
        assert len(storeops.add_entries(store, [gone], now=NOW - 400 * DAY)) == 1
        assert store.prune(now=NOW, before=NOW - 365 * DAY, matched_before=NOW, buckets=()).entries
        assert len(storeops.add_entries(store, [item(SHOUTED)], now=NOW)) == 1
        assert len(storeops.add_entries(store, [item(PLAIN)], now=NOW)) == 1  # the same, again
        assert len(storeops.add_entries(store, [item(shouted_b)], now=NOW)) == 1
        assert len(storeops.add_entries(store, [later], now=NOW)) == 1  # another story: reused
        guided = item(SHOUTED, "Guided", guid="urn:wire:1")
        assert len(storeops.add_entries(store, [guided], now=NOW)) == 1
    before = dict(_rows(database_url, "SELECT link || ' ' || title, key FROM entry"))
    rewound(database_url, "0025")

    assert upgrade(database_url) == ("0024", migrate.head())

    after = dict(_rows(database_url, "SELECT link || ' ' || title, key FROM entry"))
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == [f"{shouted_b} {later.title}", f"{shouted_b} {WIRE}"]
    assert after[f"{shouted_b} {WIRE}"] == item(plain_b).key
    assert after[f"{shouted_b} {later.title}"] == item(plain_b, later.title).reused_key
    # The item the older formula stored twice: the first keeps its key, the second has the new.
    assert after[f"{PLAIN} {WIRE}"] == item(SHOUTED).key == item(PLAIN).key
    with open_store(database_url) as store:
        offered = [
            item(SHOUTED), item(PLAIN), item(plain_b), item(plain_b, later.title, text=later.text),
            item(SHOUTED, "Guided", guid="urn:wire:1"),
            item("http://wire.example.com/old", gone.title), item(gone.link, gone.title),
        ]  # fmt: skip
        added = store.add_news(offered, now=NOW + HOUR, match=lambda _: [], definition_hashes={})
        # Not stored, nor taken for items a CMS offers under new links (the feed's warning).
        assert (added.entries, added.known_again) == ([], {})
    forgotten = {key for (key,) in _rows(database_url, "SELECT key FROM forgotten_entry")}
    assert item(gone.link, gone.title).key in forgotten  # kept under the new key from now on
    assert _old_entry_key("a", gone.link, gone.link, "", "") not in forgotten
