"""Forgetting kept stories (`stories.py`) when the matches they were found among are rewritten
(replay) or deleted (retention): their outcomes are then worked out anew from the matches. And
the lock that orders the evaluations (`hold_evaluations`), which a rewrite or a deletion of
matches takes too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from monitor.store.base import chunks
from monitor.store.schema import (
    counter_table,
    outcome_state_table,
    story_frequent_table,
    story_key_table,
    story_table,
)

EVALUATED = "evaluated"  # the counter: the match version the kept stories are at

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


def hold_evaluations(conn: Connection, insert: Any) -> None:
    """Take the `evaluated` counter's row (made if missing) until the transaction ends: an
    evaluation holds it while it checks that the matches and kept stories are those it worked
    its stories out from (`StoryReading.basis`) and writes them, and a replay's rewrite of the
    matches and retention's deletion of matched entries hold it too, so that they are
    committed between two evaluations' writes, never while one writes (which would write, after
    the rewrite or deletion forgot them, stories found among matches it deleted, and counts of
    stories no longer kept). Taken first in a transaction, before any row lock,
    so the takers never wait for each other in a circle. SQLite's writer holds the write lock
    anyway."""
    statement = insert(counter_table).values(name=EVALUATED, value=0)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(counter_table.c.value).where(counter_table.c.name == EVALUATED).with_for_update()
        )
