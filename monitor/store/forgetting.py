"""Forgetting kept stories (`stories.py`) when the matches they were found among are rewritten
(replay) or deleted (retention): their outcomes are then worked out anew from the matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from monitor.store.base import chunks
from monitor.store.schema import (
    outcome_state_table,
    story_frequent_table,
    story_key_table,
    story_table,
)

KEPT = (
    story_table,
    story_key_table,
    story_frequent_table,
    outcome_state_table,
)


def of_outcome(table: Any, outcome: tuple[str, str]) -> tuple[Any, Any]:
    """The WHERE clauses of one outcome's rows of `table`."""
    return (table.c.indicator_id == outcome[0], table.c.outcome_id == outcome[1])


def forget_outcome(conn: Connection, outcome: tuple[str, str]) -> None:
    """Every kept row of one outcome."""
    for table in KEPT:
        conn.execute(delete(table).where(*of_outcome(table, outcome)))


def forget_stories(conn: Connection) -> None:
    """Every kept row of every outcome (matches were rewritten)."""
    for table in KEPT:
        conn.execute(delete(table))


def forget_stories_of(conn: Connection, entry_ids: Sequence[int]) -> None:
    """The kept rows of the outcomes with a story among `entry_ids` (deleted entries)."""
    outcomes: set[tuple[str, str]] = set()
    for chunk in chunks(entry_ids):
        pairs = select(story_table.c.indicator_id, story_table.c.outcome_id).where(
            story_table.c.entry_id.in_(chunk)
        )
        outcomes.update((row.indicator_id, row.outcome_id) for row in conn.execute(pairs))
    for outcome in outcomes:
        forget_outcome(conn, outcome)
