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
    Outcome,
    Rule,
    Scope,
    Term,
    TermKind,
    TermNode,
    digest_of,
    normalize,
    parse_duration,
)
from monitor.errors import DefinitionError

__all__ = ["compile_term", "load_definitions", "tag_warnings", "validate"]

MAX_FILE_BYTES = 1_000_000
MAX_RULE_ITEMS = 10_000  # per file, after aliases are expanded
MAX_RULE_DEPTH = 32
_IDENT = regex.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_YAML_INT = "tag:yaml.org,2002:int"
_YAML_NULL = "tag:yaml.org,2002:null"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

INDICATOR_KEYS = ("id", "group", "title", "question", "feeds", "window", "outcomes", "examples")
INDICATOR_REQUIRED = ("id", "group", "title", "question", "outcomes")
OUTCOME_KEYS = ("id", "label", "corroborate", "rule")
EXAMPLE_KEYS = ("text", "expect", "body")
SELECTOR_KEYS = ("ids", "tags")
RULE_KEYS = ("scope", "all", "any", "none", "near")
NESTED_RULE_KEYS = ("all", "any", "none", "near")
NEAR_KEYS = ("terms", "within")
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

    def error(self, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.path}:{line}: {message}")


# ---------------------------------------------------------------- public API


def load_definitions(indicators_dir: Path, feeds_file: Path) -> Definitions:
    """Read and validate every definition; raise DefinitionError listing every problem."""
    problems: list[str] = []
    feeds, feeds_hash = _load_feeds(feeds_file, problems)
    known = None if problems else feeds
    indicators = _load_indicators(indicators_dir, known, problems)
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


def compile_term(raw: str) -> Term:
    """A term as written (`phrase`, `prefix*`, `/regex/`, `title:...`) -> Term.

    Raises ValueError with a message naming what is wrong.
    """
    text = raw.strip()
    title_only = text.startswith("title:")
    if title_only:
        text = text[len("title:") :].strip()
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        source = text[1:-1]
        _check_regex(source, raw)
        return Term(raw=raw, kind=TermKind.REGEX, text=source, title_only=title_only)
    kind = TermKind.PHRASE
    if text.endswith("*"):
        kind, text = TermKind.PREFIX, text[:-1]
    phrase = " ".join(normalize(text).split())
    if not phrase:
        raise ValueError(f"empty term {raw!r}")
    return Term(raw=raw, kind=kind, text=phrase, title_only=title_only)


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
    directory: Path, feeds: list[Feed] | None, problems: list[str]
) -> list[Indicator]:
    if not directory.is_dir():
        problems.append(f"{directory}:1: not a directory")
        return []
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    seen: dict[str, str] = {}
    indicators: list[Indicator] = []
    for path in paths:
        f = _File(str(path))
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
            indicators.append(replace(indicator, hash=hashlib.sha256(data).hexdigest()))
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
        if out_id is not None and label is not None and rule is not None:
            outcomes.append(Outcome(out_id, label, rule, corroborate))
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
    if not any(key in values for key in ("all", "any", "near")):
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
    if key == "near":
        return _near(f, node)
    children = [_item(f, item, depth + 1) for item in _list(f, node, f"'{key}'")]
    if not children or any(c is None for c in children):
        return None
    done = tuple(c for c in children if c is not None)
    return AllNode(done) if key == "all" else AnyNode(done) if key == "any" else NoneNode(done)


def _item(f: _File, node: yaml.Node, depth: int) -> Node | None:
    f.items += 1
    if f.items > MAX_RULE_ITEMS:
        raise _TooBig
    if depth > MAX_RULE_DEPTH:
        f.error(node, f"rule is nested more than {MAX_RULE_DEPTH} levels deep")
        return None
    if isinstance(node, yaml.ScalarNode):
        term = _term(f, node)
        return TermNode(term) if term is not None else None
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
        return compile_term(raw)
    except ValueError as exc:
        f.error(node, str(exc))
        return None


def _near(f: _File, node: yaml.Node) -> NearNode | None:
    values = _mapping(f, node, "'near'", NEAR_KEYS, NEAR_KEYS)
    if values is None or len(values) < len(NEAR_KEYS):
        return None
    items = _list(f, values["terms"], "'near' terms")
    if len(items) == 1:
        f.error(values["terms"], "'near' needs at least two terms")
    terms = [_term(f, item) if isinstance(item, yaml.ScalarNode) else None for item in items]
    for item in items:
        if not isinstance(item, yaml.ScalarNode):
            f.error(item, "'near' terms must be terms, not lists or mappings")
    within = _int(f, values["within"], "'near' within", 0, 1000)
    if len(items) < 2 or within is None or any(t is None for t in terms):
        return None
    return NearNode(tuple(t for t in terms if t is not None), within)
