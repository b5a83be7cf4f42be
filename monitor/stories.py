"""Copies of one story: fingerprints of evidence, the stories among it, and the keys a store
finds a story's copies under. Pure: no I/O.

What makes two items one story is the status model's (`monitor.evaluate`'s docstring): a link
they share (unless the publisher gave it to other stories), the same long enough normalized
title, near-duplicate title + snippet (Jaccard >= NEAR_DUPLICATE over word 3-shingles, or over
character bigrams for CJK text), or near-duplicate ledes of two publishers.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from monitor.domain import Evidence, normalize
from monitor.identity import headline_digest, other_stories
from monitor.links import link_identity

__all__ = [
    "FINGERPRINTS_CACHED",
    "NEAR_DUPLICATE",
    "STORIES_CACHED",
    "Clustering",
    "clustering",
    "copy_finder",
    "copy_test",
    "extend",
    "frequent_keys",
    "same_story",
    "stories",
    "story_keys",
]


NEAR_DUPLICATE = 0.6  # Jaccard similarity from which two texts are one story
_MIN_LEDE_SHINGLES = 8  # shorter ledes (a dateline and a few words) say too little
_LEDE = "\x01"  # before each lede shingle: never equal to a title + snippet one
_MIN_TITLE_WORDS = 4  # shorter titles ("Live updates") are too generic to identify a story
_MIN_TITLE_CJK = 8  # the same for CJK titles, in characters
FINGERPRINTS_CACHED = 4096  # about 3 KB each
STORIES_CACHED = 1024  # story lists, each kept with the evidence it came from (references)
_MIN_SHINGLES = 3  # texts with fewer shingles are too short to compare by similarity

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A token: a run of CJK characters (group 1) or a word of other letters and digits (group 2).
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_ASCII_WORD = re.compile(r"[0-9A-Za-z]+")  # _TOKEN's words in ASCII text, which has no CJK run


@dataclass(frozen=True, slots=True)  # no dict: thousands live in the cache
class _Fingerprint:
    link: str
    title: str  # normalized title when long enough to identify a story, else ""
    shingles: frozenset[str]  # each shingle's tokens joined by NUL (no token holds one)
    lede: frozenset[str] = frozenset()  # the lede's shingles, each after _LEDE (none: too short)
    publisher: str = ""  # ledes join only other publishers' items (one outlet's boilerplate)
    headline: str = ""  # identity.headline_digest of the title
    lede_text: str = ""  # the lede as read: with the headline, tells stories under one link apart

    @property
    def sets(self) -> tuple[frozenset[str], ...]:
        """The shingle sets compared with another item's of the same kind (lede with lede)."""
        return (self.shingles, self.lede) if self.lede else (self.shingles,)


def stories(evidence: Sequence[Evidence], *, key: Hashable = None) -> list[Evidence]:
    """One item per story (its earliest copy), newest story first.

    Items are taken oldest first; each is a copy of a story found so far or starts one, found
    through an index of the stories' links, titles and rare shingles (`_StoryIndex`), so the
    work grows with the evidence, not with evidence x stories, and the result does not depend
    on the input order. Every cycle asks again about the same evidence, so with a `key` (the store's
    evidence version, indicator and outcome: the same key is the same evidence) the answer is
    kept under it. Evidence of one key cut at a later window is a newest-first prefix of it, so
    its length and its first and last items are part of the key too.
    """
    if len(evidence) < 2:
        return list(evidence)
    if key is None:
        return list(_cluster(evidence))
    ends = (evidence[0].entry_id, evidence[-1].entry_id)
    return list(_stories_of(_Keyed((key, len(evidence), ends), tuple(evidence))))


class _Keyed:
    """Evidence as a key of `_stories_of`: equal to evidence of the same key, whatever objects
    hold it (hashing a few thousand items by value would cost milliseconds)."""

    __slots__ = ("items", "key")

    def __init__(self, key: Hashable, items: tuple[Evidence, ...]) -> None:
        self.key = key
        self.items = items

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and other.key == self.key


@functools.lru_cache(maxsize=STORIES_CACHED)
def _stories_of(evidence: _Keyed) -> tuple[Evidence, ...]:
    return _cluster(evidence.items)


def _cluster(evidence: Sequence[Evidence]) -> tuple[Evidence, ...]:
    """One item per story, newest first (`clustering`)."""
    return tuple(reversed(clustering(evidence).starts))


