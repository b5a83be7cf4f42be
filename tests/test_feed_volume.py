"""A feed that brings far more items in one read than a real feed carries: 9 MB under the body
cap held 170,000 tiny items, each stored and matched in the cycle (and again at every read of a
feed that renews its guids). One read takes at most `parse.MAX_ITEMS`: the newest by date, then
the first without one; the feed's warning says how many were left out, in `/feeds`, on the
page and in `monitor status`. Feeds served on 127.0.0.1, a real `monitor check`; SQLite and
PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.definitions import load_definitions
from monitor.parse import MAX_ITEMS, parse_feed
from monitor.store import open_store
from monitor.web import create_app
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_cli_ops import invoke
from tests.test_pipeline import ALL_TAGS
from tests.webdata import settings

NOW = datetime.now(UTC).replace(microsecond=0)
OVER = 500  # items past the cap
SANCTIONS = "Xi tells Lee China will strictly enforce UN sanctions on North Korea"


@pytest.fixture(autouse=True)
def no_monitor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)


def junk(n: int, *, dated: bool = True) -> list[news.Item]:
    """`n` tiny items, the oldest first (as a feed in date order writes them), dated a minute
    apart up to an hour ago."""
    last = NOW - timedelta(hours=1)
    dates = [last - timedelta(minutes=n - 1 - i) if dated else None for i in range(n)]
    return [news.Item(f"Junk {i}", f"https://junk.example/{i}", dates[i]) for i in range(n)]


def test_a_read_of_a_feed_with_too_many_items_keeps_the_newest_and_says_so(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    feed_server.route("/junk.xml", body=news.rss("junk", junk(MAX_ITEMS + OVER)))
    normal = [news.Item(SANCTIONS, "https://www.yna.co.kr/view/1", NOW - timedelta(hours=2))]
    feed_server.route("/normal.xml", body=news.rss("normal", normal))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(
        f"  - {{id: {i}, url: '{feed_server.url(f'/{i}.xml')}', tags: [{', '.join(ALL_TAGS)}]}}\n"
        for i in ("junk", "normal")
    ))  # fmt: skip
    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(feeds),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    warning = (
        f"{MAX_ITEMS + OVER:,} items, more than one read takes: the {MAX_ITEMS:,} newest by "
        f"date kept, {OVER} left out"
    )

    checked = invoke(["check"], env)
    status = invoke(["status"], env).stdout.splitlines()

    assert checked.exit_code == 0, checked.output
    assert "north-korea-stance: unknown -> " in checked.stdout  # the other feed's news counted
    assert status[-1] == f"feed junk: read with a warning: {warning}"
    definitions = load_definitions(ROOT / "indicators", feeds)
    with open_store(database_url) as store:
        stored = store.entries_since(NOW - timedelta(days=30))
        by_feed = {f: [e.link for _, e, _ in stored if e.feed_id == f] for f in ("junk", "normal")}
        assert sorted(by_feed["junk"]) == sorted(
            f"https://junk.example/{i}" for i in range(OVER, MAX_ITEMS + OVER)
        )
        assert by_feed["normal"] == ["https://www.yna.co.kr/view/1"]
        assert {f.id: f.warning for f in store.feeds()} == {"junk": warning, "normal": ""}
        app = create_app(store=store, definitions=lambda: definitions, settings=settings())
        with TestClient(app) as client:
            listed = {f["id"]: f["warning"] for f in client.get("/feeds").json()}
            page = client.get("/").text
    assert listed == {"junk": warning, "normal": ""}
    assert warning in page


@pytest.mark.parametrize(
    ("items", "kept", "said"),
    [
        (junk(MAX_ITEMS), range(MAX_ITEMS), ""),
        (junk(MAX_ITEMS + 1, dated=False), range(MAX_ITEMS),
         f"{MAX_ITEMS + 1:,} items, more than one read takes: the first {MAX_ITEMS:,} kept, "
         "1 left out"),
        # 10 dated items after 1,000 undated ones: those 10 first, then the first 990 undated
        (junk(MAX_ITEMS, dated=False) + junk(10)[:10], [*range(990), *range(MAX_ITEMS, 1010)],
         f"{MAX_ITEMS + 10:,} items, more than one read takes: the newest by date, then the "
         f"first without one: {MAX_ITEMS:,} kept, 10 left out"),
    ],
    ids=["at-the-cap", "undated", "some-dated"],
)  # fmt: skip
def test_the_items_a_read_keeps(items: list[news.Item], kept: Sequence[int], said: str) -> None:
    items = [news.Item(i.title, f"https://junk.example/n{n}", i.published)
             for n, i in enumerate(items)]  # fmt: skip
    parsed = parse_feed(news.rss("junk", items), feed_id="junk", url="https://junk.example/")
    assert [e.link for e in parsed.entries] == [f"https://junk.example/n{n}" for n in kept]
    assert parsed.warning == said


@pytest.mark.parametrize(
    "item",
    [b"<item/>", b"<item><title>Same</title><link>https://junk.example/1</link></item>"],
    ids=["empty", "titled"],
)
def test_a_read_of_one_item_over_and_over_says_one_was_kept(item: bytes) -> None:
    """A feed of one item repeated past the cap (1.2 million `<item/>` were seen): the copies
    are kept once, and the warning says so, counted in the items taken (not read again)."""
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>junk</title>'
    parsed = parse_feed(body + item * (MAX_ITEMS + 5) + b"</channel></rss>", feed_id="junk",
                        url="https://junk.example/feed.xml")  # fmt: skip
    assert len(parsed.entries) == 1
    assert parsed.warning == (
        f"{MAX_ITEMS + 5:,} items, more than one read takes: the first {MAX_ITEMS:,} read, 5 "
        f"left out; of those, 1 item kept, {MAX_ITEMS - 1:,} the same as an earlier one"
    )
