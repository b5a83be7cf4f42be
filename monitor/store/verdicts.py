"""Analysts' verdicts: append-only rows; the latest per (entry, indicator, outcome) stands."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from monitor.domain import Judgement, Verdict
from monitor.errors import VerdictError
from monitor.store.base import StoreBase, after_a_lost_connection, once_more_if_disconnected
from monitor.store.entries import StoredEntry, entry_of
from monitor.store.schema import entry_table, verdict_table


class VerdictsMixin(StoreBase):
    """Analysts' verdicts."""

    def add_verdict(self, verdict: Verdict) -> Verdict:
        """Append a verdict; it stands until a later one on the same (entry, indicator,
        outcome). Moves the match version, so kept evidence reads are read again.

        Run again when the connection is lost (`after_a_lost_connection`): a try whose commit
        went through left its row, which the next finds (the same verdict, by the same analyst,
        at the very moment it is given, to the microsecond) and returns rather than append it
        a second time."""
        return after_a_lost_connection(
            lambda: self._add_verdict(verdict), lambda: self._add_verdict(verdict, again=True)
        )

    def _add_verdict(self, verdict: Verdict, *, again: bool = False) -> Verdict:
        values = {
            "entry_id": verdict.entry_id,
            "indicator_id": verdict.indicator_id,
            "outcome_id": verdict.outcome_id,
            "verdict": str(verdict.verdict),
            "who": verdict.who,
            "at": verdict.at,
            "note": verdict.note,
        }
        with self._tx("record verdict", write=True) as conn:
            entry = select(entry_table.c.id).where(entry_table.c.id == verdict.entry_id)
            # held until the verdict is in: retention deleting it would take the verdict along
            known = conn.execute(entry.with_for_update(read=True, key_share=True))
            if known.first() is None:
                raise VerdictError(f"verdict: no entry {verdict.entry_id}", unknown="entry")
            if again:
                same = [verdict_table.c[name] == value for name, value in values.items()]
                found = conn.execute(select(verdict_table.c.id).where(*same).limit(1)).scalar()
                if found is not None:  # the lost try's
                    return replace(verdict, id=int(found))
            new_id = conn.execute(
                verdict_table.insert().values(**values).returning(verdict_table.c.id)
            ).scalar_one()
            seq = self._matches_written(conn)
            conn.execute(update(verdict_table).where(verdict_table.c.id == new_id).values(seq=seq))
            return replace(verdict, id=int(new_id))

    @once_more_if_disconnected
    def verdicts(
        self, indicator_id: str | None = None, *, limit: int = 100
    ) -> list[tuple[Verdict, StoredEntry]]:
        """Every verdict (of one indicator), newest first, with its entry."""
        query = select(verdict_table, *JUDGED_ENTRY).join(
            entry_table, entry_table.c.id == verdict_table.c.entry_id
        )
        if indicator_id is not None:
            query = query.where(verdict_table.c.indicator_id == indicator_id)
        query = query.order_by(verdict_table.c.id.desc()).limit(limit)
        with self._tx("read verdicts") as conn:
            rows = conn.execute(query).all()
        return [(verdict_of(row), judged_entry(row)) for row in rows]

    @once_more_if_disconnected
    def verdicts_between(self, start: datetime, end: datetime) -> list[tuple[Verdict, str]]:
        """The verdicts given from `start` up to `end` (a digest's span), oldest first, each
        with its entry's title (not its text: a day of labelling gives thousands)."""
        query = (
            select(verdict_table, entry_table.c.title.label("entry_title"))
            .join(entry_table, entry_table.c.id == verdict_table.c.entry_id)
            .where(verdict_table.c.at >= start, verdict_table.c.at < end)
            .order_by(verdict_table.c.id)
        )
        with self._tx("read verdicts") as conn:
            rows = conn.execute(query).all()
        return [(verdict_of(row), row.entry_title or "") for row in rows]

    @once_more_if_disconnected
    def standing_on(self, entry_id: int, indicator_id: str) -> list[Verdict]:
        """The verdicts that stand on one entry as evidence of one indicator's outcomes, one per
        outcome judged, by outcome (`monitor explain --entry` says them)."""
        query = (
            select(verdict_table)
            .where(verdict_table.c.id.in_(latest_verdicts().scalar_subquery()))
            .where(verdict_table.c.entry_id == entry_id)
            .where(verdict_table.c.indicator_id == indicator_id)
            .order_by(verdict_table.c.outcome_id)
        )
        with self._tx("read verdicts") as conn:
            return [verdict_of(row) for row in conn.execute(query).all()]

    @once_more_if_disconnected
    def standing_verdicts(self) -> list[tuple[Verdict, StoredEntry]]:
        """The verdict that stands per (entry, indicator, outcome), with its entry, by entry id
        (for the labeled export)."""
        query = (
            select(verdict_table, *JUDGED_ENTRY)
            .join(entry_table, entry_table.c.id == verdict_table.c.entry_id)
            .where(verdict_table.c.id.in_(latest_verdicts().scalar_subquery()))
            .order_by(verdict_table.c.entry_id, verdict_table.c.id)
        )
        with self._tx("read verdicts") as conn:
            rows = conn.execute(query).all()
        return [(verdict_of(row), judged_entry(row)) for row in rows]


def latest_verdicts() -> Any:
    """Ids of the standing verdicts: the latest per (entry, indicator, outcome)."""
    return select(func.max(verdict_table.c.id)).group_by(
        verdict_table.c.entry_id, verdict_table.c.indicator_id, verdict_table.c.outcome_id
    )


def verdict_of(row: Any) -> Verdict:
    return Verdict(
        entry_id=row.entry_id,
        indicator_id=row.indicator_id,
        outcome_id=row.outcome_id,
        verdict=Judgement(row.verdict),
        who=row.who,
        at=row.at,
        note=row.note,
        id=row.id,
    )


# The entry's columns read with a verdict (its id is the verdict's entry_id).
JUDGED_ENTRY = [
    entry_table.c[name]
    for name in ("feed_id", "guid", "link", "title", "text", "published", "publisher", "time")
]


def judged_entry(row: Any) -> StoredEntry:
    return StoredEntry(row.entry_id, entry_of(row), row.time)