@dataclass(frozen=True)
class Clustering:
    """Stories found among evidence: each story's first copy, and for the stories that have
    copies, the time of the newest (what `monitor.statuses.advance` needs to know whether a
    story's first copy can leave the window without a later copy starting a story instead)."""

    starts: tuple[Evidence, ...]  # the first copy of each story, oldest first
    copies_until: dict[int, datetime] = field(default_factory=dict)  # start's entry id -> time


def clustering(evidence: Sequence[Evidence]) -> Clustering:
    """Items oldest first (by time, then entry id); each one that is no copy of a story found
    so far starts a story."""
    return extend((), evidence)


def extend(stories: Sequence[Evidence], new: Sequence[Evidence]) -> Clustering:
    """The stories `new` items start, taken oldest first after `stories`: the first copies of
    stories found before (at least every one a new item could be a copy of: those sharing a
    `story_keys` key with it, as a store finds them). No two of `stories` are copies of each
    other, and every new item is later than the items they were found among, so this is what
    clustering all of them at once gives (`clustering` is `extend` of no stories)."""
    ordered = sorted(new, key=lambda e: (e.time, e.entry_id))
    known = [(item, _fingerprint(item)) for item in stories]
    prints = [(item, _fingerprint(item)) for item in ordered]
    index = _StoryIndex([p for _item, p in known + prints])
    for item, fingerprint in known:
        index.start(fingerprint, item.entry_id)
    starts: list[Evidence] = []
    until: dict[int, datetime] = {}
    for item, fingerprint in prints:
        original = index.original(fingerprint)
        if original is None:
            index.start(fingerprint, item.entry_id)
            starts.append(item)
        else:
            until[original] = max(until.get(original, item.time), item.time)
    return Clustering(tuple(starts), until)


def copy_test(originals: Sequence[Evidence]) -> Callable[[Evidence], bool]:
    """Whether an item is a copy of one of `originals` (as `same_story` tells, through the index
    clustering uses): an analyst's `no` on an item says no to its copies too, or a wire story
    judged wrong would come back as evidence under the next outlet's copy."""
    if not originals:
        return lambda _item: False
    found = copy_finder(originals)
    return lambda item: found(item) is not None


def copy_finder(originals: Sequence[Evidence]) -> Callable[[Evidence], int | None]:
    """The entry id of the one of `originals` an item is a copy of (`copy_test`), or None:
    which analyst's `no` a piece of evidence fell with."""
    prints = [_fingerprint(item) for item in originals]
    index = _StoryIndex(prints)
    for item, fingerprint in zip(originals, prints, strict=True):
        index.start(fingerprint, item.entry_id)
    # An item asked about is never indexed: its prefixes are not kept (a finder kept for many
    # reads, `match.judged`, would hold every item it was asked about).
    return lambda item: index.original(_fingerprint(item), keep=False)


_KEY_BYTES = 8  # story keys are signed 64-bit integers (a BIGINT column on both databases)
_KEY_FORMAT = struct.Struct(">q")  # big-endian, signed


def story_keys(item: Evidence, frequent: AbstractSet[int] = frozenset()) -> tuple[int, ...]:
    """Keys an item shares with every story it could be a copy of: its link, its title, and the
    prefix of its shingles in one fixed order (see `_StoryIndex`): the order of the shingles'
    hashes, the same in every process, with the `frequent` ones (`frequent_keys`) last, so that
    phrases most items share ("officials said on") rarely make two items candidates. A store
    indexes a story's first copy under them, so a new item is compared only with the stories
    sharing one; two items with no key in common are no copies of each other, provided both
    were keyed with the same `frequent`."""
    fingerprint = _fingerprint(item)
    keys = []
    if fingerprint.link:
        keys.append(_key_hash("link\0" + fingerprint.link))
    if fingerprint.title:
        keys.append(_key_hash("title\0" + fingerprint.title))
    for shingles in fingerprint.sets:
        if len(shingles) < _MIN_SHINGLES:
            continue
        hashed = _hashes(shingles)  # in order
        size = _prefix_size(len(hashed))
        if frequent and not frequent.isdisjoint(hashed):
            rare = [h for h in hashed if h not in frequent]  # the order's start, if long enough
            if len(rare) < size:
                rare += [h for h in hashed if h in frequent]
            keys.extend(rare[:size])
        else:
            keys.extend(hashed[:size])
    return tuple(dict.fromkeys(keys))


FREQUENT_SHARE = 0.05  # of the stories: a shingle in more of them is keyed last…
FREQUENT_MIN = 4  # …when it is in at least this many


