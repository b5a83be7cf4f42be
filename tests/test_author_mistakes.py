"""The mistakes an indicator's author makes, each a `file:line` problem that says what to do.

Every case is a real file validated as `monitor validate` does: a line of a valid indicator
changed the way a hand editing YAML changes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.definitions import validate

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
