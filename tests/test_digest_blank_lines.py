"""The digest's text part leaves one blank line between blocks, never two or more, whatever
parts a day has: changes with and without evidence, silences, held changes, standing
statuses with evidence of their own, feed problems, or none of these; and with its evidence
cut to fit a busy day's budget (`digest.PART_BUDGET`), the note saying so and the counts."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.digest import PART_BUDGET, DigestInput, Reads, render
from monitor.silences import Silence
from monitor.webmodels import IndicatorView
from tests.test_digest import GOOD_LINK, change, evidence, sample
from tests.test_digest import line as standing


def at(hour: int) -> datetime:
    return datetime(2026, 1, 6, hour, tzinfo=UTC)


def line(*args: Any, count: int = 0) -> IndicatorView:
    """A standing status (`test_digest.line`) with `count` pieces of evidence, more than it has."""
    view = standing(*args)
    return dataclasses.replace(view, evidence_count=max(count, view.evidence_count))


GOOD = evidence("Xi tells Lee China will enforce sanctions", GOOD_LINK, hour=1)
OTHER = evidence("Seoul and Beijing agree on talks", "https://example.com/a", hour=3)
SILENCES = (
    Silence("nk", None, "state visit: expected noise", "ana", at(1), at(23)),
    Silence("tw", "patrols", "drills", "bob", at(1), at(20)),
)
SHAPES = {
    "the sample day": {},
    "silences, held changes and reads": {
        "silences": SILENCES, "held": 2, "reads": Reads(2, 3, 2, at(5)),
    },
    "nothing at all": {"changes": (), "indicators": (), "feed_problems": (), "page_url": None},
    "no change, standing evidence, a silence": {
        "changes": (), "silences": SILENCES[:1], "held": 1, "feed_problems": (),
    },
    "several changes, one without evidence": {
        "changes": (
            change("nk", "quiet", "pressure:confirmed", GOOD, OTHER),
            change("tw", "pressure:reported", "quiet", hour=4),
            change("tw", "quiet", "unknown", OTHER, hour=5),
        ),
        "reads": Reads(0, 0, 0, None),
    },
    "standing statuses with evidence listed above, more of it, and none": {
        "changes": (dataclasses.replace(change("nk", "quiet", "pressure:confirmed", GOOD),
                                        evidence_total=4),),
        "indicators": (
            line("nk", "North Korea", "Korea", "pressure:confirmed", at(2), (GOOD,), count=4),
            line("tw", "Taiwan Strait patrols", "Korea", "quiet", at(2)),
            line("jp", "Japan", "Korea", "pressure:reported", at(2), (OTHER,), count=3),
            line("kr", "Korea", "Korea", "quiet", at(2)),
        ),
        "page_url": None,
    },
}  # fmt: skip


@pytest.mark.parametrize("budget", [PART_BUDGET, 1], ids=["whole", "evidence cut to fit"])
@pytest.mark.parametrize("overrides", SHAPES.values(), ids=SHAPES.keys())
def test_one_blank_line_between_blocks(overrides: dict[str, object], budget: int) -> None:
    data: DigestInput = dataclasses.replace(sample(), **overrides)  # type: ignore[arg-type]
    text, _ = render(data, budget)
    runs = [m.start() for m in re.finditer(r"\n[ \t]*\n[ \t]*\n", text)]
    assert runs == [], "\n".join(text[max(0, i - 80) : i + 3].replace("\n", "¶\n") for i in runs)
    for heading in ("WHAT CHANGED", "STANDING STATUS", "FEED HEALTH"):
        assert f"\n\n{heading}\n" in text  # still set apart by one blank line
    assert "\n-- \nGenerated " in text  # the signature's separator keeps its space


@pytest.mark.parametrize("budget", [PART_BUDGET, 1], ids=["whole", "evidence cut to fit"])
@pytest.mark.parametrize("overrides", SHAPES.values(), ids=SHAPES.keys())
def test_an_item_s_lines_stay_together_and_items_are_set_apart(
    overrides: dict[str, object], budget: int
) -> None:
    """No blank line inside a change or a standing status (its "(… listed above)" and "- and N
    more" lines read as the next one's, after one), and one after each of them."""
    data: DigestInput = dataclasses.replace(sample(), **overrides)  # type: ignore[arg-type]
    text, _ = render(data, budget)
    body = text.split("\nWHAT CHANGED\n")[1].split("\nFEED HEALTH\n")[0]
    assert re.findall(r"\n\n( +\S.*)", body) == []  # an item's line after a blank line
    standing = body.split("\nSTANDING STATUS\n")[1].splitlines()
    starts = [i for i, shown in enumerate(standing) if shown.startswith("* ")]
    # each after a blank line, or after its group's name (which follows one)
    assert all(standing[i - 1] == "" or standing[i - 2] == "" for i in starts), standing
    assert all(standing[i - 1] == "" or standing[i - 1][0] not in " *" for i in starts)