def frequent_keys(stories: Sequence[Evidence]) -> frozenset[int]:
    """The hashes of the shingles in more than FREQUENT_SHARE of `stories` (and at least
    FREQUENT_MIN of them): what `story_keys` puts last."""
    counts = Counter(chain.from_iterable(_hashes(s) for e in stories for s in _fingerprint(e).sets))
    bound = max(FREQUENT_MIN, FREQUENT_SHARE * len(stories))
    return frozenset(h for h, n in counts.items() if n >= bound)


@functools.lru_cache(maxsize=FINGERPRINTS_CACHED)
def _hashes(shingles: frozenset[str]) -> tuple[int, ...]:
    """The shingles' hashes (`_key_hash`) in ascending order; encoded at once (no shingle holds
    a newline), each hashed without a call of its own: a cold cycle hashes 180,000."""
    if not shingles:
        return ()
    encoded = "\n".join(shingles).encode("utf-8", "surrogatepass").split(b"\n")
    blake2b, unpack = hashlib.blake2b, _KEY_FORMAT.unpack
    return tuple(sorted([unpack(blake2b(s, digest_size=_KEY_BYTES).digest())[0] for s in encoded]))


def _key_hash(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_KEY_BYTES)
    return int(_KEY_FORMAT.unpack(digest.digest())[0])


def _prefix_size(shingles: int) -> int:
    """How many shingles of a set, in any one fixed order, every set at least NEAR_DUPLICATE
    similar to it shares one of (prefix filtering)."""
    return shingles - math.ceil(NEAR_DUPLICATE * shingles - 1e-9) + 1


class _StoryIndex:
    """The first copies of the stories found so far, indexed so that an item is compared only
    with the stories it could be a copy of: those with its link, its title, or a shingle in
    the prefix of both. Prefix filtering: two sets whose Jaccard similarity is at least t share
    one of the first |x| - ceil(t |x|) + 1 elements of each, all sets taken in one order (here
    the rarest shingles first, so few stories share a prefix shingle). It is exact, so the
    stories are the ones comparing with every story gives (`_similar`); the work grows with
    the stories that share rare shingles, not with all the stories found."""

    def __init__(self, prints: Sequence[_Fingerprint]) -> None:
        counts = Counter(chain.from_iterable(s for fingerprint in prints for s in fingerprint.sets))
        self._count = counts.__getitem__
        self._prefixes: dict[frozenset[str], list[str]] = {}
        self._links: dict[str, list[tuple[_Fingerprint, int]]] = {}
        self._titles: dict[str, int] = {}
        self._publishers: dict[int, str] = {}
        self._by_shingle: defaultdict[str, list[tuple[frozenset[str], int]]] = defaultdict(list)

    def start(self, fingerprint: _Fingerprint, entry_id: int) -> None:
        """Index this item as the first copy of a story."""
        if fingerprint.link:
            self._links.setdefault(fingerprint.link, []).append((fingerprint, entry_id))
        if fingerprint.title:
            self._titles.setdefault(fingerprint.title, entry_id)
        self._publishers[entry_id] = fingerprint.publisher
        for shingles in fingerprint.sets:
            story = (shingles, entry_id)
            for shingle in self._prefix(shingles):
                self._by_shingle[shingle].append(story)

    def original(self, fingerprint: _Fingerprint, *, keep: bool = True) -> int | None:
        """The entry id of a story's first copy this item is a copy of, or None; `keep`: the
        item's prefixes, for when it starts a story (`start`)."""
        for story, entry_id in self._links.get(fingerprint.link, ()):
            if not _told_apart(story, fingerprint):
                return entry_id
        if fingerprint.title and fingerprint.title in self._titles:
            return self._titles[fingerprint.title]
        compared: set[int] = set()
        for mine in fingerprint.sets:  # a lede's shingles are only in ledes' buckets
            same = fingerprint.publisher if mine is fingerprint.lede else None
            for shingle in self._prefix(mine, keep=keep):
                for shingles, entry_id in self._by_shingle.get(shingle, ()):
                    if id(shingles) not in compared and self._publishers[entry_id] != same:
                        compared.add(id(shingles))
                        if _jaccard(mine, shingles) >= NEAR_DUPLICATE:
                            return entry_id
        return None

    def _prefix(self, shingles: frozenset[str], *, keep: bool = True) -> list[str]:
        """The set's first shingles, worked out once (an item that starts a story asked first,
        unless not `keep`); none of a set too small to be like another (`_jaccard`)."""
        found = self._prefixes.get(shingles)
        if found is None:
            order = sorted(shingles) if len(shingles) >= _MIN_SHINGLES else []
            order.sort(key=self._count)  # by (count, shingle): by shingle, then (stable) count
            found = order[: _prefix_size(len(order))]
            if keep:
                self._prefixes[shingles] = found
        return found


