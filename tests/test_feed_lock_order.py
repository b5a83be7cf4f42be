"""Transactions that write feed rows at the same moment wait for each other in one order, never
in a circle: a reload (`sync_feeds`, at SIGHUP or a changed feeds file) beside a batch of reads
being stored, leases given up beside a reload, and a late reader beside the lease's new holder
storing the same feeds. Each pair runs for real: on PostgreSQL a third session holds one feed's
row while the first transaction, then the second, are started, each once the one before waits
for a lock, so each holds what it locked before that row when the other asks for it; on SQLite
the second asks for the write lock while the first holds it. Both commit, and what is stored is
what the later of the two leaves: no `deadlock detected`, no `database is locked`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from monitor.domain import Entry, Feed
from monitor.store import Added, Dropped, FetchRecord, Store, open_store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
READ = NOW + timedelta(minutes=1)  # when the first daemon's reads are stored
TAKEN = NOW + timedelta(minutes=6)  # its leases ran out: the second daemon claims b and c
LATE = TAKEN + timedelta(minutes=1)  # both store their reads of b and c

BY_ID = ("a", "b", "c")


def url(feed_id: str, where: str = "") -> str:
    return f"https://{feed_id}.example.com/{where}rss.xml"


# The feeds file lists them not by id; the reload moves c and names b and a (it changes every
# row: a reload locks only the rows it changes, `test_reload_rows.py`).
FEEDS = [Feed(i, url(i)) for i in reversed(BY_ID)]
RELOADED = [Feed("c", url("c", "new/")), Feed("b", url("b"), title="B news"),
            Feed("a", url("a"), title="A news")]  # fmt: skip


def item(feed_id: str) -> Entry:
    link = f"https://{feed_id}.example.com/1"
    return Entry(feed_id, f"urn:{feed_id}", link, "Visa waiver agreed", "Text.", NOW, "x.com")


def read(feed_id: str, at: datetime, *, ok: bool = True) -> FetchRecord:
    """A read of `feed_id` at `at`, of the address it was claimed for."""
    return FetchRecord(feed_id, at, ok=ok, http_status=200 if ok else 503,
                       error="" if ok else "HTTP 503", error_count=int(not ok),
                       next_check_at=at + timedelta(minutes=15),
                       listed_url=url(feed_id))  # fmt: skip


def stored(store: Store, entries: list[Entry], records: list[FetchRecord], owner: str) -> Added:
    """A batch of reads stored as a cycle stores it: entries and records in one transaction."""
    return store.add_news(entries, now=records[0].now, match=lambda _new: [],
                          definition_hashes={}, records=records, owner=owner)  # fmt: skip


def feeds(store: Store) -> dict[str, Any]:
    return {f.id: f for f in store.feeds(include_inactive=True)}


def feeds_of_entries(store: Store) -> list[str]:
    return sorted(e.feed_id for _, e, _ in store.entries_since(NOW - timedelta(days=1)))


@dataclass
class Pair:
    """Two transactions writing the same feed rows: `setup`, then `first` and `second` at
    once (each given its own store), the row `held` locked meanwhile (PostgreSQL), and
    `check` of what they returned and what is stored."""

    setup: Callable[[Store], object]
    first: Callable[[Store], object]
    second: Callable[[Store], object]
    held: str
    check: Callable[[Store, Any, Any], None]


def claimed(store: Store) -> None:
    """The feeds file's feeds, all claimed by the first daemon at NOW."""
    store.sync_feeds(FEEDS, now=NOW)
    assert len(store.due_feeds(NOW, owner="d1", lease=LEASE)) == 3


