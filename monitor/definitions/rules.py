"""An outcome's `rule` and `unless` -> domain rule nodes; each operator key is an `Operator`."""

from __future__ import annotations

import difflib
from dataclasses import replace
from types import MappingProxyType
from typing import assert_never

import regex
import yaml

from monitor.definitions.shapes import (
    NESTED_RULE_KEYS,
    RULE_KEYS,
    near_misshapen,
    only_terms,
    operator_misshapen,
    unless_item,
    unless_misshapen,
)
from monitor.definitions.terms import compile_term
from monitor.definitions.yamlfile import (
    MAX_RULE_DEPTH,
    MAX_RULE_ITEMS,
    File,
    TooBig,
    flow_list,
    integer,
    mapping,
    sequence,
    shown,
    string,
)
from monitor.operators import Operator
from monitor.ruletree import (
    AllNode,
    AnyNode,
    NearNode,
    Node,
    NoneNode,
    Order,
    Rule,
    Scope,
    ScopeNode,
    Term,
    TermKind,
    TermNode,
)

NEAR_KEYS = ("terms", "within", "order")
NEAR_REQUIRED = ("terms", "within")
LABELED_TERM_KEYS = ("term", "label")  # `{term: '/regex/', label: words}`: shown as `label`
_OUTCOME = "the outcome: line it up with its 'rule:'"
# Keys of other levels met in a rule: a line indented one level too deep.
RULE_ELSEWHERE = MappingProxyType(
    {"unless": _OUTCOME, "corroborate": _OUTCOME, "label": _OUTCOME, "id": _OUTCOME}
    | dict.fromkeys(NEAR_KEYS, "'near': indent it under 'near:'")
)

# Operators written as other rule languages write them: the operator each stands for.
RULE_MEANS = MappingProxyType({"and": "all", "or": "any", "not": "none", "nor": "none"})

# A rule's keys met in 'near': a `scope` (or an operator) goes in the rule that holds 'near'.
NEAR_ELSEWHERE = MappingProxyType(
    dict.fromkeys(RULE_KEYS, "the rule that holds 'near': line it up with 'near:'")
)


def read_rule(f: File, node: yaml.Node) -> Rule | None:
    values = mapping(f, node, "a rule", RULE_KEYS, elsewhere=RULE_ELSEWHERE, means=RULE_MEANS)
    if values is None:
        return None
    scope = _scope(f, values["scope"]) if "scope" in values else Scope.ENTRY
    if all(key not in values for key in Operator if key is not Operator.NONE):
        if not _operator_meant(node):  # else its key's problem names the operator meant
            f.error(
                node, "a rule needs 'all', 'any' or 'near' ('none' alone would match everything)"
            )
        return None
    tree = _operators(f, values, depth=0)
    return Rule(tree, scope) if tree is not None and scope is not None else None


def _operator_meant(node: yaml.Node) -> bool:
    """Whether a key of a rule with no operator was told the operator it stands for (`or`,
    `anny`: "did you mean 'any'?"), so that "a rule needs one of …" would only repeat it."""
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(key, yaml.ScalarNode)
        and key.value not in RULE_KEYS
        and key.value not in RULE_ELSEWHERE
        and (
            key.value in RULE_MEANS
            or difflib.get_close_matches(str(key.value), NESTED_RULE_KEYS, n=1, cutoff=0.75)
        )
        for key, _ in node.value
    )


def _scope(f: File, node: yaml.Node) -> Scope | None:
    text = string(f, node, "scope")
    if text is not None and text not in tuple(Scope):
        f.error(node, f"scope '{text}' must be 'entry' or 'sentence'")
        return None
    return Scope(text) if text is not None else None


def _operators(f: File, values: dict[str, yaml.Node], depth: int) -> Node | None:
    """The operators of one mapping, ANDed."""
    nodes = [_operator(f, key, node, depth) for key, node in values.items() if key != "scope"]
    if any(n is None for n in nodes) or not nodes:
        return None
    done = [n for n in nodes if n is not None]
    return done[0] if len(done) == 1 else AllNode(tuple(done))


def _operator(f: File, key: str, node: yaml.Node, depth: int) -> Node | None:
    operator = Operator(key)  # the keys were checked against the operators' names
    if operator is Operator.NEAR:
        return _near(f, node)
    items = sequence(f, node, f"'{key}'")
    if operator_misshapen(f, key, items):
        return None
    children = [_item(f, item, depth + 1) for item in items]
    if not children or any(c is None for c in children):
        return None
    done = tuple(c for c in children if c is not None)
    match operator:
        case Operator.ALL:
            return AllNode(done)
        case Operator.ANY:
            return AnyNode(done)
        case Operator.NONE:
            return NoneNode(done)
        case _:
            assert_never(operator)


