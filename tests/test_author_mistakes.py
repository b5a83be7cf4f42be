"""The mistakes an indicator's author makes, each a `file:line` problem that says what to do.

Every case is a real file validated as `monitor validate` does: a line of a valid indicator
changed the way a hand editing YAML changes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.definitions import load_definitions, validate, warnings
from monitor.match.regexrisk import regex_warnings

FEEDS = "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [news]}\n"
VOCAB = "china: [China, Beijing]\n"
INDICATOR = """\
id: hotline
group: Dialogue channels
title: High-level hotlines revived
question: >
  Do Seoul and Beijing revive a high-level hotline?
window: 14d
outcomes:
  - id: revived
    label: A hotline is revived
    corroborate: 2
    rule:
      scope: sentence
      all:
        - any: ["@mine.china"]
        - any: [hotline*, 'direct line']
      none: ["title:=Opinion"]
    unless: [consider*]
examples:
  - text: "China and South Korea revive defence hotline"
    expect: revived
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "indicators" / "vocab").mkdir(parents=True)
    (tmp_path / "indicators" / "vocab" / "mine.yaml").write_text(VOCAB)
    (tmp_path / "indicators" / "hotline.yaml").write_text(text)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    return validate(tmp_path / "indicators", tmp_path / "feeds.yaml")


def edited(old: str, new: str) -> str:
    assert old in INDICATOR
    return INDICATOR.replace(old, new, 1)


