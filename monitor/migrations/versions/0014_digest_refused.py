"""A sent digest keeps the recipients the SMTP server refused.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

- `digest.refused`: the recipients the server refused (RCPT TO) when it took the digest for
  the others, `[{"address": …, "answer": "550 5.1.1 no such user"}, …]`; they were only
  logged. Digests sent before keep `[]`.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.add_column(sa.Column("refused", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("digest") as batch:  # the models have no server defaults
        batch.alter_column("refused", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("digest") as batch:
        batch.drop_column("refused")
