"""Reads bounded by what they need, not by the history (issue 15), on SQLite and PostgreSQL:
the match version is one lookup, an evidence read reaches only each indicator's window, the
history page, the Atom feeds' changes and the latest cycle are read through indexes (checked on
the plans the databases make for the statements the store runs: `storeops.plans`); a change
keeps its top evidence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from monitor.alerttext import build_alert
from monitor.domain import Evidence
from monitor.silences import Silence
from monitor.store import Cycle, Store, open_store
from monitor.store.base import insert_rows
from monitor.store.changes import EVIDENCE_KEPT
from monitor.store.schema import story_key_table
from monitor.webmodels import ChangeOut
from tests import storeops
from tests.test_store import DAY, HOUR, MINUTE, NOW, change, entry, match


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def matched(store: Store, numbers: range, *, published: datetime, indicator: str = "nk") -> None:
    stored = storeops.add_entries(store, [entry(n, published=published) for n in numbers], now=NOW)
    storeops.add_matches(store, [(i, match(e, indicator)) for i, e in stored], {indicator: "h"})


def scans(plan: str, table: str) -> bool:
    """Whether `plan` reads all of `table` (not a range of one of its indexes)."""
    lines = plan.splitlines()
    if any(line.startswith(f"SCAN {table}") for line in lines):  # SQLite
        return not any(f"SCAN {table} USING COVERING INDEX" in line for line in lines)
    return any(f"Seq Scan on {table}" in line for line in lines)  # PostgreSQL


def test_the_match_version_is_a_counter_moved_by_writes(store: Store) -> None:
    with store._tx("read") as conn:
        before = store._match_version(conn)
    matched(store, range(1, 3), published=NOW - HOUR)
    with storeops.plans(store) as plans, store._tx("read") as conn:
        after = store._match_version(conn)
    assert after == (before[0] + 1,)  # one transaction, one step
    [plan] = plans
    assert "entry_match" not in plan and not scans(plan, "counter")


def test_each_indicator_reads_its_own_window_through_the_index(store: Store) -> None:
    matched(store, range(1, 4), published=NOW - 40 * DAY)  # outside the 30-day window
    matched(store, range(4, 6), published=NOW - HOUR)
    matched(store, range(6, 8), published=NOW - 40 * DAY, indicator="long")
    windows = {"nk": NOW - 30 * DAY, "long": NOW - 60 * DAY}
    with storeops.plans(store) as plans:
        found = store.evidence_read(["nk", "long"], windows).found
    assert sorted(e.entry_id for e in found["nk"]) == [4, 5]
    assert len(found["long"]) == 2
    reads = [p for p in plans if "entry_match" in p]
    assert reads and not any(scans(p, "entry_match") for p in reads), reads
    # The windows through their index; the matches of rejected entries (whose copies an
    # analyst's `no` takes out too) by their primary key, one per standing `no`.
    windows = [p for p in reads if "verdict" not in p]
    assert windows and all("ix_entry_match_indicator_time" in p for p in windows), reads


def test_the_history_page_and_the_timeline_need_no_sort(store: Store) -> None:
    store.ensure_indicators(["nk"], now=NOW)
    statuses = ["quiet", "pressure:reported"]
    for n in range(6):
        old, new = statuses[n % 2], statuses[(n + 1) % 2]
        store.record_changes([change(old if n else "unknown", new, at=NOW + n * MINUTE)])
    with storeops.plans(store) as plans:
        page = store.history("nk", limit=2)
        store.history("nk", limit=2, before_id=page[-1].id)
        store.history("nk", since=NOW + 2 * MINUTE, limit=1000)
    assert len(plans) == 3
    # Where the window begins: a range of (indicator, at). On this six-row table PostgreSQL
    # (no statistics) costs every index that begins with the indicator the same and takes the
    # one made last: (indicator, id) lost so, and so does (indicator, at) to (indicator,
    # recorded_at), made for the feeds (revision 0033); SQLite ranks them by their columns.
    begins = ["ix_status_change_indicator_at"]
    if store.dialect == "postgresql":
        begins.append("ix_status_change_indicator_recorded")
    assert any(index in plans[2] for index in begins), plans[2]
    for plan in plans:
        assert not scans(plan, "status_change") and "TEMP B-TREE" not in plan, plan
        assert "Sort" not in plan, plan


def test_a_feed_reads_its_changes_through_indexes_held_ones_too(store: Store) -> None:
    store.ensure_indicators(["nk", "tw"], now=NOW)
    silence = store.add_silence(Silence("nk", None, "noise", "ana", NOW, NOW + HOUR))
    statuses = ["quiet", "pressure:reported"]
    for n in range(6):
        old, new = statuses[n % 2], statuses[(n + 1) % 2]
        store.record_changes([change(old if n else "unknown", new, at=NOW + n * MINUTE)])
    store.record_changes([change("unknown", "mixed", indicator="tw", at=NOW + 2 * HOUR)])
    with storeops.plans(store) as plans:
        held = store.latest_changes(limit=3, shown_at=NOW + 30 * MINUTE)
        mine = store.latest_changes(limit=3, indicator_id="nk", shown_at=NOW + 2 * HOUR)
        released = store.released_changes(silence, NOW + 2 * HOUR, limit=3)
    assert [c.indicator_id for c in held] == ["tw"]  # nk's are held until NOW + 1 h
    assert [c.at for c in mine] == [c.at for c in released] == [NOW + n * MINUTE for n in (5, 4, 3)]
    # Every indicator's, newest recorded first (a change to unknown is recorded after the
    # moment it is dated): the index on the recording time, in its order.
    walk, *ranges = plans
    assert "ix_status_change_recorded_at" in walk and "Seq Scan" not in walk, walk
    assert "TEMP B-TREE" not in walk and "Sort" not in walk, walk
    for plan in ranges:  # one indicator's, and what a silence held: a range of its index
        assert "ix_status_change_indicator_recorded" in plan, plan
        assert not scans(plan, "status_change"), plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    assert not any(scans(plan, "silence") for plan in plans), plans


def test_the_latest_cycle_is_read_through_an_index(store: Store) -> None:
    for n in range(3):
        store.record_cycle(Cycle(NOW + n * MINUTE, NOW + n * MINUTE + MINUTE, ok=n < 2))
    with storeops.plans(store) as plans:
        assert store.last_successful_cycle() == NOW + 2 * MINUTE
    [plan] = plans
    assert "ix_cycle_finished_at" in plan
    assert not scans(plan, "cycle") and "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_a_change_keeps_its_top_evidence_and_how_many_it_had(store: Store) -> None:
    items = tuple(
        Evidence(n, "nk", "pressure", f"t{n}", f"https://x/{n}", "x", NOW - n * MINUTE, (), "")
        for n in range(1, 51)
    )
    store.ensure_indicators(["nk"], now=NOW)
    [recorded] = store.record_changes([change("unknown", "pressure:reported", evidence=items)])
    [kept] = store.history("nk")
    assert kept.evidence == items[:EVIDENCE_KEPT] and kept.evidence_count == 50
    out = ChangeOut.of(kept)
    assert (len(out.evidence), out.evidence_count) == (EVIDENCE_KEPT, 50)
    assert recorded.evidence_count == 50


def test_an_alert_counts_the_evidence_a_change_did_not_keep(store: Store) -> None:
    items = tuple(
        Evidence(n, "nk", "pressure", f"t{n}", f"https://x/{n}", "x", NOW - n * MINUTE, (), "")
        for n in range(1, 31)
    )
    store.ensure_indicators(["nk"], now=NOW)
    store.record_changes([change("unknown", "pressure:reported", evidence=items)])
    [kept] = store.history("nk")
    body = build_alert(kept, "NK", limit=5).body
    assert body.count("https://x/") == 5 and body.endswith("- and 25 more")


@pytest.mark.parametrize("rows", [0, 1, 199, 200, 201, 450])
def test_rows_are_inserted_many_a_statement_and_every_one_of_them(store: Store, rows: int) -> None:
    """`insert_rows` (a cold cycle's story keys) writes up to PARAMETERS_PER_INSERT parameters
    a statement: full statements and the rest, each row once."""
    written = [("nk", "pressure", key, key % 7) for key in range(-(rows // 2), rows - rows // 2)]
    with store._tx("write", write=True) as conn:
        insert_rows(
            conn, story_key_table, ("indicator_id", "outcome_id", "key", "entry_id"), written
        )
    with store._tx("read") as conn:
        c = story_key_table.c
        found = conn.execute(select(c.indicator_id, c.outcome_id, c.key, c.entry_id)).all()
    assert sorted(map(tuple, found)) == sorted(written)
