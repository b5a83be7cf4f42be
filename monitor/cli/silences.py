"""Silences: monitor silence INDICATOR (begin one), --list, --end ID."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.common import (
    ROW_ID,
    Runtime,
    command,
    echo_json,
    json_option,
    pass_runtime,
    recorded_of,
)
from monitor.domain import utc_text
from monitor.errors import SilenceError

if TYPE_CHECKING:
    from datetime import datetime

    from monitor.silences import Silence


def cli_user() -> str:
    """Who a silence begun or ended from the command line is by: $USER, else `cli`."""
    return os.environ.get("USER", "").strip() or "cli"


def _stopped(params: dict[str, Any]) -> str:
    """What `monitor silence` stopped by a signal was doing (`Command.stopped`)."""
    if params["listing"]:
        return "while reading the silences; nothing written"
    if params["end_id"] is not None:
        return (f"while ending silence {params['end_id']}: it is ended whole or not at all "
                "(`monitor silence --list` shows which)")  # fmt: skip
    return (f"while beginning a silence of {params['indicator_id']}: it is recorded whole or "
            "not at all (`monitor silence --list` shows which)")  # fmt: skip


@command("silence", stopped=_stopped)
@click.argument("indicator_id", metavar="[INDICATOR]", required=False)
@click.option("--outcome", help="Hold back only changes to or from this outcome.")
@click.option(
    "--for", "duration", metavar="DURATION", help="How long: 90m, 12h, 7d, 2w (as settings)."
)
@click.option("--reason", help="Why, in a few words; shown on the page and in the digest.")
@click.option("--list", "listing", is_flag=True, help="List silences (of INDICATOR), newest first.")
@click.option("--end", "end_id", type=ROW_ID, metavar="ID", help="End a silence now.")
@json_option("Print silences as JSON, one object per line (the shape of GET /silences).")
@pass_runtime
def silence_cmd(
    rt: Runtime,
    indicator_id: str | None,
    outcome: str | None,
    duration: str | None,
    reason: str | None,
    listing: bool,
    end_id: int | None,
    as_json: bool,
) -> None:
    """Hold back an indicator's change alerts and the digest's "what changed" for a time.

    Changes are still recorded; those recorded while the silence is in force go out once when
    it ends (their alerts are sent then, and the next digest lists them). Who: $USER.

    Example: monitor silence visa-easing --for 7d --reason "state visit: expected noise"

    Example: monitor silence north-korea-stance --outcome pressure --for 12h --reason "wire copy"

    Example: monitor silence --list --json

    Listing none says so in one line on stderr (exit 0; with --json nothing is printed).

    Ending one: monitor silence --end ID (its id from --list).
    """
    from monitor.domain import utcnow

    modes = sum([listing, end_id is not None, indicator_id is not None and not listing])
    if modes != 1:
        raise click.UsageError("give INDICATOR --for D --reason TEXT, or --list, or --end ID")
    given = [f"--{name}" for name, value in (("outcome", outcome), ("for", duration),
                                            ("reason", reason)) if value is not None]  # fmt: skip
    if given and (listing or end_id is not None):  # an ending's --reason was dropped unsaid
        raise click.UsageError(
            f"{' and '.join([', '.join(given[:-1]), given[-1]] if given[1:] else given)} "
            f"{'goes' if len(given) == 1 else 'go'} with beginning a silence "
            f"(INDICATOR --for D --reason TEXT), not with {'--list' if listing else '--end'}"
        )
    now = utcnow()
    if listing:
        rt.read_only = True
        listed = recorded_of(
            rt, indicator_id, lambda: rt.store.silences(indicator_id, limit=500),
            name="silence",
        )  # fmt: skip
        if not listed:
            of = f" for {indicator_id}" if indicator_id is not None else ""
            click.echo(f"monitor: silence: no silence recorded{of} yet", err=True)
        for silence in listed:
            _show(silence, now, as_json)
        return
    if end_id is not None:
        rt.must_exist = True  # no database: no silence to end, and none is made
        _show(rt.store.end_silence(end_id, who=cli_user(), now=now), now, as_json)
        return
    assert indicator_id is not None
    if duration is None or reason is None:
        raise click.UsageError("a silence needs --for DURATION and --reason TEXT")
    from monitor.statuses import begin_silence

    rt.must_exist = True  # no database: a silence of nothing watched yet (a mistyped URL?)
    try:
        silence = begin_silence(
            rt.definitions, rt.store, target=(indicator_id, outcome), duration=duration,
            reason=reason, who=cli_user(), now=now,
        )  # fmt: skip
    except SilenceError as exc:  # a field named as the command line has it: its flag
        raise click.ClickException(exc.worded(f"--{exc.field}")) from None
    _show(silence, now, as_json)


def _show(silence: Silence, now: datetime, as_json: bool) -> None:
    from monitor.webmodels import SilenceOut

    if as_json:
        echo_json(SilenceOut.of(silence, now=now).model_dump(mode="json"))
        return
    state = silence.state(now)
    if state == "ended":
        when = f"ended {utc_text(silence.end)} by {silence.ended_by}"
    else:
        when = f"{'until' if state == 'active' else 'expired'} {utc_text(silence.until)}"
    click.echo(
        f"silence {silence.id}  {state:<7}  {silence.target}  {when}  "
        f"(by {silence.created_by}: {silence.reason})"
    )


COMMANDS = (silence_cmd,)
