"""`Matcher`: compiled rules that match entries, find the terms of an indicator in one, count
terms over general news, and run an indicator's `examples`. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from monitor.counts import count as count_of
from monitor.domain import Entry, Example, Indicator, Match, as_written
from monitor.match.machine import Machine, shown_once
from monitor.match.scan import Scan
from monitor.match.textview import snippet_of, unique
from monitor.ruletree import NearNode, Node, NoneNode, ScopeNode, Term, TermKind, TermNode
from monitor.wordforms import derived


class Matcher(Machine):
    """Every indicator's rules, compiled once; `match(entry)` is one pass over the entry."""

    def match(self, entry: Entry) -> list[Match]:
        """Every (indicator, outcome) whose rule the entry satisfies, in definition order."""
        scan = Scan(self, entry.title, entry.text)
        ready = scan.ready & self.outcome_guards
        candidates = list(self.always)
        while ready:
            lowest = ready & -ready
            candidates.append(self.guard_outcome[lowest.bit_length()])
            ready ^= lowest
        matches: list[Match] = []
        key: str | None = None  # computed (a hash) once, for the first match
        snippets: dict[int, str] = {}  # outcomes that fired at one offset share a snippet
        for index in sorted(candidates):
            outcome = self.outcomes[index]
            found = scan.explain(outcome.node, outcome.sentence, outcome.unless)
            if found is not None:
                terms, at = found
                snippet = snippets.get(at)
                if snippet is None:
                    snippet = snippets[at] = snippet_of(entry.title, entry.text, at)
                key = entry.key if key is None else key
                matches.append(Match(key, outcome.indicator_id, outcome.outcome_id, terms, snippet))
        return matches

    def terms_hit(self, entry: Entry, indicator_id: str) -> tuple[str, ...]:
        """Every term of one indicator that occurs in the entry, whether or not a rule held."""
        scan = Scan(self, entry.title, entry.text)
        terms = self.indicator_terms.get(indicator_id, ())
        return shown_once(t for t in terms if scan.positions(t.term_id))

    def term_counts(self, entries: Iterable[Entry]) -> list[tuple[tuple[Term, ...], int]]:
        """Every term, as the places it is written at, with how many `entries` it occurs in."""
        counts = [0] * len(self.term_sources)
        for entry in entries:
            scan = Scan(self, entry.title, entry.text)
            for term_id in range(len(counts)):
                counts[term_id] += bool(scan.positions(term_id))
        return [(tuple(s.values()), n) for s, n in zip(self.term_sources, counts, strict=True)]


GENERAL_NEWS_SHARE = 0.05  # `monitor validate` warns for a term in more general news than this
GENERAL_NEWS_MIN = 3  # ... and in at least this many entries


@dataclass(frozen=True)
class ExampleResult:
    """One `examples:` item of an indicator, run through the matcher."""

    indicator_id: str
    example: Example
    expected: str
    actual: tuple[str, ...]  # matched outcome ids, or ("none",)
    passed: bool
    terms: tuple[str, ...]  # every term of the indicator that hit, even if no rule held
    # (word, term) of a missed outcome: a noun of the example made from a term of it
    # (cooperation, cooperate) that word forms do not reach and no term of the indicator matches
    derived: tuple[tuple[str, str], ...] = ()


