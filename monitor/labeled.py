"""Score indicators on labeled news: precision and recall per outcome. Pure except `load_labeled`.

A labeled file is a TSV with a header row (cells may be quoted the way Python's `csv` writes
them). The columns `id`, `title` and `text` are required
(`url` and `date` are kept when present); every column named `indicator:outcome` holds one
label per row: `y` (the outcome should fire), `n` (it must not) or `?` / empty (ambiguous, not
scored). An entry is the row's title (which may be empty) and text, matched like a feed item.

    items = load_labeled(Path("labeled-dev.tsv"))
    result = score(items, matcher, definitions.indicators)
    print(result.report())
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from monitor.domain import Entry, Indicator
from monitor.match import Matcher

__all__ = [
    "LABELS",
    "LabeledItem",
    "OutcomeScore",
    "Score",
    "ScoredError",
    "load_labeled",
    "parse_labeled",
    "score",
]

LABELS = ("y", "n", "?")
REQUIRED_COLUMNS = ("id", "title", "text")


@dataclass(frozen=True)
class LabeledItem:
    """One labeled headline and lede, with a label per `indicator:outcome` column."""

    id: str
    title: str
    text: str
    labels: Mapping[str, str]  # "indicator:outcome" -> "y" | "n" | "?"
    url: str = ""
    date: str = ""
    line: int = 0

    def entry(self) -> Entry:
        """The item as the matcher sees a feed entry."""
        return Entry(
            feed_id="labeled",
            guid=f"labeled:{self.id}",
            link=self.url,
            title=self.title,
            text=self.text,
            published=None,
            publisher="labeled",
        )


@dataclass(frozen=True)
class OutcomeScore:
    key: str  # "indicator:outcome"
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when the outcome never fired."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when no item is labeled `y`."""
        return _ratio(self.tp, self.tp + self.fn)


@dataclass(frozen=True)
class ScoredError:
    """A miss (labeled `y`, did not fire) or a false alarm (labeled `n`, fired)."""

    kind: str  # "miss" | "false alarm"
    key: str
    item_id: str
    title: str
    text: str
    terms: tuple[str, ...] = ()  # the terms that fired, for a false alarm


