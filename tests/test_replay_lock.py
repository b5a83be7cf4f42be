"""`monitor replay` beside a running daemon: the replay rewrites the matches a batch of entries
per transaction, so the daemon's writes wait for one batch at most, and it holds the
evaluations meanwhile, so no status is recorded from half-rewritten matches, not even after a
replay that stopped half way, until the next replay finishes the rewrite. Real SQLite files
and PostgreSQL; the daemon's work is put between two of the replay's transactions by a hook on
the replay's connection (no thread, no sleep)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Entry
from monitor.match import Matcher
from monitor.pipeline import (
    REPLAY_BATCH,
    evaluate_and_record,
    rematch,
    run_cycle,
    store_entries,
)
from monitor.store import Store, open_store
from monitor.store.health import Cycle
from tests import twofeeds
from tests.feedserver import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
MINUTE = timedelta(minutes=1)
INDICATOR = """\
id: watch
group: Tests
title: A word
question: Is the word in the news?
feeds: {ids: [a]}
window: 30d
outcomes:
  - id: said
    label: The word is said
    corroborate: 2
    rule: {any: [WORD]}
"""
EARLY = REPLAY_BATCH  # the first batch of entries: "beta", one publisher; the rest "alpha", another
TOTAL = 3 * REPLAY_BATCH


def definitions(folder: Path, word: str, feed_url: str) -> Definitions:
    (folder / "indicators").mkdir(exist_ok=True)
    (folder / "indicators" / "watch.yaml").write_text(INDICATOR.replace("WORD", word))
    (folder / "feeds.yaml").write_text(f"feeds:\n  - {{id: a, url: '{feed_url}'}}\n")
    return load_definitions(folder / "indicators", folder / "feeds.yaml")


def entry(i: int) -> Entry:
    word, publisher = ("beta", "early.example.com") if i < EARLY else ("alpha", "late.example.org")
    return Entry(
        feed_id="a",
        guid=f"g{i}",
        link=f"https://{publisher}/{i}",
        title=f"Report number {i} says {word}",
        text=f"Dispatch {i}: {word}. " + " ".join(f"w{i}x{k}" for k in range(12)),
        published=NOW - (TOTAL - i) * MINUTE,
        publisher=publisher,
    )


@pytest.fixture
def history(tmp_path: Path, feed_server: FeedServer, database_url: str) -> Iterator[str]:
    """A database where the old rule ("alpha") found the later entries, one publisher's: the
    status is `said:reported`. The new rule ("beta") finds the first batch, another
    publisher's: `said:reported` again. Half of each (the first batch rewritten, the rest not
    yet) would be two publishers: `said:confirmed`, which neither rule supports."""
    twofeeds.serve(feed_server, "/a.xml")  # read, and empty: the feed supports `quiet`
    old = definitions(tmp_path, "alpha", feed_server.url("/a.xml"))
    with open_store(database_url) as store:
        ctx = twofeeds.context(old, store, now=NOW)
        store_entries(ctx, [entry(i) for i in range(TOTAL)], now=NOW)
        run_cycle(ctx, now=NOW)
        assert store.current_statuses()["watch"][0] == "said:reported"
    yield database_url


def daemon_and_replay(tmp_path: Path, url: str, feed_url: str) -> tuple[Any, Any]:
    """The daemon's context of the new rule and the replay's, each on a store of its own; the
    daemon's SQLite connections do not wait for a lock at all. The daemon has not reloaded yet
    (its reload matches the stored news inside the window against the edited rule itself,
    `first_look`, and leaves the replay nothing to rewrite there)."""
    new = definitions(tmp_path, "beta", feed_url)
    daemon_store, replay_store = open_store(url), open_store(url)
    if daemon_store.dialect == "sqlite":
        event.listen(daemon_store._engine, "connect", _no_wait)
        daemon_store._engine.dispose()
    daemon = twofeeds.unprepared(new, daemon_store)
    replay = replace(daemon, store=replay_store, matcher=Matcher(new.indicators))
    return daemon, replay


def _no_wait(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout = 0")  # locked: fail at once


def between_batches(store: Store, action: Callable[[int], None]) -> None:
    """Run `action(old matches left)` once, as `store` begins a transaction after it rewrote
    matches (before its BEGIN: it holds no lock then)."""
    rewrote: list[bool] = []
    done: list[bool] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("DELETE FROM entry_match"):
            rewrote.append(True)

    def begin(conn: Any) -> None:
        if rewrote and not done:
            done.append(True)
            action(_old_matches(store))

    event.listen(store._engine, "after_cursor_execute", seen)
    event.listen(store._engine, "begin", begin, insert=True)


_OLD_MATCHES = (  # the new rule matches no entry saying "alpha": these are the old rule's
    "SELECT count(*) FROM entry_match m JOIN entry e ON e.id = m.entry_id "
    "WHERE e.title LIKE '%alpha%'"
)


def _old_matches(store: Store) -> int:
    with store._engine.connect() as conn:
        found = conn.execute(text(_OLD_MATCHES))
        return int(found.scalar_one())


def test_a_daemon_writes_and_evaluates_between_two_batches_of_a_replay(
    tmp_path: Path, feed_server: FeedServer, history: str
) -> None:
    daemon, replay = daemon_and_replay(tmp_path, history, feed_server.url("/a.xml"))
    seen: dict[str, Any] = {}

    def the_daemon_works(old_left: int) -> None:
        seen["old left"] = old_left
        daemon.store.record_cycle(Cycle(started_at=NOW, finished_at=NOW))  # not locked out
        seen["recorded"] = evaluate_and_record(daemon, now=NOW + MINUTE)
        seen["status"] = daemon.store.current_statuses()["watch"][0]

    between_batches(replay.store, the_daemon_works)
    assert rematch(replay, NOW - timedelta(days=7), clock=lambda: NOW) == (TOTAL, EARLY)
    assert "old left" in seen, "the daemon never got in between two of the replay's writes"
    assert seen["old left"] > 0  # part way through: the new rule's matches in, old ones left
    assert seen["recorded"] == []  # held: not `said:confirmed`, which no rule supports
    assert seen["status"] == "said:reported"
    assert evaluate_and_record(replay, now=NOW + 2 * MINUTE, replayed=True) == []
    assert evaluate_and_record(daemon, now=NOW + 3 * MINUTE) == []
    statuses = [c.new_status for c in daemon.store.history("watch")]
    assert "said:confirmed" not in statuses
    assert daemon.store.replay_hold() is None
    daemon.store.close()
    replay.store.close()


class Stopped(Exception):
    """The replay's process killed half way."""


