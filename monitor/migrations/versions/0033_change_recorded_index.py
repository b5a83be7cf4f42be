"""The Atom feeds go by when a change was recorded, read through indexes on it.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05

- `ix_status_change_recorded_at` (recorded_at, id) and `ix_status_change_indicator_recorded`
  (indicator, recorded_at, id). A change to `unknown` is dated (`at`) when the feeds stopped
  supporting the status, hours or days before a check records it. The feeds picked their
  latest changes, and dated each entry's `updated`, by `at`: such a change came out with an
  `updated` in the past, sorted below older entries, or not at all once the feed's 50 latest
  were all dated after it. They now go by `recorded_at` (or the end of the silence that held
  the change): every indicator's feed reads backwards through the first index, one
  indicator's feed and what a silence held through a range of the second.

Written for SQLite and PostgreSQL alike (no monitor imports).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_status_change_recorded_at", "status_change", ["recorded_at", "id"])
    columns = ["indicator_id", "recorded_at", "id"]
    op.create_index("ix_status_change_indicator_recorded", "status_change", columns)


def downgrade() -> None:
    op.drop_index("ix_status_change_indicator_recorded", "status_change")
    op.drop_index("ix_status_change_recorded_at", "status_change")
