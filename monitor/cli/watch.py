"""Commands that check and record: check (one cycle now), replay (stored entries again).

Ctrl-C or SIGTERM ends either with one line and exit 130 or 143 (`stops`)."""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, TextIO

import click

from monitor import owners
from monitor.cli.common import (
    Day,
    Runtime,
    command,
    echo_json,
    echo_unread,
    json_option,
    one_line,
    pass_runtime,
    send_alerts,
    take_over_claims,
)
from monitor.cli.stops import (
    Interrupted,
    Stopped,
    StoppedByTerm,
    Terminated,
    stopped_by,
    stopped_by_signals,
    stopping_gently,
    terminable,
)
from monitor.counts import count, every_one_failed
from monitor.domain import utc_text
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.domain import StatusChange
    from monitor.store import FeedState, Store

FORCE_HINT = "--force checks every feed now"
NOTHING_READ = 3  # `monitor check`'s exit code when every feed it checked failed


@command(
    "check",
    stopped="outside its cycle (before it, or printing and sending alerts after it); what the "
    "cycle stored stays stored",
)
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
    checks others, and one killed leaves leases the next one takes over at once. Ctrl-C or
    SIGTERM: what was answered is stored, the rest released; exit 130 or 143. Exit 3 when
    every feed it checked failed (it read nothing); 0 when one was read or none was due.

    Example: monitor check --force
    """
    from monitor.domain import utcnow
    from monitor.fetch import FetchStopped
    from monitor.pipeline import LookStopped, prepare, run_cycle, start_parsers
    from monitor.webmodels import ChangeOut

    ctx = rt.context()  # settings first: they set up the logging that progress keeps apart
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    stop = threading.Event()  # set by Ctrl-C or SIGTERM: the cycle stops between two steps
    ctx = dataclasses.replace(ctx, force=force, progress=progress, stop=stop)
    now = utcnow()
    with (
        stopped_by_signals(lambda why: _check_stopped(rt, why, since=now)),
        stopping_gently(stop) as signals,
    ):
        try:
            start_parsers(ctx)
            changes = prepare(ctx, now=now)
            take_over_claims(rt, now)
            report = run_cycle(ctx, now=now, clock=utcnow)
        except (FetchStopped, LookStopped) as exc:
            done = str(exc)  # what it did and did not do
            raise stopped_by(signals[0], lambda why: f"check: {why}: {done}") from None
        finally:
            if progress is not None:
                progress.clear()
    report.changes[:0] = changes  # recorded on reading the definitions: this check's too
    why = "" if report.feeds_checked or report.dropped or force else idle(rt.store.feeds(), now)
    click.echo(f"monitor: check: {report.figures()}" + (f"; {why}" if why else ""), err=True)
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    send_alerts(rt)
    for change in report.changes:
        if as_json:
            echo_json(ChangeOut.of(change).model_dump(mode="json"))
        else:
            click.echo(
                f"{change.indicator_id}: {change.old_status} -> {change.new_status} "
                f"({count(len(change.evidence), 'piece')} of evidence)"
            )
            if change.reason:  # a change to unknown says why, as `monitor history` does
                click.echo(f"  because {change.reason}")
            echo_unread(change)
    if signals:  # after the fetches: the cycle ended as usual
        raise stopped_by(signals[0], lambda why: f"check: {why} as it ended: every due feed "
                         "checked, the status changes above recorded")  # fmt: skip
    if report.nothing_read:  # a script tells a cycle that read nothing from a healthy one
        n = report.feeds_checked
        failed = f"{count(n, 'feed')} checked, {every_one_failed(n)}"
        click.echo(f"monitor: check: no feed could be read ({failed})", err=True)
        raise SystemExit(NOTHING_READ)


def _check_stopped(rt: Runtime, why: str, *, since: datetime) -> str:
    """The line a check stopped by a signal ends with: how many feeds it stored as checked (their
    entries kept); the others' leases are released, so the next check takes them at once."""
    try:
        feeds = rt.store.feeds()
        stored = sum(1 for f in feeds if f.last_checked_at and f.last_checked_at >= since)
    except MonitorError:  # the database is gone too
        return f"check: {why}; the feeds it stored before stay stored"
    return (
        f"check: {why} after {count(stored, 'feed')} checked and stored; the other due feeds "
        "are left for the next check"
    )


