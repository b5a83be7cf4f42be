"""The digest's text part leaves one blank line between blocks, never two or more, whatever
parts a day has: changes with and without evidence, silences, held changes, standing
statuses with evidence of their own, feed problems, or none of these; and with its evidence
cut to fit a busy day's budget (`digest.PART_BUDGET`), the note saying so and the counts."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from monitor.digest import PART_BUDGET, DigestInput, Reads, render
from monitor.silences import Silence
from tests.test_digest import GOOD_LINK, change, evidence, sample


def at(hour: int) -> datetime:
    return datetime(2026, 1, 6, hour, tzinfo=UTC)


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
