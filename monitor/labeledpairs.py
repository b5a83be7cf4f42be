"""Two versions of the rules on the same labeled rows (`monitor test --labeled FILE --against
DIR`): per outcome, the rows one version gets right and the other wrong (`compare`), and the
exact McNemar p-value of that split (`mcnemar`): whether an edit of the rules did better than
chance on news it was not written for. Pure: the rows come from `monitor.labeled`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.domain import Indicator
from monitor.labeled import (
    LabeledItem,
    ScoredError,
    error_json,
    error_line,
    outcomes_fired,
    scored_error,
)
from monitor.match import Matcher

__all__ = ["Comparison", "Paired", "compare", "mcnemar"]


@dataclass(frozen=True)
class Paired:
    """How one outcome's matches differ between two versions of the rules on the same rows."""

    key: str  # "indicator:outcome", or "overall"
    gained: int  # rows labeled `y` that this version matches and the other does not
    lost: int  # rows labeled `y` that the other version matches and this one does not
    alarms_added: int  # rows labeled `n` that this version matches and the other does not
    alarms_removed: int  # rows labeled `n` that the other version matches and this one does not

    @property
    def better(self) -> int:
        """Rows this version gets right and the other gets wrong."""
        return self.gained + self.alarms_removed

    @property
    def worse(self) -> int:
        """Rows the other version gets right and this one gets wrong."""
        return self.lost + self.alarms_added

    @property
    def p_value(self) -> float:
        """How often chance alone would split the rows that changed at least this unevenly
        (`mcnemar`)."""
        return mcnemar(self.better, self.worse)


@dataclass(frozen=True)
class Comparison:
    """Two versions of the rules on the same labeled rows, outcome by outcome: the rows whose
    answer changed, and whether that is more than chance (`monitor test --labeled FILE
    --against DIR`). Only outcomes both versions have are compared."""

    outcomes: tuple[Paired, ...]
    changed: tuple[ScoredError, ...] = ()  # the rows decided differently, kind as in `_KINDS`
    only_here: tuple[str, ...] = ()  # labeled outcomes of this version alone
    only_there: tuple[str, ...] = ()  # labeled outcomes of the other version alone

    @property
    def overall(self) -> Paired:
        return Paired(
            "overall",
            *(sum(getattr(o, f) for o in self.outcomes) for f in _PAIRED_COUNTS),
        )

    def report(self, rows: bool = True) -> str:
        """A table per outcome, then (with `rows`) each row that changed."""
        width = max([len(o.key) for o in self.outcomes] + [len("overall")])
        lines = [
            f"{'outcome':<{width}}  matches +  matches -  false alarms +  false alarms -"
            "  p (McNemar)"
        ]
        for o in (*self.outcomes, self.overall):
            lines.append(
                f"{o.key:<{width}}  {o.gained:>9}  {o.lost:>9}  {o.alarms_added:>14}"
                f"  {o.alarms_removed:>14}  {o.p_value:>12.3f}"
            )
        for name, keys in (("this version", self.only_here), ("the other", self.only_there)):
            if keys:
                lines.append(f"only in {name}, not compared: {', '.join(keys)}")
        if rows:
            lines += [error_line(c) for c in self.changed]
        return "\n".join(lines)

    def to_json(self, rows: bool = True) -> dict[str, object]:
        document: dict[str, object] = {
            "overall": _paired_json(self.overall),
            "outcomes": {o.key: _paired_json(o) for o in self.outcomes},
            "only_here": list(self.only_here),
            "only_there": list(self.only_there),
        }
        if rows:
            document["changed"] = [error_json(c) | {"kind": c.kind} for c in self.changed]
        return document


_PAIRED_COUNTS = ("gained", "lost", "alarms_added", "alarms_removed")
_KINDS = ("gained", "lost", "alarm added", "alarm removed")  # in `Paired`'s count order


def compare(
    items: Iterable[LabeledItem],
    here: tuple[Matcher, Sequence[Indicator]],
    there: tuple[Matcher, Sequence[Indicator]],
) -> Comparison:
    """This version of the rules (`here`) against another (`there`) on the same rows: per
    outcome both have and a column labels, the rows labeled `y` or `n` that one matches and the
    other does not."""
    items = list(items)
    labeled = {key for item in items for key in item.labels}
    mine = [f"{i.id}:{o.id}" for i in here[1] for o in i.outcomes]
    theirs = {f"{i.id}:{o.id}" for i in there[1] for o in i.outcomes}
    keys = [k for k in mine if k in theirs and k in labeled]
    counts = {k: [0, 0, 0, 0] for k in keys}
    changed: list[ScoredError] = []
    for item in items:
        now, before = outcomes_fired(here[0], item), outcomes_fired(there[0], item)
        for key in keys:
            label = item.labels.get(key, "?")
            if label == "?" or (key in now) == (key in before):
                continue
            slot = (0 if key in now else 1) + (0 if label == "y" else 2)  # a `Paired` count
            counts[key][slot] += 1
            changed.append(scored_error(_KINDS[slot], key, item, ()))
    return Comparison(
        outcomes=tuple(Paired(k, *counts[k]) for k in keys),
        changed=tuple(changed),
        only_here=tuple(k for k in mine if k not in theirs and k in labeled),
        only_there=tuple(sorted(k for k in theirs - set(mine) if k in labeled)),
    )


def mcnemar(better: int, worse: int) -> float:
    """The exact two-sided McNemar p-value: of the rows two versions decide differently, the
    chance that a fair coin splits them at least as unevenly as `better` against `worse`.
    1.0 when no row changed; small (below 0.05, say) when one version is better beyond what
    chance explains."""
    n = better + worse
    if n == 0:
        return 1.0
    tail: float = sum(math.comb(n, i) for i in range(min(better, worse) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _paired_json(o: Paired) -> dict[str, object]:
    return {
        "matches_gained": o.gained,
        "matches_lost": o.lost,
        "false_alarms_added": o.alarms_added,
        "false_alarms_removed": o.alarms_removed,
        "p_value": round(o.p_value, 4),
    }
