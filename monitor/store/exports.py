"""Status changes read for exports and feeds: all of them a page at a time, oldest first, or the
latest few recorded, newest first (for the Atom feeds: without those a silence holds, and those
a silence that ended held).

`iter_changes` is a generator: each page of `PAGE` changes is one transaction, so an export of
any size holds one page in memory (`iter_change_pages` hands the pages on whole). Changes are
append-only and their ids grow, so a change recorded while an export runs is either in it (after
the others) or not, never twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select

from monitor.domain import StatusChange
from monitor.silences import Silence
from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.changes import _change_of
from monitor.store.schema import change_table
from monitor.store.silences import held_by, held_now

PAGE = 500  # changes a transaction reads for an export


class ExportsMixin(StoreBase):
    """Changes for `monitor export`, /export/… and the Atom feeds."""

    def iter_changes(
        self,
        *,
        indicator_id: str | None = None,
        since: datetime | None = None,
        page: int = PAGE,
    ) -> Iterator[StatusChange]:
        """Every status change (of one indicator) at or after `since`, in the order recorded
        (by id), read `page` changes a transaction."""
        for found in self.iter_change_pages(indicator_id=indicator_id, since=since, page=page):
            yield from found

    def iter_change_pages(
        self,
        *,
        indicator_id: str | None = None,
        since: datetime | None = None,
        page: int = PAGE,
    ) -> Iterator[list[StatusChange]]:
        """`iter_changes` a page at a time (one transaction each, none empty): what the changes
        export marks with one read of the verdicts per page (`views.judged_since`)."""
        after = 0
        while True:
            found = self.changes_after(after, indicator_id=indicator_id, since=since, limit=page)
            if found:
                yield found
            if len(found) < page:
                return
            after = found[-1].id or after

    @once_more_if_disconnected
    def changes_after(
        self,
        after_id: int,
        *,
        indicator_id: str | None = None,
        since: datetime | None = None,
        limit: int = PAGE,
    ) -> list[StatusChange]:
        """At most `limit` changes with an id above `after_id`, oldest first."""
        query = select(change_table).where(change_table.c.id > after_id)
        if indicator_id is not None:
            query = query.where(change_table.c.indicator_id == indicator_id)
        if since is not None:
            query = query.where(change_table.c.at >= since)
        query = query.order_by(change_table.c.id).limit(limit)
        with self._tx("read changes") as conn:
            return [_change_of(row) for row in conn.execute(query)]

    @once_more_if_disconnected
    def latest_changes(
        self, *, limit: int, indicator_id: str | None = None, shown_at: datetime | None = None
    ) -> list[StatusChange]:
        """The `limit` changes (of one indicator) recorded last, newest first (by `recorded_at`,
        then id: a change to `unknown` recorded now can be dated hours before, and goes out
        when recorded); with `shown_at`, of those no silence holds at that moment (`held_now`).
        Read backwards through the index on the recording time (of the indicator's changes),
        so the held ones are all it reads beyond `limit`."""
        c = change_table.c
        query = select(change_table)
        if indicator_id is not None:
            query = query.where(c.indicator_id == indicator_id)
        if shown_at is not None:
            query = query.where(~held_now(shown_at))
        query = query.order_by(c.recorded_at.desc(), c.id.desc()).limit(limit)
        with self._tx("read changes") as conn:
            return [_change_of(row) for row in conn.execute(query)]

    @once_more_if_disconnected
    def released_changes(
        self, silence: Silence, now: datetime, *, limit: int
    ) -> list[StatusChange]:
        """The `limit` changes `silence` held that were recorded last (newest first, as
        `latest_changes`) that no silence holds at `now`: those recorded while it was in force
        (whatever moment they are dated), read backwards from its end on the index (indicator,
        recording time) of its indicator's changes."""
        c = change_table.c
        assert silence.id is not None
        query = (
            select(change_table)
            .where(c.indicator_id == silence.indicator_id)
            .where(c.recorded_at >= silence.created_at, c.recorded_at < silence.end)
            .where(held_by(silence.id), ~held_now(now))
            .order_by(c.recorded_at.desc(), c.id.desc())
            .limit(limit)
        )
        with self._tx("read changes") as conn:
            return [_change_of(row) for row in conn.execute(query)]
