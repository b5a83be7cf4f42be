"""Every rule operator works end to end: read from YAML, validated, compiled, matched and
explained. Parametrized over `Operator`, so a new member fails here until each stage has it
(README "Adding an operator" lists the places; mypy finds the `assert_never` ones)."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from monitor.definitions import load_definitions, validate
from monitor.domain import Entry
from monitor.match import Matcher, run_examples
from monitor.match.explain import explain_entry
from monitor.match.machine import COperator
from monitor.operators import Operator
from tests.conftest import ROOT

FEEDS = "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [t]}\n"

# Per operator: a rule using it, a headline it matches with the terms that explain the match,
# and a headline it does not match.
SAMPLES: dict[Operator, tuple[str, str, tuple[str, ...], str]] = {
    Operator.ALL: ("{all: [visa, China]}", "China eases visa rules", ("visa", "China"), "Visa"),
    Operator.ANY: ("{any: [visa, waiver]}", "New waiver announced", ("waiver",), "New rules"),
    Operator.NONE: (
        "{any: [visa], none: [suspend]}",
        "Visa rules eased",
        ("visa",),
        "Visa rules suspended",
    ),
    Operator.NEAR: (
        "{near: {terms: [China, visa], within: 1, order: before}}",
        "China eases visa rules",
        ("China", "visa"),
        "Visa rules for China",
    ),
}


def write(root: Path, operator: Operator) -> tuple[Path, Path]:
    rule, hit, _, miss = SAMPLES[operator]
    (root / "indicators").mkdir()
    (root / "indicators" / "x.yaml").write_text(
        "id: x\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n"
        f"  - id: yes\n    label: l\n    rule: {rule}\n"
        f"examples:\n  - {{text: {hit!r}, expect: 'yes'}}\n  - {{text: {miss!r}, expect: none}}\n"
    )
    (root / "feeds.yaml").write_text(FEEDS)
    return root / "indicators", root / "feeds.yaml"


def entry(title: str) -> Entry:
    return Entry("a", "g", "https://example.org/1", title, "", None, "example.org")


@pytest.mark.parametrize("operator", list(Operator))
def test_every_operator_is_read_compiled_matched_and_explained(
    tmp_path: Path, operator: Operator
) -> None:
    assert operator in SAMPLES, f"add a sample rule for {operator!r} (README: Adding an operator)"
    _, hit, terms, miss = SAMPLES[operator]
    paths = write(tmp_path, operator)
    assert validate(*paths) == []
    definitions = load_definitions(*paths)
    matcher = Matcher(definitions.indicators)
    [found] = matcher.match(entry(hit))
    assert (found.outcome_id, found.terms) == ("yes", terms)
    assert matcher.match(entry(miss)) == []
    assert all(result.passed for result in run_examples(definitions.indicators, matcher))
    explained = [explain_entry(matcher, "x", title, "").outcomes[0] for title in (hit, miss)]
    assert [(o.matched, o.rule.holds) for o in explained] == [(True, True), (False, False)]
    assert explained[0].terms == terms


def test_every_operator_has_a_compiled_node() -> None:
    assert sorted(node.operator for node in get_args(COperator)) == sorted(Operator)


@pytest.mark.parametrize("operator", list(Operator))
def test_every_operator_is_in_the_readme_rule_reference(operator: Operator) -> None:
    assert f"| `{operator}` | — |" in (ROOT / "README.md").read_text()