def _term_with_colon(f: File, node: yaml.MappingNode) -> bool:
    """A term written with ': ' and no quotes (`- title: Xi`, `- /visa: ?free/`) is, for YAML, a
    mapping of one key that is no rule key to text: say so (True), not "unknown key 'title' in a
    nested rule" and "a nested rule needs one of: all, any, none, near"."""
    if len(node.value) != 1:
        return False
    key, value = node.value[0]
    if not (isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode)):
        return False
    if key.value in RULE_KEYS or key.value in RULE_ELSEWHERE or key.value == "term":
        return False
    written = f"{key.value}: {value.value}"
    also = f" or write title:{value.value}" if key.value == "title" else ""
    f.error(node, f"'{written}' is read by YAML as a mapping, not a term: quote it{also}")
    return True


def _item(f: File, node: yaml.Node, depth: int) -> Node | None:
    f.items += 1
    if f.items > MAX_RULE_ITEMS:
        raise TooBig
    if depth > MAX_RULE_DEPTH:
        f.error(node, f"rule is nested more than {MAX_RULE_DEPTH} levels deep")
        return None
    if isinstance(node, yaml.ScalarNode):
        terms = read_terms(f, node)
        if terms is None:
            return None
        return TermNode(terms[0]) if len(terms) == 1 else AnyNode(tuple(map(TermNode, terms)))
    if isinstance(node, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == "term" for k, _ in node.value
    ):
        term = _labeled_term(f, node)
        return TermNode(term) if term is not None else None
    if isinstance(node, yaml.MappingNode) and _term_with_colon(f, node):
        return None
    if isinstance(node, yaml.MappingNode):
        values = mapping(
            f, node, "a nested rule", RULE_KEYS, elsewhere=RULE_ELSEWHERE, means=RULE_MEANS
        )
        if values is None or not values.keys() - {"scope"}:
            if values is None or not _operator_meant(node):
                f.error(node, "a nested rule needs one of: all, any, none, near")
            return None
        tree = _operators(f, values, depth)
        if "scope" not in values or tree is None:
            return tree
        scope = _scope(f, values["scope"])  # its own scope, whatever the rule's around it
        return ScopeNode(tree, scope) if scope is not None else None
    f.error(node, "a rule item must be a term or a mapping with all, any, none or near")
    return None


def _term(f: File, node: yaml.Node) -> Term | None:
    raw = string(f, node, "a term")
    if raw is None:
        return None
    try:
        return replace(compile_term(raw, check_regex=f.check_regexes), where=f.where(node))
    except ValueError as exc:
        f.error(node, str(exc))
        return None


def _labeled_term(f: File, node: yaml.Node) -> Term | None:
    """`{term: '/regex/', label: words}`: a term that people are shown as its label (the
    digest, the page, alerts) — for a regex, whose source means nothing to a reader."""
    values = mapping(f, node, "a labeled term", LABELED_TERM_KEYS, LABELED_TERM_KEYS)
    if values is None or any(key not in values for key in LABELED_TERM_KEYS):
        return None
    term, label = _term(f, values["term"]), shown(f, values["label"], "a term's label")
    if term is None or label is None:
        return None
    return replace(term, label=" ".join(label.split()))


def read_terms(f: File, node: yaml.Node) -> list[Term] | None:
    """A term, or every term of a vocabulary reference (`@FILE.NAME`, `title:@FILE.NAME`)."""
    raw = string(f, node, "a term")
    if raw is None:
        return None
    text, prefix = raw.strip(), ""
    if text.startswith("title:") and text[len("title:") :].strip().startswith("@"):
        text, prefix = text[len("title:") :].strip(), "title:"
    if not text.startswith("@"):
        term = _term(f, node)
        return [term] if term is not None else None
    if f.vocab is None:
        f.error(node, f"vocabulary reference {raw!r} outside an indicator")
        return None
    found = f.vocab.lookup(f, node, text)
    if found is None:
        return None
    raws, files = found
    f.used |= files
    f.items += len(raws)
    if f.items > MAX_RULE_ITEMS:
        raise TooBig
    terms: list[Term] = []
    name = prefix + text  # the reference as written, shown with its terms in explanations
    for item, where in raws:  # each checked where its vocabulary file lists it
        try:
            term = compile_term(prefix + item, check_regex=False)
            terms.append(replace(term, where=where, vocabulary=name))
        except ValueError as exc:
            f.error(node, f"{raw}: {exc}")
    return terms if len(terms) == len(raws) else None


