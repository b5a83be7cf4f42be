"""Silences on SQLite and PostgreSQL: append-only rows with who, why and until; the alerts of
the changes a silence holds wait in the outbox until it ends (by a controlled clock), then go
out once, naming the silence; a silence of one outcome holds only that outcome's changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from monitor import metrics
from monitor.alerts import Outbox, send_pending
from monitor.domain import Evidence, StatusChange
from monitor.errors import SilenceError
from monitor.notify import Notifier
from monitor.silences import (
    Silence,
    digest_changes,
    feed_changes,
    held_back,
    holder,
    is_held,
    release_time,
)
from monitor.store import Store, metadata, open_store
from tests.webhook import Webhook, running_webhook

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
TITLES = {"nk": "How Beijing talks about North Korea", "tw": "Taiwan Strait patrols"}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        s.ensure_indicators(TITLES, now=NOW - DAY)
        yield s


def silence(
    indicator: str = "nk", outcome: str | None = None, at: datetime = NOW, length: timedelta = DAY
) -> Silence:
    return Silence(indicator, outcome, "state visit: expected noise", "ana", at, at + length)


def change(indicator: str, new: str, old: str = "unknown", at: datetime = NOW) -> StatusChange:
    title = "Xi urges restraint"
    outcome = new.partition(":")[0]
    evidence = Evidence(1, indicator, outcome, title, "https://a.example/1", "a.example", at,
                        ("Xi",), title)  # fmt: skip
    return StatusChange(indicator, at, old, new, (evidence,) if ":" in new else (), "hash")


def outbox(store: Store, hook: Webhook) -> Outbox:
    notifier = Notifier([hook.apprise_url("/alerts")], attempts=1, timeout=5)
    return Outbox(store, notifier, TITLES, "test")


def metrics_of(store: Store, now: datetime) -> dict[str, float]:
    """monitor_alerts_pending and monitor_alerts_held as /metrics tells them at `now`."""
    text = metrics.render(store, now).decode()
    return {
        s.name.removeprefix("monitor_alerts_"): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in ("monitor_alerts_pending", "monitor_alerts_held")
    }


def rows(url: str, table: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one()
            )
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the rows


def test_a_silence_is_kept_with_who_why_and_until_and_ended_by_an_appended_row(
    store: Store, database_url: str
) -> None:
    begun = store.add_silence(silence(outcome="pressure"))
    other = store.add_silence(silence("tw", at=NOW + HOUR))
    ended = store.end_silence(other.id or 0, who="bo", now=NOW + 2 * HOUR)

    assert begun.id is not None and begun == silence(outcome="pressure")
    assert (begun.created_by, begun.reason, begun.until) == (
        "ana",
        "state visit: expected noise",
        NOW + DAY,
    )
    assert (ended.ended_at, ended.ended_by, ended.end) == (NOW + 2 * HOUR, "bo", NOW + 2 * HOUR)
    assert store.silences() == [ended, begun]  # newest first
    assert store.silences("tw") == [ended]
    assert store.silences(active_at=NOW + 3 * HOUR) == [begun]
    assert store.silences(active_at=NOW + 90 * MINUTE) == [ended, begun]
    assert store.silences(active_at=NOW - HOUR) == []  # not yet begun
    assert store.silences(ending_after=NOW + 3 * HOUR) == [begun]
    assert ended.state(NOW + 3 * HOUR) == "ended" and begun.state(NOW + 2 * DAY) == "expired"
    assert (rows(database_url, "silence"), rows(database_url, "silence_end")) == (2, 1)


def test_ending_a_silence_that_is_over_or_unknown_is_a_clear_error(store: Store) -> None:
    short = store.add_silence(silence(length=HOUR))
    store.add_silence(silence("tw"))
    store.end_silence(2, who="bo", now=NOW + HOUR)

    with pytest.raises(  # times as the CLI writes them, not ISO
        SilenceError, match=r"^silence: silence 2 was ended at 2026-02-01 13:00 UTC$"
    ) as again:
        store.end_silence(2, who="bo", now=NOW + 2 * HOUR)
    with pytest.raises(
        SilenceError, match=r"^silence: silence 1 expired at 2026-02-01 13:00 UTC$"
    ) as late:
        store.end_silence(short.id or 0, who="bo", now=NOW + 2 * HOUR)
    with pytest.raises(SilenceError, match=r"^silence: no silence 9$") as unknown:
        store.end_silence(9, who="bo", now=NOW)
    assert (again.value.problem, late.value.problem, unknown.value.problem) == (
        "over",
        "over",
        "unknown",
    )
    assert store.silence(2) is not None and store.silence(2).ended_by == "bo"  # type: ignore[union-attr]


def test_ids_no_silence_can_have_find_none_on_either_database(store: Store) -> None:
    """An id past the 32-bit column and an indicator id with a NUL (which PostgreSQL refuses in
    a text parameter) are no silence, not a database error: the API's fuzzing sends both."""
    store.add_silence(silence())
    assert store.silence(2**31) is None and store.silence(2**63 - 1) is None
    with pytest.raises(SilenceError, match=r"^silence: no silence 2147483648$"):
        store.end_silence(2**31, who="bo", now=NOW)
    assert store.silences("nk\x00x") == []
    assert store.silences("nk\x00x", active_at=NOW) == []
    assert len(store.silences()) == 1


