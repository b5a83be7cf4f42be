"""Evidence -> statuses: windows, copies, corroboration. Pure: no I/O, `now` is an argument.

The status model (DESIGN §3):

- only evidence with ``time >= now - indicator.window`` counts;
- copies of one story count once. Per outcome, evidence is clustered into stories: two items
  are one story when they share a link (unless the publisher gave that link to other stories,
  below), have the same (long enough) normalized title, or their
  normalized title + snippet are near-duplicates (Jaccard >= 0.6 over word 3-shingles, or over
  character bigrams for CJK text), or so are their ledes (the first `LEDE_CHARS` characters of
  their text: an outlet that runs a wire story under its own headline keeps its lede). A wire
  story syndicated to several publishers is one story,
  and its source is the publisher of its earliest copy. A link one publisher put on several
  stories (a CMS giving every item one link: the store keeps them apart, `domain.another_item`)
  does not make its items one story: two of its items whose headlines and ledes tell them apart
  (`domain.other_stories`) are one story only by their titles or texts;
- an outcome is ``none`` without stories, ``confirmed`` with at least ``corroborate`` distinct
  sources among its stories, else ``reported``;
- the status is ``unknown`` when the indicator reads at least one feed and none of them can
  support ``quiet``: a feed can when it has been read successfully at least once, is not gone
  and has not been failing for longer than two of its check intervals. So an indicator whose
  feeds were never read is ``unknown`` before its first check and after a first check that
  failed, and one whose feeds all died is ``unknown`` two intervals after the last of them
  failed. This follows DESIGN literally: it wins even when evidence is still inside the window,
  because nobody can tell whether the news has moved on since; the status says why (`reason`).
  Otherwise ``quiet`` without evidence, ``mixed`` when two or more outcomes share the highest
  level, else ``OUTCOME:LEVEL``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import struct
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.domain import (
    CLOCK_SLACK,
    INITIAL,
    MIXED,
    QUIET,
    UNKNOWN,
    Evidence,
    FeedHealth,
    Indicator,
    Level,
    Outcome,
    OutcomeState,
    Status,
    StatusChange,
    headline_digest,
    normalize,
    other_stories,
    utc_text,
)

__all__ = [
    "EVIDENCE_SHOWN",
    "NEAR_DUPLICATE",
    "Clustering",
    "changes",
    "clustering",
    "evaluate",
    "extend",
    "feeds_down",
    "frequent_keys",
    "level_of",
    "same_story",
    "status_string",
    "stories",
    "story_keys",
]


NEAR_DUPLICATE = 0.6  # Jaccard similarity from which two texts are one story
_MIN_LEDE_SHINGLES = 8  # shorter ledes (a dateline and a few words) say too little
_LEDE = "\x01"  # before each lede shingle: never equal to a title + snippet one
EVIDENCE_SHOWN = 20  # stories an outcome's state shows (the newest); it counts them all
_MIN_TITLE_WORDS = 4  # shorter titles ("Live updates") are too generic to identify a story
_MIN_TITLE_CJK = 8  # the same for CJK titles, in characters
FINGERPRINTS_CACHED = 4096  # about 3 KB each
STORIES_CACHED = 1024  # story lists, each kept with the evidence it came from (references)
_MIN_SHINGLES = 3  # texts with fewer shingles are too short to compare by similarity
_REASON_FEEDS = 3  # feeds named in the reason of an unknown status; the others are counted
_REASON_ERROR = 80  # characters of each feed's last error shown there

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A token: a run of CJK characters (group 1) or a word of other letters and digits (group 2).
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_ASCII_WORD = re.compile(r"[0-9A-Za-z]+")  # _TOKEN's words in ASCII text, which has no CJK run


# ---------------------------------------------------------------- statuses


def evaluate(
    indicator: Indicator,
    evidence: Sequence[Evidence],
    feed_health: Sequence[FeedHealth],
    *,
    now: datetime,
    version: Hashable = None,
) -> Status:
    """The status of one indicator.

    `evidence` are this indicator's stored matches (any age; older ones are ignored here) and
    `feed_health` the health of the feeds it reads. `version`, when given, is the version the
    store read `evidence` at (`EvidenceRead.version`): equal versions mean equal evidence, so
    the stories found in it are kept under that version (see `stories`).
    """
    cutoff = now - indicator.window
    by_outcome: dict[str, list[Evidence]] = {}
    for item in evidence:
        if item.indicator_id == indicator.id and item.time >= cutoff:
            by_outcome.setdefault(item.outcome_id, []).append(item)
    outcomes = tuple(
        _outcome_state(o, by_outcome.get(o.id, ()), _key(version, indicator.id, o.id))
        for o in indicator.outcomes
    )
    down = feeds_down(feed_health, now)
    status = status_string([(o.outcome_id, o.level) for o in outcomes], down)
    return Status(indicator.id, status, outcomes, indicator.hash, down)


def changes(
    statuses: Sequence[Status],
    current: Mapping[str, str],
    *,
    now: datetime,
    replayed: bool = False,
    reason: str | None = None,
) -> list[StatusChange]:
    """A change for every status that differs from `current` (an absent indicator is at INITIAL),
    recorded with `reason` when something other than a check caused it (a verdict); a change to
    ``unknown`` carries the status's reason."""
    found = []
    for status in statuses:
        old = current.get(status.indicator_id, INITIAL)
        if status.status != old:
            found.append(
                StatusChange(
                    indicator_id=status.indicator_id,
                    at=now,
                    old_status=old,
                    new_status=status.status,
                    evidence=status.evidence,
                    definition_hash=status.definition_hash,
                    replayed=replayed,
                    reason=reason or status.reason,
                    evidence_total=status.evidence_count,
                )
            )
    return found


