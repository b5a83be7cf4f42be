"""Why an outcome did or did not fire on an entry: its rule's evaluation node by node, as a
frozen tree, for `monitor explain`, `monitor test`'s failures and
GET /indicators/{id}/explain/{entry}. Pure: no I/O.

Nothing here evaluates a rule a second way. Each node's answer is `Scan.eval` over every
segment (care = the universe, so the answer is exact), walked in the scope the matcher reads
the node in (a nested `scope` switches it, as `Scan` does, so its memo stays right); the
verdict is `Scan.explain`'s behind the outcome's gate, as `Matcher.match` decides it. So an
explanation cannot disagree with the matcher (tests/test_explain.py holds it over every
example and labeled row). Sentences are numbered from 1, the title being sentence 1; a
segment of the matcher's with no words (after a title with no text, after the last full stop,
between two line breaks) is no sentence: it is neither listed nor numbered (`_renumbered`).

    found = explain_entry(matcher, "visa-easing", title, text)

`monitor.match.explaintext` turns it into the lines people read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, assert_never

from monitor.domain import Verdict
from monitor.match.judged import StandingVerdict, standing_verdict
from monitor.match.machine import CAll, CAny, CNear, CNode, CNone, COutcome, CScope, CTerm, Machine
from monitor.match.scan import Scan
from monitor.match.textview import sentences_of

__all__ = [
    "MAX_TERMS",
    "EntryExplanation",
    "FoundTerm",
    "NodeExplanation",
    "OutcomeExplanation",
    "TermsFound",
    "VocabularyTerms",
    "as_json",
    "explain",
    "explain_entry",
    "vocabulary_of",
]

MAX_TERMS = 8  # found (and missing) terms shown per node; the rest are counted
Kind = Literal["all", "any", "none", "near", "scope", "term"]
Where = Literal["sentence", "entry"]


@dataclass(frozen=True, slots=True)
class FoundTerm:
    term: str  # as written (a labeled term: its label)
    sentences: tuple[int, ...]  # where it occurs, from 1


@dataclass(frozen=True, slots=True)
class VocabularyTerms:
    vocabulary: str  # a vocabulary reference as written: `@actors.china`, `title:@actors.china`
    listed: int  # how many of a list's terms it gave


@dataclass(frozen=True, slots=True)
class TermsFound:
    listed: int  # how many terms the node lists (itself, not its nested rules)
    found: tuple[FoundTerm, ...]  # those that occur, at most MAX_TERMS
    more: int  # found beyond those
    # the vocabularies whose terms are among the listed ones (a `near` group written as a list
    # with a reference, a reference with one term in a rule's own list), in the order written
    vocabularies: tuple[VocabularyTerms, ...] = ()
    # the listed terms that do not occur, as written, at most MAX_TERMS, those a vocabulary
    # gave left out (named by `vocabularies`): what an author would add a word to find
    missing: tuple[str, ...] = ()
    missing_more: int = 0  # missing beyond those


@dataclass(frozen=True, slots=True)
class NodeExplanation:
    operator: Kind
    scope: Where  # what it is read in: sentences, or the entry as a whole
    holds: bool
    sentences: tuple[int, ...]  # scope sentence: those it holds in; scope entry: ()
    terms: TermsFound
    children: tuple[NodeExplanation, ...] = ()  # its nested rules (a scope: the one it scopes)
    vetoed_by: tuple[str, ...] = ()  # none: its terms found, each ruling out where it occurs
    groups: tuple[TermsFound, ...] = ()  # near: each group's terms
    within: int | None = None  # near
    order: str | None = None  # near: any, before, after
    together: tuple[int, ...] = ()  # near, scope sentence: sentences with a term of each group
    # near with an order, holding nowhere: its groups are close enough, in another order
    out_of_order: bool = False
    # the vocabulary reference the node was written as (an `any` of its terms, or a term when
    # it has one), as written: `@actors.china`, `title:@actors.china`; None for the others
    vocabulary: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeExplanation:
    outcome: str
    label: str
    scope: Where
    tried: bool  # its gate was open: some term its rule needs occurs, so the matcher tried it
    rule: NodeExplanation
    unless: TermsFound  # the cues found, with their sentences
    cancelled: bool  # the rule held, but an `unless` cue in a sentence of its terms cancels it
    matched: bool  # `Matcher.match` reports the outcome
    terms: tuple[str, ...]  # the terms the match reports; () when not matched
    verdict: StandingVerdict | None = None  # an analyst's that stands on a stored entry


@dataclass(frozen=True, slots=True)
class EntryExplanation:
    indicator: str
    entry: int | None  # a stored entry's id; None for a title and text given
    sentences: tuple[str, ...]  # the entry's sentences with words, as written, the title first
    outcomes: tuple[OutcomeExplanation, ...]
    # a stored entry's feed, and whether the indicator reads it (a feed gone from the feeds
    # file is not read): an entry of a feed it does not read is never its evidence, whatever
    # `outcomes` say. None for a title and text given; the callers know feeds, this does not
    feed: str | None = None
    feed_read: bool | None = None


def explain_entry(
    machine: Machine,
    indicator_id: str,
    title: str,
    text: str,
    *,
    outcome_id: str | None = None,
    entry_id: int | None = None,
    feed: str | None = None,
    feed_read: bool | None = None,
    verdicts: Sequence[tuple[Verdict, str]] = (),
) -> EntryExplanation:
    """The explanation of every outcome of one indicator (or of `outcome_id`) on an entry (a
    stored one's `feed`, and whether the indicator reads it, are carried as given; so are the
    `verdicts` standing on it, each with why a yes adds no evidence now or ""); KeyError (its
    message as the one argument) for an unknown indicator or outcome."""
    chosen = [o for o in machine.outcomes if o.indicator_id == indicator_id]
    if not chosen:
        raise KeyError(f"no indicator {indicator_id!r}")
    if outcome_id is not None:
        chosen = [o for o in chosen if o.outcome_id == outcome_id]
        if not chosen:
            raise KeyError(f"indicator {indicator_id} has no outcome {outcome_id!r}")
    scan = Scan(machine, title, text)
    judged = {verdict.outcome_id: (verdict, why) for verdict, why in verdicts}
    segments = sentences_of(title, text, scan.norm)
    worded = [n for n, segment in enumerate(segments, 1) if segment]
    numbers = {n: number for number, n in enumerate(worded, 1)}
    outcomes = tuple(
        _judged(
            _renumbered(explain(machine, scan, outcome), numbers), judged.get(outcome.outcome_id)
        )
        for outcome in chosen
    )
    sentences = tuple(segment for segment in segments if segment)
    return EntryExplanation(indicator_id, entry_id, sentences, outcomes, feed, feed_read)


def explain(machine: Machine, scan: Scan, outcome: COutcome) -> OutcomeExplanation:
    """Why `outcome` (one of `machine.outcomes`) did or did not fire on the entry of `scan`, its
    sentences numbered as the matcher's segments are (`explain_entry` numbers those with words)."""
    rule = _node(scan, outcome.node, outcome.sentence)
    fired = scan.explain(outcome.node, outcome.sentence, outcome.unless)
    tried = _tried(machine, scan, outcome)
    matched = tried and fired is not None
    return OutcomeExplanation(
        outcome=outcome.outcome_id,
        label=_label(machine, outcome),
        scope="sentence" if outcome.sentence else "entry",
        tried=tried,
        rule=rule,
        unless=_terms(scan, outcome.unless),
        cancelled=rule.holds and fired is None,
        matched=matched,
        terms=fired[0] if matched and fired is not None else (),
    )


