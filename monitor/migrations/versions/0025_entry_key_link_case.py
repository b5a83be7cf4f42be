"""An item keyed by its link is keyed by it with its scheme and host in any case.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05

An item without a guid is keyed by its link (`domain.entry_key`), which is now read as copies
of a story read it (`links.link_identity`): its scheme and host in lower case, a Unicode host
in its IDNA form, without the scheme's default port; the rest as written. Before, a feed that
wrote `HTTPS://Wire.Example.COM:443/a` at one read and `https://wire.example.com/a` at the next
had the item stored twice. This revision gives the stored entries whose key changes their new
key (an entry stored under its reused key, a later story under an earlier one's link, its new
reused key), oldest first: an entry whose new key another holds already (the item stored
twice by the older code) keeps its key, which nothing is offered under any more. The other
entries keep theirs: a link already in that form keeps its key, as does an item with a guid.

The keys of deleted entries (`forgotten_entry`) are digests of links no longer stored, so
they cannot be worked out again here: a feed offering such an item again has it found under
the older key and kept under the new one from then on (`store/oldkeys.py`).

The formulas are repeated here rather than imported: a revision must keep doing what it did
when it was written, whatever monitor's code later becomes. The downgrade gives those entries
their older key back where it is free.
"""

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000  # entries read at a time
WORDS = re.compile(r"\w+")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
PLAIN = re.compile(r"[a-z][a-z0-9+.-]*://[a-z0-9._~!$&'()*+,;=%@-]*(?:[/?#]|\Z)")
AUTHORITY_END = re.compile(r"[/?#]")
DEFAULT_PORTS = {"http": 80, "https": 443}


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


def link_identity(link: str) -> str:
    """links.link_identity as of this revision."""
    if PLAIN.match(link):
        return link
    scheme, sep, rest = link.partition("://")
    if not sep or not SCHEME.fullmatch(scheme):
        return link
    end = AUTHORITY_END.search(rest)
    cut = end.start() if end else len(rest)
    scheme = scheme.lower()
    userinfo, at, hostport = rest[:cut].rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if not colon or "]" in port or (port and not port.isdigit()):
        host, port = hostport, ""
    elif not port or int(port) == DEFAULT_PORTS.get(scheme):
        port = ""
    if host.isascii():
        host = host.lower()
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            host = host.lower()
    return f"{scheme}://{userinfo}{at}{host}{':' if port else ''}{port}{rest[cut:]}"


def upgrade() -> None:
    _rekey(newer=True)


def downgrade() -> None:
    _rekey(newer=False)


def _rekey(*, newer: bool) -> None:
    """Give each entry keyed by a link that `link_identity` reads otherwise the key of the
    formula `newer` (or the older one) where no other entry holds it, oldest first."""
    conn = op.get_bind()
    names = ("id", "feed_id", "link", "title", "key")
    entry = sa.table("entry", *(sa.column(name) for name in (*names, "guid")))
    read = (
        sa.select(*(entry.c[name] for name in names))
        .where(
            entry.c.id > sa.bindparam("after"),
            entry.c.link != "",
            sa.or_(entry.c.guid == "", entry.c.guid == entry.c.link),
        )
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
        moved: dict[str, int] = {}  # new key -> entry id, the first one to take it
        for id_, feed_id, link, title, key in rows:
            if (target := _moved_key(feed_id, link, title, key, newer=newer)) is not None:
                moved.setdefault(target, id_)
        if moved:
            taken = sa.select(entry.c.key).where(
                entry.c.key.in_(sa.bindparam("keys", expanding=True))
            )
            held = set(conn.execute(taken, {"keys": sorted(moved)}).scalars())
            keys = [{"entry_id": i, "new_key": k} for k, i in moved.items() if k not in held]
            if keys:
                conn.execute(write, keys)
        after = rows[-1].id


def _moved_key(feed_id: str, link: str, title: str, key: str, *, newer: bool) -> str | None:
    """The key an entry keyed by `link` (or reused under it) gets; None when it keeps its."""
    read = link_identity(link)
    if read == link:
        return None
    older, newest = digest_of(feed_id, link), digest_of(feed_id, read)
    was, becomes = (older, newest) if newer else (newest, older)
    if key == was:
        return becomes
    headline = headline_digest(title)
    if headline and key == digest_of(was, headline):
        return digest_of(becomes, headline)
    return None
