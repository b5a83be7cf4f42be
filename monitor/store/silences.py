"""Silences: append-only rows; ending one early appends its one end row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from monitor.domain import utc_text
from monitor.errors import SilenceError, StoreError
from monitor.silences import MAX_SILENCE_ID, Silence
from monitor.store.base import StoreBase, after_a_lost_connection, once_more_if_disconnected
from monitor.store.schema import change_table, silence_end_table, silence_table

_SILENCE = [*silence_table.c, silence_end_table.c.ended_at, silence_end_table.c.ended_by]


class SilencesMixin(StoreBase):
    """Analysts' silences."""

    def add_silence(self, silence: Silence) -> Silence:
        """Append a silence; returns it with its id. Run again when the connection is lost
        (`after_a_lost_connection`): a try whose commit went through left its row, which the
        next finds (the same silence, by the same analyst, made at the very moment, to the
        microsecond) rather than append it a second time."""
        new_id = after_a_lost_connection(
            lambda: self._add_silence(silence), lambda: self._add_silence(silence, again=True)
        )
        return self.silence(new_id) or silence

    def _add_silence(self, silence: Silence, *, again: bool = False) -> int:
        values = {
            "indicator_id": silence.indicator_id,
            "outcome_id": silence.outcome_id,
            "reason": silence.reason,
            "created_by": silence.created_by,
            "created_at": silence.created_at,
            "until": silence.until,
        }
        with self._tx("record a silence", write=True) as conn:
            if again:
                same = [
                    silence_table.c[name].is_not_distinct_from(value)  # outcome_id may be NULL
                    for name, value in values.items()
                ]
                found = conn.execute(select(silence_table.c.id).where(*same).limit(1)).scalar()
                if found is not None:  # the lost try's
                    return int(found)
            new_id = conn.execute(
                silence_table.insert().values(**values).returning(silence_table.c.id)
            ).scalar_one()
        return int(new_id)

    def end_silence(self, silence_id: int, *, who: str, now: datetime) -> Silence:
        """End a silence in force now; a SilenceError when there is none, or it is over."""
        found = self.silence(silence_id)
        if found is None:
            raise SilenceError(f"silence: no silence {silence_id}", problem="unknown")
        if not found.active(now):
            over = "was ended" if found.state(now) == "ended" else "expired"
            at = utc_text(found.end)
            raise SilenceError(f"silence: silence {silence_id} {over} at {at}", problem="over")
        row = {"silence_id": silence_id, "ended_at": now, "ended_by": who}
        try:
            after_a_lost_connection(
                lambda: self._end_silence(row), lambda: self._end_silence(row, again=True)
            )
        except StoreError as exc:  # another analyst ended it meanwhile: the key is taken
            if isinstance(exc.__cause__, IntegrityError):
                raise SilenceError(
                    f"silence: silence {silence_id} was ended meanwhile", problem="over"
                ) from None
            raise
        ended = self.silence(silence_id)
        assert ended is not None
        return ended

    def _end_silence(self, row: dict[str, Any], *, again: bool = False) -> None:
        """Append the end row; `again`: after a try whose connection was lost, which may have
        appended it (this very end, by this analyst at this moment: not one ended meanwhile)."""
        with self._tx("end a silence", write=True) as conn:
            if again:
                same = [silence_end_table.c[name] == value for name, value in row.items()]
                if conn.execute(select(silence_end_table.c.silence_id).where(*same)).first():
                    return
            conn.execute(silence_end_table.insert().values(**row))

    @once_more_if_disconnected
    def silence(self, silence_id: int) -> Silence | None:
        if not 1 <= silence_id <= MAX_SILENCE_ID:  # no such row; PostgreSQL would refuse the id
            return None
        query = _query().where(silence_table.c.id == silence_id)
        with self._tx("read a silence") as conn:
            row = conn.execute(query).first()
        return None if row is None else silence_of(row)

    @once_more_if_disconnected
    def silences(
        self,
        indicator_id: str | None = None,
        *,
        active_at: datetime | None = None,
        ending_after: datetime | None = None,
        limit: int | None = None,
    ) -> list[Silence]:
        """Silences (of one indicator), newest first: those in force at `active_at`, or whose
        end is after `ending_after`, or all."""
        if indicator_id is not None and "\x00" in indicator_id:
            return []  # no id holds a NUL (and PostgreSQL refuses one in a text parameter)
        query = _query()
        if indicator_id is not None:
            query = query.where(silence_table.c.indicator_id == indicator_id)
        moment = active_at or ending_after
        if moment is not None:
            query = query.where(silence_table.c.until > moment, _not_ended_by(moment))
        if active_at is not None:
            query = query.where(silence_table.c.created_at <= active_at)
        query = query.order_by(silence_table.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._tx("read silences") as conn:
            return [silence_of(row) for row in conn.execute(query)]


def _query() -> Any:
    return select(*_SILENCE).outerjoin(
        silence_end_table, silence_end_table.c.silence_id == silence_table.c.id
    )


def _not_ended_by(moment: Any) -> Any:
    """The silence (joined with its end row) was not ended at or before `moment`."""
    return or_(silence_end_table.c.ended_at.is_(None), silence_end_table.c.ended_at > moment)


def held_now(now: datetime) -> Any:
    """A condition on status_change rows: a silence in force at `now` holds the change (its
    indicator and outcome, recorded while the silence was in force). What `Silence.covers`
    and `is_held` say, in SQL, for the alert outbox and the Atom feeds."""
    s, e = silence_table, silence_end_table
    ended = select(e.c.ended_at).where(e.c.silence_id == s.c.id).scalar_subquery()
    in_force = and_(s.c.until > now, or_(ended.is_(None), ended > now))
    return exists().where(_holds(ended), in_force)


def held_by(silence_id: int) -> Any:
    """A condition on status_change rows: silence `silence_id` holds (or held) the change."""
    ended = select(silence_end_table.c.ended_at).where(
        silence_end_table.c.silence_id == silence_table.c.id
    )
    return exists().where(silence_table.c.id == silence_id, _holds(ended.scalar_subquery()))


def _holds(ended: Any) -> Any:
    """`Silence.covers` in SQL: the silence row (`ended`: its end row's time) holds the change
    row: its indicator, its outcome (the change's old or new status is of it), recorded while
    the silence was in force (`recorded_at`, whatever moment it is dated)."""
    s, c = silence_table, change_table
    outcome = s.c.outcome_id + ":"
    size = func.length(outcome)
    of_outcome = or_(
        s.c.outcome_id.is_(None),
        func.substr(c.c.old_status, 1, size) == outcome,
        func.substr(c.c.new_status, 1, size) == outcome,
    )
    recorded = c.c.recorded_at
    in_force = and_(
        s.c.created_at <= recorded, s.c.until > recorded, or_(ended.is_(None), ended > recorded)
    )
    return and_(s.c.indicator_id == c.c.indicator_id, of_outcome, in_force)


def silence_of(row: Any) -> Silence:
    return Silence(
        indicator_id=row.indicator_id,
        outcome_id=row.outcome_id,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        until=row.until,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        id=row.id,
    )
