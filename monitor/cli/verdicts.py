"""Analysts' verdicts: verdict add (the default), verdict list, verdict export."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import (
    ROW_ID,
    Group,
    Runtime,
    echo_json,
    echo_utf8,
    group,
    json_option,
    pass_runtime,
    recorded_of,
    send_alerts,
    write_whole,
)
from monitor.counts import count
from monitor.domain import Verdict, utc_text


class _VerdictGroup(Group):
    """`monitor verdict ENTRY INDICATOR:OUTCOME yes|no` is short for `monitor verdict add …`:
    arguments that name no subcommand go to `add` (entry ids are numbers, never a name), but
    a subcommand's name mistyped (`lst`), which click names with the one meant."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        named = bool(args) and (args[0] in self.commands or args[0].startswith("-"))
        if args and not named and not difflib.get_close_matches(args[0], self.commands, n=1):
            args = ["add", *args]  # not `lst` either: a typo, which click names
        return super().parse_args(ctx, args)


@group(
    "verdict",
    cls=_VerdictGroup,
    subcommand_metavar=(
        "[add] ENTRY INDICATOR:OUTCOME yes|no [--note TEXT] | list [OPTIONS] [INDICATOR] "
        "| export [OPTIONS]"
    ),
)
def verdict_group() -> None:
    """Analysts' verdicts: say an entry is (yes) or is not (no) evidence of an outcome.

    A `no` takes the entry out of that outcome's evidence at once, a `yes` adds an entry the
    rule missed; the indicator is re-evaluated at once and a status change names the verdict.
    `monitor verdict ENTRY INDICATOR:OUTCOME yes|no` is short for `monitor verdict add ...`.

    Example: monitor verdict 123 north-korea-stance:pressure no --note "not about Korea"
    """


def _target(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, str]:
    indicator_id, colon, outcome_id = value.partition(":")
    if not (colon and indicator_id and outcome_id):
        raise click.BadParameter(f"{value!r} is not INDICATOR:OUTCOME (e.g. visa-easing:eased)")
    return indicator_id, outcome_id


def _add_stopped(params: dict[str, Any]) -> str:
    """What `monitor verdict add` stopped by a signal was doing (`Command.stopped`)."""
    return (
        f"while recording the verdict on entry {params['entry_id']}: it is recorded whole or "
        "not at all (`monitor verdict list` shows which), and a status it moves that was not "
        "recorded yet is recorded at the next check"
    )


def _export_stopped(params: dict[str, Any]) -> str:
    output = params["output"]
    if output is not None:
        return f"while exporting the verdicts; nothing written, {output} left as it was"
    return "while exporting the verdicts; the TSV on standard output may stop short"


@verdict_group.command("add", stopped=_add_stopped)
@click.argument("entry_id", metavar="ENTRY", type=ROW_ID)
@click.argument("target", metavar="INDICATOR:OUTCOME", callback=_target)
@click.argument("verdict", type=click.Choice(["yes", "no"]))
@click.option("--note", default="", help="Why, in a few words; shown with the verdict.")
@pass_runtime
def verdict_add_cmd(
    rt: Runtime, entry_id: int, target: tuple[str, str], verdict: str, note: str
) -> None:
    """Record a verdict on a stored entry (its id: `monitor search`, `monitor history`) and
    print what changed. The verdict is recorded as by `cli`.

    Example: monitor verdict add 123 visa-easing:eased yes --note "the rule missed it"
    """
    from monitor.domain import utcnow
    from monitor.statuses import judge

    rt.must_exist = True  # no database: no entry to judge, and none is made
    judged = judge(
        rt.definitions, rt.store, entry_id=entry_id, target=target, verdict=verdict,
        who="cli", note=note, now=utcnow(), alert=bool(rt.settings.notify_urls),
    )  # fmt: skip
    send_alerts(rt)
    v = judged.verdict
    click.echo(f"{v.reason} (verdict {v.id}, {v.indicator_id}:{v.outcome_id})")
    if judged.change is None:
        click.echo(f"{v.indicator_id}: status stays {judged.status}{_outside(rt, v)}")
    else:
        c = judged.change
        click.echo(f"{c.indicator_id}: {c.old_status} -> {c.new_status}")


