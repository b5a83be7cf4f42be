"""`monitor test --labeled FILE --explain`: under each miss and false alarm, the outcome's tree as
`monitor explain` prints it for that row (`--json`: its document); and in `monitor test --json`,
a failed example's explanation. Without `--explain` the report is as it was."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.domain import Indicator
from monitor.labeled import ScoredError
from monitor.labeledwhy import Explainer
from tests.test_cli import VALID, env_for
from tests.test_cli_ops import no_monitor_variables

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives

# `visa` and an easing word in one sentence
INDICATOR = """\
id: x
group: g
title: t
question: q
outcomes:
  - id: yes
    label: eased
    rule:
      scope: sentence
      all:
        - visa
        - any: [eased, waived]
"""
MISSED = ("r1", "Visa rules for tourists", "They were eased on Monday.")  # two sentences
ALARM = ("r2", "Visa fees waived", "Nobody applied.")  # labeled n, yet matched
ROWS = [
    ("id", "title", "text", "x:yes"),
    (*MISSED, "y"),
    (*ALARM, "n"),
    ("r3", "Visa rules eased for students", "", "y"),
    ("r4", "Markets", "", "n"),
]
# The report as `monitor test --labeled` printed it before --explain existed.
REPORT = """\
0 passed, 0 failed
labeled: {path}, part all
outcome   tp  fp  fn  precision  recall  precision 95%  recall 95%
x:yes      1   1   1      0.500   0.500      0.09-0.91   0.09-0.91
overall    1   1   1      0.500   0.500      0.09-0.91   0.09-0.91

language   tp  fp  fn  precision  recall  precision 95%  recall 95%
en         1   1   1      0.500   0.500      0.09-0.91   0.09-0.91
ko         0   0   0          -       -      0.00-1.00   0.00-1.00
zh         0   0   0          -       -      0.00-1.00   0.00-1.00
ja         0   0   0          -       -      0.00-1.00   0.00-1.00
4 items; 0 ambiguous labels not scored
MISS x:yes r1 (en): Visa rules for tourists | They were eased on Monday.
FALSE ALARM x:yes r2 (en): Visa fees waived | Nobody applied.  [visa, waived]
"""


def monitor(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, prog_name="monitor")


def watch_list(tmp_path: Path, examples: str = "") -> tuple[dict[str, str], Path]:
    """One indicator (x:yes), with `examples` (YAML) if given, and the labeled file of ROWS."""
    indicators = tmp_path / "indicators"
    indicators.mkdir()
    (indicators / "x.yaml").write_text(INDICATOR + examples)
    labeled = tmp_path / "labeled.tsv"
    labeled.write_text("".join("\t".join(row) + "\n" for row in ROWS))
    return env_for(tmp_path, indicators, VALID / "feeds.yaml"), labeled


def explained(env: dict[str, str], title: str, text: str, *json_flag: str) -> Result:
    """`monitor explain x:yes --title TITLE --text TEXT`: what --explain must show of a row."""
    return monitor(env, "explain", "x:yes", "--title", title, "--text", text, *json_flag)


def test_explain_shows_under_each_miss_and_false_alarm_why(tmp_path: Path) -> None:
    env, labeled = watch_list(tmp_path)

    result = monitor(env, "test", "--labeled", str(labeled), "--explain")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    miss = lines.index(f"MISS x:yes r1 (en): {MISSED[1]} | {MISSED[2]}")
    alarm = lines.index(f"FALSE ALARM x:yes r2 (en): {ALARM[1]} | {ALARM[2]}  [visa, waived]")
    assert lines[miss + 1 : alarm] == [
        "  x:yes: not matched: the rule does not hold",
        "    no  all (1 term) in no sentence: visa (1)",  # visa and eased never in one sentence
        "        yes any (2 terms) in sentence 2: eased (2)",
        "  sentences:",
        "      1  Visa rules for tourists",
        "      2  They were eased on Monday.",
    ]
    assert lines[alarm + 1 : alarm + 4] == [
        "  x:yes: matched (visa, waived)",
        "    yes all (1 term) in sentence 1: visa (1)",
        "        yes any (2 terms) in sentence 1: waived (1)",
    ]
    for start, end, (_, title, text) in ((miss, alarm, MISSED), (alarm, len(lines), ALARM)):
        alone = explained(env, title, text)
        assert alone.exit_code == 0, alone.output
        assert lines[start + 1 : end] == ["  " + line for line in alone.stdout.splitlines()]


def test_explain_json_gives_each_row_the_document_monitor_explain_prints(tmp_path: Path) -> None:
    env, labeled = watch_list(tmp_path)

    result = monitor(env, "test", "--labeled", str(labeled), "--explain", "--json")

    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["labeled"]
    (miss,), (alarm,) = found["misses"], found["false_alarms"]
    assert miss["explanation"]["outcomes"][0]["matched"] is False
    assert miss["explanation"]["outcomes"][0]["rule"]["sentences"] == []
    assert alarm["explanation"]["outcomes"][0]["terms"] == ["visa", "waived"]
    for row, (_, title, text) in ((miss, MISSED), (alarm, ALARM)):
        document = json.loads(explained(env, title, text, "--json").stdout)
        assert row["explanation"] == document
        assert document["sentences"][:2] == [title, text]


def test_without_explain_the_report_is_as_it_was(tmp_path: Path) -> None:
    env, labeled = watch_list(tmp_path)

    text = monitor(env, "test", "--labeled", str(labeled))
    document = json.loads(monitor(env, "test", "--labeled", str(labeled), "--json").stdout)
    with_why = json.loads(
        monitor(env, "test", "--labeled", str(labeled), "--json", "--explain").stdout
    )

    assert text.stdout == REPORT.format(path=labeled)
    rows = document["labeled"]["misses"] + document["labeled"]["false_alarms"]
    assert [sorted(row) for row in rows] == [
        ["id", "language", "outcome", "terms", "text", "title"]
    ] * 2
    for row in with_why["labeled"]["misses"] + with_why["labeled"]["false_alarms"]:
        del row["explanation"]
    assert with_why == document


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--explain"], "--explain is about scores on a labeled file: give --labeled too"),
        (
            ["--explain", "--json"],
            "--explain is about scores on a labeled file: give --labeled too",
        ),
        (
            ["--explain", "--labeled", "{labeled}", "--figures-only"],
            "--explain shows the rows that --figures-only keeps unseen: give one or the other",
        ),
    ],
)
def test_explain_without_rows_to_explain_is_a_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    env, labeled = watch_list(tmp_path)

    result = monitor(env, "test", *(a.format(labeled=labeled) for a in args))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"Error: {message} (see 'monitor test --help')"]


EXAMPLES = """\
examples:
  - text: "Visa rules eased"
    expect: yes
  - text: "Visa rules for tourists"
    body: "They were eased on Monday."
    expect: yes
  - text: "Visa fees waived"
    expect: none
