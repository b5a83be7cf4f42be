"""A nested rule's own `scope`: read from YAML, validated with file:line, matched, explained.

Real news often names the actor in the headline and the act in the lede: a sentence rule can
let one part of it (the actor) hold anywhere in the entry while the act and its object still
have to meet in one sentence, and an entry rule can ask one part of it to hold in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.definitions import load_definitions, validate
from monitor.domain import Entry
from monitor.match import Matcher, run_examples
from monitor.ruletree import ScopeNode

FEEDS = "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [t]}\n"

# the actor anywhere in the entry; the act and its object in one sentence
ACTOR_ANYWHERE = """\
    rule:
      scope: sentence
      all:
        - {scope: entry, any: [China, Beijing]}
        - any: [sanction]
        - any: [enforce]
"""
# the whole rule anywhere in the entry, but the visa and its waiver in one sentence
PAIR_IN_ONE_SENTENCE = """\
    rule:
      all:
        - any: [Korea]
        - {scope: sentence, all: [visa, waive]}
"""


def write(root: Path, rule: str, examples: str = "") -> tuple[Path, Path]:
    (root / "indicators").mkdir()
    (root / "indicators" / "x.yaml").write_text(
        f"id: x\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n  - id: yes\n    label: l\n{rule}"
        + (f"examples:\n{examples}" if examples else "")
    )
    (root / "feeds.yaml").write_text(FEEDS)
    return root / "indicators", root / "feeds.yaml"


def matcher(tmp_path: Path, rule: str) -> Matcher:
    paths = write(tmp_path, rule)
    assert validate(*paths) == []
    return Matcher(load_definitions(*paths).indicators)


def entry(title: str, text: str = "") -> Entry:
    return Entry("a", "g", "https://example.org/1", title, text, None, "example.org")


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        # the actor in the headline, the act and its object in the lede
        ("China acts", "The ministry will enforce every sanction from Monday.", True),
        ("Ministry statement", "Beijing will enforce every sanction.", True),
        # the act and its object must still meet in one sentence
        ("China acts", "The ministry will enforce the rules. A sanction was announced.", False),
        # no actor anywhere
        ("Ministry statement", "It will enforce every sanction from Monday.", False),
    ],
)
def test_an_entry_scoped_actor_inside_a_sentence_rule(
    tmp_path: Path, title: str, text: str, expected: bool
) -> None:
    found = matcher(tmp_path, ACTOR_ANYWHERE).match(entry(title, text))
    assert bool(found) is expected


def test_the_terms_are_explained_and_the_snippet_is_the_acts_sentence(tmp_path: Path) -> None:
    text = "Officials met on Monday. The ministry will enforce every sanction."
    [found] = matcher(tmp_path, ACTOR_ANYWHERE).match(entry("China acts", text))
    assert set(found.terms) == {"China", "sanction", "enforce"}
    assert "The ministry will enforce every sanction." in found.snippet


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Korea news", "Officials will waive the visa for tourists.", True),
        # both words in the entry, but not in one sentence
        ("Korea waives fees", "A visa is needed.", False),
        ("Visa waived", "No country named here.", False),
    ],
)
def test_a_sentence_scoped_part_inside_an_entry_rule(
    tmp_path: Path, title: str, text: str, expected: bool
) -> None:
    found = matcher(tmp_path, PAIR_IN_ONE_SENTENCE).match(entry(title, text))
    assert bool(found) is expected


def test_an_entry_scoped_none_cancels_a_sentence_rule_from_anywhere(tmp_path: Path) -> None:
    rule = """\
    rule:
      scope: sentence
      all: [China, sanction]
      any: [{scope: entry, none: [denies]}]
"""
    found = matcher(tmp_path, rule)
    assert found.match(entry("China backs sanction", "It was reported on Monday."))
    assert not found.match(entry("China backs sanction", "The ministry denies it."))


def test_unless_still_looks_at_the_acts_sentence(tmp_path: Path) -> None:
    rule = ACTOR_ANYWHERE + "    unless: [urges]\n"
    found = matcher(tmp_path, rule)
    # the cue in the headline is not in the sentence of the act
    assert found.match(entry("Seoul urges China", "Beijing will enforce every sanction."))
    assert not found.match(entry("China acts", "Seoul urges it to enforce every sanction."))


def test_a_nested_scope_is_read_into_the_rule_and_examples_pass(tmp_path: Path) -> None:
    examples = (
        "  - {text: 'China acts', body: 'It will enforce every sanction.', expect: 'yes'}\n"
        "  - {text: 'China acts', body: 'It will enforce rules. A sanction came.', expect: none}\n"
    )
    paths = write(tmp_path, ACTOR_ANYWHERE, examples)
    definitions = load_definitions(*paths)
    [indicator] = definitions.indicators
    [actor, *_] = indicator.outcomes[0].rule.node.children  # type: ignore[union-attr]
    assert isinstance(actor, ScopeNode) and actor.scope == "entry"
    results = run_examples(definitions.indicators, Matcher(definitions.indicators))
    assert [r.passed for r in results] == [True, True]


@pytest.mark.parametrize(
    ("item", "line", "message"),
    [
        ("{scope: paragraph, any: [China]}", 11, "scope 'paragraph' must be 'entry' or 'sentence'"),
        ("{scope: entry}", 11, "a nested rule needs one of: all, any, none, near"),
        ("{scope: [entry], any: [China]}", 11, "scope must be text"),
    ],
)
def test_a_bad_nested_scope_is_a_file_line_error(
    tmp_path: Path, item: str, line: int, message: str
) -> None:
    rule = f"    rule:\n      scope: sentence\n      all:\n        - {item}\n        - visa\n"
    indicators, feeds = write(tmp_path, rule)
    problems = validate(indicators, feeds)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{indicators / 'x.yaml'}:{line}: ")
    assert message in problems[0]