def _key(version: Hashable, indicator_id: str, outcome_id: str) -> Hashable:
    return None if version is None else (version, indicator_id, outcome_id)


def _outcome_state(
    outcome: Outcome, evidence: Sequence[Evidence], key: Hashable = None
) -> OutcomeState:
    found = stories(evidence, key=key)
    sources = tuple(dict.fromkeys(story.publisher for story in found))
    level = level_of(outcome, len(found), len(sources))
    return OutcomeState(
        outcome.id, level, sources, tuple(found[:EVIDENCE_SHOWN]), stories=len(found)
    )


def level_of(outcome: Outcome, stories: int, sources: int) -> Level:
    """An outcome's level from how many stories and distinct sources it has in its window."""
    if not stories:
        return Level.NONE
    if sources >= outcome.corroborate:
        return Level.CONFIRMED
    return Level.REPORTED


def status_string(levels: Sequence[tuple[str, Level]], down: str = "") -> str:
    """``unknown`` when the feeds are `down` (`feeds_down`), else what the outcomes' levels
    ((outcome id, level) each) say."""
    if down:
        return UNKNOWN
    top = max((level.value for _o, level in levels), default=0)
    if top == 0:
        return QUIET
    leaders = [(o, level) for o, level in levels if level.value == top]
    if len(leaders) > 1:
        return MIXED
    return f"{leaders[0][0]}:{leaders[0][1].label}"


UNREAD_AFTER = 2  # check intervals a feed may go unread (failing, or not checked at all)…
UNREAD_MIN = timedelta(minutes=10)  # …and, not failing, at least this long (an interval of 0s)
NO_FEEDS = "feeds not read: none selected (no feed in the feeds file has its tags or ids)"


def feeds_down(feed_health: Sequence[FeedHealth], now: datetime) -> str:
    """Why the feeds cannot support ``quiet`` ("feeds not read: a: never read (fetch: …)"), or
    "" when at least one can. An indicator reading no feed at all (its tags and ids select
    none, as with a feeds file of one's own) has read nothing: `quiet` would claim too much."""
    if not feed_health:
        return NO_FEEDS
    problems = []
    for health in feed_health:
        problem = _problem(health, now)
        if not problem:
            return ""  # this one can
        problems.append(problem)
    shown = "; ".join(problems[:_REASON_FEEDS])
    more = len(problems) - _REASON_FEEDS
    return f"feeds not read: {shown}" + (f"; and {more} more" if more > 0 else "")


def down_since(feed_health: Sequence[FeedHealth], now: datetime) -> datetime | None:
    """When feeds that cannot support ``quiet`` at `now` (`feeds_down`) stopped supporting it:
    when the last of them went unread or failing for too long (gone: when it failed). A feed
    never read never supported a status (one added to the feeds file while no daemon runs):
    the others tell when it stopped. None when that cannot be told (no feed was ever read, one
    gone without a failure time, or one read after `now`)."""
    moments = []
    for health in feed_health:
        if health.never_read:
            continue
        if health.dead:
            if health.failing_since is None:
                return None
            moments.append(health.failing_since)
        elif health.failing_since is not None:
            moments.append(health.failing_since + UNREAD_AFTER * health.interval)
        elif health.last_read is not None and health.last_read <= now:
            moments.append(health.last_read + max(UNREAD_AFTER * health.interval, UNREAD_MIN))
        else:
            return None
    return max(moments) if moments and max(moments) <= now else None


def _problem(health: FeedHealth, now: datetime) -> str:
    """Why one feed cannot support ``quiet``, or "" when it can."""
    error = " ".join(health.last_error.split())
    error = error if len(error) <= _REASON_ERROR else error[: _REASON_ERROR - 1] + "…"
    because = f" ({error})" if error else ""
    if health.dead:
        return f"{health.feed_id}: gone{because}"
    if health.never_read:
        return f"{health.feed_id}: never read{because or ' yet'}"
    since = health.failing_since
    if since is not None and since <= now - UNREAD_AFTER * health.interval:
        return f"{health.feed_id}: failing since {utc_text(since)}{because}"
    read = health.last_read
    if since is None and read is not None and read > now + CLOCK_SLACK:
        return f"{health.feed_id}: last read at {utc_text(read)}, after now (clock set back)"
    if (
        since is None
        and read is not None
        and read <= now - max(UNREAD_AFTER * health.interval, UNREAD_MIN)
    ):
        return f"{health.feed_id}: not read since {utc_text(read)}"
    return ""


