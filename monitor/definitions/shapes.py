"""Terms written in the wrong shape where terms go: lists one level too deep, a rule where only
terms go. Each is one problem that shows the terms in the shape meant, as the author can paste it
(`write terms: [[summit, 峰会], [host, 举行]]`), not a problem per item that says what is wrong
but not what to write."""

from __future__ import annotations

import yaml

from monitor.definitions.yamlfile import File, flow_list
from monitor.operators import Operator

NESTED_RULE_KEYS: tuple[str, ...] = tuple(Operator)
RULE_KEYS = ("scope", *NESTED_RULE_KEYS)
_DEEPEST = 8  # lists in lists deeper than this are no slip of the brackets (and YAML can recurse)


def lists_of_terms(node: yaml.Node, depth: int = 2) -> bool:
    """Whether a node is a list of lists of terms (depth 2) or a list of terms (depth 1)."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        return False
    if depth == 1:
        return all(isinstance(item, yaml.ScalarNode) for item in node.value)
    return all(lists_of_terms(item, depth - 1) for item in node.value)


def only_terms(node: yaml.Node, depth: int = 0) -> bool:
    """Whether a node is a term, or lists (at any depth, none empty) holding only terms."""
    if isinstance(node, yaml.ScalarNode):
        return True
    return (
        isinstance(node, yaml.SequenceNode)
        and bool(node.value)
        and depth < _DEEPEST
        and all(only_terms(item, depth + 1) for item in node.value)
    )


def too_deep(node: yaml.Node) -> bool:
    """A group of 'near' terms holding lists of terms: `[[A, B]]` or `[A, [B]]`, one group."""
    return (
        isinstance(node, yaml.SequenceNode)
        and bool(node.value)
        and not lists_of_terms(node, depth=1)
        and all(
            isinstance(item, yaml.ScalarNode) or lists_of_terms(item, depth=1)
            for item in node.value
        )
    )


def scalars(node: yaml.Node) -> list[str]:
    """The terms of a term or of lists of terms, in order, flattened (see `only_terms`)."""
    if isinstance(node, yaml.ScalarNode):
        return [str(node.value)]
    return [text for item in node.value for text in scalars(item)]


def flat(node: yaml.Node) -> str:
    """A list of terms as a YAML flow list, to show the shape meant: `[summit, 峰会]`."""
    return flow_list(scalars(node))


def flow(node: yaml.Node, depth: int = 0) -> str:
    """Any node as YAML flow text, as written: `{all: [talk*, '@cues.talks']}`."""
    if isinstance(node, yaml.ScalarNode):
        return flow_list([str(node.value)])[1:-1]
    if depth >= _DEEPEST:
        return "…"
    if isinstance(node, yaml.SequenceNode):
        return "[" + ", ".join(flow(item, depth + 1) for item in node.value) + "]"
    pairs = [f"{flow(k, depth + 1)}: {flow(v, depth + 1)}" for k, v in node.value]
    return "{" + ", ".join(pairs) + "}"


def near_misshapen(f: File, terms: yaml.Node, items: list[yaml.Node]) -> bool:
    """Whether 'near' terms are not a list of groups, each a term or a list of terms (a problem
    recorded that shows the shape meant, in the author's terms)."""
    if len(items) == 1 and lists_of_terms(items[0]) and len(items[0].value) > 1:
        shape = ", ".join(flat(group) for group in items[0].value)  # [[[A, B], [C, D]]]
        f.error(
            terms,
            "'near' terms are nested one list too deep (its groups are in one more list):"
            f" write terms: [{shape}]",
        )
        return True
    deep = [item for item in items if too_deep(item)]  # [[[A, B]], C] or [[A, [B]], C]
    if deep and len(items) > 1:
        shape = ", ".join(_groups(i) for i in items)
        f.error(
            deep[0],
            "a group in 'near' terms is one list of terms (any of them), not a list of lists:"
            f" write terms: [{shape}]",
        )
        return True
    if len(items) == 1:
        f.error(terms, _one_group(items[0]))
        return True
    return False


def _groups(item: yaml.Node) -> str:
    """An element of 'near' terms as the group or groups meant: a term; a list of terms; its
    groups, when it holds several lists of terms (`[[A, B], [C, D]]` beside others is two
    groups in one list too many); else its terms as one group."""
    if isinstance(item, yaml.ScalarNode):
        return flat(item)[1:-1]
    if lists_of_terms(item) and len(item.value) > 1:
        return ", ".join(flat(group) for group in item.value)
    return flat(item)


def _one_group(item: yaml.Node) -> str:
    """What to do about a `near` given one element of terms: one list is one group."""
    if only_terms(item) and isinstance(item, yaml.SequenceNode):  # [[A, B]], [[[A, B]]]
        return (
            f"'near' needs at least two groups of terms, and its terms hold one, {flat(item)}"
            " (any of them): write each group as an element, a term or a list of terms:"
            f" terms: [{flat(item)}, [C, D]]"
        )
    if isinstance(item, yaml.SequenceNode):
        return (
            "'near' needs at least two groups of terms, and a list in its terms is one group"
            " (any of its terms): write each group as an element, terms: [[A, B], [C, D]]"
        )
    return (
        "'near' needs at least two terms, to find them close to each other; for one term"
        " alone, use 'any'"
    )


def operator_misshapen(f: File, key: str, items: list[yaml.Node]) -> bool:
    """Whether an `all`, `any` or `none` list holds lists of terms (`any: [[summit, 峰会]]`,
    `all: [[[summit, 峰会]], host]`): one problem, at the first, that shows the list meant (True).
    In `any` and `none` a list is its terms; in `all` a list reads as a group, any of its
    terms, as in 'near', which a nested `{any: [...]}` writes."""
    lists = [item for item in items if isinstance(item, yaml.SequenceNode)]
    if not lists or not all(only_terms(item) for item in lists):
        return False
    if key != Operator.ALL:
        shape = ", ".join(flat(i)[1:-1] if i in lists else flow(i) for i in items)
        f.error(
            lists[0],
            f"'{key}' is one list of terms and nested rules, not a list of lists:"
            f" write {key}: [{shape}]",
        )
        return True
    if len(items) == 1:  # `all: [[A, B]]`: both, or either? Show each.
        f.error(
            lists[0],
            "'all' is one list of terms and nested rules, not a list of lists: write all:"
            f" {flat(items[0])} for all of them, or any: {flat(items[0])} for any one",
        )
        return True
    shape = ", ".join(f"{{any: {flat(i)}}}" if i in lists else flow(i) for i in items)
    f.error(
        lists[0],
        "a list in 'all' is no term; for any one of its terms, write a nested rule:"
        f" all: [{shape}]",
    )
    return True


def unless_misshapen(f: File, node: yaml.Node) -> bool:
    """Whether `unless` is written as a rule (`{any: [...]}`) or as lists in a list (`[[A, B]]`,
    `[[[A, B]]]`): one problem that shows its terms as the one list it is, `write [A, B]` (True)."""
    if isinstance(node, yaml.MappingNode) and all(
        isinstance(k, yaml.ScalarNode) and k.value in RULE_KEYS for k, _ in node.value
    ):
        values = [v for k, v in node.value if k.value != "scope"]
        if values and all(isinstance(v, yaml.ScalarNode) or lists_of_terms(v, 1) for v in values):
            terms = [t for v in values for t in scalars(v)]
            f.error(
                node,
                "'unless' is a list of terms, any of which cancels a match, not a rule:"
                f" write {flow_list(terms)}",
            )
            return True
    if only_terms(node) and isinstance(node, yaml.SequenceNode) and not lists_of_terms(node, 1):
        f.error(node, f"'unless' is one list of terms, not a list of lists: write {flat(node)}")
        return True
    return False


def unless_item(f: File, item: yaml.Node, items: list[yaml.Node]) -> None:
    """Report an item of `unless` that is no term: a rule (`{all: [talk, consider]}`, a `near`)
    says where a rule that rules matches out goes, the rule's `none`; `{any: [A, B]}` is its
    terms, written in the list."""
    rule = isinstance(item, yaml.MappingNode) and all(
        isinstance(k, yaml.ScalarNode) and k.value in RULE_KEYS for k, _ in item.value
    )
    labeled = isinstance(item, yaml.MappingNode) and [v for k, v in item.value if k.value == "term"]
    if labeled and isinstance(labeled[0], yaml.ScalarNode):  # {term: /x/, label: words}
        f.error(
            item,
            "'unless' cues take no label (a cue is never shown as evidence):"
            f" write the term alone, {flow(labeled[0])}",
        )
        return
    if not rule:
        f.error(item, "'unless' items must be terms or vocabulary references")
        return
    keys = {k.value for k, _ in item.value} - {"scope"}
    values = [v for k, v in item.value if k.value == Operator.ANY]
    if keys == {Operator.ANY} and all(lists_of_terms(v, 1) for v in values):
        shape = ", ".join(flat(values[0])[1:-1] if i is item else flow(i) for i in items)
        f.error(
            item,
            "'unless' items are terms, any one of which cancels a match; an 'any' in it is its"
            f" terms: write them as items of 'unless', unless: [{shape}]",
        )
        return
    inner = ", ".join(f"{flow(k)}: {flow(v)}" for k, v in item.value if k.value != "scope")
    f.error(
        item,
        "'unless' items are terms, any one of which cancels a match, not rules: a rule that"
        f" rules matches out goes under the rule's 'none', none: [{{scope: sentence, {inner}}}]"
        " (it rules out the entry, or in a sentence rule the sentence, where it holds in one"
        " sentence)",
    )


def selector_shape(node: yaml.Node, feed_ids: set[str]) -> str:
    """`feeds: [yonhap, korea]` or `feeds: korea`, names where a mapping goes: the mapping meant,
    `{ids: [yonhap], tags: [korea]}`, each name a feed id of the feeds file or else a tag; ""
    when the node holds anything but names."""
    if isinstance(node, yaml.ScalarNode) and node.value:
        names = [str(node.value)]
    elif isinstance(node, yaml.SequenceNode) and lists_of_terms(node, 1):
        names = scalars(node)
    else:
        return ""
    ids = [name for name in names if name in feed_ids]
    tags = [name for name in names if name not in feed_ids]
    parts = [f"ids: {flow_list(ids)}"] if ids else []
    parts += [f"tags: {flow_list(tags)}"] if tags else []
    return "{" + ", ".join(parts) + "}"


def rule_keys_without_rule(f: File, item: yaml.Node) -> tuple[yaml.Node, bool]:
    """An outcome with a rule's keys (`scope:`, `all:`) and no `rule:` holding them: one
    problem, at the first, that says to write the `rule:` line (not one per key, each said to
    go under a 'rule:' there is none of, and a missing 'rule'); the item without those keys,
    and whether it was so."""
    if not isinstance(item, yaml.MappingNode):
        return item, False
    keys = [k for k, _ in item.value if isinstance(k, yaml.ScalarNode)]
    found = [k for k in keys if k.value in RULE_KEYS]
    if not found or any(k.value == "rule" for k in keys):
        return item, False
    names = [f"'{k.value}'" for k in found]
    named = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    it = "it" if len(names) == 1 else "them"
    f.error(
        found[0],
        f"{named} {'belongs' if len(names) == 1 else 'belong'} to a rule, and this outcome has"
        " no 'rule:': write rule: on a line above this one, lined up with it, and indent"
        f" {it} and the lines under {it} 2 spaces more",
    )
    kept = [(k, v) for k, v in item.value if not any(k is key for key in found)]
    return yaml.MappingNode(item.tag, kept, item.start_mark, item.end_mark), True
