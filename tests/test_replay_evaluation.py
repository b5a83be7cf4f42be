"""The replay's final evaluation beside a running daemon: it works every outcome out anew from
the rewritten matches (on a long history, seconds of reading and clustering) without holding a
lock, so the daemon stores news and evaluates meanwhile; it takes the evaluations' lock only to
write what it found, once it finds that nothing moved since, and works it out again when
something did: the statuses and kept stories are a full evaluation's. Real SQLite files and
PostgreSQL; the daemon's work runs as the replay begins clustering an outcome's matches (a hook
on `incremental.clustering`: no thread, no sleep)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import incremental
from monitor.domain import Entry, Evidence, Level
from monitor.errors import StoreError
from monitor.incremental import ATTEMPTS
from monitor.pipeline import Context, evaluate_and_record, rematch, store_entries
from monitor.statuses import evaluate_all, kept_statuses
from monitor.stories import Clustering, clustering
from tests.feedserver import FeedServer
from tests.test_incremental import shown
from tests.test_replay_dry_run import impatient
from tests.test_replay_lock import EARLY, MINUTE, NOW, TOTAL, daemon_and_replay, history

__all__ = ["history"]  # the fixture: `said:reported`, by the old rule; the new one says so too

LATER = NOW + MINUTE


def fresh(n: int, publisher: str) -> Entry:
    """News the daemon stores meanwhile: the new rule's word, from another publisher (with the
    replay's, two: `said:confirmed`)."""
    return Entry(
        feed_id="a",
        guid=f"fresh{n}",
        link=f"https://{publisher}/fresh/{n}",
        title=f"Fresh report {n} says beta",
        text=f"Fresh dispatch {n}: beta. " + " ".join(f"f{n}y{k}" for k in range(12)),
        published=NOW,
        publisher=publisher,
    )


def replayed(tmp_path: Path, url: str, feed_url: str) -> tuple[Context, Context]:
    """The daemon's context, whose connections do not wait for a lock (SQLite: they fail at
    once; PostgreSQL: after 0.2 s), and the replay's, its matches rewritten by the new rule
    and its final evaluation yet to come."""
    daemon, replay = daemon_and_replay(tmp_path, url, feed_url)
    daemon.store.close()
    daemon = replace(daemon, store=impatient(url))
    assert rematch(replay, NOW - timedelta(days=7), clock=lambda: NOW) == (TOTAL, EARLY)
    return daemon, replay


def while_clustering(
    monkeypatch: pytest.MonkeyPatch, actions: Sequence[Callable[[], None]]
) -> list[int]:
    """Run the k-th action as the k-th clustering of an outcome's matches begins (an
    evaluation working the outcome out anew), before it clusters; returns how many items
    each clustering was given."""
    calls: list[int] = []

    def paused(items: Sequence[Evidence]) -> Clustering:
        calls.append(len(items))
        if len(calls) <= len(actions):
            actions[len(calls) - 1]()
        return clustering(items)

    monkeypatch.setattr(incremental, "clustering", paused)
    return calls


def as_a_full_evaluation(ctx: Context, now: datetime) -> None:
    """The kept stories give, read by a reader elsewhere, what all the evidence gives."""
    full = evaluate_all(ctx.definitions, ctx.store, now=now)
    assert shown(kept_statuses(ctx.definitions, ctx.store, now=now)) == shown(full)
    assert [s.status for s in full] == ["said:confirmed"]