def _outside(rt: Runtime, verdict: Verdict) -> str:
    """Why a `yes` changed nothing when its entry is older than the indicator's window (the
    analyst would otherwise see the confirmation do nothing); "" else."""
    from monitor.statuses import beyond_window

    window = rt.definitions.indicator(verdict.indicator_id).window
    stored = rt.store.entry(verdict.entry_id)
    why = "" if stored is None else beyond_window(verdict, stored.time, window, now=verdict.at)
    if stored is None or not why:
        return ""
    day = stored.time.date().isoformat()
    return f"; entry {verdict.entry_id} ({day}) is {why}, and is kept for `monitor verdict export`"


@verdict_group.command("list", stopped="while reading the verdicts; nothing written")
@click.argument("indicator_id", metavar="[INDICATOR]", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option("One JSON object per verdict.")
@pass_runtime
def verdict_list_cmd(rt: Runtime, indicator_id: str | None, limit: int, as_json: bool) -> None:
    """Every verdict (of one indicator), newest first, superseded ones too (marked so, as a
    yes on an entry older than the indicator's window is): who, when, what.

    When there is none, one line on stderr says so and the exit code is 0 (with --json nothing
    is printed: no objects); an unknown INDICATOR is an error (exit 1). The verdicts on an
    indicator whose file was removed are listed, after a line on stderr saying so.

    Example: monitor verdict list visa-easing --limit 10
    """
    from monitor.domain import utcnow
    from monitor.statuses import SUPERSEDED, standing
    from monitor.webmodels import VerdictOut

    rt.read_only, rt.runs_rules = True, False
    listed = recorded_of(
        rt, indicator_id, lambda: rt.store.verdicts(indicator_id, limit=limit),
        name="verdict list",
    )  # fmt: skip
    if not listed:
        of = f" for {indicator_id}" if indicator_id is not None else ""
        click.echo(f"monitor: verdict list: no verdict recorded{of} yet", err=True)
    for verdict, found, does in standing(listed, rt.definitions, now=utcnow()):
        if as_json:
            echo_json(VerdictOut.of(verdict, superseded=does == SUPERSEDED).model_dump(mode="json"))
            continue
        note = f'  "{verdict.note}"' if verdict.note else ""
        note += f"  ({does})" if does else ""
        click.echo(
            f"{utc_text(verdict.at)}  {verdict.verdict:<3}  "
            f"{verdict.indicator_id}:{verdict.outcome_id}  entry {verdict.entry_id}  "
            f"by {verdict.who}{note}\n    {' '.join(found.entry.title.split())}"
        )


@verdict_group.command("export", stopped=_export_stopped)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tsv"]),
    default="tsv",
    show_default=True,
    help="The labeled TSV that `monitor test --labeled` scores.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here instead of to standard output.",
)
@pass_runtime
def verdict_export_cmd(rt: Runtime, fmt: str, output: Path | None) -> None:
    """Write every standing verdict as a labeled TSV: id, url, date, title, text, then one
    column per INDICATOR:OUTCOME of the definitions with y, n or ? (not judged).

    Example: monitor verdict export --format tsv -o verdicts.tsv
    """
    from monitor.export import labeled_tsv

    assert fmt == "tsv"
    rt.read_only, rt.runs_rules = True, False
    export = labeled_tsv(rt.definitions, rt.store.standing_verdicts())
    if output is None:
        echo_utf8(export.text, nl=False)  # a file for `monitor test --labeled`: UTF-8
    else:
        write_whole(output, [export.text], "verdict export")  # FILE whole, or as it was
    where = f" to {output}" if output is not None else ""
    left = f"; {export.left_out} judged only for outcomes no longer defined" * bool(export.left_out)
    click.echo(
        f"monitor: verdict export: {count(export.rows, 'entry')}, {count(export.labels, 'label')}"
        f"{where}{left}",
        err=True,
    )


COMMANDS = (verdict_group,)
