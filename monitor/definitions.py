"""indicators/*.yaml + config/feeds.yaml -> frozen domain objects, with `file:line: message` errors.

The only module that imports yaml. Files are read with PyYAML's node API so that every key and
value keeps its line; every problem in every file is collected before DefinitionError is raised.
No input, however broken, escapes as anything but a problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import assert_never
from urllib.parse import urlsplit

import regex
import yaml

from monitor.domain import (
    AllNode,
    AnyNode,
    Definitions,
    Example,
    Feed,
    FeedSelector,
    Indicator,
    NearNode,
    Node,
    NoneNode,
    Order,
    Outcome,
    Rule,
    Scope,
    Term,
    TermKind,
    TermNode,
    digest_of,
    iter_terms,
    normalize,
    parse_duration,
)
from monitor.errors import DefinitionError
from monitor.operators import Operator
from monitor.wordforms import word_forms

__all__ = ["compile_term", "load_definitions", "tag_warnings", "validate", "warnings"]

MAX_FILE_BYTES = 1_000_000
MAX_RULE_ITEMS = 10_000  # per file, after aliases are expanded
MAX_RULE_DEPTH = 32
MIN_PREFIX_LETTERS = 4  # `monitor validate` warns for a shorter Latin prefix
_IDENT = regex.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_YAML_INT = "tag:yaml.org,2002:int"
_YAML_NULL = "tag:yaml.org,2002:null"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

INDICATOR_KEYS = ("id", "group", "title", "question", "feeds", "window", "outcomes", "examples")
INDICATOR_REQUIRED = ("id", "group", "title", "question", "outcomes")
OUTCOME_KEYS = ("id", "label", "corroborate", "rule", "unless")
EXAMPLE_KEYS = ("text", "expect", "body")
SELECTOR_KEYS = ("ids", "tags")
NESTED_RULE_KEYS: tuple[str, ...] = tuple(Operator)
RULE_KEYS = ("scope", *NESTED_RULE_KEYS)
NEAR_KEYS = ("terms", "within", "order")
NEAR_REQUIRED = ("terms", "within")
VOCAB_DIR = "vocab"  # indicators/vocab/*.yaml: named term lists, not indicators
_REF = regex.compile(r"^@([A-Za-z0-9_-]+)\.([A-Za-z0-9][A-Za-z0-9_.-]*)$")
FEED_KEYS = ("id", "url", "tags", "interval", "title")
DEFAULT_WINDOW = timedelta(days=30)
DEFAULT_CORROBORATE = 2


class _TooBig(Exception):
    """A file expands (through aliases) to more than MAX_RULE_ITEMS rule items."""


@dataclass
class _File:
    """One YAML file being read: where problems go."""

    path: str
    problems: list[str] = field(default_factory=list)
    items: int = 0
    vocab: _Vocab | None = None  # what `@FILE.NAME` references resolve against
    used: set[str] = field(default_factory=set)  # vocabulary files the file's terms came from

    def where(self, node: yaml.Node) -> str:
        return f"{self.path}:{_line(node)}"

    def error(self, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.path}:{line}: {message}")


# ---------------------------------------------------------------- public API


def load_definitions(indicators_dir: Path, feeds_file: Path) -> Definitions:
    """Read and validate every definition; raise DefinitionError listing every problem."""
    problems: list[str] = []
    feeds, feeds_hash = _load_feeds(feeds_file, problems)
    known = None if problems else feeds
    vocab = _load_vocab(indicators_dir / VOCAB_DIR, problems)
    indicators = _load_indicators(indicators_dir, known, vocab, problems)
    if problems:
        raise DefinitionError(problems)
    parts = [feeds_hash] + [f"{i.id}:{i.hash}" for i in sorted(indicators, key=lambda i: i.id)]
    return Definitions(indicators=tuple(indicators), feeds=tuple(feeds), hash=digest_of(*parts))


def validate(indicators_dir: Path, feeds_file: Path) -> list[str]:
    """Every `file:line: message` problem of the definitions; empty when they are valid."""
    try:
        load_definitions(indicators_dir, feeds_file)
    except DefinitionError as exc:
        return exc.problems
    return []


def tag_warnings(definitions: Definitions) -> list[str]:
    """`file: warning:` for each tag an indicator selects that no feed has: a feeds file of
    one's own need not carry the shipped indicators' tags, so this is no error."""
    known = sorted({tag for feed in definitions.feeds for tag in feed.tags})
    found = []
    for indicator in definitions.indicators:
        missing = [tag for tag in indicator.feeds.tags if tag not in known]
        if not missing:
            continue
        reads = "" if definitions.feeds_for(indicator) else "; it reads no feed"
        found.append(
            f"{indicator.source}: warning: no feed has the tag"
            f"{'s' if len(missing) > 1 else ''} {', '.join(repr(t) for t in missing)}{reads}"
            f" (known tags: {_names(known)})"
        )
    return found


def warnings(definitions: Definitions) -> list[str]:
    """`file:line: warning:` for valid but risky terms: a prefix of fewer than
    MIN_PREFIX_LETTERS Latin letters matches many unrelated words (`eas*`: East, easy)."""
    found: dict[str, None] = {}
    for indicator in definitions.indicators:
        for outcome in indicator.outcomes:
            for term in (*iter_terms(outcome.rule.node), *outcome.unless):
                letters = sum(ch.isalpha() for ch in term.text)
                if (
                    term.kind == TermKind.PREFIX
                    and term.text.isascii()
                    and letters < MIN_PREFIX_LETTERS
                ):
                    message = (
                        f"{term.where or indicator.source}: warning: prefix {term.raw!r} has"
                        f" fewer than {MIN_PREFIX_LETTERS} letters, so it matches many unrelated"
                        " words (eas* matches East and easy); write the words out"
                    )
                    found.setdefault(message, None)
    return list(found)


def compile_term(raw: str) -> Term:
    """A term as written (`phrase`, `=phrase`, `prefix*`, `/regex/`, `title:...`) -> Term.

    A plain phrase also matches the English forms of its words (see wordforms); `=` before it
    matches it only as written. Raises ValueError with a message naming what is wrong.
    """
    text = raw.strip()
    title_only = text.startswith("title:")
    if title_only:
        text = text[len("title:") :].strip()
    exact = text.startswith("=")
    if exact:
        text = text[1:].strip()
        if text.startswith("@"):
            raise ValueError(f"'=' in term {raw!r}: put '=' on the terms of the vocabulary list")
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        if exact:
            raise ValueError(f"'=' in term {raw!r}: a regex matches only as written anyway")
        source = text[1:-1]
        _check_regex(source, raw)
        return Term(raw=raw, kind=TermKind.REGEX, text=source, title_only=title_only)
    kind = TermKind.PHRASE
    if text.endswith("*"):
        if exact:
            raise ValueError(f"'=' in term {raw!r}: a prefix cannot also be exact")
        kind, text = TermKind.PREFIX, text[:-1]
    phrase = _phrase(text)
    if not phrase:
        raise ValueError(f"empty term {raw!r}")
    forms: tuple[str, ...] = ()
    if kind == TermKind.PHRASE and not exact:
        forms = tuple(dict.fromkeys(_phrase(form) for form in word_forms(text)))
    return Term(raw=raw, kind=kind, text=phrase, title_only=title_only, forms=forms)


def _phrase(text: str) -> str:
    return " ".join(normalize(text).split())


def _check_regex(source: str, raw: str) -> None:
    if not source:
        raise ValueError(f"empty regex in term {raw!r}")
    try:
        pattern = regex.compile(source, regex.IGNORECASE)
        matches_empty = pattern.search("", timeout=0.1) is not None
    except (regex.error, TimeoutError, ValueError, OverflowError, RecursionError) as exc:
        raise ValueError(f"bad regex in term {raw!r}: {exc}") from None
    if matches_empty:
        raise ValueError(f"regex in term {raw!r} matches empty text, so it would match everything")


# ---------------------------------------------------------------- reading files


def _read_yaml(path: Path, f: _File) -> tuple[yaml.Node | None, bytes]:
    """The root node of a YAML file (None after recording a problem) and the file's bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        f.error(None, f"cannot read file: {exc.strerror or exc}")
        return None, b""
    if len(data) > MAX_FILE_BYTES:
        f.error(None, f"file is too large ({len(data)} bytes; the limit is {MAX_FILE_BYTES})")
        return None, data
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        f.problems.append(f"{f.path}:{line}: not UTF-8 text (bad byte at offset {exc.start})")
        return None, data
    root = _compose(text, f)
    if root is None and not f.problems:
        f.error(None, "file is empty")
    return root, data


