"""Cost that follows the news, not the history: the match version is a counter row, matches
carry their entry's time so a window is one index range, the tables retention prunes have the
indexes it and the readers need, and pruned cycles leave their sums behind.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

- `counter`: named counters moved in the transactions they count; `matches` moves with every
  write of matches or verdicts (it replaces PostgreSQL's scan of entry_match and SQLite's
  PRAGMA user_version).
- `entry_match.time`: the entry's time (entries are never rewritten), copied from `entry`;
  `ix_entry_match_indicator_time` (indicator, time, entry) replaces
  `ix_entry_match_indicator_entry`: an indicator's window is one range of it.
- `status_change.evidence_total`: how many evidence items the change had (it stores the top
  ones); changes recorded before keep all of theirs, so their total is their count (0 here:
  readers take the larger of the two). `ix_status_change_indicator_id` serves history pages,
  `ix_status_change_indicator_at` gains the id, so where a window's changes begin is found
  in the index alone.
- `cycle.finished_at` is indexed (/healthz and /metrics read the latest); `cycle_summary`
  holds the sums of the cycles retention deleted (their counts by column name, so a count a
  later revision adds to `cycle` needs no column here).

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    op.create_table(
        "counter",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO counter (name, value) VALUES ('matches', 0)")
    _match_time()
    with op.batch_alter_table("status_change") as batch:
        batch.add_column(
            sa.Column("evidence_total", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("status_change") as batch:  # the models have no server defaults
        batch.alter_column("evidence_total", server_default=None)
    op.create_index("ix_status_change_indicator_id", "status_change", ["indicator_id", "id"])
    op.drop_index("ix_status_change_indicator_at", "status_change")
    op.create_index("ix_status_change_indicator_at", "status_change", ["indicator_id", "at", "id"])
    op.create_index("ix_cycle_finished_at", "cycle", ["finished_at"])
    op.create_table(
        "cycle_summary",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cycles", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("within", sa.JSON(), nullable=False),
    )


def _match_time() -> None:
    """entry_match.time, copied from the entries, then required and indexed."""
    with op.batch_alter_table("entry_match") as batch:
        batch.add_column(sa.Column("time", when(), nullable=True))
    op.execute(
        "UPDATE entry_match SET time ="
        " (SELECT e.time FROM entry e WHERE e.id = entry_match.entry_id)"
    )
    with op.batch_alter_table("entry_match") as batch:
        batch.alter_column("time", existing_type=when(), nullable=False)
        batch.drop_index("ix_entry_match_indicator_entry")
        batch.create_index("ix_entry_match_indicator_time", ["indicator_id", "time", "entry_id"])


def downgrade() -> None:
    op.drop_table("cycle_summary")
    op.drop_index("ix_cycle_finished_at", "cycle")
    op.drop_index("ix_status_change_indicator_id", "status_change")
    op.drop_index("ix_status_change_indicator_at", "status_change")
    op.create_index("ix_status_change_indicator_at", "status_change", ["indicator_id", "at"])
    with op.batch_alter_table("status_change") as batch:
        batch.drop_column("evidence_total")
    with op.batch_alter_table("entry_match") as batch:
        batch.drop_index("ix_entry_match_indicator_time")
        batch.create_index("ix_entry_match_indicator_entry", ["indicator_id", "entry_id"])
        batch.drop_column("time")
    op.drop_table("counter")
