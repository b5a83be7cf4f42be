"""An alert channel's Retry-After is kept in the database, for every process to heed.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05

- `channel_rest` (channel, not_before): an alert channel that answered 429 or 503 with
  Retry-After, by its key (a hash of its URL, never the URL), and until when no process on
  the database tries it. Each daemon kept this in its memory alone, so another daemon on the
  same PostgreSQL, `monitor check` beside a daemon, or the daemon itself after a restart sent
  the next alert into the rate limit at once. A row whose time has passed is deleted by the
  next write; there is one row per channel at most.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_rest",
        sa.Column("channel", sa.String(), primary_key=True),
        sa.Column("not_before", when(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_rest")
