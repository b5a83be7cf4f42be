"""indicators/*.yaml + config/feeds.yaml -> frozen domain objects, with `file:line: message` errors.

The only package that imports yaml. Files are read with PyYAML's node API so that every key and
value keeps its line; every problem in every file is collected before DefinitionError is raised.
No input, however broken, escapes as anything but a problem.

The package's modules, each importing only those after it: this one (the definitions and
feeds files) -> `rules` (rules and `unless`), `vocab` (vocabularies) -> `shapes` (terms
written in the wrong shape, and the shape meant) -> `terms` (one term) -> `yamlfile` (a YAML
file and its nodes).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

import yaml

from monitor.counts import count
from monitor.definitions.rules import (
    NEAR_KEYS,
    NEAR_REQUIRED,
    near_of_translations,
    read_rule,
    read_unless,
)
from monitor.definitions.shapes import (
    NESTED_RULE_KEYS,
    RULE_KEYS,
    rule_keys_without_rule,
    selector_shape,
)
from monitor.definitions.terms import compile_term
from monitor.definitions.vocab import (
    VOCAB_DIR,
    Vocab,
    definition_hash,
    load_vocab,
    written_terms,
)
from monitor.definitions.yamlfile import (
    MAX_FILE_BYTES,
    MAX_RULE_DEPTH,
    MAX_RULE_ITEMS,
    File,
    TooBig,
    duration,
    ident,
    idents,
    integer,
    line_of,
    mapping,
    name_list,
    read_yaml,
    sequence,
    shown,
    string,
    yaml_paths,
)
from monitor.domain import (
    Definitions,
    Example,
    Feed,
    FeedSelector,
    Indicator,
    Outcome,
    as_written,
    digest_of,
    meant,
)
from monitor.errors import DefinitionError
from monitor.links import without_password
from monitor.ruletree import (
    AnyNode,
    NearNode,
    Node,
    Rule,
    ScopeNode,
    Term,
    TermKind,
    TermNode,
    iter_terms,
)

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_RULE_DEPTH",
    "MAX_RULE_ITEMS",
    "NEAR_KEYS",
    "NEAR_REQUIRED",
    "NESTED_RULE_KEYS",
    "RULE_KEYS",
    "VOCAB_DIR",
    "compile_term",
    "load_definitions",
    "problem_parts",
    "shown_per_file",
    "tag_warnings",
    "validate",
    "warned",
    "warnings",
]

MIN_PREFIX_LETTERS = 4  # `monitor validate` warns for a shorter Latin prefix
SHOWN_PER_FILE = 20  # problems (and warnings) printed or logged per file; `--json` has them all
INDICATOR_KEYS = ("id", "group", "title", "question", "feeds", "window", "outcomes", "examples")
INDICATOR_REQUIRED = ("id", "group", "title", "question", "outcomes")
OUTCOME_KEYS = ("id", "label", "corroborate", "rule", "unless")
EXAMPLE_KEYS = ("text", "expect", "body")
# An example's keys written as a feed entry's parts or as the outcome: the key each stands for.
EXAMPLE_MEANS = MappingProxyType(
    dict.fromkeys(("title", "headline"), "text")
    | dict.fromkeys(("lede", "summary", "description"), "body")
    | dict.fromkeys(("outcome", "expected"), "expect")
)
SELECTOR_KEYS = ("ids", "tags")
# Keys of other levels met in an outcome or an indicator: a line indented one level off.
_IN_RULE = "the rule: indent it under the outcome's 'rule:'"
_IN_EXAMPLE = "an example: indent it under 'examples:' as '- text: …'"
OUTCOME_ELSEWHERE = MappingProxyType(
    dict.fromkeys(RULE_KEYS, _IN_RULE)
    | dict.fromkeys(
        [k for k in INDICATOR_KEYS if k not in OUTCOME_KEYS],
        "the indicator: start it at the beginning of the line, as 'outcomes:'",
    )
    | dict.fromkeys(EXAMPLE_KEYS, _IN_EXAMPLE)
)
INDICATOR_ELSEWHERE = MappingProxyType(
    dict.fromkeys(RULE_KEYS, "a rule: indent it under an outcome's 'rule:'")
    | dict.fromkeys(
        [k for k in OUTCOME_KEYS if k not in INDICATOR_KEYS],
        "an outcome: indent it under 'outcomes:'",
    )
    | dict.fromkeys(EXAMPLE_KEYS, _IN_EXAMPLE)
)
FEED_KEYS = ("id", "url", "tags", "interval", "title", "silent_after")
DEFAULT_WINDOW = timedelta(days=30)
DEFAULT_CORROBORATE = 2
# Said of an indicators folder or feeds file that is not there: most often monitor was run
# outside a watch list's folder, where the default settings (relative paths) point at nothing.
ELSEWHERE = "run monitor in a watch list's folder (monitor init DIR lays one out), or set {}"


def load_definitions(
    indicators_dir: Path, feeds_file: Path, *, check_regexes: bool = True
) -> Definitions:
    """Read and validate every definition; raise DefinitionError listing every problem.

    `check_regexes=False` (for a command that never runs a rule: `status`, `history`...)
    leaves out compiling each regex term to check it, about half the work: a regex that does
    not compile, or matches empty text, is then not a problem; every other one is."""
    problems: list[str] = []
    feeds, feeds_hash = _load_feeds(feeds_file, problems)
    known = None if problems else feeds
    vocab = load_vocab(indicators_dir / VOCAB_DIR, problems, check_regexes=check_regexes)
    indicators = _load_indicators(indicators_dir, known, vocab, problems)
    if problems:
        raise DefinitionError(problems)
    parts = [feeds_hash] + [f"{i.id}:{i.hash}" for i in sorted(indicators, key=lambda i: i.id)]
    return Definitions(
        indicators=tuple(indicators),
        feeds=tuple(feeds),
        hash=digest_of(*parts),
        vocabulary=written_terms(vocab),
    )


def validate(indicators_dir: Path, feeds_file: Path) -> list[str]:
    """Every `file:line: message` problem of the definitions; empty when they are valid."""
    try:
        load_definitions(indicators_dir, feeds_file)
    except DefinitionError as exc:
        return exc.problems
    return []


def problem_parts(problem: str) -> tuple[str, int | None, str]:
    """A `file:line: message` problem (or warning, or `file: message`) as (file, line, message);
    ("", None, problem) for a line naming no file."""
    found = re.match(r"(.+?):(?:(\d+):)? (.*)", problem, re.S)
    if found is None:
        return "", None, problem
    path, line, message = found.groups()
    return path, None if line is None else int(line), message


def shown_per_file(problems: Sequence[str], most: int = SHOWN_PER_FILE) -> list[str]:
    """The first `most` problems of each file by line (a file's own first), each file's
    followed by `file: … and N more` when it has more (a generated file can have tens of
    thousands)."""
    by_file: dict[str, list[str]] = {}
    for problem in problems:
        by_file.setdefault(problem_parts(problem)[0], []).append(problem)
    shown: list[str] = []
    for path, found in by_file.items():
        found.sort(key=lambda problem: problem_parts(problem)[1] or 0)  # by line, stable
        shown += found[:most]
        if len(found) > most:
            more = f"… and {len(found) - most} more (monitor validate --json lists every one)"
            shown.append(f"{path}: {more}" if path else more)
    return shown


def tag_warnings(definitions: Definitions) -> list[str]:
    """`file: warning:` for each tag an indicator selects that no feed has, and for an
    indicator that reads no feed at all (it stays `unknown`): a feeds file of one's own need
    not carry the shipped indicators' tags, nor hold a feed yet, so neither is an error."""
    known = sorted({tag for feed in definitions.feeds for tag in feed.tags})
    found = []
    for indicator in definitions.indicators:
        missing = [tag for tag in indicator.feeds.tags if tag not in known]
        if not missing:
            if not definitions.feeds_for(indicator):  # the feeds file holds none it selects
                found.append(f"{indicator.source}: warning: it reads no feed (the feeds file"
                             f" has {count(len(definitions.feeds), 'feed')})")  # fmt: skip
            continue
        reads = "" if definitions.feeds_for(indicator) else "; it reads no feed"
        found.append(
            f"{indicator.source}: warning: no feed has the tag"
            f"{'s' if len(missing) > 1 else ''} {', '.join(repr(t) for t in missing)}{reads}"
            f" (known tags: {name_list(known)})"
        )
    return found


def unused_terms(definitions: Definitions) -> tuple[Term, ...]:
    """The terms of vocabulary lists no indicator uses yet, each at the place it is written."""
    used = {
        term.where
        for indicator in definitions.indicators
        for outcome in indicator.outcomes
        for term in (*iter_terms(outcome.rule.node), *outcome.unless)
    }
    return tuple(t for t in definitions.vocabulary if t.where not in used)


def warned(definitions: Definitions) -> tuple[Indicator, ...]:
    """The indicators whose terms `monitor validate` warns of: every one, and the vocabulary
    terms no indicator uses yet as one more (one outcome that any of them makes), so a risky
    term in a list is warned of at its own file:line before an indicator takes it up. A used
    one is warned of through the indicators, at the same place, once."""
    unused = unused_terms(definitions)
    if not unused:
        return definitions.indicators
    rule = Rule(AnyNode(tuple(TermNode(t) for t in unused)))
    lists = Indicator("@vocabulary", "", "", "", (Outcome("any", "", rule),), source=VOCAB_DIR)
    return (*definitions.indicators, lists)


def warnings(definitions: Definitions) -> list[str]:
    """`file:line: warning:` for valid but risky terms (of `warned`): a prefix of fewer than
    MIN_PREFIX_LETTERS Latin letters matches many unrelated words (`eas*`: East, easy)."""
    found: dict[str, None] = {}
    for indicator in warned(definitions):
        for outcome in indicator.outcomes:
            for term in (*iter_terms(outcome.rule.node), *outcome.unless):
                letters = sum(ch.isalpha() for ch in term.text)
                if (
                    term.kind == TermKind.PREFIX
                    and term.text.isascii()
                    and letters < MIN_PREFIX_LETTERS
                ):
                    message = (
                        f"{term.where or indicator.source}: warning: prefix"
                        f" {as_written(term.raw)} has fewer than {MIN_PREFIX_LETTERS} letters, so"
                        " it matches many unrelated words (eas* matches East and easy); write the"
                        " words out"
                    )
                    found.setdefault(message, None)
            for near in _nears(outcome.rule.node):
                if said := near_of_translations(near):
                    where = near.terms[0][0].where or indicator.source
                    found.setdefault(f"{where}: warning: {said}", None)
    return list(found)


def _nears(node: Node) -> list[NearNode]:
    """Every `near` of a rule."""
    if isinstance(node, NearNode):
        return [node]
    if isinstance(node, TermNode):
        return []
    if isinstance(node, ScopeNode):
        return _nears(node.node)
    return [near for child in node.children for near in _nears(child)]


def _load_feeds(path: Path, problems: list[str]) -> tuple[list[Feed], str]:
    if not os.path.lexists(path):  # a link to nothing is said by read_yaml
        missing = "cannot read file: No such file or directory"
        problems.append(f"{path}:1: {missing}; {ELSEWHERE.format('MONITOR_FEEDS_FILE')}")
        return [], hashlib.sha256(b"").hexdigest()
    f = File(str(path))
    root, data = read_yaml(path, f)
    feeds: list[Feed] = []
    if root is not None:
        top = mapping(f, root, "the feeds file", ("feeds",), ("feeds",))
        items = sequence(f, top["feeds"], "feeds", empty=True) if top and "feeds" in top else []
        first: dict[str, int] = {}
        for item in items:
            feed_id, feed = _feed(f, item)  # the id, read even when the rest is wrong
            if feed_id is None:
                continue
            if feed_id in first:  # said beside the item's other problems, not hidden by them
                f.error(item, f"duplicate feed id '{feed_id}' (first at line {first[feed_id]})")
                continue
            first[feed_id] = line_of(item)
            if feed is not None:
                feeds.append(feed)
    problems.extend(f.problems)
    return feeds, hashlib.sha256(data).hexdigest()


def _feed(f: File, node: yaml.Node) -> tuple[str | None, Feed | None]:
    """The feed's id (None when it has no valid one) and the feed (None when it has a problem:
    said in `f`)."""
    values = mapping(f, node, "a feed", FEED_KEYS, ("id", "url"))
    if values is None:
        return None, None
    feed_id = ident(f, values["id"], "feed id") if "id" in values else None
    url = _url(f, values["url"]) if "url" in values else None
    tags = idents(f, values["tags"], "tag") if "tags" in values else []
    interval = duration(f, values["interval"], "interval") if "interval" in values else None
    title = shown(f, values["title"], "feed title", empty=True) if "title" in values else ""
    silent = values.get("silent_after")
    silent_after = duration(f, silent, "silent_after", off=True) if silent is not None else None
    if feed_id is None or url is None:
        return feed_id, None
    return feed_id, Feed(feed_id, url, tuple(t for _, t in tags), interval, title or "",
                         silent_after)  # fmt: skip


# What WHATWG's URL standard forbids in a host, less what splitting the URL already took out
_NOT_IN_HOSTS = frozenset("<>[]\\^|%")


def _url(f: File, node: yaml.Node) -> str | None:
    url = string(f, node, "feed url")
    if url is None:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # ValueError: out of 0-65535, or not a number
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
    except ValueError as exc:
        f.error(node, f"feed url {without_password(url)!r}: {exc}")
        return None
    hidden = next(((i, c) for i, c in enumerate(url) if not c.isprintable()), None)
    if hidden is not None and urlsplit(url).scheme in ("http", "https"):
        where = f"U+{ord(hidden[1]):04X} at character {hidden[0] + 1}"
        f.error(node, f"feed url {without_password(url)!r} holds a character that is not seen "
                      f"({where}; copied along with it?): type the URL again")  # fmt: skip
        return None
    if not ok:
        f.error(node, f"feed url {without_password(url)!r} must be an http:// or https:// URL")
        return None
    host = urlsplit(url).hostname or ""
    bad = next((c for c in host if c.isspace() or c in _NOT_IN_HOSTS), None)
    if bad is not None:  # the client would send it percent-encoded, and no name would resolve
        f.error(node, f"feed url {without_password(url)!r}: its host {host!r} holds {bad!r}, "
                      "which no host name has")  # fmt: skip
        return None
    return url


def _load_indicators(
    directory: Path, feeds: list[Feed] | None, vocab: Vocab, problems: list[str]
) -> list[Indicator]:
    if not directory.is_dir():
        there = os.path.lexists(directory)
        missing = f"no such folder; {ELSEWHERE.format('MONITOR_INDICATORS_DIR')}"
        problems.append(f"{directory}:1: {'not a directory' if there else missing}")
        return []
    paths = yaml_paths(directory)
    seen: dict[str, str] = {}
    indicators: list[Indicator] = []
    for path in paths:
        f = File(str(path), vocab=vocab, check_regexes=vocab.check_regexes)
        root, data = read_yaml(path, f)
        indicator = None
        if root is not None:
            try:
                indicator = _indicator(f, root, path.stem, feeds, seen)
            except TooBig:
                f.error(
                    root, f"rules expand to more than {MAX_RULE_ITEMS} items (through aliases?)"
                )
        if indicator is not None and not f.problems:
            indicators.append(replace(indicator, hash=definition_hash(data, f.used, vocab)))
        problems.extend(f.problems)
    return indicators


def _indicator(
    f: File, root: yaml.Node, stem: str, feeds: list[Feed] | None, seen: dict[str, str]
) -> Indicator | None:
    elsewhere = INDICATOR_ELSEWHERE | _outcome_keys_at_the_top(root)
    values = mapping(f, root, "an indicator", INDICATOR_KEYS, INDICATOR_REQUIRED, elsewhere)
    if values is None:
        return None
    ind_id = ident(f, values["id"], "id") if "id" in values else None
    if ind_id is not None:
        if ind_id != stem:
            f.error(values["id"], f"id '{ind_id}' must equal the file name's stem '{stem}'")
        if ind_id in seen:
            f.error(values["id"], f"duplicate indicator id '{ind_id}' (also in {seen[ind_id]})")
        seen.setdefault(ind_id, f.path)
    group, title, question = (
        shown(f, values[key], key) if key in values else None
        for key in ("group", "title", "question")
    )
    selector = _selector(f, values["feeds"], feeds) if "feeds" in values else FeedSelector()
    window = duration(f, values["window"], "window") if "window" in values else DEFAULT_WINDOW
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


def _outcome_keys_at_the_top(root: yaml.Node) -> dict[str, str]:
    """Where an outcome's key written at the start of the line (`unless:` at column 0, read as
    the indicator's) goes: how many spaces in, lined up with the 'rule:' of the outcome above
    it, at which line (an `unless` right below its outcome lacks only the indentation)."""
    if not isinstance(root, yaml.MappingNode):
        return {}
    pairs = [(k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)]
    outcomes = next((v for k, v in pairs if k.value == "outcomes"), None)
    items = [
        item
        for item in (outcomes.value if isinstance(outcomes, yaml.SequenceNode) else [])
        if isinstance(item, yaml.MappingNode) and item.value
    ]
    hints: dict[str, str] = {}
    for index, (key, _) in enumerate(pairs):
        if key.value not in OUTCOME_KEYS or key.value in INDICATOR_KEYS or not items:
            continue
        above = [item for item in items if item.start_mark.line < key.start_mark.line]
        outcome = above[-1] if above else items[0]
        found = {k.value: (k, v) for k, v in outcome.value if isinstance(k, yaml.ScalarNode)}
        anchor = found["rule"][0] if "rule" in found else outcome.value[0][0]
        ident_node = found.get("id", (None, None))[1]
        named = "the outcome"
        if isinstance(ident_node, yaml.ScalarNode):
            named = f"outcome '{ident_node.value}'"
        place = f"'{anchor.value}:' of {named} (line {line_of(anchor)})"
        below = above and outcome is items[-1] and index and pairs[index - 1][0].value == "outcomes"
        move = "" if below else "move it into the outcome it is for and "
        hints[key.value] = (
            "an outcome, but it starts at the beginning of the line, where the indicator's keys"
            f" do: {move}indent it {anchor.start_mark.column} spaces, lined up with the {place}"
        )
    return hints


def _selector(f: File, node: yaml.Node, feeds: list[Feed] | None) -> FeedSelector:
    shape = selector_shape(node, {feed.id for feed in feeds}) if feeds is not None else ""
    if shape:  # `feeds: [yonhap, korea]`: the names, without saying which are ids and tags
        f.error(node, f"feeds must be a mapping with keys: ids, tags: write feeds: {shape}")
        return FeedSelector()
    values = mapping(f, node, "feeds", SELECTOR_KEYS)
    if values is None:
        return FeedSelector()
    ids = idents(f, values["ids"], "feed id") if "ids" in values else []
    tags = idents(f, values["tags"], "tag") if "tags" in values else []
    if feeds is not None:  # a tag no feed has is a warning (see tag_warnings), not an error
        known_ids = sorted({feed.id for feed in feeds})
        for item, name in ids:
            if name not in known_ids:
                f.error(item, f"unknown feed id '{name}'; known: {name_list(known_ids)}")
    return FeedSelector(ids=tuple(i for _, i in ids), tags=tuple(t for _, t in tags))


def _outcomes(f: File, node: yaml.Node) -> tuple[list[Outcome], set[str] | None]:
    """The outcomes, and their ids (None when some id could not be read)."""
    outcomes: list[Outcome] = []
    first: dict[str, int] = {}
    complete = True
    examples_told = False
    for item in sequence(f, node, "outcomes"):
        if _an_example(item):  # `examples:` indented as an outcome's key: its items follow
            if not examples_told and not _holds_examples(node):
                f.error(
                    item,
                    "an example ('- text: …') among the outcomes: list the examples under"
                    " 'examples:', which starts at the beginning of the line, as 'outcomes:'",
                )
            examples_told, complete = True, False
            continue
        item, ruleless = rule_keys_without_rule(f, item)  # `all:` where `rule:` and `all:` go
        values = mapping(
            f,
            item,
            "an outcome",
            OUTCOME_KEYS,
            ("id", "label") if ruleless else ("id", "label", "rule"),
            OUTCOME_ELSEWHERE,
        )
        if values is None:
            complete = False
            continue
        out_id = ident(f, values["id"], "outcome id") if "id" in values else None
        if out_id is None:
            complete = False
        elif out_id == "none":
            f.error(values["id"], "outcome id 'none' is reserved (examples use it for no match)")
        elif out_id in first:
            f.error(
                values["id"], f"duplicate outcome id '{out_id}' (first at line {first[out_id]})"
            )
        else:
            first[out_id] = line_of(values["id"])
        label = shown(f, values["label"], "label") if "label" in values else None
        corroborate = DEFAULT_CORROBORATE
        if "corroborate" in values:
            corroborate = integer(f, values["corroborate"], "corroborate", 1, 1000) or corroborate
        rule = read_rule(f, values["rule"]) if "rule" in values else None
        unless = read_unless(f, values["unless"]) if "unless" in values else ()
        if out_id is not None and label is not None and rule is not None and unless is not None:
            outcomes.append(Outcome(out_id, label, rule, corroborate, unless))
    return outcomes, set(first) if complete else None


def _an_example(item: yaml.Node) -> bool:
    """An item of `outcomes` with an example's keys and no outcome's (`- text: …`)."""
    if not isinstance(item, yaml.MappingNode):
        return False
    keys = {k.value for k, _ in item.value if isinstance(k, yaml.ScalarNode)}
    return "text" in keys and keys <= set(EXAMPLE_KEYS)


def _holds_examples(outcomes: yaml.Node) -> bool:
    """Whether an outcome has an `examples` key (told where it belongs: its items need not be)."""
    return isinstance(outcomes, yaml.SequenceNode) and any(
        isinstance(item, yaml.MappingNode)
        and any(isinstance(k, yaml.ScalarNode) and k.value == "examples" for k, _ in item.value)
        for item in outcomes.value
    )


def _examples(f: File, node: yaml.Node, outcome_ids: set[str] | None) -> list[Example]:
    examples: list[Example] = []
    for item in sequence(f, node, "examples", empty=True):
        values = mapping(
            f, item, "an example", EXAMPLE_KEYS, ("text", "expect"), means=EXAMPLE_MEANS
        )
        if values is None:
            continue
        text = string(f, values["text"], "example text") if "text" in values else None
        expect = string(f, values["expect"], "expect") if "expect" in values else None
        body = string(f, values["body"], "example body", empty=True) if "body" in values else ""
        if expect is not None and outcome_ids is not None:
            expect = expect.strip()
            if expect != "none" and expect not in outcome_ids:
                allowed = [*sorted(outcome_ids), "none"]
                f.error(
                    values["expect"],
                    f"expect '{expect}' names no outcome; use one of: {', '.join(allowed)}"
                    + meant(expect, allowed),
                )
        if text is not None and expect is not None:
            examples.append(Example(text, expect, body or "", line=line_of(item)))
    return examples