def _compose(text: str, f: _File) -> yaml.Node | None:
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        f.problems.append(f"{f.path}:{line}: invalid YAML: {exc.problem or exc.context}")
        return None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        f.problems.append(f"{f.path}:{line}: invalid YAML: character {exc.character!r} not allowed")
        return None
    except yaml.YAMLError as exc:
        f.error(None, f"invalid YAML: {exc}")
        return None
    except RecursionError:
        f.error(None, "invalid YAML: nested too deeply")
        return None
    return node


# ---------------------------------------------------------------- node helpers


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(
    f: _File,
    node: yaml.Node,
    what: str,
    allowed: Sequence[str],
    required: Sequence[str] = (),
) -> dict[str, yaml.Node] | None:
    """A mapping node's values by key, after reporting unknown, duplicate and missing keys."""
    if not isinstance(node, yaml.MappingNode):
        f.error(node, f"{what} must be a mapping with keys: {', '.join(allowed)}")
        return None
    values: dict[str, yaml.Node] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            f.error(key_node, f"{what} has a key that is not a name")
            continue
        key = str(key_node.value)
        if key in lines:
            f.error(key_node, f"duplicate key '{key}' in {what} (first at line {lines[key]})")
            continue
        lines[key] = _line(key_node)
        if key not in allowed:
            f.error(key_node, f"unknown key '{key}' in {what}; allowed: {', '.join(allowed)}")
        else:
            values[key] = value_node
    for key in required:
        if key not in lines:
            f.error(node, f"{what} is missing required key '{key}'")
    return values