def _near(f: File, node: yaml.Node) -> NearNode | None:
    if isinstance(node, yaml.SequenceNode) and node.value and only_terms(node):
        f.error(  # `near: [chip, supply]`: the terms without the mapping that holds them
            node,
            "'near' must be a mapping with keys: terms, within, order: write near: {terms:"
            f" {_flow(node)}, within: N}}, N the most words between the terms",
        )
        return None
    values = mapping(f, node, "'near'", NEAR_KEYS, NEAR_REQUIRED, elsewhere=NEAR_ELSEWHERE)
    if values is None or any(key not in values for key in NEAR_REQUIRED):
        return None
    items = sequence(f, values["terms"], "'near' terms")
    if near_misshapen(f, values["terms"], items):
        return None
    groups = [_near_group(f, item) for item in items]
    within = integer(f, values["within"], "'near' within", 0, 1000)
    order = _order(f, values["order"]) if "order" in values else Order.ANY
    if len(items) < 2 or within is None or order is None or any(g is None for g in groups):
        return None
    return NearNode(tuple(tuple(g) for g in groups if g is not None), within, order)


def _flow(node: yaml.SequenceNode) -> str:
    """A list of terms (and lists of terms) as the YAML flow an author can paste."""
    return (
        "["
        + ", ".join(
            flow_list([str(item.value)])[1:-1] if isinstance(item, yaml.ScalarNode) else _flow(item)
            for item in node.value
            if isinstance(item, (yaml.ScalarNode, yaml.SequenceNode))
        )
        + "]"
    )


def _near_group(f: File, node: yaml.Node) -> list[Term] | None:
    """One element of 'near' terms: a term, a vocabulary reference or a list of either."""
    if isinstance(node, yaml.ScalarNode):
        return read_terms(f, node)
    if not isinstance(node, yaml.SequenceNode):
        f.error(node, "'near' terms must be terms, vocabulary references or lists of them")
        return None
    found = [
        _near_group(f, item) if isinstance(item, yaml.ScalarNode) else None for item in node.value
    ]
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            f.error(item, "a list in 'near' terms must hold terms, not lists or mappings")
    if not node.value:
        f.error(node, "a list in 'near' terms must not be empty")
    if not node.value or any(group is None for group in found):
        return None
    return [term for group in found if group is not None for term in group]


def _order(f: File, node: yaml.Node) -> Order | None:
    text = string(f, node, "'near' order")
    if text is not None and text not in tuple(Order):
        allowed = ", ".join(f"'{o}'" for o in Order)
        f.error(node, f"'near' order '{text}' must be one of {allowed}")
        return None
    return Order(text) if text is not None else None


def read_unless(f: File, node: yaml.Node) -> tuple[Term, ...] | None:
    """An outcome's `unless`: terms and vocabulary references that cancel a match."""
    if unless_misshapen(f, node):
        return None
    items = sequence(f, node, "'unless'")
    found = [read_terms(f, item) if isinstance(item, yaml.ScalarNode) else None for item in items]
    for item in items:
        if not isinstance(item, yaml.ScalarNode):
            unless_item(f, item, items)
    if not items or any(terms is None for terms in found):
        return None
    return tuple(dict.fromkeys(term for terms in found if terms is not None for term in terms))


_CJK = regex.compile(r"[\p{Han}\p{Hangul}\p{Hiragana}\p{Katakana}]")


def near_of_translations(node: NearNode) -> str:
    """A warning's words for `near` terms written as a flat list of alternatives, `[summit,
    峰会, host, 举行]`: a lowercase Latin-script word and a CJK one each a group of its own,
    which must all occur close together, as an English word and its translation rarely do;
    "" for any other `near`."""
    single = [g[0] for g in node.terms if len(g) == 1 and not g[0].vocabulary]
    single = [t for t in single if t.kind is not TermKind.REGEX]
    latin = [t for t in single if regex.search(r"[a-z]", t.raw) and not _CJK.search(t.raw)]
    cjk = [t for t in single if _CJK.search(t.raw)]
    if not latin or not cjk:
        return ""
    raws = [t.raw for t in single]
    pairs = len(single) == len(node.terms) and len(raws) % 2 == 0 and len(raws) > 2
    pairs = pairs and all(
        bool(_CJK.search(a)) != bool(_CJK.search(b))
        for a, b in zip(raws[::2], raws[1::2], strict=True)
    )
    shape = (
        ", ".join(flow_list(list(p)) for p in zip(raws[::2], raws[1::2], strict=True))
        if pairs
        else f"{flow_list([latin[0].raw, cjk[0].raw])}, …"
    )
    return (
        f"'near' terms {latin[0].raw} and {cjk[0].raw} are groups of their own, each of which"
        f" must occur within {node.within} words of the others, as a word and its translation"
        f" rarely do; alternatives go in one group, a list: terms: [{shape}]"
    )