def test_the_indicator_as_written_is_valid(tmp_path: Path) -> None:
    assert problems(tmp_path, INDICATOR) == []


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("    corroborate: 2", "    corroborate 2", 10),
        ("    label: A hotline is revived", "    label A hotline is revived", 9),
        ("question: >", "question", 4),
    ],
)
def test_a_key_without_its_colon_is_reported_at_its_own_line(
    tmp_path: Path, old: str, new: str, line: int
) -> None:
    # it was reported at the line after it, where nothing is wrong
    found = problems(tmp_path, edited(old, new))
    assert len(found) == 1, found
    assert found[0].startswith(f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: invalid YAML")


@pytest.mark.parametrize(
    ("old", "new", "line", "above"),
    [
        ("      scope: sentence", "    scope: sentence", 13, "line 12 (scope: sentence)"),
        ("    label: A hotline", "      label: A hotline", 9, "line 8 (- id: revived)"),
        ("    corroborate: 2", "      corroborate: 2", 10, "line 9 (label: A hotline is revived)"),
        ("  Do Seoul and", "  Do Seoul: and", None, ""),  # a ': ' in a folded value is fine
    ],
)
def test_a_key_indented_under_a_key_with_a_value_names_that_line(
    tmp_path: Path, old: str, new: str, line: int | None, above: str
) -> None:
    """A rule's `scope` lined up with `rule:` made `all:` below it "a ': ' inside a value …
    or a key indented too far": the author looked at `all:`, where nothing is wrong."""
    found = problems(tmp_path, edited(old, new))
    if line is None:
        assert found == []
        return
    (problem,) = found
    assert problem == (
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: invalid YAML: mapping values are"
        f" not allowed here; this line is indented deeper than {above}, which has its value"
        " already, so nothing can be nested under it: one of the two lines is indented a level"
        " off (line it up with the keys it belongs with); if it goes on with that value, quote"
        " the value"
    )


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "examples:\n",
            "    examples:\n",
            "18: unknown key 'examples' in an outcome; allowed: id, label, corroborate, rule,"
            " unless; 'examples' belongs to the indicator: start it at the beginning of the line,"
            " as 'outcomes:'",
        ),
        (
            "examples:\n",
            "",
            "18: an example ('- text: …') among the outcomes: list the examples under"
            " 'examples:', which starts at the beginning of the line, as 'outcomes:'",
        ),
    ],
)
def test_examples_read_as_outcomes_are_one_problem(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    """`examples:` indented under the last outcome, or left out, made each example an outcome:
    three more problems apiece (no id, no label, no rule) and an unknown key per line, 36 for
    seven examples, `… and 16 more` past the first twenty."""
    text = edited(old, new) + '  - text: "Seoul and Beijing agree to a hotline"\n    expect: none\n'
    found = problems(tmp_path, text)
    line, _, rest = said.partition(": ")
    assert found == [f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"]


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("    corroborate: 2", "    corrobrate: 2", "10: unknown key 'corrobrate' in an outcome;"
         " allowed: id, label, corroborate, rule, unless; did you mean 'corroborate'?"),
        ("    label: A hotline", "    lable: A hotline", "9: unknown key 'lable' in an outcome;"
         " allowed: id, label, corroborate, rule, unless; did you mean 'label'?"),
        ("    expect: revived", "    expcet: revived", "20: unknown key 'expcet' in an example;"
         " allowed: text, expect, body; did you mean 'expect'?"),
        # an example's headline as a feed entry's title: it was two problems, the unknown key
        # and "an example is missing required key 'text'", and named no key meant
        ("  - text: \"China", "  - title: \"China", "19: unknown key 'title' in an example;"
         " allowed: text, expect, body; did you mean 'text'?"),
        ("    expect: revived", "    outcome: revived", "20: unknown key 'outcome' in an"
         " example; allowed: text, expect, body; did you mean 'expect'?"),
        ("window: 14d", "colour: red", "6: unknown key 'colour' in an indicator; allowed: id,"
         " group, title, question, feeds, window, outcomes, examples"),
        # an operator mistyped, or written as other rule languages write it: it was two
        # problems, the unknown key and "a nested rule needs one of: all, any, none, near"
        ("- any: [hotline*", "- anny: [hotline*", "15: unknown key 'anny' in a nested rule;"
         " allowed: scope, all, any, none, near; did you mean 'any'?"),
        ("- any: [hotline*", "- or: [hotline*", "15: unknown key 'or' in a nested rule;"
         " allowed: scope, all, any, none, near; did you mean 'any'?"),
        ("- any: [hotline*", "- not: [hotline*", "15: unknown key 'not' in a nested rule;"
         " allowed: scope, all, any, none, near; did you mean 'none'?"),
        ("      all:", "      and:", "13: unknown key 'and' in a rule; allowed: scope, all, any,"
         " none, near; did you mean 'all'?"),
        # an outcome a letter off, or in another case: it listed the outcomes only
        ("    expect: revived", "    expect: Revived", "20: expect 'Revived' names no outcome;"
         " use one of: revived, none; did you mean 'revived'?"),
        ("    expect: revived", "    expect: revive", "20: expect 'revive' names no outcome;"
         " use one of: revived, none; did you mean 'revived'?"),
        ("    expect: revived", "    expect: nothing", "20: expect 'nothing' names no outcome;"
         " use one of: revived, none"),
        ("@mine.china", "@Mine.china", "14: unknown vocabulary file 'Mine' in '@Mine.china': no"
         " {vocab}/Mine.yaml; known: mine; did you mean 'mine'?"),
        # a vocabulary name or file a letter off: it listed the known ones only
        ("@mine.china", "@mine.chna", "14: unknown name 'chna' in '@mine.chna': not in"
         " {vocab}/mine.yaml; known: china; did you mean 'china'?"),
        ("@mine.china", "@mien.china", "14: unknown vocabulary file 'mien' in '@mien.china': no"
         " {vocab}/mien.yaml; known: mine; did you mean 'mine'?"),
    ],
)  # fmt: skip
def test_a_key_mistyped_names_the_key_meant_and_is_one_problem(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    """`expcet:` was two problems, the unknown key and `an example is missing required key
    'expect'`, and named the key meant only among every allowed one."""
    line, _, rest = said.partition(": ")
    rest = rest.replace("{vocab}", str(tmp_path / "indicators" / "vocab"))
    assert problems(tmp_path, edited(old, new)) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"
    ]


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("    unless: [consider*]", "    unless: consider*",
         "17: 'unless' must be a list: write [consider*]"),
        ("        - any: [hotline*, 'direct line']", "        - any: hotline*",
         "15: 'any' must be a list: write [hotline*]"),
        ("    unless: [consider*]", "    unless:", "17: 'unless' must be a list"),
        # it said "write [@mine.china]", which YAML cannot read (an @ starts no plain value)
        ("        - any: [\"@mine.china\"]", "        - any: \"@mine.china\"",
         "14: 'any' must be a list: write ['@mine.china']"),
        ("    unless: [consider*]", "    unless: 'a, b'",
         "17: 'unless' must be a list: write ['a, b']"),
        # it said "write ['hotline*, direct line']", one term that never matches
        ("        - any: [hotline*, 'direct line']", "        - any: hotline*, direct line",
         "15: 'any' must be a list: write [hotline*, direct line]"),
        ("    unless: [consider*]", "    unless: consider*, weigh*",
         "17: 'unless' must be a list: write [consider*, weigh*]"),
    ],
)  # fmt: skip
def test_one_term_where_a_list_goes_says_how_to_write_the_list(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    """It said only "'unless' must be a list"."""
    line, _, rest = said.partition(": ")
    rest = rest.replace("{vocab}", str(tmp_path / "indicators" / "vocab"))
    assert problems(tmp_path, edited(old, new)) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"
    ]


