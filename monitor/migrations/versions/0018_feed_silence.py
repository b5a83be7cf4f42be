"""A feed keeps when it last brought a new entry, and how long it may bring none.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

- `feed.last_new_at`: when a check last stored a new entry of the feed; for a feed that has
  brought none, its first successful read (silence counts from there); NULL while it was never
  read. A feed an outlet gave up but still serves (the same body for ever, a 304 at every
  check) was read successfully at every check, so it looked healthy and its indicators `quiet`.
- `feed.silent_after_seconds`: how long the feed may bring no new entry before it is shown
  silent (its `silent_after`, else MONITOR_FEED_SILENT_AFTER, as the daemon last synced the
  feeds file); 0: never.

Each feed's `last_new_at` is the newest `first_seen` of its stored entries (one pass over the
entry table, grouped by feed); NULL for a feed with none (never read, or none kept): its next
successful read sets it. `silent_after_seconds` is 14 days until the next start syncs it.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_SILENT_AFTER = 14 * 86400  # MONITOR_FEED_SILENT_AFTER's default


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("last_new_at", when(), nullable=True))
        batch.add_column(
            sa.Column(
                "silent_after_seconds",
                sa.Integer(),
                nullable=False,
                server_default=str(DEFAULT_SILENT_AFTER),
            )
        )
    with op.batch_alter_table("feed") as batch:  # the models have no server defaults
        batch.alter_column("silent_after_seconds", server_default=None)
    conn = op.get_bind()
    newest = conn.execute(
        sa.text("SELECT feed_id, max(first_seen) FROM entry GROUP BY feed_id")
    ).all()  # as stored: timestamptz, or SQLite's text in UTCDateTime's form
    if newest:
        conn.execute(
            sa.text("UPDATE feed SET last_new_at = :at WHERE id = :id"),
            [{"id": feed_id, "at": at} for feed_id, at in newest],
        )


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("silent_after_seconds")
        batch.drop_column("last_new_at")