def _str(f: _File, node: yaml.Node, what: str, *, empty: bool = False) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag == _YAML_NULL:
        f.error(node, f"{what} must be text")
        return None
    value = str(node.value)
    if not empty and not value.strip():
        f.error(node, f"{what} must not be empty")
        return None
    return value


def _ident(f: _File, node: yaml.Node, what: str) -> str | None:
    value = _str(f, node, what)
    if value is not None and not _IDENT.match(value):
        f.error(node, f"{what} {value!r} must be a slug of letters, digits, '-', '_' or '.'")
        return None
    return value


def _int(f: _File, node: yaml.Node, what: str, low: int, high: int) -> int | None:
    value: object = None
    if isinstance(node, yaml.ScalarNode) and node.tag == _YAML_INT:
        try:
            value = _CONSTRUCTOR.construct_yaml_int(node)
        except ValueError:
            value = None
    if not isinstance(value, int) or not low <= value <= high:
        f.error(node, f"{what} must be a whole number from {low} to {high}")
        return None
    return value


def _duration(f: _File, node: yaml.Node, what: str) -> timedelta | None:
    value = _str(f, node, what)
    if value is None:
        return None
    try:
        result = parse_duration(value)
    except (ValueError, OverflowError) as exc:
        f.error(node, f"{what}: {exc}")
        return None
    if result <= timedelta(0):
        f.error(node, f"{what} must be longer than zero")
        return None
    return result


def _list(f: _File, node: yaml.Node, what: str, *, empty: bool = False) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        f.error(node, f"{what} must be a list")
        return []
    if not node.value and not empty:
        f.error(node, f"{what} must not be empty")
    return list(node.value)


def _idents(f: _File, node: yaml.Node, what: str) -> list[tuple[yaml.Node, str]]:
    """A list of slugs; bad items are reported and skipped."""
    out: list[tuple[yaml.Node, str]] = []
    for item in _list(f, node, f"{what}s", empty=True):
        value = _ident(f, item, what)
        if value is not None:
            out.append((item, value))
    return out


# ---------------------------------------------------------------- feeds


def _load_feeds(path: Path, problems: list[str]) -> tuple[list[Feed], str]:
    f = _File(str(path))
    root, data = _read_yaml(path, f)
    feeds: list[Feed] = []
    if root is not None:
        top = _mapping(f, root, "the feeds file", ("feeds",), ("feeds",))
        items = _list(f, top["feeds"], "feeds", empty=True) if top and "feeds" in top else []
        first: dict[str, int] = {}
        for item in items:
            feed = _feed(f, item)
            if feed is None:
                continue
            if feed.id in first:
                f.error(item, f"duplicate feed id '{feed.id}' (first at line {first[feed.id]})")
                continue
            first[feed.id] = _line(item)
            feeds.append(feed)
    problems.extend(f.problems)
    return feeds, hashlib.sha256(data).hexdigest()


