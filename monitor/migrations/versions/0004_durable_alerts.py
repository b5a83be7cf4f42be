"""Status changes say why (`reason`), and are alerted durably (`notified_at` and the claim).

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02

A change to `unknown` records why ("feeds not read: …") in `status_change.reason`. That column
is also added by revision 0003 (verdicts), on another branch: this revision adds it only when
it is missing, so it serves both orders of merging.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_reason() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("status_change")
    return any(column["name"] == "reason" for column in columns)


def upgrade() -> None:
    if not _has_reason():
        with op.batch_alter_table("status_change") as batch:
            batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    if _has_reason():
        with op.batch_alter_table("status_change") as batch:
            batch.drop_column("reason")
