"""Which indicators the processes that check have, and when an indicator's monitoring ended.

Every process that checks (the daemon, `monitor check`, …) notes at each check the indicator
ids of its definitions under its owner name (`monitor.owners`), in force for a while after
(`until`: the caller's two check intervals and a cycle's deadline). An indicator's monitoring
ends (`indicator_state.ended_at`, read by `ChangesMixin.monitoring_ended`) when no row in force
has it any more, dated by the last note that had it (now for the process's own earlier note,
which its new one replaced); it goes on again when a row in force has it. So during a rolling
update (one daemon with the old files, one with the new) an indicator only the old files have
stays monitored while the old daemon checks it, and ends once that daemon stopped for long
enough: it no longer flaps at each of their checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.schema import counter_table, definer_table, state_table

__all__ = ["DefinersMixin"]

_NOTES = "definers"  # the counter row a note holds on PostgreSQL: notes run one at a time


class DefinersMixin(StoreBase):
    """The processes' definitions, as far as which indicators are monitored."""

    @once_more_if_disconnected
    def note_defined(
        self, indicator_ids: Iterable[str], *, owner: str, now: datetime, until: datetime
    ) -> None:
        """Note that `owner`'s definitions have these indicators at `now`, and count them until
        `until`; then end the monitoring of each indicator no row in force has (dated by the
        last row that had it, else `now`) and take back the end of each one a row has."""
        defined = list(dict.fromkeys(indicator_ids))
        with self._tx("note the indicators defined", write=True) as conn:
            _hold_notes(conn, self._insert(counter_table))
            mine = self._insert(definer_table).values(
                owner=owner, indicators=defined, noted_at=now, until=until
            )
            conn.execute(
                mine.on_conflict_do_update(
                    index_elements=["owner"],
                    set_={"indicators": defined, "noted_at": now, "until": until},
                )
            )
            rows = conn.execute(select(definer_table)).all()
            held = {i for row in rows if row.until >= now for i in row.indicators}
            last: dict[str, datetime] = {}
            for row in rows:
                for i in row.indicators:
                    if i not in held:
                        last[i] = max(last.get(i, row.noted_at), row.noted_at)
            _end(conn, held, last, now)
            conn.execute(delete(definer_table).where(definer_table.c.until < now))


def _hold_notes(conn: Connection, insert: Any) -> None:
    """Take the notes' counter row (made if missing) until the transaction ends, so two
    processes noting at once do not each miss the other's row. SQLite's writer holds the
    write lock anyway."""
    if conn.dialect.name != "postgresql":
        return
    statement = insert.values(name=_NOTES, value=0)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    conn.execute(
        select(counter_table.c.value).where(counter_table.c.name == _NOTES).with_for_update()
    )


def _end(conn: Connection, held: set[str], last: dict[str, datetime], now: datetime) -> None:
    """End the monitoring of the indicators not `held` (not ended yet), at `last` or `now`;
    take back the end of the `held` ones."""
    state, ended = state_table.c, state_table.c.ended_at
    going = select(state.indicator_id).where(ended.is_(None), state.indicator_id.not_in(held))
    ending = [{"id": i, "at": last.get(i, now)} for i in conn.execute(going).scalars()]
    if ending:
        conn.execute(
            update(state_table)
            .where(state.indicator_id == bindparam("id"), ended.is_(None))
            .values(ended_at=bindparam("at")),
            ending,
        )
    if held:
        conn.execute(
            update(state_table)
            .where(state.indicator_id.in_(held), ended.is_not(None))
            .values(ended_at=None)
        )
