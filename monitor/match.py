"""Compiled rules: one pass over an entry finds every outcome it satisfies. Pure: no I/O.

Every literal term (phrase or prefix) of every indicator sits in one Aho-Corasick automaton
over the normalized text (NFKC, case-folded, whitespace as spaces). An outcome's rule is only
evaluated when one of its trigger terms hit (a set of terms one of which must hit for the rule
to hold), so the work per entry follows the hits, not the number of indicators. Regex terms run
lazily with the `regex` module under a timeout; a timeout counts as no match.
"""

from __future__ import annotations

import itertools
import math
import re._compiler as sre_compile
import re._constants as sre_constants
import re._parser as sre_parse
import time
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar, assert_never

import ahocorasick
import regex

from monitor.domain import (
    AllNode,
    AnyNode,
    Entry,
    Example,
    Indicator,
    Match,
    NearNode,
    Node,
    NoneNode,
    Order,
    Scope,
    Term,
    TermKind,
    TermNode,
    normalize,
)
from monitor.fold import fold
from monitor.operators import Operator

__all__ = [
    "REGEX_TIMEOUT",
    "ExampleResult",
    "Matcher",
    "compile_matcher",
    "general_news_warnings",
    "run_examples",
]

REGEX_TIMEOUT = 0.05  # seconds of CPU time per regex term per entry
REGEX_WALL_FACTOR = 10  # and at most this many times that on the clock, on a busy machine
MAX_HITS_PER_TERM = 200
SNIPPET_CHARS = 200
MAX_GROUPS = 64  # literal groups gating one outcome
MAX_SPACINGS = 64  # spellings of one Korean term with and without spaces
GENERAL_NEWS_SHARE = 0.05  # `monitor validate` warns for a term in more general news than this
GENERAL_NEWS_MIN = 3  # ... and in at least this many entries
T = TypeVar("T")

_OTHER_SPACE = regex.compile(r"[^\S ]")  # whitespace other than the space itself
_ASCII_SPACES = bytes.maketrans(b"\t\n\x0b\x0c\r", b"     ")  # the same in ASCII
_CJK_WORD = r"\p{Han}\p{Hiragana}\p{Katakana}"
# Words for `near`: Latin (and Hangul) runs between spaces; in Chinese and Japanese, which
# write no spaces, every two characters count as one word.
_TOKEN = regex.compile(rf"[{_CJK_WORD}ー]{{1,2}}|[^\W{_CJK_WORD}]+")
_ASCII_TOKEN = regex.compile(r"\w+")
_ABBREVIATIONS = "mr|mrs|ms|dr|st|jr|sr|gen|sen|rep|gov|lt|col|capt|sgt|prof|no|vs|inc|corp|co|ltd"
# A sentence ends at ., ! or ? before a space (not after an initial or a known abbreviation:
# "U.S. envoy", "Mr. Xi"), at 。！？ and at a line break; the title is a sentence of its own.
_SENTENCE_END = regex.compile(
    rf"(?<!(?:^|\W)(?:\w|{_ABBREVIATIONS}))\.(?=\s|$)|[!?]+(?=\s|$)|[。！？\n]"
)


