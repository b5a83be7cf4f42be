"""Analysts' verdicts: an append-only `verdict` table, and the reason of a status change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

A verdict says whether one stored entry is evidence of one outcome of one indicator (`yes` or
`no`), who said so, when and why; the latest per (entry, indicator, outcome) stands. A status
change that a verdict caused names it in the new nullable `status_change.reason` (changes
recorded by checks and replays leave it null). No existing row changes.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    op.create_table(
        "verdict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.String(), nullable=False),
        sa.Column("outcome_id", sa.String(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("at", when(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entry.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_verdict_indicator_entry", "verdict", ["indicator_id", "entry_id"])
    op.create_index("ix_verdict_entry_id", "verdict", ["entry_id"])
    with op.batch_alter_table("status_change") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.drop_column("reason")
    op.drop_index("ix_verdict_entry_id", "verdict")
    op.drop_index("ix_verdict_indicator_entry", "verdict")
    op.drop_table("verdict")
