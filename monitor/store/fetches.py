"""What each fetch found, recorded on its feed (`FetchRecord`, `record_fetches`): validators,
back-off, errors and warnings, its lease released. A read is left out (`Dropped`) when the feeds
file gave its feed another URL since it was claimed, or when another process holds (or held) the
feed's lease since: the lease of a slow read ran out and the feed was claimed again. Also which
reads of a batch of entries are so left out (`dropped_reads`, in the transaction that stores the
entries) and when the feeds last brought something new (`mark_new`, in that transaction too).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, text, update

from monitor.errors import StoreError
from monitor.store.base import StoreBase, chunks, once_more_if_disconnected
from monitor.store.schema import UTCDateTime, feed_table, sqlite_utc


@dataclass(frozen=True)
class FetchRecord:
    """What one fetch found, for `record_fetches`.

    `etag`, `last_modified`, `body_hash`, `moved_to`, `title` and `warning` left None keep
    their stored value ("" clears it): `warning` is that of a body read (parsed), so a 304, an
    unchanged body or a failure keeps the last one's. A success clears `failing_since`; a
    failure sets it once. A `rate_limited` answer (not `ok`: the server asked to be read later)
    is neither: it keeps `failing_since` and `last_success_at` as they were, and stores its
    `error` as the reason the feed was not read. With a `listed_url` (the feed's URL when it
    was claimed: `DueFeed`), the record is stored only while the feed still has that URL.
    """

    feed_id: str
    now: datetime
    ok: bool
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    moved_to: str | None = None
    error: str = ""
    dead: bool = False
    next_check_at: datetime | None = None
    error_count: int = 0
    title: str | None = None
    warning: str | None = None
    listed_url: str | None = None
    rate_limited: bool = False  # 429, or 503 with Retry-After: not read, and not failing


class Dropped(StrEnum):
    """Why a read was left out, neither its entries nor its record stored."""

    MOVED = "moved"  # the feeds file gave the feed another URL since it was claimed
    TAKEN = "taken"  # its lease ran out and another process claimed the feed since


class FetchesMixin(StoreBase):
    """Fetch results recorded on the feed table."""

    @once_more_if_disconnected
    def record_fetches(
        self, records: Sequence[FetchRecord], *, owner: str | None = None
    ) -> dict[str, Dropped]:
        """Store what fetches found and release their leases, in one transaction (one
        executemany per set of columns written), the feeds' rows locked first, by id
        (`dropped_reads`). A record whose feed no longer has its `listed_url` (the feeds file
        gave it another since it was claimed: `sync_feeds` reset it), or whose lease `owner`
        (None: any) no longer holds it (it ran out and another process claimed the feed, and
        may have recorded it already), is left out: a read of the old address says nothing of
        the new one, and only one reader's read of a feed is stored. Returns the feeds so left
        out, with why."""
        with self._tx("record fetch", write=True) as conn:
            dropped = dropped_reads(conn, records, owner)  # the rows locked first, by id
            kept = [r for r in records if r.feed_id not in dropped] if dropped else records
            return dropped | record_reads(conn, kept, owner)


def record_reads(
    conn: Connection, records: Sequence[FetchRecord], owner: str | None
) -> dict[str, Dropped]:
    """`record_fetches` in the caller's transaction."""
    groups: dict[tuple[str, ...], list[_Row]] = {}
    for record in sorted(records, key=lambda r: r.feed_id):  # rows locked in one order
        values = _fetch_values(record)
        groups.setdefault(tuple(values), []).append((record.feed_id, record.listed_url, values))
    update_feeds = _sqlite_update_feeds if conn.dialect.name == "sqlite" else _update_feeds
    dropped: dict[str, Dropped] = {}
    for names, rows in groups.items():
        if update_feeds(conn, names, rows, owner) != len(rows):
            dropped |= _dropped_or_unknown(conn, rows, owner)
    return dropped


def dropped_reads(
    conn: Connection, records: Sequence[FetchRecord], owner: str | None
) -> dict[str, Dropped]:
    """The reads of `records` that `record_reads` would leave out, their feeds' rows locked by
    id until the transaction ends (PostgreSQL: `feedlocks`), so no reload or claim changes that
    before the records are written: first in a transaction that records reads (and stores
    their entries)."""
    holds = _holds(conn, [r.feed_id for r in records], lock=True)
    found = ((r.feed_id, _why(holds[r.feed_id], r.listed_url, owner))
             for r in records if r.feed_id in holds)  # fmt: skip
    return {feed_id: why for feed_id, why in found if why is not None}


def _fetch_values(r: FetchRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_checked_at": r.now,
        "http_status": r.http_status,
        "dead": r.dead,
        "next_check_at": r.next_check_at,
        "error_count": r.error_count,
        "lease_owner": None,
        "lease_until": None,
    }
    kept = {"etag": r.etag, "last_modified": r.last_modified, "body_hash": r.body_hash}
    kept["moved_to"] = r.moved_to
    values |= {name: value or None for name, value in kept.items() if value is not None}
    if r.title is not None:
        values["title"] = r.title
    if r.warning is not None:
        values["warning"] = r.warning
    if r.ok:  # a first read starts the count of its silence (`mark_new` ends it)
        values |= {"last_success_at": r.now, "failing_since": None, "last_error": ""}
        values["last_new_at_once"] = r.now
    elif r.rate_limited:  # neither read nor failing: why it was not read
        values["last_error"] = r.error
    else:
        values |= {"failing_since_once": r.now, "last_error": r.error}
    return values


