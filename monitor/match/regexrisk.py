"""Regex terms that can backtrack for ever: found by reading their source (a repeat of a group
that repeats inside, `(a+)+`; a repeat of alternatives that can match the same text, `(a|aa)+`)
and by running them on adversarial probes under the time budget. `monitor validate` warns about
both. Pure: no I/O.

The reading is a heuristic over the source, not a parser of every regex syntax: it looks at
groups, alternatives and quantifiers, and steps over escapes and character classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.domain import Indicator, as_written
from monitor.match.regexterms import REGEX_TIMEOUT, compile_regex, regex_hits
from monitor.ruletree import Term, TermKind, iter_terms

PROBE_LENGTH = 4000  # characters of an adversarial probe: a long article's worth
BOUNDED_REPEAT = 10  # a `{m,n}` repeat up to this many times is not counted as unbounded
_BROAD = ("\\w", "\\W", "\\S", "\\s", "\\d", "\\D", ".", "[", "\\p", "\\P", "\\X")


@dataclass
class _Group:
    branches: list[str] = field(default_factory=lambda: [""])
    repeats: bool = False  # an unbounded quantifier inside


def _skip_class(source: str, i: int) -> int:
    """The index after the character class that starts at `source[i] == '['`."""
    j = i + 1 + source.startswith("^", i + 1)
    j += source.startswith("]", j)  # a `]` first is literal
    while j < len(source) and source[j] != "]":
        j += 2 if source[j] == "\\" else 1
    return j + 1


def _quantifier(source: str, i: int) -> tuple[bool, int]:
    """(unbounded, index after) for the quantifier at `source[i]`, if one is there."""
    end, unbounded = i, False
    if source.startswith(("*", "+"), i):
        end, unbounded = i + 1, True
    elif source.startswith("?", i):
        end = i + 1
    elif source.startswith("{", i) and (close := source.find("}", i)) > i:
        low, comma, high = source[i + 1 : close].replace(" ", "").partition(",")
        if (low + high).isdigit():
            end = close + 1
            unbounded = bool(comma) and (not high or int(high) > BOUNDED_REPEAT)
    while end > i and end < len(source) and source[end] in "?+":
        end += 1  # lazy or possessive
    return unbounded, end


def _overlap(branches: Sequence[str]) -> bool:
    """Two alternatives that can match the same text: one a prefix of another (`a|aa`), or one
    starting with a class (`\\w|\\d`)."""
    for n, first in enumerate(branches):
        for second in branches[n + 1 :]:
            a, b = first.casefold(), second.casefold()
            if not a or not b or a.startswith(b) or b.startswith(a):
                return True
            if a.startswith(_BROAD) or b.startswith(_BROAD):
                return True
    return False


def backtracking(source: str) -> str:
    """Why the regex can backtrack for ever ("nested quantifiers `(a+)+`"), or ""."""
    stack, i = [_Group()], 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            step = 2
            if source.startswith(("\\p{", "\\P{"), i):
                step = source.find("}", i) + 1 - i if "}" in source[i:] else 2
            stack[-1].branches[-1] += source[i : i + step]
            i += step
            unbounded, i = _quantifier(source, i)
            stack[-1].repeats |= unbounded
            continue
        if char == "[":
            end = _skip_class(source, i)
            stack[-1].branches[-1] += source[i:end]
            unbounded, i = _quantifier(source, end)
            stack[-1].repeats |= unbounded
            continue
        if char == "(":
            stack.append(_Group())
            i += 1
            if source.startswith("?", i):  # (?:, (?P<name>, (?=, (?<!, (?i) ...
                close = next((k for k in range(i, len(source)) if source[k] in ":>=!)"), i)
                i = close + 1 if source[close] != ")" else close
            continue
        if char == ")" and len(stack) > 1:
            group = stack.pop()
            unbounded, i = _quantifier(source, i + 1)
            if unbounded and group.repeats:
                return "nested quantifiers (a repeated group that repeats inside, like (a+)+)"
            if unbounded and len(group.branches) > 1 and _overlap(group.branches):
                return "a repeat of alternatives that can match the same text (like (a|aa)+)"
            stack[-1].branches[-1] += "(" + "|".join(group.branches) + ")"
            stack[-1].repeats |= unbounded or group.repeats
            continue
        if char == "|":
            stack[-1].branches.append("")
            i += 1
            continue
        stack[-1].branches[-1] += char
        unbounded, i = _quantifier(source, i + 1)
        stack[-1].repeats |= unbounded
    return ""


def probes(source: str) -> list[str]:
    """Texts a backtracking regex chokes on: runs of each character it names (and of letters,
    digits and words) that end in a character it cannot match there."""
    letters = {c for c in source if c.isalnum()} | {"a", "1"}
    runs = [c * PROBE_LENGTH for c in sorted(letters)]
    runs += ["ab " * (PROBE_LENGTH // 3), "a " * (PROBE_LENGTH // 2)]
    return [run + end for run in runs for end in ("!", "\n")]


def too_slow(source: str, timeout: float = REGEX_TIMEOUT) -> bool:
    """The regex runs out of its time budget on one of `probes`."""
    pattern = compile_regex(source)
    if pattern is None:
        return False
    for probe in probes(source):
        try:
            regex_hits(pattern, probe, timeout)
        except TimeoutError:
            return True
    return False


def regex_warnings(indicators: Iterable[Indicator]) -> list[str]:
    """`file:line: warning:` for each regex term that can backtrack for ever, by its source or
    by running out of its budget on an adversarial probe; once per term as written."""
    seen: dict[tuple[str, str], Term] = {}  # (where, term): a line may hold several
    for indicator in indicators:
        for term in _terms(indicator):
            seen.setdefault((term.where or str(indicator.source), term.raw), term)
    warnings = []
    for (where, _raw), term in seen.items():
        why = backtracking(term.text)
        if not why and too_slow(term.text):
            why = f"it runs out of its {REGEX_TIMEOUT * 1000:.0f} ms budget on an adversarial text"
        if why:
            warnings.append(
                f"{where}: warning: regex term {as_written(term.raw)} can backtrack for ever:"
                f" {why}; a text that triggers it counts as no match"
            )
    return sorted(warnings)


def _terms(indicator: Indicator) -> Iterable[Term]:
    for outcome in indicator.outcomes:
        yield from (t for t in iter_terms(outcome.rule.node) if t.kind == TermKind.REGEX)
        yield from (t for t in outcome.unless if t.kind == TermKind.REGEX)
