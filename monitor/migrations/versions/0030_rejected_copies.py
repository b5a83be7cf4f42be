"""A `no` verdict takes the entry's copies out too: the kept stories of outcomes with one go.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05

An analyst's `no` on an entry now rejects every copy of it (`stories.copy_test`), where it
rejected the entry alone. The stories kept between evaluations (`story`, `story_key`,
`story_frequent`, `outcome_state`) of an outcome with a `no` verdict were found without that
rule, so such an outcome could keep a copy of a rejected entry as evidence until something
else made it worked out anew. This revision deletes those outcomes' kept rows: the next
evaluation works them out anew from their matches (an outcome with no `outcome_state` row is),
with the rule. The downgrade leaves the tables as they are (the older code works the outcomes
out anew as well, by its own rule).

Plain SQL for SQLite and PostgreSQL alike (no monitor imports).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What users see change after this revision: `monitor db upgrade` names it (`migrate.notices`).
NOTICE = """the outcomes with a `no` verdict are worked out again at the first check after the
upgrade, the copies of each rejected entry left out of their evidence: a level may drop (a
recorded change, alerted as any other)"""

KEPT = ("story", "story_key", "story_frequent", "outcome_state")


def upgrade() -> None:
    for table in KEPT:
        op.execute(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM verdict AS v "
            f"WHERE v.verdict = 'no' AND v.indicator_id = {table}.indicator_id "
            f"AND v.outcome_id = {table}.outcome_id)"
        )


def downgrade() -> None:
    pass
