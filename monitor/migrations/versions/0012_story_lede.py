"""A kept story keeps its lede.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

- `story.lede`: the first 200 characters of the story's text (`domain.LEDE_CHARS`). Copies of
  a story are also found by their ledes (an outlet that runs a wire story under its own
  headline keeps the lede), so a kept story needs its own; its keys (`story_key`) gain the
  lede's. The stories kept so far are forgotten: every outcome is worked out again from its
  matches at the next evaluation, with the ledes.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What users see change after this revision: `monitor db upgrade` names it (`migrate.notices`).
NOTICE = """every outcome's stories are worked out again at the first check after the upgrade,
copies now also found by their ledes: an outcome whose sources were copies of one wire story
under other headlines goes from confirmed to reported (a recorded change, alerted as any other)"""

_KEPT = ("story_frequent", "story_key", "story", "outcome_state")  # children first


def upgrade() -> None:
    for table in _KEPT:
        op.execute(f"DELETE FROM {table}")
    with op.batch_alter_table("story") as batch:
        batch.add_column(sa.Column("lede", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("story") as batch:  # the models have no server defaults
        batch.alter_column("lede", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("story") as batch:
        batch.drop_column("lede")
