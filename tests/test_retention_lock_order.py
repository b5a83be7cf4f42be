"""The clean-up (`Store.prune`) at the moment a batch of news (`Store.add_news`) offers again
items it deletes or forgets: each key of a deleted entry (`forgotten_entry`) a feed still
offers stays forgotten, an entry the clean-up deletes as the batch looks for it is not stored
again as news (nor counted as known again under a new guid), and neither fails with `deadlock
detected`.

On PostgreSQL each statement of a transaction sees what was committed when it started, so the
clean-up is run for real between two statements of the batch: with the batch paused at one of
them, it runs until it is done or waits for a lock the batch holds. On SQLite a writer holds
the write lock from BEGIN to COMMIT: the second waits for the first.

The history of the feed: items 1 and 2 were first seen 400 days ago, deleted 380 days ago
(their keys and item keys forgotten), item 1 was offered again a day later (its key refreshed,
and so rewritten after the others: a scan of the table meets it last); item 3 was first seen
370 days ago. Now the feed offers 1, 2 under a new guid, and 3, while the clean-up with a
retention of 365 days forgets the keys of 1 and 2 (no check found them for a year) and deletes
3, keeping its keys as forgotten."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, select

from monitor.domain import Entry
from monitor.store import Added, Pruned, Store, open_store
from monitor.store.schema import forgotten_table
from tests import storeops
from tests.test_feed_lock_order import Call, asks_while_held, until_waiting
from tests.test_store import DAY, HOUR, NOW, entry

RETENTION = 365 * DAY
CARRIED, RENAMED, DELETED = (entry(n, published=None) for n in (1, 2, 3))  # undated
OFFERED = [CARRIED, replace(RENAMED, guid="guid-2-again"), DELETED]
KEY, ITEM = CARRIED.key, RENAMED.item_key  # the forgotten keys the batch finds them by


def forgetting(store: Store) -> None:
    """The feed's history up to now (the module's docstring)."""
    storeops.add_entries(store, [CARRIED, RENAMED], now=NOW - 400 * DAY)
    storeops.prune(store, NOW - 390 * DAY, now=NOW - 380 * DAY)
    assert storeops.add_entries(store, [CARRIED], now=NOW - 379 * DAY) == []
    storeops.add_entries(store, [DELETED], now=NOW - 370 * DAY)


def batch(store: Store, offered: list[Entry] = OFFERED, at: datetime = NOW) -> Added:
    return store.add_news(offered, now=at, match=lambda _new: [], definition_hashes={})


def clean_up(store: Store) -> Pruned:
    return store.prune(now=NOW, before=NOW - RETENTION, matched_before=NOW - RETENTION, buckets=())


def forgotten(store: Store) -> dict[str, datetime]:
    with store._tx("read forgotten keys") as conn:
        rows = conn.execute(select(forgotten_table.c.key, forgotten_table.c.offered_at))
        return {row.key: row.offered_at for row in rows}


def check(store: Store, offered: list[Entry], added: Added, pruned: Pruned) -> None:
    """Whichever went first: 3 is deleted and forgotten, never news again nor known again; 1
    and 2 (under its new guid) are each news (the clean-up forgot it first: as offered a moment
    after it) or kept forgotten as offered now, never neither; the keys nobody offered go."""
    new = {e.guid for _, e in added.entries}
    assert DELETED.guid not in new and pruned.entries == 1
    kept = forgotten(store)
    assert kept.get(DELETED.key) == NOW and kept.get(DELETED.item_key) == NOW
    for item, key in zip(OFFERED[:2], (KEY, ITEM), strict=True):
        if item in offered:
            assert (item.guid in new) != (kept.get(key) == NOW), (item.guid, new, kept)
        else:
            assert key not in kept
    assert RENAMED.key not in kept and CARRIED.item_key not in kept
    known = "guid-2-again" not in new and OFFERED[1] in offered
    assert added.known_again == ({"f1": Counter(guid=1)} if known else {})
    assert batch(store, offered, NOW + HOUR).entries == []  # offered again: none is news twice


@contextmanager
def before_statement(
    store: Store, number: int, action: Callable[[], object]
) -> Iterator[list[str]]:
    """Within the block, run `action` once, just before `store` executes its `number`th
    statement (from 0); yields a list that then holds that statement."""
    seen: list[str] = []
    statements = count()

    def hook(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if next(statements) == number:
            seen.append(statement)
            action()

    event.listen(store._engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(store._engine, "before_cursor_execute", hook)


@pytest.mark.postgres
def test_a_clean_up_beside_a_batch_offering_keys_it_forgets_never_deadlocks(
    postgres_url: str,
) -> None:
    """The batch refreshed the forgotten keys it found in two passes, those of the items
    offered under their own key (1), then the item keys of the others (2 under its new guid);
    the clean-up deleted the keys no check refreshed for a year in the order it met them (2's
    item key, then 1's). With the batch between its passes, each waited for the other:
    `deadlock detected`, the batch (its feeds' news and reads) or the clean-up undone. Now the
    clean-up skips a key a batch holds: 1 stays forgotten (offered now), 2's item key is
    forgotten first, so 2 is news as it would be a moment later."""
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as one,
        open_store(postgres_url) as two,
        psycopg.connect(plain, autocommit=True) as watch,
    ):
        forgetting(one)
        order = [key for (key,) in watch.execute("SELECT key FROM forgotten_entry ORDER BY ctid")]
        assert order.index(ITEM) < order.index(KEY)
        calls: list[Call] = []

        def cleaned_up() -> None:
            calls.append(Call(lambda: clean_up(two)))
            until_waiting(watch, 1, calls[0])

        storeops.before(one, "SELECT item_key, 0 FROM entry", cleaned_up)
        added = batch(one)
        pruned = calls[0].outcome()
        assert isinstance(pruned, Pruned)
        assert [e.guid for _, e in added.entries] == ["guid-2-again"]
        check(one, OFFERED, added, pruned)


@pytest.mark.postgres
@pytest.mark.parametrize("statement", range(8))
@pytest.mark.parametrize("offered", ["all", "deleted"])
def test_a_clean_up_committed_before_any_statement_of_a_batch(
    postgres_url: str, offered: str, statement: int
) -> None:
    """The clean-up run before the batch's `statement`th statement (or after it, once the batch
    runs fewer). Run after the batch read the forgotten keys and before it noted them as
    offered, it deleted them: 1 (or 2) was neither news nor kept forgotten, and became news at
    the next check. Run between the batch's reads of the forgotten keys and of the entries, it
    deleted 3 and kept its keys: 3 was taken for itself under a new guid (`known_again`, a
    warning on the feed). Run between the passes, `deadlock detected` (the test above)."""
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as one,
        open_store(postgres_url) as two,
        psycopg.connect(plain, autocommit=True) as watch,
    ):
        forgetting(one)
        calls: list[Call] = []

        def cleaned_up() -> None:
            calls.append(Call(lambda: clean_up(two)))
            until_waiting(watch, 1, calls[0])

        items = OFFERED if offered == "all" else [DELETED]
        with before_statement(one, statement, cleaned_up) as seen:
            added = batch(one, items)
        print("the clean-up ran before", seen or "nothing: after the batch")  # shown if failed
        if not calls:
            cleaned_up()
        pruned = calls[0].outcome()
        assert isinstance(pruned, Pruned)
        check(one, items, added, pruned)


@pytest.mark.parametrize("first", ["batch", "clean-up"])
def test_a_clean_up_beside_a_batch_on_sqlite_waits_for_the_write_lock(
    tmp_path: Path, first: str
) -> None:
    """One writer at a time (BEGIN IMMEDIATE): the second waits for the first's commit."""
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    with open_store(database) as one, open_store(database) as two:
        forgetting(one)
        calls: list[Call] = []
        if first == "batch":
            asks_while_held(one, two, lambda: calls.append(Call(lambda: clean_up(two))))
            added = batch(one)
            pruned = calls[0].outcome()
        else:
            asks_while_held(two, one, lambda: calls.append(Call(lambda: batch(one))))
            pruned = clean_up(two)
            added = calls[0].outcome()
        assert isinstance(added, Added) and isinstance(pruned, Pruned)
        check(one, OFFERED, added, pruned)
