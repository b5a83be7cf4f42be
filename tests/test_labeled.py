"""monitor.labeled: reading labeled TSV files and scoring a matcher against them."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.definitions import compile_term
from monitor.domain import AnyNode, Indicator, Outcome, Rule, TermNode
from monitor.labeled import LabeledItem, Score, load_labeled, parse_labeled, score
from monitor.match import Matcher

LABELED = Path(__file__).resolve().parent / "data" / "labeled"


def _any(*terms: str) -> Rule:
    return Rule(AnyNode(tuple(TermNode(compile_term(t)) for t in terms)))


DEMO = Indicator(
    id="demo",
    group="Demo",
    title="Demo",
    question="Demo?",
    outcomes=(
        Outcome("eased", "Eased", _any("title:visa-free")),
        Outcome("tightened", "Tightened", _any("tighten*")),
    ),
)


@pytest.fixture
def basic() -> Score:
    return score(load_labeled(LABELED / "basic.tsv"), Matcher([DEMO]), [DEMO])


def test_load_reads_every_column() -> None:
    items = load_labeled(LABELED / "basic.tsv")
    assert [i.id for i in items] == ["a1", "a2", "a3", "a4", "a5", "a6"]
    first = items[0]
    assert first.title == "China extends visa-free entry for Koreans"
    assert first.url == "https://example.org/a1"
    assert first.date == "2024-11-22"
    assert dict(first.labels) == {"demo:eased": "y", "demo:tightened": "n"}
    assert first.line == 2
    assert items[1].title == ""


def test_load_unquotes_csv_cells() -> None:
    item = load_labeled(LABELED / "basic.tsv")[3]
    assert item.text == '"Demand is back," an airline said, quoting "strong" bookings.'


def test_entry_is_title_and_text() -> None:
    item = load_labeled(LABELED / "basic.tsv")[1]
    entry = item.entry()
    assert (entry.title, entry.text, entry.link) == (item.title, item.text, item.url)


@pytest.mark.parametrize(
    ("key", "tp", "fp", "fn", "tn"),
    [("demo:eased", 1, 1, 1, 2), ("demo:tightened", 1, 0, 0, 4)],
)
def test_per_outcome_counts(basic: Score, key: str, tp: int, fp: int, fn: int, tn: int) -> None:
    o = basic.outcome(key)
    assert (o.tp, o.fp, o.fn, o.tn) == (tp, fp, fn, tn)


def test_totals_are_micro_averaged(basic: Score) -> None:
    assert (basic.tp, basic.fp, basic.fn) == (2, 1, 1)
    assert basic.precision == pytest.approx(2 / 3)
    assert basic.recall == pytest.approx(2 / 3)
    assert basic.outcome("demo:eased").precision == pytest.approx(0.5)
    assert basic.outcome("demo:tightened").recall == 1.0
    assert basic.items == 6
    assert basic.skipped == 2  # one `?` in each column


def test_misses_and_false_alarms_are_listed(basic: Score) -> None:
    assert [(e.key, e.item_id) for e in basic.misses] == [("demo:eased", "a2")]
    assert [(e.key, e.item_id) for e in basic.false_alarms] == [("demo:eased", "a6")]
    assert basic.false_alarms[0].terms == ("title:visa-free",)


def test_report_shows_table_and_errors(basic: Score) -> None:
    report = basic.report()
    assert "demo:eased" in report and "overall" in report
    assert "0.667" in report
    assert "MISS demo:eased a2" in report
    assert "FALSE ALARM demo:eased a6" in report


def test_unknown_columns_and_empty_labels() -> None:
    items = load_labeled(LABELED / "unknown-column.tsv")
    assert [i.id for i in items] == ["b1", "b2", "b3"]  # the blank line is skipped
    assert items[1].labels["demo:eased"] == "?"
    assert items[2].labels["demo:eased"] == "y"  # labels are case-insensitive
    result = score(items, Matcher([DEMO]), [DEMO])
    assert result.unknown_columns == ("other:thing",)
    assert [o.key for o in result.outcomes] == ["demo:eased"]  # no column labels `tightened`
    assert (result.tp, result.fp, result.fn) == (2, 0, 0)


def test_bad_label_names_file_and_line() -> None:
    with pytest.raises(ValueError, match=r"bad-label\.tsv:3: label 'maybe'"):
        load_labeled(LABELED / "bad-label.tsv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: empty file"),
        ("id\ttitle\tdemo:eased\n", ":1: missing column"),
        ("id\ttitle\ttext\tdemo:eased\nx\ty\n", ":2: 2 fields"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_labeled(text)


def test_no_predictions_and_no_positives_score_one() -> None:
    item = LabeledItem(id="z", title="Nothing here", text="", labels={"demo:eased": "n"})
    result = score([item], Matcher([DEMO]), [DEMO])
    assert (result.precision, result.recall) == (1.0, 1.0)