def general_news_warnings(
    matcher: Matcher, entries: Sequence[Entry], unused: Collection[str] = frozenset()
) -> list[str]:
    """`file:line: warning:` for each term that occurs in more than GENERAL_NEWS_SHARE of
    `entries` (general news, about nothing the indicators watch) and in at least
    GENERAL_NEWS_MIN of them: such a term fires on unrelated news. One line per term, at the
    first place it is written. A term written only in vocabulary lists no indicator uses yet
    (its places in `unused`) is one of a single `file: warning:` line per vocabulary file:
    whether it makes a match or rules one out is not known until an indicator uses it, and a
    vocabulary copied whole (the shipped one, into a watch list) would be a line per term."""
    limit = max(GENERAL_NEWS_MIN - 1, int(len(entries) * GENERAL_NEWS_SHARE))
    firing = {
        t.where or t.raw
        for indicator in matcher.indicators
        for outcome in indicator.outcomes
        for t in _firing_terms(outcome.rule.node)
    }
    warnings = []
    idle: dict[str, list[str]] = {}  # vocabulary file -> its common terms no indicator uses
    for written, count in matcher.term_counts(entries):
        places = [t for t in written if (t.where or t.raw) in firing]  # not `none`, `unless`
        if count <= limit or not places:
            continue
        share = f"{count / len(entries):.0%}"
        if all(t.where in unused for t in places):
            path, _, line = places[0].where.rpartition(":")
            idle.setdefault(path, []).append(f"{as_written(places[0].raw)} (line {line}, {share})")
            continue
        term = next(t for t in places if t.where not in unused)
        others = len(places) - 1
        also = f"; also written at {count_of(others, 'more place')}" if others else ""
        warnings.append(
            f"{term.where or term.raw}: warning: term {as_written(term.raw)} occurs in"
            f" {count} of {len(entries)} general-news entries"
            f" ({share}{also}); alone it fires on unrelated news"
        )
    return sorted(warnings) + [_idle_warning(path, terms) for path, terms in idle.items()]


IDLE_SHOWN = 10  # the common terms of unused vocabulary lists named in a file's one line


def _idle_warning(path: str, terms: list[str]) -> str:
    """The one warning of a vocabulary file whose lists no indicator uses hold common terms."""
    shown = ", ".join(terms[:IDLE_SHOWN])
    if len(terms) > IDLE_SHOWN:
        shown += f" and {len(terms) - IDLE_SHOWN} more"
    return (
        f"{path}: warning: lists no indicator uses yet hold"
        f" {count_of(len(terms), 'term')} common in general news, {shown}: alone such a term"
        " fires on unrelated news (beside other terms, or in none or unless, it is fine); an"
        " indicator that makes matches with one is warned of it at its line"
    )


def _firing_terms(node: Node) -> Iterable[Term]:
    """The terms that can make a rule hold: not those of its `none` lists (nor `unless` cues,
    kept apart from the rule), which only ever cancel a match."""
    if isinstance(node, TermNode):
        yield node.term
    elif isinstance(node, NearNode):
        yield from (term for group in node.terms for term in group)
    elif isinstance(node, ScopeNode):
        yield from _firing_terms(node.node)
    elif not isinstance(node, NoneNode):
        for child in node.children:
            yield from _firing_terms(child)


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
            found = unique(
                m.outcome_id for m in matcher.match(entry) if m.indicator_id == indicator.id
            )
            expected = {example.expect} if example.expect != "none" else set()
            missed = expected - set(found)
            results.append(
                ExampleResult(
                    indicator_id=indicator.id,
                    example=example,
                    expected=example.expect,
                    actual=found or ("none",),
                    passed=set(found) == expected,
                    terms=matcher.terms_hit(entry, indicator.id),
                    derived=_derived(matcher, indicator, entry, example.expect) if missed else (),
                )
            )
    return results


def _derived(
    matcher: Matcher, indicator: Indicator, entry: Entry, expected: str
) -> tuple[tuple[str, str], ...]:
    """Each word of the entry that is a noun made from a single-word term of the outcome
    expected (`wordforms.derived`: cooperation, of cooperate) and that no term of the
    indicator matches, with that term; at most one pair per word."""
    outcome = next(o for o in indicator.outcomes if o.id == expected)
    terms = [
        t.text
        for t in _firing_terms(outcome.rule.node)
        if t.kind == TermKind.PHRASE and t.forms and t.text.isalpha()
    ]
    found: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z]+", f"{entry.title} {entry.text}"):
        term = next((t for t in terms if derived(word, t)), None)
        if term is None or word.casefold() in found:
            continue
        alone = replace(entry, title=word, text="")
        if not matcher.terms_hit(alone, indicator.id):  # another term, a prefix, matches it
            found[word.casefold()] = term
    return tuple(found.items())
