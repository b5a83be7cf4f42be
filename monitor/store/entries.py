"""Entries and their matches: new entries stored by key (a later story under the key of another,
a CMS reusing guids, by its `reused_key`), with their matches in the same transaction; matches
rewritten by replay, entries searched (retention: `retention.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    LargeBinary,
    and_,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    update,
)

from monitor.domain import Entry, Match, another_item, another_story, digest_of, distinct_items
from monitor.fold import NARROW, WIDE, fold, narrow, variants
from monitor.store.base import IDS_PER_IN, StoreBase, chunks, once_more_if_disconnected
from monitor.store.feeds import listed_urls, mark_new
from monitor.store.forgetting import forget_stories, hold_evaluations
from monitor.store.oldkeys import carry_forgotten_keys
from monitor.store.schema import aware, entry_table, forgotten_table, match_table, sqlite_utc

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


_PG_TITLES = text("SELECT key, title FROM entry WHERE key = ANY(CAST(:keys AS text[]))")
_PG_ITEM_KEYS = text(
    "SELECT item_key, 0 FROM entry WHERE item_key = ANY(CAST(:keys AS text[])) "
    "UNION SELECT key, 1 FROM forgotten_entry WHERE key = ANY(CAST(:keys AS text[]))"
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


_FEEDS_STORED = 0x6D6F6E65  # "mone": the class of the advisory locks of `_hold_feeds`
_PG_HOLD_FEEDS = text("SELECT pg_advisory_xact_lock(:kind, k) FROM unnest(CAST(:keys AS int[])) k")


def _hold_feeds(conn: Connection, entries: Sequence[Entry]) -> None:
    """On PostgreSQL, hold a lock of each feed of `entries` until the transaction ends, taken
    first and in one order (batches of several feeds never wait for each other in a circle):
    daemons storing one feed's items at once store them one after the other, so an item both
    were offered under new guids is stored once (the later finds the other's by its item key).
    A daemon storing a feed another is storing waits for that transaction. SQLite's writer
    holds the write lock anyway."""
    if conn.dialect.name == "postgresql" and entries:
        keys = sorted({_feed_lock(feed_id) for feed_id in {e.feed_id for e in entries}})
        conn.execute(_PG_HOLD_FEEDS, {"kind": _FEEDS_STORED, "keys": keys})


def _feed_lock(feed_id: str) -> int:
    """A feed's lock key: 32 bits of its id's digest (two feeds sharing one only wait more)."""
    return int(digest_of(feed_id)[:8], 16) - (1 << 31)


def _moved(conn: Connection, entries: Sequence[Entry], urls: Mapping[str, str]) -> frozenset[str]:
    """The feeds of `entries` whose URL is no longer the one `urls` says they were read for."""
    read = {e.feed_id for e in entries if e.feed_id in urls}
    now = listed_urls(conn, read)
    return frozenset(
        feed_id for feed_id in read if feed_id in now and now[feed_id] != urls[feed_id]
    )


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
    moved: frozenset[str] = frozenset()  # feeds whose entries were left out: given another URL


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
        urls: Mapping[str, str] | None = None,
    ) -> Added:
        """Store new entries and their matches (`match` of the new ones) in one transaction.

        Either both are stored or neither, so a crash between them cannot leave entries
        whose matches are lost; their feeds' `last_new_at` moves to `now` with them. Returns
        the new entries, how many matches were stored and the items known under a new key.
        `urls`: feed id -> the URL its entries were read for; those of a feed that has
        another now (the feeds file moved it: `sync_feeds`) are left out, named in `moved`.
        """
        with self._tx("add entries and matches", write=True) as conn:
            _hold_feeds(conn, entries)
            moved = _moved(conn, entries, urls) if urls else frozenset()
            entries = [e for e in entries if e.feed_id not in moved] if moved else entries
            known_again: dict[str, Counter[str]] = {}
            new = self._insert_entries(conn, entries, now, known_again)
            rows = _match_rows(match(new), definition_hashes) if new else []
            written = self._upsert_matches(conn, rows) if rows else 0
            if rows:
                self._mark_seq(conn, [r["entry_id"] for r in rows], self._matches_written(conn))
            # Last, so the feeds' rows (which renewing leases skips while locked) are locked
            # only until the commit, not while the entries are matched.
            mark_new(conn, [entry.feed_id for _, entry in new], now)
            return Added(new, written, known_again, moved)

    def _insert_entries(
        self,
        conn: Connection,
        entries: Sequence[Entry],
        now: datetime,
        known_again: dict[str, Counter[str]],
    ) -> list[tuple[int, Entry]]:
        """Store the entries not stored or forgotten yet; return the new ones with their ids.

        An item is stored under its key, unless the key holds another story already (a CMS
        that reuses guids or links: `domain.another_item`); then under its `reused_key`, which
        the next check finds it under. Every insert skips a key stored already (ON CONFLICT),
        so daemons storing one feed at once store each item once. An item about to be stored
        whose item key is stored (or forgotten) already is that entry under a new guid or link
        (`_leave_known`), counted in `known_again`."""
        by_key = distinct_items(entries)
        offered = [e for items in by_key.values() for e in items]
        carry_forgotten_keys(conn, entries, now, self._insert)
        later = _leave_forgotten(conn, by_key, now)
        # A later story is looked for under its reused key also when its own key is free (the
        # earlier story and its forgotten key gone): it was stored there.
        reused = [e.reused_key for items in by_key.values() for e in items if e.reused_key]
        titles = _titles(conn, [*by_key, *reused])
        plain: dict[str, Entry] = {}
        for key, items in by_key.items():
            fresh = [e for e in items if e.reused_key not in titles]
            if fresh and key not in titles:  # the others are other stories than the first
                plain[key], fresh = fresh[0], fresh[1:]
            later += fresh  # told from the one stored under the key below
        plain = _leave_known(conn, plain, now, known_again)
        new = self._add_entries(conn, plain, now)
        lost = [e for key, e in plain.items() if key not in new]  # another daemon stored the key
        titles.update(_titles(conn, [e.key for e in lost]))
        later += lost
        stored = _stored_entries(conn, titles, [e for e in later if e.key in titles])
        later = [e for e in later if e.key not in stored or another_item(stored[e.key], e)]
        by_reused = {e.reused_key: e for e in later if e.reused_key}
        by_reused = _leave_known(conn, by_reused, now, known_again)
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

    def replace_matches(
        self,
        entry_ids: Sequence[int],
        items: Sequence[tuple[int, Match]],
        definition_hashes: Mapping[str, str],
    ) -> int:
        """Make `items` the only matches of `entry_ids` (for replay); returns how many.

        An entry the clean-up deleted since the replay read it is left out (its matches would
        name no entry); those still stored are held (PostgreSQL) until the matches are in, so
        the clean-up skips them meanwhile."""
        with self._tx("replace matches", write=True) as conn:
            hold_evaluations(conn, self._insert)  # committed between evaluations, not in one
            ids = _still_stored(conn, list(dict.fromkeys(entry_ids)))
            kept = set(ids)
            rows = _match_rows([(i, m) for i, m in items if i in kept], definition_hashes)
            for chunk in chunks(ids):
                conn.execute(delete(match_table).where(match_table.c.entry_id.in_(chunk)))
            written = self._upsert_matches(conn, rows) if rows else 0
            self._mark_seq(conn, ids, self._matches_written(conn))
            forget_stories(conn)  # evaluated again from the matches (`monitor.statuses.advance`)
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

    def entries_since(self, since: datetime) -> list[tuple[int, Entry, datetime]]:
        """(id, entry, first seen) of entries with time >= since, oldest first (for replay)."""
        query = (
            select(entry_table)
            .where(entry_table.c.time >= since)
            .order_by(entry_table.c.time, entry_table.c.id)
        )
        with self._tx("read entries") as conn:
            return [(row.id, entry_of(row), row.first_seen) for row in conn.execute(query)]

    def entry(self, entry_id: int) -> StoredEntry | None:
        with self._tx("read an entry") as conn:
            row = conn.execute(select(entry_table).where(entry_table.c.id == entry_id)).first()
        return None if row is None else stored_entry(row)

    def search_entries(
        self, text: str, *, limit: int = 20, before: int | None = None
    ) -> list[StoredEntry]:
        """Entries whose title or text contains `text` (case-insensitive; Chinese in either
        script and full-width Latin letters and digits as ASCII, as the matcher reads them),
        newest first: by time, then id. `before`, the last entry id of the page before: only
        the entries after it in that order, so entries stored meanwhile (newer, or older by their
        published date) shift no page. KeyError when no stored entry has that id."""
        query = (
            select(entry_table)
            .where(_contains(self.dialect, text))
            .order_by(entry_table.c.time.desc(), entry_table.c.id.desc())
            .limit(limit)
        )
        with self._tx("search entries") as conn:
            if before is not None:
                query = query.where(_after(conn, before))
            return [stored_entry(row) for row in conn.execute(query)]


def _after(conn: Connection, entry_id: int) -> ColumnElement[bool]:
    """Entries after `entry_id` in the search's order (time, then id, newest first)."""
    at = conn.execute(select(entry_table.c.time).where(entry_table.c.id == entry_id)).scalar()
    if at is None:
        raise KeyError(entry_id)
    time, key = entry_table.c.time, entry_table.c.id
    return or_(time < at, and_(time == at, key < entry_id))


_ANY_WIDE = "[０-９Ａ-Ｚａ-ｚ]"  # a PostgreSQL regular expression: a text that has one
_WIDE_LEAD = b"\xef"  # the first byte of U+F000 to U+FFFF in UTF-8, full-width forms among them


def _contains(dialect: str, text: str) -> ColumnElement[bool]:
    """Title or text contains `text`, any case, full-width Latin letters and digits as ASCII
    (`fold.narrow`) on either side. A query with Chinese characters that have a Traditional
    and a Simplified form finds both, as a rule's term does: SQLite folds each row's text (a
    Python function, as for any query not in ASCII), PostgreSQL, which cannot, compares each
    such character with a class of its forms (a regular expression)."""
    text = narrow(text)  # ＳＡＭＳＵＮＧ is SAMSUNG, as for a rule
    columns = (entry_table.c.title, entry_table.c.text)
    folded = fold(text)
    han = any(len(variants(char)) > 1 for char in folded)
    if dialect != "sqlite" and han:
        pattern = "".join(_class(char) for char in folded.lower())
        return or_(*(_pg(c, lambda lower: lower.regexp_match(pattern)) for c in columns))
    if han:  # SQLite's lower() and LIKE fold ASCII only, and no script
        return or_(*(_folded_contains(column, folded) for column in columns))
    if dialect != "sqlite":
        lowered = text.lower()
        return or_(
            *(_pg(c, lambda lower: lower.contains(lowered, autoescape=True)) for c in columns)
        )
    if text.isascii():  # SQLite's LIKE ignores the case of ASCII letters, in C
        return or_(*(_sqlite_ascii_contains(column, text) for column in columns))
    casefolded = text.casefold()
    return or_(*(func.monitor_casefold(c).contains(casefolded, autoescape=True) for c in columns))


def _pg(column: Any, test: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """On PostgreSQL, `test` of `column` in lower case, or of it with its full-width Latin
    letters and digits as ASCII: `translate` takes 20 times what the test does, so only the
    rows that have one (a regular expression, half the time of the test) are translated."""
    narrow = func.lower(func.translate(column, WIDE, NARROW))
    return or_(test(func.lower(column)), and_(column.regexp_match(_ANY_WIDE), test(narrow)))


def _sqlite_ascii_contains(column: Any, text: str) -> ColumnElement[bool]:
    """On SQLite, `column` contains the ASCII `text` in any case, also written in full-width
    letters and digits: LIKE in C, and only the rows that may have a full-width one folded in
    Python. Those are found by a byte of their UTF-8, with `instr` over the bytes (a GLOB of
    the characters took 40 times what LIKE does; this about as long as LIKE)."""
    wide = func.instr(cast(column, LargeBinary), literal(_WIDE_LEAD, LargeBinary)) > 0
    folded = func.monitor_casefold(column).contains(text.casefold(), autoescape=True)
    return or_(column.contains(text, autoescape=True), and_(wide, folded))


_PRESENT_CHARS = 8


def _folded_contains(column: Any, folded: str) -> ColumnElement[bool]:
    """On SQLite, `column` folded contains `folded`. Folding a text in Python costs about ten
    times what LIKE does, so only rows holding some form of each of the query's Chinese
    characters that have two are folded: `instr` finds those in C, and they are few."""
    chars = [char for char in dict.fromkeys(folded) if len(variants(char)) > 1]
    present = [  # a few are enough to leave few rows; each is a level of SQLite's expression tree
        or_(*(func.instr(column, form) > 0 for form in variants(char)))
        for char in chars[:_PRESENT_CHARS]
    ]
    return and_(*present, func.monitor_fold(column).contains(folded.casefold(), autoescape=True))


def _class(char: str) -> str:
    """A PostgreSQL regular expression matching `char` as written, or in any form `fold` makes
    it (a Simplified character and its Traditional ones)."""
    forms = variants(char)
    if len(forms) > 1:
        return f"[{forms}]"
    return char if char.isalnum() else "\\" + char  # a backslash makes any other literal


def _leave_forgotten(
    conn: Connection, by_key: dict[str, list[Entry]], now: datetime
) -> list[Entry]:
    """Take out of `by_key` the entries retention deleted (a feed still carries them: they are
    not news), and note that a feed offered their keys at `now`. An entry under a deleted one's
    key with another headline (`domain.another_story`) is another story (a CMS that reuses
    guids or links): it is taken out too and returned, to be stored under its reused key,
    unless that key was forgotten in its turn. The deleted one's key stays forgotten."""
    if conn.execute(select(forgotten_table.c.key).limit(1)).first() is None:
        return []  # nothing deleted yet, or all of it forgotten: one read of an empty index
    reused_keys = [e.reused_key for items in by_key.values() for e in items if e.reused_key]
    kept: dict[str, str | None] = {}
    for chunk in chunks([*by_key, *reused_keys]):
        query = select(forgotten_table.c.key, forgotten_table.c.headline)
        for row in conn.execute(query.where(forgotten_table.c.key.in_(chunk))):
            kept[row.key] = row.headline
    reused: list[Entry] = []
    offered: set[str] = set()
    for key, items in list(by_key.items()):
        left = []
        for e in items:
            if e.reused_key in kept:
                offered.add(e.reused_key)
            elif key not in kept:
                left.append(e)
            elif another_story(kept[key], e.title):
                reused.append(e)
            if key in kept:
                offered.add(key)
        if left:
            by_key[key] = left
        else:
            del by_key[key]
    for chunk in chunks(sorted(offered)):
        conn.execute(
            update(forgotten_table).where(forgotten_table.c.key.in_(chunk)).values(offered_at=now)
        )
    return reused


def _leave_known(
    conn: Connection, batch: dict[str, Entry], now: datetime, known_again: dict[str, Counter[str]]
) -> dict[str, Entry]:
    """`batch` (key -> entry about to be stored under it) without the items stored already
    under another key: those whose item key (`Entry.item_key`) is an entry's (this
    transaction's too), or a deleted entry's (forgotten, noted as offered at `now`), or an
    earlier one's of `batch`. Some CMSs write a new guid, or a new session or tracking parameter
    into the link, at every request: those items are counted per feed in `known_again`, under
    "guid" or "link". One query for the batch, as `_titles`."""
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
    key noted as offered at `now`, so it stays while the feed carries the item)."""
    found: list[tuple[str, int]] = []
    if conn.dialect.name == "postgresql":
        found += [
            (key, deleted)
            for key, deleted in conn.execute(_PG_ITEM_KEYS, {"keys": list(item_keys)})
        ]
    else:
        for chunk in chunks(item_keys, IDS_PER_IN // 2):  # each key twice
            marks = ", ".join("?" for _ in chunk)
            query = (
                f"SELECT item_key, 0 FROM entry WHERE item_key IN ({marks}) "
                f"UNION SELECT key, 1 FROM forgotten_entry WHERE key IN ({marks})"
            )
            found += [
                (key, deleted) for key, deleted in conn.exec_driver_sql(query, (*chunk, *chunk))
            ]
    forgotten = sorted(key for key, deleted in found if deleted)
    for chunk in chunks(forgotten):
        conn.execute(
            update(forgotten_table).where(forgotten_table.c.key.in_(chunk)).values(offered_at=now)
        )
    return {key for key, _ in found}


def _titles(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
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


def _stored_entries(
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


def _still_stored(conn: Connection, entry_ids: Sequence[int]) -> list[int]:
    """Those of `entry_ids` that are stored, in their order, each held against deletion until
    the transaction ends (on PostgreSQL; SQLite's writer holds the write lock anyway)."""
    found: set[int] = set()
    for chunk in chunks(sorted(entry_ids)):
        query = select(entry_table.c.id).where(entry_table.c.id.in_(chunk))
        if conn.dialect.name == "postgresql":
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


def _match_rows(
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
