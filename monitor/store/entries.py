"""Entries and their matches: new entries stored by key (a later story under the key of another,
a CMS reusing guids, by its `reused_key`), with their matches in the same transaction; matches
rewritten by replay (an indicator's, by its look at the stored news: `looks.py`), entries read
(which items are stored already: `itemkeys.py`; the feeds' locks and moves: `feedlocks.py`;
search: `search.py`; retention: `retention.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, text, update

from monitor.domain import Entry, Match
from monitor.identity import another_item, distinct_items
from monitor.store.base import StoreBase, chunks, once_more_if_disconnected
from monitor.store.feedlocks import hold_feeds
from monitor.store.fetches import Dropped, FetchRecord, dropped_reads, mark_new, record_reads
from monitor.store.forgetting import forget_stories, hold_evaluations
from monitor.store.itemkeys import leave_forgotten, leave_known, stored_entries, stored_titles
from monitor.store.oldkeys import carry_forgotten_keys
from monitor.store.replays import renew_hold
from monitor.store.schema import aware, entry_table, match_table, sqlite_utc

_ENTRY_COLUMNS = {
    "key": "text",
    "feed_id": "text",
    "guid": "text",
    "link": "text",
    "title": "text",
    "text": "text",
    "published": "timestamptz",
    "first_seen": "timestamptz",
    "time": "timestamptz",
    "publisher": "text",
    "item_key": "text",
}
# On PostgreSQL one row of arrays beats a VALUES list: psycopg parses every placeholder in Python.
_PG_ADD_ENTRIES = text(
    "INSERT INTO entry ({names}) SELECT * FROM unnest({arrays}) "
    "ON CONFLICT (key) DO NOTHING RETURNING id, key".format(
        names=", ".join(f'"{name}"' for name in _ENTRY_COLUMNS),
        arrays=", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _ENTRY_COLUMNS.items()),
    )
)


# On SQLite a plain executemany runs in C; RETURNING would have SQLAlchemy bind row by row.
_SQLITE_ADD_ENTRIES = (
    "INSERT INTO entry ({names}) VALUES ({marks}) ON CONFLICT (key) DO NOTHING".format(
        names=", ".join(f'"{name}"' for name in _ENTRY_COLUMNS),
        marks=", ".join("?" for _ in _ENTRY_COLUMNS),
    )
)


def _sqlite_add_entries(conn: Connection, batch: dict[str, Entry], now: datetime) -> dict[str, int]:
    """Insert the entries whose key is new; return key -> id of those. The transaction holds
    SQLite's write lock (BEGIN IMMEDIATE), so the new rows are those above the previous top id."""
    top = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM entry").scalar_one()
    seen = sqlite_utc(now)
    rows = []
    for key, e in batch.items():
        published = e.published
        when = sqlite_utc(published) if published is not None else None
        time = when if published is not None and published <= now else seen
        row = (key, e.feed_id, e.guid, e.link, e.title, e.text, when, seen, time, e.publisher)
        rows.append((*row, e.item_key or None))
    conn.exec_driver_sql(_SQLITE_ADD_ENTRIES, rows)
    found = conn.exec_driver_sql("SELECT key, id FROM entry WHERE id > ?", (top,))
    return {key: entry_id for key, entry_id in found}


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in _ENTRY_COLUMNS}