INDENT = "check this line's indentation against the lines above it"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (  # it said only "found character '\t' that cannot start any token"
            "    label: A hotline",
            "\tlabel: A hotline",
            9,
            "a tab at column 1: YAML indents with spaces only; replace the tab with spaces",
        ),
        ("        - any: [hotline*", "       - any: [hotline*", 15, INDENT),
        ("    corroborate: 2", "   corroborate: 2", 10, INDENT),
        (  # "mapping values are not allowed here"
            "title: High-level hotlines revived",
            "title: Hotlines: revived",
            3,
            "a ': ' inside a value (Title: subtitle) or a key indented too far: quote the value",
        ),
        (  # "found character '@' that cannot start any token"
            'any: ["@mine.china"]',
            "any: [@mine.china]",
            14,
            # it showed "@actors.china", whatever the reference written
            'a term that starts with @ (a vocabulary reference) must be quoted: "@mine.china"',
        ),
        (  # it said only "check this line's indentation against the lines above it"
            "    unless: [consider*]",
            '    unless: "@mine.china", consider*',
            17,
            "expected <block end>, but found ','; several terms after 'unless:' are a list,"
            ' written in brackets: unless: ["@mine.china", consider*]',
        ),
        (  # "found undefined alias 'hotline'"
            "any: [hotline*,",
            "any: [*hotline,",
            15,
            'YAML reads a value that starts with * as an alias: quote it ("*word")',
        ),
        (  # "found unknown escape character 's'"
            "'direct line'",
            '"/direct\\s+line/"',
            15,
            "in double quotes a backslash starts an escape: write a regex in single quotes",
        ),
        ("    corroborate: 2", "    corroborate 2", 10, "a key without its ':' (write key: value)"),
        (  # it said "check this line's indentation against the lines above it"
            '  - text: "China and South Korea revive defence hotline"',
            '  - "China and South Korea revive defence hotline"',
            20,
            "line 19 is a list item that is a value alone, so no key can follow it: the item's"
            " first key goes on its '-' line, as in an example's - text: \"China and South"
            ' Korea revive defence hotline", its other keys lined up below it',
        ),
        (  # it said "a ': ' inside a value (Title: subtitle) or a key indented too far"
            '  - text: "China and South Korea revive defence hotline"',
            "  - China and South Korea revive defence hotline",
            20,
            "mapping values are not allowed here; line 19 is a list item that is a value alone",
        ),
    ],
)
def test_a_yaml_mistake_says_what_to_do(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    found = problems(tmp_path, edited(old, new))
    assert len(found) == 1, found
    prefix = f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: invalid YAML: "
    assert found[0].startswith(prefix), found
    assert message in found[0], found


@pytest.mark.parametrize(
    ("old", "new", "vocab"),
    [
        ("'direct line'", '"/\\bdirect line\\b/"', VOCAB),  # \b in double quotes: a backspace
        ("'direct line'", '"direct\\aline"', VOCAB),
        ("'direct line'", "'direct line'", 'china: [China, "/\\bBeijing\\b/"]\n'),
    ],
)
def test_a_term_holding_a_control_character_is_a_problem(
    tmp_path: Path, old: str, new: str, vocab: str
) -> None:
    # it was valid and never matched: `"/\bvisa\b/"` is a backspace, visa, a backspace
    (tmp_path / "indicators" / "vocab").mkdir(parents=True)
    (tmp_path / "indicators" / "vocab" / "mine.yaml").write_text(vocab)
    (tmp_path / "indicators" / "hotline.yaml").write_text(edited(old, new))
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    found = validate(tmp_path / "indicators", tmp_path / "feeds.yaml")
    assert len(found) == 1, found
    where = "vocab/mine.yaml:1" if vocab != VOCAB else "hotline.yaml:15"
    assert f"{where}: term " in found[0], found
    assert "holds a control character (U+000" in found[0], found
    assert "write a regex in single quotes ('/\\bvisa\\b/')" in found[0], found


def unless_at_the_top() -> str:
    return edited("    unless: [consider*]\n", "").replace(
        "window: 14d\n", "window: 14d\nunless: [consider*]\n"
    )


def without_rule_line() -> str:
    """The rule's keys written as the outcome's, without the `rule:` that holds them."""
    start = INDICATOR.index("    rule:\n")
    end = INDICATOR.index("    unless:")
    rule = INDICATOR[start:end].splitlines(keepends=True)[1:]
    return INDICATOR[:start] + "".join(line[2:] for line in rule) + INDICATOR[end:]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (  # unless indented with the rule's keys
            edited("    unless: [consider*]", "      unless: [consider*]"),
            17,
            "unknown key 'unless' in a rule; allowed: scope, all, any, none, near; 'unless' "
            "belongs to the outcome: line it up with its 'rule:'",
        ),
        (  # the rule's scope written beside `rule:`
            edited("    rule:\n      scope: sentence\n", "    scope: sentence\n    rule:\n"),
            11,
            "unknown key 'scope' in an outcome; allowed: id, label, corroborate, rule, unless; "
            "'scope' belongs to the rule: indent it under the outcome's 'rule:'",
        ),
        (  # the rule's keys written without `rule:`: it said to indent 'scope' under the
            # outcome's 'rule:', which there was none of, and that 'rule' was missing
            without_rule_line(),
            11,
            "'scope', 'all' and 'none' belong to a rule, and this outcome has no 'rule:': write"
            " rule: on a line above this one, lined up with it, and indent them and the lines"
            " under them 2 spaces more",
        ),
        (  # the examples indented under the last outcome
            edited(
                'examples:\n  - text: "China and South Korea revive defence hotline"\n'
                "    expect: revived\n",
                '    examples:\n      - text: "China and South Korea revive defence hotline"\n'
                "        expect: revived\n",
            ),
            18,
            "unknown key 'examples' in an outcome; allowed: id, label, corroborate, rule, unless; "
            "'examples' belongs to the indicator: start it at the beginning of the line, as "
            "'outcomes:'",
        ),
        (  # unless above the outcomes, at the start of the line
            unless_at_the_top(),
            7,
            "unknown key 'unless' in an indicator; allowed: id, group, title, question, feeds, "
            "window, outcomes, examples; 'unless' belongs to an outcome, but it starts at the "
            "beginning of the line, where the indicator's keys do: move it into the outcome it "
            "is for and indent it 4 spaces, lined up with the 'rule:' of outcome 'revived' "
            "(line 12)",
        ),
        (  # unless below its outcome, at the start of the line
            edited("    unless: [consider*]", "unless: [consider*]"),
            17,
            "unknown key 'unless' in an indicator; allowed: id, group, title, question, feeds, "
            "window, outcomes, examples; 'unless' belongs to an outcome, but it starts at the "
            "beginning of the line, where the indicator's keys do: indent it 4 spaces, lined up "
            "with the 'rule:' of outcome 'revived' (line 11)",
        ),
    ],
)
def test_a_key_one_level_off_says_where_it_belongs(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    # it said only "unknown key 'unless' in a rule; allowed: …", as of a key that is nowhere
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {message}"]


@pytest.mark.parametrize(
    ("old", "new", "line", "item"),
    [
        ("    unless: [consider*]", "  unless: [consider*]", 17, "line 8 (- id: revived)"),
        ("    expect: revived\n", "    expect: revived\n  body: x\n", 21, "line 19 (- text: "),
    ],
)
def test_a_key_lined_up_with_a_list_items_dash_names_that_item(
    tmp_path: Path, old: str, new: str, line: int, item: str
) -> None:
    """`unless:` two spaces in, under `  - id: revived`, said only "expected <block end>, but
    found '?'; check this line's indentation against the lines above it"."""
    (problem,) = problems(tmp_path, edited(old, new))
    path = tmp_path / "indicators" / "hotline.yaml"
    assert problem.startswith(f"{path}:{line}: invalid YAML: expected <block end>, but found"), (
        problem
    )
    assert f"; this line is lined up with the '-' of {item}" in problem, problem
    assert (
        "where only another '- ' item can start: a key of that item is indented 4 spaces" in problem
    )


def test_a_yaml_merge_key_is_one_problem_that_says_to_write_the_keys_out(tmp_path: Path) -> None:
    # it was three: "unknown key '<<' in an outcome", then "missing required key" for the
    # 'label' and 'rule' the merge was meant to bring
    text = edited(
        "  - id: revived\n    label: A hotline is revived\n",
        "  - &revived\n    id: revived\n    label: A hotline is revived\n",
    ).replace("examples:\n", "  - <<: *revived\n    id: cut\nexamples:\n")
    found = problems(tmp_path, text)
    assert found == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:19: a YAML merge key ('<<: *name') is not "
        "read: write the keys out here (an alias of a whole value, '*name', is read; terms are "
        "shared through vocabularies, '@FILE.NAME')"
    ]


