"""Score indicators on labeled news: precision and recall per outcome. Pure except `load_labeled`.

A labeled file is a TSV with a header row (cells may be quoted the way Python's `csv` writes
them, with line breaks kept). The columns `id`, `title` and `text` are required
(`url` and `date` are kept when present); every column named `indicator:outcome` holds one
label per row: `y` (the outcome should fire), `n` (it must not) or `?` / empty (ambiguous, not
scored). An entry is the row's title (which may be empty) and text, matched like a feed item.

Rules are tuned on one part of a labeled file and measured on the other, so that the figures
say how the rules do on news they were not written for: `part_of(id)` puts a row in `tune`
(about 2/3) or `score` (about 1/3) by the SHA-256 of its id, the same on every machine and for
every order of rows. Every figure is also split by `language_of` the row (en, ko, zh, ja), read
from its script, because the rules are written per language and fail per language.

    items = select(load_labeled(Path("labeled-dev.tsv")), "score")
    result = score(items, matcher, definitions.indicators)
    print(result.report())

Each rate comes with its 95 % interval (`interval`): on a few dozen rows a rate is uncertain.
Two versions of the rules are compared on the same rows in `monitor.labeledpairs`.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from monitor.columns import clip
from monitor.counts import count, plural
from monitor.domain import Entry, Indicator, read_cell, without_controls
from monitor.languages import LANGUAGES, language_of
from monitor.match import Matcher

__all__ = [
    "LABELS",
    "LANGUAGES",
    "PARTS",
    "LabeledItem",
    "OutcomeScore",
    "Score",
    "ScoredError",
    "error_json",
    "error_line",
    "interval",
    "language_of",
    "load_labeled",
    "outcomes_fired",
    "parse_labeled",
    "part_of",
    "score",
    "scored_error",
    "select",
]

LABELS = ("y", "n", "?")
REQUIRED_COLUMNS = ("id", "title", "text")
PARTS = ("tune", "score", "all")


def part_of(item_id: str) -> str:
    """`score` for about a third of ids, `tune` for the rest: by the SHA-256 of the id.

    A hash rather than the row's position, so the split survives rows being added, removed or
    reordered: a row never moves between parts.
    """
    digest = hashlib.sha256(item_id.encode("utf-8")).digest()
    return "score" if int.from_bytes(digest[:8], "big") % 3 == 0 else "tune"


def select(items: Iterable[LabeledItem], part: str) -> list[LabeledItem]:
    """The items of one part (`tune`, `score`), or every item for `all`."""
    if part not in PARTS:
        raise ValueError(f"labeled: part {part!r} must be one of {', '.join(PARTS)}")
    return [i for i in items if part == "all" or part_of(i.id) == part]


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

    @property
    def language(self) -> str:
        return language_of(f"{self.title} {self.text}")

    @property
    def part(self) -> str:
        return part_of(self.id)

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
    """Counts for one outcome, one language (key `en`), or one outcome in one language."""

    key: str  # "indicator:outcome", or a language
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

    @property
    def precision_interval(self) -> tuple[float, float]:
        """Where the precision on news like this lies, 95 times in 100 (`interval`)."""
        return interval(self.tp, self.tp + self.fp)

    @property
    def recall_interval(self) -> tuple[float, float]:
        """Where the recall on news like this lies, 95 times in 100 (`interval`)."""
        return interval(self.tp, self.tp + self.fn)


Z_95 = 1.959964  # the standard normal quantile that leaves 2.5 % on each side


def interval(hits: int, trials: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of the proportion hits / trials: the range a rate
    measured on this few labeled items leaves open (0.0 to 1.0 with no trials). A recall of
    65 / 84 is 0.774, and any recall from 0.674 to 0.850 gives that count readily; Wilson's
    interval, unlike p ± z·√(p(1-p)/n), stays inside 0..1 and is not empty at 0 or n hits."""
    if trials <= 0:
        return 0.0, 1.0
    p = hits / trials
    z2 = Z_95 * Z_95
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = Z_95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ScoredError:
    """A row worth a look: a miss (labeled `y`, did not fire) or a false alarm (labeled `n`,
    fired); in a `Comparison`, a row two versions of the rules decide differently."""

    kind: str  # "miss" | "false alarm"; "gained" | "lost" | "alarm added" | "alarm removed"
    key: str
    item_id: str
    title: str
    text: str
    terms: tuple[str, ...] = ()  # the terms that fired, for a false alarm
    language: str = "en"


