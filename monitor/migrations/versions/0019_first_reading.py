"""An indicator keeps when its first reading ended the unknown it began in.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

- `indicator_state.read_at`: when the indicator's first reading, quiet, ended its initial
  `unknown` (a first reading that finds nothing records no change: it is not news). Without
  it, once a later change was recorded nothing said when that unknown ended, and `export
  history`, the page's timeline and the digest's standing status drew the first change's old
  status (`quiet`) back to when monitoring began: claiming feeds were read that never were.

Filled where the stored rows tell it for sure: an indicator `quiet` that has no status change
at all (retention keeps every indicator's latest change, so it never had one) was first read
at its `since`. Elsewhere NULL: the views draw what they drew before.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("indicator_state") as batch:
        batch.add_column(sa.Column("read_at", when(), nullable=True))
    op.execute(
        "UPDATE indicator_state SET read_at = since"
        " WHERE status = 'quiet' AND version > 0 AND started_at IS NOT NULL"
        " AND since > started_at AND NOT EXISTS"
        " (SELECT 1 FROM status_change c WHERE c.indicator_id = indicator_state.indicator_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("indicator_state") as batch:
        batch.drop_column("read_at")
