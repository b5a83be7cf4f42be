"""Status changes are alerted durably (an outbox on status_change); indicators remember when
monitoring them began (`indicator_state.started_at`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

A change waits for its alert while `notified_at` is NULL; a daemon claims it (`notify_owner`
until `notify_until`), sends it, and sets `notified_at` only once every channel accepted it
(`notify_done` keeps those that did, so a retry sends only to the others); a failed try counts
in `notify_attempts` and backs off until `notify_after`. Changes recorded before this revision
count as alerted: upgrading sends no history.

A change to `unknown` records why ("feeds not read: …") in `status_change.reason`, the column
revision 0003 added for verdicts.

Written for SQLite and PostgreSQL alike: plain SQLAlchemy types (no monitor imports).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTBOX = (
    "notified_at",
    "notify_attempts",
    "notify_after",
    "notify_owner",
    "notify_until",
    "notify_error",
    "notify_done",
)


def when() -> sa.types.TypeEngine[Any]:
    """store.UTCDateTime: timestamptz on PostgreSQL, "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite."""
    return sa.DateTime(timezone=True).with_variant(sa.String(26), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("status_change") as batch:
        batch.add_column(sa.Column("notified_at", when(), nullable=True))
        batch.add_column(
            sa.Column("notify_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("notify_after", when(), nullable=True))
        batch.add_column(sa.Column("notify_owner", sa.String(), nullable=True))
        batch.add_column(sa.Column("notify_until", when(), nullable=True))
        batch.add_column(sa.Column("notify_error", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("notify_done", sa.JSON(), nullable=False, server_default="[]"))
        batch.create_index("ix_status_change_notified_at", ["notified_at"])
    status_change = sa.table("status_change", sa.column("at", when()), sa.column("notified_at"))
    op.execute(status_change.update().values(notified_at=status_change.c.at))
    with op.batch_alter_table("status_change") as batch:  # the models have no server defaults
        for name in ("notify_attempts", "notify_error", "notify_done"):
            batch.alter_column(name, server_default=None)
    _started_at()


def _started_at() -> None:
    """indicator_state.started_at: when monitoring an indicator began; for those monitored
    already, their first recorded change, or the time of their state when it has none."""
    with op.batch_alter_table("indicator_state") as batch:
        batch.add_column(sa.Column("started_at", when(), nullable=True))
    op.execute("UPDATE indicator_state SET started_at = since")
    op.execute(
        "UPDATE indicator_state SET started_at = (SELECT min(c.at) FROM status_change c"
        " WHERE c.indicator_id = indicator_state.indicator_id) WHERE EXISTS (SELECT 1 FROM"
        " status_change c WHERE c.indicator_id = indicator_state.indicator_id"
        " AND c.at < indicator_state.since)"
    )


def downgrade() -> None:
    with op.batch_alter_table("indicator_state") as batch:
        batch.drop_column("started_at")
    with op.batch_alter_table("status_change") as batch:
        batch.drop_index("ix_status_change_notified_at")
        for name in _OUTBOX:
            batch.drop_column(name)
