"""One entry against the compiled rules: its literal hits, term positions, sentences and words,
and the evaluation and explanation of a compiled rule. Pure: no I/O."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import assert_never

from monitor.domain import normalize
from monitor.fold import fold
from monitor.match.machine import (
    CAll,
    CAny,
    CNear,
    CNode,
    CNone,
    CScope,
    CTerm,
    Machine,
    shown_once,
)
from monitor.match.regexterms import MAX_HITS_PER_TERM, regex_hits
from monitor.match.textview import (
    ASCII_TOKEN,
    TABLE_SIZE,
    TOKEN,
    WORD_TABLE,
    latin_view,
    sentence_starts,
    spaces,
    utf8_view,
    word_char,
)
from monitor.ruletree import Order


class Scan:
    """One entry's normalized text, its literal hits and lazily computed facts about it."""

    def __init__(self, matcher: Machine, title: str, text: str) -> None:
        self.m = matcher
        norm_title, norm_text = fold(normalize(title)), fold(normalize(text))
        self.title_len = len(norm_title)
        self.norm = norm_title + "\n" + norm_text
        self.flat = spaces(norm_title) + "\n" + spaces(norm_text)
        self.hits = self._scan()
        self.ready = self._gates()  # the open gates' guard bits (Machine._build_gates)
        self._positions: dict[int, list[tuple[int, int]]] = {}
        self._memo: dict[int, tuple[int, int]] = {}  # per operator node: mask, bits known
        self._literal_masks: dict[int, int] = {}
        self._term_masks: tuple[dict[int, int], dict[int, int]] = ({}, {})  # entry, sentence
        self._sentences: list[int] | None = None
        self._words: list[int] | None = None

    def _scan(self) -> dict[int, list[tuple[int, int]]]:
        hits: dict[int, list[tuple[int, int]]] = {}
        if self.m.latin is not None:
            view = " " + latin_view(self.flat) + " "
            get = hits.get
            for end, (first, last, literals) in self.m.latin.iter(view):
                span = (end + first, end + last)
                for literal in literals:
                    spans = get(literal)
                    if spans is None:
                        hits[literal] = [span]
                    else:
                        spans.append(span)
        if self.m.other is not None:
            self._scan_other(hits)
        return hits

    def _gates(self) -> int:
        """The guard bits of the gates (outcomes, regex terms, operators' children) whose every
        group of literals has a hit."""
        gate, bits = self.m.literal_gate, 0
        for literal in self.hits:
            bits |= gate[literal]
        return (bits + self.m.low) & self.m.guards

    def open(self, gate: int) -> bool:
        """Whether a node with this gate (a guard bit, or 0 for none) may hold in the entry."""
        return not gate or bool(self.ready & gate)

    def _scan_other(self, hits: dict[int, list[tuple[int, int]]]) -> None:
        flat, size, table = self.flat, len(self.flat), WORD_TABLE
        if not self.m.other_ascii and flat.isascii():
            return
        assert self.m.other is not None
        encoded = flat.encode("utf-8", "surrogatepass")
        done_bytes = done_chars = 0
        for end, (length, left, right, phrase, prefix) in self.m.other.iter(utf8_view(flat)):
            done_chars += len(encoded[done_bytes : end + 1].decode("utf-8", "surrogatepass"))
            done_bytes = end + 1
            start, stop = done_chars - length, done_chars
            if left and start > 0:
                o = ord(flat[start - 1])
                if table[o] if o < TABLE_SIZE else word_char(flat[start - 1]):
                    continue
            for literal in prefix:
                hits.setdefault(literal, []).append((start, stop))
            if phrase:
                if right and stop < size:
                    o = ord(flat[stop])
                    if table[o] if o < TABLE_SIZE else word_char(flat[stop]):
                        continue
                for literal in phrase:
                    hits.setdefault(literal, []).append((start, stop))

    def positions(self, term_id: int) -> list[tuple[int, int]]:
        found = self._positions.get(term_id)
        if found is None:
            found = self._find(term_id)
            if self.m.term_title[term_id]:
                found = [(s, e) for s, e in found if e <= self.title_len]
            self._positions[term_id] = found
        return found

    def _find(self, term_id: int) -> list[tuple[int, int]]:
        literal = self.m.term_literal[term_id]
        if literal >= 0:
            return self.hits.get(literal, [])[:MAX_HITS_PER_TERM]
        pattern = self.m.term_regex[term_id]
        if pattern is None:
            return []
        text = self._regex_text(term_id)
        if not self._needs_met(term_id, text):
            return []
        try:
            return regex_hits(pattern, text, self.m.regex_timeout)
        except TimeoutError:
            self.m.regex_timeouts += 1
            self.m.timed_out[term_id] = self.m.timed_out.get(term_id, 0) + 1
            return []

    def _regex_text(self, term_id: int) -> str:
        return self.flat[: self.title_len] if self.m.term_title[term_id] else self.flat

    def _needs_met(self, term_id: int, text: str) -> bool:
        """Whether `text` has a substring of each set that a regex term needs."""
        if not self.open(self.m.term_gate[term_id]):
            return False
        return all(any(n in text for n in need) for need in self.m.term_needs[term_id])

    # ------------------------------------------------------------ segments and words

    def segment(self, pos: int) -> int:
        if self._sentences is None:
            self._sentences = sentence_starts(self.norm)
        return bisect_right(self._sentences, pos) - 1

    def universe(self, sentence: bool) -> int:
        if not sentence:
            return 1
        self.segment(0)
        assert self._sentences is not None
        return (1 << len(self._sentences)) - 1

    def word(self, pos: int) -> int:
        if self._words is None:
            tokens = ASCII_TOKEN if self.flat.isascii() else TOKEN
            self._words = [m.start() for m in tokens.finditer(self.flat)]
        return max(bisect_right(self._words, pos) - 1, 0)

    # ------------------------------------------------------------ evaluation

    def eval(self, node: CNode, sentence: bool, care: int) -> int:
        """Bit mask of the segments (sentences, or the one entry) in which `node` holds, exact
        on the bits of `care` (a subset of the universe); the other bits may be wrong. An `any`
        stops evaluating its children once `care` is covered, an `all` once nothing is left,
        so a regex runs only where its answer can still change the outcome."""
        if isinstance(node, CTerm):
            return self._term_mask(node.term_id, sentence)
        known = self._memo.get(id(node))  # a node belongs to one outcome and is read in one scope
        if known is not None:
            mask, bits = known
            if not care & ~bits:
                return mask
            care &= ~bits  # only the bits not known yet
        else:
            mask = bits = 0
        match node:
            case CAll():
                found = self._all_mask(node, sentence, care)
            case CAny():
                found = self._any_mask(node, sentence, care)
            case CNone():
                found = self.universe(sentence) & ~self._any_mask(node, sentence, care)
            case CNear():
                found = self._near_mask(node, sentence)
                care = self.universe(sentence)  # found exactly for every segment
            case CScope():
                found = self._scope_mask(node, sentence, care)
            case _:
                assert_never(node)
        mask, bits = (mask & bits) | (found & care), bits | care
        self._memo[id(node)] = (mask, bits)
        return mask

    def _scope_mask(self, node: CScope, sentence: bool, care: int) -> int:
        """Within sentences, an entry-scoped child holds in every sentence when it holds in the
        entry; within the entry, a sentence-scoped child holds when it holds in one sentence."""
        if node.sentence == sentence:
            return self.eval(node.child, sentence, care)
        if sentence:
            return self.universe(True) if self.eval(node.child, False, 1) else 0
        held = self.present(node.child) and self.eval(node.child, True, self.universe(True))
        return 1 if held else 0

    def _all_mask(self, node: CAll, sentence: bool, care: int) -> int:
        mask = care
        if node.literals:
            if not self.hits.keys() >= node.literals:
                return 0
            if sentence:
                for literal in node.literals:
                    mask &= self._literal_mask(literal)
        ready = self.ready
        for child, gate in node.rest:
            if not mask:
                break
            if gate and not ready & gate:  # self.open, inlined in the hot loops
                return 0
            mask &= self.eval(child, sentence, mask)
        return mask

    def _any_mask(self, node: CAny | CNone, sentence: bool, care: int) -> int:
        """The segments in which one of the children holds (for `none`, its complement)."""
        union = 0
        if node.literals:
            if not sentence:
                union = 0 if self.hits.keys().isdisjoint(node.literals) else 1
            else:
                for literal in node.literals.intersection(self.hits):
                    union |= self._literal_mask(literal)
        ready = self.ready
        for child, gate in node.rest:
            need = care & ~union
            if not need:
                break
            if gate and not ready & gate:
                continue
            union |= self.eval(child, sentence, need) & need
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
        masks = self._term_masks[sentence]
        mask = masks.get(term_id)
        if mask is None:
            literal = self.m.term_plain[term_id]
            if sentence and literal >= 0:
                mask = self._literal_mask(literal)
            else:
                found = self.positions(term_id)
                mask = 0
                if found and not sentence:
                    mask = 1
                for start, _ in found if sentence else ():
                    mask |= 1 << self.segment(start)
            masks[term_id] = mask
        return mask

    def near_in_any_order(self, node: CNear, sentence: bool) -> int:
        """The mask `node` would hold in with `order: any` (for `monitor explain`: groups close
        enough, but in another order than the one it asks for)."""
        return self._near_mask(node, sentence, Order.ANY)

    def _near_mask(self, node: CNear, sentence: bool, order: Order | None = None) -> int:
        order = node.order if order is None else order
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
        if order == Order.AFTER:
            per_group.reverse()
        common = set(per_group[0]).intersection(*per_group[1:])
        close = near if order == Order.ANY else near_in_order
        mask = 0
        for segment in common:
            if close(tuple(sorted(g[segment]) for g in per_group), node.within):
                mask |= 1 << segment
        return mask

    def present(self, node: CNode) -> bool:
        """Whether the entry may have every term `node` needs (a `none` counts as holding):
        false means `node` holds in no sentence, found without splitting the entry into
        sentences and without running a regex (one not run yet counts as present; the masks
        run it only if it can still decide the outcome)."""
        match node:
            case CTerm():
                return self._may_occur(node.term_id)
            case CNear():
                return all(any(self._may_occur(t.term_id) for t in group) for group in node.groups)
            case CAll():
                hits = self.hits.keys()
                return hits >= node.literals and all(
                    self.open(gate) and self.present(child) for child, gate in node.rest
                )
            case CAny():
                hits = self.hits.keys()
                return not hits.isdisjoint(node.literals) or any(
                    self.open(gate) and self.present(child) for child, gate in node.rest
                )
            case CNone():
                return True
            case CScope():
                return self.present(node.child)
            case _:
                assert_never(node)

    def _may_occur(self, term_id: int) -> bool:
        found = self._positions.get(term_id)
        if found is not None:
            return bool(found)
        if self.m.term_regex[term_id] is not None:
            return self.open(self.m.term_gate[term_id])
        return bool(self.positions(term_id))

    def explain(
        self, node: CNode, sentence: bool, unless: Sequence[CTerm] = ()
    ) -> tuple[tuple[str, ...], int] | None:
        """The raw terms that made `node` hold and where the first of them is, or None.

        None too when an `unless` cue shares a sentence with the match: with sentence scope,
        sentences holding a cue do not count; with entry scope, a cue in any sentence that holds
        one of the matched terms cancels the match."""
        if sentence and not self.present(node):
            return None
        mask = self.eval(node, sentence, self.universe(sentence))
        cues = self._cues(unless) if mask else 0
        if sentence:
            mask &= ~cues
        if not mask:
            return None
        bit = mask & -mask
        fired: list[CTerm] = []
        self._fired(node, sentence, bit, fired)
        spans = [span for term in fired for span in self.positions(term.term_id)]
        if not sentence and cues and any(1 << self.segment(s) & cues for s, _ in spans):
            return None
        starts = [start for start, _ in spans if not sentence or 1 << self.segment(start) == bit]
        return shown_once(fired), min(starts, default=0)

    def _cues(self, unless: Sequence[CTerm]) -> int:
        """Bit mask of the sentences holding one of the `unless` terms."""
        if not any(self.positions(term.term_id) for term in unless):
            return 0
        mask = 0
        for term in unless:
            mask |= self._term_mask(term.term_id, True)
        return mask

    def _fired(self, node: CNode, sentence: bool, bit: int, out: list[CTerm]) -> None:
        match node:
            case CTerm():
                out.append(node)
            case CNear():
                out.extend(t for group in node.groups for t in group if self.positions(t.term_id))
            case CAll() | CAny():
                hits, plain = self.hits, self.m.term_plain
                rest = iter(node.rest)  # the children that are not plain literals, in order
                for child in node.children:
                    if type(child) is CTerm and plain[child.term_id] >= 0:
                        literal = plain[child.term_id]  # most children: no need to evaluate
                        if literal in hits and (not sentence or self._literal_mask(literal) & bit):
                            out.append(child)
                    elif self.open(next(rest)[1]) and self.eval(child, sentence, bit) & bit:
                        self._fired(child, sentence, bit, out)
            case CNone():
                pass  # terms that must be absent explain nothing
            case CScope() if node.sentence == sentence:
                self._fired(node.child, sentence, bit, out)
            case CScope() if sentence:  # an entry-scoped child: its terms anywhere
                self._fired(node.child, False, 1, out)
            case CScope():  # a sentence-scoped child: its terms in the first sentence it holds in
                held = self.eval(node.child, True, self.universe(True))
                self._fired(node.child, True, held & -held, out)
            case _:
                assert_never(node)


def near(occurrences: tuple[list[tuple[int, int]], ...], within: int) -> bool:
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


def near_in_order(occurrences: tuple[list[tuple[int, int]], ...], within: int) -> bool:
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