def _feed(f: _File, node: yaml.Node) -> Feed | None:
    values = _mapping(f, node, "a feed", FEED_KEYS, ("id", "url"))
    if values is None:
        return None
    feed_id = _ident(f, values["id"], "feed id") if "id" in values else None
    url = _url(f, values["url"]) if "url" in values else None
    tags = _idents(f, values["tags"], "tag") if "tags" in values else []
    interval = _duration(f, values["interval"], "interval") if "interval" in values else None
    title = _str(f, values["title"], "feed title", empty=True) if "title" in values else ""
    if feed_id is None or url is None:
        return None
    return Feed(feed_id, url, tuple(t for _, t in tags), interval, title or "")


def _url(f: _File, node: yaml.Node) -> str | None:
    url = _str(f, node, "feed url")
    if url is None:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
    except ValueError:
        ok = False
    if not ok:
        f.error(node, f"feed url {url!r} must be an http:// or https:// URL")
        return None
    return url


# ---------------------------------------------------------------- indicators


def _load_indicators(
    directory: Path, feeds: list[Feed] | None, vocab: _Vocab, problems: list[str]
) -> list[Indicator]:
    if not directory.is_dir():
        problems.append(f"{directory}:1: not a directory")
        return []
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    seen: dict[str, str] = {}
    indicators: list[Indicator] = []
    for path in paths:
        f = _File(str(path), vocab=vocab)
        root, data = _read_yaml(path, f)
        indicator = None
        if root is not None:
            try:
                indicator = _indicator(f, root, path.stem, feeds, seen)
            except _TooBig:
                f.error(
                    root, f"rules expand to more than {MAX_RULE_ITEMS} items (through aliases?)"
                )
        if indicator is not None and not f.problems:
            indicators.append(replace(indicator, hash=_hash(data, f.used, vocab)))
        problems.extend(f.problems)
    return indicators


def _indicator(
    f: _File, root: yaml.Node, stem: str, feeds: list[Feed] | None, seen: dict[str, str]
) -> Indicator | None:
    values = _mapping(f, root, "an indicator", INDICATOR_KEYS, INDICATOR_REQUIRED)
    if values is None:
        return None
    ind_id = _ident(f, values["id"], "id") if "id" in values else None
    if ind_id is not None:
        if ind_id != stem:
            f.error(values["id"], f"id '{ind_id}' must equal the file name's stem '{stem}'")
        if ind_id in seen:
            f.error(values["id"], f"duplicate indicator id '{ind_id}' (also in {seen[ind_id]})")
        seen.setdefault(ind_id, f.path)
    group, title, question = (
        _str(f, values[key], key) if key in values else None
        for key in ("group", "title", "question")
    )
    selector = _selector(f, values["feeds"], feeds) if "feeds" in values else FeedSelector()
    window = _duration(f, values["window"], "window") if "window" in values else DEFAULT_WINDOW
    outcomes, outcome_ids = _outcomes(f, values["outcomes"]) if "outcomes" in values else ([], None)
    examples = _examples(f, values["examples"], outcome_ids) if "examples" in values else []
    if ind_id is None or group is None or title is None or question is None or window is None:
        return None
    return Indicator(
        id=ind_id,
        group=group,
        title=title,
        question=question.strip(),
        outcomes=tuple(outcomes),
        window=window,
        feeds=selector,
        examples=tuple(examples),
        source=f.path,
    )


def _selector(f: _File, node: yaml.Node, feeds: list[Feed] | None) -> FeedSelector:
    values = _mapping(f, node, "feeds", SELECTOR_KEYS)
    if values is None:
        return FeedSelector()
    ids = _idents(f, values["ids"], "feed id") if "ids" in values else []
    tags = _idents(f, values["tags"], "tag") if "tags" in values else []
    if feeds is not None:  # a tag no feed has is a warning (see tag_warnings), not an error
        known_ids = sorted({feed.id for feed in feeds})
        for item, name in ids:
            if name not in known_ids:
                f.error(item, f"unknown feed id '{name}'; known: {_names(known_ids)}")
    return FeedSelector(ids=tuple(i for _, i in ids), tags=tuple(t for _, t in tags))


