"""A publisher with a Unicode host in its IDNA form.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05

A source is the publisher, the registrable domain of an article's link (`parse.publisher_of`),
which now reads a Unicode host in its IDNA form: `bücher.de` and `xn--bcher-kva.de` are one
host, so one source (sources count toward corroboration). This revision gives the stored
entries with a publisher not in ASCII that form, and has the outcomes keeping a story of such a
publisher (their sources are kept per publisher) forget their kept stories, so the next
evaluation works them out anew from their matches, as a full evaluation does. The downgrade
leaves the publishers in their IDNA form (the older code counts both forms, each as written).

Written for SQLite and PostgreSQL alike: plain SQL (no monitor imports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What users see change after this revision: `monitor db upgrade` names it (`migrate.notices`).
NOTICE = """the outcomes keeping a story of a publisher with a non-ASCII host are worked out
again at the first check after the upgrade: a host counted as two sources (once written each
way) counts as one, so a level may drop from confirmed to reported (a recorded change, alerted
as any other)"""

_KEPT = ("story_frequent", "story_key", "story", "outcome_state")  # children first


def host_key(host: str) -> str:
    """links.host_key as of this revision."""
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def upgrade() -> None:
    conn = op.get_bind()
    found = conn.execute(sa.text("SELECT DISTINCT publisher FROM entry")).scalars()
    renamed = [
        {"old": name, "new": host_key(name)}
        for name in found
        if name and not name.isascii() and host_key(name) != name
    ]
    if renamed:
        statement = "UPDATE entry SET publisher = :new WHERE publisher = :old"
        conn.execute(sa.text(statement), renamed)
    rows = conn.execute(sa.text("SELECT DISTINCT indicator_id, outcome_id, publisher FROM story"))
    outcomes = sorted({(i, o) for i, o, publisher in rows if not publisher.isascii()})
    params = [{"i": i, "o": o} for i, o in outcomes]
    for table in _KEPT if params else ():
        statement = f"DELETE FROM {table} WHERE indicator_id = :i AND outcome_id = :o"
        conn.execute(sa.text(statement), params)


def downgrade() -> None:
    pass