def reload_beside_a_batch(with_entries: bool) -> Pair:
    """A reload moving c (and naming b and a) while the first daemon stores its reads of a and c:
    the reload, then the batch, which leaves out the read of c's old address."""
    reads = [read("a", READ), read("c", READ)]

    def batch(store: Store) -> object:
        if with_entries:
            return stored(store, [item("a"), item("c")], reads, "d1").dropped
        return store.record_fetches(reads, owner="d1")

    def check(store: Store, _reloaded: object, dropped: object) -> None:
        assert dropped == {"c": Dropped.MOVED}
        found = feeds(store)
        assert (found["c"].url, found["c"].last_checked_at) == (url("c", "new/"), None)
        assert (found["a"].title, found["b"].title) == ("A news", "B news")
        assert (found["a"].last_checked_at, found["a"].lease_owner) == (READ, None)
        assert feeds_of_entries(store) == (["a"] if with_entries else [])

    reload = lambda store: store.sync_feeds(RELOADED, now=READ)  # noqa: E731
    return Pair(claimed, reload, batch, "b", check)


def leases_given_up_beside_a_reload(give_up: Callable[[Store], object]) -> Pair:
    """The first daemon gives up its leases (its cycle's deadline passed, or it stops) while
    another reloads a feeds file that lists the feeds by id: both are applied."""

    def check(store: Store, _released: object, _reloaded: object) -> None:
        found = feeds(store)
        assert [found[i].lease_owner for i in BY_ID] == [None, None, None]
        assert found["b"].title == "B news" and found["c"].url == url("c", "new/")

    def reload(store: Store) -> object:
        return store.sync_feeds(sorted(RELOADED, key=lambda f: f.id), now=READ)

    return Pair(claimed, give_up, reload, "b", check)


def late_reader_beside_the_holder() -> Pair:
    """The second daemon's leases on b and c ran out while it read them, and the first claimed
    them (and a) and read them too. The holder records a, b (failed) and c while the late
    reader stores its reads of b and c: those are left out, the holder's reads stored."""

    def setup(store: Store) -> None:
        store.sync_feeds(FEEDS, now=NOW)
        assert len(store.due_feeds(NOW, owner="d2", lease=LEASE, skip=["a"])) == 2
        assert len(store.due_feeds(TAKEN, owner="d1", lease=LEASE)) == 3

    def holder(store: Store) -> object:
        return store.record_fetches([read("a", LATE), read("b", LATE, ok=False),
                                     read("c", LATE)], owner="d1")  # fmt: skip

    def late(store: Store) -> object:
        return stored(store, [item("b"), item("c")], [read("b", LATE), read("c", LATE)], "d2")

    def check(store: Store, dropped: object, added: object) -> None:
        assert dropped == {}
        assert isinstance(added, Added)
        assert added.dropped == {"b": Dropped.TAKEN, "c": Dropped.TAKEN}
        found = feeds(store)
        assert [found[i].last_checked_at for i in BY_ID] == [LATE, LATE, LATE]
        assert [found[i].lease_owner for i in BY_ID] == [None, None, None]
        assert (found["b"].last_error, found["b"].failing_since) == ("HTTP 503", LATE)
        assert feeds_of_entries(store) == []

    return Pair(setup, holder, late, "c", check)


PAIRS = {
    "reload-and-batch": lambda: reload_beside_a_batch(with_entries=True),
    "reload-and-records": lambda: reload_beside_a_batch(with_entries=False),
    "leases-released-and-reload": lambda: leases_given_up_beside_a_reload(
        lambda store: store.release_leases(owner="d1")
    ),
    "claims-released-and-reload": lambda: leases_given_up_beside_a_reload(
        lambda store: store.release_claims("d1", READ)
    ),
    "holder-and-late-reader": late_reader_beside_the_holder,
}


