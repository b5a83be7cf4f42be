"""Alert channels asked to be left alone (Retry-After), shared by every process on the
database: what one daemon was told, the others (and `monitor check` beside it, and itself
after a restart) heed before they send (`monitor.alerts`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update

from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.schema import channel_rest_table

__all__ = ["RestsMixin"]


class RestsMixin(StoreBase):
    """`channel_rest`: a channel key and the time before which no process tries it."""

    @once_more_if_disconnected
    def channel_rests(self, now: datetime, *, longest: timedelta) -> dict[str, datetime]:
        """channel key -> not before, for the channels still resting at `now`. A rest ending
        more than `longest` after `now` (written by a host whose clock runs ahead, or by a
        version with a longer cap) is cut to end then, in the database too, so it holds no
        longer than `longest` for any process, however often one starts afresh."""
        c = channel_rest_table.c
        with self._tx("read resting channels") as conn:
            rows = conn.execute(select(c.channel, c.not_before).where(c.not_before > now))
            rests = {row.channel: row.not_before for row in rows}
        if all(until <= now + longest for until in rests.values()):
            return rests
        with self._tx("cut resting channels", write=True) as conn:  # compare-and-set
            too_far = c.not_before > now + longest
            conn.execute(update(channel_rest_table).where(too_far).values(not_before=now + longest))
        return {key: min(until, now + longest) for key, until in rests.items()}

    @once_more_if_disconnected
    def rest_channels(self, rests: Mapping[str, datetime], *, now: datetime) -> None:
        """Record that each channel (by key) is not to be tried before its time; a channel
        resting until later already keeps that. The rests over at `now` are deleted."""
        c = channel_rest_table.c
        rows = [{"channel": key, "not_before": until} for key, until in sorted(rests.items())]
        with self._tx("record resting channels", write=True) as conn:
            conn.execute(delete(channel_rest_table).where(c.not_before <= now))
            if not rows:
                return
            statement = self._insert(channel_rest_table)
            later = case(
                (statement.excluded.not_before > c.not_before, statement.excluded.not_before),
                else_=c.not_before,
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["channel"], set_={"not_before": later}
                ),
                rows,
            )
