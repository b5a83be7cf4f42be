"""The literals every match of a regex term contains: cheap substring tests on the case-folded
text then skip most regex runs, and the gates use them like literal terms. Pure: no I/O.

Patterns are read by a small reader of their own that knows the common syntax (literals,
escapes, classes, groups, alternatives, repeats, lookarounds) and reads it as the standard
library's parser does (joining runs of literals, factoring a prefix common to alternatives,
single characters as a class); anything else (verbose mode, backreferences, syntax only the
`regex` module knows) gets no prefilter, which is always safe: the regex then simply runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import regex

__all__ = ["MAX_GROUPS", "either", "required_literals"]

MAX_GROUPS = 64  # literal groups gating one outcome
T = TypeVar("T")

# Syntax of the `regex` module that the standard library's parser reads differently or not at all.
_NOT_SRE = ("[[:", "\\p", "\\P", "\\X", "\\L", "\\G", "\\m", "\\M", "(?|", "(?r", "(?V", "(?f")
_FUZZY = regex.compile(r"\{[^}]*[a-z<>=]")
_CONTROL_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_HEX = frozenset("0123456789abcdefABCDEF")
_FLAGS = frozenset("aimsu-")  # inline flags that leave the reading unchanged (not `x`)

# A parsed pattern is a list of items: ("lit", char), ("in", negated, source) for a class or a
# category (equal when written alike), ("at", anchor), ("any",), and items that are never equal
# to one another, each with a serial number: ("group", n, items, plain), ("repeat", n, minimum,
# items), ("branch", n, alternatives), ("other", n) for lookarounds, atomic groups, possessive
# repeats and negated single characters.
_Item = tuple[Any, ...]


class _Unreadable(Exception):
    """Syntax the reader does not know (or that the standard library's parser rejects)."""


def required_literals(source: str) -> tuple[frozenset[str], ...]:
    """Sets of literals such that every match of the regex contains one of each set; () when
    nothing is known. ASCII literals (lower case) first, then at most one set of literals in
    scripts without case (Han, Kana, Hangul), which a match holds exactly as written."""
    if any(mark in source for mark in _NOT_SRE) or _FUZZY.search(source):
        return ()
    try:
        items = _Reader(source).pattern()
        needs = _needs(items, _ascii)
        caseless = _needs(items, _caseless)
    except (_Unreadable, RecursionError):
        return ()
    ranked = sorted((need for need in needs if need and all(need)), key=_selectivity, reverse=True)
    # the most selective requirement, and a few more whose literals are long enough to be rare
    # (short ones would hit in most texts: scanning for them would cost more than they save)
    found = ranked[:1] + [need for need in ranked[1:4] if _selectivity(need)[0] >= 4]
    ranked = sorted((n for n in caseless if n and all(n)), key=_selectivity, reverse=True)
    return tuple(found + ranked[:1])


def _ascii(ch: str) -> bool:
    return ch < "\x80"


def _caseless(ch: str) -> bool:
    """Kana, CJK ideographs and Hangul syllables: no case, so IGNORECASE matches only them."""
    return "\u3041" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7a3"


def _selectivity(need: frozenset[str]) -> tuple[int, int]:
    """The letters of the shortest literal (the spaces a word boundary leaves around `the` say
    nothing about how rare it is), then the fewer literals the better."""
    return min(len(literal.strip()) for literal in need), -len(need)


def _needs(items: list[_Item], literal: Callable[[str], bool]) -> list[frozenset[str]]:
    """Every requirement of a parsed sequence: sets of literals (of the characters for which
    `literal` holds), one of each in every match."""
    found: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            found.append(frozenset({"".join(run)}))
            run.clear()

    for item in items:
        if item[0] == "lit" and literal(item[1]):
            run.append(item[1].lower())
            continue
        close()
        if item[0] == "group":
            found += _needs(item[2], literal)
        elif item[0] == "branch":
            found += either([_needs(branch, literal) for branch in item[2]], len)
        elif item[0] == "repeat" and item[2] >= 1:
            found += _needs(item[3], literal)
    close()
    return list(dict.fromkeys(found))


class _Reader:
    """A pattern read into items, left to right; raises _Unreadable."""

    def __init__(self, source: str) -> None:
        self.source, self.pos = source, 0
        self.serial = itertools.count()

    def pattern(self) -> list[_Item]:
        items = self.alternatives()
        if self.pos != len(self.source):
            raise _Unreadable  # an unbalanced `)`
        return items

    def peek(self) -> str:
        return self.source[self.pos : self.pos + 1]

    def take(self) -> str:
        ch = self.peek()
        if not ch:
            raise _Unreadable
        self.pos += 1
        return ch

    def alternatives(self) -> list[_Item]:
        """`a|b|...` up to `)` or the end: a prefix common to all of them comes out in front;
        alternatives of one character or class each make a class."""
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        out: list[_Item] = []
        while all(branches) and all(branch[0] == branches[0][0] for branch in branches):
            out.append(branches[0][0])
            for branch in branches:
                del branch[0]
        if all(len(b) == 1 and (b[0][0] == "lit" or b[0][:2] == ("in", False)) for b in branches):
            out.append(("other", next(self.serial)))
        else:
            out.append(("branch", next(self.serial), branches))
        return out

    def sequence(self) -> list[_Item]:
        items: list[_Item] = []
        while self.peek() and self.peek() not in "|)":
            ch = self.take()
            if ch in "*+?" or (ch == "{" and self.bounds() is not None):
                self.repeat(items, ch)
            elif ch == "(":
                items += self.group(first=self.pos == 1)
            elif ch == "[":
                items.append(self.klass())
            elif ch == "\\":
                items.append(self.escape())
            elif ch == ".":
                items.append(("any",))
            elif ch in "^$":
                items.append(("at", ch))
            else:
                items.append(("lit", ch))
        spliced: list[_Item] = []
        for item in items:  # a plain non-capturing group is part of the sequence
            spliced += item[2] if item[0] == "group" and item[3] else [item]
        return spliced

    def repeat(self, items: list[_Item], ch: str) -> None:
        """The last item repeated (`*`, `+`, `?` or `{m,n}`, lazy or possessive)."""
        low = {"*": 0, "+": 1, "?": 0}.get(ch)
        if low is None:
            low = self.bounds(consume=True)
        if not items or items[-1][0] in ("at", "repeat", "possessive"):
            raise _Unreadable  # nothing to repeat, or a repeat repeated
        item = items.pop()
        if self.peek() == "+":
            self.pos += 1
            items.append(("possessive", next(self.serial)))
            return
        if self.peek() == "?":
            self.pos += 1
        inner = item[2] if item[0] == "group" and item[3] else [item]
        items.append(("repeat", next(self.serial), low, inner))

    def bounds(self, consume: bool = False) -> int | None:
        """After `{`: the least count of `{m}`, `{m,}`, `{,n}` or `{m,n}`; None when the `{` is
        a literal character. Moves past the `}` only when `consume`."""
        start = self.pos
        low = high = self.digits()
        if self.peek() == ",":
            self.pos += 1
            high = self.digits()
        if self.peek() != "}" or self.pos == start:
            self.pos = start
            return None
        if low and high and int(low) > int(high):
            raise _Unreadable
        if consume:
            self.pos += 1
        else:
            self.pos = start
        return int(low or 0)

    def digits(self) -> str:
        start = self.pos
        while self.peek() and self.peek() in "0123456789":
            self.pos += 1
        return self.source[start : self.pos]

    def group(self, first: bool) -> list[_Item]:
        """After `(`: a group, a lookaround, a comment or inline flags."""
        if self.peek() != "?":
            return [("group", next(self.serial), self.closed(), False)]
        self.pos += 1
        kind = self.take()
        if kind == ":":
            return [("group", next(self.serial), self.closed(), True)]
        if kind == "P" and self.peek() == "<":
            end = self.source.find(">", self.pos)
            if end < 0 or not self.source[self.pos + 1 : end].isidentifier():
                raise _Unreadable
            self.pos = end + 1
            return [("group", next(self.serial), self.closed(), False)]
        if kind == "#":
            end = self.source.find(")", self.pos)
            if end < 0:
                raise _Unreadable
            self.pos = end + 1
            return []
        if kind in "=!>" or (kind == "<" and self.peek() in ("=", "!")):
            self.pos += kind == "<"
            self.closed()
            return [("other", next(self.serial))]
        self.pos -= 1
        flags = ""
        while self.peek() and self.peek() in _FLAGS:
            flags += self.take()
        closing = self.take()
        if not flags or closing not in ":)":
            raise _Unreadable
        if closing == ")":  # global flags are allowed at the start only
            if not first or "-" in flags:
                raise _Unreadable
            return []
        return [("group", next(self.serial), self.closed(), False)]

    def closed(self) -> list[_Item]:
        items = self.alternatives()
        if self.take() != ")":
            raise _Unreadable
        return items

    def klass(self) -> _Item:
        """After `[`: a class; one that holds a single character is that character."""
        start = self.pos
        negated = self.peek() == "^"
        self.pos += negated
        members: list[str] = []
        while True:
            ch = self.take()
            if ch == "]" and members:
                break
            members.append(ch + self.take() if ch == "\\" else ch)
        literal = all(len(m) == 1 or not m[-1].isalnum() for m in members)
        values = {m[-1] for m in members}
        if literal and len(values) == 1 and "-" not in members[1:-1]:
            return ("other", next(self.serial)) if negated else ("lit", values.pop())
        return ("in", negated, self.source[start + negated : self.pos - 1])

    def escape(self) -> _Item:
        """After a backslash."""
        ch = self.take()
        if ch in _CONTROL_ESCAPES:
            return ("lit", _CONTROL_ESCAPES[ch])
        if ch in "dDsSwW":
            return ("in", False, "\\" + ch)
        if ch in "AZbB":
            return ("at", "\\" + ch)
        if ch in _HEX_ESCAPES:
            digits = self.source[self.pos : self.pos + _HEX_ESCAPES[ch]]
            if len(digits) != _HEX_ESCAPES[ch] or not _HEX.issuperset(digits):
                raise _Unreadable
            self.pos += len(digits)
            if int(digits, 16) > 0x10FFFF:
                raise _Unreadable
            return ("lit", chr(int(digits, 16)))
        if ch.isascii() and ch.isalnum():
            raise _Unreadable  # a group reference, an octal escape, or no escape at all
        return ("lit", ch)


def either(
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