def _renumbered(outcome: OutcomeExplanation, numbers: Mapping[int, int]) -> OutcomeExplanation:
    """The outcome with its segments' numbers as sentences' (`numbers`), those with no words
    left out: a part holds there only by what is absent (a `none`) or by holding in the whole
    entry, so a sentence-scoped part that holds in them alone holds `in no sentence with words`."""

    def kept(segments: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(numbers[n] for n in segments if n in numbers)

    def terms(found: TermsFound) -> TermsFound:
        return replace(
            found, found=tuple(replace(f, sentences=kept(f.sentences)) for f in found.found)
        )

    def node(part: NodeExplanation) -> NodeExplanation:
        return replace(
            part, sentences=kept(part.sentences), terms=terms(part.terms),
            children=tuple(map(node, part.children)), groups=tuple(map(terms, part.groups)),
            together=kept(part.together),
        )  # fmt: skip

    return replace(outcome, rule=node(outcome.rule), unless=terms(outcome.unless))


def _judged(outcome: OutcomeExplanation, judged: tuple[Verdict, str] | None) -> OutcomeExplanation:
    if judged is None:
        return outcome
    return replace(outcome, verdict=standing_verdict(judged[0], outcome.matched, judged[1]))


def _node(scan: Scan, node: CNode, sentence: bool) -> NodeExplanation:
    mask = scan.eval(node, sentence, scan.universe(sentence))
    scope: Where = "sentence" if sentence else "entry"
    where = _numbers(mask) if sentence else ()
    match node:
        case CTerm():
            found = _terms(scan, (node,))
            return NodeExplanation(
                "term", scope, bool(mask), where, found, vocabulary=vocabulary_of(found)
            )
        case CAll() | CAny() | CNone():
            # plain literal children are folded into `literals`; `children` keeps them all
            terms = [child for child in node.children if isinstance(child, CTerm)]
            found = _terms(scan, terms)
            nested = tuple(
                _node(scan, child, sentence)
                for child in node.children
                if not isinstance(child, CTerm)
            )
            vetoed = tuple(f.term for f in found.found) if isinstance(node, CNone) else ()
            kind: Kind = (
                "all" if isinstance(node, CAll) else "any" if isinstance(node, CAny) else "none"
            )
            # an `any` of one vocabulary's terms alone is how a reference is read in
            name = vocabulary_of(found) if kind == "any" and not nested else None
            return NodeExplanation(
                kind, scope, bool(mask), where, found, nested, vetoed, vocabulary=name
            )
        case CNear():
            groups = tuple(_terms(scan, group) for group in node.groups)
            common = set.intersection(*(_present_in(scan, group) for group in node.groups))
            reordered = not mask and node.order.value != "any"
            return NodeExplanation(
                "near", scope, bool(mask), where, _terms(scan, _flat(node.groups)),
                groups=groups, within=node.within, order=node.order.value,
                together=tuple(sorted(common)) if sentence else (),
                out_of_order=reordered and bool(scan.near_in_any_order(node, sentence)),
            )  # fmt: skip
        case CScope():
            child = _node(scan, node.child, node.sentence)
            return NodeExplanation("scope", scope, bool(mask), where, _terms(scan, ()), (child,))
        case _:
            assert_never(node)


def _terms(scan: Scan, terms: Sequence[CTerm]) -> TermsFound:
    """The terms that occur, each with the sentences it occurs in (as `Scan` finds them)."""
    found: dict[str, tuple[int, ...]] = {}
    missing: dict[str, None] = {}  # those no vocabulary gave
    ids: set[int] = set()  # one term however many spellings fold to it (中韩, 中韓)
    for term in terms:
        if term.term_id in ids:
            continue
        mask = scan.eval(term, True, scan.universe(True))
        if mask:
            ids.add(term.term_id)
            found.setdefault(term.raw, _numbers(mask))
        elif not term.vocabulary:
            missing[term.raw] = None
    items = tuple(FoundTerm(raw, sentences) for raw, sentences in found.items())
    more = max(0, len(items) - MAX_TERMS)
    absent = tuple(missing)
    return TermsFound(
        len(terms), items[:MAX_TERMS], more, _vocabularies(terms),
        absent[:MAX_TERMS], max(0, len(absent) - MAX_TERMS),
    )  # fmt: skip


def _vocabularies(terms: Sequence[CTerm]) -> tuple[VocabularyTerms, ...]:
    """Each vocabulary reference the terms come from, with how many of them it gave."""
    counts: dict[str, int] = {}
    for term in terms:
        if term.vocabulary:
            counts[term.vocabulary] = counts.get(term.vocabulary, 0) + 1
    return tuple(VocabularyTerms(name, n) for name, n in counts.items())


def vocabulary_of(terms: TermsFound) -> str | None:
    """The vocabulary every one of the terms comes from, if one does."""
    match terms.vocabularies:
        case (only,) if only.listed == terms.listed:
            return only.vocabulary
        case _:
            return None


def _present_in(scan: Scan, group: Sequence[CTerm]) -> set[int]:
    every = scan.universe(True)
    return {n for term in group for n in _numbers(scan.eval(term, True, every))}


def _flat(groups: tuple[tuple[CTerm, ...], ...]) -> tuple[CTerm, ...]:
    return tuple(term for group in groups for term in group)


def _numbers(mask: int) -> tuple[int, ...]:
    """The sentences of a bit mask, numbered from 1."""
    return tuple(bit + 1 for bit in range(mask.bit_length()) if mask >> bit & 1)


def _tried(machine: Machine, scan: Scan, outcome: COutcome) -> bool:
    """Whether `Matcher.match` evaluates the outcome on this entry: it has no gate, or its
    gate's every group of literals has a hit (`Machine._build_gates`)."""
    index = next(i for i, o in enumerate(machine.outcomes) if o is outcome)
    if index in machine.always:
        return True
    guard = next(1 << (n - 1) for n, i in machine.guard_outcome.items() if i == index)
    return bool(scan.ready & guard)


def _label(machine: Machine, outcome: COutcome) -> str:
    for indicator in machine.indicators:
        if indicator.id == outcome.indicator_id:
            return next((o.label for o in indicator.outcomes if o.id == outcome.outcome_id), "")
    return ""


def as_json(explanation: EntryExplanation) -> dict[str, Any]:
    """The document `monitor explain --json` prints (and the HTTP endpoint answers)."""
    return asdict(explanation)
