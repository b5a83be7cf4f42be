"""Retention of everything (`Store.prune`) and the space given back (`Store.compact`), on
SQLite and PostgreSQL: old entries go, matched ones once outside every window, judged ones
stay; old changes go but the latest of each indicator and pending alerts; old cycles go and
their counts stay in the totals; old digests go but the latest sent and those still needed,
and the next digest lists the changes since that one (a real SMTP server); a SQLite file
shrinks."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.daily import digest_input, send_daily_digest
from monitor.domain import Definitions, Entry, Judgement, StatusChange, Verdict
from monitor.metrics import CYCLE_BUCKETS
from monitor.store import Cycle, Pruned, Store, open_store
from monitor.store.schema import digest_table
from tests import storeops, test_daily, test_digest_resend
from tests.smtpserver import running_smtp_server
from tests.test_store import DAY, HOUR, MINUTE, NOW, change, entry, match

definitions = test_daily.definitions  # fixture: the shipped indicators, feeds on 127.0.0.1


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def prune(store: Store, before: datetime, matched_before: datetime) -> Pruned:
    return store.prune(now=NOW, before=before, matched_before=matched_before, buckets=CYCLE_BUCKETS)


def stored(store: Store, numbers: range, *, age: int, matched: bool) -> list[int]:
    """Entries `age` days old (published and first seen), matched by nk or not; their ids."""
    when = NOW - age * DAY
    new = storeops.add_entries(store, [entry(n, published=when) for n in numbers], now=when)
    if matched:
        storeops.add_matches(store, [(i, match(e)) for i, e in new], {"nk": "h"})
    return [i for i, _ in new]


def test_prune_deletes_old_entries_and_matches_but_judged_ones(store: Store) -> None:
    old_unmatched = stored(store, range(0, 3), age=400, matched=False)
    old_matched = stored(store, range(3, 6), age=400, matched=True)
    recent_matched = stored(store, range(6, 8), age=100, matched=True)  # inside a long window
    fresh = stored(store, range(8, 9), age=1, matched=False)
    judged = old_matched[0]
    store.add_verdict(Verdict(judged, "nk", "pressure", Judgement.YES, "ana", NOW))
    pruned = prune(store, NOW - 365 * DAY, NOW - 365 * DAY)
    assert (pruned.entries, pruned.matched) == (5, 2)
    left = {i for i in old_unmatched + old_matched + recent_matched + fresh if store.entry(i)}
    assert left == {judged, *recent_matched, *fresh}
    found = storeops.evidence(store, ["nk"], NOW - 1000 * DAY)["nk"]
    assert sorted(e.entry_id for e in found) == sorted([judged, *recent_matched])
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).entries == 0
    # A window longer than the retention keeps its matched entries: the daemon says so.
    assert prune(store, NOW - 30 * DAY, NOW - 120 * DAY).matched == 0


def test_prune_keeps_the_latest_change_of_each_indicator_and_pending_alerts(store: Store) -> None:
    store.ensure_indicators(["nk", "tw"], now=NOW - 500 * DAY)
    statuses = ["unknown", "pressure:reported", "quiet", "pressure:reported", "quiet"]
    for n, (old, new) in enumerate(itertools.pairwise(statuses)):
        store.record_changes([change(old, new, at=NOW - (500 - n) * DAY)])
    [pending] = store.record_changes(
        [change("unknown", "pressure:reported", indicator="tw", at=NOW - 400 * DAY)], alert=True
    )
    [recent] = store.record_changes([change("quiet", "pressure:reported", at=NOW - DAY)])
    everything = store.history("nk") + store.history("tw")
    pruned = prune(store, NOW - 365 * DAY, NOW - 365 * DAY)
    assert pruned.changes == len(everything) - 2  # all of nk's but the latest; tw's is pending
    assert [c.id for c in store.history("nk")] == [recent.id]
    assert [c.id for c in store.history("tw")] == [pending.id]


def test_pruned_cycles_still_count_in_the_totals(store: Store) -> None:
    for n in range(5):
        start = NOW - (400 - n) * DAY if n < 3 else NOW - n * HOUR
        store.record_cycle(Cycle(start, start + n * MINUTE, feeds_checked=n + 1, ok=n != 1))
    before = store.cycle_totals(CYCLE_BUCKETS)
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).cycles == 3
    assert store.cycle_totals(CYCLE_BUCKETS) == before
    store.record_cycle(Cycle(NOW, NOW + MINUTE, feeds_checked=10))
    assert prune(store, NOW - 2 * HOUR, NOW - 2 * HOUR).cycles == 2
    after = store.cycle_totals(CYCLE_BUCKETS)
    assert (after.cycles, after.feeds_checked) == (6, before.feeds_checked + 10)
    assert after.within[-1] == 6 and store.last_successful_cycle() == NOW + MINUTE


def big(n: int) -> Entry:
    e = entry(n, published=NOW - 400 * DAY)
    return Entry(
        e.feed_id, e.guid, e.link, e.title, f"{n} " + "wire text " * 300, e.published, e.publisher
    )


@pytest.mark.parametrize("vacuum", ["incremental", "none"])
def test_a_sqlite_file_shrinks_after_pruning(tmp_path: Path, vacuum: str) -> None:
    path = tmp_path / "monitor.db"
    if vacuum == "none":  # a file made before auto_vacuum was set: compacted by a full VACUUM
        open_store(f"sqlite:///{path}").close()
        with sqlite3.connect(path, isolation_level=None) as db:
            db.executescript("PRAGMA auto_vacuum = NONE; VACUUM")
    with open_store(f"sqlite:///{path}") as store:
        storeops.add_entries(store, [big(n) for n in range(3000)], now=NOW - 400 * DAY)
        stored(store, range(5000, 5010), age=1, matched=True)
        assert store.compact() is False  # nothing to give back
        full = path.stat().st_size + (tmp_path / "monitor.db-wal").stat().st_size
        pruned = prune(store, NOW - 365 * DAY, NOW - 365 * DAY)
        assert pruned.entries == 3000
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == (2 if vacuum != "none" else 0)
        assert store.compact() is True
        assert path.stat().st_size < full / 5
        assert len(storeops.evidence(store, ["nk"], NOW - 30 * DAY)["nk"]) == 10
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on


def test_postgresql_is_vacuumed_and_analyzed_after_pruning(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        stored(store, range(3), age=400, matched=True)
        prune(store, NOW - 365 * DAY, NOW - 365 * DAY)
        assert store.compact() is True
        with store._tx("read") as conn:
            done = conn.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE last_vacuum IS NOT NULL AND last_analyze IS NOT NULL"
            )
            pruned = {"entry", "entry_match", "status_change", "cycle", "digest"}
            assert pruned <= set(done.scalars())


def test_a_deleted_entry_a_feed_still_carries_is_not_news_again(store: Store) -> None:
    # Three undated stories matched 400 days ago: an undated entry's time is when it was first
    # seen, so one stored again would be evidence of today.
    carried = [entry(n, published=None) for n in range(3)]
    new = storeops.add_entries(store, carried, now=NOW - 400 * DAY)
    storeops.add_matches(store, [(i, match(e)) for i, e in new], {"nk": "h"})
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).matched == 3
    # The feed still carries them, and one new story.
    again = storeops.add_entries(store, [*carried, entry(9, published=None)], now=NOW + HOUR)
    assert [e.guid for _, e in again] == ["guid-9"]
    assert storeops.evidence(store, ["nk"], NOW - 30 * DAY)["nk"] == []
    # Later the feed drops the third; its key is forgotten a retention period after the feed
    # last offered it, the others' keys stay while they are offered.
    storeops.add_entries(store, carried[:2], now=NOW + 2 * DAY)
    store.prune(now=NOW + 3 * DAY, before=NOW + DAY, matched_before=NOW - 365 * DAY, buckets=())
    back = storeops.add_entries(store, carried, now=NOW + 3 * DAY)
    assert [e.guid for _, e in back] == ["guid-2"]


@pytest.mark.parametrize("key", ["guid", "link"])
def test_a_new_story_under_a_deleted_entrys_key_is_news_the_old_item_is_not(
    store: Store, key: str
) -> None:
    # Two undated items seen 400 days ago, keyed by their guid (or, without one, their link).
    old = [entry(n, published=None) for n in range(2)]
    old = old if key == "guid" else [replace(e, guid="") for e in old]
    storeops.add_entries(store, old, now=NOW - 400 * DAY)
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).entries == 2
    # The feed offers the first again, its headline restyled (case, spacing, punctuation): the
    # same item. Under the second's key, the CMS now publishes another story: news.
    same = replace(old[0], title="STORY  number 0 ...")
    reused = replace(old[1], title="Seoul and Beijing sign a visa deal", text="New.", published=NOW)
    again = storeops.add_entries(store, [same, reused], now=NOW)
    assert [e.title for _, e in again] == [reused.title]
    assert storeops.add_entries(store, [same, reused], now=NOW + HOUR) == []  # stored once
    # Deleted in its turn, the new story is forgotten with its own headline: offered again it
    # is not news, and the old item back under its key would be another story.
    store.prune(now=NOW + 400 * DAY, before=NOW + 399 * DAY, matched_before=NOW, buckets=())
    assert storeops.add_entries(store, [reused], now=NOW + 400 * DAY) == []
    back = storeops.add_entries(store, [old[1]], now=NOW + 401 * DAY)
    assert [e.title for _, e in back] == ["Story number 1"]


@pytest.mark.parametrize("key", ["guid", "link"])
def test_a_later_story_under_a_stored_entrys_key_is_news_stored_once(
    store: Store, key: str
) -> None:
    # A matched item, keyed by its guid (or, without one, its link).
    first = entry(1, published=NOW - 2 * DAY)
    first = first if key == "guid" else replace(first, guid="")
    [(first_id, _)] = storeops.add_entries(store, [first], now=NOW - 2 * DAY)
    storeops.add_matches(store, [(first_id, match(first))], {"nk": "h"})
    kept = storeops.evidence(store, ["nk"], NOW - 30 * DAY)["nk"]
    # While it is stored, the CMS puts a later story under its key: news, stored once, also
    # when the feed offers both (the first is not stored again).
    later = replace(first, title="Seoul and Beijing sign a visa deal", text="New.", published=NOW)
    later = later if key == "link" else replace(later, link="https://pub1.com/story/9")
    [(later_id, stored)] = storeops.add_entries(store, [later, first], now=NOW)
    assert (stored, later_id > first_id) == (later, True)
    assert storeops.add_entries(store, [first, later], now=NOW + HOUR) == []
    assert store.entry(later_id).entry == later  # type: ignore[union-attr]
    # Restyled (case, punctuation), the later story is the same item; a word of the first's
    # headline edited over its unchanged text is the first item. The first's evidence stands.
    restyled = replace(later, title="SEOUL and Beijing sign a visa deal!")
    edited = replace(first, title="Story number one")
    assert storeops.add_entries(store, [restyled, edited], now=NOW + HOUR) == []
    assert storeops.evidence(store, ["nk"], NOW - 30 * DAY)["nk"] == kept
    # Retention deletes the first: both offered again, neither is news.
    assert prune(store, NOW - DAY, NOW - DAY).matched == 1
    assert storeops.add_entries(store, [later, first], now=NOW + 2 * HOUR) == []
    # The later one deleted in its turn, after the first's key is forgotten: still not news.
    store.prune(now=NOW + 400 * DAY, before=NOW + 399 * DAY, matched_before=NOW, buckets=())
    assert store.entry(later_id) is None
    assert storeops.add_entries(store, [later], now=NOW + 400 * DAY) == []


# ---------------------------------------------------------------- the daily digests

GREY = "450 4.2.0 <grey@example.org>: greylisted, try again later"


def at_seven(day: date) -> datetime:
    return datetime.combine(day, time(7), UTC)


def digest_row(store: Store, day: date, how: str) -> None:
    """The digest row of `day` as `how` leaves it: sent at 07:00 (the message kept), sent with
    a resend pending, failed, or claimed by a sender still at it (fresh) or long gone (stale)."""
    claimed = {"fresh claim": NOW - MINUTE, "stale claim": NOW - HOUR}.get(how, at_seven(day))
    assert store.claim_digest(day, owner="t", now=claimed)
    if how == "failed":
        store.mark_digest_failed(day, "digest: smtp: connection refused", at_seven(day))
    elif how == "sent":
        store.mark_digest_sent(day, at_seven(day), message=b"x" * 30_000)
    elif how == "resend pending":
        store.mark_digest_sent(day, at_seven(day), refused=[("grey@example.org", GREY)],
                               resend_at=at_seven(day) + 5 * MINUTE, message=b"x")  # fmt: skip


def digest_days(store: Store) -> set[date]:
    with store._tx("read digests") as conn:
        return set(conn.execute(select(digest_table.c.day)).scalars())


TODAY = NOW.date()  # 2026-02-01; with R = 365 days `before` is 2025-02-01 12:00 UTC

# (days before today, what its row says, whether retention keeps it): R = 365 days
DIGESTS = [
    (400, "sent", False),
    (399, "failed", False),  # never sent, and a later day's went out
    (398, "stale claim", False),  # its sender died
    (397, "fresh claim", True),  # `digest --send --date` of that day, under way
    (390, "resend pending", True),  # greylisted: the daemon sends it again later
    (367, "sent", False),  # 2025-01-30: the whole day is older than R in every time zone
    (366, "sent", True),  # 2025-01-31: in UTC+14 it lasted until 2025-01-31 10:00 UTC
    (30, "sent", True),
    (1, "sent", True),  # the latest sent
    (0, "failed", True),
]


def test_prune_deletes_old_digests_but_those_still_needed(store: Store) -> None:
    for back, how, _ in DIGESTS:
        digest_row(store, TODAY - back * DAY, how)

    pruned = prune(store, NOW - 365 * DAY, NOW - 365 * DAY)

    kept = {TODAY - back * DAY for back, _, keep in DIGESTS if keep}
    assert digest_days(store) == kept
    assert pruned.digests == len(DIGESTS) - len(kept) and pruned.any
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).digests == 0


def test_the_latest_digest_sent_and_the_days_after_it_are_kept_whatever_their_age(
    store: Store,
) -> None:
    """No digest went out for more than a year (the server refused every one): the latest
    sent, and the days that failed after it, stay; so does one still to be sent again to a
    greylisted reader. Once today's goes out the old ones go, the one with a resend pending
    when its last resend is over."""
    rows = [(420, "sent"), (400, "resend pending"), (390, "sent"), (389, "failed"), (370, "failed")]
    for back, how in rows:
        digest_row(store, TODAY - back * DAY, how)

    first = prune(store, NOW - 365 * DAY, NOW - 365 * DAY)
    assert first.digests == 1
    assert digest_days(store) == {TODAY - back * DAY for back in (400, 390, 389, 370)}

    digest_row(store, TODAY, "sent")
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).digests == 3
    assert digest_days(store) == {TODAY - 400 * DAY, TODAY}

    assert store.claim_resend(now=NOW, most=5) == (TODAY - 400 * DAY, 1)
    assert store.mark_resent(TODAY - 400 * DAY, 1, refused=[], resend_at=None)
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).digests == 1
    assert digest_days(store) == {TODAY}


def test_while_no_digest_was_ever_sent_none_is_deleted(store: Store) -> None:
    for back in (400, 399, 0):
        digest_row(store, TODAY - back * DAY, "failed")
    assert prune(store, NOW - 365 * DAY, NOW - 365 * DAY).digests == 0
    assert len(digest_days(store)) == 3


def test_after_pruning_the_next_digest_lists_the_changes_since_the_last_one_sent(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """The latest digest went out 380 days ago (none since: say the reader's server refused
    them). Retention deletes the one before it and keeps it: today's digest lists exactly the
    changes recorded since it ended, not those it listed, nor only yesterday's."""
    old, latest = TODAY - 400 * DAY, TODAY - 380 * DAY
    store.ensure_indicators(["visa-easing", "flight-routes"], now=at_seven(old) - DAY)
    moves = [
        ("visa-easing", at_seven(old) - HOUR, "unknown", "eased:reported"),  # in `old`'s
        ("flight-routes", at_seven(latest) - DAY, "unknown", "expanded:reported"),  # in `latest`'s
        ("visa-easing", NOW - 100 * DAY, "eased:reported", "eased:confirmed"),
        ("flight-routes", NOW - 2 * DAY, "expanded:reported", "expanded:confirmed"),
    ]
    with running_smtp_server() as smtp:
        s = test_daily.settings(smtp, tmp_path)
        for indicator, when, was, now_is in moves[:2]:
            store.record_changes([StatusChange(indicator, when, was, now_is, (), "h")])
            day = old if when < at_seven(old) else latest
            assert send_daily_digest(definitions, store, s, day=day, now=at_seven(day),
                                     owner="a").sent  # fmt: skip
        store.record_changes([StatusChange(i, w, a, b, (), "h") for i, w, a, b in moves[2:]])

        pruned = prune(store, NOW - 365 * DAY, NOW - 365 * DAY)
        next_one = digest_input(definitions, store, day=TODAY, now=NOW, timezone="UTC",
                                digest_time=time(7))  # fmt: skip
        sent = send_daily_digest(definitions, store, s, day=TODAY, now=NOW, owner="a")

    assert (pruned.digests, pruned.changes) == (1, 2)
    assert digest_days(store) == {latest, TODAY}
    assert [(c.indicator_id, c.at) for c in next_one.changes] == [(i, w) for i, w, *_ in moves[2:]]
    assert sent.sent
    received = smtp.messages[-1]  # no feed was read: every indicator is unknown now
    assert received.message["Subject"] == f"monitor digest {TODAY}: 2 indicators changed, 7 unknown"
    changed = test_digest_resend.text(received).split("WHAT CHANGED")[1].split("STANDING")[0]
    assert changed.count("\n* ") == 2
    assert "reported → eased — confirmed   (2025-10-24 12:00 UTC)" in changed
    assert "reported → expanded — confirmed   (2026-01-30 12:00 UTC)" in changed
