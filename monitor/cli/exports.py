"""`monitor export`: history, changes or evidence as CSV or JSON, for spreadsheets and notebooks
(the same as GET /export/…). Ctrl-C or SIGTERM ends it with one line and exit 130 or 143
(`stops`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import Runtime, command, in_range, pass_runtime, write_whole
from monitor.cli.stops import stopped_by_signals

KINDS = ("history", "changes", "evidence")


class Moment(click.ParamType):  # type: ignore[type-arg]  # generic in new clicks only
    """A date (YYYY-MM-DD) or an ISO 8601 time; UTC when it names no zone."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time", param, ctx)
        moment = in_range(self, moment, param, ctx)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@command("export", stopped="before it began; nothing written")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="CSV with a header row, or a JSON array of the API's objects.",
)
@click.option("--since", type=Moment(), help="Only from this date or time on (UTC if no zone).")
@click.option("--indicator", "indicator_id", metavar="ID", help="Only this indicator's.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (whole, or not at all) instead of to standard output.",
)
@pass_runtime
def export_cmd(
    rt: Runtime,
    kind: str,
    fmt: str,
    since: datetime | None,
    indicator_id: str | None,
    output: Path | None,
) -> None:
    """Write KIND as CSV or JSON: `history` (the statuses each indicator held, one row per
        stretch of time), `changes` (every status change, in the order recorded; in JSON each piece
        of evidence an analyst judged `no` since carries `judged_since`, as `monitor history
        --json`) or `evidence` (each piece of evidence of those changes, with its change's id,
    marked the same way: in CSV the columns judged_since_verdict, _who, _at, _note, _copy_of).

        In CSV a cell that starts with = + - or @ gets a leading ' so that no spreadsheet runs it.
        Ctrl-C or SIGTERM: one line (-o FILE is left as it was); exit 130 or 143.

        Example: monitor export changes --format csv --since 2026-01-01 -o changes.csv
    """
    begun: list[bool] = []  # standard output got a first chunk

    def stopped(why: str) -> str:
        if output is not None:
            return f"export: {why}; nothing written, {output} left as it was"
        if begun:
            return f"export: {why}; the {kind} on standard output stop short"
        return f"export: {why} before anything was written"

    with stopped_by_signals(stopped):
        _export(rt, kind, fmt, since, indicator_id, output, begun)


def _export(
    rt: Runtime,
    kind: str,
    fmt: str,
    since: datetime | None,
    indicator_id: str | None,
    output: Path | None,
    begun: list[bool],
) -> None:
    from monitor import export, views
    from monitor.domain import utcnow

    rt.read_only, rt.runs_rules = True, False
    try:
        rows = views.exported(
            kind,  # type: ignore[arg-type]  # one of KINDS, checked by click
            rt.definitions,
            rt.store,
            indicator_id=indicator_id,
            since=since,
            kept_since=utcnow() - rt.settings.retention,
        )
    except KeyError:
        raise click.ClickException(
            f"export: {rt.definitions.no_indicator(indicator_id or '')}"
        ) from None
    model = export.MODELS[kind]
    text = export.csv_text(model, rows) if fmt == "csv" else export.json_text(rows)
    if output is None:
        for chunk in text:  # bytes: UTF-8 whatever the terminal's encoding
            begun[:] = [True]
            click.echo(chunk.encode("utf-8", "replace"), nl=False)
        return
    write_whole(output, text, "export")
    click.echo(f"monitor: export: {kind} to {output}", err=True)


COMMANDS = (export_cmd,)