# ---------------------------------------------------------------- stories


@dataclass(frozen=True)
class _Fingerprint:
    link: str
    title: str  # normalized title when long enough to identify a story, else ""
    shingles: frozenset[str]  # each shingle's tokens joined by NUL (no token holds one)
    lede: frozenset[str] = frozenset()  # the lede's shingles, each after _LEDE (none: too short)
    publisher: str = ""  # ledes join only other publishers' items (one outlet's boilerplate)
    headline: str = ""  # domain.headline_digest of the title
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
        if not frequent.isdisjoint(hashed):
            hashed = (
                *(h for h in hashed if h not in frequent),
                *(h for h in hashed if h in frequent),
            )
        keys.extend(hashed[: _prefix_size(len(hashed))])
    return tuple(dict.fromkeys(keys))


FREQUENT_SHARE = 0.05  # of the stories: a shingle in more of them is keyed last…
FREQUENT_MIN = 4  # …when it is in at least this many


def frequent_keys(stories: Sequence[Evidence]) -> frozenset[int]:
    """The hashes of the shingles in more than FREQUENT_SHARE of `stories` (and at least
    FREQUENT_MIN of them): what `story_keys` puts last."""
    counts: Counter[int] = Counter()
    for item in stories:
        for shingles in _fingerprint(item).sets:
            counts.update(_hashes(shingles))
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
        counts: Counter[str] = Counter()
        for fingerprint in prints:
            for shingles in fingerprint.sets:
                counts.update(shingles)
        self._count = counts.__getitem__
        self._prefixes: dict[frozenset[str], list[str]] = {}
        self._links: dict[str, list[tuple[_Fingerprint, int]]] = {}
        self._titles: dict[str, int] = {}
        self._publishers: dict[int, str] = {}
        self._by_shingle: dict[str, list[tuple[frozenset[str], int]]] = {}

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
                self._by_shingle.setdefault(shingle, []).append(story)

    def original(self, fingerprint: _Fingerprint) -> int | None:
        """The entry id of a story's first copy this item is a copy of, or None."""
        for story, entry_id in self._links.get(fingerprint.link, ()):
            if not _told_apart(story, fingerprint):
                return entry_id
        if fingerprint.title and fingerprint.title in self._titles:
            return self._titles[fingerprint.title]
        compared: set[int] = set()
        for mine in fingerprint.sets:  # a lede's shingles are only in ledes' buckets
            same = fingerprint.publisher if mine is fingerprint.lede else None
            for shingle in self._prefix(mine):
                for shingles, entry_id in self._by_shingle.get(shingle, ()):
                    if id(shingles) not in compared and self._publishers[entry_id] != same:
                        compared.add(id(shingles))
                        if _jaccard(mine, shingles) >= NEAR_DUPLICATE:
                            return entry_id
        return None

    def _prefix(self, shingles: frozenset[str]) -> list[str]:
        """The set's first shingles, worked out once (an item that starts a story asked first);
        none of a set too small to be like another (`_jaccard`)."""
        found = self._prefixes.get(shingles)
        if found is None:
            order = sorted(shingles) if len(shingles) >= _MIN_SHINGLES else []
            order.sort(key=self._count)  # by (count, shingle): by shingle, then (stable) count
            found = self._prefixes[shingles] = order[: _prefix_size(len(order))]
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
    the store tells items under one guid or link apart (`domain.other_stories`, here on their
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
    ledes = _shingles(*_tokens(lede)[1:])
    long_enough = len(ledes) >= _MIN_LEDE_SHINGLES
    title_tokens, title_words, title_runs = _tokens(title)
    _all, words, runs = _tokens(snippet)  # title + "\n" + snippet, whose tokens no "\n" joins
    return _Fingerprint(
        link=_link_key(link),
        title=_title_key(title_tokens, title_runs),
        shingles=_shingles(title_words + words, title_runs + runs),
        lede=frozenset([_LEDE + s for s in ledes]) if long_enough else frozenset(),
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
    return link.strip().split("#", 1)[0].rstrip("/")


def _shingles(words: list[str], runs: list[str]) -> frozenset[str]:
    """Word 3-shingles of Latin-script words plus character bigrams of CJK runs."""
    shingles = set(map("\0".join, zip(words, words[1:], words[2:], strict=False)))
    if 0 < len(words) < 3:
        shingles.add("\0".join(words))
    for run in runs:
        if len(run) == 1:
            shingles.add("#\0" + run)
        shingles.update(["#\0" + run[i : i + 2] for i in range(len(run) - 1)])
    return frozenset(shingles)
