"""An item of a feed (`Entry`) and how it is known: its key (the feed with the item's guid, else
its link, else its headline and text), its item key (by what it says: a CMS that writes a new
guid or tracking parameter at every request), its headline's digest, and whether two items
under one key are two stories (a CMS reusing guids or links). The digest every key is
(`digest_of`) and the form texts are compared in (`normalize`) are here too. Pure: imports only
the standard library and `monitor.links`; `monitor.domain` re-exports `Entry`, `digest_of`
and `normalize`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar, overload

from monitor.links import link_identity


def normalize(text: str) -> str:
    """The form terms and texts are compared in: NFKC, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def digest_of(*parts: str) -> str:
    """The SHA-256 of the parts in UTF-8, each followed by a NUL. They are joined and encoded
    at once: a parse worker works out four of these per entry, and a hash and an encoding per
    part cost twice as much."""
    joined = "\x00".join((*parts, ""))  # no parts: "", as each part ends with its NUL
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(feed_id: str, guid: str, link: str, title: str, text: str) -> str:
    """`Entry.key` from the stored columns (migration 0025 repeats this formula). A guid that
    is the link (parse gives an item without a guid its link) is the link, read as
    `links.link_identity` reads it: `HTTPS://Wire.Example.COM:443/a` is one link with
    `https://wire.example.com/a`."""
    if link and guid in ("", link):
        return digest_of(feed_id, link_identity(link))
    return digest_of(feed_id, guid or (title + "\n" + text))


HEADLINE_DIGEST_CHARS = 16
_WORDS = re.compile(r"\w+")


def headline_digest(title: str) -> str:
    """A short hash of a headline's words (NFKC, case-folded: spacing, punctuation and case do
    not count); "" for a title without words. A deleted entry's key is kept with it, to tell
    the same item offered again from another story a CMS later put under that guid or link."""
    words = _WORDS.findall(normalize(title))
    return digest_of(" ".join(words))[:HEADLINE_DIGEST_CHARS] if words else ""


# Query parameters that follow a reader or a session, not an article: some CMSs write a new one
# into an item's link at every request. Names compared in lower case; `utm_` is a prefix.
TRACKING_PARAMETERS = frozenset(
    ("sid", "sessionid", "session_id", "phpsessid", "jsessionid", "fbclid", "gclid", "mc_cid")
)
_SESSION_IN_PATH = re.compile(r";jsessionid=[^/?#]*", re.IGNORECASE)


def untracked(link: str) -> str:
    """`link` without its tracking parameters (`TRACKING_PARAMETERS`, `utm_*`, a path's
    `;jsessionid=`); the rest as written."""
    link = _SESSION_IN_PATH.sub("", link)
    base, mark, rest = link.partition("?")
    if not mark:
        return link
    query, hash_, fragment = rest.partition("#")
    kept = [
        part for part in query.split("&") if part and not _tracking(part.partition("=")[0].lower())
    ]
    return base + ("?" + "&".join(kept) if kept else "") + hash_ + fragment


def _tracking(name: str) -> bool:
    return name in TRACKING_PARAMETERS or name.startswith("utm_")


def item_key(feed_id: str, link: str, title: str, text: str) -> str:
    """`Entry.item_key` from the stored columns (migrations 0022 and 0026 repeat it)."""
    return _item_key(feed_id, link, headline_digest(title), text)


def _item_key(feed_id: str, link: str, headline: str, text: str) -> str:
    if link:
        return digest_of(feed_id, untracked(link), headline, text)
    return digest_of(feed_id, "", headline, text) if headline else ""  # "": no link, no words


def another_story(headline: str | None, title: str) -> bool:
    """Whether `title` heads another story than the one whose `headline_digest` is `headline`
    (None or "": no headline kept, which tells nothing): some CMSs reuse an item's guid or
    link for a later story. Case, spacing and punctuation do not count; a word does."""
    offered = headline_digest(title)
    return bool(headline and offered and offered != headline)


T = TypeVar("T")