@dataclass(frozen=True)
class Score:
    """Per-outcome counts and their micro-average over every scored outcome."""

    outcomes: tuple[OutcomeScore, ...]
    misses: tuple[ScoredError, ...] = ()
    false_alarms: tuple[ScoredError, ...] = ()
    unknown_columns: tuple[str, ...] = ()  # label columns naming no loaded outcome
    items: int = 0
    skipped: int = field(default=0)  # `?` labels of known outcomes

    @property
    def tp(self) -> int:
        return sum(o.tp for o in self.outcomes)

    @property
    def fp(self) -> int:
        return sum(o.fp for o in self.outcomes)

    @property
    def fn(self) -> int:
        return sum(o.fn for o in self.outcomes)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    def outcome(self, key: str) -> OutcomeScore:
        for o in self.outcomes:
            if o.key == key:
                return o
        raise KeyError(key)

    def report(self) -> str:
        """A plain-text table, then every miss and false alarm."""
        width = max([len(o.key) for o in self.outcomes] + [len("overall")])
        lines = [f"{'outcome':<{width}}  {'tp':>3} {'fp':>3} {'fn':>3}  precision  recall"]
        for o in self.outcomes:
            lines.append(_row(o.key, o.tp, o.fp, o.fn, o.precision, o.recall, width))
        lines.append(_row("overall", self.tp, self.fp, self.fn, self.precision, self.recall, width))
        lines.append(f"{self.items} items; {self.skipped} ambiguous labels not scored")
        if self.unknown_columns:
            lines.append(f"columns naming no loaded outcome: {', '.join(self.unknown_columns)}")
        for error in (*self.misses, *self.false_alarms):
            terms = f"  [{', '.join(error.terms)}]" if error.terms else ""
            headline = error.title or error.text
            lines.append(
                f"{error.kind.upper()} {error.key} {error.item_id}: {headline[:100]}{terms}"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------- reading


def load_labeled(path: Path | str) -> list[LabeledItem]:
    """Read a labeled TSV file. Raises ValueError naming the file and line on bad content."""
    path = Path(path)
    try:
        return parse_labeled(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise ValueError(f"labeled: {path}{exc}") from None


def parse_labeled(text: str) -> list[LabeledItem]:
    """Parse labeled TSV text (see the module docstring). Errors start with ':LINE: '."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    header = next(rows, None)
    if header is None:
        raise ValueError(":1: empty file (a header row is required)")
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f":1: missing column(s): {', '.join(missing)}")
    label_columns = [(i, h) for i, h in enumerate(header) if ":" in h]
    index = {h: i for i, h in enumerate(header)}
    items: list[LabeledItem] = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValueError(f":{line}: {len(row)} fields, the header has {len(header)}")
        labels = {key: _label(row[i], key, line) for i, key in label_columns}
        items.append(
            LabeledItem(
                id=row[index["id"]].strip(),
                title=_cell(row[index["title"]]),
                text=_cell(row[index["text"]]),
                labels=MappingProxyType(labels),
                url=row[index["url"]].strip() if "url" in index else "",
                date=row[index["date"]].strip() if "date" in index else "",
                line=line,
            )
        )
    return items


def _label(cell: str, key: str, line: int) -> str:
    value = cell.strip().lower() or "?"
    if value not in LABELS:
        raise ValueError(f":{line}: label {cell!r} in column {key!r} must be y, n or ?")
    return value


def _cell(cell: str) -> str:
    return " ".join(cell.split())


# ---------------------------------------------------------------- scoring


def score(items: Iterable[LabeledItem], matcher: Matcher, indicators: Sequence[Indicator]) -> Score:
    """Match every item and compare with its labels, for every outcome of `indicators`.

    Only `y` and `n` labels count; a column naming no outcome of `indicators` is not scored
    (it is listed in `unknown_columns`), nor is an outcome that no column labels.
    """
    items = list(items)
    known = [f"{i.id}:{o.id}" for i in indicators for o in i.outcomes]
    labeled = {key for item in items for key in item.labels}
    keys = [k for k in known if k in labeled]
    counts = {k: [0, 0, 0, 0] for k in keys}  # tp fp fn tn
    misses: list[ScoredError] = []
    alarms: list[ScoredError] = []
    skipped = 0
    for item in items:
        fired = _fired(matcher, item)
        for key in keys:
            label = item.labels.get(key, "?")
            if label == "?":
                skipped += 1
                continue
            hit = key in fired
            c = counts[key]
            if label == "y" and hit:
                c[0] += 1
            elif label == "n" and hit:
                c[1] += 1
                alarms.append(_error("false alarm", key, item, fired[key]))
            elif label == "y":
                c[2] += 1
                misses.append(_error("miss", key, item, ()))
            else:
                c[3] += 1
    return Score(
        outcomes=tuple(OutcomeScore(k, *counts[k]) for k in keys),
        misses=tuple(misses),
        false_alarms=tuple(alarms),
        unknown_columns=tuple(sorted(labeled - set(known))),
        items=len(items),
        skipped=skipped,
    )


def _fired(matcher: Matcher, item: LabeledItem) -> dict[str, tuple[str, ...]]:
    return {f"{m.indicator_id}:{m.outcome_id}": m.terms for m in matcher.match(item.entry())}


def _error(kind: str, key: str, item: LabeledItem, terms: tuple[str, ...]) -> ScoredError:
    return ScoredError(kind, key, item.id, item.title, item.text, terms)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def _row(key: str, tp: int, fp: int, fn: int, p: float, r: float, width: int) -> str:
    return f"{key:<{width}}  {tp:>3} {fp:>3} {fn:>3}  {p:>9.3f}  {r:>6.3f}"
