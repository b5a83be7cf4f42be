"""An item offered again under a new guid (or tracking parameter) is not stored again.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

- `entry.item_key` (indexed): the digest of the entry's feed, its link without tracking
  parameters (`utm_*`, `sid`, a session id...), its headline's digest and its text
  (`domain.item_key`); NULL for an entry without a link. Some CMSs write a new guid, or a new
  session parameter into the link, for every item at every request: each check stored every
  item of such a feed again, as new entries that kept the feed from ever going silent. An item
  whose key is new but whose item key is stored is that entry. This revision works out the item
  key of every stored entry, a batch at a time, so the next check already knows them.

The formulas are repeated here rather than imported: a revision must keep doing what it did
when it was written, whatever monitor's code later becomes.
"""

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000  # entries read and rewritten at a time
TRACKING_PARAMETERS = frozenset(
    ("sid", "sessionid", "session_id", "phpsessid", "jsessionid", "fbclid", "gclid", "mc_cid")
)
SESSION_IN_PATH = re.compile(r";jsessionid=[^/?#]*", re.IGNORECASE)
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


def untracked(link: str) -> str:
    """domain.untracked as of this revision."""
    link = SESSION_IN_PATH.sub("", link)
    base, mark, rest = link.partition("?")
    if not mark:
        return link
    query, hash_, fragment = rest.partition("#")
    kept = [
        part
        for part in query.split("&")
        if part
        and not (
            (name := part.partition("=")[0].lower()) in TRACKING_PARAMETERS
            or name.startswith("utm_")
        )
    ]
    return base + ("?" + "&".join(kept) if kept else "") + hash_ + fragment


def item_key(feed_id: str, link: str, title: str, text: str) -> str | None:
    """domain.item_key as of this revision (None for its "")."""
    if not link:
        return None
    return digest_of(feed_id, untracked(link), headline_digest(title), text)


def upgrade() -> None:
    with op.batch_alter_table("entry") as batch:
        batch.add_column(sa.Column("item_key", sa.String(), nullable=True))
    op.create_index("ix_entry_item_key", "entry", ["item_key"])
    conn = op.get_bind()
    names = ("id", "feed_id", "link", "title", "text", "item_key")
    entry = sa.table("entry", *(sa.column(name) for name in names))
    read = (
        sa.select(*(entry.c[name] for name in names[:-1]))
        .where(entry.c.id > sa.bindparam("after"))
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
            {"entry_id": id_, "new_item_key": item_key(feed_id, link, title, text)}
            for id_, feed_id, link, title, text in rows
            if link
        ]
        if keys:
            conn.execute(write, keys)
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_entry_item_key", "entry")
    with op.batch_alter_table("entry") as batch:
        batch.drop_column("item_key")
