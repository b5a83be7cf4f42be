"""A status change keeps when it was recorded, so a silence holds what is recorded while it is
in force, whatever moment the change is dated.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05

- `status_change.recorded_at`: when the row was written. A change to `unknown` is dated
  (`at`) when the feeds stopped supporting the status, and a check's changes when its cycle
  began: a `monitor check` after a while without checks recorded `quiet -> unknown`, dated
  before a silence began, after it began. The silence held the recovery recorded in the same
  check and let the `unknown` through (its alert sent, listed in the digest). A silence now
  holds the changes recorded while it is in force (`recorded_at`). What a silence held is
  read on the index (indicator, at), up to its end: a change is never dated after it is
  recorded.

The changes recorded before this revision are taken to be recorded when they are dated (`at`):
that is what silences held them by until now.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor
imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.add_column(sa.Column("recorded_at", when(), nullable=True))
    op.execute("UPDATE status_change SET recorded_at = at")
    with op.batch_alter_table("status_change") as batch:
        batch.alter_column("recorded_at", existing_type=when(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.drop_column("recorded_at")
