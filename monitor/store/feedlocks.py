"""The feeds a batch of entries is stored for: each one's lock held while its items are stored
(PostgreSQL). Which of their reads are left out, and why: `fetches.dropped_reads`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from monitor.domain import Entry, digest_of

_FEEDS_STORED = 0x6D6F6E65  # "mone": the class of the advisory locks of `hold_feeds`
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