def test_an_alias_of_a_whole_value_is_read(tmp_path: Path) -> None:
    text = edited("any: [hotline*, 'direct line']", "any: &line [hotline*, 'direct line']")
    text = text.replace('none: ["title:=Opinion"]', "none: [{all: [{any: *line}, cut]}]")
    assert problems(tmp_path, text) == []


def test_a_regex_in_a_message_keeps_its_backslashes_as_written(tmp_path: Path) -> None:
    # it was shown as Python writes it, '/\\bdirect[ line\\b/', doubling every backslash, so a
    # regex author looked for a \\b the file does not hold
    found = problems(tmp_path, edited("'direct line'", "'/\\bdirect[ line\\b/'"))
    assert len(found) == 1, found
    assert "bad regex in term '/\\bdirect[ line\\b/': unterminated character set" in found[0]


def test_a_regex_warning_keeps_its_backslashes_as_written(tmp_path: Path) -> None:
    text = edited("'direct line'", "'/\\b(\\w+)+line$/'")
    assert problems(tmp_path, text) == []
    indicators = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml").indicators
    (warning,) = regex_warnings(indicators)
    assert "warning: regex term '/\\b(\\w+)+line$/' can backtrack for ever" in warning


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            "any: [hotline*, title: hotline]",
            "'title: hotline' is read by YAML as a mapping, not a term: quote it or write "
            "title:hotline",
        ),
        (
            "any: [hotline*, /direct: line/]",
            "'/direct: line/' is read by YAML as a mapping, not a term: quote it",
        ),
    ],
)
def test_a_term_with_a_colon_left_unquoted_says_to_quote_it(
    tmp_path: Path, new: str, message: str
) -> None:
    # it said "unknown key 'title' in a nested rule; allowed: …" and "a nested rule needs one
    # of: all, any, none, near", about a rule the author never wrote
    found = problems(tmp_path, edited("any: [hotline*, 'direct line']", new))
    assert found == [f"{tmp_path / 'indicators' / 'hotline.yaml'}:15: {message}"]