def same_story(a: Evidence, b: Evidence) -> bool:
    """Whether two items are copies of one story (see the module docstring)."""
    return _similar(_fingerprint(a), _fingerprint(b))


def _similar(a: _Fingerprint, b: _Fingerprint) -> bool:
    if a.link and a.link == b.link and not _told_apart(a, b):
        return True
    if a.title and a.title == b.title:
        return True
    if _ledes_alike(a, b):
        return True
    return _jaccard(a.shingles, b.shingles) >= NEAR_DUPLICATE


def _told_apart(a: _Fingerprint, b: _Fingerprint) -> bool:
    """Whether two items of one publisher sharing a link are other stories all the same, as
    the store tells items under one guid or link apart (`identity.other_stories`, here on their
    ledes): the link is no story's own. Copies of one story in several feeds keep its link and
    its headline (or its text) and are one story by that link, as are other publishers'."""
    return a.publisher == b.publisher and other_stories(
        a.headline, a.lede_text, b.headline, b.lede_text
    )


def _ledes_alike(a: _Fingerprint, b: _Fingerprint) -> bool:
    """Near-identical ledes of two publishers: one outlet's items share a site slogan, a cookie
    notice or a series' introduction as often as wire copies share a lede."""
    if not (a.lede and b.lede) or a.publisher == b.publisher:
        return False
    return _jaccard(a.lede, b.lede) >= NEAR_DUPLICATE


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    small, large = sorted((len(a), len(b)))
    if small < _MIN_SHINGLES:
        return 0.0
    if small < NEAR_DUPLICATE * large:  # the bound |A∩B|/|A∪B| <= small/large prunes cheaply
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def _fingerprint(item: Evidence) -> _Fingerprint:
    return _fingerprint_of(item.title, item.link, item.snippet, item.lede, item.publisher)


@functools.lru_cache(maxsize=FINGERPRINTS_CACHED)  # every cycle compares the same evidence
def _fingerprint_of(title: str, link: str, snippet: str, lede: str, publisher: str) -> _Fingerprint:
    ledes = _shingles(*_tokens(lede)[1:], prefix=_LEDE)
    title_tokens, title_words, title_runs = _tokens(title)
    _all, words, runs = _tokens(snippet)  # title + "\n" + snippet, whose tokens no "\n" joins
    return _Fingerprint(
        link=_link_key(link),
        title=_title_key(title_tokens, title_runs),
        shingles=_shingles(title_words + words, title_runs + runs),
        lede=ledes if len(ledes) >= _MIN_LEDE_SHINGLES else frozenset(),
        publisher=publisher,
        headline=headline_digest(title),
        lede_text=lede,
    )


def _tokens(text: str) -> tuple[list[str], list[str], list[str]]:
    """The tokens of a text in order, and among them its words and its CJK runs."""
    normalized = normalize(text)
    if normalized.isascii():  # words only, the ones _TOKEN finds (at a third of its cost)
        words = _ASCII_WORD.findall(normalized)
        return words, words, []
    pairs = _TOKEN.findall(normalized)
    tokens = [run or word for run, word in pairs]
    return tokens, [word for _run, word in pairs if word], [run for run, _word in pairs if run]


def _title_key(tokens: list[str], runs: list[str]) -> str:
    cjk = sum(map(len, runs))
    if len(tokens) >= _MIN_TITLE_WORDS or cjk >= _MIN_TITLE_CJK:
        return " ".join(tokens)
    return ""


def _link_key(link: str) -> str:
    """A link as copies of a story share it: without its fragment and trailing slashes, its
    scheme and host in lower case (a Unicode host in its IDNA form), without the scheme's
    default port (`links.link_identity`). Its path and query stay as they are: case counts
    there."""
    return link_identity(link.strip().split("#", 1)[0].rstrip("/"))


def _shingles(words: list[str], runs: list[str], prefix: str = "") -> frozenset[str]:
    """Word 3-shingles of Latin-script words plus character bigrams of CJK runs, each after
    `prefix` (put on the first word of each: a shingle's string is made once)."""
    firsts = [prefix + word for word in words] if prefix else words
    shingles = set(map("\0".join, zip(firsts, words[1:], words[2:], strict=False)))
    if 0 < len(words) < 3:
        shingles.add("\0".join(firsts[:1] + words[1:]))
    cjk = prefix + "#\0"
    for run in runs:
        if len(run) == 1:
            shingles.add(cjk + run)
        shingles.update([cjk + run[i : i + 2] for i in range(len(run) - 1)])
    return frozenset(shingles)
