"""A feed keeps the warning of the body last read.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

- `feed.warning`: why the body last read was not right, though readable (ill-formed XML that
  was recovered from, bytes that are not UTF-8 replaced, items left out under another story's
  guid, a charset guessed): "" when it was right. It was only logged, so a feed losing half its
  items, or read as mojibake in a guessed charset, looked healthy in `/feeds` and on the page.
  Every feed's validators (ETag, Last-Modified, the body's hash) are forgotten, so that its
  next check reads its body whole and sets its warning: a 304 or an unchanged body is not read.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports). It adds
one column and reads no other revision's, so it can follow any revision that keeps the feed
table (set `down_revision` to re-chain it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("warning", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("feed") as batch:  # the models have no server defaults
        batch.alter_column("warning", server_default=None)
    op.execute("UPDATE feed SET etag = NULL, last_modified = NULL, body_hash = NULL")


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("warning")
