"""A rule as data: its terms and the nodes of its operators (`all`, `any`, `none`, `near`, a
nested `scope`), as `definitions` reads them from YAML and `match` compiles them. Pure: imports
only the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class TermKind(StrEnum):
    PHRASE = "phrase"  # case-insensitive, word boundaries for Latin, substring for CJK; and forms
    PREFIX = "prefix"  # word*  -> a word starting with `word`
    REGEX = "regex"  # /pattern/


@dataclass(frozen=True)
class Term:
    raw: str  # as written in the YAML, shown in explanations
    kind: TermKind
    text: str  # normalized phrase / prefix, or the regex source
    title_only: bool = False
    forms: tuple[str, ...] = ()  # other spellings of a phrase (inflections), normalized
    where: str = field(default="", compare=False)  # "file:line" it was written at, for warnings
    label: str = ""  # what people are shown instead of `raw` (`{term: ..., label: ...}`)
    # the vocabulary reference it comes from, as written (`@actors.china`, `title:@actors.china`),
    # or "": shown in explanations, never part of what a term is (like `where`)
    vocabulary: str = field(default="", compare=False)

    @property
    def shown(self) -> str:
        """How a match reports it: its label, else as written."""
        return self.label or self.raw


@dataclass(frozen=True)
class TermNode:
    term: Term


@dataclass(frozen=True)
class AllNode:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyNode:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class NoneNode:
    """True when none of its children holds."""

    children: tuple[Node, ...]


class Order(StrEnum):
    ANY = "any"  # the terms in any order
    BEFORE = "before"  # in the listed order: the first term before the second, ...
    AFTER = "after"  # in the reverse order


@dataclass(frozen=True)
class NearNode:
    """True when one term of every group occurs, with at most `within` words between the first
    and the last, in the given order."""

    terms: tuple[tuple[Term, ...], ...]  # groups of alternatives (a vocabulary, a list)
    within: int
    order: Order = Order.ANY


class Scope(StrEnum):
    ENTRY = "entry"
    SENTENCE = "sentence"


@dataclass(frozen=True)
class ScopeNode:
    """A nested rule with a `scope` of its own: `node` holds within one sentence, or anywhere in
    the entry, whatever the scope of the rule around it. Inside a sentence rule, an entry scope
    holds in every sentence when `node` holds in the entry; inside an entry rule, a sentence
    scope holds when `node` holds in one sentence."""

    node: Node
    scope: Scope


Node = TermNode | AllNode | AnyNode | NoneNode | NearNode | ScopeNode


@dataclass(frozen=True)
class Rule:
    node: Node
    scope: Scope = Scope.ENTRY


def iter_terms(node: Node) -> Iterable[Term]:
    if isinstance(node, TermNode):
        yield node.term
    elif isinstance(node, NearNode):
        for group in node.terms:
            yield from group
    elif isinstance(node, ScopeNode):
        yield from iter_terms(node.node)
    else:
        for child in node.children:
            yield from iter_terms(child)
