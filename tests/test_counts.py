"""Counts a person reads say `1 indicator` and `2 indicators`, never `1 indicators`: the
command output, the logs, the digest and /healthz's reasons all word a count through one
helper (`monitor.counts`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.counts import count
from monitor.cycle import CycleReport
from monitor.digest import DigestInput, build_digest
from tests.test_digest import RECIPIENTS, SENDER, line, parts

INDICATOR = """\
id: one
group: G
title: One
question: Does it?
outcomes:
  - id: yes
    label: Yes
    rule: {any: [China]}
"""


@pytest.mark.parametrize(
    ("n", "noun", "said"),
    [
        (0, "feed", "0 feeds"),
        (1, "feed", "1 feed"),
        (2, "feed", "2 feeds"),
        (1, "entry", "1 entry"),
        (3, "new entry", "3 new entries"),
        (1, "match", "1 match"),
        (2, "match", "2 matches"),
        (2, "status change", "2 status changes"),
        (1, "status change", "1 status change"),
        (2, "story", "2 stories"),
        (2, "day", "2 days"),
        (2, "problem", "2 problems"),
    ],
)
def test_a_count_names_its_noun_as_the_number_asks(n: int, noun: str, said: str) -> None:
    assert count(n, noun) == said


def test_validate_counts_one_indicator_and_one_feed_in_the_singular(tmp_path: Path) -> None:
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "one.yaml").write_text(INDICATOR, encoding="utf-8")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - id: f1\n    url: https://example.org/rss\n", encoding="utf-8")
    env = {
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(feeds),
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}",
    }
    result = CliRunner().invoke(main, ["validate"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 1 indicator, 1 feed\n"


def test_a_cycle_of_one_feed_one_entry_one_match_says_so_in_the_singular() -> None:
    start = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    report = CycleReport(start, start, feeds_checked=1, new_entries=1, matches=1, dropped=1)
    assert report.summary() == (
        "cycle: 1 feed checked, 0 not modified, 0 failed, 1 read dropped, 1 new entry, "
        "1 match, 0 status changes in 0.00s"
    )


def test_a_digest_of_one_unknown_indicator_says_1_of_1_indicator_is_unknown() -> None:
    since = datetime(2026, 1, 5, tzinfo=UTC)
    unknown = line("tw", "Taiwan Strait patrols", "Taiwan", "unknown", since)
    data = DigestInput(
        day=datetime(2026, 1, 6).date(),
        generated_at=datetime(2026, 1, 6, 22, 0, tzinfo=UTC),
        timezone="Asia/Seoul",
        changes=(),
        indicators=(unknown,),
        feed_problems=(),
        page_url="http://127.0.0.1:8000/",
    )
    text, html = parts(build_digest(data, sender=SENDER, recipients=RECIPIENTS))
    said = "No indicator changed since the last digest. 1 of 1 indicator is unknown"
    assert said in " ".join(text.split())
    assert said in " ".join(html.split())


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    """The string constants of a module (f-strings' parts too) but its docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


MONITOR = Path(__file__).parent.parent / "monitor"
# `item(s)`, `change{{ '' if n == 1 else 's' }}`: a count worded by hand (http(s) is no count)
BY_HAND = re.compile(r"(?<!http)\(s\)|\(es\)|\(ies\)|else ['\"](?:s|es|ies)['\"]|['\"]s['\"] if ")


def test_every_count_in_messages_and_templates_is_worded_through_counts() -> None:
    found = [
        f"{path.relative_to(MONITOR)}:{n}: {text!r}"
        for path in sorted(MONITOR.rglob("*.py"))
        for n, text in _strings(path)
        if BY_HAND.search(text)
    ]
    found += [
        f"{path.relative_to(MONITOR)}:{n}"
        for path in sorted((MONITOR / "templates").iterdir())
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BY_HAND.search(text)
    ]
    assert found == []