@dataclass(frozen=True)
class Score:
    """Per-outcome counts and their micro-average over every scored outcome."""

    outcomes: tuple[OutcomeScore, ...]
    languages: tuple[OutcomeScore, ...] = ()  # every outcome together, per language
    by_language: tuple[tuple[str, tuple[OutcomeScore, ...]], ...] = ()  # lang -> per outcome
    misses: tuple[ScoredError, ...] = ()
    false_alarms: tuple[ScoredError, ...] = ()
    unknown_columns: tuple[str, ...] = ()  # label columns naming no loaded outcome
    closest: tuple[tuple[str, str], ...] = ()  # (unknown column, the loaded outcome it is near)
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

    def report(
        self, errors: bool = True, why: Callable[[ScoredError], Sequence[str]] | None = None
    ) -> str:
        """Tables per outcome and per language, then (with `errors`) each miss and false alarm,
        each followed by the lines `why` gives for it (`monitor.labeledwhy`: its tree)."""
        width = max([len(o.key) for o in self.outcomes] + [len("overall")])
        head = (
            f"{{:<{width}}}  {'tp':>3} {'fp':>3} {'fn':>3}  precision  recall"
            "  precision 95%  recall 95%"
        )
        lines = [head.format("outcome")]
        lines += [_row(o, width) for o in self.outcomes]
        lines.append(_row(self.overall, width))
        lines += ["", head.format("language")]
        lines += [_row(o, width) for o in self.languages]
        lines.append(
            f"{count(self.items, 'item')}; {count(self.skipped, 'ambiguous label')} not scored"
        )
        if self.unknown_columns:
            near = dict(self.closest)
            named = [
                f"{c} (did you mean {near[c]}?)" if c in near else c for c in self.unknown_columns
            ]
            lines.append(f"columns naming no loaded outcome, not scored: {', '.join(named)}")
        if errors:
            for e in (*self.misses, *self.false_alarms):
                lines += [error_line(e), *(why(e) if why else ())]
        return "\n".join(lines)

    @property
    def overall(self) -> OutcomeScore:
        return OutcomeScore("overall", self.tp, self.fp, self.fn, sum(o.tn for o in self.outcomes))

    def to_json(
        self, why: Callable[[ScoredError], dict[str, Any]] | None = None
    ) -> dict[str, object]:
        """The score as plain data: `monitor test --labeled FILE --json`; with `why`, each miss
        and false alarm has an `explanation`, the document `why` gives for it."""
        return {
            "items": self.items,
            "skipped": self.skipped,
            "overall": _counts(self.overall),
            "outcomes": {o.key: _counts(o) for o in self.outcomes},
            "languages": {
                lang: {**_counts(total), "outcomes": {o.key: _counts(o) for o in per}}
                for total, (lang, per) in zip(self.languages, self.by_language, strict=True)
            },
            "misses": [_explained(error_json(e), e, why) for e in self.misses],
            "false_alarms": [_explained(error_json(e), e, why) for e in self.false_alarms],
            "unknown_columns": list(self.unknown_columns),
        }


# ---------------------------------------------------------------- reading


