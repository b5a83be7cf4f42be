"""Incremental evaluation (`monitor.incremental`) gives the statuses a full evaluation gives.

Random histories — news arriving in batches, in and out of order, copies of stories syndicated
to several publishers (under their own links, or the wire's with its host written in another
case), items older than the window, analysts' verdicts, time passing so that stories (and the
first copies of syndicated ones) leave the window — are stored through the
store, and after every step the statuses kept incrementally (`statuses.advance_all`) are
compared with those worked out from all the evidence (`statuses.evaluate_all`): status, and per
outcome the level, the sources in order, the number of stories and the newest ones shown. A
fresh store handle then reads them back as the readers do (`statuses.kept_statuses`). On SQLite
and on PostgreSQL. The histories take every path of `incremental.advance`: outcomes worked out
anew (new, judged), stories joined by copies, stories leaving the window with and without
copies still inside it, and items older than the latest one taken.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor import incremental
from monitor.definitions import load_definitions
from monitor.domain import INITIAL, Definitions, Entry, Evidence, Match, Status, Verdict
from monitor.domain import Judgement as J
from monitor.statuses import advance_all, evaluate_all, kept_statuses
from monitor.store import Changes, FetchRecord, Store, base, open_store
from tests import storeops
from tests.conftest import ROOT

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)

_WIRE = [  # stories several publishers carry, with their own headline or link
    ("China backs new UN sanctions on North Korea after missile test", "Beijing said it would "
     "support a resolution tightening sanctions on Pyongyang over the latest launch"),
    ("Seoul and Beijing launch a new vice-ministerial dialogue", "The two foreign ministries "
     "agreed to meet twice a year under a new strategic dialogue mechanism"),
    ("China extends visa-free entry for South Korean travellers", "Visitors from South Korea "
     "may stay thirty days without a visa until the end of next year, the ministry said"),
]  # fmt: skip
_PUBLISHERS = ["yonhap.co.kr", "reuters.com", "xinhua.net", "koreaherald.com"]


@pytest.fixture
def definitions() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def shown(statuses: list[Status]) -> list[tuple[object, ...]]:
    """What a status says, outcome by outcome."""
    return [
        (
            s.indicator_id,
            s.status,
            s.reason,
            tuple(
                (o.outcome_id, o.level, o.sources, o.stories, tuple(e.entry_id for e in o.evidence))
                for o in s.outcomes
            ),
        )
        for s in statuses
    ]


class History:
    """A random history of news, verdicts and time, stored as monitor stores them."""

    def __init__(self, seed: int, definitions: Definitions, store: Store) -> None:
        self.rng = random.Random(seed)
        self.definitions = definitions
        self.store = store
        self.now = START
        self.number = 0
        self.outcomes = [(i.id, o.id) for i in definitions.indicators for o in i.outcomes]
        self.feeds = [f.id for f in definitions.feeds]
        self.entries: list[int] = []
        store.sync_feeds(definitions.feeds, now=self.now, default_interval=timedelta(minutes=15))
        store.ensure_indicators((i.id for i in definitions.indicators), now=self.now)

    def step(self) -> None:
        rng = self.rng
        self.now += rng.choice([HOUR, 6 * HOUR, 30 * HOUR, 9 * 24 * HOUR])
        news = [self._entry() for _ in range(rng.randrange(0, 9))]
        hashes = {i.id: i.hash for i in self.definitions.indicators}
        added = self.store.add_news(
            news, now=self.now, match=self._matches, definition_hashes=hashes
        )
        self.entries.extend(entry_id for entry_id, _e in added.entries)
        if self.entries and rng.random() < 0.25:
            indicator_id, outcome_id = rng.choice(self.outcomes)
            verdict = rng.choice([J.YES, J.NO])
            judged = Verdict(
                rng.choice(self.entries), indicator_id, outcome_id, verdict, "cli", self.now
            )
            self.store.add_verdict(judged)
        self.store.record_fetches(
            [FetchRecord(f, now=self.now, ok=True, http_status=304) for f in self.feeds]
        )

    def _entry(self) -> Entry:
        rng = self.rng
        self.number += 1
        n = self.number
        publisher = rng.choice(_PUBLISHERS)
        published = self.now - rng.choice([timedelta(0), HOUR, 20 * HOUR, 40 * 24 * HOUR])
        link = f"https://{publisher}/{n}"
        if rng.random() < 0.6:  # a copy of a wire story: its headline, or its text under another
            title, text = rng.choice(_WIRE)
            if rng.random() < 0.4:
                title = f"{publisher} report {n}"
            if rng.random() < 0.2:  # the wire's link, its host and port as each feed writes them
                host = rng.choice(["https://wire.example", "HTTPS://Wire.Example:443"])
                link = f"{host}/{title[:10]}"
        else:
            title = f"Local story {n} about {rng.choice(['ports', 'films', 'chips', 'buses'])}"
            text = f"Details of item {n} and of {rng.randrange(10**6)} others"
        feed = rng.choice(self.feeds)
        return Entry(feed, f"{feed}-{n}", link, title, text, published, publisher)

    def _matches(self, new: list[tuple[int, Entry]]) -> list[tuple[int, Match]]:
        found = []
        for entry_id, entry in new:
            for indicator_id, outcome_id in self.rng.sample(self.outcomes, self.rng.randrange(3)):
                # The snippet is around the hit: the copies of a story under other headlines
                # (and other snippets) are then often found by their ledes alone.
                start = self.rng.choice([0, 0, 25, 50])
                match = Match(
                    entry.key, indicator_id, outcome_id, ("term",), entry.text[start:][:80]
                )
                found.append((entry_id, match))
        return found


@pytest.mark.parametrize(
    ("seed", "per_write"),
    [*((seed, incremental.STORIES_PER_WRITE) for seed in range(8)), (0, 1), (5, 1)],
)
def test_incremental_evaluation_gives_the_statuses_of_a_full_one(
    seed: int,
    per_write: int,
    definitions: Definitions,
    store: Store,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`per_write` 1: the stories of outcomes worked out anew written one a transaction."""
    monkeypatch.setattr(incremental, "STORIES_PER_WRITE", per_write)
    monkeypatch.setattr(base, "GIVE_WAY", timedelta(0))  # nobody waits between the parts here
    history = History(seed, definitions, store)
    for _ in range(14):
        history.step()
        now = history.now
        moved = advance_all(definitions, store, now=now, current={})  # all but the INITIAL
        full = evaluate_all(definitions, store, now=now)
        assert shown(moved) == shown([s for s in full if s.status != INITIAL])
        with open_store(database_url) as reader:  # a reader elsewhere: another process
            assert shown(kept_statuses(definitions, reader, now=now)) == shown(full)


