"""Daemons on one PostgreSQL share a cycle's feeds: each claims a few fetch windows of due feeds
at a time (`feedreads.SHARED_CLAIM`), so two whose ticks line up each fetch a part of them, and
no feed is fetched by both in its interval. Before, the first to claim took every due
feed and the other found none: failover, not load sharing. Two real cycles, in threads of their
own, each with its own store, over feeds served on 127.0.0.1; each request is held until both
daemons have asked for a feed (or one's cycle has ended), so the test waits on conditions only."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from monitor.cycle import CycleReport
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Feed
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import Store, open_store
from tests import twofeeds
from tests.feedserver import FeedServer, Route, _RequestHandler
from tests.news import Item, rss

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FEEDS = [f"f{n:02d}" for n in range(20)]
AGENTS = ("monitor-test-a", "monitor-test-b")  # how the feed server tells the daemons apart
HOUR = timedelta(hours=1)
HANG = 60  # seconds: only turns a hang (a daemon that never asks) into a failure


class Gate:
    """Holds every request until both daemons have asked for a feed, or a daemon's cycle has
    ended (it claimed none: the other then gets its answers, and the test its counts)."""

    def __init__(self) -> None:
        self.agents: set[str] = set()
        self.ended = False
        self._cond = threading.Condition()

    def __call__(self, handler: _RequestHandler) -> None:
        with self._cond:
            self.agents.add(handler.headers["User-Agent"])
            self._cond.notify_all()
            self._cond.wait_for(lambda: len(self.agents) == len(AGENTS) or self.ended, HANG)
        feed = handler.path.strip("/").removesuffix(".xml")
        item = Item(f"Visa waiver news {feed}", f"https://{feed}.example.com/1", NOW)
        handler.answer(Route(body=rss(feed, [item])))

    def end(self) -> None:
        with self._cond:
            self.ended = True
            self._cond.notify_all()


def definitions(folder: Path, server: FeedServer) -> Definitions:
    """FEEDS at the feed server, and an indicator reading them all."""
    indicators = folder / "indicators"
    indicators.mkdir()
    text = twofeeds.INDICATOR.format(id="visas", feeds=", ".join(FEEDS))
    (indicators / "visas.yaml").write_text(text)
    feeds = folder / "feeds.yaml"
    lines = [f"  - {{id: {f}, url: '{server.url(f'/{f}.xml')}', tags: [t]}}\n" for f in FEEDS]
    feeds.write_text("feeds:\n" + "".join(lines))
    return load_definitions(indicators, feeds)


def daemon(definitions: Definitions, store: Store, agent: str, owner: str) -> Context:
    """A started daemon fetching two feeds at once: it claims 8 of the 20 at a time."""
    limits = FetchLimits(timeout=30, total_timeout=60, concurrency=2, user_agent=agent)
    ctx = Context(
        definitions=definitions,
        matcher=Matcher(definitions.indicators),
        store=store,
        limits=limits,
        check_interval=twofeeds.INTERVAL,
        owner=owner,
        parse_workers=1,
    )
    prepare(ctx, now=NOW)
    return ctx


def test_two_daemons_ticking_together_share_the_due_feeds(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    gate = Gate()
    for feed in FEEDS:
        feed_server.route(f"/{feed}.xml", gate)
    defined = definitions(tmp_path, feed_server)
    with open_store(postgres_url) as store_a, open_store(postgres_url) as store_b:
        contexts = [
            daemon(defined, store_a, AGENTS[0], "web1:100"),
            daemon(defined, store_b, AGENTS[1], "web2:200"),
        ]

        def cycle(ctx: Context) -> CycleReport:
            try:
                return run_cycle(ctx, now=NOW)
            finally:
                gate.end()

        with ThreadPoolExecutor(2) as pool:
            reports = list(pool.map(cycle, contexts))

        fetched_by = Counter(r.headers["user-agent"] for r in feed_server.requests)
        assert set(fetched_by) == set(AGENTS), fetched_by  # both fetched
        assert [feed_server.hits(f"/{f}.xml") for f in FEEDS] == [1] * len(FEEDS)
        # Each report counts the feeds its daemon checked: every feed once between them.
        checked = [r.feeds_checked for r in reports]
        assert checked == [fetched_by[agent] for agent in AGENTS]
        assert sum(checked) == len(FEEDS) and [r.dropped for r in reports] == [0, 0]
        assert sum(r.new_entries for r in reports) == len(FEEDS)
        # As /healthz and the digest read the cycles: two, checking every feed once.
        cycles, checks, new, _last, failed = store_a.reads_between(NOW, NOW + timedelta(hours=1))
        assert (cycles, checks, new, failed) == (2, len(FEEDS), len(FEEDS), 0)
        feeds = store_a.feeds()
        assert all(f.last_checked_at == NOW and f.lease_owner is None for f in feeds)

        # Within the interval neither daemon finds a feed due again.
        again = [run_cycle(ctx, now=NOW + timedelta(minutes=1)) for ctx in contexts]
        assert [r.feeds_checked for r in again] == [0, 0]
        assert len(feed_server.requests) == len(FEEDS)


def test_a_claim_sends_the_feeds_it_skips_as_one_parameter(postgres_url: str) -> None:
    """A cycle's claims each skip every feed it claimed before: sent one parameter each, the
    claims of a long cycle cost more and more (175 ms instead of 66 for 500 feeds)."""
    feeds = [Feed(f"g{n:03d}", f"http://127.0.0.1:9/g{n:03d}.xml") for n in range(300)]
    sent: list[int] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "SKIP LOCKED" in statement:
            sent.append(len(parameters))

    with open_store(postgres_url) as store:
        store.sync_feeds(feeds, now=NOW)
        event.listen(store._engine, "before_cursor_execute", record)
        held: list[str] = []
        while due := store.due_feeds(NOW, owner="web1:100", lease=HOUR, limit=64, skip=held):
            assert not {f.id for f in due} & set(held)  # none claimed twice
            held += [f.id for f in due]
        assert sorted(held) == [f.id for f in feeds]
        assert len(sent) == 6 and len(set(sent)) == 1, sent  # as many with 0 skipped as 256
