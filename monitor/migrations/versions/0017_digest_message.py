"""A sent digest keeps the message that went out.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

- `digest.message`: the whole RFC 5322 message as it was sent (bytes); a resend to the
  recipients refused with a 4xx answer sends it again as it is, and `monitor digest --preview
  --date D` shows it, instead of building the digest again (which could differ: statuses
  worked out live, feed health as of then, and so its Message-ID).

Digests sent before keep NULL: seen again, they are built again as before.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.drop_column("message")
