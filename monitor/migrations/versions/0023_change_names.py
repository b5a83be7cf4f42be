"""A status change keeps the indicator as it was defined; a removed indicator's monitoring ends.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05

- `status_change.indicator_title`, `status_change.indicator_group` (text) and
  `status_change.outcome_labels` (JSON, `[[outcome id, label], ...]`): the indicator's title,
  group and outcome labels when the change was recorded. A change kept only the indicator's id,
  so once its file was removed, a past day's digest left it out of the standing statuses and
  titled its changes by the bare id. NULL for the changes recorded before this revision: what
  their indicators were called then is not known (views fall back to today's definitions, else
  the id).
- `indicator_state.ended_at`: when a check first ran without the indicator's file (monitoring
  it ended), so a past day's digest lists a removed indicator only for the days it was
  monitored; NULL while it is defined. For one removed before this revision it is set by the
  next check: until then, and for the days before it, it counts as monitored.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.add_column(sa.Column("indicator_title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("indicator_group", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outcome_labels", sa.JSON(), nullable=True))
    with op.batch_alter_table("indicator_state") as batch:
        batch.add_column(sa.Column("ended_at", when(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("indicator_state") as batch:
        batch.drop_column("ended_at")
    with op.batch_alter_table("status_change") as batch:
        batch.drop_column("outcome_labels")
        batch.drop_column("indicator_group")
        batch.drop_column("indicator_title")
