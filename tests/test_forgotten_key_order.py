"""Transactions that add deleted entries' keys (`forgotten_entry`) at the same moment on
PostgreSQL: two daemons' clean-ups, and a clean-up beside a batch of news that keeps a key
found under its older form under the new one (`oldkeys.carry_forgotten_keys`). An INSERT that
meets a key another open transaction inserted (or noted) waits for that one's commit, so two
adding the same two keys in opposite orders waited for each other: `deadlock detected`, one
undone. Each pair runs for real: a third session holds one key the first inserts, the second
is started once the first waits for it, and the key is let go once the second waits too (or
is done).

Two daemons' batches of entries never share an entry (the clean-up skips those another holds),
but may share an item key (`Entry.item_key`): the code before revision 0022 stored an item
again at each check that found it under a new guid, and 0022 gave every copy the item's key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from monitor.domain import Entry
from monitor.store import Added, Pruned, Store, entries, open_store, retention
from monitor.store.oldkeys import older_key
from monitor.store.schema import entry_table, forgotten_table
from tests import storeops
from tests.test_feed_lock_order import Call, until_waiting
from tests.test_store import DAY, NOW, entry

RETENTION = 365 * DAY
STORED = NOW - 400 * DAY  # every entry here: older than the retention


def clean_up(store: Store) -> Pruned:
    return store.prune(now=NOW, before=NOW - RETENTION, matched_before=NOW - RETENTION, buckets=())


def forgotten(store: Store) -> dict[str, Any]:
    with store._tx("read forgotten keys") as conn:
        rows = conn.execute(select(forgotten_table.c.key, forgotten_table.c.offered_at))
        return {row.key: row.offered_at for row in rows}


def stored_keys(store: Store) -> list[str]:
    """The entries' keys, in the order a scan of the table meets them (as they were stored)."""
    with store._tx("read entries") as conn:
        return list(conn.execute(select(entry_table.c.key).order_by(entry_table.c.id)).scalars())


@contextmanager
def key_held(url: str, key: str) -> Iterator[Callable[[], None]]:
    """A third session holding `key` (inserted, not committed: as another clean-up adding it,
    or a batch of news noting it, holds it) until the function yielded is called."""
    with psycopg.connect(url.replace("+psycopg", "")) as gate:
        gate.execute("INSERT INTO forgotten_entry (key, offered_at) VALUES (%s, %s)", (key, STORED))
        yield gate.rollback


def at_once(
    url: str, held: str, first: Callable[[], object], second: Callable[[], object]
) -> tuple[object, object]:
    """`first` started while `held` is held and run until it waits (for it); `second` started
    then and run until it waits too (or is done); `held` let go; what each returned."""
    with (
        key_held(url, held) as let_go,
        psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as watch,
    ):
        one = Call(first)
        until_waiting(watch, 1, one)
        two = Call(second)
        until_waiting(watch, 2, two)
        let_go()
        return one.outcome(), two.outcome()


# Items 1, 2 and 3 as first stored, then 3 and 1 again under new guids: the same items.
FIRST = [entry(1, published=None), entry(2, published=None), entry(3, published=None)]
AGAIN = [replace(FIRST[2], guid="guid-3-again"), replace(FIRST[0], guid="guid-1-again")]


def stored_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The five entries, as the code before revision 0022 stored them: no item found again by
    its item key; each with the item key 0022 worked out."""
    with monkeypatch.context() as older:
        older.setattr(entries, "leave_known", lambda _conn, batch, _now, _known: batch)
        assert len(storeops.add_entries(store, FIRST + AGAIN, now=STORED)) == 5
    assert stored_keys(store) == [e.key for e in FIRST + AGAIN]


@pytest.mark.postgres
def test_two_clean_ups_sharing_item_keys_never_deadlock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each clean-up takes a batch of entries (three here), skipping those the other holds: the
    first 1, 2 and 3, the second the copies of 3 and 1. Each added its batch's keys, then item
    keys, in the order of its batch: the first 1's item key, the second 3's, then each the
    other's (the first 2's in between, held a moment): `deadlock detected`, one clean-up
    undone. Now each adds them in key order: the later waits for the earlier, both commit."""
    monkeypatch.setattr(retention, "BATCH", 3)
    with open_store(postgres_url) as one, open_store(postgres_url) as two:
        stored_again(one, monkeypatch)
        results = at_once(
            postgres_url, FIRST[1].item_key, lambda: clean_up(one), lambda: clean_up(two)
        )
        assert sorted(r.entries for r in results if isinstance(r, Pruned)) == [2, 3]
        assert stored_keys(one) == []
        kept = {e.key for e in FIRST + AGAIN} | {e.item_key for e in FIRST}
        assert forgotten(one) == dict.fromkeys(kept, NOW)


# Items stored before revision 0025 under their links' plain spelling (their key then and now),
# deleted once under the shouted spelling (its key then kept), offered in that spelling now.
SHOUTED = [
    Entry("f1", link, link, f"Story {n}", f"Text {n}.", None, "wire.example.com")
    for n, link in enumerate(("HTTPS://Wire.Example.COM/a", "HTTPS://Wire.Example.COM/b"))
]


def stored_and_forgotten(store: Store) -> tuple[Entry, Entry]:
    """The plain spellings' entries and a third (2) stored at STORED, their older keys kept as
    forgotten, offered ten days ago; the items as the batch carries their older keys (the
    first's, then the second's: in the order of the older keys), stored so that a scan of the
    entries meets them the other way round, 2 between them."""
    first, second = sorted(SHOUTED, key=lambda e: str(older_key(e)))
    plain = [replace(e, guid=e.link.lower(), link=e.link.lower()) for e in (second, first)]
    assert [e.key for e in plain] == [second.key, first.key]
    assert len(storeops.add_entries(store, [plain[0], entry(2), plain[1]], now=STORED)) == 3
    with store._tx("keep the older keys", write=True) as conn:
        rows = [{"key": older_key(e), "offered_at": NOW - 10 * DAY, "headline": e.headline}
                for e in (first, second)]  # fmt: skip
        conn.execute(forgotten_table.insert(), rows)
    return first, second


@pytest.mark.postgres
def test_a_clean_up_beside_a_batch_carrying_older_keys_never_deadlocks(postgres_url: str) -> None:
    """The clean-up deletes the entries of the two items and of 2, adding their keys in that
    order (the second item's, 2's, held a moment, the first's); the batch offers the two items
    and keeps their older keys under the new ones, in the order of the older keys (the first's,
    then the second's): each waited for the other, `deadlock detected`, the batch (its feeds'
    news and reads) or the clean-up undone. Now both add keys in key order. The items are not
    news: their entries' keys are forgotten, offered now, the older keys gone."""
    with open_store(postgres_url) as one, open_store(postgres_url) as two:
        first, second = stored_and_forgotten(one)
        batch = lambda: one.add_news(SHOUTED, now=NOW, match=lambda _new: [], definition_hashes={})  # noqa: E731
        pruned, added = at_once(postgres_url, entry(2).key, lambda: clean_up(two), batch)
        assert isinstance(pruned, Pruned) and isinstance(added, Added)
        assert (pruned.entries, added.entries, added.known_again) == (3, [], {})
        kept = forgotten(one)
        assert {kept.get(first.key), kept.get(second.key)} == {NOW}
        assert older_key(first) not in kept and older_key(second) not in kept