def test_a_replay_stopped_half_way_holds_the_statuses_until_the_next_one_finishes_it(
    tmp_path: Path, feed_server: FeedServer, history: str
) -> None:
    daemon, replay = daemon_and_replay(tmp_path, history, feed_server.url("/a.xml"))
    left: list[int] = []

    def killed(old_left: int) -> None:
        left.append(old_left)
        raise Stopped

    between_batches(replay.store, killed)
    with pytest.raises(Stopped):
        rematch(replay, NOW - timedelta(days=7), clock=lambda: NOW)
    assert left[0] > 0  # it stopped with part of the matches rewritten
    hold = daemon.store.replay_hold()
    assert hold is not None and hold.since == NOW - timedelta(days=7)

    # The daemon goes on: its evaluations record nothing from the half-rewritten matches.
    assert evaluate_and_record(daemon, now=NOW + MINUTE) == []
    later = NOW + 10 * MINUTE  # past the stopped replay's lease: another one takes it over
    again = replace(replay, store=open_store(history), owner="another process")
    with pytest.raises(Exception, match="another replay"):
        rematch(again, NOW - timedelta(days=1), clock=lambda: NOW + MINUTE)
    assert rematch(again, NOW - timedelta(days=1), clock=lambda: later) == (TOTAL, EARLY)
    assert evaluate_and_record(again, now=later, replayed=True) == []  # reported, as before
    assert daemon.store.replay_hold() is None
    assert evaluate_and_record(daemon, now=later + MINUTE) == []
    assert [c.new_status for c in daemon.store.history("watch")] == ["said:reported"]
    [kept] = _kept(daemon, later + MINUTE)
    assert {e.publisher for o in kept.outcomes for e in o.evidence} == {"early.example.com"}
    for store in (daemon.store, replay.store, again.store):
        store.close()


def _kept(ctx: Any, now: datetime) -> list[Any]:
    from monitor.statuses import kept_statuses

    return kept_statuses(ctx.definitions, ctx.store, now=now)
