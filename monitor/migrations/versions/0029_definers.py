"""The indicators each checking process has: a removed indicator's monitoring ends once none has it.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06

- `definer`: one row per process that checks (its owner name, as a lease names it), with the
  indicator ids of its definitions (JSON list), when it last noted them (`noted_at`) and until
  when they count (`until`: two check intervals and a cycle's deadline after). Revision 0023
  ended an indicator's monitoring at any check without its file and took the end back at any
  check with it: during a rolling update on PostgreSQL, a daemon with the old files and one with
  the new ones set and cleared `indicator_state.ended_at` in turn, so a past day's digest listed
  the indicator or not depending on which had checked last (while the old daemon still recorded
  its changes). Monitoring now ends when no process's row still in force has the indicator,
  dated by the last such row that had it. Empty at the upgrade: every process notes itself at
  its next check.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "definer",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("noted_at", when(), nullable=False),
        sa.Column("until", when(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )


def downgrade() -> None:
    op.drop_table("definer")