def test_a_quoted_title_term_with_a_space_is_a_title_term(tmp_path: Path) -> None:
    assert problems(tmp_path, edited("'direct line'", "'title: direct line'")) == []


NEAR = "        - any: [hotline*, 'direct line']\n"


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        (  # the groups in one list too many: it was 3 problems, none showing the shape
            "[[[hotline, 热线], [revive, 恢复]]]",
            "'near' terms are nested one list too deep (its groups are in one more list):"
            " write terms: [[hotline, 热线], [revive, 恢复]]",
        ),
        (  # each group in a list of its own: it was "must hold terms, not lists" twice
            "[[[hotline, 热线]], [[revive, 恢复]]]",
            "a group in 'near' terms is one list of terms (any of them), not a list of lists:"
            " write terms: [[hotline, 热线], [revive, 恢复]]",
        ),
        (  # two groups in one list beside a third: it made one group of the first two
            "[[[hotline, 热线], [revive, 恢复]], '@mine.china']",
            "a group in 'near' terms is one list of terms (any of them), not a list of lists:"
            " write terms: [[hotline, 热线], [revive, 恢复], '@mine.china']",
        ),
        (
            "[[hotline, [热线]], '@mine.china']",
            "a group in 'near' terms is one list of terms (any of them), not a list of lists:"
            " write terms: [[hotline, 热线], '@mine.china']",
        ),
    ],
)
def test_near_terms_nested_too_deep_show_the_shape_meant(
    tmp_path: Path, terms: str, message: str
) -> None:
    text = edited(NEAR, f"{NEAR}        - near: {{terms: {terms}, within: 3}}\n")
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'indicators' / 'hotline.yaml'}:16: {message}"]