"""


def test_test_json_explains_each_failed_example(tmp_path: Path) -> None:
    """The outcome expected that did not fire, or the one that fired unexpectedly, as
    `monitor explain --json` gives it; a passed example has no explanation."""
    env, _ = watch_list(tmp_path, EXAMPLES)

    result = monitor(env, "test", "--json")

    assert result.exit_code == 1
    examples = json.loads(result.stdout)["examples"]
    assert examples["passed"] == 1
    missed, fired = examples["failed"]
    assert (missed["example"], fired["example"]) == ("Visa rules for tourists", "Visa fees waived")
    # where each example is written, as the text output names it: file and line
    text = monitor(env, "test").stdout
    path = tmp_path / "indicators" / "x.yaml"
    written = path.read_text().splitlines()
    lines = [written.index(f'  - text: "{f["example"]}"') + 1 for f in (missed, fired)]
    assert [(f["indicator"], f["file"], f["line"]) for f in (missed, fired)] == [
        ("x", str(path), n) for n in lines
    ]
    assert f"{missed['file']}:{missed['line']}" in text
    assert missed["explanation"] == json.loads(
        explained(env, "Visa rules for tourists", "They were eased on Monday.", "--json").stdout
    )
    assert fired["explanation"] == json.loads(
        explained(env, "Visa fees waived", "", "--json").stdout
    )
    assert [o["matched"] for o in missed["explanation"]["outcomes"]] == [False]
    assert [o["matched"] for o in fired["explanation"]["outcomes"]] == [True]


def test_each_indicator_is_compiled_once_however_many_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor import labeledwhy
    from monitor.definitions import load_definitions

    compiled: list[str] = []

    class Counted(labeledwhy.Matcher):
        def __init__(self, indicators: Sequence[Indicator]) -> None:
            compiled.extend(i.id for i in indicators)
            super().__init__(indicators)

    monkeypatch.setattr(labeledwhy, "Matcher", Counted)
    definitions = load_definitions(VALID / "indicators", VALID / "feeds.yaml")
    why = Explainer(definitions.indicators)
    rows = [
        ScoredError("miss", f"{i.id}:{o.id}", str(n), "China and Korea talk visas", "")
        for n in range(3)
        for i in definitions.indicators
        for o in i.outcomes
    ]

    for row in rows:
        why.row_lines(row)

    assert sorted(compiled) == sorted(i.id for i in definitions.indicators)
