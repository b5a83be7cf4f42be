"""A reload (`sync_feeds`: at SIGHUP or a changed feeds file, at start-up, in `monitor check`
and `digest --send`) beside other daemons' work on PostgreSQL: it locks the feed rows it
changes, not every one, so another daemon storing its reads of the other feeds, or claiming
them, goes on meanwhile; and reloads run one after another, so the later one's file is the
one in force, whole. Each reload is held open just before its commit while the other daemon
works: that one is done, or waits for a lock (pg_stat_activity), before the reload commits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from monitor.domain import Feed
from monitor.store import Added, Store, open_store
from tests.test_feed_lock_order import (
    BY_ID,
    FEEDS,
    LEASE,
    NOW,
    READ,
    Call,
    feeds,
    feeds_of_entries,
    item,
    read,
    stored,
    until_waiting,
    url,
)

MOVED = [Feed("a", url("a")), Feed("b", url("b")), Feed("c", url("c", "new/"))]  # c moves


@contextmanager
def before_commit(store: Store, action: Callable[[], None]) -> Iterator[None]:
    """Within the block, run `action` once, as `store` is about to commit (its locks held)."""
    done: list[bool] = []

    def hook(_conn: Any) -> None:
        if not done:
            done.append(True)
            action()

    event.listen(store._engine, "commit", hook)
    try:
        yield
        assert done, "the store never committed"
    finally:
        event.remove(store._engine, "commit", hook)


@pytest.mark.postgres
def test_a_reload_holds_only_the_feeds_it_changes(postgres_url: str) -> None:
    """The first daemon claimed a and stores its read of a (with a new item) while the second
    reloads a feeds file that moves c: the batch waited for the reload's commit, which held
    every feed row (330 ms with 500 feeds), and a third daemon claiming due feeds meanwhile
    found none (all locked: skipped). Now the batch is stored and b is claimed before the
    reload commits; c, being moved, is skipped, and due at once after it."""
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as reloading,
        open_store(postgres_url) as storing,
        open_store(postgres_url) as claiming,
        psycopg.connect(plain, autocommit=True) as watch,
    ):
        reloading.sync_feeds(FEEDS, now=NOW)
        assert [f.id for f in storing.due_feeds(NOW, owner="d1", lease=LEASE, limit=1)] == ["a"]
        batch: list[Call] = []
        waited: list[bool] = []
        claimed: list[list[str]] = []

        def meanwhile() -> None:
            reads = [read("a", READ)]
            batch.append(Call(lambda: stored(storing, [item("a")], reads, "d1")))
            until_waiting(watch, 1, batch[0])
            waited.append(batch[0].thread.is_alive())
            due = claiming.due_feeds(READ, owner="d3", lease=LEASE)
            claimed.append([f.id for f in due])

        with before_commit(reloading, meanwhile):
            reloading.sync_feeds(MOVED, now=READ)
        added = batch[0].outcome()
        assert isinstance(added, Added) and added.dropped == {}
        assert (waited, claimed) == ([False], [["b"]])
        found = feeds(reloading)
        assert (found["a"].last_checked_at, found["a"].lease_owner) == (READ, None)
        assert (found["c"].url, found["c"].next_check_at) == (url("c", "new/"), READ)
        assert feeds_of_entries(reloading) == ["a"]


@pytest.mark.postgres
def test_reloads_at_once_leave_the_later_file_in_force_whole(postgres_url: str) -> None:
    """The second daemon reloads the feeds file as it was (a, b and c where they were) while
    the first's reload of the edited file (a moved, b named) is about to commit: it reads the
    feeds once that one has committed, so its file is the one in force, a where it was too; a
    reload that took none of the first's feeds for changed would have left a moved."""
    edited = [Feed("a", url("a", "new/")), Feed("b", url("b"), title="B news"), FEEDS[0]]
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as first,
        open_store(postgres_url) as second,
        psycopg.connect(plain, autocommit=True) as watch,
    ):
        first.sync_feeds(FEEDS, now=NOW)
        later: list[Call] = []

        def meanwhile() -> None:
            later.append(Call(lambda: second.sync_feeds(FEEDS, now=READ)))
            until_waiting(watch, 1, later[0])

        with before_commit(first, meanwhile):
            first.sync_feeds(edited, now=NOW)
        later[0].outcome()
        found = feeds(first)
        assert [found[i].url for i in BY_ID] == [url(i) for i in BY_ID]
        assert found["b"].title == "B news"  # the file names no title: the one stored stays