class Call:
    """A call in a thread of its own, and what it returned or raised."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.returned: list[object] = []
        self.raised: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(call,))
        self.thread.start()

    def _run(self, call: Callable[[], object]) -> None:
        try:
            self.returned.append(call())
        except BaseException as exc:  # the test reports it
            self.raised.append(exc)

    def outcome(self) -> object:
        self.thread.join(60)
        assert not self.thread.is_alive(), "still waiting after a minute"
        if self.raised:
            raise self.raised[0]
        return self.returned[0]


_WAITING = ("SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()")  # fmt: skip


def until_waiting(watch: psycopg.Connection[Any], sessions: int, call: Call) -> None:
    """Wait until `sessions` sessions of the database wait for a lock (or `call` ended)."""
    deadline = time.monotonic() + 60
    while call.thread.is_alive():
        found = watch.execute(_WAITING).fetchone()
        if found is not None and found[0] >= sessions:
            return
        assert time.monotonic() < deadline, f"{sessions} sessions never waited for a lock"
        call.thread.join(0.01)


def physically_reversed(admin: psycopg.Connection[Any]) -> None:
    """Rewrite the rows c, b, a in that order, so a scan of the table meets them so (as the
    order of their last writes leaves them): an UPDATE without ORDER locks them c, b, a."""
    for feed_id in reversed(BY_ID):
        admin.execute("UPDATE feed SET title = title WHERE id = %s", (feed_id,))
    found = admin.execute("SELECT id FROM feed ORDER BY ctid").fetchall()
    assert [i for (i,) in found] == list(reversed(BY_ID))


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(PAIRS))
def test_writers_of_feed_rows_on_postgresql_never_wait_in_a_circle(
    postgres_url: str, name: str
) -> None:
    """Each pair ended in `deadlock detected` (after PostgreSQL's deadlock_timeout), one of
    them undone: the reload (lost: its files were taken for loaded), the batch of reads (the
    cycle failed), or the leases' release. A reload updated the rows in the feeds file's order,
    a release or a batch of records alone in the order its UPDATE met them (the table's, or
    its records' grouped by the columns they write), a batch with entries by id."""
    pair = PAIRS[name]()
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as one,
        open_store(postgres_url) as two,
        psycopg.connect(plain, autocommit=True) as watch,
        psycopg.connect(plain) as gate,
    ):
        pair.setup(one)
        physically_reversed(watch)
        gate.execute("SELECT id FROM feed WHERE id = %s FOR UPDATE", (pair.held,))
        first = Call(lambda: pair.first(one))
        until_waiting(watch, 1, first)
        second = Call(lambda: pair.second(two))
        until_waiting(watch, 2, second)
        gate.rollback()
        results = first.outcome(), second.outcome()
        pair.check(one, *results)


def asks_while_held(holder: Store, asker: Store, asking: Callable[[], None]) -> None:
    """SQLite: once `holder` begins a write transaction (its write lock taken), run `asking`
    and go on only when `asker` runs its BEGIN IMMEDIATE (it asks for the write lock, and
    waits for it up to the busy timeout)."""
    asked = threading.Event()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            asked.set()

    def on_hold(conn: Any) -> None:
        if conn.get_execution_options().get("monitor_write") and not asked.is_set():
            asking()
            assert asked.wait(60), "the other store never asked for the write lock"

    event.listen(asker._engine, "before_cursor_execute", on_statement)
    event.listen(holder._engine, "begin", on_hold)  # after the store's own: its lock is taken


@pytest.mark.parametrize("name", list(PAIRS))
def test_writers_of_feed_rows_on_sqlite_wait_for_the_write_lock(tmp_path: Path, name: str) -> None:
    """One writer at a time (BEGIN IMMEDIATE): the second waits for the first's commit, well
    within the busy timeout, and no circle can form. A batch of records alone, one of them
    left out, reported the others as left out too (lease taken): it asked why after its
    UPDATE had released their leases."""
    pair = PAIRS[name]()
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    with open_store(database) as one, open_store(database) as two:
        pair.setup(one)
        calls: list[Call] = []
        asks_while_held(one, two, lambda: calls.append(Call(lambda: pair.second(two))))
        first = pair.first(one)
        pair.check(one, first, calls[0].outcome())
