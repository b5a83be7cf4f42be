"""The Atom feeds go by when a change was recorded, not the moment it is dated: a change to
`unknown` is dated when the feeds stopped supporting the status, hours or days before a check
records it. Its entry's `updated` (and the feed's) is when it was recorded, it is among the
latest 50 and sorted as new; `published` stays the moment it is dated. On SQLite and
PostgreSQL (`seeded`), through the web app as a feed reader reads it.

Before, the feeds chose and sorted their changes by `at`: the back-dated change had an
`updated` two hours in the past, and with 50 changes dated after it, none of them newer
recorded, it was not in the feed at all."""

from __future__ import annotations

from datetime import timedelta

import feedparser

from monitor import atom, server
from monitor.domain import Definitions, StatusChange
from monitor.domain import iso_time as iso
from monitor.store import Store
from tests import test_export
from tests.test_export import Clock, client_of, read_feed, record
from tests.webdata import NOW

seeded, defs = test_export.seeded, test_export.defs  # fixtures

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def test_a_back_dated_change_goes_out_when_recorded_however_many_are_dated_after_it(
    seeded: Store, defs: Definitions
) -> None:
    later, status = [], "pressure:reported"  # north-korea-stance flaps, each recorded when dated
    for n in range(atom.FEED_LIMIT + 10):
        new = "quiet" if status != "quiet" else "pressure:reported"
        later.append(record(seeded, "north-korea-stance", NOW - HOUR + n * MINUTE, status, new))
        status = new
    checked = NOW + 10 * MINUTE  # a check finds visa-easing's feeds silent since two hours ago
    gone = StatusChange("visa-easing", NOW - 2 * HOUR, "eased:confirmed", "unknown", (), "h")
    [unknown] = seeded.record_changes([gone], now=checked)
    assert unknown.id is not None and unknown.recorded == checked

    with client_of(seeded, defs, clock=Clock()) as client:
        every = client.get("/changes.atom")
        one = read_feed(client, "/indicators/visa-easing/changes.atom")

    feed = feedparser.parse(every.content)
    order = [int(e.id.rsplit("/", 1)[1]) for e in feed.entries]
    newest = later[::-1][: atom.FEED_LIMIT - 1]
    assert order == [unknown.id, *newest]
    first = feed.entries[0]
    assert (first.updated, first.published) == (iso(checked), iso(NOW - 2 * HOUR))
    assert first.id.endswith(f",{(NOW - 2 * HOUR).date()}:visa-easing/change/{unknown.id}")
    assert feed.feed.updated == iso(checked)
    assert every.headers["last-modified"] == server.http_date(checked)
    assert one["order"][0] == unknown.id and one["feed"].updated == iso(checked)
    # The store reads the changes recorded last: the back-dated one first.
    assert [c.id for c in seeded.latest_changes(limit=1)] == [unknown.id]