def _names(names: Sequence[str], limit: int = 20) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def _outcomes(f: _File, node: yaml.Node) -> tuple[list[Outcome], set[str] | None]:
    """The outcomes, and their ids (None when some id could not be read)."""
    outcomes: list[Outcome] = []
    first: dict[str, int] = {}
    complete = True
    for item in _list(f, node, "outcomes"):
        values = _mapping(f, item, "an outcome", OUTCOME_KEYS, ("id", "label", "rule"))
        if values is None:
            complete = False
            continue
        out_id = _ident(f, values["id"], "outcome id") if "id" in values else None
        if out_id is None:
            complete = False
        elif out_id == "none":
            f.error(values["id"], "outcome id 'none' is reserved (examples use it for no match)")
        elif out_id in first:
            f.error(
                values["id"], f"duplicate outcome id '{out_id}' (first at line {first[out_id]})"
            )
        else:
            first[out_id] = _line(values["id"])
        label = _str(f, values["label"], "label") if "label" in values else None
        corroborate = DEFAULT_CORROBORATE
        if "corroborate" in values:
            corroborate = _int(f, values["corroborate"], "corroborate", 1, 1000) or corroborate
        rule = _rule(f, values["rule"]) if "rule" in values else None
        unless = _unless(f, values["unless"]) if "unless" in values else ()
        if out_id is not None and label is not None and rule is not None and unless is not None:
            outcomes.append(Outcome(out_id, label, rule, corroborate, unless))
    return outcomes, set(first) if complete else None


def _examples(f: _File, node: yaml.Node, outcome_ids: set[str] | None) -> list[Example]:
    examples: list[Example] = []
    for item in _list(f, node, "examples", empty=True):
        values = _mapping(f, item, "an example", EXAMPLE_KEYS, ("text", "expect"))
        if values is None:
            continue
        text = _str(f, values["text"], "example text") if "text" in values else None
        expect = _str(f, values["expect"], "expect") if "expect" in values else None
        body = _str(f, values["body"], "example body", empty=True) if "body" in values else ""
        if expect is not None and outcome_ids is not None:
            expect = expect.strip()
            if expect != "none" and expect not in outcome_ids:
                allowed = ", ".join([*sorted(outcome_ids), "none"])
                f.error(
                    values["expect"], f"expect '{expect}' names no outcome; use one of: {allowed}"
                )
        if text is not None and expect is not None:
            examples.append(Example(text, expect, body or "", line=_line(item)))
    return examples


# ---------------------------------------------------------------- rules


def _rule(f: _File, node: yaml.Node) -> Rule | None:
    values = _mapping(f, node, "a rule", RULE_KEYS)
    if values is None:
        return None
    scope = Scope.ENTRY
    if "scope" in values:
        text = _str(f, values["scope"], "scope")
        if text is not None and text not in (Scope.ENTRY, Scope.SENTENCE):
            f.error(values["scope"], f"scope '{text}' must be 'entry' or 'sentence'")
        elif text is not None:
            scope = Scope(text)
    if all(key not in values for key in Operator if key is not Operator.NONE):
        f.error(node, "a rule needs 'all', 'any' or 'near' ('none' alone would match everything)")
        return None
    tree = _operators(f, values, depth=0)
    return Rule(tree, scope) if tree is not None else None


def _operators(f: _File, values: dict[str, yaml.Node], depth: int) -> Node | None:
    """The operators of one mapping, ANDed."""
    nodes = [_operator(f, key, node, depth) for key, node in values.items() if key != "scope"]
    if any(n is None for n in nodes) or not nodes:
        return None
    done = [n for n in nodes if n is not None]
    return done[0] if len(done) == 1 else AllNode(tuple(done))


def _operator(f: _File, key: str, node: yaml.Node, depth: int) -> Node | None:
    operator = Operator(key)  # the keys were checked against the operators' names
    if operator is Operator.NEAR:
        return _near(f, node)
    children = [_item(f, item, depth + 1) for item in _list(f, node, f"'{key}'")]
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


