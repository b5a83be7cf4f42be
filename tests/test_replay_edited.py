"""`monitor replay --since DATE` after an indicator's rule was edited, DATE inside its window:
the replay matches the entries from DATE on again, and its evaluation notes the indicator as
evaluated with the edited rule, so no later preparation looks again. The entries between the
window's start and DATE must then be matched against the edited rule by the replay itself
(`pipeline.first_look`), or the status rests on evidence the edit rules out (or misses what it
now finds) for as long as they stay in the window. Feed on 127.0.0.1, SQLite and PostgreSQL,
at a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.definitions import load_definitions
from monitor.match import Matcher
from monitor.pipeline import prepare, replay
from monitor.store import Store
from tests.feedserver import FeedServer
from tests.news import Item
from tests.test_edited_look import (
    BROADENED,
    EASED,
    EDITED,
    EDITED_AT,
    INDICATOR,
    NARROWED,
    NOW,
    SCAM,
    WIRE,
    edited,
    shown,
    store,
    stored,
)

__all__ = ["store"]  # the fixture

SINCE = NOW - timedelta(hours=12)  # after SCAM and EASED (a day old), inside the 30-day window
LATE = Item("Ferry timetable changes for the winter", "https://port.example.org/7",
            NOW - timedelta(hours=1))  # fmt: skip  # the replay's one entry: matches neither rule


def replayed(store: Store) -> list[tuple[str, str, str, bool]]:
    """visa's changes after its first, oldest first, with whether a replay recorded them."""
    changes = reversed(store.history("visa"))
    return [(c.old_status, c.new_status, c.reason or "", c.replayed) for c in changes][1:]


@pytest.mark.parametrize(
    ("rule", "item", "status", "evidence"),
    [
        (NARROWED, SCAM, "waived:reported", {WIRE.link}),  # the false positive ruled out
        (BROADENED, EASED, "waived:confirmed", {WIRE.link, EASED.link}),  # a story found
    ],
)
def test_a_replay_from_inside_an_edited_window_matches_the_window_before_its_date(
    tmp_path: Path,
    feed_server: FeedServer,
    store: Store,
    rule: str,
    item: Item,
    status: str,
    evidence: set[str],
) -> None:
    """Both the narrowed and the broadened rule move the status away from the old rule's
    reading through an entry older than the replay's date. The replay records the status a
    full evaluation of the edited rule over the window gives (a replay from before the window
    then changes nothing), marked replayed and saying the edit moved it."""
    ctx = stored(tmp_path, feed_server, store, WIRE, item, LATE)
    before = shown(ctx, store, NOW)[0]
    assert before != status
    changed = edited(ctx, tmp_path, rule)

    entries, _written, changes = replay(changed, SINCE, now=EDITED_AT, clock=lambda: EDITED_AT)

    assert entries == 1  # LATE alone is from SINCE on
    assert [(c.old_status, c.new_status) for c in changes] == [(before, status)]
    assert replayed(store) == [(before, status, EDITED, True)]
    assert shown(changed, store) == (status, evidence, "")
    later = EDITED_AT + timedelta(minutes=1)
    assert prepare(changed, now=later) == []  # evaluated with the edited rule: no look again
    whole = replay(changed, NOW - timedelta(days=60), now=later, clock=lambda: later)
    assert whole[2] == []  # a replay of the whole window: the same statuses
    assert shown(changed, store, later) == (status, evidence, "")


def test_a_dry_run_works_the_window_before_its_date_out_on_its_copy(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """`--dry-run` prints what the replay would record, the look of the window before its date
    taken on its copy; the store is left as it was, so the next preparation looks again."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM, LATE)
    narrowed = edited(ctx, tmp_path, NARROWED)

    with store.rehearsal() as copy:
        on = replace(narrowed, store=copy)
        _entries, _written, changes = replay(on, SINCE, now=EDITED_AT, clock=lambda: EDITED_AT)

    assert [(c.old_status, c.new_status) for c in changes] == [
        ("waived:confirmed", "waived:reported")
    ]
    assert replayed(store) == []
    assert shown(narrowed, store)[0] == "unknown"  # not looked at again yet
    prepare(narrowed, now=EDITED_AT)
    assert replayed(store) == [("waived:confirmed", "waived:reported", EDITED, False)]


def test_an_indicator_added_begins_as_the_stored_news_before_the_date_reads(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """An added indicator's first look is the replay's too: not `quiet`, a claim that nothing
    matched, while the scam story it matches is inside its window, only older than the date."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM, LATE)
    scams = INDICATOR.format(rule="{any: [scam]}").replace("id: visa", "id: scams")
    (tmp_path / "indicators" / "scams.yaml").write_text(scams)
    found = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")
    added = replace(ctx, definitions=found, matcher=Matcher(found.indicators))

    _entries, _written, changes = replay(added, SINCE, now=EDITED_AT, clock=lambda: EDITED_AT)

    assert [(c.indicator_id, c.old_status, c.new_status) for c in changes] == [
        ("scams", "unknown", "waived:reported")
    ]
    assert store.current_statuses()["scams"][0] == "waived:reported"