def _is_cjk(ch: str) -> bool:
    """Han, Kana, Hangul and their symbols: scripts matched as substrings."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xAC00 <= o <= 0xD7FF
        or 0x1100 <= o <= 0x11FF
        or 0xA960 <= o <= 0xA97F
        or 0xF900 <= o <= 0xFAFF
        or 0xFF66 <= o <= 0xFFDC
        or 0x20000 <= o <= 0x3FFFF
    )


def _word_char(ch: str) -> bool:
    """A character that continues a Latin-script word (so a phrase may not end next to it)."""
    return (ch.isalnum() or ch == "_") and not _is_cjk(ch)


_TABLE_SIZE = 0x10000
_WORD_TABLE = bytes(_word_char(chr(i)) for i in range(_TABLE_SIZE))
_ASCII_VIEW = bytes(i if chr(i).isalnum() or i == 0x5F else 0x20 for i in range(128)) + bytes(
    range(128, 256)
)
_CJK_CLASS = (
    "\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uffdc"
    "\U00020000-\U0003ffff"
)
_CJK = regex.compile(f"[{_CJK_CLASS}]")
_LATIN_TERM = regex.compile(r"\w")
_HANGUL_SPACE = regex.compile(r"(?<=[\uac00-\ud7a3]) (?=[\uac00-\ud7a3])")
# An escape (kept whole, so `\\[` opens no class) or a character class, `]` first being literal.
_REGEX_CLASS = regex.compile(r"\\.|\[\^?\]?(?:\\.|\[:\w+:\]|[^\]\\])*\]", regex.DOTALL)
_HANGUL_RUN = regex.compile(r"[\uac00-\ud7a3]+")


# ---------------------------------------------------------------- compiled rules


@dataclass(frozen=True, slots=True)
class _CTerm:
    term_id: int
    raw: str


@dataclass(frozen=True, slots=True)
class _CAll:
    operator: ClassVar[Operator] = Operator.ALL
    children: tuple[_CNode, ...]
    literals: frozenset[int]  # literal ids of the children that are plain literal terms
    rest: tuple[_CNode, ...]  # the other children (regexes, title: terms, operators)


@dataclass(frozen=True, slots=True)
class _CAny:
    operator: ClassVar[Operator] = Operator.ANY
    children: tuple[_CNode, ...]
    literals: frozenset[int]
    rest: tuple[_CNode, ...]


@dataclass(frozen=True, slots=True)
class _CNone:
    operator: ClassVar[Operator] = Operator.NONE
    children: tuple[_CNode, ...]
    literals: frozenset[int]
    rest: tuple[_CNode, ...]


@dataclass(frozen=True, slots=True)
class _CNear:
    operator: ClassVar[Operator] = Operator.NEAR
    groups: tuple[tuple[_CTerm, ...], ...]  # one term of each group must occur
    within: int
    order: Order


_COperator = _CAll | _CAny | _CNone | _CNear  # one compiled node per Operator member
_CNode = _CTerm | _COperator


@dataclass(frozen=True, slots=True)
class _COutcome:
    indicator_id: str
    outcome_id: str
    node: _CNode
    sentence: bool
    unless: tuple[_CTerm, ...]  # cues that cancel a match in a sentence of its terms


@dataclass(frozen=True)
class ExampleResult:
    """One `examples:` item of an indicator, run through the matcher."""

    indicator_id: str
    example: Example
    expected: str
    actual: tuple[str, ...]  # matched outcome ids, or ("none",)
    passed: bool
    terms: tuple[str, ...]  # every term of the indicator that hit, even if no rule held


class Matcher:
    """Every indicator's rules, compiled once; `match(entry)` is one pass over the entry."""

    def __init__(self, indicators: Sequence[Indicator], *, regex_timeout: float = REGEX_TIMEOUT):
        self.indicators = tuple(indicators)
        self.regex_timeout = regex_timeout
        self.regex_timeouts = 0  # how many regex runs timed out (for metrics)
        self._term_ids: dict[tuple[TermKind, str, bool, tuple[str, ...]], int] = {}
        # (kind, text, other spellings) of every literal: a phrase and its forms are one literal
        self._literal_ids: dict[tuple[TermKind, str, tuple[str, ...]], int] = {}
        self._term_literal: list[int] = []  # literal id, or -1 for a regex term
        self._term_title: list[bool] = []
        self._term_regex: list[regex.Pattern[str] | None] = []
        # Per regex: sets of substrings one of each of which a match contains, as literal ids
        # (substrings of the Latin view), or as strings where their Latin view is blank.
        self._term_needs: list[tuple[frozenset[str], ...]] = []
        self._term_needs_ids: list[tuple[frozenset[int], ...]] = []
        self._outcomes: list[_COutcome] = []
        self._term_sources: list[dict[str, Term]] = []  # per term id: the terms, by where
        self._indicator_terms: dict[str, tuple[_CTerm, ...]] = {}
        for indicator in self.indicators:
            terms: dict[_CTerm, None] = {}
            for outcome in indicator.outcomes:
                node = self._compile(outcome.rule.node, terms)
                sentence = outcome.rule.scope == Scope.SENTENCE
                unless = tuple(self._compile_term(t, terms) for t in outcome.unless)
                self._outcomes.append(_COutcome(indicator.id, outcome.id, node, sentence, unless))
            self._indicator_terms[indicator.id] = tuple(terms)
        self._build_gates()
        self._build_automata()

    # ------------------------------------------------------------ compiling

    def _compile(self, node: Node, seen: dict[_CTerm, None]) -> _CNode:
        match node:
            case TermNode():
                return self._compile_term(node.term, seen)
            case NearNode():
                groups = tuple(
                    tuple(self._compile_term(t, seen) for t in group) for group in node.terms
                )
                return _CNear(groups, node.within, node.order)
            case AllNode():
                return _CAll(*self._compile_children(node.children, seen))
            case AnyNode():
                return _CAny(*self._compile_children(node.children, seen))
            case NoneNode():
                return _CNone(*self._compile_children(node.children, seen))
            case _:
                assert_never(node)

    def _compile_children(
        self, nodes: tuple[Node, ...], seen: dict[_CTerm, None]
    ) -> tuple[tuple[_CNode, ...], frozenset[int], tuple[_CNode, ...]]:
        """An operator's compiled children, the literal ids of the plain literal terms among
        them, and the others."""
        children = tuple(self._compile(child, seen) for child in nodes)
        plain = [c for c in children if isinstance(c, _CTerm) and self._plain_literal(c.term_id)]
        rest = tuple(c for c in children if c not in plain)
        literals = frozenset(self._term_literal[c.term_id] for c in plain)
        return children, literals, rest

    def _plain_literal(self, term_id: int) -> bool:
        return self._term_literal[term_id] >= 0 and not self._term_title[term_id]

    def _compile_term(self, written: Term, seen: dict[_CTerm, None]) -> _CTerm:
        folded = _fold_regex(written.text) if written.kind == TermKind.REGEX else fold(written.text)
        forms = tuple(map(fold, written.forms))
        term = replace(written, text=folded, forms=forms)  # Traditional as Simplified, like texts
        key = (term.kind, term.text, term.title_only, term.forms)
        term_id = self._term_ids.get(key)
        if term_id is None:
            term_id = self._term_ids[key] = len(self._term_literal)
            self._term_sources.append({})
            self._term_title.append(term.title_only)
            if term.kind == TermKind.REGEX:
                self._term_literal.append(-1)
                self._term_regex.append(_compile_regex(term.text))
                needs = [(need, self._needs_ids(need)) for need in _required_literals(term.text)]
                self._term_needs.append(tuple(need for need, ids in needs if ids is None))
                self._term_needs_ids.append(tuple(ids for _, ids in needs if ids is not None))
            else:
                literal = self._literal_ids.setdefault(
                    (term.kind, term.text, term.forms), len(self._literal_ids)
                )
                self._term_literal.append(literal)
                self._term_regex.append(None)
                self._term_needs.append(())
                self._term_needs_ids.append(())
        self._term_sources[term_id].setdefault(written.where or written.raw, written)
        compiled = _CTerm(term_id, term.raw)
        seen.setdefault(compiled, None)
        return compiled

    def _build_gates(self) -> None:
        """An outcome is a candidate for an entry only when each of its groups (sets of literals
        one of which its rule needs) has a hit; outcomes without groups are always tried.

        Each outcome's groups get one bit apiece, in a row followed by a guard bit; a literal's
        mask has the bits of the groups it is in. An entry ORs the masks of its hits; adding a 1
        at the bottom of every row then carries into the guard bit of exactly the full rows.
        """
        positions: list[list[int]] = [[] for _ in self._literal_ids]
        self._literal_length = {id_: len(text) for (_, text, _), id_ in self._literal_ids.items()}
        self._always: list[int] = []
        self._guard_outcome: dict[int, int] = {}  # guard bit's bit_length() -> outcome index
        low = guards = bit = 0
        for index, compiled in enumerate(self._outcomes):
            groups = self._groups(compiled.node)[:MAX_GROUPS]
            if not groups:
                self._always.append(index)
                continue
            low |= 1 << bit
            for group in groups:
                for literal in group:
                    positions[literal].append(bit)
                bit += 1
            guards |= 1 << bit
            self._guard_outcome[bit + 1] = index
            bit += 1
        self._low, self._guards = low, guards
        self._literal_gate = [sum(1 << b for b in bits) for bits in positions]

    def _needs_ids(self, needs: frozenset[str]) -> frozenset[int] | None:
        """Substrings a regex needs as literals of the Latin automaton (kind REGEX), or None."""
        views = [_latin_view(literal) for literal in needs]
        if not views or not all(view.strip() for view in views):
            return None
        ids = self._literal_ids
        return frozenset(ids.setdefault((TermKind.REGEX, view, ()), len(ids)) for view in views)

    def _groups(self, node: _CNode) -> list[frozenset[int]]:
        """Sets of literals such that `node` can only hold when each set has a hit."""
        match node:
            case _CTerm():
                return self._term_groups(node)
            case _CNear():
                found: list[frozenset[int]] = []
                for group in node.groups:
                    found += _either(
                        [self._term_groups(t) for t in group], self._literal_length.__getitem__
                    )
                return list(dict.fromkeys(found))
            case _CNone():
                return []
            case _CAll():
                children = [self._groups(child) for child in node.children]
                return list(dict.fromkeys(group for groups in children for group in groups))
            case _CAny():
                children = [self._groups(child) for child in node.children]
                return _either(children, self._literal_length.__getitem__)
            case _:
                assert_never(node)

    def _term_groups(self, term: _CTerm) -> list[frozenset[int]]:
        literal = self._term_literal[term.term_id]
        if literal >= 0:
            return [frozenset({literal})]
        return list(self._term_needs_ids[term.term_id])

    def _build_automata(self) -> None:
        """Latin-script literals go, padded with a space where they need a word boundary, into
        an automaton over the text's Latin view (every other character a space), so that every
        hit is a real one; the rest (CJK, symbols) are checked for boundaries per hit."""
        latin: dict[str, list[int]] = {}
        other: dict[str, tuple[list[int], list[int]]] = {}  # phrase and prefix literals
        for (kind, text, forms), literal in self._literal_ids.items():
            if kind == TermKind.REGEX:
                continue  # substrings regexes need: added below, after the terms
            if _LATIN_TERM.search(text) and not _CJK.search(text):
                for spelling in (text, *forms):  # a form ends on a word boundary like its term
                    key = _latin_view(spelling)
                    lead = key[0] != " "
                    trail = kind == TermKind.PHRASE and key[-1] != " "
                    key = " " * lead + key + " " * trail
                    slot = latin.setdefault(key, [lead, trail])
                    if literal not in slot[2:]:
                        slot.append(literal)
            else:
                for spelling in {s: None for form in (text, *forms) for s in _spacings(form)}:
                    phrases, prefixes = other.setdefault(spelling, ([], []))
                    (phrases if kind == TermKind.PHRASE else prefixes).append(literal)
        for (kind, text, _), literal in self._literal_ids.items():
            if kind == TermKind.REGEX:  # found as a plain substring of the Latin view
                latin.setdefault(text, [False, False]).append(literal)
        self._latin = _automaton(
            (key, (len(key), lead, trail, tuple(literals)))
            for key, (lead, trail, *literals) in latin.items()
        )
        self._other = _automaton(
            (
                _utf8_view(text),
                (len(text), _word_char(text[0]), _word_char(text[-1]), *map(tuple, slot)),
            )
            for text, slot in other.items()
        )
        self._other_ascii = any(text.isascii() for text in other)

    # ------------------------------------------------------------ matching

    def match(self, entry: Entry) -> list[Match]:
        """Every (indicator, outcome) whose rule the entry satisfies, in definition order."""
        scan = _Scan(self, entry.title, entry.text)
        gate, bits = self._literal_gate, 0
        for literal in scan.hits:
            bits |= gate[literal]
        ready = (bits + self._low) & self._guards
        candidates = list(self._always)
        while ready:
            lowest = ready & -ready
            candidates.append(self._guard_outcome[lowest.bit_length()])
            ready ^= lowest
        matches: list[Match] = []
        for index in sorted(candidates):
            outcome = self._outcomes[index]
            found = scan.explain(outcome.node, outcome.sentence, outcome.unless)
            if found is not None:
                terms, at = found
                snippet = _snippet(entry.title + "\n" + entry.text, at)
                matches.append(
                    Match(entry.key, outcome.indicator_id, outcome.outcome_id, terms, snippet)
                )
        return matches

    def terms_hit(self, entry: Entry, indicator_id: str) -> tuple[str, ...]:
        """Every term of one indicator that occurs in the entry, whether or not a rule held."""
        scan = _Scan(self, entry.title, entry.text)
        terms = self._indicator_terms.get(indicator_id, ())
        return _unique(t.raw for t in terms if scan.positions(t.term_id))

    def term_counts(self, entries: Iterable[Entry]) -> list[tuple[tuple[Term, ...], int]]:
        """Every term, as the places it is written at, with how many `entries` it occurs in."""
        counts = [0] * len(self._term_sources)
        for entry in entries:
            scan = _Scan(self, entry.title, entry.text)
            for term_id in range(len(counts)):
                counts[term_id] += bool(scan.positions(term_id))
        return [(tuple(s.values()), n) for s, n in zip(self._term_sources, counts, strict=True)]


