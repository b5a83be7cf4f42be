"""Links compared with their scheme and host in lower case.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05

Copies of one story are found by the link they share (`stories._link_key`), which now reads a
link's scheme and host in lower case (a Unicode host in its IDNA form) and without the scheme's
default port: `HTTPS://Example.COM:443/a` and `https://example.com/a` are one link (the path and
the query are compared as written). A kept story is found under its link's key (`story_key`),
worked out from the link as written: a later copy under the same link would no longer find it,
and would count as a story of its own. So the outcomes with a kept story whose link is read
otherwise now forget their kept stories, and the next evaluation works them out anew from their
matches, as a full evaluation does (copies counted twice before count once from then on). The
others keep theirs: a link whose scheme and host are in lower case ASCII, without a port, keeps
its key. The downgrade forgets the same outcomes (the older code keys those links as written).

Written for SQLite and PostgreSQL alike: plain SQL (no monitor imports).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What users see change after this revision: `monitor db upgrade` names it (`migrate.notices`).
NOTICE = """the outcomes keeping a story under a link with an upper-case or non-ASCII scheme or
host, or a port, are worked out again at the first check after the upgrade: a story counted
twice under two spellings of its link counts once (fewer stories shown; a level rarely moves)"""

_KEPT = ("story_frequent", "story_key", "story", "outcome_state")  # children first
_URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")  # what the comparison may read otherwise…
# …unless its scheme and host are already in the form it reads them in (no upper case, ASCII,
# no port): an over-approximation of the links it reads otherwise, which only costs a re-working
_PLAIN = re.compile(r"\s*[a-z][a-z0-9+.-]*://[a-z0-9._~!$&'()*+,;=%@-]*(?:[/?#]|\s*$)")


def upgrade() -> None:
    _forget_outcomes_with_links_read_otherwise()


def downgrade() -> None:
    _forget_outcomes_with_links_read_otherwise()


def _forget_outcomes_with_links_read_otherwise() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT indicator_id, outcome_id, link FROM story"))
    outcomes = sorted(
        {(i, o) for i, o, link in rows if _URL.match(link) and not _PLAIN.match(link)}
    )
    if not outcomes:
        return
    params = [{"i": i, "o": o} for i, o in outcomes]
    for table in _KEPT:
        statement = f"DELETE FROM {table} WHERE indicator_id = :i AND outcome_id = :o"
        conn.execute(sa.text(statement), params)