def load_labeled(path: Path | str) -> list[LabeledItem]:
    """Read a labeled TSV file. Raises ValueError naming the file and line on bad content."""
    data = Path(path).read_bytes()
    try:
        return parse_labeled(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:  # a ValueError too: before it
        line = data[: exc.start].count(b"\n") + 1
        where = f"{path}:{line}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        raise ValueError(f"labeled: {where}") from None
    except ValueError as exc:
        raise ValueError(f"labeled: {path}{exc}") from None


def parse_labeled(text: str) -> list[LabeledItem]:
    """Parse labeled TSV text (see the module docstring). Errors start with ':LINE: '."""
    rows = _rows(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))
    top = next(rows, None)
    if top is None:
        raise ValueError(":1: empty file (a header row is required)")
    header = [h.strip() for h in top[1]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and "," in header[0]:  # saved as CSV: the header is one cell
            hint = "; the header has no tab: the columns are separated by tabs (TSV), not commas"
        columns = plural("column", len(missing))
        raise ValueError(f":1: missing {columns}: {', '.join(missing)}{hint}")
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:  # which of the two would count?
        raise ValueError(f":1: {plural('column', len(twice))} named twice: {', '.join(twice)}")
    label_columns = [(i, h) for i, h in enumerate(header) if ":" in h]
    index = {h: i for i, h in enumerate(header)}
    items: list[LabeledItem] = []
    first: dict[str, int] = {}  # item id -> the line it is on
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValueError(f":{line}: {len(row)} fields, the header has {len(header)}")
        item_id = row[index["id"]].strip()
        if item_id in first:  # scored twice, or a copy with other labels: either is a mistake
            raise ValueError(f":{line}: id {item_id!r} again (first at line {first[item_id]})")
        first[item_id] = line
        labels = {key: _label(row[i], key, line) for i, key in label_columns}
        items.append(
            LabeledItem(
                id=item_id,
                title=_cell(row[index["title"]]),
                text=_cell(row[index["text"]]),
                labels=MappingProxyType(labels),
                url=read_cell(row[index["url"]].strip()) if "url" in index else "",
                date=row[index["date"]].strip() if "date" in index else "",
                line=line,
            )
        )
    return items


def _rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """The reader's rows, each with the line it begins on (a quoted cell may span lines)."""
    while True:
        start = getattr(reader, "line_num", 0) + 1
        try:
            yield start, next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            why = f"{exc} (a cell that opens a quote and never closes it?)"
            raise ValueError(f":{start}: {why}") from None


def _label(cell: str, key: str, line: int) -> str:
    value = cell.strip().lower() or "?"
    if value not in LABELS:
        raise ValueError(f":{line}: label {cell!r} in column {key!r} must be y, n or ?")
    return value


def _cell(cell: str) -> str:  # a line break ends a sentence for the matcher, as in a feed's text
    cell = without_controls(cell)  # as parse drops them from a feed's text: a row is printed
    text = "\n".join(" ".join(words) for line in cell.split("\n") if (words := line.split()))
    return read_cell(text)  # `'=…` as the export (or a spreadsheet) wrote `=…`


# ---------------------------------------------------------------- scoring


def _closest(columns: Sequence[str], known: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Each column with the loaded outcome it most likely misspells (`visa-easing:eassed`)."""
    pairs = ((c, difflib.get_close_matches(c, known, n=1, cutoff=0.8)) for c in columns)
    return tuple((c, near[0]) for c, near in pairs if near)


def score(items: Iterable[LabeledItem], matcher: Matcher, indicators: Sequence[Indicator]) -> Score:
    """Match every item and compare with its labels, for every outcome of `indicators`.

    Only `y` and `n` labels count; a column naming no outcome of `indicators` is not scored
    (it is listed in `unknown_columns`), nor is an outcome that no column labels.
    """
    items = list(items)
    known = [f"{i.id}:{o.id}" for i in indicators for o in i.outcomes]
    labeled = {key for item in items for key in item.labels}
    keys = [k for k in known if k in labeled]
    # (language, key) -> tp fp fn tn
    counts = {(lang, k): [0, 0, 0, 0] for lang in LANGUAGES for k in keys}
    misses: list[ScoredError] = []
    alarms: list[ScoredError] = []
    skipped = 0
    for item in items:
        fired = outcomes_fired(matcher, item)
        lang = item.language
        for key in keys:
            label = item.labels.get(key, "?")
            if label == "?":
                skipped += 1
                continue
            hit = key in fired
            c = counts[lang, key]
            if label == "y" and hit:
                c[0] += 1
            elif label == "n" and hit:
                c[1] += 1
                alarms.append(scored_error("false alarm", key, item, fired[key]))
            elif label == "y":
                c[2] += 1
                misses.append(scored_error("miss", key, item, ()))
            else:
                c[3] += 1
    by_language = tuple(
        (lang, tuple(OutcomeScore(k, *counts[lang, k]) for k in keys)) for lang in LANGUAGES
    )
    return Score(
        outcomes=tuple(_sum(k, [counts[lang, k] for lang in LANGUAGES]) for k in keys),
        languages=tuple(_sum(lang, [counts[lang, k] for k in keys]) for lang in LANGUAGES),
        by_language=by_language,
        misses=tuple(misses),
        false_alarms=tuple(alarms),
        unknown_columns=tuple(sorted(labeled - set(known))),
        closest=_closest(sorted(labeled - set(known)), known),
        items=len(items),
        skipped=skipped,
    )


def outcomes_fired(matcher: Matcher, item: LabeledItem) -> dict[str, tuple[str, ...]]:
    """ "indicator:outcome" -> the terms that fired, for each outcome the row matches."""
    return {f"{m.indicator_id}:{m.outcome_id}": m.terms for m in matcher.match(item.entry())}


def scored_error(kind: str, key: str, item: LabeledItem, terms: tuple[str, ...]) -> ScoredError:
    """A row the rules decided wrong (or, comparing, differently) for outcome `key`."""
    return ScoredError(kind, key, item.id, item.title, item.text, terms, item.language)


def _sum(key: str, rows: Sequence[Sequence[int]]) -> OutcomeScore:
    return OutcomeScore(key, *(sum(row[i] for row in rows) for i in range(4)))


def _counts(o: OutcomeScore) -> dict[str, object]:
    return {
        "tp": o.tp,
        "fp": o.fp,
        "fn": o.fn,
        "tn": o.tn,
        "precision": round(o.precision, 4),
        "recall": round(o.recall, 4),
        "precision_interval": [round(x, 4) for x in o.precision_interval],
        "recall_interval": [round(x, 4) for x in o.recall_interval],
    }


def error_line(e: ScoredError) -> str:
    """One line of a report: the kind, the outcome, the row, its headline and lede, the terms."""
    terms = f"  [{', '.join(e.terms)}]" if e.terms else ""
    headline = " | ".join(filter(None, (e.title, e.text)))
    return f"{e.kind.upper()} {e.key} {e.item_id} ({e.language}): {clip(headline, 160)}{terms}"


def error_json(e: ScoredError) -> dict[str, object]:
    """A row of a report as JSON (`--json`)."""
    return {
        "outcome": e.key,
        "id": e.item_id,
        "language": e.language,
        "title": e.title,
        "text": e.text,
        "terms": list(e.terms),
    }


def _explained(
    document: dict[str, object],
    e: ScoredError,
    why: Callable[[ScoredError], dict[str, Any]] | None,
) -> dict[str, object]:
    return document if why is None else {**document, "explanation": why(e)}


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def _row(o: OutcomeScore, width: int) -> str:
    # A rate of nothing counted is shown as none: its 1.0 would read as a perfect rule.
    precision = _rate(o.precision, o.tp + o.fp)
    recall = _rate(o.recall, o.tp + o.fn)
    return (
        f"{o.key:<{width}}  {o.tp:>3} {o.fp:>3} {o.fn:>3}  {precision:>9}  {recall:>6}"
        f"  {_span(o.precision_interval):>13}  {_span(o.recall_interval):>10}"
    )


def _rate(value: float, counted: int) -> str:
    return f"{value:.3f}" if counted else "-"


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:.2f}-{bounds[1]:.2f}"
