"""A source is a publisher, a registrable domain: a Unicode host and its IDNA form (`bücher.de`,
`xn--bcher-kva.de`) are one host, so one source toward corroboration, whichever form a feed
writes its links in. Feeds served on 127.0.0.1; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import migrate
from monitor.domain import Definitions
from monitor.parse import publisher_of
from monitor.pipeline import run_cycle
from monitor.statuses import evaluate_all, kept_statuses
from monitor.store import open_store, upgrade
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.test_migrations import _rows, _sql, rewound, shown_stories
from tests.twofeeds import INTERVAL

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
UNICODE = news.Item(
    "Visa waiver for tour groups agreed", "https://www.Bücher.de/visa-1", NOW - HOUR,
    "Seoul and Beijing agreed on Monday to a visa waiver for tour groups from March.",
)  # fmt: skip
ENCODED = news.Item(
    "Busan port sees visa waiver tourists return", "https://xn--bcher-kva.de/busan-2", NOW,
    "Ferries from Qingdao brought the first groups under the visa waiver to Busan.",
)  # fmt: skip

two_feeds = twofeeds.two_feeds  # fixture


@pytest.mark.parametrize(
    ("url", "publisher"),
    [
        ("https://www.bücher.de/a", "xn--bcher-kva.de"),
        ("https://WWW.BÜCHER.DE/a", "xn--bcher-kva.de"),
        ("https://news.xn--bcher-kva.de/a", "xn--bcher-kva.de"),
        ("https://news.新闻.中国/a", "xn--efvy88h.xn--fiqs8s"),
        ("https://a.b.公司.cn/a", "b.xn--55qx5d.cn"),
    ],
)
def test_a_unicode_host_is_its_idna_form(url: str, publisher: str) -> None:
    assert publisher_of(url) == publisher


def test_two_stories_of_one_host_written_in_unicode_and_in_idna_are_one_source(
    database_url: str, feed_server: FeedServer, two_feeds: Definitions
) -> None:
    twofeeds.serve(feed_server, "/a.xml", UNICODE)
    twofeeds.serve(feed_server, "/b.xml", ENCODED)
    with open_store(database_url) as store:
        report = run_cycle(twofeeds.context(two_feeds, store, now=NOW), now=NOW)

        assert report.new_entries == 2
        [both] = [c for c in report.changes if c.indicator_id == "reads-both"]
        assert both.new_status == "waived:reported"  # two stories, one source: not confirmed
        assert {e.publisher for e in both.evidence} == {"xn--bcher-kva.de"}


def test_0024_gives_stored_unicode_publishers_their_idna_form_and_works_their_sources_out_again(
    database_url: str, feed_server: FeedServer, two_feeds: Definitions
) -> None:
    """A store of the older code holds `bücher.de` as the publisher of its entries and kept
    stories: after the upgrade a story of `xn--bcher-kva.de` is of the same source."""
    twofeeds.serve(feed_server, "/a.xml", UNICODE)
    twofeeds.serve(feed_server, "/b.xml")
    with open_store(database_url) as store:
        run_cycle(twofeeds.context(two_feeds, store, now=NOW), now=NOW)
    rewound(database_url, "0024")
    _sql(
        database_url,
        "UPDATE entry SET publisher = 'bücher.de'",  # as the older code wrote it
        "UPDATE story SET publisher = 'bücher.de'",
    )

    assert upgrade(database_url) == ("0023", migrate.head())

    assert _rows(database_url, "SELECT publisher FROM entry") == [("xn--bcher-kva.de",)]
    assert _rows(database_url, "SELECT indicator_id FROM outcome_state") == [("reads-b",)]
    twofeeds.serve(feed_server, "/b.xml", ENCODED)
    later = NOW + INTERVAL
    with open_store(database_url) as store:
        run_cycle(twofeeds.context(two_feeds, store, now=later), now=later)
        kept = kept_statuses(two_feeds, store, now=later)
        assert shown_stories(kept) == shown_stories(evaluate_all(two_feeds, store, now=later))
        [both] = [s for s in kept if s.indicator_id == "reads-both"]
        assert (both.status, both.outcomes[0].sources) == ("waived:reported", ("xn--bcher-kva.de",))