def _wire_copy(n: int, publisher: str, published: datetime) -> Entry:
    """A copy of the first wire story, under its own link."""
    title, text = _WIRE[0]
    return Entry("f", f"g{n}", f"https://{publisher}/{n}", title, text, published, publisher)


def _local(n: int, published: datetime) -> Entry:
    title, text = f"Local story {n} about ports", f"Details of item {n} only"
    link = f"https://local.example/{n}"
    return Entry("f", f"g{n}", link, title, text, published, "local.example")


@pytest.mark.parametrize(
    ("first", "then", "stories"),
    [
        # two copies of one story, older than the news taken before: they start one story
        ([_local(1, START - HOUR)], [_wire_copy(2, "a.example", START - 30 * HOUR),
                                     _wire_copy(3, "b.example", START - 20 * HOUR)], 2),
        # an older copy of a kept story: the kept one becomes its copy
        ([_wire_copy(1, "a.example", START - HOUR)],
         [_wire_copy(2, "b.example", START - 30 * HOUR)], 1),
        # an older item starts a story that a newer item of the same batch copies
        ([_local(1, START - 2 * HOUR)], [_wire_copy(2, "a.example", START - 30 * HOUR),
                                         _wire_copy(3, "b.example", START - HOUR)], 2),
        # a copy of a kept story, older than the news taken since, is a copy still
        ([_wire_copy(1, "a.example", START - 30 * HOUR), _local(2, START - HOUR)],
         [_wire_copy(3, "b.example", START - 20 * HOUR)], 2),
    ],
)  # fmt: skip
def test_items_older_than_the_latest_one_taken_fall_where_a_full_evaluation_puts_them(
    definitions: Definitions, store: Store, first: list[Entry], then: list[Entry], stories: int
) -> None:
    assert _stories_evaluated(definitions, store, [first, then]) == stories