def general_news_warnings(matcher: Matcher, entries: Sequence[Entry]) -> list[str]:
    """`file:line: warning:` for each term that occurs in more than GENERAL_NEWS_SHARE of
    `entries` (general news, about nothing the indicators watch) and in at least
    GENERAL_NEWS_MIN of them: such a term fires on unrelated news. One line per term, at the
    first place it is written."""
    limit = max(GENERAL_NEWS_MIN - 1, int(len(entries) * GENERAL_NEWS_SHARE))
    warnings = []
    for places, count in matcher.term_counts(entries):
        if count > limit and places:
            term, others = places[0], len(places) - 1
            also = f"; also written at {others} more places" if others else ""
            warnings.append(
                f"{term.where or term.raw}: warning: term {term.raw!r} occurs in {count} of"
                f" {len(entries)} general-news entries ({count / len(entries):.0%}{also});"
                " alone it fires on unrelated news"
            )
    return sorted(warnings)


def compile_matcher(indicators: Sequence[Indicator]) -> Matcher:
    return Matcher(indicators)


def _automaton(items: Iterable[tuple[str, object]]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for key, value in items:
        automaton.add_word(key, value)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def _spaces(text: str) -> str:
    """Every whitespace character as a space (the length stays)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_SPACES).decode("ascii")
    return str(_OTHER_SPACE.sub(" ", text))


class _ViewTable(dict[int, int]):
    """str.translate table of the Latin view, filled as characters are met."""

    def __missing__(self, code: int) -> int:
        value = self[code] = code if _word_char(chr(code)) else 0x20
        return value


_VIEW_TABLE = _ViewTable()


def _latin_view(text: str) -> str:
    """`text` with every character but Latin-script word characters replaced by a space."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_VIEW).decode("ascii")
    return text.translate(_VIEW_TABLE)


def _utf8_view(text: str) -> str:
    """The UTF-8 bytes of `text` as a str of code points < 256. Automata over it have few
    children per node (pyahocorasick searches them linearly), and UTF-8 keeps matches aligned
    on characters."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def _compile_regex(source: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(source, regex.IGNORECASE)
    except (regex.error, ValueError, OverflowError, RecursionError):
        return None  # definitions reject it; a matcher built anyway never matches it


def _fold_regex(source: str) -> str:
    """A regex with its literal characters folded like texts, but not inside `[...]`: folding
    an end of a range (`[丟-龜]`) would change or break the range."""
    if source.isascii():
        return source
    out: list[str] = []
    start = 0
    for found in _REGEX_CLASS.finditer(source):
        out += [fold(source[start : found.start()]), found.group()]
        start = found.end()
    out.append(fold(source[start:]))
    return "".join(out)


def _spacings(text: str) -> list[str]:
    """Spellings of a term with and without spaces between its Hangul syllables: Korean writes
    compounds either way (무비자, 무 비자; 비자 면제, 비자면제). Only runs of three syllables or
    more are split, so that 중국 never matches "중 국내"; past MAX_SPACINGS spellings, only
    the term as written and without any of those spaces."""
    compact = _HANGUL_SPACE.sub("", text)
    gaps = [
        run.start() + i
        for run in _HANGUL_RUN.finditer(compact)
        if len(run.group()) >= 3
        for i in range(1, len(run.group()))
    ]
    if 1 << len(gaps) > MAX_SPACINGS:
        return list(dict.fromkeys([text, compact]))
    found = [compact]
    for choice in itertools.product((False, True), repeat=len(gaps)):
        cut = [gap for gap, on in zip(gaps, choice, strict=True) if on]
        if cut:
            pieces = [compact[a:b] for a, b in zip([0, *cut], [*cut, len(compact)], strict=True)]
            found.append(" ".join(pieces))
    return list(dict.fromkeys([text, *found]))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# ---------------------------------------------------------------- one entry


class _Scan:
    """One entry's normalized text, its literal hits and lazily computed facts about it."""

    def __init__(self, matcher: Matcher, title: str, text: str) -> None:
        self.m = matcher
        norm_title, norm_text = fold(normalize(title)), fold(normalize(text))
        self.title_len = len(norm_title)
        self.norm = norm_title + "\n" + norm_text
        self.flat = _spaces(norm_title) + "\n" + _spaces(norm_text)
        self.hits = self._scan()
        self._positions: dict[int, list[tuple[int, int]]] = {}
        self._memo: dict[int, int] = {}
        self._literal_masks: dict[int, int] = {}
        self._sentences: list[int] | None = None
        self._words: list[int] | None = None

    def _scan(self) -> dict[int, list[tuple[int, int]]]:
        hits: dict[int, list[tuple[int, int]]] = {}
        if self.m._latin is not None:
            view = " " + _latin_view(self.flat) + " "
            for end, (length, lead, trail, literals) in self.m._latin.iter(view):
                span = (end - length + lead, end - trail)
                for literal in literals:
                    hits.setdefault(literal, []).append(span)
        if self.m._other is not None:
            self._scan_other(hits)
        return hits

    def _scan_other(self, hits: dict[int, list[tuple[int, int]]]) -> None:
        flat, size, table = self.flat, len(self.flat), _WORD_TABLE
        if not self.m._other_ascii and flat.isascii():
            return
        assert self.m._other is not None
        encoded = flat.encode("utf-8", "surrogatepass")
        done_bytes = done_chars = 0
        for end, (length, left, right, phrase, prefix) in self.m._other.iter(_utf8_view(flat)):
            done_chars += len(encoded[done_bytes : end + 1].decode("utf-8", "surrogatepass"))
            done_bytes = end + 1
            start, stop = done_chars - length, done_chars
            if left and start > 0:
                o = ord(flat[start - 1])
                if table[o] if o < _TABLE_SIZE else _word_char(flat[start - 1]):
                    continue
            for literal in prefix:
                hits.setdefault(literal, []).append((start, stop))
            if phrase:
                if right and stop < size:
                    o = ord(flat[stop])
                    if table[o] if o < _TABLE_SIZE else _word_char(flat[stop]):
                        continue
                for literal in phrase:
                    hits.setdefault(literal, []).append((start, stop))

    def positions(self, term_id: int) -> list[tuple[int, int]]:
        found = self._positions.get(term_id)
        if found is None:
            found = self._find(term_id)
            if self.m._term_title[term_id]:
                found = [(s, e) for s, e in found if e <= self.title_len]
            self._positions[term_id] = found
        return found

    def _find(self, term_id: int) -> list[tuple[int, int]]:
        literal = self.m._term_literal[term_id]
        if literal >= 0:
            return self.hits.get(literal, [])[:MAX_HITS_PER_TERM]
        pattern = self.m._term_regex[term_id]
        if pattern is None:
            return []
        text = self.flat[: self.title_len] if self.m._term_title[term_id] else self.flat
        hits = self.hits.keys()
        if any(hits.isdisjoint(ids) for ids in self.m._term_needs_ids[term_id]):
            return []
        if not all(any(n in text for n in need) for need in self.m._term_needs[term_id]):
            return []
        try:
            return _regex_hits(pattern, text, self.m.regex_timeout)
        except TimeoutError:
            self.m.regex_timeouts += 1
            return []

    # ------------------------------------------------------------ segments and words

    def segment(self, pos: int) -> int:
        if self._sentences is None:
            self._sentences = _sentence_starts(self.norm)
        return bisect_right(self._sentences, pos) - 1

    def universe(self, sentence: bool) -> int:
        if not sentence:
            return 1
        self.segment(0)
        assert self._sentences is not None
        return (1 << len(self._sentences)) - 1

    def word(self, pos: int) -> int:
        if self._words is None:
            tokens = _ASCII_TOKEN if self.flat.isascii() else _TOKEN
            self._words = [m.start() for m in tokens.finditer(self.flat)]
        return max(bisect_right(self._words, pos) - 1, 0)

    # ------------------------------------------------------------ evaluation

    def eval(self, node: _CNode, sentence: bool) -> int:
        """Bit mask of the segments (sentences, or the one entry) in which `node` holds."""
        if isinstance(node, _CTerm):
            return self._term_mask(node.term_id, sentence)
        mask = self._memo.get(id(node))  # a node belongs to one outcome, so to one scope
        if mask is None:
            match node:
                case _CAll():
                    mask = self._all_mask(node, sentence)
                case _CAny():
                    mask = self._any_mask(node, sentence)
                case _CNone():
                    mask = self.universe(sentence) & ~self._any_mask(node, sentence)
                case _CNear():
                    mask = self._near_mask(node, sentence)
                case _:
                    assert_never(node)
            self._memo[id(node)] = mask
        return mask

    def _all_mask(self, node: _CAll, sentence: bool) -> int:
        mask = self.universe(sentence)
        if node.literals:
            if not self.hits.keys() >= node.literals:
                return 0
            if sentence:
                for literal in node.literals:
                    mask &= self._literal_mask(literal)
        for child in node.rest:
            if not mask:
                break
            mask &= self.eval(child, sentence)
        return mask

    def _any_mask(self, node: _CAny | _CNone, sentence: bool) -> int:
        """The segments in which one of the children holds (for `none`, its complement)."""
        universe = self.universe(sentence)
        union = 0
        if node.literals:
            found = self.hits.keys() & node.literals
            if found and not sentence:
                union = 1
            for literal in found if sentence else ():
                union |= self._literal_mask(literal)
        for child in node.rest:
            if union == universe:
                break
            union |= self.eval(child, sentence)
        return union

    def _literal_mask(self, literal: int) -> int:
        mask = self._literal_masks.get(literal)
        if mask is None:
            mask = 0
            for start, _ in self.hits.get(literal, ()):
                mask |= 1 << self.segment(start)
            self._literal_masks[literal] = mask
        return mask

    def _term_mask(self, term_id: int, sentence: bool) -> int:
        if sentence and self.m._plain_literal(term_id):
            return self._literal_mask(self.m._term_literal[term_id])
        found = self.positions(term_id)
        if not found or not sentence:
            return 1 if found else 0
        mask = 0
        for start, _ in found:
            mask |= 1 << self.segment(start)
        return mask

    def _near_mask(self, node: _CNear, sentence: bool) -> int:
        per_group: list[dict[int, list[tuple[int, int]]]] = []
        for group in node.groups:
            by_segment: dict[int, list[tuple[int, int]]] = {}
            for term in group:
                for start, end in self.positions(term.term_id):
                    segment = self.segment(start) if sentence else 0
                    span = (self.word(start), self.word(end - 1))
                    by_segment.setdefault(segment, []).append(span)
            if not by_segment:
                return 0
            per_group.append(by_segment)
        if node.order == Order.AFTER:
            per_group.reverse()
        common = set(per_group[0]).intersection(*per_group[1:])
        close = _near if node.order == Order.ANY else _near_in_order
        mask = 0
        for segment in common:
            if close(tuple(sorted(g[segment]) for g in per_group), node.within):
                mask |= 1 << segment
        return mask

    def present(self, node: _CNode) -> bool:
        """Whether the entry has every term `node` needs (a `none` counts as holding): false
        means `node` holds in no sentence, found without splitting the entry into sentences."""
        match node:
            case _CTerm():
                return bool(self.positions(node.term_id))
            case _CNear():
                return all(any(self.positions(t.term_id) for t in group) for group in node.groups)
            case _CAll():
                hits = self.hits.keys()
                return hits >= node.literals and all(self.present(child) for child in node.rest)
            case _CAny():
                hits = self.hits.keys()
                return not hits.isdisjoint(node.literals) or any(map(self.present, node.rest))
            case _CNone():
                return True
            case _:
                assert_never(node)

    def explain(
        self, node: _CNode, sentence: bool, unless: Sequence[_CTerm] = ()
    ) -> tuple[tuple[str, ...], int] | None:
        """The raw terms that made `node` hold and where the first of them is, or None.

        None too when an `unless` cue shares a sentence with the match: with sentence scope,
        sentences holding a cue do not count; with entry scope, a cue in any sentence that holds
        one of the matched terms cancels the match."""
        if sentence and not self.present(node):
            return None
        mask = self.eval(node, sentence)
        cues = self._cues(unless) if mask else 0
        if sentence:
            mask &= ~cues
        if not mask:
            return None
        bit = mask & -mask
        fired: list[_CTerm] = []
        self._fired(node, sentence, bit, fired)
        spans = [span for term in fired for span in self.positions(term.term_id)]
        if not sentence and cues and any(1 << self.segment(s) & cues for s, _ in spans):
            return None
        starts = [start for start, _ in spans if not sentence or 1 << self.segment(start) == bit]
        return _unique(t.raw for t in fired), min(starts, default=0)

    def _cues(self, unless: Sequence[_CTerm]) -> int:
        """Bit mask of the sentences holding one of the `unless` terms."""
        if not any(self.positions(term.term_id) for term in unless):
            return 0
        mask = 0
        for term in unless:
            mask |= self._term_mask(term.term_id, True)
        return mask

    def _fired(self, node: _CNode, sentence: bool, bit: int, out: list[_CTerm]) -> None:
        match node:
            case _CTerm():
                out.append(node)
            case _CNear():
                out.extend(t for group in node.groups for t in group if self.positions(t.term_id))
            case _CAll() | _CAny():
                for child in node.children:
                    if self.eval(child, sentence) & bit:
                        self._fired(child, sentence, bit, out)
            case _CNone():
                pass  # terms that must be absent explain nothing
            case _:
                assert_never(node)


# Syntax of the `regex` module that the standard library's parser reads differently or not at all.
_NOT_SRE = ("[[:", "\\p", "\\P", "\\X", "\\L", "\\G", "\\m", "\\M", "(?|", "(?r", "(?V", "(?f")
_FUZZY = regex.compile(r"\{[^}]*[a-z<>=]")


def _required_literals(source: str) -> tuple[frozenset[str], ...]:
    """Sets of ASCII literals (lower case) such that every match of the regex contains one of
    each set; () when nothing is known.

    Cheap tests on the case-folded text then skip most regex runs. Read with the standard
    library's parser; patterns using syntax only the `regex` module knows get no prefilter.
    """
    if any(mark in source for mark in _NOT_SRE) or _FUZZY.search(source):
        return ()
    try:
        parsed = sre_parse.parse(source, sre_compile.SRE_FLAG_IGNORECASE)
        needs = _needs(list(parsed))
    except Exception:  # any pattern the standard parser cannot read: no prefilter
        return ()
    ranked = sorted((need for need in needs if need and all(need)), key=_selectivity, reverse=True)
    # the most selective requirement, and a few more whose literals are long enough to be rare
    # (short ones would hit in most texts: scanning for them would cost more than they save)
    return tuple(ranked[:1] + [need for need in ranked[1:4] if _selectivity(need)[0] >= 4])


def _selectivity(need: frozenset[str]) -> tuple[int, int]:
    return min(map(len, need)), -len(need)


def _needs(items: list[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Every requirement of a parsed sequence: sets of literals, one of each in every match."""
    found: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            found.append(frozenset({"".join(run)}))
            run.clear()

    for op, arg in items:
        if op is sre_constants.LITERAL and arg < 128:
            run.append(chr(arg).lower())
            continue
        close()
        if op is sre_constants.SUBPATTERN:
            found += _needs(list(arg[-1]))
        elif op is sre_constants.BRANCH:
            found += _either([_needs(list(branch)) for branch in arg[1]], len)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            found += _needs(list(arg[2]))
    close()
    return list(dict.fromkeys(found))


def _either(
    alternatives: list[list[frozenset[T]]], length: Callable[[T], int]
) -> list[frozenset[T]]:
    """The requirements of "one of `alternatives` holds", each alternative given as its own:
    the union of one requirement of each, for every way of picking them (at most MAX_GROUPS
    ways; the most selective requirements, those whose shortest literal is longest, first)."""
    if not alternatives or not all(alternatives):
        return []

    def selectivity(need: frozenset[T]) -> tuple[int, int]:
        return min(map(length, need)), -len(need)

    ranked = [sorted(needs, key=selectivity, reverse=True) for needs in alternatives]
    keep = [1] * len(ranked)
    grown = True
    while grown:
        grown = False
        for i, needs in enumerate(ranked):
            if keep[i] < len(needs) and math.prod(keep) // keep[i] * (keep[i] + 1) <= MAX_GROUPS:
                keep[i] += 1
                grown = True
    picks = [needs[:k] for needs, k in zip(ranked, keep, strict=True)]
    return list(dict.fromkeys(frozenset().union(*c) for c in itertools.product(*picks)))


def _regex_hits(pattern: regex.Pattern[str], text: str, timeout: float) -> list[tuple[int, int]]:
    """Spans of a regex in text; raises TimeoutError when it spends more than `timeout` seconds
    of this thread's CPU time in all, or REGEX_WALL_FACTOR times that on the clock.

    `regex` times out on the clock, so a search that a busy machine merely kept waiting is
    tried again while the CPU budget lasts: a match is not lost to load, and a backtracking
    pattern still stops."""
    cpu_deadline = time.thread_time() + timeout
    wall_deadline = time.monotonic() + timeout * REGEX_WALL_FACTOR
    hits: list[tuple[int, int]] = []
    pos = 0
    while len(hits) < MAX_HITS_PER_TERM and pos <= len(text):
        remaining = min(cpu_deadline - time.thread_time(), wall_deadline - time.monotonic())
        if remaining <= 0:
            raise TimeoutError
        try:
            found = pattern.search(text, pos, timeout=remaining)
        except TimeoutError:
            continue  # over the budget (raised above), or kept waiting: search again
        if found is None:
            break
        start, end = found.span()
        hits.append((start, max(end, start + 1)))
        pos = end if end > start else end + 1
    return hits


def _near(occurrences: tuple[list[tuple[int, int]], ...], within: int) -> bool:
    """Whether one occurrence (first word, last word) per term fits with <= `within` words between.

    Each occurrence in turn is taken as the leftmost; every other term then uses its occurrence
    starting at or after it that ends first.
    """
    for index, anchors in enumerate(occurrences):
        for first, last in anchors:
            right, covered = last, last - first + 1
            for other, spans in enumerate(occurrences):
                if other == index:
                    continue
                after = [span for span in spans if span[0] >= first]
                if not after:
                    break
                best = min(after, key=lambda span: span[1])
                right = max(right, best[1])
                covered += best[1] - best[0] + 1
            else:
                if (right - first + 1) - covered <= within:
                    return True
    return False


def _near_in_order(occurrences: tuple[list[tuple[int, int]], ...], within: int) -> bool:
    """Whether one occurrence per term, each after the one before it, fits with <= `within`
    words between the first and the last. From each occurrence of the first term, every next
    term takes its occurrence that starts after the previous one ends and ends first."""
    for first, last in occurrences[0]:
        right, covered = last, last - first + 1
        for spans in occurrences[1:]:
            after = [span for span in spans if span[0] > right]
            if not after:
                break
            best = min(after, key=lambda span: span[1])
            covered += best[1] - best[0] + 1
            right = best[1]
        else:
            if (right - first + 1) - covered <= within:
                return True
    return False


def _sentence_starts(norm: str) -> list[int]:
    """Start offsets of the sentences of normalized text."""
    return [0, *(found.end() for found in _SENTENCE_END.finditer(norm))]


# ---------------------------------------------------------------- snippets


def _original_offset(original: str, target: int) -> int:
    """Offset in `original` of the character at `target` in its normalized form (approximate
    only where normalization joins characters across combining-sequence boundaries)."""
    if original.isascii():
        return min(target, len(original))
    length, i, size = 0, 0, len(original)
    while i < size:
        j = i + 1
        while j < size and unicodedata.combining(original[j]):
            j += 1
        length += len(normalize(original[i:j]))
        if length > target:
            return i
        i = j
    return size


def _snippet(original: str, at: int) -> str:
    """About SNIPPET_CHARS characters of the original text around the normalized offset `at`."""
    center = _original_offset(original, at)
    start = max(0, center - SNIPPET_CHARS // 3)
    end = min(len(original), start + SNIPPET_CHARS)
    start = max(0, min(start, end - SNIPPET_CHARS))
    piece = original[start:end]
    if start > 0:
        cut = piece.find(" ", 0, 20)
        piece = piece[cut + 1 :] if cut >= 0 else piece
    if end < len(original):
        cut = piece.rfind(" ", max(0, len(piece) - 20))
        piece = piece[:cut] if cut > 0 else piece
    text = " ".join(piece.split())
    return ("…" if start > 0 else "") + text + ("…" if end < len(original) else "")


# ---------------------------------------------------------------- examples


def run_examples(indicators: Sequence[Indicator], matcher: Matcher) -> list[ExampleResult]:
    """Run every indicator's `examples` (text as the title, body as the text) through `matcher`."""
    results: list[ExampleResult] = []
    for indicator in indicators:
        for example in indicator.examples:
            entry = Entry(
                feed_id="example",
                guid=f"example:{indicator.id}:{example.line}",
                link="",
                title=example.text,
                text=example.body,
                published=None,
                publisher="example",
            )
            found = _unique(
                m.outcome_id for m in matcher.match(entry) if m.indicator_id == indicator.id
            )
            expected = {example.expect} if example.expect != "none" else set()
            results.append(
                ExampleResult(
                    indicator_id=indicator.id,
                    example=example,
                    expected=example.expect,
                    actual=found or ("none",),
                    passed=set(found) == expected,
                    terms=matcher.terms_hit(entry, indicator.id),
                )
            )
    return results
