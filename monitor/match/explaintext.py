"""`monitor.match.explain`'s explanations as people read them: `monitor explain`'s lines, the
trees `monitor test` prints under a failed example, and the blocks the page of an explanation
shows. Pure: no I/O.

    found = explain_entry(matcher, "visa-easing", title, text)
    print("\\n".join(text_lines(found)))
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.counts import count, plural
from monitor.match.explain import (
    MAX_TERMS,
    EntryExplanation,
    NodeExplanation,
    OutcomeExplanation,
    TermsFound,
    explain_entry,
    vocabulary_of,
)
from monitor.match.judged import verdict_line
from monitor.match.machine import Machine

__all__ = [
    "example_lines",
    "feed_note",
    "numbered_sentences",
    "outcome_blocks",
    "outcome_lines",
    "text_lines",
]


def text_lines(explanation: EntryExplanation) -> list[str]:
    """The note of an entry from a feed the indicator does not read (`feed_note`), each
    outcome's tree (under its first line, the analyst's verdict that stands on the entry),
    then the entry's sentences, numbered as the trees number them."""
    note = feed_note(explanation)
    lines = [] if note is None else [note]
    for outcome, (head, *tree) in zip(
        explanation.outcomes, outcome_blocks(explanation), strict=True
    ):
        said = [] if outcome.verdict is None else [verdict_line(outcome.verdict)]
        lines += [head, *said, *tree]
    lines.append("sentences:")
    lines += _sentence_lines(explanation.sentences, "  ")
    return lines


def feed_note(explanation: EntryExplanation) -> str | None:
    """One line when the entry is from a feed the indicator does not read; else None."""
    if explanation.feed_read is not False:
        return None
    who = explanation.indicator
    return (
        f"note: entry {explanation.entry} is from feed {explanation.feed}, which {who} does"
        f" not read: it is never evidence for {who}, whatever the rule says"
    )


def outcome_blocks(explanation: EntryExplanation) -> list[list[str]]:
    """The lines of each outcome's tree (`outcome_lines`), one list per outcome, in order: what
    `text_lines` prints before the sentences (there with the analyst's verdict under the first
    line), and the page of an explanation shows in its <pre> (the verdict beside it)."""
    return [outcome_lines(explanation.indicator, outcome) for outcome in explanation.outcomes]


def numbered_sentences(sentences: Sequence[str]) -> list[tuple[int, str]]:
    """The sentences, each with its number (from 1, the title first), as the trees number them."""
    return list(enumerate(sentences, 1))


def _sentence_lines(sentences: Sequence[str], indent: str) -> list[str]:
    return [f"{indent}{n:>3}  {text}" for n, text in numbered_sentences(sentences)]


def example_lines(
    machine: Machine, indicator_id: str, title: str, text: str, outcome_ids: Sequence[str]
) -> list[str]:
    """For a failed example (`monitor test`): why each of `outcome_ids` (the one expected, or
    those that fired unexpectedly) did or did not fire, then the sentences when there is a
    body to number them in."""
    lines: list[str] = []
    sentences: tuple[str, ...] = ()
    for outcome_id in outcome_ids:
        found = explain_entry(machine, indicator_id, title, text, outcome_id=outcome_id)
        (outcome,) = found.outcomes
        did = "fired" if outcome.matched else "did not fire"
        lines += [f"  why {outcome_id} {did}:", *outcome_lines(indicator_id, outcome, "    ")]
        sentences = found.sentences
    if text:
        lines.append("  sentences:")
        lines += _sentence_lines(sentences, "    ")
    return lines


def outcome_lines(indicator_id: str, outcome: OutcomeExplanation, indent: str = "") -> list[str]:
    """The verdict, one line per node of the rule (`yes` where it holds), and the cues."""
    head = f"{indent}{indicator_id}:{outcome.outcome}: {_verdict(outcome)}"
    lines = [head, *_tree(outcome.rule, indent + "  ")]
    if outcome.unless.listed:
        lines.append(f"{indent}  unless ({_listed(outcome.unless, 'cue')}): {_unless(outcome)}")
    return lines


def _unless(outcome: OutcomeExplanation) -> str:
    """What the `unless` cues did: cancelled the match, or nothing, and why not."""
    cues = _quoted(outcome.unless)
    if outcome.cancelled:
        return f"cancelled the match: {cues}"
    if not cues:
        return "no cue found, nothing cancelled"
    if outcome.rule.holds:
        return f"{cues} found, in no sentence of the match: nothing cancelled"
    return f"{cues} found; the rule does not hold, so nothing to cancel"


def _verdict(outcome: OutcomeExplanation) -> str:
    if outcome.matched:
        return f"matched ({', '.join(outcome.terms)})"
    if outcome.cancelled:
        return "not matched: the rule holds, but an unless cue shares a sentence with it"
    if not outcome.tried:
        return "not matched: the entry lacks terms the rule needs (the parts marked no below)"
    return "not matched: the rule does not hold"


