"""An entry's key names its feed: the same article in two feeds is two entries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Before, `entry.key` was the digest of the item's guid (else link, else title and text) alone,
so an article in two feeds was stored once, under the feed that brought it first, and only
the indicators reading that feed ever saw it. Now it is the digest of the feed's id and that
identity (`domain.entry_key`). This revision recomputes the key of every stored entry, a batch
at a time, so that the next cycle recognises what is already stored; ids do not change, so
matches stay attached. No column changes. Every new key is distinct (each row's feed id and
identity were), so rewriting them one by one never trips the unique constraint.

It also forgets every feed's validators (ETag, Last-Modified, body hash), so that each feed's
next fetch is whole and parsed: the articles a feed carries that were stored under another
feed become its entries at once, not only when its body next changes. Its own items are
found by their new keys and not stored again.

The formula is repeated here rather than imported: a revision must keep doing what it did
when it was written, whatever monitor's code later becomes.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What users see change after this revision: `monitor db upgrade` names it (`migrate.notices`).
NOTICE = """each feed is read whole at its next check, and the articles it carries that were
stored under another feed become its entries then: an indicator reading it may gain evidence,
and its status move (a recorded change, alerted as any other)"""

BATCH = 2_000  # entries read and rewritten at a time


def digest_of(*parts: str) -> str:
    """domain.digest_of as of this revision."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def key_of(feed_id: str, guid: str, link: str, title: str, text: str) -> str:
    """domain.entry_key as of this revision."""
    return digest_of(feed_id, guid or link or (title + "\n" + text))


def upgrade() -> None:
    conn = op.get_bind()
    entry = sa.table(
        "entry",
        *(sa.column(name) for name in ("id", "key", "feed_id", "guid", "link", "title", "text")),
    )
    read = (
        sa.select(*(entry.c[name] for name in ("id", "feed_id", "guid", "link", "title", "text")))
        .where(entry.c.id > sa.bindparam("after"))
        .order_by(entry.c.id)
        .limit(BATCH)
    )
    write = (
        sa.update(entry)
        .where(entry.c.id == sa.bindparam("entry_id"))
        .values(key=sa.bindparam("new_key"))
    )
    after = 0
    while rows := conn.execute(read, {"after": after}).all():
        keys = [
            {"entry_id": id_, "new_key": key_of(feed_id, guid, link, title, text)}
            for id_, feed_id, guid, link, title, text in rows
        ]
        conn.execute(write, keys)
        after = rows[-1].id
    feed = sa.table("feed", sa.column("etag"), sa.column("last_modified"), sa.column("body_hash"))
    conn.execute(sa.update(feed).values(etag=None, last_modified=None, body_hash=None))


def downgrade() -> None:
    raise NotImplementedError(
        "0002 cannot be undone: an article stored from two feeds would need its copies merged"
    )