def _item(f: _File, node: yaml.Node, depth: int) -> Node | None:
    f.items += 1
    if f.items > MAX_RULE_ITEMS:
        raise _TooBig
    if depth > MAX_RULE_DEPTH:
        f.error(node, f"rule is nested more than {MAX_RULE_DEPTH} levels deep")
        return None
    if isinstance(node, yaml.ScalarNode):
        terms = _terms(f, node)
        if terms is None:
            return None
        return TermNode(terms[0]) if len(terms) == 1 else AnyNode(tuple(map(TermNode, terms)))
    if isinstance(node, yaml.MappingNode):
        values = _mapping(f, node, "a nested rule", NESTED_RULE_KEYS)
        if values == {}:
            f.error(node, "a nested rule needs one of: all, any, none, near")
        return _operators(f, values, depth) if values else None
    f.error(node, "a rule item must be a term or a mapping with all, any, none or near")
    return None


def _term(f: _File, node: yaml.Node) -> Term | None:
    raw = _str(f, node, "a term")
    if raw is None:
        return None
    try:
        return replace(compile_term(raw), where=f.where(node))
    except ValueError as exc:
        f.error(node, str(exc))
        return None


def _terms(f: _File, node: yaml.Node) -> list[Term] | None:
    """A term, or every term of a vocabulary reference (`@FILE.NAME`, `title:@FILE.NAME`)."""
    raw = _str(f, node, "a term")
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
        raise _TooBig
    terms: list[Term] = []
    for item, where in raws:
        try:
            terms.append(replace(compile_term(prefix + item), where=where))
        except ValueError as exc:
            f.error(node, f"{raw}: {exc}")
    return terms if len(terms) == len(raws) else None


def _near(f: _File, node: yaml.Node) -> NearNode | None:
    values = _mapping(f, node, "'near'", NEAR_KEYS, NEAR_REQUIRED)
    if values is None or any(key not in values for key in NEAR_REQUIRED):
        return None
    items = _list(f, values["terms"], "'near' terms")
    if len(items) == 1:
        f.error(values["terms"], "'near' needs at least two terms")
    groups = [_near_group(f, item) for item in items]
    within = _int(f, values["within"], "'near' within", 0, 1000)
    order = _order(f, values["order"]) if "order" in values else Order.ANY
    if len(items) < 2 or within is None or order is None or any(g is None for g in groups):
        return None
    return NearNode(tuple(tuple(g) for g in groups if g is not None), within, order)


def _near_group(f: _File, node: yaml.Node) -> list[Term] | None:
    """One element of 'near' terms: a term, a vocabulary reference or a list of either."""
    if isinstance(node, yaml.ScalarNode):
        return _terms(f, node)
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


def _order(f: _File, node: yaml.Node) -> Order | None:
    text = _str(f, node, "'near' order")
    if text is not None and text not in tuple(Order):
        allowed = ", ".join(f"'{o}'" for o in Order)
        f.error(node, f"'near' order '{text}' must be one of {allowed}")
        return None
    return Order(text) if text is not None else None


def _unless(f: _File, node: yaml.Node) -> tuple[Term, ...] | None:
    """An outcome's `unless`: terms and vocabulary references that cancel a match."""
    items = _list(f, node, "'unless'")
    found = [_terms(f, item) if isinstance(item, yaml.ScalarNode) else None for item in items]
    for item in items:
        if not isinstance(item, yaml.ScalarNode):
            f.error(item, "'unless' items must be terms or vocabulary references")
    if not items or any(terms is None for terms in found):
        return None
    return tuple(dict.fromkeys(term for terms in found if terms is not None for term in terms))


# ---------------------------------------------------------------- vocabularies


def _hash(data: bytes, used: set[str], vocab: _Vocab) -> str:
    """An indicator's definition hash: its file's, and the vocabulary files it uses."""
    own = hashlib.sha256(data).hexdigest()
    if not used:
        return own
    return digest_of(own, *(f"{stem}:{vocab.hashes[stem]}" for stem in sorted(used)))


