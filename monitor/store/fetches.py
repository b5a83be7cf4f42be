"""What each fetch found, recorded on its feed (`FetchRecord`, `record_fetches`): validators,
back-off, errors and warnings, its lease released; a read of a feed the feeds file gave another
URL since it was claimed is left out. Also the feeds' URLs as listed (`listed_urls`) and when
they last brought something new (`mark_new`, in the transaction that stores the entries).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
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
    failure sets it once. With a `listed_url` (the feed's URL when it was claimed: `DueFeed`),
    the record is stored only while the feed still has that URL.
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


class FetchesMixin(StoreBase):
    """Fetch results recorded on the feed table."""

    @once_more_if_disconnected
    def record_fetches(self, records: Sequence[FetchRecord]) -> set[str]:
        """Store what fetches found and release their leases, in one transaction (one
        executemany per set of columns written). A record whose feed no longer has its
        `listed_url` (the feeds file gave it another since it was claimed: `sync_feeds` reset
        it) is left out, by a condition of the same UPDATE: a read of the old address says
        nothing of the new one. Returns the ids of the feeds so left out."""
        groups: dict[tuple[str, ...], list[_Row]] = {}
        for record in records:
            values = _fetch_values(record)
            groups.setdefault(tuple(values), []).append((record.feed_id, record.listed_url, values))
        moved: set[str] = set()
        if not groups:
            return moved
        update_feeds = _sqlite_update_feeds if self.dialect == "sqlite" else _update_feeds
        with self._tx("record fetch", write=True) as conn:
            for names, rows in groups.items():
                if update_feeds(conn, names, rows) != len(rows):
                    moved |= _moved_or_unknown(conn, rows)
        return moved


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
    else:
        values |= {"failing_since_once": r.now, "last_error": r.error}
    return values


_Row = tuple[str, str | None, dict[str, Any]]  # feed id, listed URL, `_fetch_values`


def _update_feeds(conn: Connection, names: tuple[str, ...], rows: list[_Row]) -> int:
    """Write `names` (`_fetch_values`) of each (feed id, listed URL, values) whose feed still
    has that URL (None: any); returns the rows updated."""
    listed = bindparam("v_listed_url", type_=feed_table.c.url.type)
    statement = update(feed_table).where(
        feed_table.c.id == bindparam("v_feed_id"),
        feed_table.c.url == func.coalesce(listed, feed_table.c.url),
    )
    params = [
        {"v_feed_id": feed_id, "v_listed_url": url} | {f"v_{name}": v for name, v in values.items()}
        for feed_id, url, values in rows
    ]
    return conn.execute(statement.values(dict(map(_fetch_set, names))), params).rowcount


def _moved_or_unknown(conn: Connection, rows: Sequence[_Row]) -> set[str]:
    """The feeds of `rows` given another URL than their record's (so not updated); a
    StoreError when one is not stored at all."""
    urls = listed_urls(conn, [feed_id for feed_id, _, _ in rows])
    unknown = [feed_id for feed_id, _, _ in rows if feed_id not in urls]
    if unknown:
        among = " among " if len(rows) > 1 else " "
        raise StoreError(f"store: unknown feed{among}{_names([i for i, _, _ in rows])}")
    return {feed_id for feed_id, url, _ in rows if url is not None and urls[feed_id] != url}


_PG_LISTED_URLS = text("SELECT id, url FROM feed WHERE id = ANY(CAST(:ids AS text[]))")


def listed_urls(conn: Connection, feed_ids: Collection[str]) -> dict[str, str]:
    """feed id -> its URL in the feeds file, of those stored; in plain SQL (a statement built
    with SQLAlchemy costs several times more than running it)."""
    if not feed_ids:
        return {}
    if conn.dialect.name == "postgresql":
        return {i: url for i, url in conn.execute(_PG_LISTED_URLS, {"ids": list(feed_ids)})}
    found: dict[str, str] = {}
    for ids in chunks(feed_ids):
        query = f"SELECT id, url FROM feed WHERE id IN ({', '.join('?' for _ in ids)})"
        found.update({i: url for i, url in conn.exec_driver_sql(query, tuple(ids))})
    return found


def _sqlite_update_feeds(conn: Connection, names: tuple[str, ...], rows: list[_Row]) -> int:
    """`_update_feeds` by a plain executemany, which runs in C (SQLAlchemy binds row by row in
    Python), with datetimes written as UTCDateTime writes them."""
    sets = ", ".join(
        f"{name.removesuffix(_ONCE)} = coalesce({name.removesuffix(_ONCE)}, ?)"
        if name.endswith(_ONCE)
        else f'"{name}" = ?'
        for name in names
    )
    params = [
        (*(sqlite_utc(v) if isinstance(v, datetime) else v for v in values.values()), feed_id, url)
        for feed_id, url, values in rows
    ]
    where = "WHERE id = ? AND url = coalesce(?, url)"
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
