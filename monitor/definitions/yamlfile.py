"""Reading one YAML file with PyYAML's node API, so that every key and value keeps its line:
the file's problems as `file:line: message`, and helpers that read a node or record a problem."""

from __future__ import annotations

import difflib
import errno
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

import regex
import yaml

from monitor.domain import parse_duration, without_controls

MAX_FILE_BYTES = 1_000_000
MAX_RULE_ITEMS = 10_000  # per file, after aliases are expanded
MAX_RULE_DEPTH = 32
IDENT = regex.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_YAML_INT = "tag:yaml.org,2002:int"
_YAML_NULL = "tag:yaml.org,2002:null"
_YAML_MERGE = "tag:yaml.org,2002:merge"
_MERGE = (
    "a YAML merge key ('<<: *name') is not read: write the keys out here (an alias of a whole "
    "value, '*name', is read; terms are shared through vocabularies, '@FILE.NAME')"
)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_FAST = getattr(yaml, "CSafeLoader", None)  # None where PyYAML was built without libyaml


class Vocabulary(Protocol):
    """What `@FILE.NAME` references resolve against (`vocab.Vocab`)."""

    def lookup(
        self, f: File, node: yaml.Node, ref: str
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None: ...


class TooBig(Exception):
    """A file expands (through aliases) to more than MAX_RULE_ITEMS rule items."""


@dataclass
class File:
    """One YAML file being read: where problems go."""

    path: str
    problems: list[str] = field(default_factory=list)
    items: int = 0
    vocab: Vocabulary | None = None  # what `@FILE.NAME` references resolve against
    used: set[str] = field(default_factory=set)  # vocabulary files the file's terms came from
    check_regexes: bool = True  # compile each regex term to check it (`compile_term`)
    term_lists: bool = False  # a vocabulary file: each top-level key takes a list of terms

    def where(self, node: yaml.Node) -> str:
        return f"{self.path}:{line_of(node)}"

    def error(self, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.path}:{line}: {message}")


def yaml_paths(directory: Path) -> list[Path]:
    """Every `*.yaml` and `*.yml` entry of a directory, sorted, whatever it is: one that is not a
    file it can read (a directory, a link to nothing or to itself) is a problem `read_yaml`
    reports, not an indicator dropped without a word. Emacs's locks (`.#name.yaml`, a link to
    nothing while a buffer is edited) are not definitions."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and not p.name.startswith(".#")
    )


def read_yaml(path: Path, f: File) -> tuple[yaml.Node | None, bytes]:
    """The root node of a YAML file (None after recording a problem) and the file's bytes."""
    data = _read(path, f)
    if data is None:
        return None, b""
    if len(data) > MAX_FILE_BYTES:  # it grew while read
        f.error(None, f"file is too large (over {MAX_FILE_BYTES} bytes, the limit)")
        return None, b""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = f"not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        f.problems.append(f"{f.path}:{line}: {bad}")
        return None, data
    root = _compose(text, f)
    if root is None and not f.problems:
        f.error(None, "file is empty")
    return root, data


def _read(path: Path, f: File) -> bytes | None:
    """At most one byte more than MAX_FILE_BYTES of a regular file (a large one is not read into
    memory whole); None after recording a problem. Opened without blocking, so a named pipe
    waits for no writer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        f.error(None, _unreadable(path, exc))
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            f.error(None, "cannot read file: a directory, not a file")
        elif not stat.S_ISREG(info.st_mode):
            f.error(None, "cannot read file: not a regular file (a pipe, socket or device)")
        elif info.st_size > MAX_FILE_BYTES:
            f.error(
                None, f"file is too large ({info.st_size} bytes; the limit is {MAX_FILE_BYTES})"
            )
        else:
            with os.fdopen(os.dup(fd), "rb") as file:
                return file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        f.error(None, f"cannot read file: {exc.strerror or exc}")
    finally:
        os.close(fd)
    return None


def _unreadable(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "cannot read file: a symbolic link that loops"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"cannot read file: a symbolic link to {os.readlink(path)}, which does not exist"
    return f"cannot read file: {exc.strerror or exc}"


def _compose(text: str, f: File) -> yaml.Node | None:
    """The root node, composed by libyaml when PyYAML has it (about 14 times as fast, which every
    command that loads the definitions waits for); a file libyaml refuses is composed again in
    Python, whose messages `_advice` knows and whose marks point where the author must look."""
    if _FAST is not None:
        try:
            return yaml.compose(text, Loader=_FAST)
        except yaml.YAMLError:
            pass
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        problem = str(exc.problem or exc.context)
        mark = exc.problem_mark or exc.context_mark
        if problem.startswith("could not find expected ':'") and exc.context_mark is not None:
            mark = exc.context_mark  # the key without its ':', not the line after it
        line = mark.line + 1 if mark is not None else 1
        advice = _advice(problem, mark.column + 1 if mark is not None else None)
        if problem.startswith("mapping values are not allowed") and mark is not None:
            advice = (
                _under_a_value(text, mark.line) or _under_a_bare_item(text, mark.line) or advice
            )
        if problem.startswith("expected <block end>") and mark is not None:
            cut, cut_advice = _list_cut_by_a_key(text, mark.line)
            line = line if cut is None else cut + 1  # the key that ended the list
            advice = _lined_up_with_a_dash(text, mark.line) or cut_advice or advice
            advice = _terms_without_brackets(text, mark.line, mark.column) or advice
            advice = _under_a_bare_item(text, mark.line) or advice
        if problem.startswith("found character '@'") and mark is not None:
            advice = _unquoted_reference(text, mark.line, mark.column, f.term_lists) or advice
        f.problems.append(f"{f.path}:{line}: invalid YAML: {problem}{advice}")
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


# What to do about PyYAML's complaints an indicator's author meets: (the start of its message,
# the advice after it). Its own words name the YAML grammar, not the mistake.
_YAML_ADVICE = (
    (
        "found character '\\t'",
        "a tab{at}: YAML indents with spaces only; replace the tab with spaces",
    ),
    (
        "found character '@'",
        'a term that starts with @ (a vocabulary reference) must be quoted: "@actors.china"',
    ),
    ("found character '`'", "a value that starts with ` must be quoted"),
    (
        "found undefined alias",
        'YAML reads a value that starts with * as an alias: quote it ("*word"); a prefix is '
        "written word*",
    ),
    (
        "found unknown escape character",
        "in double quotes a backslash starts an escape: write a regex in single quotes "
        "('/\\bvisa\\b/') or double each backslash (\"/\\\\bvisa\\\\b/\")",
    ),
    (
        "mapping values are not allowed here",
        "a ': ' inside a value (Title: subtitle) or a key indented too far: quote the value, or "
        "line the key up with the keys above it",
    ),
    ("expected <block end>", "check this line's indentation against the lines above it"),
    ("did not find expected key", "check this line's indentation against the lines above it"),
    ("did not find expected '-'", "check this line's indentation against the lines above it"),
    ("could not find expected ':'", "a key without its ':' (write key: value)"),
)


def _advice(problem: str, column: int | None) -> str:
    """`; what to do` after a PyYAML problem an author can fix, else nothing."""
    for start, advice in _YAML_ADVICE:
        if problem.startswith(start):
            at = f" at column {column}" if column is not None else ""
            return "; " + advice.format(at=at)
    return ""


# `key: value` (or `- key: value`) with its value on its line: nothing can be nested under it
_KEY_WITH_VALUE = regex.compile(r"(\s*(?:- +)?)[^\s#:'\"][^:#]*:[ \t]+[^\s#|>&!]")


def _under_a_value(text: str, index: int) -> str:
    """The advice for a key indented deeper than the `key: value` line above it (a rule's
    `scope` lined up with `rule:`, a `label` indented past its `- id:`): which line, and
    that one of the two is a level off; "" when the line above is no such line."""
    lines = text.splitlines()
    here = lines[index] if index < len(lines) else ""
    for number in range(index - 1, -1, -1):
        above = lines[number]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        found = _KEY_WITH_VALUE.match(above)
        indent = len(here) - len(here.lstrip(" "))
        if found is None or indent <= len(found.group(1)):
            return ""
        return (
            f"; this line is indented deeper than line {number + 1} ({above.strip()}), which"
            " has its value already, so nothing can be nested under it: one of the two lines is"
            " indented a level off (line it up with the keys it belongs with); if it goes on"
            " with that value, quote the value"
        )
    return ""


def _under_a_bare_item(text: str, index: int) -> str:
    """The advice for a key under a list item that is a value alone (an example written
    `- "China and Korea agree"` with `expect:` below it): the item's first key goes on its
    '-' line; "" when the line above is no such item."""
    lines = text.splitlines()
    here = lines[index] if index < len(lines) else ""
    above = [n for n in range(index - 1, -1, -1) if lines[n].strip()]
    above = [n for n in above if not lines[n].lstrip().startswith("#")]
    item = regex.match(r"( *- +)(\S.*?)\s*$", lines[above[0]]) if above else None
    keyed = item is not None and regex.match(r"[^'\"\[{]*?:(\s|$)", item.group(2))
    if item is None or keyed or len(here) - len(here.lstrip(" ")) != len(item.group(1)):
        return ""
    return (
        f"; line {above[0] + 1} is a list item that is a value alone, so no key can follow"
        " it: the item's first key goes on its '-' line, as in an example's"
        f" - text: {item.group(2)}, its other keys lined up below it"
    )


def _terms_without_brackets(text: str, index: int, column: int) -> str:
    """The advice for terms after a key with commas and no brackets, the first quoted
    (`unless: "@cues.talks", urge`: YAML ends the value at the quote, then finds a ','): the
    list to write; "" when the line is no such line."""
    lines = text.splitlines()
    here = lines[index] if index < len(lines) else ""
    found = regex.match(r"( *(?:- +)?)([^\s#:'\"][^:#]*):[ \t]+(.+?)\s*$", here)
    if column >= len(here) or here[column] != "," or found is None:
        return ""
    return (
        f"; several terms after '{found.group(2)}:' are a list, written in brackets:"
        f" {found.group(2)}: [{found.group(3)}]"
    )


# The keys whose value is a list of terms, where one reference alone is no list either
TERM_LIST_KEYS = ("all", "any", "none", "unless", "terms")


def _unquoted_reference(text: str, index: int, column: int, term_lists: bool) -> str:
    """The advice for a vocabulary reference left unquoted, with the reference as written; as
    the value of a key that takes a list of terms (`unless: @cues.talks`, or a list's name in a
    vocabulary file when `term_lists`), the list written whole, quoted and in brackets (quoted
    alone, it would be one term where a list goes: a second problem)."""
    lines = text.splitlines()
    here = lines[index] if index < len(lines) else ""
    found = regex.match(r"@[^\s,\[\]{}#'\"]+", here[column:])
    if found is None:
        return ""
    ref = found.group()
    quote = f'; a term that starts with @ (a vocabulary reference) must be quoted: "{ref}"'
    key = regex.fullmatch(r"( *(?:- +)?)([A-Za-z_][\w-]*):[ \t]+", here[:column])
    if key is None or not (key.group(2) in TERM_LIST_KEYS or (term_lists and not key.group(1))):
        return quote
    value = regex.split(r"\s+#", here[column:], maxsplit=1)[0].strip()
    items = [item.strip() for item in value.split(",")]
    shown = ", ".join(f'"{item}"' if item[:1] in "@*" else item for item in items if item)
    return f"{quote}, and '{key.group(2)}' takes a list: write {key.group(2)}: [{shown}]"


def _lined_up_with_a_dash(text: str, index: int) -> str:
    """The advice for a key lined up with the '-' of a list item above it (an outcome's
    `unless:` two spaces in, under `  - id: …`), where only another '- ' item can start: which
    line, and how far in the item's own keys are; "" when the line above is no such item."""
    lines = text.splitlines()
    here = lines[index] if index < len(lines) else ""
    indent = len(here) - len(here.lstrip(" "))
    for number in range(index - 1, -1, -1):
        above = lines[number]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        if len(above) - len(above.lstrip(" ")) > indent:
            continue
        item = regex.match(r"( *)- +", above)
        if item is None or len(item.group(1)) != indent:
            return ""
        return (
            f"; this line is lined up with the '-' of line {number + 1} ({above.strip()}),"
            " where only another '- ' item can start: a key of that item is indented"
            f" {item.end()} spaces, as the keys below its '-' are; a key of what holds the list,"
            " fewer"
        )
    return ""


def _list_cut_by_a_key(text: str, index: int) -> tuple[int | None, str]:
    """A list item after a `key: value` line further left than the list (an `unless:` at column
    0 between two outcomes), which ended the list: the index of that line, and the advice for
    it; (None, "") when the lines are not so."""
    lines = text.splitlines()
    here = lines[index] if index < len(lines) else ""
    indent = len(here) - len(here.lstrip(" "))
    numbers = [n for n in range(index - 1, -1, -1) if lines[n].strip()]
    numbers = [n for n in numbers if not lines[n].lstrip().startswith("#")]
    if not here.lstrip().startswith("- ") or not numbers:
        return None, ""
    cut = numbers[0]
    key = _KEY_WITH_VALUE.match(lines[cut])
    if key is None or len(key.group(1)) >= indent:
        return None, ""
    for number in numbers[1:]:
        above = lines[number]
        item = regex.match(r"( *)- +", above)
        if item is not None and len(item.group(1)) == indent:
            return cut, (
                f"; this line starts further left than the list around it (line {number + 1},"
                f" {above.strip()}; line {index + 1}, {here.strip()}), which ends that list"
                f" here: indent it {item.end()} spaces, as the keys of the item it belongs to"
            )
    return None, ""


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def mapping(
    f: File,
    node: yaml.Node,
    what: str,
    allowed: Sequence[str],
    required: Sequence[str] = (),
    elsewhere: Mapping[str, str] = MappingProxyType({}),
    means: Mapping[str, str] = MappingProxyType({}),
) -> dict[str, yaml.Node] | None:
    """A mapping node's values by key, after reporting unknown, duplicate and missing keys.

    `elsewhere` says where a key of another level belongs (`unless` in a rule: the outcome's),
    so a line indented one level off is told as such, not as a key that does not exist.
    `means` names the key an unknown one stands for though spelled unlike it (an example's
    `title` for its `text`), as a typo's is named."""
    if not isinstance(node, yaml.MappingNode):
        f.error(node, f"{what} must be a mapping with keys: {', '.join(allowed)}")
        return None
    values: dict[str, yaml.Node] = {}
    lines: dict[str, int] = {}
    meant: set[str] = set()  # the keys the unknown ones are typos of
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            f.error(key_node, f"{what} has a key that is not a name")
            continue
        key = str(key_node.value)
        if key_node.tag == _YAML_MERGE:
            f.error(key_node, _MERGE)
            return None  # its keys are not read: no "missing key" for the ones it would bring
        if key in lines:
            f.error(key_node, f"duplicate key '{key}' in {what} (first at line {lines[key]})")
            continue
        lines[key] = line_of(key_node)
        if key not in allowed:
            hint = f"; '{key}' belongs to {elsewhere[key]}" if key in elsewhere else ""
            close = [] if hint else difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
            close = [means[key]] if key in means and not hint else close
            if close:  # a typo: its missing required key is not a problem of its own
                hint, meant = f"; did you mean '{close[0]}'?", {*meant, close[0]}
            f.error(key_node, f"unknown key '{key}' in {what}; allowed: {', '.join(allowed)}{hint}")
        else:
            values[key] = value_node
    for key in required:
        if key not in lines and key not in meant:
            f.error(node, f"{what} is missing required key '{key}'")
    return values


def string(f: File, node: yaml.Node, what: str, *, empty: bool = False) -> str | None:
    one = isinstance(node, yaml.SequenceNode) and len(node.value) == 1
    if one and isinstance(node.value[0], yaml.ScalarNode):  # `expect: [eased]`: in brackets
        f.error(
            node, f"{what} must be text, not a list: write {flow_list([node.value[0].value])[1:-1]}"
        )
        return None
    if not isinstance(node, yaml.ScalarNode) or node.tag == _YAML_NULL:
        f.error(node, f"{what} must be text")
        return None
    value = str(node.value)
    if not empty and not value.strip():
        f.error(node, f"{what} must not be empty")
        return None
    return value


def shown(f: File, node: yaml.Node, what: str, *, empty: bool = False) -> str | None:
    """Text people are shown (a title, a group, a label): `string`, without the control and
    bidi characters parse drops from a feed's text (an override or isolate written into a
    title would turn the rest of a digest or terminal line around)."""
    value = string(f, node, what, empty=empty)
    return None if value is None else without_controls(value)


def ident(f: File, node: yaml.Node, what: str) -> str | None:
    value = string(f, node, what)
    if value is not None and not IDENT.match(value):
        f.error(node, f"{what} {value!r} must be a slug of letters, digits, '-', '_' or '.'")
        return None
    return value


def integer(f: File, node: yaml.Node, what: str, low: int, high: int) -> int | None:
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


def duration(f: File, node: yaml.Node, what: str, *, off: bool = False) -> timedelta | None:
    """A duration longer than zero; with `off`, `0` too (turns something off)."""
    value = string(f, node, what)
    if value is None:
        return None
    if off and value.strip() == "0":
        return timedelta(0)
    try:
        result = parse_duration(value)
    except (ValueError, OverflowError) as exc:
        f.error(node, f"{what}: {exc}")
        return None
    if result <= timedelta(0) and not (off and result == timedelta(0)):
        f.error(node, f"{what} must be longer than zero" + (" (or 0: off)" if off else ""))
        return None
    return result


_PLAIN = regex.compile(r"[^\s@*&!|>'\"%`#,\[\]{}:?-][^,\[\]{}#:]*(?<!\s)")


def flow_list(terms: Sequence[str]) -> str:
    """Terms as a YAML flow list an author can paste, `[summit, 峰会]`, each quoted where YAML
    needs it (`['@actors.china', 'a, b']`)."""
    shown = [t if _PLAIN.fullmatch(t) else "'" + t.replace("'", "''") + "'" for t in terms]
    return f"[{', '.join(shown)}]"


def sequence(f: File, node: yaml.Node, what: str, *, empty: bool = False) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        write = ""
        if isinstance(node, yaml.ScalarNode) and node.tag != _YAML_NULL and node.value:
            write = f": write {flow_list(_items_written(node))}"
        f.error(node, f"{what} must be a list{write}")
        return []
    if not node.value and not empty:
        f.error(node, f"{what} must not be empty")
    return list(node.value)


def _items_written(node: yaml.ScalarNode) -> list[str]:
    """The items of a list written without its brackets: a plain `a, b` is two (YAML reads it
    as one text, 'a, b', which as one term would never match); a quoted one is one."""
    text = str(node.value)
    parts = [part.strip() for part in text.split(",")]
    return parts if not node.style and len(parts) > 1 and all(parts) else [text]


def idents(f: File, node: yaml.Node, what: str) -> list[tuple[yaml.Node, str]]:
    """A list of slugs; bad items are reported and skipped."""
    out: list[tuple[yaml.Node, str]] = []
    for item in sequence(f, node, f"{what}s", empty=True):
        value = ident(f, item, what)
        if value is not None:
            out.append((item, value))
    return out


def name_list(names: Sequence[str], limit: int = 20) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")
