"""A forgotten entry's key keeps a hash of its headline.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

- `forgotten_entry.headline`: a short hash of the deleted entry's headline
  (`domain.headline_digest`). An item a feed offers under a forgotten key (its guid, or link)
  with another headline is another story, stored as news: some CMSs reuse a guid or a link for
  a later story. Keys forgotten before this revision have none (NULL): whatever is offered
  under them is left out, as before, until they are forgotten in their turn.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forgotten_entry") as batch:
        batch.add_column(sa.Column("headline", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forgotten_entry") as batch:
        batch.drop_column("headline")
