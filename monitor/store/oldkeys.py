"""Deleted entries' keys (`forgotten_entry`) kept under the older key of an item keyed by its
link: before migration 0025 such a key was the digest of the link as written
(`HTTPS://Wire.Example.COM:443/a`); now of the link as `links.link_identity` reads it. A
digest cannot be worked out again, so the migration leaves those keys as they are; a feed
that offers such an item again has its older key (or older reused key) found here and kept
under the new one, so the deleted entry is not stored again as news.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select

from monitor.domain import Entry, digest_of
from monitor.links import link_identity
from monitor.store.base import chunks
from monitor.store.schema import forgotten_table


def carry_forgotten_keys(
    conn: Connection, entries: Sequence[Entry], now: datetime, insert: Callable[[Table], Any]
) -> None:
    """Keep a deleted entry's key found under its older form (`older_key`) under the key the
    offered item has now (and its reused key likewise), offered at `now`; the older row goes.
    Only items keyed by a link that `link_identity` reads otherwise are looked up: few."""
    renamed: dict[str, str] = {}  # older key -> key
    for e in entries:
        if (older := older_key(e)) is not None:
            renamed[older] = e.key
            if e.headline:
                renamed[digest_of(older, e.headline)] = digest_of(e.key, e.headline)
    if not renamed:
        return
    found: list[Any] = []
    for chunk in chunks(sorted(renamed)):
        query = select(forgotten_table).where(forgotten_table.c.key.in_(chunk))
        found += conn.execute(query).all()
    if not found:
        return
    # In key order, as retention adds deleted entries' keys (`retention._forgotten_rows`): a
    # clean-up adding some of them at once waits for this batch, or this batch for it, never
    # each for the other.
    rows: dict[str, dict[str, Any]] = {}
    for r in found:
        key = renamed[r.key]
        rows.setdefault(key, {"key": key, "offered_at": now, "headline": r.headline})
    conn.execute(insert(forgotten_table).on_conflict_do_nothing(), [rows[k] for k in sorted(rows)])
    for chunk in chunks([r.key for r in found]):
        conn.execute(delete(forgotten_table).where(forgotten_table.c.key.in_(chunk)))


def older_key(entry: Entry) -> str | None:
    """`entry`'s key as the code before migration 0025 worked it out, when it was another:
    the digest of its link as written. None for an item with a guid of its own, or a link that
    `link_identity` reads as written."""
    link = entry.link
    if not link or entry.guid not in ("", link) or link_identity(link) == link:
        return None
    return digest_of(entry.feed_id, link)