@dataclass(frozen=True)
class Added:
    """What `add_news` stored: the new entries with their ids and how many matches; and, per
    feed, how many of its items it found stored under their item key (`Entry.item_key`) though
    offered under a new key: a new guid, or (without one) a new tracking parameter in the link."""

    entries: list[tuple[int, Entry]]
    matches: int
    known_again: dict[str, Counter[str]] = field(default_factory=dict)  # feed -> guid/link -> n
    dropped: Mapping[str, Dropped] = field(default_factory=dict)  # reads left out, and why


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored: its id and its time (published if known and not in the future, else
    first seen)."""

    id: int
    entry: Entry
    time: datetime


class EntriesMixin(StoreBase):
    """Entries and their matches."""

    @once_more_if_disconnected
    def add_news(
        self,
        entries: Sequence[Entry],
        *,
        now: datetime,
        match: Callable[[Sequence[tuple[int, Entry]]], Sequence[tuple[int, Match]]],
        definition_hashes: Mapping[str, str],
        records: Sequence[FetchRecord] = (),
        owner: str | None = None,
        told: Callable[[FetchRecord, Mapping[str, int]], FetchRecord] | None = None,
    ) -> Added:
        """Store new entries and their matches (`match` of the new ones) in one transaction.

        Either both are stored or neither, so a crash between them cannot leave entries
        whose matches are lost; their feeds' `last_new_at` moves to `now` with them. Returns
        the new entries, how many matches were stored and the items known under a new key.

        `records`: the fetches the entries were read by, recorded in the same transaction
        (`record_fetches`, lease `owner`), each with its warning `told` of its feed's items
        known again. A read whose feed the feeds file moved, or whose lease another process
        took, since it was claimed is left out whole, its entries and its record (`dropped`):
        the feeds' rows are locked first (PostgreSQL), so a reload or a claim in between waits
        for the commit, and a read is either stored whole or not at all.
        """
        with self._tx("add entries and matches", write=True) as conn:
            hold_feeds(conn, entries)
            dropped = dropped_reads(conn, records, owner) if records else {}
            entries = [e for e in entries if e.feed_id not in dropped] if dropped else entries
            known_again: dict[str, Counter[str]] = {}
            new = self._insert_entries(conn, entries, now, known_again)
            rows = match_rows(match(new), definition_hashes) if new else []
            written = self._upsert_matches(conn, rows) if rows else 0
            if rows:
                self._mark_seq(conn, [r["entry_id"] for r in rows], self._matches_written(conn))
            # Last, so without `records` the feeds' rows (which renewing leases skips while
            # locked) are locked only until the commit, not while the entries are matched.
            mark_new(conn, [entry.feed_id for _, entry in new], now)
            if records:
                kept = [r for r in records if r.feed_id not in dropped]
                if told is not None:
                    kept = [told(r, known_again[r.feed_id]) if r.feed_id in known_again else r
                            for r in kept]  # fmt: skip
                dropped |= record_reads(conn, kept, owner)
            return Added(new, written, known_again, dropped)

    def _insert_entries(
        self,
        conn: Connection,
        entries: Sequence[Entry],
        now: datetime,
        known_again: dict[str, Counter[str]],
    ) -> list[tuple[int, Entry]]:
        """Store the entries not stored or forgotten yet; return the new ones with their ids.

        An item is stored under its key, unless the key holds another story already (a CMS
        that reuses guids or links: `identity.another_item`); then under its `reused_key`, which
        the next check finds it under. Every insert skips a key stored already (ON CONFLICT),
        so daemons storing one feed at once store each item once. An item about to be stored
        whose item key is stored (or forgotten) already is that entry under a new guid or link
        (`itemkeys.leave_known`), counted in `known_again`."""
        by_key = distinct_items(entries)
        offered = [e for items in by_key.values() for e in items]
        # A later story is looked for under its reused key also when its own key is free (the
        # earlier story and its forgotten key gone): it was stored there. The entries are read
        # before the deleted ones' keys: the clean-up deletes an entry and keeps its keys in one
        # transaction, so one it commits between the two reads is found among the keys
        # (PostgreSQL; read the other way round it was in neither, and taken for new, or for
        # itself under a new guid by its item key).
        reused = [e.reused_key for e in offered if e.reused_key]
        titles = stored_titles(conn, [*by_key, *reused])
        carry_forgotten_keys(conn, entries, now, self._insert)
        later = leave_forgotten(conn, by_key, now)
        plain: dict[str, Entry] = {}
        for key, items in by_key.items():
            fresh = [e for e in items if e.reused_key not in titles]
            if fresh and key not in titles:  # the others are other stories than the first
                plain[key], fresh = fresh[0], fresh[1:]
            later += fresh  # told from the one stored under the key below
        plain = leave_known(conn, plain, now, known_again)
        new = self._add_entries(conn, plain, now)
        lost = [e for key, e in plain.items() if key not in new]  # another daemon stored the key
        titles.update(stored_titles(conn, [e.key for e in lost]))
        later += lost
        stored = stored_entries(conn, titles, [e for e in later if e.key in titles])
        later = [e for e in later if e.key not in stored or another_item(stored[e.key], e)]
        by_reused = {e.reused_key: e for e in later if e.reused_key}
        by_reused = leave_known(conn, by_reused, now, known_again)
        new_later = self._add_entries(conn, by_reused, now)
        ids = {id(e): new[k] for k, e in plain.items() if k in new}
        ids.update({id(e): new_later[k] for k, e in by_reused.items() if k in new_later})
        return [(ids[id(e)], e) for e in offered if id(e) in ids]

    def _add_entries(
        self, conn: Connection, batch: dict[str, Entry], now: datetime
    ) -> dict[str, int]:
        """Insert `batch` (key -> entry) where no entry has the key; return key -> id of those."""
        if not batch:
            return {}
        if self.dialect == "postgresql":
            rows = [_entry_values(key, entry, now) for key, entry in batch.items()]
            return {
                key: entry_id for entry_id, key in conn.execute(_PG_ADD_ENTRIES, _columns(rows))
            }
        return _sqlite_add_entries(conn, batch, now)

    @once_more_if_disconnected
    def replace_matches(
        self,
        entry_ids: Sequence[int],
        items: Sequence[tuple[int, Match]],
        definition_hashes: Mapping[str, str],
        *,
        hold: tuple[str, datetime] | None = None,
    ) -> int:
        """Make `items` the only matches of `entry_ids` (for replay); returns how many.

        An entry the clean-up deleted since the replay read it is left out (its matches would
        name no entry); those still stored are held (PostgreSQL) until the matches are in, so
        the clean-up skips them meanwhile. With `hold` (owner, lease until), one batch of a
        replay that holds the matches (`replays.py`): its hold is renewed, and the kept stories
        are left to its end (`end_replay`); without, the kept stories are forgotten at once.
        Safe to run again: the same matches replace the same entries' matches."""
        with self._tx("replace matches", write=True) as conn:
            hold_evaluations(conn, self._insert)  # committed between evaluations, not in one
            if hold is not None:
                renew_hold(conn, *hold)
            # A dry run's entries are shared and its matches not (`rehearsals.py`): no hold.
            held = self._rehearsing is None
            ids = _still_stored(conn, list(dict.fromkeys(entry_ids)), hold=held)
            kept = set(ids)
            rows = match_rows([(i, m) for i, m in items if i in kept], definition_hashes)
            for chunk in chunks(ids):
                conn.execute(delete(match_table).where(match_table.c.entry_id.in_(chunk)))
            written = self._upsert_matches(conn, rows) if rows else 0
            self._mark_seq(conn, ids, self._matches_written(conn))
            if hold is None:
                forget_stories(conn)  # evaluated again from the matches (`statuses.advance`)
            return written

    def _mark_seq(self, conn: Connection, entry_ids: Sequence[int], seq: int) -> None:
        """Mark the matches of `entry_ids` as written at match version `seq`."""
        ids = list(dict.fromkeys(entry_ids))
        for chunk in chunks(ids):
            conn.execute(
                update(match_table).where(match_table.c.entry_id.in_(chunk)).values(seq=seq)
            )

    def _upsert_matches(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        """Insert `rows`, or update those stored with another definition hash; returns how many
        were written. Only in a transaction that calls `_matches_written`. Each row carries
        its entry's time (read here), which an indicator's window reads through."""
        times = _entry_times(conn, {row["entry_id"] for row in rows})
        rows = [row | {"time": times.get(row["entry_id"])} for row in rows]  # none: refused
        statement = self._insert(match_table)
        statement = statement.on_conflict_do_update(
            index_elements=["entry_id", "indicator_id", "outcome_id"],
            set_={
                "terms": statement.excluded.terms,
                "snippet": statement.excluded.snippet,
                "definition_hash": statement.excluded.definition_hash,
            },
            where=match_table.c.definition_hash != statement.excluded.definition_hash,
        ).returning(match_table.c.entry_id)
        return len(conn.execute(statement, rows).all())

    @once_more_if_disconnected
    def entries_since(
        self, since: datetime, *, after: int | None = None, limit: int | None = None
    ) -> list[tuple[int, Entry, datetime]]:
        """(id, entry, first seen) of entries with time >= since, oldest first (for replay).
        With `after`, a page of them: the first `limit` of those with a higher id, by id."""
        query = select(entry_table).where(entry_table.c.time >= since)
        if after is None:
            query = query.order_by(entry_table.c.time, entry_table.c.id)
        else:
            query = query.where(entry_table.c.id > after).order_by(entry_table.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._tx("read entries") as conn:
            return [(row.id, entry_of(row), row.first_seen) for row in conn.execute(query)]

    @once_more_if_disconnected
    def entry(self, entry_id: int) -> StoredEntry | None:
        with self._tx("read an entry") as conn:
            row = conn.execute(select(entry_table).where(entry_table.c.id == entry_id)).first()
        return None if row is None else stored_entry(row)


def _still_stored(conn: Connection, entry_ids: Sequence[int], *, hold: bool) -> list[int]:
    """Those of `entry_ids` that are stored, in their order; with `hold`, each held against
    deletion until the transaction ends (on PostgreSQL; SQLite's writer holds the write lock
    anyway)."""
    found: set[int] = set()
    for chunk in chunks(sorted(entry_ids)):
        query = select(entry_table.c.id).where(entry_table.c.id.in_(chunk))
        if hold and conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True, key_share=True)
        found.update(conn.execute(query).scalars())
    return [i for i in entry_ids if i in found]


def _entry_times(conn: Connection, entry_ids: set[int]) -> dict[int, datetime]:
    """entry id -> its time, of those of `entry_ids` that are stored."""
    ids = sorted(entry_ids)
    times = {}
    for chunk in chunks(ids):
        query = select(entry_table.c.id, entry_table.c.time).where(entry_table.c.id.in_(chunk))
        times.update({row.id: row.time for row in conn.execute(query)})
    return times


def match_rows(
    items: Sequence[tuple[int, Match]], definition_hashes: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Insert values of matches, one per (entry, indicator, outcome)."""
    rows = {
        (entry_id, m.indicator_id, m.outcome_id): {
            "entry_id": entry_id,
            "indicator_id": m.indicator_id,
            "outcome_id": m.outcome_id,
            "terms": list(m.terms),
            "snippet": m.snippet,
            "definition_hash": definition_hashes.get(m.indicator_id, ""),
        }
        for entry_id, m in items
    }
    return list(rows.values())


def _entry_values(key: str, entry: Entry, now: datetime) -> dict[str, Any]:
    fresh = entry.published is not None and aware(entry.published) <= aware(now)
    return {
        "key": key,
        "feed_id": entry.feed_id,
        "guid": entry.guid,
        "link": entry.link,
        "title": entry.title,
        "text": entry.text,
        "published": entry.published,
        "first_seen": now,
        "time": entry.published if fresh else now,
        "publisher": entry.publisher,
        "item_key": entry.item_key or None,
    }


def entry_of(row: Any) -> Entry:
    return Entry(
        feed_id=row.feed_id,
        guid=row.guid,
        link=row.link,
        title=row.title,
        text=row.text,
        published=row.published,
        publisher=row.publisher,
    )


def stored_entry(row: Any) -> StoredEntry:
    return StoredEntry(row.id, entry_of(row), row.time)