def _tree(node: NodeExplanation, indent: str, needed: bool = True) -> list[str]:
    """A line per node; nested rules none of whose terms occur are counted, not shown. A part
    none of whose terms occur names those it needed (`_missing`), one that does not hold though
    some occur those of its own it lacks (`_lacks`), unless it is beneath a `none` (not
    `needed`): there a term not found is a veto that did not fire, which nothing needs."""
    collapsed = node.children and not node.holds and not any(map(_found_beneath, node.children))
    if node.operator == "none":
        holds, what = _veto(node)
        line = f"{indent}{'yes' if holds else 'no '} {_name(node)}: {what}"
    else:
        mark = "yes" if node.holds else "no "
        lacks = "" if collapsed or not needed or node.holds else _lacks(node)
        line = f"{indent}{mark} {_name(node)} {_where(node)}{_details(node, lacks)}"
    if collapsed:
        missing = _missing((node,)) if needed else ""
        names = ", ".join(_vocabularies_beneath(node))
        among = f"{count(len(node.children), 'nested rule')}{f' ({names})' if names else ''}"
        return [f"{line} ({among}, none of their terms found{missing})"]
    if not node.children and not _found_beneath(node):
        return [line]
    lines = [line]
    # the alternatives of an `any` (the parts of a `none`) none of whose terms occur are
    # counted; the parts of an `all` that fails are each a reason, and shown
    failing_all = node.operator == "all" and not node.holds
    quiet = [] if failing_all else [c for c in node.children if not _found_beneath(c)]
    needed = needed and node.operator != "none"
    for child in node.children:
        if child not in quiet or len(quiet) == 1:
            lines += _tree(child, indent + "    ", needed)
    if len(quiet) > 1:
        lines.append(
            f"{indent}    ... {len(quiet)} more nested rules{_among(quiet)}:"
            f" none of their terms found{_missing(quiet) if needed else ''}"
        )
    return lines


def _among(quiet: Sequence[NodeExplanation]) -> str:
    """The vocabularies among nested rules left unshown: ` (@a.b, @c.d)` when they all are,
    `, among them @a.b` when some are."""
    names = [node.vocabulary for node in quiet if node.vocabulary is not None]
    if not names:
        return ""
    return (
        f" ({', '.join(names)})" if len(names) == len(quiet) else f", among them {', '.join(names)}"
    )


def _missing(parts: Sequence[NodeExplanation]) -> str:
    """`; missing: placeholder, visa* and 3 more`: the terms the parts and their nested rules
    list, as written, none of which occur (those of a vocabulary are named by it), at most
    MAX_TERMS; "" for none. A part that holds needs none of them, and a `none`'s are vetoes:
    their terms are left out."""
    names: dict[str, None] = {}
    more = 0

    def gather(part: NodeExplanation) -> None:
        nonlocal more
        if part.holds or part.operator == "none":
            return
        names.update(dict.fromkeys(part.terms.missing))
        more += part.terms.missing_more
        for child in part.children:
            gather(child)

    for part in parts:
        gather(part)
    return _named(tuple(names), more)


def _lacks(node: NodeExplanation) -> str:
    """`; missing: …`: the terms a part that does not hold lists itself and lacks (a nested
    rule's are named on its own line): a `near`'s those of its groups none of whose terms
    occur, since a group found needs none of its other terms. An `any` some of whose nested
    rules' terms occur names none: any one of its alternatives would do, and the nested rules
    say what they lack (its own, mostly regular expressions in the shipped rules, made lines of
    1,500 characters)."""
    if node.operator == "any" and _found_beneath(node):
        return ""
    if node.operator != "near":
        return _named(node.terms.missing, node.terms.missing_more)
    absent = [group for group in node.groups if not group.found]
    names = dict.fromkeys(term for group in absent for term in group.missing)
    return _named(tuple(names), sum(group.missing_more for group in absent))


def _named(names: Sequence[str], more: int) -> str:
    """`; missing: placeholder, visa* and 3 more`, at most MAX_TERMS named; "" for none."""
    if not names:
        return ""
    shown = list(names)[:MAX_TERMS]
    more += len(names) - len(shown)
    return f"; missing: {', '.join(shown)}" + (f" and {more} more" if more else "")


def _vocabularies_beneath(node: NodeExplanation) -> dict[str, None]:
    """The vocabularies the nested rules of `node` were written with, however deep, in order:
    those it needs, not those of a `none` (vetoes) or of a part that holds."""
    names: dict[str, None] = {}
    for child in node.children:
        if child.holds or child.operator == "none":
            continue
        if child.vocabulary is not None:
            names[child.vocabulary] = None
        names |= _vocabularies_beneath(child)
    return names


def _found_beneath(node: NodeExplanation) -> bool:
    return bool(
        node.terms.found
        or any(group.found for group in node.groups)
        or any(map(_found_beneath, node.children))
    )


def _name(node: NodeExplanation) -> str:
    if node.operator == "near":
        order = f", order {node.order}" if node.order != "any" else ""
        return f"near (within {node.within}{order})"
    if node.operator == "scope":
        return f"scope {node.children[0].scope}"
    if node.vocabulary is not None:
        terms = f" ({count(node.terms.listed, 'term')})" if node.operator != "term" else ""
        return f"{node.operator} {node.vocabulary}{terms}"
    listed = node.terms.listed
    return (
        f"{node.operator} ({_listed(node.terms, 'term')})"
        if listed and node.operator != "term"
        else (node.operator)
    )


