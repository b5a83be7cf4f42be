"""Analysts' standing verdicts as a labeled TSV: the format `monitor test --labeled` scores.

One row per judged entry: `id` (the entry's id), `url`, `date` (the entry's time, UTC),
`title` and `text` (each on one line), then one column per `indicator:outcome` of the current
definitions holding `y` (its standing verdict is yes), `n` (no) or `?` (not judged). Entries
judged only for outcomes the definitions no longer have are left out. Pure: the store hands
the verdicts in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.domain import Definitions, Judgement, Verdict
from monitor.store import StoredEntry

__all__ = ["Export", "labeled_tsv"]

COLUMNS = ("id", "url", "date", "title", "text")
_LABEL = {Judgement.YES: "y", Judgement.NO: "n"}


@dataclass(frozen=True)
class Export:
    text: str
    rows: int  # entries written
    labels: int  # y and n cells
    left_out: int  # judged entries whose every verdict names an outcome no longer defined


def labeled_tsv(
    definitions: Definitions, standing: Sequence[tuple[Verdict, StoredEntry]]
) -> Export:
    """The TSV of `standing` verdicts (one per entry, indicator and outcome)."""
    keys = [f"{i.id}:{o.id}" for i in definitions.indicators for o in i.outcomes]
    known = set(keys)
    entries: dict[int, StoredEntry] = {}
    labels: dict[int, dict[str, str]] = {}
    for verdict, stored in standing:
        entries[stored.id] = stored
        key = f"{verdict.indicator_id}:{verdict.outcome_id}"
        if key in known:
            labels.setdefault(stored.id, {})[key] = _LABEL[verdict.verdict]
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow([*COLUMNS, *keys])
    for entry_id in sorted(labels):
        stored, row = entries[entry_id], labels[entry_id]
        entry = stored.entry
        writer.writerow(
            [
                str(entry_id),
                _cell(entry.link),
                stored.time.date().isoformat(),
                _cell(entry.title),
                _cell(entry.text),
                *(row.get(key, "?") for key in keys),
            ]
        )
    cells = sum(len(row) for row in labels.values())
    return Export(out.getvalue(), len(labels), cells, len(entries) - len(labels))


def _cell(text: str) -> str:
    """On one line, as `monitor test --labeled` reads a cell anyway."""
    return " ".join(text.split())
