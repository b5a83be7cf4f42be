"""Evidence reads are kept between calls (`Store.evidence`), and a kept read is never stale:
whatever another `Store` on the same database (another daemon, `monitor replay`) or this one
writes, the next read gives what a fresh read gives. On SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from monitor.domain import Evidence, Match
from monitor.store import Cycle, FetchRecord, Store, open_store
from tests import storeops
from tests.conftest import ROOT
from tests.test_store import DAY, FEEDS, HOUR, MINUTE, NOW, entry, match

SINCE = NOW - 30 * DAY


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


@pytest.fixture
def other(database_url: str) -> Iterator[Store]:
    """A second handle on the same database: another daemon, or `monitor replay`."""
    with open_store(database_url) as opened:
        yield opened


def fresh(url: str, since: datetime = SINCE) -> dict[str, list[Evidence]]:
    """What a store that never read evidence reads."""
    with open_store(url) as opened:
        return storeops.evidence(opened, ["nk", "taiwan"], since)


def read(store: Store, since: datetime = SINCE) -> dict[str, list[Evidence]]:
    return storeops.evidence(store, ["nk", "taiwan"], since)


def matched(store: Store, *numbers: int, outcome: str = "pressure") -> list[tuple[int, Match]]:
    stored = storeops.add_entries(store, [entry(n) for n in numbers], now=NOW)
    items = [(entry_id, match(e, outcome=outcome)) for entry_id, e in stored]
    storeops.add_matches(store, items, {"nk": "h1"})
    return items


def test_a_read_is_kept_while_no_match_moves(store: Store, other: Store) -> None:
    matched(store, 1, 2)
    first = read(store)
    other.sync_feeds(FEEDS, now=NOW)  # writes that touch no match
    storeops.add_entries(other, [entry(3)], now=NOW)
    other.record_fetches([FetchRecord("xinhua", now=NOW, ok=True, http_status=304)])
    other.record_cycle(Cycle(NOW, NOW + MINUTE))
    again = read(store)

    assert again == first and len(first["nk"]) == 2 and first["taiwan"] == []
    assert all(a is b for a, b in zip(again["nk"], first["nk"], strict=True))  # not read again
    first["nk"].clear()  # an answer is the caller's own
    assert len(read(store)["nk"]) == 2


def test_a_kept_read_sees_a_match_another_store_adds(
    store: Store, other: Store, database_url: str
) -> None:
    matched(store, 1)
    assert len(read(store)["nk"]) == 1

    matched(other, 2)

    assert len(read(store)["nk"]) == 2
    assert read(store) == fresh(database_url)


def test_a_kept_read_sees_a_match_another_process_adds(store: Store, database_url: str) -> None:
    matched(store, 1)
    assert len(read(store)["nk"]) == 1
    script = textwrap.dedent(
        """
        import sys
        from monitor.store import open_store
        from tests.test_store_evidence import matched
        with open_store(sys.argv[1]) as store:
            matched(store, 2)
        """
    )
    subprocess.run([sys.executable, "-c", script, database_url], cwd=ROOT, check=True, timeout=60)

    assert [e.title for e in read(store)["nk"]] == ["Story number 2", "Story number 1"]
    assert read(store) == fresh(database_url)


def rewritten(m: Match) -> Match:
    return Match(m.entry_key, m.indicator_id, m.outcome_id, ("Beijing",), "…rewritten…")


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(
            lambda m: Match(m.entry_key, "nk", "balance", m.terms, m.snippet), id="outcome"
        ),
        pytest.param(rewritten, id="terms and snippet"),
        pytest.param(
            lambda m: Match(m.entry_key, "taiwan", "calm", m.terms, m.snippet), id="moved"
        ),
        pytest.param(None, id="none left"),
    ],
)
@pytest.mark.parametrize("writer", ["this store", "another store"])
def test_a_kept_read_sees_replayed_matches(
    store: Store,
    other: Store,
    database_url: str,
    rewrite: Callable[[Match], Match] | None,
    writer: str,
) -> None:
    """A replay (replace_matches) may keep every key and the number of matches, and change
    only what they say."""
    items = matched(store, 1, 2)
    before = read(store)
    replay = store if writer == "this store" else other
    new = [] if rewrite is None else [(i, rewrite(m)) for i, m in items]

    replay.replace_matches([i for i, _ in items], new, {"nk": "h2", "taiwan": "t2"})

    after = read(store)
    assert after != before
    assert after == fresh(database_url)


def test_a_kept_read_sees_matches_rewritten_by_a_new_definition(
    store: Store, other: Store, database_url: str
) -> None:
    items = matched(store, 1)
    assert read(store)["nk"][0].terms == ("China", "sanction*")

    assert storeops.add_matches(other, [(i, rewritten(m)) for i, m in items], {"nk": "h2"}) == 1

    assert [(e.terms, e.snippet) for e in read(store)["nk"]] == [(("Beijing",), "…rewritten…")]
    assert read(store) == fresh(database_url)


def test_retention_leaves_a_kept_read_right(store: Store, other: Store, database_url: str) -> None:
    old = storeops.add_entries(other, [entry(1), entry(2)], now=NOW - 400 * DAY)
    storeops.add_matches(other, [(old[0][0], match(old[0][1]))], {"nk": "h1"})
    matched(store, 3)
    before = read(store, NOW - 1000 * DAY)

    assert storeops.prune(other, NOW - 365 * DAY) == 1  # the unmatched one: evidence stays
    assert read(store, NOW - 1000 * DAY) == before == fresh(database_url, NOW - 1000 * DAY)

    assert storeops.prune(other, NOW - 365 * DAY, matched_before=NOW - 365 * DAY) == 1
    after = read(store, NOW - 1000 * DAY)
    assert after == fresh(database_url, NOW - 1000 * DAY) and len(after["nk"]) == 1


def test_a_kept_read_answers_a_later_since_exactly(store: Store, database_url: str) -> None:
    """The kept read was made at an earlier `since`, so it holds evidence a later call must
    not get: each answer is cut at its own `since`, as a fresh read is."""
    ages = [HOUR, 2 * DAY, 10 * DAY, 29 * DAY]
    stored = storeops.add_entries(
        store, [entry(n, published=NOW - age) for n, age in enumerate(ages)], now=NOW
    )
    storeops.add_matches(store, [(i, match(e)) for i, e in stored], {"nk": "h1"})
    first = read(store, SINCE)
    assert len(first["nk"]) == 4

    for since in (NOW - 20 * DAY, NOW - 2 * DAY, NOW - DAY, NOW, SINCE):
        assert read(store, since) == fresh(database_url, since), since
    assert len(read(store, NOW - 5 * DAY)["nk"]) == 2
    assert len(read(store, NOW - 40 * DAY)["nk"]) == 4  # earlier than kept: read again


def test_reads_of_other_indicators_or_hashes_are_not_answered_from_the_kept_one(
    store: Store,
) -> None:
    [(entry_id, _)] = matched(store, 1)
    storeops.add_matches(
        store, [(entry_id, match(entry(1), indicator="taiwan", outcome="calm"))], {"taiwan": "t"}
    )
    assert set(read(store)) == {"nk", "taiwan"}

    assert set(storeops.evidence(store, ["nk"], SINCE)) == {"nk"}
    assert set(storeops.evidence(store, None, SINCE)) == {"nk", "taiwan"}
    assert storeops.evidence(store, ["nk"], SINCE, definition_hashes={"nk": "other"}) == {"nk": []}
    assert len(storeops.evidence(store, ["nk"], SINCE, definition_hashes={"nk": "h1"})["nk"]) == 1
