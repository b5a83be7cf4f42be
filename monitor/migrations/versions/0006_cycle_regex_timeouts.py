"""A check cycle counts the regex term runs that ran out of their time budget
(`cycle.regex_timeouts`), which /metrics sums as `monitor_regex_timeouts`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Cycles recorded before this revision count none. Written for SQLite and PostgreSQL alike: plain
SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cycle") as batch:
        batch.add_column(
            sa.Column("regex_timeouts", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("cycle") as batch:  # the models have no server defaults
        batch.alter_column("regex_timeouts", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("cycle") as batch:
        batch.drop_column("regex_timeouts")
