"""Compiling rules: every literal term in Aho-Corasick automata, the gates that pick the
outcomes worth evaluating, and the compiled rule tree (one node class per operator). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, assert_never

import ahocorasick
import regex

from monitor.domain import Indicator
from monitor.fold import fold
from monitor.match.prefilter import MAX_GROUPS, either, required_literals
from monitor.match.regexterms import REGEX_TIMEOUT, compile_regex, fold_regex
from monitor.match.textview import CJK, LATIN_TERM, latin_view, spacings, utf8_view, word_char
from monitor.operators import Operator
from monitor.ruletree import (
    AllNode,
    AnyNode,
    NearNode,
    Node,
    NoneNode,
    Order,
    Scope,
    ScopeNode,
    Term,
    TermKind,
    TermNode,
)

GATE_GROUPS = 4  # literal groups gating a regex term or an operator's child


@dataclass(frozen=True, slots=True)
class CTerm:
    term_id: int
    raw: str
    # the vocabulary reference it was written as (`@actors.china`), or "": for explanations;
    # a term from a vocabulary and the same term written out are one term to the matcher
    vocabulary: str = field(default="", compare=False)


def shown_once(terms: Iterable[CTerm]) -> tuple[str, ...]:
    """The terms as written, each once however many spellings fold to it (中韩 and 中韓 listed
    in one vocabulary are one term to the matcher): the first spelling."""
    first: dict[int, str] = {}
    for term in terms:
        first.setdefault(term.term_id, term.raw)
    return tuple(dict.fromkeys(first.values()))


@dataclass(frozen=True, slots=True)
class CAll:
    operator: ClassVar[Operator] = Operator.ALL
    children: tuple[CNode, ...]
    literals: frozenset[int]  # literal ids of the children that are plain literal terms
    # the other children (regexes, title: terms, operators), each with its gate's guard bit
    # (0: none): where the gate is shut, the child holds nowhere
    rest: tuple[tuple[CNode, int], ...]


@dataclass(frozen=True, slots=True)
class CAny:
    operator: ClassVar[Operator] = Operator.ANY
    children: tuple[CNode, ...]
    literals: frozenset[int]
    rest: tuple[tuple[CNode, int], ...]


@dataclass(frozen=True, slots=True)
class CNone:
    operator: ClassVar[Operator] = Operator.NONE
    children: tuple[CNode, ...]
    literals: frozenset[int]
    rest: tuple[tuple[CNode, int], ...]


@dataclass(frozen=True, slots=True)
class CNear:
    operator: ClassVar[Operator] = Operator.NEAR
    groups: tuple[tuple[CTerm, ...], ...]  # one term of each group must occur
    within: int
    order: Order


@dataclass(frozen=True, slots=True)
class CScope:
    """A nested rule with a scope of its own (`ScopeNode`): `child` is evaluated in it."""

    child: CNode
    sentence: bool


COperator = CAll | CAny | CNone | CNear  # one compiled node per Operator member
CNode = CTerm | COperator | CScope


@dataclass(frozen=True, slots=True)
class COutcome:
    indicator_id: str
    outcome_id: str
    node: CNode
    sentence: bool
    unless: tuple[CTerm, ...]  # cues that cancel a match in a sentence of its terms


class Machine:
    """Every indicator's rules, compiled once: the automata, the gates and the term tables
    that a `Scan` of one entry reads."""

    def __init__(self, indicators: Sequence[Indicator], *, regex_timeout: float = REGEX_TIMEOUT):
        self.indicators = tuple(indicators)
        self.regex_timeout = regex_timeout
        self.regex_timeouts = 0  # how many regex runs timed out (for metrics)
        self.timed_out: dict[int, int] = {}  # term id -> runs out of budget, since taken
        self.term_ids: dict[tuple[TermKind, str, bool, tuple[str, ...]], int] = {}
        # (kind, text, other spellings) of every literal: a phrase and its forms are one literal
        self.literal_ids: dict[tuple[TermKind, str, tuple[str, ...]], int] = {}
        self.term_literal: list[int] = []  # literal id, or -1 for a regex term
        self.term_plain: list[int] = []  # literal id of a plain literal term (not title:), or -1
        self.term_title: list[bool] = []
        self.term_regex: list[regex.Pattern[str] | None] = []
        # Per regex: sets of substrings one of each of which a match contains, as literal ids
        # (substrings of the Latin view), or as strings where their Latin view is blank.
        self.term_needs: list[tuple[frozenset[str], ...]] = []
        self.term_needs_ids: list[tuple[frozenset[int], ...]] = []
        self.term_gate: list[int] = []  # guard bit of a regex term's needs, or 0
        self.literal_length: list[int] = []  # per literal id
        # the gates (see _build_gates): groups of literals -> guard bit; literal -> its bits
        self.gates: dict[tuple[frozenset[int], ...], int] = {}
        self.literal_bits: dict[int, list[int]] = {}
        self.rows: list[tuple[int, int]] = []  # per row of the gates: first bit, guard bit
        # by id; the node is kept with them, so that its id is never another node's
        self.node_groups: dict[int, tuple[CNode, list[frozenset[int]]]] = {}
        self.outcomes: list[COutcome] = []
        self.term_sources: list[dict[str, Term]] = []  # per term id: the terms, by where
        self.indicator_terms: dict[str, tuple[CTerm, ...]] = {}
        for indicator in self.indicators:
            terms: dict[CTerm, None] = {}
            for outcome in indicator.outcomes:
                node = self._compile(outcome.rule.node, terms)
                sentence = outcome.rule.scope == Scope.SENTENCE
                unless = tuple(self._compile_term(t, terms) for t in outcome.unless)
                self.outcomes.append(COutcome(indicator.id, outcome.id, node, sentence, unless))
            self.indicator_terms[indicator.id] = tuple(terms)
        self._build_gates()
        # what only compiling needs: a matcher is kept for as long as its definitions
        self.gates.clear()
        self.literal_bits.clear()
        self.node_groups.clear()
        self.rows.clear()
        self._build_automata()

    # ------------------------------------------------------------ compiling

    def _compile(self, node: Node, seen: dict[CTerm, None]) -> CNode:
        match node:
            case TermNode():
                return self._compile_term(node.term, seen)
            case NearNode():
                groups = tuple(
                    tuple(self._compile_term(t, seen) for t in group) for group in node.terms
                )
                return CNear(groups, node.within, node.order)
            case AllNode():
                return CAll(*self._compile_children(node.children, seen))
            case AnyNode():
                return CAny(*self._compile_children(node.children, seen))
            case NoneNode():
                return CNone(*self._compile_children(node.children, seen))
            case ScopeNode():
                return CScope(self._compile(node.node, seen), node.scope == Scope.SENTENCE)
            case _:
                assert_never(node)

    def _compile_children(
        self, nodes: tuple[Node, ...], seen: dict[CTerm, None]
    ) -> tuple[tuple[CNode, ...], frozenset[int], tuple[tuple[CNode, int], ...]]:
        """An operator's compiled children, the literal ids of the plain literal terms among
        them, and the others with their gates."""
        children = tuple(self._compile(child, seen) for child in nodes)
        plain = [c for c in children if isinstance(c, CTerm) and self.plain_literal(c.term_id)]
        rest = tuple(
            (c, self._gate(self._groups(c)[:GATE_GROUPS])) for c in children if c not in plain
        )
        literals = frozenset(self.term_literal[c.term_id] for c in plain)
        return children, literals, rest

    def plain_literal(self, term_id: int) -> bool:
        return self.term_literal[term_id] >= 0 and not self.term_title[term_id]

    def take_timeouts(self) -> dict[str, int]:
        """Each regex term (as first written) that ran out of its time budget since the last
        call, with how many times; then forgets them (a cycle takes them once, to log them)."""
        taken, self.timed_out = self.timed_out, {}
        return {next(iter(self.term_sources[t].values())).raw: n for t, n in taken.items()}

    def _compile_term(self, written: Term, seen: dict[CTerm, None]) -> CTerm:
        # Traditional as Simplified, like texts; read off `written`, not a copy of it made
        # with `replace` (a copy per term written cost some 8% of compiling)
        kind, title = written.kind, written.title_only
        text = fold_regex(written.text) if kind == TermKind.REGEX else fold(written.text)
        forms = tuple(map(fold, written.forms))
        key = (kind, text, title, forms)
        term_id = self.term_ids.get(key)
        if term_id is None:
            term_id = self.term_ids[key] = len(self.term_literal)
            self.term_sources.append({})
            self.term_title.append(title)
            if kind == TermKind.REGEX:
                self.term_literal.append(-1)
                self.term_regex.append(compile_regex(text))
                needs = [(need, self._needs_ids(need)) for need in required_literals(text)]
                self.term_needs.append(tuple(need for need, ids in needs if ids is None))
                self.term_needs_ids.append(tuple(ids for _, ids in needs if ids is not None))
            else:
                self.term_literal.append(self._literal(kind, text, forms))
                self.term_regex.append(None)
                self.term_needs.append(())
                self.term_needs_ids.append(())
            self.term_gate.append(self._gate(self.term_needs_ids[term_id]))
            self.term_plain.append(
                self.term_literal[term_id] if self.plain_literal(term_id) else -1
            )
        self.term_sources[term_id].setdefault(written.where or written.raw, written)
        compiled = CTerm(term_id, written.shown, written.vocabulary)
        seen.setdefault(compiled, None)
        return compiled

    def _literal(self, kind: TermKind, text: str, forms: tuple[str, ...] = ()) -> int:
        literal = self.literal_ids.setdefault((kind, text, forms), len(self.literal_ids))
        if literal == len(self.literal_length):
            self.literal_length.append(len(text))
        return literal

    def _build_gates(self) -> None:
        """An outcome is a candidate for an entry only when each of its groups (sets of literals
        one of which its rule needs) has a hit; outcomes without groups are always tried. Regex
        terms and the other children of operators (`rest`) have gates too, shared by equal
        groups (at most GATE_GROUPS of them), so that one held nowhere is not evaluated.

        Each gate's groups get one bit apiece, in a row followed by a guard bit; a literal's
        mask has the bits of the groups it is in. An entry ORs the masks of its hits; adding a 1
        at the bottom of every row then carries into the guard bit of exactly the full rows.
        """
        self.always: list[int] = []
        self.guard_outcome: dict[int, int] = {}  # guard bit's bit_length() -> outcome index
        self.outcome_guards = 0
        for index, compiled in enumerate(self.outcomes):
            groups = self._groups(compiled.node)[:MAX_GROUPS]
            if groups:
                guard = self._row(groups)  # its own: an outcome per guard bit
                self.outcome_guards |= guard
                self.guard_outcome[guard.bit_length()] = index
            else:
                self.always.append(index)
        self.low = sum(1 << first for first, _ in self.rows)
        self.guards = sum(1 << guard for _, guard in self.rows)
        bits = self.literal_bits
        self.literal_gate = [
            sum(1 << b for b in bits.get(i, ())) for i in range(len(self.literal_ids))
        ]

    def _gate(self, groups: Sequence[frozenset[int]]) -> int:
        """The guard bit of the gate of `groups` (one row for equal groups), or 0 if none."""
        key = tuple(groups)
        if not key:
            return 0
        guard = self.gates.get(key)
        if guard is None:
            guard = self.gates[key] = self._row(key)
        return guard

    def _row(self, groups: Sequence[frozenset[int]]) -> int:
        """A new row of bits, one per group; returns its guard bit."""
        first = bit = self.rows[-1][1] + 1 if self.rows else 0
        for group in groups:
            for literal in group:
                self.literal_bits.setdefault(literal, []).append(bit)
            bit += 1
        self.rows.append((first, bit))
        return 1 << bit

    def _needs_ids(self, needs: frozenset[str]) -> frozenset[int] | None:
        """Substrings a regex needs as literals (kind REGEX) of the Latin automaton, or of the
        other one when they are Han, Kana or Hangul (which a match holds as written: no case, no
        word boundary); None for anything else. As literals they also gate the outcome, so a
        regex over Chinese, Japanese or Korean text no longer leaves its outcome ungated."""
        if needs and all(_cjk_only(literal) for literal in needs):
            return frozenset(self._literal(TermKind.REGEX, n) for n in needs)
        views = [latin_view(literal) for literal in needs]
        if not views or not all(view.strip() for view in views):
            return None
        return frozenset(self._literal(TermKind.REGEX, view) for view in views)

    def _groups(self, node: CNode) -> list[frozenset[int]]:
        """Sets of literals such that `node` can only hold when each set has a hit."""
        if isinstance(node, CTerm):
            return self._term_groups(node)
        found = self.node_groups.get(id(node))
        if found is None:
            found = self.node_groups[id(node)] = (node, self._operator_groups(node))
        return found[1]

    def _operator_groups(self, node: COperator | CScope) -> list[frozenset[int]]:
        match node:
            case CNear():
                found: list[frozenset[int]] = []
                for group in node.groups:
                    found += either(
                        [self._term_groups(t) for t in group], self.literal_length.__getitem__
                    )
                return list(dict.fromkeys(found))
            case CNone():
                return []
            case CScope():
                return self._groups(node.child)
            case CAll():
                children = [self._groups(child) for child in node.children]
                return list(dict.fromkeys(group for groups in children for group in groups))
            case CAny():
                children = [self._groups(child) for child in node.children]
                return either(children, self.literal_length.__getitem__)
            case _:
                assert_never(node)

    def _term_groups(self, term: CTerm) -> list[frozenset[int]]:
        literal = self.term_literal[term.term_id]
        if literal >= 0:
            return [frozenset({literal})]
        return list(self.term_needs_ids[term.term_id])

    def _build_automata(self) -> None:
        """Latin-script literals go, padded with a space where they need a word boundary, into
        an automaton over the text's Latin view (every other character a space), so that every
        hit is a real one; the rest (CJK, symbols) are checked for boundaries per hit."""
        latin: dict[str, list[int]] = {}
        other: dict[str, tuple[list[int], list[int]]] = {}  # phrase and prefix literals
        for (kind, text, forms), literal in self.literal_ids.items():
            if kind == TermKind.REGEX:
                continue  # substrings regexes need: added below, after the terms
            if LATIN_TERM.search(text) and not CJK.search(text):
                for spelling in (text, *forms):  # a form ends on a word boundary like its term
                    key = latin_view(spelling)
                    lead = key[0] != " "
                    trail = kind == TermKind.PHRASE and key[-1] != " "
                    key = " " * lead + key + " " * trail
                    slot = latin.setdefault(key, [lead, trail])
                    if literal not in slot[2:]:
                        slot.append(literal)
            else:
                for spelling in {s: None for form in (text, *forms) for s in spacings(form)}:
                    phrases, prefixes = other.setdefault(spelling, ([], []))
                    (phrases if kind == TermKind.PHRASE else prefixes).append(literal)
        for (kind, text, _), literal in self.literal_ids.items():
            if kind != TermKind.REGEX:
                continue
            if _cjk_only(text):  # found as written, with no boundary
                other.setdefault(text, ([], []))[1].append(literal)
            else:  # found as a plain substring of the Latin view
                latin.setdefault(text, [False, False]).append(literal)
        self.latin = automaton(
            (key, (lead - len(key), -trail, tuple(literals)))  # a hit's span from its end
            for key, (lead, trail, *literals) in latin.items()
        )
        self.other = automaton(
            (
                utf8_view(text),
                (len(text), word_char(text[0]), word_char(text[-1]), *map(tuple, slot)),
            )
            for text, slot in other.items()
        )
        self.other_ascii = any(text.isascii() for text in other)


def _cjk_only(text: str) -> bool:
    """Text wholly in Han, Kana or Hangul: a literal the other scripts' automaton finds."""
    return bool(text) and all(CJK.match(ch) for ch in text)


def automaton(items: Iterable[tuple[str, object]]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for key, value in items:
        automaton.add_word(key, value)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton
