"""The keys of entries retention deleted, so a feed that still carries one does not bring it
back as news.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

- `forgotten_entry` (key, offered_at): an entry's key as retention deletes it, with when a feed
  last offered it since (at first the time of the deletion). New entries under such a key are
  not stored; the key leaves one retention period after it was last offered.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    op.create_table(
        "forgotten_entry",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("offered_at", when(), nullable=False),
    )
    op.create_index("ix_forgotten_entry_offered_at", "forgotten_entry", ["offered_at"])


def downgrade() -> None:
    op.drop_index("ix_forgotten_entry_offered_at", "forgotten_entry")
    op.drop_table("forgotten_entry")