def test_beginning_or_ending_a_silence_moves_the_data_version(store: Store) -> None:
    before = store.data_version()
    store.add_silence(silence())
    begun = store.data_version()
    store.end_silence(1, who="bo", now=NOW + HOUR)
    assert before < begun < store.data_version()


# ---------------------------------------------------------------- alerts


def test_alerts_are_held_while_the_silence_lasts_then_sent_once_naming_it(store: Store) -> None:
    store.add_silence(silence(length=DAY))
    recorded = store.record_changes(
        [change("nk", "pressure:reported", at=NOW + HOUR), change("tw", "mixed", at=NOW + HOUR)],
        alert=True,
    )
    assert len(recorded) == 2
    with running_webhook() as hook:
        box = outbox(store, hook)
        assert send_pending(box, now=NOW + 2 * HOUR) == 1  # tw: not silenced
        assert send_pending(box, now=NOW + DAY - timedelta(seconds=1)) == 0
        assert store.pending_alerts() == 1
        assert metrics_of(store, NOW + 2 * HOUR) == {"pending": 0.0, "held": 1.0}
        assert metrics_of(store, NOW + DAY) == {"pending": 1.0, "held": 0.0}  # due now
        assert send_pending(box, now=NOW + DAY) == 1  # the silence is over: sent now
        assert send_pending(box, now=NOW + 2 * DAY) == 0  # and once

    titles = [r.json["title"] for r in hook.received]
    assert titles == [
        "monitor: Taiwan Strait patrols: mixed",
        "monitor: How Beijing talks about North Korea: pressure — reported",
    ]
    held = hook.received[1].json["message"]
    assert "Held back by a silence until it expired 2026-02-02 12:00 UTC" in held
    assert "(by ana: state visit: expected noise)" in held
    assert "Held back" not in hook.received[0].json["message"]


def test_ending_a_silence_early_releases_its_alerts(store: Store) -> None:
    store.add_silence(silence(length=7 * DAY))
    store.record_changes([change("nk", "balance:reported", at=NOW + HOUR)], alert=True)
    with running_webhook() as hook:
        box = outbox(store, hook)
        assert send_pending(box, now=NOW + 2 * HOUR) == 0
        store.end_silence(1, who="bo", now=NOW + 3 * HOUR)
        assert send_pending(box, now=NOW + 3 * HOUR) == 1
    assert "until it ended 2026-02-01 15:00 UTC" in hook.received[0].json["message"]


def test_a_silence_of_one_outcome_holds_only_changes_to_or_from_it(store: Store) -> None:
    store.add_silence(silence(outcome="pressure"))
    store.record_changes(
        [change("nk", "balance:reported", at=NOW + HOUR)], alert=True
    )  # not pressure: alerted
    store.record_changes(
        [change("nk", "pressure:reported", "balance:reported", at=NOW + 2 * HOUR)], alert=True
    )  # from balance to pressure: held
    with running_webhook() as hook:
        box = outbox(store, hook)
        assert send_pending(box, now=NOW + 3 * HOUR) == 1
        assert store.pending_alerts() == 1
    assert hook.received[0].json["title"].endswith("balance — reported")


def test_a_change_recorded_before_the_silence_or_after_it_is_not_held(store: Store) -> None:
    before = change("nk", "pressure:reported", at=NOW - HOUR)
    after = change("nk", "quiet", "pressure:reported", at=NOW + 2 * HOUR)
    with running_webhook() as hook:
        store.record_changes([before], alert=True)
        store.add_silence(silence(length=HOUR))
        assert send_pending(outbox(store, hook), now=NOW + 30 * MINUTE) == 1
        store.record_changes([after], alert=True)
        assert send_pending(outbox(store, hook), now=NOW + 2 * HOUR) == 1
    assert all("Held back" not in r.json["message"] for r in hook.received)