class _Cached(Generic[T]):
    """`functools.cached_property` without the lock Python 3.11 takes at each first read, which
    costs a parse worker as much as an entry's digests: an entry's keys are worked out once,
    by the one thread that made it (and were they worked out twice, they would be the same)."""

    def __init__(self, func: Callable[[Entry], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, entry: None, owner: type[Entry]) -> _Cached[T]: ...
    @overload
    def __get__(self, entry: Entry, owner: type[Entry]) -> T: ...
    def __get__(self, entry: Entry | None, owner: type[Entry]) -> T | _Cached[T]:
        if entry is None:
            return self
        # In the entry's own __dict__, read before this (a non-data descriptor) from then on,
        # and pickled with the entry.
        value = entry.__dict__[self.name] = self.func(entry)
        return value


@dataclass(frozen=True)
class Entry:
    """One item of a feed, as plain text. Nothing downstream of parse sees feedparser."""

    feed_id: str
    guid: str
    link: str
    title: str
    text: str
    published: datetime | None  # timezone-aware UTC, or None
    publisher: str  # registrable domain of the link ("bbc.co.uk"), or the feed's host

    @_Cached  # a hash: worked out once, in the parse worker that made it
    def key(self) -> str:
        """Identity of an item within its feed: the feed's id with the item's guid, else its
        link (its scheme and host in any case, without a default port), else its title and
        text. The same article in two feeds is two entries, each matched for the indicators
        reading its feed; evaluate counts such copies once."""
        return entry_key(self.feed_id, self.guid, self.link, self.title, self.text)

    @_Cached
    def item_key(self) -> str:
        """Identity of the item by what it says, for a CMS that writes a new guid (or tracking
        parameter in its link) at every request: the feed's id with its link without tracking
        parameters (`untracked`), its headline (`headline_digest`) and its text; without a
        link, its headline and text. An item under a new key with the item key of a stored
        entry is that entry. "" for an item with neither a link nor a word of headline."""
        return _item_key(self.feed_id, self.link, self.headline, self.text)

    @_Cached
    def headline(self) -> str:
        """`headline_digest` of its title: what tells stories under one guid or link apart."""
        return headline_digest(self.title)

    @_Cached
    def reused_key(self) -> str:
        """Identity of the item when its key holds another story already (`another_item`: a
        CMS put it under an earlier item's guid or link): the key with its headline's hash, so
        it is the same at every check. "" for an item without a headline (never another)."""
        return digest_of(self.key, self.headline) if self.headline else ""


def another_item(stored: Entry, offered: Entry) -> bool:
    """Whether `offered`, under the key of `stored`, is another story than it: its headline is
    another (`another_story`, as for a deleted entry's key) and so is its text. A headline
    edited over the same text is the same item; without a text, the headline decides."""
    if offered.title == stored.title:
        return False
    return other_stories(stored.headline, stored.text, offered.headline, offered.text)


def other_stories(headline: str, text: str, other_headline: str, other_text: str) -> bool:
    """`another_item` of two items' `headline_digest`s and texts (evaluate has ledes: the
    first LEDE_CHARS characters of the texts): both have a headline, the headlines differ, and
    the texts are not one text (an empty one tells nothing)."""
    same_text = bool(other_text) and other_text == text
    return not same_text and bool(headline and other_headline and headline != other_headline)


def distinct_items(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """key -> the items offered under it, one per story, first offered first: an item is kept
    when it is `another_item` than each kept before it under its key (so the same item twice,
    or a headline edited over the same text, is kept once). A CMS that gives every item one
    guid has them all kept; sets of headlines and texts make that linear in the items."""
    by_key: dict[str, list[Entry]] = {}
    seen: dict[str, tuple[set[str], set[str]]] = {}  # made for a key offered twice: seldom
    for entry in entries:
        items = by_key.get(entry.key)
        if items is None:
            by_key[entry.key] = [entry]
            continue
        if entry.key not in seen:
            seen[entry.key] = ({items[0].headline}, {items[0].text})
        headlines, texts = seen[entry.key]
        if "" in headlines or not entry.headline or entry.headline in headlines:
            continue  # a headline matching no other (or none at all): the same story
        if entry.text and entry.text in texts:
            continue  # another headline over the same text: edited
        items.append(entry)
        headlines.add(entry.headline)
        texts.add(entry.text)
    return by_key
