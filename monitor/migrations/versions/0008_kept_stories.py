"""Incremental evaluation: stories kept between evaluations, and which matches and verdicts
came since.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

- `entry_match.seq`, `verdict.seq`: the match version (`counter.matches`) the transaction that
  wrote the row moved it to (0 for rows written before: the kept stories start empty, so every
  outcome is worked out from its matches at the first evaluation);
- `outcome_state`, `story`, `story_key`, `story_frequent`: per outcome, what its stories were
  worked out over and its sources (stories per publisher), the first copy of each story inside
  its window, the keys it is found under, and the shingles keyed last; the `evaluated` counter
  is the match version they are at.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def _outcome() -> list[sa.Column[Any]]:
    return [
        sa.Column("indicator_id", sa.String(), primary_key=True),
        sa.Column("outcome_id", sa.String(), primary_key=True),
    ]


def upgrade() -> None:
    for table in ("entry_match", "verdict"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
        with op.batch_alter_table(table) as batch:  # the models have no server defaults
            batch.alter_column("seq", server_default=None)
        op.create_index(f"ix_{table}_seq", table, ["seq"])
    op.create_table(
        "outcome_state",
        *_outcome(),
        sa.Column("definition_hash", sa.String(), nullable=False),
        sa.Column("cutoff", when(), nullable=False),
        sa.Column("last_time", when(), nullable=True),
        sa.Column("last_entry", sa.Integer(), nullable=False),
        sa.Column("stories", sa.Integer(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
    )
    op.create_table(
        "story",
        *_outcome(),
        sa.Column("entry_id", sa.Integer(), primary_key=True),
        sa.Column("time", when(), nullable=False),
        sa.Column("publisher", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("judged", sa.String(), nullable=False),
        sa.Column("copies_until", when(), nullable=True),
    )
    op.create_index(
        "ix_story_outcome_time", "story", ["indicator_id", "outcome_id", "time", "entry_id"]
    )
    op.create_index("ix_story_indicator_time", "story", ["indicator_id", "time"])
    op.create_table(
        "story_key",
        *_outcome(),
        sa.Column("key", sa.BigInteger(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), primary_key=True),
    )
    op.create_index("ix_story_key_story", "story_key", ["indicator_id", "outcome_id", "entry_id"])
    op.create_table(
        "story_frequent",
        *_outcome(),
        sa.Column("key", sa.BigInteger(), primary_key=True),
    )


def downgrade() -> None:
    for table in ("story_frequent", "story_key", "story", "outcome_state"):
        op.drop_table(table)
    op.execute("DELETE FROM counter WHERE name = 'evaluated'")
    for table in ("verdict", "entry_match"):
        op.drop_index(f"ix_{table}_seq", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seq")
