"""A digest keeps up to when it listed changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

- `digest.covered_until`: the end of the digest's "What changed" (when its message was built,
  or the next day's digest time for a past day's digest). The next digest lists the changes
  from there; it started from `sent_at`, so a change recorded while a digest was being sent
  (a slow server, the retries) was in no digest. Digests sent before keep NULL: `sent_at`.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.add_column(sa.Column("covered_until", when(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.drop_column("covered_until")