def test_a_change_dated_before_a_silence_and_recorded_in_it_is_held_until_its_end(
    store: Store,
) -> None:
    """A change to `unknown` is dated when the feeds stopped supporting the status: before the
    silence began, although recorded while it is in force. The outbox, the feeds of changes
    and their released changes go by when it was recorded."""
    s = store.add_silence(silence(length=HOUR))
    backdated = change("nk", "pressure:reported", at=NOW - HOUR)
    [recorded] = store.record_changes([backdated], alert=True, now=NOW + MINUTE)
    [stored] = store.history("nk")

    assert (stored.at, stored.recorded_at) == (NOW - HOUR, NOW + MINUTE)
    assert (recorded.at, recorded.recorded_at) == (NOW - HOUR, NOW + MINUTE)
    assert is_held(stored, [s], NOW + 30 * MINUTE) and release_time(stored, [s]) == NOW + HOUR
    assert store.held_alerts(NOW + 30 * MINUTE) == 1
    assert store.latest_changes(limit=5, shown_at=NOW + 30 * MINUTE) == []
    assert [c.id for c in store.released_changes(s, NOW + HOUR, limit=5)] == [stored.id]
    with running_webhook() as hook:
        assert send_pending(outbox(store, hook), now=NOW + 30 * MINUTE) == 0
        assert send_pending(outbox(store, hook), now=NOW + HOUR) == 1
    assert "Held back by a silence until it expired" in hook.received[0].json["message"]


# ---------------------------------------------------------------- which changes (pure)


def test_release_time_is_the_end_of_the_last_silence_holding_a_change() -> None:
    a = silence(length=DAY)
    b = silence(at=NOW + HOUR, length=2 * DAY)
    c = change("nk", "pressure:reported", at=NOW + 2 * HOUR)
    early = change("nk", "pressure:reported", at=NOW + 30 * MINUTE)

    assert release_time(c, [a, b]) == NOW + HOUR + 2 * DAY
    assert release_time(early, [a, b]) == NOW + DAY  # b began after it
    assert release_time(change("tw", "mixed"), [a, b]) is None
    assert is_held(c, [a], NOW + DAY - timedelta(seconds=1)) and not is_held(c, [a], NOW + DAY)


def test_a_digest_shows_held_changes_once_in_the_digest_after_the_silence_ends() -> None:
    s = silence(length=DAY + HOUR)  # until 2026-02-02 13:00
    held, free = (
        change("nk", "pressure:reported", at=NOW + HOUR),
        change("tw", "mixed", at=NOW + HOUR),
    )
    first = digest_changes([held, free], [], [s], start=NOW, end=NOW + DAY)
    second = digest_changes([], [held, free], [s], start=NOW + DAY, end=NOW + 2 * DAY)
    third = digest_changes([], [held, free], [s], start=NOW + 2 * DAY, end=NOW + 3 * DAY)
    assert (first, second, third) == ([free], [held], [])


def test_a_feed_shows_a_held_change_once_when_its_last_silence_ends() -> None:
    a, b = silence(length=DAY), silence(at=NOW + HOUR, length=2 * DAY)
    both = replace(change("nk", "pressure:reported", at=NOW + 2 * HOUR), id=1)
    first = replace(change("nk", "quiet", "pressure:reported", at=NOW + 30 * MINUTE), id=2)
    free = replace(change("tw", "mixed", at=NOW + 3 * HOUR), id=3)

    def shown(now: datetime, limit: int = 3) -> list[tuple[int | None, datetime]]:
        out = feed_changes([free], [both, first, first], [a, b], now=now, limit=limit)
        return [(o.change.id, o.at) for o in out]

    assert shown(NOW + 4 * HOUR) == [(3, NOW + 3 * HOUR)]
    assert shown(NOW + DAY) == [(2, NOW + DAY), (3, NOW + 3 * HOUR)]  # once, though read twice
    assert shown(NOW + 3 * DAY) == [(1, NOW + HOUR + 2 * DAY), (2, NOW + DAY), (3, NOW + 3 * HOUR)]
    assert shown(NOW + 3 * DAY, limit=1) == [(1, NOW + HOUR + 2 * DAY)]
    assert holder(both, [a, b]) == b and holder(free, [a, b]) is None
    assert held_back(b, "then") == (
        "Held back by a silence until it expired then (by ana: state visit: expected noise)"
    )


def test_two_analysts_ending_one_silence_at_once_end_it_once(
    store: Store, database_url: str
) -> None:
    store.add_silence(silence())
    barrier = Barrier(2)

    def end(who: str) -> str:
        with open_store(database_url) as mine:
            barrier.wait()
            try:
                return mine.end_silence(1, who=who, now=NOW + HOUR).ended_by or ""
            except SilenceError as exc:
                return str(exc)

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(end, ["ana", "bo"]))

    winner = store.silence(1)
    assert winner is not None and winner.ended_by in ("ana", "bo")
    assert winner.ended_by in results
    (loser,) = [r for r in results if r != winner.ended_by]
    assert re.match(r"^silence: silence 1 (was ended meanwhile|was ended at )", loser)
    assert rows(database_url, "silence_end") == 1