@pytest.mark.parametrize(
    ("terms", "shape"),
    [
        ("[hotline, 热线, revive, 恢复]", "[[hotline, 热线], [revive, 恢复]]"),
        ("[hotline, revive, 热线]", "[[hotline, 热线], …]"),
        ("[MOU, 체결]", None),  # an acronym in Korean text: close together, as written
        ("['@mine.china', 热线]", None),
        ("[[hotline, 热线], [revive, 恢复]]", None),
    ],
)
def test_near_terms_written_as_flat_alternatives_are_warned_of(
    tmp_path: Path, terms: str, shape: str | None
) -> None:
    """`terms: [hotline, 热线, revive, 恢复]` asks for all four close together, an English word
    beside its Chinese translation: valid, it never matched, and nothing said so."""
    text = edited(NEAR, f"{NEAR}        - near: {{terms: {terms}, within: 3}}\n")
    assert problems(tmp_path, text) == []
    found = warnings(load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml"))
    if shape is None:
        assert found == []
        return
    assert found == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:16: warning: 'near' terms hotline and 热线"
        " are groups of their own, each of which must occur within 3 words of the others, as a"
        " word and its translation rarely do; alternatives go in one group, a list:"
        f" terms: {shape}"
    ]


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (  # it said "'unless' must be a list"
            "    unless: [consider*]",
            "    unless: {any: [consider*, '@mine.china']}",
            "17: 'unless' is a list of terms, any of which cancels a match, not a rule:"
            " write [consider*, '@mine.china']",
        ),
        (  # it said "'unless' items must be terms or vocabulary references"
            "    unless: [consider*]",
            "    unless: [[consider*, weigh*]]",
            "17: 'unless' is one list of terms, not a list of lists: write [consider*, weigh*]",
        ),
        (  # it said "unknown key 'scope' in 'near'; allowed: terms, within, order"
            NEAR,
            f"{NEAR}        - near:\n            terms: [revive, hotline]\n            within: 3\n"
            "            scope: sentence\n",
            "19: unknown key 'scope' in 'near'; allowed: terms, within, order; 'scope' belongs"
            " to the rule that holds 'near': line it up with 'near:'",
        ),
    ],
)
def test_unless_written_as_a_rule_and_scope_inside_near_show_the_shape_meant(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    line, _, rest = said.partition(": ")
    assert problems(tmp_path, edited(old, new)) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"
    ]