_Row = tuple[str, str | None, dict[str, Any]]  # feed id, listed URL, `_fetch_values`


def _update_feeds(
    conn: Connection, names: tuple[str, ...], rows: list[_Row], owner: str | None
) -> int:
    """Write `names` (`_fetch_values`) of each (feed id, listed URL, values) whose feed still
    has that URL (None: any) and whose lease `owner` holds (None: any); returns the rows
    updated."""
    listed = bindparam("v_listed_url", type_=feed_table.c.url.type)
    statement = update(feed_table).where(
        feed_table.c.id == bindparam("v_feed_id"),
        feed_table.c.url == func.coalesce(listed, feed_table.c.url),
    )
    if owner is not None:
        statement = statement.where(feed_table.c.lease_owner == bindparam("v_lease_holder"))
    held = {"v_lease_holder": owner} if owner is not None else {}
    params = [
        {"v_feed_id": feed_id, "v_listed_url": url, **held}
        | {f"v_{name}": v for name, v in values.items()}
        for feed_id, url, values in rows
    ]
    return conn.execute(statement.values(dict(map(_fetch_set, names))), params).rowcount


def _dropped_or_unknown(
    conn: Connection, rows: Sequence[_Row], owner: str | None
) -> dict[str, Dropped]:
    """The feeds of `rows` given another URL than their record's, or whose lease `owner` no
    longer holds (so not updated); a StoreError when one is not stored at all."""
    holds = _holds(conn, [feed_id for feed_id, _, _ in rows])
    unknown = [feed_id for feed_id, _, _ in rows if feed_id not in holds]
    if unknown:
        among = " among " if len(rows) > 1 else " "
        raise StoreError(f"store: unknown feed{among}{_names([i for i, _, _ in rows])}")
    found = ((feed_id, _why(holds[feed_id], url, owner)) for feed_id, url, _ in rows)
    return {feed_id: why for feed_id, why in found if why is not None}


def _why(hold: tuple[str, str | None], listed_url: str | None, owner: str | None) -> Dropped | None:
    """Why a read of a feed whose (URL, lease owner) is `hold` is left out; None: it is not."""
    url, holder = hold
    if listed_url is not None and url != listed_url:
        return Dropped.MOVED
    if owner is not None and holder != owner:
        return Dropped.TAKEN
    return None


_PG_HOLDS = "SELECT id, url, lease_owner FROM feed WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id"


def _holds(
    conn: Connection, feed_ids: Collection[str], *, lock: bool = False
) -> dict[str, tuple[str, str | None]]:
    """feed id -> (its URL in the feeds file, its lease owner), of those stored; with `lock`,
    their rows locked until the transaction ends (PostgreSQL; SQLite's writer holds the write
    lock anyway). In plain SQL: a statement built with SQLAlchemy costs several times more
    than running it."""
    if not feed_ids:
        return {}
    if conn.dialect.name == "postgresql":
        pg = text(_PG_HOLDS + (" FOR UPDATE" if lock else ""))
        return {i: (url, holder) for i, url, holder in conn.execute(pg, {"ids": list(feed_ids)})}
    found: dict[str, tuple[str, str | None]] = {}
    for ids in chunks(feed_ids):
        query = f"SELECT id, url, lease_owner FROM feed WHERE id IN ({', '.join('?' for _ in ids)})"
        found.update({i: (url, h) for i, url, h in conn.exec_driver_sql(query, tuple(ids))})
    return found


def _sqlite_update_feeds(
    conn: Connection, names: tuple[str, ...], rows: list[_Row], owner: str | None
) -> int:
    """`_update_feeds` by a plain executemany, which runs in C (SQLAlchemy binds row by row in
    Python), with datetimes written as UTCDateTime writes them."""
    sets = ", ".join(
        f"{name.removesuffix(_ONCE)} = coalesce({name.removesuffix(_ONCE)}, ?)"
        if name.endswith(_ONCE)
        else f'"{name}" = ?'
        for name in names
    )
    held = (owner,) if owner is not None else ()
    params = [
        (*(sqlite_utc(v) if isinstance(v, datetime) else v for v in values.values()), feed_id, url)
        for feed_id, url, values in rows
    ]
    params = [(*row, *held) for row in params] if held else params
    where = "WHERE id = ? AND url = coalesce(?, url)" + (" AND lease_owner = ?" if held else "")
    return conn.exec_driver_sql(f"UPDATE feed SET {sets} {where}", params).rowcount


_ONCE = "_once"  # a `_fetch_values` name of a column set only while it is NULL


def _fetch_set(name: str) -> tuple[str, Any]:
    """(column, SET value) of one `_fetch_values` name; failing_since and last_new_at are set
    only once (`_ONCE`)."""
    if name.endswith(_ONCE):
        column = name.removesuffix(_ONCE)
        param = bindparam(f"v_{name}", type_=UTCDateTime())
        return column, func.coalesce(feed_table.c[column], param)
    return name, bindparam(f"v_{name}")


def mark_new(conn: Connection, feed_ids: Collection[str], now: datetime) -> None:
    """The feeds of entries stored as new at `now` brought something new then: in the
    transaction that stores those entries, so a crash cannot keep one without the other."""
    later = or_(feed_table.c.last_new_at.is_(None), feed_table.c.last_new_at < now)
    for ids in chunks(sorted(set(feed_ids))):
        conn.execute(
            update(feed_table).where(feed_table.c.id.in_(ids), later).values(last_new_at=now)
        )


def _names(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
