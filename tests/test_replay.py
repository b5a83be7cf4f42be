"""`monitor replay` after an analyst changed the definitions on a running deployment: stored
news matched again only against the indicators that read its feed now, and a replay that the
clean-up overtakes (entries deleted between its read and its write) still records its result.
Feeds served on 127.0.0.1, real cycles at a controlled clock; SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from monitor.definitions import load_definitions
from monitor.domain import Definitions, OutcomeState, Status
from monitor.match import Matcher
from monitor.metrics import CYCLE_BUCKETS
from monitor.pipeline import Context, evaluate_and_record, prepare, rematch, run_cycle
from monitor.statuses import evaluate_all, kept_statuses
from monitor.store import Store, open_store
from tests import storeops, twofeeds
from tests.feedserver import FeedServer
from tests.twofeeds import INTERVAL, LOCAL_LINK, WIRE_LINK

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


store, two_feeds = twofeeds.store, twofeeds.two_feeds  # fixtures
serve = twofeeds.serve


def edited(tmp_path: Path, *removed: str, feeds: str | None = None) -> Definitions:
    """The definitions of `twofeeds` with the files of the indicators `removed` deleted and,
    with `feeds`, the feeds file keeping only that feed."""
    for indicator_id in removed:
        (tmp_path / "indicators" / f"{indicator_id}.yaml").unlink()
    if feeds is not None:
        path = tmp_path / "feeds.yaml"
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(li for li in lines if "{id: " not in li or f"{{id: {feeds}," in li))
    return load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")


def evidence_links(store: Store, indicator_id: str, since: datetime = NOW - DAY) -> list[str]:
    found = storeops.evidence(store, [indicator_id], since).get(indicator_id, [])
    return sorted(e.link for e in found)


def test_news_of_a_feed_no_indicator_reads_any_more_is_evidence_for_none(
    tmp_path: Path, feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    """reads-b and reads-both are deleted: feed b stays in the feeds file, read by nobody. Its
    news, new or replayed, must not become evidence of reads-a, which never read it."""
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml")
    serve(feed_server, "/b.xml", twofeeds.local(NOW - HOUR))
    first = run_cycle(ctx, now=NOW)
    assert {c.indicator_id: c.new_status for c in first.changes} == {
        "reads-b": "waived:reported",
        "reads-both": "waived:reported",
    }

    narrowed = edited(tmp_path, "reads-b", "reads-both")
    assert [i.id for i in narrowed.indicators] == ["reads-a"]
    ctx = twofeeds.context(narrowed, store, now=NOW + INTERVAL)

    serve(feed_server, "/b.xml", twofeeds.local(NOW - HOUR), twofeeds.wire(NOW))
    later = run_cycle(ctx, now=NOW + INTERVAL)  # the daemon: a new item of b, read by nobody
    assert later.new_entries == 1 and later.matches == 0 and later.changes == []
    assert evidence_links(store, "reads-a") == []

    assert rematch(ctx, NOW - DAY) == (2, 0)  # `monitor replay`: b's entries match nothing
    assert evaluate_and_record(ctx, now=NOW + INTERVAL) == []
    assert store.current_statuses()["reads-a"][0] == "quiet"
    assert evidence_links(store, "reads-a") == []


def test_news_of_a_feed_removed_from_the_feeds_file_is_replayed_for_no_indicator(
    tmp_path: Path, feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml")
    serve(feed_server, "/b.xml", twofeeds.local(NOW - HOUR))
    run_cycle(ctx, now=NOW)
    assert evidence_links(store, "reads-b") == [LOCAL_LINK]

    # feed b is taken out of the feeds file with the indicators that read it
    without_b = edited(tmp_path, "reads-b", "reads-both", feeds="a")
    assert [f.id for f in without_b.feeds] == ["a"]
    ctx = twofeeds.context(without_b, store, now=NOW + INTERVAL)

    assert rematch(ctx, NOW - DAY) == (1, 0)
    assert evaluate_and_record(ctx, now=NOW + INTERVAL) == []
    assert store.current_statuses()["reads-a"][0] == "quiet"
    assert evidence_links(store, "reads-a") == []


def test_a_replay_overtaken_by_the_clean_up_records_its_result(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    """The clean-up deletes an old entry after the replay read it and before it writes its
    matches: the replay goes on with the entries that are left."""
    then = NOW - 400 * DAY
    ctx = twofeeds.context(two_feeds, store, now=then)
    serve(feed_server, "/a.xml", twofeeds.local(then - HOUR))
    serve(feed_server, "/b.xml")
    run_cycle(ctx, now=then)
    serve(feed_server, "/a.xml", twofeeds.local(then - HOUR), twofeeds.wire(NOW - HOUR))
    run_cycle(ctx, now=NOW)
    assert evidence_links(store, "reads-a", then - DAY) == sorted([LOCAL_LINK, WIRE_LINK])

    read = store.entries_since

    def overtaken(since: datetime, **page: int) -> list:  # type: ignore[type-arg]
        found = read(since, **page)
        store.prune(
            now=NOW, before=NOW - 365 * DAY, matched_before=NOW - 365 * DAY,
            buckets=CYCLE_BUCKETS,
        )  # fmt: skip
        return found

    store.entries_since = overtaken  # type: ignore[method-assign]
    assert rematch(ctx, then - DAY) == (2, 2)
    assert evidence_links(store, "reads-a", then - DAY) == [WIRE_LINK]
    assert [e.link for _, e, _ in read(then - DAY)] == [WIRE_LINK]


def reloaded(ctx: Context, definitions: Definitions) -> Context:
    return replace(ctx, definitions=definitions, matcher=Matcher(definitions.indicators))


def rewrite(tmp_path: Path, indicator_id: str, old: str, new: str) -> Definitions:
    path = tmp_path / "indicators" / f"{indicator_id}.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    return load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")


EDITED_A = "definition edited (reads-a.yaml)"


def test_a_window_changed_moves_the_status_at_once_both_ways_and_says_why(
    tmp_path: Path, feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    """30 days, then 7, then 30 again: the daemon's reload records each change at once, and
    each says the edit caused it (`statuses.edited`; a change to quiet has no evidence to say
    so); a change the news causes afterwards says nothing of the kind. The reloads come
    within a check interval of the last reading, so the feeds still count as read."""
    ctx = twofeeds.context(two_feeds, store, now=NOW)
    serve(feed_server, "/a.xml", twofeeds.local(NOW - 10 * DAY))
    serve(feed_server, "/b.xml")
    run_cycle(ctx, now=NOW)
    assert store.current_statuses()["reads-a"][0] == "waived:reported"

    week = rewrite(tmp_path, "reads-a", "window: 30d", "window: 7d")
    [narrowed] = prepare(reloaded(ctx, week), now=NOW + MINUTE)  # what a reload does
    assert (narrowed.new_status, narrowed.evidence, narrowed.reason) == (
        "quiet", (), EDITED_A,
    )  # fmt: skip
    month = rewrite(tmp_path, "reads-a", "window: 7d", "window: 30d")
    ctx = reloaded(ctx, month)
    [widened] = prepare(ctx, now=NOW + 2 * MINUTE)
    assert (widened.new_status, widened.reason) == ("waived:reported", EDITED_A)
    assert [e.link for e in widened.evidence] == [LOCAL_LINK]

    serve(feed_server, "/a.xml", twofeeds.local(NOW - 10 * DAY), twofeeds.wire(NOW))
    changes = run_cycle(ctx, now=NOW + 3 * HOUR).changes  # reads-both reads feed a too
    assert {(c.indicator_id, c.new_status, c.reason) for c in changes} == {
        ("reads-a", "waived:confirmed", ""),
        ("reads-both", "waived:confirmed", ""),
    }
    assert [c.reason for c in store.history("reads-a")] == [
        "", EDITED_A, EDITED_A, "",
    ]  # fmt: skip


def test_a_replay_while_the_daemon_evaluates_leaves_the_statuses_a_full_evaluation_finds(
    tmp_path: Path, feed_server: FeedServer, two_feeds: Definitions, postgres_url: str
) -> None:
    """The rule is narrowed; the daemon's evaluation is about to write the stories it found
    among the old matches when `monitor replay` rewrites them. Whichever waits for the other,
    the stories kept afterwards are those of the new matches (PostgreSQL: SQLite's writers
    take turns anyway)."""
    watcher = create_engine(postgres_url)
    threads: list[threading.Thread] = []
    with open_store(postgres_url) as store, open_store(postgres_url) as theirs:
        ctx = twofeeds.context(two_feeds, store, now=NOW)
        serve(feed_server, "/a.xml", twofeeds.local(NOW - HOUR))
        serve(feed_server, "/b.xml")
        run_cycle(ctx, now=NOW)
        assert store.current_statuses()["reads-a"][0] == "waived:reported"

        narrowed = rewrite(tmp_path, "reads-a", "[visa waiver]", '["visa waiver for tour groups"]')
        ctx = replace(ctx, definitions=narrowed, matcher=Matcher(narrowed.indicators))
        replay = replace(ctx, store=theirs)
        serve(feed_server, "/a.xml", twofeeds.local(NOW - HOUR), twofeeds.wire(NOW))

        def replay_while_it_evaluates() -> None:
            def run() -> None:
                rematch(replay, NOW - DAY)
                evaluate_and_record(replay, now=NOW + INTERVAL, replayed=True)

            # until it is done, or waits for the evaluation
            threads.append(storeops.started_until_done_or_waiting(watcher, run))

        storeops.before(store, "DELETE FROM story", replay_while_it_evaluates)
        run_cycle(ctx, now=NOW + INTERVAL)
        threads[0].join()

        later = NOW + 2 * INTERVAL
        evaluate_and_record(ctx, now=later)
        kept = {s.indicator_id: s.status for s in kept_statuses(narrowed, store, now=later)}
        full = {s.indicator_id: s.status for s in evaluate_all(narrowed, store, now=later)}
        assert kept["reads-a"] == full["reads-a"] == "waived:reported"  # the wire story only
        assert store.current_statuses()["reads-a"][0] == "waived:reported"
    watcher.dispose()


def test_after_a_replay_the_statuses_are_those_of_a_daemon_that_ran_the_new_rule_from_the_start(
    tmp_path: Path, feed_server: FeedServer, two_feeds: Definitions, database_url: str
) -> None:
    """One daemon read the news with the old rule, then the rule is broadened and replayed;
    another read the same news with the broadened rule from the start."""
    serve(feed_server, "/a.xml", twofeeds.local(NOW - 2 * DAY), twofeeds.wire(NOW - HOUR))
    serve(feed_server, "/b.xml", twofeeds.local(NOW - 3 * HOUR))
    narrow = rewrite(tmp_path, "reads-both", "[visa waiver]", '["visa waiver for tour groups"]')
    broad = rewrite(tmp_path, "reads-both", '["visa waiver for tour groups"]', "[visa waiver]")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with open_store(database_url) as store, open_store(fresh) as other:
        ctx = twofeeds.context(narrow, store, now=NOW)
        run_cycle(ctx, now=NOW)
        assert store.current_statuses()["reads-both"][0] == "waived:reported"
        ctx = reloaded(ctx, broad)
        prepare(ctx, now=NOW + INTERVAL, evaluate=False)  # as `monitor replay` does
        assert rematch(ctx, NOW - 7 * DAY) == (3, 6)
        replayed = evaluate_and_record(ctx, now=NOW + INTERVAL, replayed=True)
        assert [(c.indicator_id, c.new_status, c.replayed) for c in replayed] == [
            ("reads-both", "waived:confirmed", True)
        ]

        from_start = twofeeds.context(broad, other, now=NOW)
        run_cycle(from_start, now=NOW)
        later = NOW + 2 * INTERVAL
        for daemon in (ctx, from_start):
            assert evaluate_and_record(daemon, now=later) == []
        mine = kept_statuses(broad, store, now=later)
        theirs = kept_statuses(broad, other, now=later)
        assert seen_as_stored(mine) == seen_as_stored(theirs)


def seen_as_stored(statuses: list[Status]) -> list[tuple[str, tuple[OutcomeState, ...]]]:
    """Statuses with their outcomes, each piece of evidence without its entry id: the two
    stores fetch the feeds at once and number the entries in the order the fetches end."""
    return [
        (
            s.status,
            tuple(
                replace(o, evidence=tuple(replace(e, entry_id=0) for e in o.evidence))
                for o in s.outcomes
            ),
        )
        for s in statuses
    ]