def test_an_unless_at_the_start_of_the_line_between_outcomes_is_reported_at_its_line(
    tmp_path: Path,
) -> None:
    """It was reported at the next outcome's line, 18, with "check this line's indentation
    against the lines above it", where nothing is wrong."""
    text = edited(
        "    unless: [consider*]\n",
        "unless: [consider*]\n  - id: cut\n    label: A hotline is cut\n    rule: {any: [cut]}\n",
    )
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:17: invalid YAML: expected <block end>, but"
        " found '<block sequence start>'; this line starts further left than the list around it"
        " (line 8, - id: revived; line 18, - id: cut), which ends that list here: indent it 4"
        " spaces, as the keys of the item it belongs to"
    ]


HERE = "        - any: [hotline*, 'direct line']\n"


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (  # each said only "'unless' items must be terms or vocabulary references"
            "    unless: [consider*]",
            "    unless: [{all: [talk*, consider*]}, suspend*]",
            "17: 'unless' items are terms, any one of which cancels a match, not rules: a rule"
            " that rules matches out goes under the rule's 'none', none: [{scope: sentence,"
            " all: [talk*, consider*]}] (it rules out the entry, or in a sentence rule the"
            " sentence, where it holds in one sentence)",
        ),
        (
            "    unless: [consider*]",
            "    unless:\n      - near: {terms: [talk*, '@mine.china'], within: 3}",
            "18: 'unless' items are terms, any one of which cancels a match, not rules: a rule"
            " that rules matches out goes under the rule's 'none', none: [{scope: sentence,"
            " near: {terms: [talk*, '@mine.china'], within: 3}}] (it rules out the entry, or"
            " in a sentence rule the sentence, where it holds in one sentence)",
        ),
        (
            "    unless: [consider*]",
            "    unless: [suspend*, {any: [consider*, '@mine.china']}]",
            "17: 'unless' items are terms, any one of which cancels a match; an 'any' in it is"
            " its terms: write them as items of 'unless', unless: [suspend*, consider*,"
            " '@mine.china']",
        ),
        (
            "    unless: [consider*]",
            "    unless: [{term: '/weigh(s|ed)?/', label: weighs}]",
            "17: 'unless' cues take no label (a cue is never shown as evidence): write the term"
            " alone, /weigh(s|ed)?/",
        ),
    ],
)
def test_a_rule_in_an_unless_list_says_what_goes_there_and_where_the_rule_goes(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    line, _, rest = said.partition(": ")
    assert problems(tmp_path, edited(old, new)) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"
    ]


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (  # it said "a rule item must be a term or a mapping with all, any, none or near"
            HERE,
            "        - any: [[[hotline*, 热线]]]\n",
            "15: 'any' is one list of terms and nested rules, not a list of lists:"
            " write any: [hotline*, 热线]",
        ),
        (  # it said so twice, once per list
            HERE,
            "        - all: [[[hotline*, 热线]], [revive*, 恢复], '@mine.china']\n",
            "15: a list in 'all' is no term; for any one of its terms, write a nested rule:"
            " all: [{any: [hotline*, 热线]}, {any: [revive*, 恢复]}, '@mine.china']",
        ),
        (
            HERE,
            "        - all: [[hotline*, 热线]]\n",
            "15: 'all' is one list of terms and nested rules, not a list of lists: write all:"
            " [hotline*, 热线] for all of them, or any: [hotline*, 热线] for any one",
        ),
        (
            'none: ["title:=Opinion"]',
            'none: [[["title:=Opinion", 社论]]]',
            "16: 'none' is one list of terms and nested rules, not a list of lists:"
            " write none: ['title:=Opinion', 社论]",
        ),
        (  # it said "'unless' items must be terms or vocabulary references"
            "    unless: [consider*]",
            "    unless: [[[consider*, 考虑]]]",
            "17: 'unless' is one list of terms, not a list of lists: write [consider*, 考虑]",
        ),
        (  # it said "a list in its terms is one group …: terms: [[A, B], [C, D]]"
            HERE,
            f"{HERE}        - near: {{terms: [[[hotline, 热线]]], within: 3}}\n",
            "16: 'near' needs at least two groups of terms, and its terms hold one,"
            " [hotline, 热线] (any of them): write each group as an element, a term or a list"
            " of terms: terms: [[hotline, 热线], [C, D]]",
        ),
    ],
)
def test_terms_nested_a_list_too_deep_are_one_problem_showing_the_shape_meant(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    line, _, rest = said.partition(": ")
    assert problems(tmp_path, edited(old, new)) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"
    ]