def test_an_outcome_that_kept_no_story_is_worked_out_from_what_arrived(
    definitions: Definitions, store: Store
) -> None:
    """A first check of a new store: every outcome was evaluated with no match, and one gets
    more news at once than a step takes (so it is worked out anew, from the matches that
    arrived: its window holds no other), and copies among it."""
    local = [_local(n, START - n * HOUR) for n in range(1, 41)]
    wire = [_wire_copy(n, f"p{n}.example", START - n * HOUR) for n in range(41, 44)]
    assert _stories_evaluated(definitions, store, [[], local + wire]) == 41  # [] kept: no story


def _stories_evaluated(definitions: Definitions, store: Store, batches: list[list[Entry]]) -> int:
    """Store each batch from a configured feed, as matches of the first outcome of the first
    indicator, and evaluate it: the statuses kept incrementally are those of a full evaluation
    after each, and a reader's at the end. Returns how many stories that outcome counts."""
    history = History(0, definitions, store)
    indicator = definitions.indicators[0]
    outcome = indicator.outcomes[0].id
    hashes = {i.id: i.hash for i in definitions.indicators}

    def matched(new: list[tuple[int, Entry]]) -> list[tuple[int, Match]]:
        return [(n, Match(e.key, indicator.id, outcome, ("term",), e.text[:80])) for n, e in new]

    for batch in batches:
        news = [dataclasses.replace(e, feed_id=history.feeds[0]) for e in batch]
        store.add_news(news, now=START, match=matched, definition_hashes=hashes)
        moved = advance_all(definitions, store, now=START, current={})
        full = evaluate_all(definitions, store, now=START)
        assert shown(moved) == shown([s for s in full if s.status != INITIAL])
    kept = kept_statuses(definitions, store, now=START)
    assert shown(kept) == shown(full)
    (status,) = [s for s in kept if s.indicator_id == indicator.id]
    return {o.outcome_id: o.stories for o in status.outcomes}[outcome]


def test_an_evaluation_and_its_readers_read_through_indexes(
    definitions: Definitions, store: Store
) -> None:
    """What a check's evaluation and a reader run reaches kept stories and new matches through
    index ranges, never by reading a whole table of them (the plans the database makes for the
    statements run: `storeops.plans`)."""
    history = History(5, definitions, store)
    for _ in range(4):
        history.step()
        advance_all(definitions, store, now=history.now, current={})
    history.step()
    with storeops.plans(store) as plans:
        advance_all(definitions, store, now=history.now, current={})
        kept_statuses(definitions, store, now=history.now)
    assert any("story_key" in p for p in plans) and any("entry_match" in p for p in plans)
    for plan in plans:
        for table in ("entry_match", "story", "story_key", "story_frequent"):
            assert not _scans(plan, table), plan


def _scans(plan: str, table: str) -> bool:
    """Whether `plan` reads all of `table` (SQLite's SCAN, PostgreSQL's Seq Scan)."""
    sqlite = re.compile(rf"^SCAN {table}\b(?! USING COVERING INDEX)", re.M)
    return bool(sqlite.search(plan)) or re.search(rf"Seq Scan on {table}\b", plan) is not None