def idle(feeds: Sequence[FeedState], now: datetime) -> str:
    """Why a check at `now` found no feed to check: none configured, the due ones held by
    another process's lease, or none due yet (until when); "" when some feed was due."""
    if not feeds:
        return "no feed in the feeds file"
    held = [f for f in feeds if f.held_at(now)]
    if held:
        by = ", ".join(sorted({owners.shown(f.lease_owner) for f in held if f.lease_owner}))
        until = utc_text(min(f.lease_until for f in held if f.lease_until is not None))
        return (
            f"{count(len(held), 'due feed')} held by {by} (being checked, or until its lease "
            f"runs out at {until}); {FORCE_HINT}"
        )
    if any(f.due_at(now) for f in feeds):
        return ""
    soonest = min(f.next_check_at for f in feeds if f.next_check_at is not None)
    return f"no feed due before {utc_text(soonest)}; {FORCE_HINT}"


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
        self._stream.write(f"\rmonitor: checked {done}/{count(total, 'feed')}")
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


@command(
    "replay", stopped="before it began to re-match, or once it was done; no status is left held"
)
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

    With --dry-run it prints the changes it would record and leaves the database as it was,
    while a daemon sharing it goes on: on SQLite it replays on a copy of the database, made
    beside it (it needs that much free disk) and deleted at the end; on PostgreSQL on
    temporary copies of every table but the entries', rolled back at the end.

    Stopped half way (Ctrl-C, SIGTERM, an error), it leaves every status held and ends with
    one line saying so and the command that finishes the rewrite (a dry run: nothing held).

    Example: monitor replay --since 2026-01-01 --dry-run

    Example: monitor replay --since 2026-01-01
    """
    from monitor.domain import utcnow
    from monitor.pipeline import replay, replay_owner

    rt.must_exist = True  # no database: no stored entry to replay, and none is made
    ctx = rt.context()
    now = utcnow()
    start = datetime.combine(since.date(), time(), UTC)
    rematched = [0]  # entries re-matched so far

    def done(entries: int) -> None:
        rematched[0] = entries

    def on(store: Store) -> tuple[int, int, list[StatusChange]]:
        return replay(dataclasses.replace(ctx, store=store), start, now=now, done=done)

    try:
        with terminable():
            entries, matches, changes = rt.store.rehearsed(on) if dry_run else on(rt.store)
    except (Exception, KeyboardInterrupt) as exc:  # Terminated (SIGTERM) too
        if dry_run:
            stopped = _dry_run_stopped(exc)
        else:
            stopped = _held_after(rt, replay_owner(ctx), exc, rematched[0])
        if stopped is None:
            raise
        raise stopped from None
    would, mark = (" would be", "would record") if dry_run else ("", "replayed")
    nothing = "; dry run: nothing recorded" if dry_run else ""
    click.echo(
        f"monitor: replay: {count(entries, 'entry')}{would} re-matched, {count(matches, 'match')}, "
        f"{count(len(changes), 'status change')}{nothing}",
        err=True,
    )
    for change in changes:
        click.echo(f"{change.indicator_id}: {change.old_status} -> {change.new_status} ({mark})")


def _dry_run_stopped(exc: BaseException) -> click.ClickException | None:
    """The error a dry run stopped by Ctrl-C or SIGTERM ends with (its copies are gone, and it
    recorded nothing), or None: `exc` says what went wrong."""
    if isinstance(exc, Terminated):  # first: a kind of KeyboardInterrupt
        return StoppedByTerm("replay: dry run stopped by SIGTERM; nothing recorded")
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted("replay: dry run interrupted; nothing recorded")
    return None


def _held_after(
    rt: Runtime, owner: str, exc: BaseException, entries: int
) -> click.ClickException | None:
    """The error a replay stopped by `exc` ends with while it leaves the statuses held (its
    lease ended, so that the next replay takes over at once), or None: nothing is held, and
    `exc` says what went wrong."""
    from monitor.domain import utcnow

    now = utcnow()
    try:
        rt.store.stop_replay(owner=owner, now=now)
        hold = rt.store.replay_hold()
    except MonitorError:  # the database is gone too: `exc` says it
        return None
    if hold is None or (hold.owner != owner and not hold.stalled(now)):
        return None  # none, or another replay's, running
    kind: type[Stopped]
    if isinstance(exc, Terminated):  # first: a kind of KeyboardInterrupt
        why, kind = "stopped by SIGTERM", StoppedByTerm
    elif isinstance(exc, KeyboardInterrupt):
        why, kind = "interrupted", Interrupted
    else:
        if not isinstance(exc, MonitorError):  # a bug: where, before the line that matters
            traceback.print_exception(exc)
        why, kind = f"stopped by an error ({one_line(exc)})", Stopped
    point = (
        f"after {count(entries, 'entry')} re-matched"
        if entries
        else "before any entry was re-matched"
    )
    return kind(
        f"replay: {why} {point}: every status is held (no change recorded, no alert) until "
        f"the rewrite is finished: run `{hold.finish}`"
    )


COMMANDS = (
    check_cmd,
    replay_cmd,
)
