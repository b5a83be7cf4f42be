"""An item without a link is known by its headline and text under a new guid.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05

`entry.item_key` (revision 0022) was NULL for an entry without a link, so a feed without links
whose CMS writes a new guid for every item at every request had every item stored again at
every check. Such an item's item key is now the digest of its feed, its headline's digest and
its text (`domain.item_key`; an item with no word of headline keeps none: its text alone tells
too little). This revision works it out for the stored entries without a link, a batch at a
time, so the next check already knows them. The downgrade leaves them (the older code never
offers an item key without a link, so they find nothing).

The formulas are repeated here rather than imported: a revision must keep doing what it did
when it was written, whatever monitor's code later becomes.
"""

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000  # entries read and rewritten at a time
WORDS = re.compile(r"\w+")


def digest_of(*parts: str) -> str:
    """domain.digest_of as of this revision."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def headline_digest(title: str) -> str:
    """domain.headline_digest as of this revision."""
    words = WORDS.findall(unicodedata.normalize("NFKC", title).casefold())
    return digest_of(" ".join(words))[:16] if words else ""


def upgrade() -> None:
    conn = op.get_bind()
    names = ("id", "feed_id", "title", "text")
    entry = sa.table("entry", *(sa.column(name) for name in (*names, "link", "item_key")))
    read = (
        sa.select(*(entry.c[name] for name in names))
        .where(entry.c.id > sa.bindparam("after"), entry.c.link == "", entry.c.item_key.is_(None))
        .order_by(entry.c.id)
        .limit(BATCH)
    )
    write = (
        sa.update(entry)
        .where(entry.c.id == sa.bindparam("entry_id"))
        .values(item_key=sa.bindparam("new_item_key"))
    )
    after = 0
    while rows := conn.execute(read, {"after": after}).all():
        keys = [
            {"entry_id": id_, "new_item_key": digest_of(feed_id, "", headline, text)}
            for id_, feed_id, title, text in rows
            if (headline := headline_digest(title))
        ]
        if keys:
            conn.execute(write, keys)
        after = rows[-1].id


def downgrade() -> None:
    pass