@dataclass
class _Vocab:
    """indicators/vocab/*.yaml: each maps names to term lists; resolved once, memoized."""

    directory: Path
    files: dict[str, _File] = field(default_factory=dict)
    lists: dict[str, dict[str, list[yaml.Node]]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    done: dict[tuple[str, str], tuple[tuple[tuple[str, str], ...], frozenset[str]] | None] = field(
        default_factory=dict
    )

    def lookup(
        self, f: _File, node: yaml.Node, ref: str
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
        """The raw terms `ref` expands to and the files they come from; None after a problem."""
        target = self._target(f, node, ref)
        return self._entry(*target, ()) if target is not None else None

    def _target(self, f: _File, node: yaml.Node, ref: str) -> tuple[str, str] | None:
        found = _REF.match(ref)
        if found is None:
            f.error(node, f"vocabulary reference {ref!r} must look like @FILE.NAME (@actors.china)")
            return None
        stem, name = found.groups()
        if stem in self.files and stem not in self.lists:
            return None  # the file itself has problems, reported there
        if stem not in self.lists:
            f.error(
                node,
                f"unknown vocabulary file '{stem}' in {ref!r}: no {self.directory / stem}.yaml;"
                f" known: {_names(sorted(self.lists))}",
            )
            return None
        if name not in self.lists[stem]:
            f.error(
                node,
                f"unknown name '{name}' in {ref!r}: not in {self.files[stem].path};"
                f" known: {_names(sorted(self.lists[stem]))}",
            )
            return None
        return stem, name

    def _entry(
        self, stem: str, name: str, stack: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
        key = (stem, name)
        if key in self.done:
            return self.done[key]
        f = self.files[stem]
        raws: list[tuple[str, str]] = []
        used, ok = {stem}, bool(self.lists[stem][name])  # an empty list is reported already
        for item in self.lists[stem][name]:
            raw = _str(f, item, "a term") if isinstance(item, yaml.ScalarNode) else None
            if raw is None:
                if not isinstance(item, yaml.ScalarNode):
                    f.error(item, "a vocabulary list holds terms, not lists or mappings")
                ok = False
                continue
            found = self._item(f, item, raw.strip(), (*stack, key))
            if found is None:
                ok = False
                continue
            raws += found[0]
            used |= found[1]
        unique: dict[str, str] = {}  # raw term -> where it was first written
        for raw, where in raws:
            unique.setdefault(raw, where)
        result = (tuple(unique.items()), frozenset(used)) if ok else None
        self.done[key] = result
        return result

    def _item(
        self, f: _File, node: yaml.Node, raw: str, stack: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
        if not raw.startswith("@"):
            try:
                compile_term(raw)
            except ValueError as exc:
                f.error(node, str(exc))
                return None
            return ((raw, f.where(node)),), frozenset()
        target = self._target(f, node, raw)
        if target is None:
            return None
        if target in stack:
            chain = " -> ".join(f"@{s}.{n}" for s, n in (*stack[stack.index(target) :], target))
            f.error(node, f"vocabulary cycle: {chain}")
            return None
        if len(stack) >= MAX_RULE_DEPTH:
            f.error(node, f"vocabulary references nest more than {MAX_RULE_DEPTH} deep")
            return None
        return self._entry(*target, stack)


def _load_vocab(directory: Path, problems: list[str]) -> _Vocab:
    """Every vocabulary file, each entry checked (unknown references, cycles, bad terms)."""
    vocab = _Vocab(directory)
    if not directory.is_dir():
        return vocab
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in paths:
        f = vocab.files[path.stem] = _File(str(path))
        root, data = _read_yaml(path, f)
        if root is None:
            continue
        if not _IDENT.match(path.stem) or "." in path.stem:
            f.error(None, f"vocabulary file name '{path.stem}' must be a slug without '.'")
            continue
        if not isinstance(root, yaml.MappingNode):
            f.error(root, "a vocabulary file must map names to lists of terms")
            continue
        entries: dict[str, list[yaml.Node]] = {}
        for key_node, value_node in root.value:
            name = _ident(f, key_node, "vocabulary name")
            if name is None:
                continue
            if name in entries:
                f.error(key_node, f"duplicate vocabulary name '{name}'")
                continue
            entries[name] = _list(f, value_node, f"vocabulary '{name}'")
        vocab.lists[path.stem] = entries
        vocab.hashes[path.stem] = hashlib.sha256(data).hexdigest()
    for stem, entries in vocab.lists.items():
        for name in entries:
            vocab._entry(stem, name, ())
    for f in vocab.files.values():
        problems.extend(f.problems)
    return vocab