def test_a_daemon_stores_news_and_evaluates_while_the_replays_final_evaluation_works(
    tmp_path: Path, feed_server: FeedServer, history: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon, replay = replayed(tmp_path, history, feed_server.url("/a.xml"))
    seen: dict[str, Any] = {}

    def the_daemon_works() -> None:  # before, locked out: `database is locked`, lock timeout
        seen["news"] = store_entries(daemon, [fresh(1, "other.example.net")], now=LATER)
        seen["recorded"] = evaluate_and_record(daemon, now=LATER)

    calls = while_clustering(monkeypatch, [the_daemon_works])
    changes = evaluate_and_record(replay, now=LATER, replayed=True)
    assert len(seen["news"].entries) == 1
    [change] = seen["recorded"]  # the daemon's evaluation worked it all out, and recorded it
    assert (change.old_status, change.new_status, change.replayed) == (
        "said:reported",
        "said:confirmed",
        False,
    )
    assert changes == []  # the replay's then found the stories moved: nothing left to record
    assert calls == [EARLY, EARLY + 1]  # the replay's clustering, then the daemon's, with the news
    as_a_full_evaluation(daemon, LATER)
    assert [c.new_status for c in daemon.store.history("watch")] == [
        "said:confirmed",
        "said:reported",
    ]
    daemon.store.close()
    replay.store.close()


@pytest.mark.parametrize("interruptions", [1, ATTEMPTS])
def test_news_stored_while_the_replays_final_evaluation_works_is_in_what_it_records(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
    interruptions: int,
) -> None:
    """News moves the match version: the replay works its evaluation out again, with the news.
    After ATTEMPTS such tries, it works it out holding the evaluations' lock, as before, so a
    busy daemon cannot keep it from finishing."""
    daemon, replay = replayed(tmp_path, history, feed_server.url("/a.xml"))

    def news(n: int) -> Callable[[], None]:
        def store() -> None:
            store_entries(daemon, [fresh(n, f"p{n}.example.net")], now=LATER)

        return store

    def locked_out() -> None:
        with pytest.raises(StoreError), daemon.store.story_session():
            pass

    actions = [news(n) for n in range(interruptions)]
    if interruptions == ATTEMPTS:  # the last try: its clustering under the lock
        actions.append(locked_out)
    calls = while_clustering(monkeypatch, actions)
    [change] = evaluate_and_record(replay, now=LATER, replayed=True)
    assert (change.old_status, change.new_status, change.replayed) == (
        "said:reported",
        "said:confirmed",
        True,
    )
    assert calls == [EARLY + n for n in range(interruptions + 1)]  # again, with each news
    as_a_full_evaluation(daemon, LATER)
    daemon.store.close()
    replay.store.close()


PER_WRITE = 100  # the replay's outcome has EARLY stories: 5 parts of them, then the states
LATEST = tuple(range(EARLY, EARLY - 20, -1))  # the entry ids of the newest 20 of them


def before_session(
    monkeypatch: pytest.MonkeyPatch, ctx: Context, n: int, action: Callable[[], None]
) -> list[int]:
    """Run `action` once, before `ctx`'s store begins its `n`-th evaluations' transaction (of
    those to come; each writes a part of an evaluation, and begins by checking that nothing
    moved since it was worked out); returns a list that grows by one at each."""
    sessions: list[int] = []
    session = ctx.store.story_session

    def counted() -> Any:
        sessions.append(1)
        if len(sessions) == n:
            action()
        return session()

    monkeypatch.setattr(ctx.store, "story_session", counted)
    return sessions


@pytest.mark.parametrize("evaluates", [False, True])
def test_a_daemon_writes_between_two_parts_of_the_replays_writing(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
    evaluates: bool,
) -> None:
    """The stories are written PER_WRITE a transaction; between two, a page reads the statuses
    (the outcome has stories, no state yet: the reader shows all its evidence, worked out
    from the matches, not the part written) and a daemon stores news (and evaluates). The
    replay's next part finds that something moved and works it out again: the part written
    before is worked out anew, by the daemon's evaluation or the replay's next try, and the
    statuses are a full evaluation's."""
    monkeypatch.setattr(incremental, "STORIES_PER_WRITE", PER_WRITE)
    daemon, replay = replayed(tmp_path, history, feed_server.url("/a.xml"))
    seen: dict[str, Any] = {}

    def the_daemon_works() -> None:
        seen["kept"] = _kept_rows(daemon)  # one part written
        read = kept_statuses(daemon.definitions, daemon.store, now=LATER)
        full = evaluate_all(daemon.definitions, daemon.store, now=LATER)
        seen["read"], seen["full"] = [s[3] for s in shown(read)], [s[3] for s in shown(full)]
        store_entries(daemon, [fresh(1, "other.example.net")], now=LATER)
        if evaluates:
            seen["recorded"] = evaluate_and_record(daemon, now=LATER)

    sessions = before_session(monkeypatch, replay, 2, the_daemon_works)
    calls = while_clustering(monkeypatch, [])
    changes = evaluate_and_record(replay, now=LATER, replayed=True)
    assert seen["kept"] == (PER_WRITE, 0)  # stories, and no state: none kept for the readers
    assert seen["read"] == seen["full"]  # who read them: worked out from the evidence instead
    assert seen["full"] == [(("said", Level.REPORTED, ("early.example.com",), EARLY, LATEST),)]
    if evaluates:
        [change] = seen["recorded"]
        assert changes == []
        assert calls == [EARLY, EARLY + 1]  # the replay, then the daemon: the replay kept it
        assert len(sessions) == 2  # the second try had nothing left to write
    else:
        [change] = changes
        assert calls == [EARLY, EARLY + 1]  # the replay, then again with the news
        assert len(sessions) == 2 + 6 + 1  # a part, one that found the news; 6 parts, the last
    assert (change.old_status, change.new_status, change.replayed) == (
        "said:reported",
        "said:confirmed",
        not evaluates,
    )
    as_a_full_evaluation(daemon, LATER)
    daemon.store.close()
    replay.store.close()


def _kept_rows(ctx: Context) -> tuple[int, int]:
    """The kept stories and outcome states, as another process reads them."""
    with ctx.store._tx("count") as conn:
        stories = conn.exec_driver_sql("SELECT count(*) FROM story").scalar_one()
        states = conn.exec_driver_sql("SELECT count(*) FROM outcome_state").scalar_one()
    return int(stories), int(states)


@pytest.mark.parametrize(
    ("part_takes", "paused_after"),
    [
        (0.0, []),  # a cycle's few quick parts: no pause, nobody kept waiting long
        (0.1, [3]),  # once three parts held the lock for 0.3 s
        (0.35, [1, 2, 3, 4, 5]),  # a long history's: after every part, the last one's excepted
    ],
)
def test_the_writing_pauses_for_a_waiting_process_once_it_held_the_lock_long(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
    part_takes: float,
    paused_after: list[int],
) -> None:
    """The parts are written back to back until the run has held the evaluations' lock for
    HOLD_BEFORE_GIVING_WAY (0.3 s), then it gives way (`Store.give_way`, a pause a waiting
    process takes the lock in). Each part takes `part_takes` seconds on the clock the run
    reads; which parts a pause follows is counted, not timed."""
    monkeypatch.setattr(incremental, "STORIES_PER_WRITE", PER_WRITE)
    daemon, replay = replayed(tmp_path, history, feed_server.url("/a.xml"))
    clock = [1_000.0]
    monkeypatch.setattr(incremental, "monotonic", lambda: clock[0])
    sessions = before_session(monkeypatch, replay, 1, lambda: None)
    session = replay.store.story_session

    def taking_time() -> Any:
        clock[0] += part_takes
        return session()

    monkeypatch.setattr(replay.store, "story_session", taking_time)
    paused: list[int] = []
    monkeypatch.setattr(replay.store, "give_way", lambda: paused.append(len(sessions)))
    assert evaluate_and_record(replay, now=LATER, replayed=True) == []  # reported, still
    assert len(sessions) == 6  # 5 parts of PER_WRITE stories, then the states
    assert paused == paused_after
    full = evaluate_all(daemon.definitions, daemon.store, now=LATER)
    assert shown(kept_statuses(daemon.definitions, daemon.store, now=LATER)) == shown(full)
    assert [s.status for s in full] == ["said:reported"]
    daemon.store.close()
    replay.store.close()