def test_the_shapes_shown_are_valid_as_written(tmp_path: Path) -> None:
    """What a problem says to write validates: the author can paste it."""
    text = edited(HERE, "        - all: [{any: [hotline*, 热线]}, {any: [revive*, 恢复]}]\n")
    text = text.replace(
        'none: ["title:=Opinion"]',
        "none: [{scope: sentence, all: [talk*, consider*]}]\n      any: [x]",
    )
    assert problems(tmp_path, text) == []


@pytest.mark.parametrize(
    ("feeds", "shape"),
    [
        ("[a, news]", "{ids: [a], tags: [news]}"),  # a feed id of the feeds file, and a tag
        ("news", "{tags: [news]}"),
        ("[korea]", "{tags: [korea]}"),  # no feed has it: a tag, as a warning will say
    ],
)
def test_feed_names_where_the_feeds_mapping_goes_show_the_mapping(
    tmp_path: Path, feeds: str, shape: str
) -> None:
    """`feeds: [a, news]` (the README's "feed ids or tags") said only "feeds must be a mapping
    with keys: ids, tags", leaving the author to work out which name was which."""
    found = problems(tmp_path, edited("window: 14d\n", f"window: 14d\nfeeds: {feeds}\n"))
    assert found == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:7: feeds must be a mapping with keys:"
        f" ids, tags: write feeds: {shape}"
    ]


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("    expect: revived", "    expect: [revived]",
         "20: expect must be text, not a list: write revived"),
        ("window: 14d", "window: [14d]", "6: window must be text, not a list: write 14d"),
    ],
)  # fmt: skip
def test_one_value_in_brackets_where_text_goes_shows_it_without(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    """`expect: [revived]`, written as the terms above it are, said only "expect must be
    text"."""
    line, _, rest = said.partition(": ")
    assert problems(tmp_path, edited(old, new)) == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:{line}: {rest}"
    ]


@pytest.mark.parametrize(
    ("near", "terms"),
    [
        ("[hotline*, 'direct line']", "[hotline*, direct line]"),
        ('[[hotline*, 热线], "@mine.china"]', "[[hotline*, 热线], '@mine.china']"),
    ],
)
def test_near_written_as_its_terms_shows_the_mapping(tmp_path: Path, near: str, terms: str) -> None:
    """`near: [A, B]` said only "'near' must be a mapping with keys: terms, within, order"."""
    found = problems(tmp_path, edited("- any: [hotline*, 'direct line']", f"- near: {near}"))
    assert found == [
        f"{tmp_path / 'indicators' / 'hotline.yaml'}:15: 'near' must be a mapping with keys:"
        f" terms, within, order: write near: {{terms: {terms}, within: N}}, N the most words"
        " between the terms"
    ]
