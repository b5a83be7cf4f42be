"""The store against real SQLite files and PostgreSQL databases. Every test uses the `store`
fixture (and `store_url` to open a second handle), parametrised by `database_url`."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from threading import Barrier

import pytest
from sqlalchemy import event

from monitor.domain import Entry, Evidence, Feed, Match, StatusChange
from monitor.errors import StoreError
from monitor.store import Cycle, FetchRecord, ReplayHold, Store, open_store
from tests import storeops

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def store_url(database_url: str) -> str:
    return database_url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


def entry(n: int, *, published: datetime | None = NOW - HOUR, feed: str = "f1") -> Entry:
    return Entry(
        feed_id=feed,
        guid=f"guid-{n}",
        link=f"https://pub{n % 3}.com/story/{n}",
        title=f"Story number {n}",
        text=f"Body of story {n}.",
        published=published,
        publisher=f"pub{n % 3}.com",
    )


def match(e: Entry, indicator: str = "nk", outcome: str = "pressure") -> Match:
    return Match(e.key, indicator, outcome, ("China", "sanction*"), f"…{e.title}…")


def change(
    old: str,
    new: str,
    *,
    indicator: str = "nk",
    at: datetime = NOW,
    evidence: tuple[Evidence, ...] = (),
) -> StatusChange:
    return StatusChange(indicator, at, old, new, evidence, "hash-1")


# ---------------------------------------------------------------- entries and matches


def test_add_entries_returns_only_new_ones_deduplicated_by_key(store: Store) -> None:
    first = storeops.add_entries(store, [entry(1), entry(2), entry(1)], now=NOW)
    assert [e.guid for _, e in first] == ["guid-1", "guid-2"]
    assert len({entry_id for entry_id, _ in first}) == 2

    second = storeops.add_entries(store, [entry(2), entry(3), entry(3), entry(1)], now=NOW + MINUTE)
    assert [e.guid for _, e in second] == ["guid-3"]
    assert storeops.add_entries(store, [], now=NOW) == []
    assert storeops.add_entries(store, [entry(1)], now=NOW) == []


def test_an_entry_is_one_item_of_one_feed(store: Store) -> None:
    article = entry(1)
    elsewhere = entry(1, feed="other")
    assert article.key != elsewhere.key
    first = storeops.add_entries(store, [article, elsewhere], now=NOW)
    assert [e.feed_id for _, e in first] == [article.feed_id, "other"]
    assert storeops.add_entries(store, [elsewhere, article], now=NOW + MINUTE) == []
    # No guid, link, title or text: one item per feed, not one in the whole database.
    empty = Entry("f1", "", "", "", "", None, "example.com")
    other = Entry("other", "", "", "", "", None, "example.com")
    assert len(storeops.add_entries(store, [empty, other, empty], now=NOW)) == 2


def test_entry_time_is_published_unless_in_the_future(store: Store) -> None:
    kst = timezone(timedelta(hours=9))
    stored = storeops.add_entries(
        store,
        [
            entry(1, published=NOW - 3 * DAY),
            entry(2, published=NOW + DAY),
            entry(3, published=None),
            entry(4, published=(NOW - HOUR).astimezone(kst)),
        ],
        now=NOW,
    )
    storeops.add_matches(store, [(i, match(e)) for i, e in stored], {"nk": "h"})
    times = {e.entry_id: e.time for e in storeops.evidence(store, ["nk"], NOW - 10 * DAY)["nk"]}
    ids = [i for i, _ in stored]
    assert times == {ids[0]: NOW - 3 * DAY, ids[1]: NOW, ids[2]: NOW, ids[3]: NOW - HOUR}
    assert all(t.tzinfo is UTC for t in times.values())

    replay = store.entries_since(NOW - 2 * DAY)
    assert [(i, e.guid) for i, e, _ in replay] == [
        (ids[3], "guid-4"),
        (ids[1], "guid-2"),
        (ids[2], "guid-3"),
    ]
    assert replay[1][1] == entry(2, published=NOW + DAY)
    assert {seen for _, _, seen in replay} == {NOW}


def test_add_matches_is_idempotent_and_follows_the_definition(store: Store) -> None:
    stored = storeops.add_entries(store, [entry(1), entry(2)], now=NOW)
    items = [(i, match(e)) for i, e in stored] + [
        (stored[0][0], match(stored[0][1], outcome="balance"))
    ]
    assert storeops.add_matches(store, items, {"nk": "h1"}) == 3
    assert storeops.add_matches(store, items, {"nk": "h1"}) == 0
    assert storeops.add_matches(store, items + items, {"nk": "h1"}) == 0
    assert storeops.add_matches(store, [], {}) == 0

    assert (
        len(storeops.evidence(store, ["nk"], NOW - DAY, definition_hashes={"nk": "h2"})["nk"]) == 0
    )
    assert storeops.add_matches(store, items[:1], {"nk": "h2"}) == 1
    current = storeops.evidence(store, ["nk"], NOW - DAY, definition_hashes={"nk": "h2"})["nk"]
    assert [(e.entry_id, e.outcome_id) for e in current] == [(stored[0][0], "pressure")]


def test_evidence_is_the_window_of_matched_entries(store: Store) -> None:
    old, fresh, other = entry(1, published=NOW - 40 * DAY), entry(2), entry(3, published=NOW - DAY)
    stored = dict(
        (e.guid, i) for i, e in storeops.add_entries(store, [old, fresh, other, entry(4)], now=NOW)
    )
    storeops.add_matches(
        store,
        [
            (stored["guid-1"], match(old)),
            (stored["guid-2"], match(fresh)),
            (stored["guid-3"], match(other)),
            (stored["guid-3"], match(other, indicator="taiwan", outcome="calm")),
        ],
        {"nk": "h", "taiwan": "t"},
    )

    found = storeops.evidence(store, ["nk", "korea-japan"], NOW - 30 * DAY)
    assert set(found) == {"nk", "korea-japan"} and found["korea-japan"] == []
    assert [e.entry_id for e in found["nk"]] == [stored["guid-2"], stored["guid-3"]]  # newest first
    evidence = found["nk"][0]
    assert evidence == Evidence(
        entry_id=stored["guid-2"],
        indicator_id="nk",
        outcome_id="pressure",
        title="Story number 2",
        link="https://pub2.com/story/2",
        publisher="pub2.com",
        time=NOW - HOUR,
        terms=("China", "sanction*"),
        snippet="…Story number 2…",
        lede="Body of story 2.",  # the start of its text, which copies share
    )
    everything = storeops.evidence(store, None, NOW - 100 * DAY)
    assert {k: len(v) for k, v in everything.items()} == {"nk": 3, "taiwan": 1}


def test_pruning_unmatched_entries_keeps_matched_ones(store: Store) -> None:
    stored = storeops.add_entries(store, [entry(1), entry(2)], now=NOW - 400 * DAY)
    storeops.add_entries(store, [entry(3)], now=NOW)
    storeops.add_matches(store, [(stored[0][0], match(stored[0][1]))], {"nk": "h"})
    assert storeops.prune(store, NOW - 365 * DAY) == 1
    assert sorted(e.guid for _, e, _ in store.entries_since(NOW - 1000 * DAY)) == [
        "guid-1",
        "guid-3",
    ]
    assert storeops.add_entries(store, [entry(2)], now=NOW) == []  # deleted, not news again


# ---------------------------------------------------------------- statuses


def test_record_changes_is_compare_and_set(store: Store) -> None:
    store.ensure_indicators(["nk", "taiwan"], now=NOW - DAY)
    store.ensure_indicators(["nk"], now=NOW)  # already known: unchanged
    # Nothing was read for them yet: unknown, not quiet.
    assert store.current_statuses() == {
        "nk": ("unknown", NOW - DAY),
        "taiwan": ("unknown", NOW - DAY),
    }

    recorded = store.record_changes([change("unknown", "pressure:reported")])
    assert [c.new_status for c in recorded] == ["pressure:reported"]
    assert recorded[0].id is not None
    assert store.current_statuses()["nk"] == ("pressure:reported", NOW)

    stale = change("unknown", "balance:reported", at=NOW + MINUTE)
    assert store.record_changes([stale]) == []
    assert store.current_statuses()["nk"] == ("pressure:reported", NOW)
    assert len(store.history("nk")) == 1


def test_competing_changes_only_one_wins(store: Store) -> None:
    one, two = change("unknown", "pressure:reported"), change("unknown", "balance:reported")
    recorded = store.record_changes([one, two])
    assert [c.new_status for c in recorded] == ["pressure:reported"]


def test_competing_workers_only_one_wins(store: Store, store_url: str) -> None:
    workers = 6
    barrier = Barrier(workers)

    def compete(n: int) -> list[StatusChange]:
        with open_store(store_url) as own:
            barrier.wait()
            return own.record_changes([change("unknown", f"outcome{n}:reported")])

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(compete, range(workers)))
    winners = [c for recorded in results for c in recorded]
    assert len(winners) == 1
    assert store.current_statuses()["nk"][0] == winners[0].new_status
    assert [c.id for c in store.history("nk")] == [winners[0].id]


def test_changes_recorded_together_keep_their_order_and_each_indicators_steps(
    store: Store,
) -> None:
    """Changes recorded together are numbered in their order, two steps of one indicator apply
    one after the other, and one whose old status never held is skipped alone."""
    store.ensure_indicators(["zeta", "alpha", "nk"], now=NOW - DAY)
    changes = [
        change("unknown", "pressure:reported", indicator="zeta"),
        change("unknown", "quiet", indicator="nk", at=NOW - HOUR),
        change("quiet", "balance:reported", indicator="nk"),
        change("unknown", "eased:reported", indicator="alpha"),
        change("mixed", "quiet", indicator="alpha"),  # its old status never held: skipped
    ]

    recorded = store.record_changes(changes)

    # nk's first reading (unknown to quiet) moves its state but is no row: quiet is not news
    assert [(c.indicator_id, c.new_status) for c in recorded] == [
        ("zeta", "pressure:reported"), ("nk", "balance:reported"), ("alpha", "eased:reported"),
    ]  # fmt: skip
    ids = [c.id for c in recorded]
    assert ids == sorted(ids) and None not in ids
    assert store.current_statuses() == {
        "zeta": ("pressure:reported", NOW), "nk": ("balance:reported", NOW),
        "alpha": ("eased:reported", NOW),
    }  # fmt: skip


def test_unseen_indicator_with_a_non_quiet_old_status_is_skipped(store: Store) -> None:
    assert store.record_changes([change("mixed", "quiet")]) == []
    assert store.current_statuses() == {}


def test_history_pages_newest_first_with_evidence(store: Store) -> None:
    evidence = Evidence(
        1, "nk", "pressure", "Title", "https://a.com/1", "a.com", NOW - HOUR, ("Xi",), "…"
    )
    statuses = ["unknown", "pressure:reported", "pressure:confirmed", "mixed", "quiet", "unknown"]
    steps = [
        change(old, new, at=NOW + i * HOUR, evidence=(evidence,) if "pressure" in new else ())
        for i, (old, new) in enumerate(pairwise(statuses))
    ]
    recorded = store.record_changes(steps)
    assert len(recorded) == 5
    store.record_changes([change("unknown", "mixed", indicator="taiwan", at=NOW)])

    page = store.history("nk", limit=2)
    assert [c.new_status for c in page] == ["unknown", "quiet"]
    page = store.history("nk", limit=2, before_id=page[-1].id)
    assert [c.new_status for c in page] == ["mixed", "pressure:confirmed"]
    page = store.history("nk", limit=2, before_id=page[-1].id)
    assert [c.new_status for c in page] == ["pressure:reported"]
    assert page[0] == steps[0] and page[0].evidence == (evidence,)
    assert page[0].at.tzinfo is UTC and page[0].evidence[0].time == NOW - HOUR

    assert [c.new_status for c in store.history("nk", since=NOW + 3 * HOUR)] == ["unknown", "quiet"]
    between = store.changes_between(NOW, NOW + 2 * HOUR)
    assert [(c.indicator_id, c.new_status) for c in between] == [
        ("nk", "pressure:reported"),
        ("taiwan", "mixed"),
        ("nk", "pressure:confirmed"),
    ]


def test_replayed_flag_and_definition_hash_are_kept(store: Store) -> None:
    replayed = StatusChange("nk", NOW, "unknown", "mixed", (), "hash-9", replayed=True)
    store.record_changes([replayed])
    [stored] = store.history("nk")
    assert stored.replayed and stored.definition_hash == "hash-9"


# ---------------------------------------------------------------- feeds


FEEDS = [
    Feed("yonhap", "https://yna.example/rss", ("korea",), timedelta(minutes=10), "Yonhap"),
    Feed("xinhua", "https://xinhua.example/rss", ("china",)),
]


def test_due_feeds_are_leased_to_one_owner(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW, default_interval=timedelta(minutes=30))
    lease = 5 * MINUTE

    taken = store.due_feeds(NOW, owner="a", lease=lease)
    assert [f.id for f in taken] == ["xinhua", "yonhap"]
    assert {f.id: f.interval for f in taken} == {"xinhua": 30 * MINUTE, "yonhap": 10 * MINUTE}
    assert taken[0].url == "https://xinhua.example/rss" and taken[0].lease_until == NOW + lease
    assert store.due_feeds(NOW + MINUTE, owner="b", lease=lease) == []
    assert [f.id for f in store.due_feeds(NOW + lease, owner="b", lease=lease, limit=1)] == [
        "xinhua"
    ]
    assert [f.id for f in store.due_feeds(NOW + lease, owner="c", lease=lease)] == ["yonhap"]


def test_leases_are_renewed_and_released_only_by_their_owner(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW, default_interval=timedelta(minutes=30))
    lease = 5 * MINUTE
    [xinhua] = store.due_feeds(NOW, owner="a", lease=lease, limit=1)
    [yonhap] = store.due_feeds(NOW, owner="b", lease=lease, skip=[xinhua.id])
    assert (xinhua.id, yonhap.id) == ("xinhua", "yonhap")

    # Renewed: still a's when its first lease has run out (b's lease is not a's to renew).
    assert store.renew_leases(["xinhua", "yonhap"], owner="a", until=NOW + 2 * lease) == 1
    assert [f.id for f in store.due_feeds(NOW + lease, owner="c", lease=lease)] == ["yonhap"]
    assert store.due_feeds(NOW + lease + MINUTE, owner="d", lease=lease) == []

    # Released: due to anybody at once; b's lease is not a's to release.
    assert store.release_leases(owner="a") == 1
    assert [f.id for f in store.due_feeds(NOW + MINUTE, owner="e", lease=lease)] == ["xinhua"]
    assert store.release_leases(owner="a", feed_ids=["yonhap"]) == 0


def test_a_fetched_feed_waits_for_its_next_check(store: Store) -> None:
    store.sync_feeds(FEEDS[:1], now=NOW)
    [due] = store.due_feeds(NOW, owner="a", lease=5 * MINUTE)
    storeops.record_fetch(
        store,
        due.id,
        now=NOW,
        ok=True,
        http_status=200,
        etag='"v1"',
        last_modified="Sun, 01 Feb 2026",
        body_hash="b1",
        next_check_at=NOW + 10 * MINUTE,
        title="Yonhap News",
    )
    assert store.due_feeds(NOW + MINUTE, owner="b", lease=5 * MINUTE) == []
    [again] = store.due_feeds(NOW + 10 * MINUTE, owner="b", lease=5 * MINUTE)
    assert (again.etag, again.last_modified, again.body_hash) == ('"v1"', "Sun, 01 Feb 2026", "b1")
    assert store.feeds()[0].title == "Yonhap News"


def test_feeds_checked_on_a_clock_that_ran_ahead_are_due_once_it_is_set_back(
    store: Store,
) -> None:
    store.sync_feeds(FEEDS[:1], now=NOW)
    ahead = NOW + 5 * DAY  # the host's clock ran five days ahead, then was corrected
    [due] = store.due_feeds(ahead, owner="a", lease=5 * MINUTE)
    storeops.record_fetch(store, due.id, now=ahead, ok=True, next_check_at=ahead + 10 * MINUTE)
    store.due_feeds(ahead + 10 * MINUTE, owner="crashed", lease=5 * MINUTE)  # a lease left over
    # A daemon a few minutes behind the one that checked it waits for the feed's schedule…
    assert store.due_feeds(ahead - 4 * MINUTE, owner="b", lease=5 * MINUTE) == []
    assert store.due_feeds(ahead - 4 * MINUTE, owner="b", lease=5 * MINUTE, force=True) == []
    # …but on the corrected clock the feed is due, and the lease is no longer held.
    assert [f.id for f in store.due_feeds(NOW, owner="b", lease=5 * MINUTE)] == ["yonhap"]
    store.release_leases(owner="b")
    assert [f.id for f in store.due_feeds(NOW, owner="c", lease=5 * MINUTE, force=True)] == [
        "yonhap"
    ]


def test_record_fetch_tracks_failures_and_back_off(store: Store) -> None:
    store.sync_feeds(FEEDS[:1], now=NOW)
    storeops.record_fetch(
        store, "yonhap", now=NOW, ok=True, http_status=200, etag='"v1"', next_check_at=NOW
    )
    storeops.record_fetch(
        store,
        "yonhap",
        now=NOW + HOUR,
        ok=False,
        http_status=503,
        error="fetch: 503",
        error_count=1,
        next_check_at=NOW + 2 * HOUR,
    )
    storeops.record_fetch(
        store,
        "yonhap",
        now=NOW + 2 * HOUR,
        ok=False,
        error="fetch: timeout",
        error_count=2,
        next_check_at=NOW + 4 * HOUR,
    )
    [state] = store.feeds()
    assert state.failing_since == NOW + HOUR
    assert (state.error_count, state.last_error, state.http_status) == (2, "fetch: timeout", None)
    assert state.next_check_at == NOW + 4 * HOUR and state.last_success_at == NOW
    assert store.due_feeds(NOW + 3 * HOUR, owner="a", lease=MINUTE) == []
    [due] = store.due_feeds(NOW + 4 * HOUR, owner="a", lease=MINUTE)
    assert due.error_count == 2 and due.etag == '"v1"'  # a failure keeps the validators
    assert store.feed_health()[0].failing_since == NOW + HOUR

    storeops.record_fetch(
        store, "yonhap", now=NOW + 4 * HOUR, ok=True, http_status=304, next_check_at=NOW + 5 * HOUR
    )
    [state] = store.feeds()
    assert state.failing_since is None and state.error_count == 0 and state.last_error == ""
    assert state.not_modified and state.last_checked_at == NOW + 4 * HOUR


def test_moved_and_dead_feeds(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    storeops.record_fetch(
        store, "yonhap", now=NOW, ok=True, http_status=301, moved_to="https://new.example/rss"
    )
    storeops.record_fetch(
        store, "xinhua", now=NOW, ok=False, http_status=410, error="gone", dead=True,
        next_check_at=NOW + DAY,
    )  # fmt: skip
    [due] = store.due_feeds(NOW, owner="a", lease=MINUTE)
    assert (due.id, due.url) == ("yonhap", "https://new.example/rss")
    health = {h.feed_id: h for h in store.feed_health()}
    assert health["xinhua"].dead and health["xinhua"].last_error == "gone"
    assert not health["yonhap"].dead and health["yonhap"].interval == timedelta(minutes=10)
    # Gone is tried again at its next check, and at once when forced (`monitor check --force`).
    assert store.due_feeds(NOW + HOUR, owner="b", lease=MINUTE, skip=["yonhap"]) == []
    forced = store.due_feeds(NOW + MINUTE, owner="c", lease=MINUTE, force=True, skip=["yonhap"])
    assert [f.id for f in forced] == ["xinhua"]
    store.release_leases(owner="c")
    due = store.due_feeds(NOW + DAY, owner="b", lease=MINUTE, skip=["yonhap"])
    assert [f.id for f in due] == ["xinhua"]


def test_sync_feeds_keeps_state_resets_changed_urls_and_retires_the_rest(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    storeops.record_fetch(store, "yonhap", now=NOW, ok=False, error="x", error_count=3, etag='"v"')
    storeops.record_fetch(store, "xinhua", now=NOW, ok=False, error="y", error_count=1)

    moved = Feed("xinhua", "https://xinhua.example/v2/rss", ("china",))
    store.sync_feeds([FEEDS[0], moved], now=NOW + HOUR)
    states = {f.id: f for f in store.feeds()}
    assert states["yonhap"].error_count == 3 and states["yonhap"].failing_since == NOW
    assert states["xinhua"].url == "https://xinhua.example/v2/rss"
    assert states["xinhua"].error_count == 0 and states["xinhua"].failing_since is None
    assert states["xinhua"].next_check_at == NOW + HOUR

    store.sync_feeds([FEEDS[0]], now=NOW + HOUR)
    assert [f.id for f in store.feeds()] == ["yonhap"]
    assert [f.id for f in store.feeds(include_inactive=True)] == ["xinhua", "yonhap"]
    assert [h.feed_id for h in store.feed_health()] == ["yonhap"]
    assert [f.id for f in store.due_feeds(NOW + 2 * HOUR, owner="a", lease=MINUTE)] == ["yonhap"]

    # Configured again: it starts afresh, as a new feed would (`monitor check` reads it now).
    storeops.record_fetch(store, "yonhap", now=NOW + 2 * HOUR, ok=False, error="z", error_count=4,
                          dead=True, next_check_at=NOW + DAY)  # fmt: skip
    store.sync_feeds([moved], now=NOW + 3 * HOUR)
    store.sync_feeds([FEEDS[0], moved], now=NOW + 3 * HOUR)
    yonhap = next(f for f in store.feeds() if f.id == "yonhap")
    assert (yonhap.dead, yonhap.error_count, yonhap.failing_since, yonhap.last_error) == (
        False, 0, None, "",
    )  # fmt: skip
    [due] = store.due_feeds(NOW + 3 * HOUR, owner="b", lease=MINUTE, skip=["xinhua"])
    assert (due.id, due.etag, due.error_count) == ("yonhap", None, 0)  # "v" was its ETag


def test_a_feed_keeps_the_warning_of_the_body_last_read(store: Store) -> None:
    """A 304, an unchanged body or a failure reads no body: the last one's warning stands; the
    next body read without one clears it, as does a new URL. It changes no health."""
    store.sync_feeds(FEEDS, now=NOW)
    shared = (
        "3 items share the guid of an earlier one: stored as stories of their own, told "
        "apart by headline"
    )
    store.record_fetches(  # one batch, two sets of columns
        [
            FetchRecord("yonhap", NOW, ok=True, http_status=200, warning=shared),
            FetchRecord("xinhua", NOW, ok=True, http_status=200, warning=""),
        ]
    )
    assert {f.id: f.warning for f in store.feeds()} == {"xinhua": "", "yonhap": shared}
    counts = store.feed_counts(NOW)
    assert (counts.total, counts.failing, counts.with_warning) == (2, 0, 1)
    assert all(h.failing_since is None and not h.never_read for h in store.feed_health())

    storeops.record_fetch(store, "yonhap", now=NOW + HOUR, ok=True, http_status=304)
    storeops.record_fetch(store, "yonhap", now=NOW + 2 * HOUR, ok=False, error="fetch: 503")
    [yonhap] = [f for f in store.feeds() if f.id == "yonhap"]
    assert (yonhap.warning, yonhap.last_error) == (shared, "fetch: 503")

    storeops.record_fetch(store, "yonhap", now=NOW + 3 * HOUR, ok=True, warning="")
    assert [f.warning for f in store.feeds()] == ["", ""]
    assert store.feed_counts(NOW + 3 * HOUR).with_warning == 0

    storeops.record_fetch(store, "xinhua", now=NOW + 3 * HOUR, ok=True, warning="ill-formed")
    moved = Feed("xinhua", "https://xinhua.example/v2/rss", ("china",))
    store.sync_feeds([FEEDS[0], moved], now=NOW + 4 * HOUR)  # another feed now
    assert [f.warning for f in store.feeds()] == ["", ""]


def test_a_shorter_interval_takes_effect_from_the_last_check(store: Store) -> None:
    """Not at the next check the old interval planned: a feed checked every 15 minutes and now
    every 2 is due 2 minutes after its last check; one backing off from failures keeps its
    back-off."""
    plain = [FEEDS[1], Feed("herald", "https://herald.example/rss", ("korea",))]
    store.sync_feeds(plain, now=NOW, default_interval=timedelta(minutes=15))
    storeops.record_fetch(store, "xinhua", now=NOW, ok=True, next_check_at=NOW + 15 * MINUTE)
    storeops.record_fetch(store, "herald", now=NOW, ok=False, error="down", error_count=2,
                          next_check_at=NOW + HOUR)  # fmt: skip

    store.sync_feeds(plain, now=NOW + MINUTE, default_interval=timedelta(minutes=2))

    planned = {f.id: f.next_check_at for f in store.feeds()}
    assert planned == {"xinhua": NOW + 2 * MINUTE, "herald": NOW + HOUR}
    due = store.due_feeds(NOW + 3 * MINUTE, owner="a", lease=MINUTE)
    assert [f.id for f in due] == ["xinhua"]
    store.sync_feeds(plain, now=NOW + 4 * MINUTE, default_interval=timedelta(minutes=30))
    assert {f.id: f.next_check_at for f in store.feeds()}["xinhua"] == NOW + 2 * MINUTE  # kept


def test_record_fetch_of_an_unknown_feed_fails(store: Store) -> None:
    with pytest.raises(StoreError, match="store: unknown feed 'nope'"):
        storeops.record_fetch(store, "nope", now=NOW, ok=True)


# ---------------------------------------------------------------- digest and cycles


def test_claim_digest_once(store: Store) -> None:
    day = date(2026, 2, 1)
    assert store.claim_digest(day, owner="a", now=NOW)
    assert not store.claim_digest(day, owner="b", now=NOW + MINUTE)
    assert store.claim_digest(date(2026, 2, 2), owner="b", now=NOW)
    assert store.last_digest() is None

    store.mark_digest_sent(day, NOW + MINUTE)
    assert not store.claim_digest(day, owner="b", now=NOW + DAY)
    assert store.last_digest() == (day, NOW + MINUTE)


def test_a_stale_or_failed_digest_claim_can_be_retaken(store: Store) -> None:
    day = date(2026, 2, 1)
    assert store.claim_digest(day, owner="a", now=NOW)
    assert not store.claim_digest(day, owner="b", now=NOW + 14 * MINUTE)
    assert store.claim_digest(day, owner="b", now=NOW + 15 * MINUTE)  # "a" died mid-send

    store.mark_digest_failed(day, "digest: smtp refused", NOW + 16 * MINUTE)
    state = store.digest_state(day)
    assert (
        state is not None and state.last_error == "digest: smtp refused" and state.sent_at is None
    )
    assert store.claim_digest(day, owner="c", now=NOW + 17 * MINUTE)
    state = store.digest_state(day)
    assert state is not None and (state.claimed_by, state.attempts) == ("c", 3)
    assert store.digest_state(date(2020, 1, 1)) is None


def test_cycles(store: Store) -> None:
    assert store.last_successful_cycle() is None and storeops.last_cycle(store) is None
    store.record_cycle(Cycle(NOW, NOW + MINUTE, feeds_checked=3, new_entries=7))
    cycle_id = store.record_cycle(Cycle(NOW + HOUR, NOW + HOUR + MINUTE, failed=3, ok=False))
    assert store.last_successful_cycle() == NOW + MINUTE
    last = storeops.last_cycle(store)
    assert last == Cycle(NOW + HOUR, NOW + HOUR + MINUTE, failed=3, ok=False, id=cycle_id)


def test_data_version_moves_with_cycles_changes_and_new_matches(store: Store) -> None:
    assert store.data_version() == (0,) * 6
    store.sync_feeds(FEEDS, now=NOW)
    stored = storeops.add_entries(store, [entry(1), entry(2)], now=NOW)
    assert store.data_version() == (0,) * 6  # entries nobody matched show nowhere
    storeops.add_matches(store, [(stored[1][0], match(entry(2)))], {"nk": "h"})
    matched = store.data_version()
    store.record_changes([change("unknown", "pressure:reported")])
    changed = store.data_version()
    store.record_cycle(Cycle(NOW, NOW + MINUTE))
    cycled = store.data_version()
    assert matched[2] == stored[1][0]
    assert matched < changed < cycled
    assert store.data_version() == cycled


def test_the_data_version_and_a_replay_s_hold_read_in_one_query_are_those_read_apart(
    store: Store,
) -> None:
    """What every request for the statuses reads: the hold's times exactly as the table's
    type reads them (SQLite's text, PostgreSQL's timestamptz), to the microsecond."""
    store.record_cycle(Cycle(NOW, NOW + MINUTE))
    assert store.version_and_hold() == (store.data_version(), None)
    since = NOW - timedelta(days=3, microseconds=123457)
    store.begin_replay(since, owner="web1:4242", now=NOW, lease=timedelta(seconds=90.5))
    version, hold = store.version_and_hold()
    assert (version, hold) == (store.data_version(), store.replay_hold())
    assert hold == ReplayHold(since, "web1:4242", NOW + timedelta(seconds=90.5))
    store.end_replay(owner="web1:4242")
    assert store.version_and_hold() == (store.data_version(), None)


# ---------------------------------------------------------------- the database


def test_data_survives_reopening(store: Store, store_url: str) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    stored = storeops.add_entries(store, [entry(1)], now=NOW)
    storeops.add_matches(store, [(stored[0][0], match(entry(1)))], {"nk": "h"})
    store.record_changes([change("unknown", "pressure:reported")])
    store.claim_digest(date(2026, 2, 1), owner="a", now=NOW)
    store.close()

    with open_store(store_url) as reopened:
        assert [f.id for f in reopened.feeds()] == ["xinhua", "yonhap"]
        assert storeops.add_entries(reopened, [entry(1)], now=NOW) == []
        assert len(storeops.evidence(reopened, ["nk"], NOW - DAY)["nk"]) == 1
        assert reopened.current_statuses() == {"nk": ("pressure:reported", NOW)}
        assert not reopened.claim_digest(date(2026, 2, 1), owner="b", now=NOW)


def test_sqlite_is_in_wal_mode(store: Store, store_url: str) -> None:
    import sqlite3

    if store.dialect != "sqlite":
        pytest.skip("SQLite only")
    storeops.add_entries(store, [entry(1)], now=NOW)
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(StoreError, match="store: unable to add matches"):
        storeops.add_matches(store, [(999, match(entry(1)))], {"nk": "h"})


def test_database_errors_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="bad database URL"):
        open_store("not a url")
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"dir\.db is a folder, not a database file"):
        open_store(f"sqlite:///{tmp_path / 'dir.db'}")
    (tmp_path / "text.db").write_text("my notes\n")
    with pytest.raises(StoreError, match="store: unable to open"):
        open_store(f"sqlite:///{tmp_path / 'text.db'}")


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.ensure_indicators(["nk"], now=datetime(2026, 2, 1))
    with pytest.raises(StoreError):
        storeops.add_entries(store, [entry(1)], now=datetime(2026, 2, 1))
    with pytest.raises(StoreError):
        storeops.add_entries(store, [entry(2, published=datetime(2026, 1, 1))], now=NOW)
    assert storeops.add_entries(store, [entry(3)], now=NOW)


def test_bulk_insert_takes_a_few_statements_not_one_per_entry(store: Store) -> None:
    """20,000 entries go in by a handful of batched statements (what makes it fast: the
    benchmark's "store new entries" target measures the rate), never one per entry."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    entries = [entry(n) for n in range(20_000)]
    event.listen(store._engine, "before_cursor_execute", count)
    try:
        assert len(storeops.add_entries(store, entries, now=NOW)) == 20_000
    finally:
        event.remove(store._engine, "before_cursor_execute", count)
    assert 0 < len(statements) <= 100, statements[:5]


def test_replace_matches_makes_the_new_matches_the_only_ones(store: Store) -> None:
    stored = storeops.add_entries(store, [entry(n) for n in range(12_000)], now=NOW)
    first, second = stored[0], stored[1]
    storeops.add_matches(
        store,
        [(first[0], match(first[1])), (second[0], match(second[1], indicator="gone"))],
        {"nk": "h1"},
    )
    replaced = store.replace_matches(
        [i for i, _ in stored], [(first[0], match(first[1], outcome="balance"))], {"nk": "h2"}
    )
    assert replaced == 1
    everything = storeops.evidence(store, None, NOW - DAY)
    assert {k: [(e.entry_id, e.outcome_id) for e in v] for k, v in everything.items()} == {
        "nk": [(first[0], "balance")]
    }
    assert store.replace_matches([first[0]], [], {}) == 0
    assert storeops.evidence(store, None, NOW - DAY) == {}


def test_a_304_taken_is_not_modified_and_one_refused_is_not(store: Store) -> None:
    """A 304 to a request that sent no validator is refused as a failure: /feeds and the page
    showed it "304 (not modified)" next to "failing"."""
    store.sync_feeds(FEEDS[:1], now=NOW)
    storeops.record_fetch(store, "yonhap", now=NOW, ok=True, http_status=304)
    taken = store.feeds()[0].not_modified
    error = "fetch: 304 Not Modified to a request without validators"
    storeops.record_fetch(store, "yonhap", now=NOW + HOUR, ok=False, http_status=304, error=error)
    assert (taken, store.feeds()[0].not_modified) == (True, False)


def test_a_change_worked_out_now_is_among_the_changes_up_to_now(store: Store) -> None:
    """`digest --preview` right after an upgrade or a while without a daemon: the change a
    check would record now is listed under "What changed", as its status is shown."""
    store.ensure_indicators(["nk"], now=NOW - DAY)
    store.record_changes([change("unknown", "pressure:reported", at=NOW - HOUR)])
    pending = change("pressure:reported", "quiet", at=NOW)
    shown = store.with_unrecorded([pending]).changes_between(NOW - DAY, NOW)
    assert [(c.old_status, c.new_status) for c in shown] == [
        ("unknown", "pressure:reported"),
        ("pressure:reported", "quiet"),
    ]
