"""Which of the items offered are stored already, looked up per batch: the headlines under their
keys (and, when another headline is offered under one, the stored text), the keys retention
deleted (`forgotten_entry`), and the item keys (`Entry.item_key`) of entries stored under another
guid or link. `EntriesMixin._insert_entries` decides from these which items are new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, text, update

from monitor.domain import Entry
from monitor.identity import another_story
from monitor.store.base import IDS_PER_IN, chunks
from monitor.store.schema import entry_table, forgotten_table

_PG_TITLES = text("SELECT key, title FROM entry WHERE key = ANY(CAST(:keys AS text[]))")
# The forgotten ones read as they are noted as offered, so held from then (`leave_forgotten`).
_PG_ITEM_KEYS = text(
    "WITH noted AS (UPDATE forgotten_entry SET offered_at = :now "
    "WHERE key = ANY(CAST(:keys AS text[])) RETURNING key) "
    "SELECT item_key, 0 FROM entry WHERE item_key = ANY(CAST(:keys AS text[])) "
    "UNION SELECT key, 1 FROM noted"
)


def leave_forgotten(conn: Connection, by_key: dict[str, list[Entry]], now: datetime) -> list[Entry]:
    """Take out of `by_key` the entries retention deleted (a feed still carries them: they are
    not news), and note that a feed offered their keys at `now`. An entry under a deleted one's
    key with another headline (`identity.another_story`) is another story (a CMS that reuses
    guids or links): it is taken out too and returned, to be stored under its reused key,
    unless that key was forgotten in its turn. The deleted one's key stays forgotten.

    The keys are read as they are noted (UPDATE … RETURNING), so each one found is held until
    the transaction ends (PostgreSQL): the clean-up, which skips held keys, cannot delete one
    between this read and the note (the item would be left out as known, its key gone)."""
    if conn.execute(select(forgotten_table.c.key).limit(1)).first() is None:
        return []  # nothing deleted yet, or all of it forgotten: one read of an empty index
    reused_keys = [e.reused_key for items in by_key.values() for e in items if e.reused_key]
    kept: dict[str, str | None] = {}
    for chunk in chunks(sorted({*by_key, *reused_keys})):
        noted = (
            update(forgotten_table)
            .where(forgotten_table.c.key.in_(chunk))
            .values(offered_at=now)
            .returning(forgotten_table.c.key, forgotten_table.c.headline)
        )
        kept.update({row.key: row.headline for row in conn.execute(noted)})
    reused: list[Entry] = []
    for key, items in list(by_key.items()):
        left = []
        for e in items:
            if e.reused_key in kept:
                continue
            if key not in kept:
                left.append(e)
            elif another_story(kept[key], e.title):
                reused.append(e)
        if left:
            by_key[key] = left
        else:
            del by_key[key]
    return reused


def leave_known(
    conn: Connection, batch: dict[str, Entry], now: datetime, known_again: dict[str, Counter[str]]
) -> dict[str, Entry]:
    """`batch` (key -> entry about to be stored under it) without the items stored already
    under another key: those whose item key (`Entry.item_key`) is an entry's (this
    transaction's too), or a deleted entry's (forgotten, noted as offered at `now`), or an
    earlier one's of `batch`. Some CMSs write a new guid, or a new session or tracking parameter
    into the link, at every request: those items are counted per feed in `known_again`, under
    "guid" or "link". One query for the batch, as `stored_titles`."""
    items = sorted({e.item_key for e in batch.values() if e.item_key})
    stored = _stored_items(conn, items, now) if items else set()
    kept: dict[str, Entry] = {}
    for key, e in batch.items():
        if e.item_key in stored:
            what = "guid" if e.guid and e.guid != e.link else "link"
            known_again.setdefault(e.feed_id, Counter())[what] += 1
            continue
        kept[key] = e
        if e.item_key:
            stored.add(e.item_key)  # the same item again under a third key is not stored twice
    return kept


def _stored_items(conn: Connection, item_keys: Sequence[str], now: datetime) -> set[str]:
    """Those of `item_keys` stored as an entry's or kept as a deleted one's (`forgotten`, its
    key noted as offered at `now`, so it stays while the feed carries the item; on PostgreSQL
    read as it is noted, as in `leave_forgotten`)."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(_PG_ITEM_KEYS, {"keys": list(item_keys), "now": now})
        return {key for key, _ in found}
    stored: list[tuple[str, int]] = []
    for chunk in chunks(item_keys, IDS_PER_IN // 2):  # each key twice
        marks = ", ".join("?" for _ in chunk)
        query = (
            f"SELECT item_key, 0 FROM entry WHERE item_key IN ({marks}) "
            f"UNION SELECT key, 1 FROM forgotten_entry WHERE key IN ({marks})"
        )
        stored += [(key, deleted) for key, deleted in conn.exec_driver_sql(query, (*chunk, *chunk))]
    forgotten = sorted(key for key, deleted in stored if deleted)
    for chunk in chunks(forgotten):
        conn.execute(
            update(forgotten_table).where(forgotten_table.c.key.in_(chunk)).values(offered_at=now)
        )
    return {key for key, _ in stored}


def stored_titles(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    """key -> headline of the entries stored under `keys`, looked up through the driver: every
    item of a feed read is looked up, and SQLAlchemy's expanding IN list cost more than that."""
    found: dict[str, str] = {}
    if not keys:
        return found
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_PG_TITLES, {"keys": list(keys)})
        return {row.key: row.title for row in rows}
    for chunk in chunks(keys):
        marks = ", ".join("?" for _ in chunk)
        query = f"SELECT key, title FROM entry WHERE key IN ({marks})"
        found.update({key: title for key, title in conn.exec_driver_sql(query, tuple(chunk))})
    return found


def stored_entries(
    conn: Connection, titles: Mapping[str, str], offered: Sequence[Entry]
) -> dict[str, Entry]:
    """key -> the entry stored under it (its headline, and its text when another headline is
    offered under the key: what tells stories apart), for the keys of `offered`."""
    edited = {e.key for e in offered if e.title != titles[e.key]}
    texts: dict[str, str] = {}
    for chunk in chunks(sorted(edited)):
        query = select(entry_table.c.key, entry_table.c.text).where(entry_table.c.key.in_(chunk))
        texts.update({row.key: row.text for row in conn.execute(query)})
    keys = {e.key for e in offered}
    return {k: Entry("", "", "", titles[k], texts.get(k, ""), None, "") for k in keys}
