"""A sent digest keeps when its temporarily refused recipients are tried again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

- `digest.resend_at`: when the daemon next sends the digest again to the recipients the server
  refused with a temporary (4xx) answer, greylisting's "450 try again later"; NULL: none
  pending (none refused so, taken since, or tried the last time). Its claim moves it on.
- `digest.resends`: how many times it was sent again so far (0 for a digest just sent).

Digests sent before keep NULL and 0: a refusal recorded before this version is not retried.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.add_column(sa.Column("resend_at", when(), nullable=True))
        batch.add_column(sa.Column("resends", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("digest") as batch:  # the models have no server defaults
        batch.alter_column("resends", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.drop_column("resends")
        batch.drop_column("resend_at")
