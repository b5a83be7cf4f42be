"""The feeds a batch of entries is stored for: each one's lock held while its items are stored
(PostgreSQL). Which of their reads are left out, and why: `fetches.dropped_reads`.

On PostgreSQL every transaction that may wait for feed rows takes its locks in one order, so
two never wait for each other in a circle (`deadlock detected`, the cycle's batch or the reload
lost): the advisory locks of the feeds a batch stores (`hold_feeds`), or the reloads' one
(`hold_reloads`), then the feed rows it writes, by id (`lock_feed_rows`;
`fetches.dropped_reads` for a batch of reads, recorded alone or with its entries;
`FeedsMixin.sync_feeds` the rows it changes), then any other row (the entries, their matches,
the match version; a released owner's other claims; a reload's new feeds). An UPDATE of
several feed rows alone would lock them in the order it meets them, which follows the table's
last writes. Claims and renewals (`due_feeds`, `renew_leases`) skip locked rows, never waiting,
so a reload keeps other daemons off the feeds it changes only. SQLite's writers take the
write lock first (BEGIN IMMEDIATE) and wait for each other's commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, text

from monitor.domain import Entry, digest_of
from monitor.store.schema import feed_table

_FEEDS_STORED = 0x6D6F6E65  # "mone": the class of the advisory locks of `hold_feeds`
_FEEDS_RELOADED = 0x6D6F6E72  # "monr": the class of the reloads' one advisory lock (`hold_reloads`)
_PG_HOLD_RELOADS = text("SELECT pg_advisory_xact_lock(:kind, 0)")
_PG_HOLD_FEEDS = text("SELECT pg_advisory_xact_lock(:kind, k) FROM unnest(CAST(:keys AS int[])) k")


def hold_feeds(conn: Connection, entries: Sequence[Entry]) -> None:
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


def hold_reloads(conn: Connection) -> None:
    """On PostgreSQL, hold the reloads' lock until the transaction ends, taken first: reloads
    (`FeedsMixin.sync_feeds`) run one after another, each reading the feeds as the one before
    left them, so that it locks and writes only the rows it changes and still leaves its whole
    feeds file in force. No other transaction takes it. SQLite's writer holds the write lock
    anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_HOLD_RELOADS, {"kind": _FEEDS_RELOADED})


def lock_feed_rows(conn: Connection, *where: Any) -> None:
    """On PostgreSQL, lock the feed rows `where` selects (every one without), by id, until the
    transaction ends: for a transaction about to write them, before it waits for any other."""
    if conn.dialect.name == "postgresql":
        query = select(feed_table.c.id).where(*where).order_by(feed_table.c.id)
        conn.execute(query.with_for_update())
