"""Status changes retention deletes stay counted.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

- `change_summary` (indicator, changes): per indicator, how many of its status changes
  retention deleted, added in the transaction that deletes them. /metrics counts
  `monitor_status_changes_total` as the changes stored plus these, so it no longer goes down
  after a clean-up (Prometheus took each drop for a counter reset). The changes deleted before
  this revision are not known any more: the counts go on from the changes kept.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_summary",
        sa.Column("indicator_id", sa.String(), primary_key=True),
        sa.Column("changes", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("change_summary")
