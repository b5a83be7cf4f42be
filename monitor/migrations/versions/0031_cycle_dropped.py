"""A check cycle counts the reads it left out (`cycle.dropped`): their feed was given another URL,
or its lease was taken by another process, while they were under way; /metrics sums them as
`monitor_fetches{result="dropped"}`.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05

Cycles recorded before this revision count none (they counted such reads as checked). Written
for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cycle") as batch:
        batch.add_column(sa.Column("dropped", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("cycle") as batch:  # the models have no server defaults
        batch.alter_column("dropped", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("cycle") as batch:
        batch.drop_column("dropped")
