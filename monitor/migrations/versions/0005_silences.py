"""Silences: append-only `silence` rows and, for one ended early, a `silence_end` row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A silence holds back the alerts and the digest's "what changed" of one indicator (or one of
its outcomes, `outcome_id`; NULL for all) from `created_at` until `until`, with who and why.
Ending it early appends its one `silence_end` row (the silence id is its key): nothing is
updated or deleted. No existing row changes.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.String(), nullable=False),
        sa.Column("outcome_id", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("until", when(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silence_indicator_until", "silence", ["indicator_id", "until"])
    op.create_table(
        "silence_end",
        sa.Column("silence_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", when(), nullable=False),
        sa.Column("ended_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["silence_id"], ["silence.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("silence_id"),
    )


def downgrade() -> None:
    op.drop_table("silence_end")
    op.drop_index("ix_silence_indicator_until", "silence")
    op.drop_table("silence")