def _listed(terms: TermsFound, noun: str) -> str:
    """`57 terms`; with the vocabularies among them: `58 terms, 1 from @actors.china`."""
    parts = [count(terms.listed, noun)]
    parts += [f"{v.listed} from {v.vocabulary}" for v in terms.vocabularies]
    return ", ".join(parts)


def _group(n: int, group: TermsFound) -> str:
    """A `near` group: `group 1`, `group 1 (@actors.china)` when it is one vocabulary, or
    `group 1 (103 terms, 102 from @actors.china)` when its list holds one and more."""
    found = _found(group) or "none found"
    name = vocabulary_of(group)
    if name is not None:
        return f"group {n} ({name}): {found}"
    if group.vocabularies:
        return f"group {n} ({_listed(group, 'term')}): {found}"
    return f"group {n}: {found}"


def _veto(node: NodeExplanation) -> tuple[bool, str]:
    """A `none`: whether it holds as people are shown the entry (a sentence-scoped one that
    holds only in segments with no words, which are no sentences, does not), and what its veto
    did, plainly."""
    vetoes = _quoted(node.terms)
    holds = node.holds and (node.scope == "entry" or bool(node.sentences))
    if holds and vetoes and node.scope == "sentence":  # vetoes some sentences, not these
        return True, f"no veto in {_sentences(node.sentences)}; vetoed by {vetoes}"
    if holds:
        nothing = "" if _found_beneath(node) else " (none of its terms found)"
        return True, f"no veto fired{nothing}"
    return False, f"vetoed by {vetoes}" if vetoes else "vetoed by a nested rule below"


def _quoted(terms: TermsFound) -> str:
    """`"suspend" (sentence 1), "deny" (sentences 1, 2)`, then ` and 2 more`; "" for none."""
    shown = ", ".join(f'"{f.term}" ({_sentences(f.sentences)})' for f in terms.found)
    return shown + (f" and {terms.more} more" if terms.more else "")


def _sentences(numbers: tuple[int, ...]) -> str:
    return f"{plural('sentence', len(numbers))} {_list(numbers)}"


def _where(node: NodeExplanation) -> str:
    if node.scope == "entry":
        return "in the entry" if node.holds else "not in the entry"
    if not node.sentences:  # holding, it holds in segments with no words alone
        return "in no sentence with words" if node.holds else "in no sentence"
    return f"in {_sentences(node.sentences)}"


def _details(node: NodeExplanation, lacks: str) -> str:
    """Its terms found, then what it `lacks` (`; missing: …`, its own terms: a nested rule's
    are named on its line), then, for a `near`, why it does not hold when that is not all."""
    if node.operator == "near":
        groups = "; ".join(_group(n, group) for n, group in enumerate(node.groups, 1))
        return f": {groups}{lacks}{_apart(node)}"
    if node.operator == "scope" or not node.terms.listed:
        return ""
    nothing = "none found"
    if node.children:  # its own terms: a nested rule's are shown on the lines below
        beneath = any(map(_found_beneath, node.children))
        nothing = "none of its own terms found" if beneath else "none of its terms found"
    return f": {_found(node.terms) or nothing}{lacks}"


def _apart(node: NodeExplanation) -> str:
    """Why a `near` whose groups are all found does not hold: too far apart, or close enough
    but not in its `order` (`before`: as listed; `after`: the reverse)."""
    if node.holds:
        return ""
    listed = "the order listed" if node.order == "before" else "the reverse of the order listed"
    if node.out_of_order:
        where = f"every group in {_sentences(node.together)}, " if node.together else ""
        return f"; {where}close enough, but not in {listed}"
    if node.together:
        return f"; every group in {_sentences(node.together)}, but not close enough"
    if all(group.found for group in node.groups):  # too far apart: nothing is missing
        if node.scope == "sentence":
            return "; every group found, but no sentence holds them all"
        return "; every group found, but not close enough"
    return _flat_alternatives(node.groups)


def _flat_alternatives(groups: tuple[TermsFound, ...]) -> str:
    """A `near` of three or more single terms, some found and some not: written as a flat list
    of alternatives (`terms: [launch, set up, working group]`), where every one is needed."""
    single = all(g.listed == 1 and not g.vocabularies for g in groups)
    if len(groups) < 3 or not single or all(g.found for g in groups):
        return ""
    if not any(g.found for g in groups):
        return ""
    return (
        f"; each of its {len(groups)} terms is a group of its own, and every group must be found:"
        " alternatives go in one group, a list (terms: [[A, B], C])"
    )


def _found(terms: TermsFound) -> str:
    shown = ", ".join(f"{f.term} ({_list(f.sentences)})" for f in terms.found)
    return shown + (f" and {terms.more} more" if terms.more else "")


def _list(numbers: tuple[int, ...]) -> str:
    return ", ".join(map(str, numbers))
