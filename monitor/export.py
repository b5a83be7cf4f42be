"""Exports: the answers' models as CSV or JSON for spreadsheets and notebooks, and analysts'
standing verdicts as a labeled TSV. Pure: the store (through `monitor.views`) hands the rows in.

`csv_text` and `json_text` turn a stream of models (`monitor.webmodels`) into a stream of text,
a chunk of about `CHUNK` characters at a time, so an export of any size is written as it is
read. CSV (RFC 4180, UTF-8, CRLF): a header row of the model's fields, one row per model;
a list of words is one cell joined by "; ", a list of models its count (`evidence_count`; a
model that says the count itself, as a change does of the evidence it had, gives that), one
model its fields' columns (`judged_since_who`, empty cells when it is null), null an empty cell,
every text on one line without control characters, and a cell that a spreadsheet would take
for a formula (it starts with = + - or @) is prefixed with a `'`.
JSON: an array of the models as the API answers them.

The labeled TSV (`labeled_tsv`): one row per judged entry: `id` (the entry's id), `url`,
`date` (the entry's time, UTC), `title` and `text` (line breaks kept: a quoted cell), then one
column per `indicator:outcome` of the current definitions holding `y` (its standing verdict is yes),
`n` (no) or `?` (not judged); a `url`, `title` or `text` that a spreadsheet would take for a
formula gets a leading `'` as in the CSV, which the reader (`monitor.labeled`) takes off again.
Entries judged only for outcomes the definitions no longer have
are left out.
"""

from __future__ import annotations

import csv
import io
import re
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.domain import FORMULA_STARTS, Definitions, Judgement, Verdict, inert_cell
from monitor.store import StoredEntry
from monitor.webmodels import ChangeEvidenceOut, ChangeOut, PeriodOut

__all__ = ["CHUNK", "MODELS", "Export", "Row", "csv_text", "json_text", "labeled_tsv"]

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
                inert_cell(_cell(entry.link)),
                stored.time.date().isoformat(),
                inert_cell(_cell(entry.title)),
                inert_cell(_cell(entry.text)),
                *(row.get(key, "?") for key in keys),
            ]
        )
    cells = sum(len(row) for row in labels.values())
    return Export(out.getvalue(), len(labels), cells, len(entries) - len(labels))


def _cell(text: str) -> str:
    """Spaces run together and line breaks kept, as `monitor test --labeled` reads a cell: a
    line break ends a sentence for the matcher, so text on one line could match a rule (with
    `scope: sentence`, or `unless`) otherwise than the stored entry did."""
    return "\n".join(" ".join(words) for line in text.split("\n") if (words := line.split()))


# ---------------------------------------------------------------- CSV and JSON

CHUNK = 65_536  # characters of text handed on at a time
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


class Row(Protocol):
    """A model of `monitor.webmodels` (pydantic is imported by that module alone)."""

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...

    def model_dump_json(self) -> str: ...


MODELS: dict[str, type[Row]] = {  # what a row of `monitor export KIND` is
    "history": PeriodOut,
    "changes": ChangeOut,
    "evidence": ChangeEvidenceOut,
}


def csv_text(model: type[Row], rows: Iterable[Row]) -> Iterator[str]:
    """The CSV of `rows` (each a `model`): the header row, then a row per model."""
    fields: dict[str, Any] = getattr(model, "model_fields")  # noqa: B009  # pydantic's, typed
    lists = {name for name in fields if _is_model_list(fields[name].annotation)}
    # A list whose model says its count itself (a change keeps only its top evidence) is that.
    names = [name for name in fields if not (name in lists and f"{name}_count" in fields)]
    counted = lists & set(names)
    # One model (or null) is its fields' columns: `judged_since_who`, empty cells for null.
    nested = {n: list(_model_fields(fields[n].annotation)) for n in names}
    header: list[str] = []
    for name in names:
        if name in counted:
            header.append(f"{name}_count")
        else:
            header += [f"{name}_{sub}" for sub in nested[name]] or [name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        values = row.model_dump(mode="json")
        cells = [_cells(values[n], n in counted, nested[n]) for n in names]
        writer.writerow([cell for field in cells for cell in field])
        if out.tell() >= CHUNK:
            yield _take(out)
    yield _take(out)


def json_text(rows: Iterable[Row]) -> Iterator[str]:
    """A JSON array of `rows`, one model a line."""
    out = io.StringIO()
    out.write("[")
    for n, row in enumerate(rows):
        out.write(",\n" if n else "\n")
        out.write(row.model_dump_json())
        if out.tell() >= CHUNK:
            yield _take(out)
    out.write("\n]\n")
    yield _take(out)


def spreadsheet_cell(value: object) -> str:
    """One JSON value of a model as a cell a spreadsheet shows and never runs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        value = "; ".join(" ".join(_CONTROL.sub("", str(v)).split()) for v in value)
    text = " ".join(_CONTROL.sub("", str(value)).split())
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cells(value: Any, counted: bool, subfields: Sequence[str]) -> list[str]:
    """The cells of one field's JSON value: a list of models' count, a model's fields, or one."""
    if counted:
        return [_counted(value)]
    if subfields:
        return [spreadsheet_cell((value or {}).get(sub)) for sub in subfields]
    return [spreadsheet_cell(value)]


def _counted(value: list[Any] | None) -> str:
    """A list of models as its count: "" for null (not known, as a change's `unread_feeds`
    recorded before they were kept)."""
    return "" if value is None else str(len(value))


def _model_fields(annotation: object) -> dict[str, Any]:
    """The fields of a field that is one model, or that or null; {} for any other."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _model_fields(kinds[0]) if len(kinds) == 1 else {}
    found: dict[str, Any] = getattr(annotation, "model_fields", {})
    return found if isinstance(found, dict) else {}


def _is_model_list(annotation: object) -> bool:
    """Whether a field is a list of models, or that or null."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(kinds) == 1 and _is_model_list(kinds[0])
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) is list and hasattr(args[0], "model_fields")


def _take(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text
