"""A status change keeps every feed that supported no status when it was recorded, whole.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07

- `status_change.unread_feeds` (JSON, `[{"feed", "why", "since", "error"}, ...]`): the feeds
  the indicator read that supported no status then, in the order of the feeds file, each with
  why, since when and its last error whole: what the live indicator's `unread_feeds` says.
  A change kept only its `reason` text, which names three feeds, counts the others
  (`; and 22 more`) and cuts each error at 80 characters, so a change to `unknown` read a week
  later told three feeds of 25.

NULL for the changes recorded before this revision, which keep their `reason` alone: which
feeds were unread then is not known. A daemon of the version before, still running when
another migrates the database, records its changes with NULL too (until it stops: it reads
the schema revision once a tick).

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.add_column(sa.Column("unread_feeds", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.drop_column("unread_feeds")
