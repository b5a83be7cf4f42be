"""An indicator added to a watch list that is running already: the news stored inside its
window before it existed is matched against it before its first evaluation, so it is not
`quiet` (a claim that its feeds were read and nothing matched) while a stored article it
matches is inside its window. Feeds on 127.0.0.1, a SQLite file, real cycles at a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Match
from monitor.match import Matcher
from monitor.pipeline import Context, first_look, prepare, run_cycle
from monitor.statuses import NOT_LOOKED_AT
from monitor.store import Looked, Store, open_store
from monitor.views import indicator_views
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer
from tests.test_feed_lock_order import Call, until_waiting
from tests.test_store import entry as stored_entry

store = twofeeds.store

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
ADDED = NOW + timedelta(minutes=20)  # the files of the new indicators appear, the daemon reloads


def only(folder: Path, feed_server: FeedServer, *kept: str) -> Definitions:
    """The two feeds' definitions with only the indicators `kept` in the folder."""
    twofeeds.definitions(folder, feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    for path in (folder / "indicators").glob("*.yaml"):
        if path.stem not in kept:
            path.unlink()
    return load_definitions(folder / "indicators", folder / "feeds.yaml")


def reloaded(ctx: Context, definitions: Definitions) -> Context:
    return replace(ctx, definitions=definitions, matcher=Matcher(definitions.indicators))


def test_an_indicator_added_later_counts_the_news_stored_inside_its_window(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    feed_server.route("/a.xml", body=news.rss("a", [
        twofeeds.wire(NOW - timedelta(days=2)),
        twofeeds.local(NOW - timedelta(days=1)),
        news.Item("Visa waiver talks began in 2020", "https://old.example.net/1",
                  NOW - timedelta(days=40)),  # outside the 30-day window
    ]))  # fmt: skip
    feed_server.route("/b.xml", body=news.rss("b", []))
    ctx = twofeeds.context(only(tmp_path, feed_server, "reads-b"), store, now=NOW)
    assert run_cycle(ctx, now=NOW).new_entries == 3
    assert store.current_statuses()["reads-b"][0] == "quiet"  # b was read: it is empty

    everything = only(tmp_path, feed_server, "reads-a", "reads-b", "reads-both")
    changes = prepare(reloaded(ctx, everything), now=ADDED)

    # Both new ones read feed a, whose two stored stories (two publishers) are inside their
    # window: confirmed, not quiet. reads-b reads only b: feed a's news is not its evidence.
    assert {c.indicator_id: (c.old_status, c.new_status, c.at) for c in changes} == {
        "reads-a": ("unknown", "waived:confirmed", ADDED),
        "reads-both": ("unknown", "waived:confirmed", ADDED),
    }
    shown = {v.id: v for v in indicator_views(everything, store, now=ADDED)}
    assert {i: v.status for i, v in shown.items()} == {
        "reads-a": "waived:confirmed", "reads-b": "quiet", "reads-both": "waived:confirmed",
    }  # fmt: skip
    assert {e.link for e in shown["reads-a"].evidence} == {
        twofeeds.WIRE_LINK, twofeeds.LOCAL_LINK,
    }  # fmt: skip


def test_readers_say_unknown_for_an_indicator_no_check_has_looked_at_yet(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """Before the daemon's reload (or the next check) takes its first look, the page, the API
    and `monitor status` (`monitor serve` alone, or the moment a file is saved) show a new
    indicator `unknown`, saying why: not `quiet`, which would claim the stored news was
    matched against it and none matched."""
    feed_server.route("/a.xml", body=news.rss("a", [twofeeds.wire(NOW - timedelta(days=2))]))
    feed_server.route("/b.xml", body=news.rss("b", []))
    ctx = twofeeds.context(only(tmp_path, feed_server, "reads-b"), store, now=NOW)
    run_cycle(ctx, now=NOW)
    everything = only(tmp_path, feed_server, "reads-a", "reads-b")

    shown = {v.id: v for v in indicator_views(everything, store, now=ADDED)}
    assert shown["reads-b"].status == "quiet"  # checked: its feed was read, nothing matched
    assert shown["reads-a"].status == "unknown"
    assert shown["reads-a"].reason == NOT_LOOKED_AT

    prepare(reloaded(ctx, everything), now=ADDED)
    shown = {v.id: v for v in indicator_views(everything, store, now=ADDED)}
    assert (shown["reads-a"].status, shown["reads-a"].reason) == ("waived:reported", "")


def test_the_first_look_is_taken_once_and_adds_nothing_twice(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    feed_server.route("/a.xml", body=news.rss("a", [twofeeds.wire(NOW - timedelta(days=2))]))
    feed_server.route("/b.xml", body=news.rss("b", []))
    ctx = twofeeds.context(only(tmp_path, feed_server, "reads-b"), store, now=NOW)
    run_cycle(ctx, now=NOW)
    added = reloaded(ctx, only(tmp_path, feed_server, "reads-a", "reads-b"))

    assert first_look(added, now=ADDED) == 1  # the wire story, for reads-a
    assert first_look(added, now=ADDED) == 0  # not evaluated yet: looked at again, nothing new
    prepare(added, now=ADDED)  # evaluated: reads-a is no longer new
    assert first_look(added, now=ADDED + timedelta(minutes=1)) == 0
    assert store.current_statuses()["reads-a"][0] == "waived:reported"
    assert [c.new_status for c in store.history("reads-a")] == ["waived:reported"]


def test_the_first_look_counts_only_the_entries_of_the_feeds_its_indicators_read(
    tmp_path: Path, feed_server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Its log line says how many stored entries the new indicators were matched against: those
    of the feeds they read (it said every stored entry inside the window, so an indicator of an
    empty feed read as if its rule had missed the news of every other feed)."""
    feed_server.route("/a.xml", body=news.rss("a", [
        twofeeds.wire(NOW - timedelta(days=2)), twofeeds.local(NOW - timedelta(days=1)),
    ]))  # fmt: skip
    feed_server.route("/b.xml", body=news.rss("b", [
        news.Item("Seoul weather: sunny", "https://b.example.org/w", NOW - timedelta(days=1)),
    ]))  # fmt: skip
    ctx = twofeeds.context(only(tmp_path, feed_server, "reads-a"), store, now=NOW)
    assert run_cycle(ctx, now=NOW).new_entries == 3
    added = reloaded(ctx, only(tmp_path, feed_server, "reads-a", "reads-b"))

    with caplog.at_level("INFO", logger="monitor.pipeline"):
        assert first_look(added, now=ADDED) == 0

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("first look")]
    assert lines == [
        "first look: 1 stored entry matched against 1 indicator not evaluated yet "
        "(reads-b): 0 matches"
    ]


@pytest.mark.postgres
def test_a_first_look_waits_for_an_evaluation_or_replay_holding_the_matches(
    postgres_url: str,
) -> None:
    """The first look's matches are added between two evaluations, and after or before a
    replay's rewrite, never during one: it takes the lock they take first (`hold_evaluations`).
    Checking for a replay's hold by a plain read, it could begin as a replay did and then each
    wait for the other (the replay for the match version, it for a match row the replay wrote):
    `deadlock detected`."""
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as one,
        psycopg.connect(plain, autocommit=True) as watch,
        psycopg.connect(plain) as gate,
    ):
        ((entry_id, item),) = storeops.add_entries(one, [stored_entry(1)], now=NOW)
        match = Match(item.key, "reads-a", "waived", ("visa",), item.title)
        gate.execute("INSERT INTO counter (name, value) VALUES ('evaluated', 0) "
                     "ON CONFLICT DO NOTHING")  # fmt: skip
        gate.execute("SELECT value FROM counter WHERE name = 'evaluated' FOR UPDATE")
        since = {"reads-a": datetime(2000, 1, 1, tzinfo=UTC)}  # the entry's window
        adding = Call(lambda: one.look([entry_id], [(entry_id, match)], since, {"reads-a": "h"}))
        until_waiting(watch, 1, adding)
        assert adding.thread.is_alive(), "added its matches while an evaluation held them"
        gate.rollback()
        looked = adding.outcome()
        assert isinstance(looked, Looked) and looked.added == {"reads-a": 1}
