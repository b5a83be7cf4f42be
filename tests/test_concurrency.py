"""Several workers on one PostgreSQL database, racing for real (each with its own store and
connections, released at once by a barrier): every due feed is claimed once, a status change is
recorded once, the digest of a day is claimed once, an item (also a later story under a reused
guid) is stored once."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from threading import Barrier
from typing import TypeVar

import pytest
from sqlalchemy import create_engine

from monitor.domain import INITIAL, QUIET, Entry, Feed, StatusChange
from monitor.store import Store, open_store
from tests import storeops

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
WORKERS = 8
LEASE = timedelta(minutes=5)
T = TypeVar("T")


def race(url: str, work: Callable[[Store, int], T], workers: int = WORKERS) -> list[T]:
    """Run `work(own store, n)` in `workers` threads started together."""
    barrier = Barrier(workers)

    def one(n: int) -> T:
        with open_store(url) as own:
            own.current_statuses()  # connect before the start
            barrier.wait()
            return work(own, n)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(workers)))


@pytest.fixture
def store(postgres_url: str) -> Store:
    with open_store(postgres_url) as opened:
        yield opened


def test_each_due_feed_is_claimed_by_one_worker(store: Store, postgres_url: str) -> None:
    feeds = [Feed(f"feed{n:03}", f"http://127.0.0.1/{n}.xml") for n in range(200)]
    store.sync_feeds(feeds, now=NOW, default_interval=timedelta(minutes=15))

    def claim(own: Store, n: int) -> list[str]:
        taken: list[str] = []
        for call in itertools.count():  # an owner's own leases are free to it: one per call
            batch = own.due_feeds(NOW, owner=f"w{n}.{call}", lease=LEASE, limit=7)
            if not batch:
                return taken
            taken += [f.id for f in batch]
        raise AssertionError("unreachable")

    claims = race(postgres_url, claim)
    counted = Counter(feed_id for taken in claims for feed_id in taken)
    assert sorted(counted) == [f.id for f in feeds]
    assert set(counted.values()) == {1}
    assert sum(1 for taken in claims if taken) > 1  # the work was spread, not serialised


def test_daemons_starting_at_once_add_the_feeds_once(store: Store, postgres_url: str) -> None:
    feeds = [Feed(f"feed{n:03}", f"http://127.0.0.1/{n}.xml") for n in range(200)]

    def start(own: Store, n: int) -> None:
        own.sync_feeds(feeds, now=NOW, default_interval=timedelta(minutes=15))
        own.ensure_indicators(["nk", "visa"], now=NOW)

    race(postgres_url, start)
    assert [f.id for f in store.feeds()] == [f.id for f in feeds]
    assert set(store.current_statuses()) == {"nk", "visa"}


def test_leases_of_a_dead_worker_are_taken_over_once(store: Store, postgres_url: str) -> None:
    feeds = [Feed(f"feed{n:03}", f"http://127.0.0.1/{n}.xml") for n in range(50)]
    store.sync_feeds(feeds, now=NOW, default_interval=timedelta(minutes=15))
    assert len(store.due_feeds(NOW, owner="dead", lease=LEASE)) == 50  # and never recorded

    early = race(postgres_url, lambda own, n: own.due_feeds(NOW + LEASE / 2, owner=f"w{n}",
                                                            lease=LEASE))  # fmt: skip
    assert early == [[]] * WORKERS

    later = NOW + LEASE
    claims = race(postgres_url, lambda own, n: [
        f.id for f in own.due_feeds(later, owner=f"w{n}", lease=LEASE)
    ])  # fmt: skip
    counted = Counter(feed_id for taken in claims for feed_id in taken)
    assert len(counted) == 50 and set(counted.values()) == {1}


def test_a_status_change_raced_by_every_worker_is_recorded_once(
    store: Store, postgres_url: str
) -> None:
    indicators = [f"ind{n}" for n in range(20)]
    store.ensure_indicators(indicators, now=NOW)
    steps = [(INITIAL, "pressure:reported"), ("pressure:reported", "pressure:confirmed"),
             ("pressure:confirmed", QUIET)]  # fmt: skip

    def evaluate(own: Store, n: int) -> int:
        recorded = 0
        for minute, (old, new) in enumerate(steps):
            at = NOW + timedelta(minutes=minute)
            changes = [StatusChange(i, at, old, new, (), "hash") for i in indicators]
            recorded += len(own.record_changes(changes))
        return recorded

    assert sum(race(postgres_url, evaluate)) == len(indicators) * len(steps)
    for indicator in indicators:
        history = [(c.old_status, c.new_status) for c in reversed(store.history(indicator))]
        assert history == steps
    assert store.change_counts() == dict.fromkeys(indicators, len(steps))


def test_stories_raced_under_one_guid_are_each_stored_once(store: Store, postgres_url: str) -> None:
    """A CMS reuses guids: each slot holds a stored story and offers a later one; each fresh
    slot offers two stories, some workers seeing one first, the others the other."""

    def story(slot: str, title: str) -> Entry:
        return Entry("f1", slot, f"https://pub.com/{slot}/{title}", f"Story {title} of {slot}",
                     f"Text of {title}.", NOW, "pub.com")  # fmt: skip

    used, fresh = [f"used-{n}" for n in range(30)], [f"fresh-{n}" for n in range(30)]
    storeops.add_entries(store, [story(slot, "alpha") for slot in used], now=NOW)

    def check(own: Store, n: int) -> int:
        first, second = ("alpha", "beta") if n % 2 else ("beta", "alpha")
        offered = [story(slot, title) for slot in used for title in (first, second)]
        offered += [story(slot, "gamma" if n % 2 else "delta") for slot in fresh]
        return len(storeops.add_entries(own, offered, now=NOW + timedelta(minutes=1)))

    assert sum(race(postgres_url, check)) == len(used) + 2 * len(fresh)
    stored = Counter((e.guid, e.title) for _, e, _ in store.entries_since(NOW - LEASE))
    assert set(stored.values()) == {1} and len(stored) == 2 * len(used) + 2 * len(fresh)


def test_competing_outcomes_interleave_into_one_chain(store: Store, postgres_url: str) -> None:
    store.ensure_indicators(["nk"], now=NOW)
    statuses = [INITIAL, "pressure:reported", "balance:reported"]

    def flip(own: Store, n: int) -> int:
        recorded = 0
        for step in range(30):
            old, new = statuses[(n + step) % 3], statuses[(n + step + 1) % 3]
            at = NOW + timedelta(seconds=step)
            recorded += len(own.record_changes([StatusChange("nk", at, old, new, (), "h")]))
        return recorded

    total = sum(race(postgres_url, flip))
    history = list(reversed(store.history("nk", limit=1000)))
    assert len(history) == total
    assert history[0].old_status == INITIAL
    for before, after in itertools.pairwise(history):
        assert before.new_status == after.old_status  # each change starts where the last ended
    assert store.current_statuses()["nk"][0] == history[-1].new_status


def test_the_digest_of_a_day_is_claimed_by_one_worker(postgres_url: str) -> None:
    day = date(2026, 2, 1)
    wins = race(postgres_url, lambda own, n: own.claim_digest(day, owner=f"w{n}", now=NOW))
    assert wins.count(True) == 1
    again = race(postgres_url, lambda own, n: own.claim_digest(day, owner=f"w{n}", now=NOW))
    assert again.count(True) == 0


def churned(feed_id: str, n: int, link: str = "https://pub.com/visa") -> Entry:
    """The same item of `feed_id` under the `n`th guid its CMS wrote for it."""
    return Entry(feed_id, f"urn:{n}", link, "Visa waiver agreed", "Text.", NOW, "pub.com")


@pytest.mark.parametrize("link", ["https://pub.com/visa", ""], ids=["link", "no-link"])
def test_an_item_under_new_guids_stored_by_two_daemons_at_once_is_stored_once(
    store: Store, postgres_url: str, link: str
) -> None:
    """Two daemons check one feed whose guids change at every read at the same moment: the
    other stores the item just after this one found its item key not stored yet."""
    other: list[list[tuple[int, Entry]]] = []
    watcher = create_engine(postgres_url)
    with open_store(postgres_url) as second:
        threads: list[threading.Thread] = []

        def stores_it() -> None:
            other.append(storeops.add_entries(second, [churned("f1", 2, link)], now=NOW))

        def the_other_stores_it() -> None:
            threads.append(storeops.started_until_done_or_waiting(watcher, stores_it))

        storeops.before(store, "INSERT INTO entry", the_other_stores_it)
        mine = storeops.add_entries(store, [churned("f1", 1, link)], now=NOW)
        threads[0].join()
    watcher.dispose()

    assert len(mine) + len(other[0]) == 1
    assert len(store.entries_since(NOW - LEASE)) == 1


def test_daemons_storing_several_feeds_in_any_order_wait_for_no_one_in_a_circle(
    store: Store, postgres_url: str
) -> None:
    feeds = [f"f{n}" for n in range(6)]

    def check(own: Store, n: int) -> int:
        order = feeds if n % 2 else feeds[::-1]
        offered = [churned(f, 10 * n + i, f"https://pub.com/{f}") for i, f in enumerate(order)]
        return len(storeops.add_entries(own, offered, now=NOW))

    assert sum(race(postgres_url, check)) == len(feeds)