def test_stories_of_entries_retention_deleted_inside_a_window_are_worked_out_again(
    definitions: Definitions, store: Store
) -> None:
    """Retention set shorter than a window deletes matched entries inside it: their outcomes
    forget what they kept, and the next evaluation gives what a full one gives."""
    history = History(2, definitions, store)
    for _ in range(6):
        history.step()
        advance_all(definitions, store, now=history.now, current={})
    before = evaluate_all(definitions, store, now=history.now)
    deleted = storeops.prune(store, history.now, matched_before=history.now - 12 * HOUR)
    after = evaluate_all(definitions, store, now=history.now)
    assert deleted and shown(after) != shown(before)  # stories inside windows were deleted
    moved = advance_all(definitions, store, now=history.now, current={})
    assert shown(moved) == shown([s for s in after if s.status != INITIAL])
    assert shown(kept_statuses(definitions, store, now=history.now)) == shown(after)


@pytest.mark.postgres
def test_postgresql_looks_up_an_outcomes_keys_as_ranges_of_the_primary_key(
    postgres_url: str,
) -> None:
    """With many keys per outcome, the lookup of a few of them reads their ranges of the
    primary key, not every key of the outcome: the planner needs to know that indicator and
    outcome go together (migration 0009's statistics; without them it guesses an outcome has
    1/100 of 1/100 of the rows, and filters the outcome's 300 keys)."""
    with open_store(postgres_url) as store:
        rows = [
            {"i": f"indicator-{n}", "o": f"outcome-{n}", "k": n * 10_000 + k, "e": k}
            for n in range(100)
            for k in range(300)
        ]
        with store._tx("keys", write=True) as conn:
            conn.exec_driver_sql(
                "INSERT INTO story_key (indicator_id, outcome_id, key, entry_id)"
                " VALUES (%(i)s, %(o)s, %(k)s, %(e)s)",
                rows,
            )
        with store._tx("statistics") as conn:
            conn.exec_driver_sql("ANALYZE story_key")  # as autovacuum does after such a load
        with storeops.plans(store) as plans, store.story_session() as session:
            wanted = [70_000 + 13 * k for k in range(20)] + [1]
            found = session.candidates({("indicator-7", "outcome-7"): wanted})
    assert found == {("indicator-7", "outcome-7"): []}  # keyed, but no story kept
    (plan,) = [p for p in plans if "story_key" in p]
    assert re.search(r"Index Cond: .*key = ANY", plan) and "Filter" not in plan, plan


def test_a_kept_story_reads_back_as_the_item_it_was_written_from(store: Store) -> None:
    """The evidence a status shows is its kept stories as read back: each one's time (written
    in another zone: the same moment, read in UTC), its terms in any script, its verdict and
    the time of its newest copy are what the evaluation wrote."""
    seoul = timezone(timedelta(hours=9))
    item = Evidence(
        entry_id=7,
        indicator_id="nk",
        outcome_id="talks",
        title="Seoul and Pyongyang «resume» talks",
        link="https://example.org/a?x=1",
        publisher="example.org",
        time=datetime(2026, 3, 2, 6, 30, 0, 123456, tzinfo=seoul),
        terms=("회담", 'talks "resume"', "対話"),
        snippet="Officials met at Panmunjom…",
        judged="yes",
        lede="PANMUNJOM — Officials from both sides met",
    )
    newest_copy = datetime(2026, 3, 2, 1, 0, tzinfo=seoul)
    with store.story_session() as session:
        session.write(Changes(started=[(item, (11, 12), newest_copy)]))
    with store.story_reading() as reading:
        found = reading.candidates({("nk", "talks"): [12]})[("nk", "talks")]
        (leaving,) = reading.leaving(["nk"], item.time + HOUR)
    assert found == [item]
    assert found[0].time.utcoffset() == timedelta(0)
    assert leaving.copies_until == newest_copy
