"""A bidi override or isolate (U+202A-U+202E, U+2066-U+2069) or a control character written
into a YAML title, group, question, label or feed title is dropped as parse drops it from a
feed's text: it would turn the rest of a digest line, or a terminal's, around. A right-to-left
mark (U+200F), which overrides nothing, stays as in a headline."""

from __future__ import annotations

from pathlib import Path

from monitor.definitions import load_definitions
from monitor.domain import CONTROLS
from monitor.ruletree import iter_terms
from tests.test_cli import env_for, invoke

HIDDEN = "\u202e\u2066\u202c\u2069\x1b"
INDICATOR = """\
id: x
group: "Grp \\u202eoverride\\x1b[31m"
title: "Visa \\u202eeasing\\u202c \\u2066isolated\\u2069 \\u200fmarked"
question: "Moves\\u202e?"
outcomes:
  - id: yes
    label: "Eased \\u2067label\\u2069"
    rule:
      any: [visa, {term: "/\\\\bwaiv/", label: "waiver \\u202dLTR\\u202c"}]
"""
FEEDS = """\
feeds:
  - {id: a, url: "https://a.example/rss", title: "Feed \\u202etitle"}
"""


def test_overrides_and_isolates_in_yaml_text_never_reach_the_digest(tmp_path: Path) -> None:
    indicators = tmp_path / "indicators"
    indicators.mkdir()
    (indicators / "x.yaml").write_text(INDICATOR)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    env = env_for(tmp_path, indicators, tmp_path / "feeds.yaml")
    assert invoke(["db", "upgrade"], env).exit_code == 0

    preview = invoke(["digest", "--preview"], env)

    assert preview.exit_code == 0, preview.output
    assert not CONTROLS.search(preview.stdout), repr(preview.stdout)
    assert "Grp override[31m" in preview.stdout
    assert "Visa easing isolated \u200fmarked" in preview.stdout
    assert not any(ch in preview.stdout for ch in HIDDEN)


def test_yaml_text_people_are_shown_is_loaded_without_them(tmp_path: Path) -> None:
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "x.yaml").write_text(INDICATOR)
    (tmp_path / "feeds.yaml").write_text(FEEDS)

    definitions = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")

    (indicator,) = definitions.indicators
    (outcome,) = indicator.outcomes
    labeled = [t.label for t in iter_terms(outcome.rule.node) if t.label]
    shown = [indicator.group, indicator.title, indicator.question, outcome.label, *labeled]
    assert shown == [
        "Grp override[31m", "Visa easing isolated \u200fmarked", "Moves?", "Eased label",
        "waiver LTR",
    ]  # fmt: skip
    assert [f.title for f in definitions.feeds] == ["Feed title"]
