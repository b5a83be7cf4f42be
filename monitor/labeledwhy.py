"""Why a row of a labeled score was missed or falsely matched, and why an example failed: the
outcome's tree (`monitor.match.explain`), for `monitor test --labeled FILE --explain` and the
failed examples of `monitor test` (text and `--json`). Pure: no I/O.

Each indicator is compiled alone, as `monitor explain` compiles it, so a row's explanation is
the one `monitor explain INDICATOR:OUTCOME --title T --text X` prints; and once, on the first
row that needs it, not once per row.

    why = Explainer(definitions.indicators)
    print(score(items, matcher, definitions.indicators).report(why=why.row_lines))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from monitor.domain import Indicator
from monitor.labeled import ScoredError
from monitor.match import ExampleResult, Matcher
from monitor.match.explain import EntryExplanation, as_json, explain_entry
from monitor.match.explaintext import example_lines, text_lines

__all__ = ["Explainer", "example_outcomes"]

INDENT = "  "  # a row's tree, under the row's line


class Explainer:
    """The explanations of outcomes of `indicators`, each indicator compiled on first use."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self._indicators = {i.id: i for i in indicators}
        self._machines: dict[str, Matcher] = {}

    def entry(
        self, indicator_id: str, title: str, text: str, outcome_ids: Sequence[str]
    ) -> EntryExplanation:
        """Why each of `outcome_ids` (of one indicator; at least one) did or did not fire on a
        title and text, in that order, with the entry's sentences."""
        machine = self._machine(indicator_id)
        parts = [
            explain_entry(machine, indicator_id, title, text, outcome_id=outcome_id)
            for outcome_id in outcome_ids
        ]
        return replace(parts[0], outcomes=tuple(o for part in parts for o in part.outcomes))

    def row(self, error: ScoredError) -> EntryExplanation:
        """Why a row's outcome (`error.key`, "indicator:outcome") did or did not fire."""
        indicator_id, _, outcome_id = error.key.partition(":")
        return self.entry(indicator_id, error.title, error.text, [outcome_id])

    def row_lines(self, error: ScoredError) -> list[str]:
        """The row's tree and sentences as `monitor explain` prints them, indented."""
        return [f"{INDENT}{line}" for line in text_lines(self.row(error))]

    def row_json(self, error: ScoredError) -> dict[str, Any]:
        """The document `monitor explain --json INDICATOR:OUTCOME` prints for the row."""
        return as_json(self.row(error))

    def example_json(self, result: ExampleResult) -> dict[str, Any]:
        """For a failed example, the document of the outcomes `example_outcomes` names."""
        example = result.example
        found = self.entry(
            result.indicator_id, example.text, example.body, example_outcomes(result)
        )
        return as_json(found)

    def example_lines(self, result: ExampleResult) -> list[str]:
        """For a failed example, the lines `monitor test` prints under it: why each outcome
        `example_outcomes` names did or did not fire, then the sentences."""
        example = result.example
        machine = self._machine(result.indicator_id)
        outcome_ids = example_outcomes(result)
        return example_lines(machine, result.indicator_id, example.text, example.body, outcome_ids)

    def _machine(self, indicator_id: str) -> Matcher:
        if indicator_id not in self._machines:
            self._machines[indicator_id] = Matcher((self._indicators[indicator_id],))
        return self._machines[indicator_id]


def example_outcomes(result: ExampleResult) -> list[str]:
    """The outcomes a failed example is explained by: the one expected when it did not fire,
    then those that fired though not expected."""
    wrong = [o for o in result.actual if o not in ("none", result.expected)]
    expected = [result.expected] if result.expected not in ("none", *result.actual) else []
    return [*expected, *wrong]
