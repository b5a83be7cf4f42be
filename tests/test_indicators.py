"""The shipped indicators: their examples pass, they carry enough hard negatives, they score
well on the labeled development set and they stay silent on general news."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Indicator
from monitor.errors import ParseError
from monitor.labeled import load_labeled, score, select
from monitor.match import Matcher, run_examples
from monitor.parse import parse_feed

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
LABELED_DEV = SHARED / "corpus" / "labeled-dev.tsv"
REAL_FEEDS = SHARED / "corpus" / "real-feeds"
# The `tune` part's rows retold in the other three languages (one file per indicator; README
# "How good are the indicators", ninth pass): the same events as other outlets word them.
TRANSLATED = ROOT / "tests" / "data" / "labeled" / "translated"

SHIPPED = {
    "dialogue-mechanisms": {"announced"},
    "visa-easing": {"eased"},
    "flight-routes": {"expanded"},
    "cultural-exchange": {"opened"},
    "north-korea-stance": {"pressure", "balance"},
    "business-regulatory": {"clearer"},
    "business-investment": {"momentum"},
}
MIN_EXAMPLES = 8
MIN_NEGATIVES = 3
# Per part of labeled-dev (README "How good are the indicators": tune 1.000 / 1.000, score
# 0.868 / 0.786 today); only ever raised, so that a rule change that loses rows the rules held
# shows up here. A failure on `tune` shows its rows; on `score`, the figures only, so that the
# held-out part is never read while rules are written.
MINIMUMS = {"tune": (0.98, 0.98), "score": (0.85, 0.75)}  # precision, recall
TRANSLATED_MINIMUMS = (0.95, 0.95)


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


@pytest.fixture(scope="module")
def matcher(definitions: Definitions) -> Matcher:
    return Matcher(definitions.indicators)


def _shipped(definitions: Definitions, indicator_id: str) -> Indicator:
    return definitions.indicator(indicator_id)


def test_exactly_the_shipped_indicators_and_outcomes(definitions: Definitions) -> None:
    found = {i.id: {o.id for o in i.outcomes} for i in definitions.indicators}
    assert found == SHIPPED


@pytest.mark.parametrize("indicator_id", sorted(SHIPPED))
def test_examples_pass(definitions: Definitions, matcher: Matcher, indicator_id: str) -> None:
    indicator = _shipped(definitions, indicator_id)
    failures = [
        f"line {r.example.line}: {r.example.text!r} expected {r.expected}, got "
        f"{', '.join(r.actual)} (terms: {', '.join(r.terms) or 'none'})"
        for r in run_examples([indicator], matcher)
        if not r.passed
    ]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("indicator_id", sorted(SHIPPED))
def test_enough_examples_and_hard_negatives(definitions: Definitions, indicator_id: str) -> None:
    indicator = _shipped(definitions, indicator_id)
    negatives = [e for e in indicator.examples if e.expect == "none"]
    assert len(indicator.examples) >= MIN_EXAMPLES
    assert len(negatives) >= MIN_NEGATIVES
    for outcome in indicator.outcomes:  # every outcome is shown firing at least once
        assert any(e.expect == outcome.id for e in indicator.examples), outcome.id


@pytest.mark.parametrize("part", sorted(MINIMUMS))
def test_labeled_dev_precision_and_recall(
    definitions: Definitions, matcher: Matcher, part: str
) -> None:
    if not LABELED_DEV.is_file():
        pytest.skip(f"{LABELED_DEV} is absent: the shared corpus is only on developers' machines")
    result = score(select(load_labeled(LABELED_DEV), part), matcher, definitions.indicators)
    assert {o.key for o in result.outcomes} == {
        f"{i}:{o}" for i, outcomes in SHIPPED.items() for o in outcomes
    }
    report = result.report(errors=part == "tune")
    precision, recall = MINIMUMS[part]
    assert result.precision >= precision, report
    assert result.recall >= recall, report


@pytest.mark.parametrize("path", sorted(TRANSLATED.glob("*.tsv")), ids=lambda p: p.stem)
def test_translated_rows(definitions: Definitions, matcher: Matcher, path: Path) -> None:
    """Each indicator holds the events of its `tune` rows in every language, not only the one
    its source row was written in, and stays silent on their look-alikes there too."""
    items = load_labeled(path)
    result = score(items, matcher, definitions.indicators)
    indicator_id = path.stem
    assert {o.key.split(":")[0] for o in result.outcomes} == {indicator_id}
    assert {i.language for i in items} == {"en", "ko", "zh", "ja"}
    assert all(o.tp + o.fn >= 10 for o in result.outcomes), result.report(errors=False)
    precision, recall = TRANSLATED_MINIMUMS
    report = result.report(errors=True)
    assert result.precision >= precision, report
    assert result.recall >= recall, report


def test_silent_on_general_news(matcher: Matcher) -> None:
    feeds = sorted(REAL_FEEDS.glob("*.xml")) if REAL_FEEDS.is_dir() else []
    if not feeds:
        pytest.skip(f"{REAL_FEEDS} is absent: the shared corpus is only on developers' machines")
    entries = 0
    matches: list[str] = []
    for path in feeds:
        try:
            parsed = parse_feed(path.read_bytes(), feed_id=path.stem, url=path.as_uri())
        except ParseError:
            continue
        for entry in parsed.entries:
            entries += 1
            matches.extend(
                f"{path.name}: {m.indicator_id}:{m.outcome_id} {entry.title[:80]!r} {m.terms}"
                for m in matcher.match(entry)
            )
    assert entries > 500  # the corpus was read
    assert not matches, "\n".join(matches)
