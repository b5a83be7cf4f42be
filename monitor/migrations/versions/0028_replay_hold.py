"""A replay rewrites the matches a batch at a time, holding the evaluations meanwhile.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06

- `replay` (id, since, owner, lease_until): at most one row (id 1), there while a
  `monitor replay` rewrites the stored matches from `since` on, a batch per transaction. The
  writers' evaluations record nothing while it is there (the matches are half old, half new),
  and a replay that stopped half way leaves it, so that nothing reads the half-rewritten matches
  until a replay finishes the rewrite (one may take it over once `lease_until` has passed).

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    op.create_table(
        "replay",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("since", _when(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("lease_until", _when(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("replay")
