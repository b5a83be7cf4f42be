"""Commands that check and record: check (one cycle now), replay (stored entries again)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
from datetime import UTC, datetime, time
from typing import TextIO

import click

from monitor.cli.common import (
    Day,
    Runtime,
    command,
    echo_json,
    json_option,
    pass_runtime,
    send_alerts,
    take_over_claims,
)


@command("check")
@json_option("Print the changes as JSON lines.")
@click.option(
    "--force",
    is_flag=True,
    help="Check every feed now, whatever its schedule, dead (410) ones too.",
)
@pass_runtime
def check_cmd(rt: Runtime, as_json: bool, force: bool) -> None:
    """Run one check cycle now and print the status changes it recorded.

    On a terminal it shows how many of the due feeds are done; piped, only the summary.
    Its feeds are leased to this process: a second `monitor check` (or a daemon) meanwhile
    checks others, and one killed leaves leases the next one takes over at once.

    Example: monitor check --force
    """
    from monitor.domain import utcnow
    from monitor.pipeline import prepare, run_cycle, start_parsers
    from monitor.webmodels import ChangeOut

    ctx = rt.context()  # settings first: they set up the logging that progress keeps apart
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    ctx = dataclasses.replace(ctx, force=force, progress=progress)
    now = utcnow()
    start_parsers(ctx)
    changes = prepare(ctx, now=now)
    take_over_claims(rt, now)
    try:
        report = run_cycle(ctx, now=now, clock=utcnow)
    finally:
        if progress is not None:
            progress.clear()
    report.changes[:0] = changes  # recorded on reading the definitions: this check's too
    click.echo(report.summary(), err=True)
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    send_alerts(rt)
    for change in report.changes:
        if as_json:
            echo_json(ChangeOut.of(change).model_dump(mode="json"))
        else:
            click.echo(
                f"{change.indicator_id}: {change.old_status} -> {change.new_status} "
                f"({len(change.evidence)} evidence)"
            )
            if change.reason:  # a change to unknown says why, as `monitor history` does
                click.echo(f"  because {change.reason}")


class _Progress(logging.Filter):
    """`monitor: checked 12/30 feeds`, rewritten in place on a terminal; erased before a log
    line is written (it filters the log handlers), so the two never share a line."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._shown = False
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)

    def __call__(self, done: int, total: int) -> None:
        self._stream.write(f"\rmonitor: checked {done}/{total} feeds")
        self._stream.flush()
        self._shown = True

    def filter(self, record: logging.LogRecord) -> bool:
        self.clear()
        return True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")  # back to the start of the line, and erase it
            self._stream.flush()
            self._shown = False


@command("replay")
@click.option(
    "--since",
    "since",
    required=True,
    type=Day(),
    help="Re-evaluate entries from this date (YYYY-MM-DD, UTC).",
)
@click.option("--dry-run", is_flag=True, help="Print the changes it would record; record nothing.")
@pass_runtime
def replay_cmd(rt: Runtime, since: datetime, dry_run: bool) -> None:
    """Re-evaluate stored entries against today's definitions; record changes as replayed.

    With --dry-run it does all of it in one transaction that is rolled back: it prints the
    changes it would record and leaves the database as it was.

    Example: monitor replay --since 2026-01-01 --dry-run

    Example: monitor replay --since 2026-01-01
    """
    from monitor.domain import utcnow
    from monitor.pipeline import evaluate_and_record, prepare, rematch

    ctx = rt.context()
    now = utcnow()
    start = datetime.combine(since.date(), time(), UTC)
    with rt.store.rehearsal() if dry_run else contextlib.nullcontext(rt.store) as store:
        ctx = dataclasses.replace(ctx, store=store)
        prepare(ctx, now=now, evaluate=False)
        rematched = rematch(ctx, start)
        changes = evaluate_and_record(ctx, now=now, replayed=True)
    would, mark = (" would be", "would record") if dry_run else ("", "replayed")
    nothing = "; dry run: nothing recorded" if dry_run else ""
    click.echo(
        f"replay: {rematched[0]} entries{would} re-matched, {rematched[1]} matches, "
        f"{len(changes)} status changes{nothing}",
        err=True,
    )
    for change in changes:
        click.echo(f"{change.indicator_id}: {change.old_status} -> {change.new_status} ({mark})")


COMMANDS = (
    check_cmd,
    replay_cmd,
)
