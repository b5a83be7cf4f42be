"""Retention and an evaluation at the same moment on PostgreSQL (two daemons on one database):
the clean-up forgets the kept stories of the outcomes whose old matches it deletes, and never
while an evaluation of another daemon is about to write the stories it found, so the stories
kept afterwards are those a full evaluation finds. Feeds served on 127.0.0.1, real cycles at a
controlled clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from monitor.pipeline import evaluate_and_record, run_cycle
from monitor.statuses import evaluate_all, kept_statuses
from monitor.store import open_store
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


def test_a_clean_up_while_another_daemon_evaluates_leaves_no_story_counted_for_ever(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    """MONITOR_RETENTION=30d, as long as the window. Feed a carried a local story 35 days ago
    and a wire story 11 days ago. The daemon's evaluation lets the local one leave the 30-day
    window and is about to write that when another daemon's clean-up deletes the local entry
    and forgets the outcome's stories (the wire story's too).
    Twenty days on the wire story leaves the window too: the status is quiet, as a full
    evaluation of the matches says, not held at `reported` by a story nobody keeps."""
    definitions = twofeeds.definitions(
        tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml")
    )
    items = [twofeeds.local(NOW - 35 * DAY), twofeeds.wire(NOW - 11 * DAY)]
    feed_server.route("/a.xml", body=news.rss("/a.xml", items))
    feed_server.route("/b.xml", body=news.rss("/b.xml", []))
    watcher = create_engine(postgres_url)
    threads: list[threading.Thread] = []
    with open_store(postgres_url) as store, open_store(postgres_url) as other:
        ctx = twofeeds.context(definitions, store, now=NOW - 10 * DAY)
        run_cycle(ctx, now=NOW - 10 * DAY)
        assert store.current_statuses()["reads-a"][0] == "waived:confirmed"

        def clean_up() -> None:
            storeops.prune(other, NOW - 30 * DAY, matched_before=NOW - 30 * DAY, now=NOW)

        def clean_up_while_it_evaluates() -> None:  # done, or waits for the evaluation
            threads.append(storeops.started_until_done_or_waiting(watcher, clean_up))

        storeops.before(store, "DELETE FROM story", clean_up_while_it_evaluates)
        evaluate_and_record(ctx, now=NOW)
        threads[0].join()
        assert store.current_statuses()["reads-a"][0] == "waived:reported"

        later = NOW + 20 * DAY
        run_cycle(ctx, now=later)  # the feeds read again: nothing new
        kept = {s.indicator_id: s.status for s in kept_statuses(definitions, store, now=later)}
        full = {s.indicator_id: s.status for s in evaluate_all(definitions, store, now=later)}
        assert kept == full
        assert store.current_statuses()["reads-a"][0] == "quiet"
    watcher.dispose()
