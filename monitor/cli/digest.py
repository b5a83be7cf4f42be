"""The daily digest on demand: digest --preview, digest --send."""

from __future__ import annotations

import socket
from datetime import date, datetime
from pathlib import Path

import click

from monitor.cli.common import Day, Runtime, command, pass_runtime


@command("digest")
@click.option("--preview", "mode", flag_value="preview", help="Render without sending.")
@click.option("--send", "mode", flag_value="send", help="Send it (once a day unless --force).")
@click.option(
    "--date",
    "day",
    type=Day(),
    help="The digest's day (YYYY-MM-DD in MONITOR_TIMEZONE); default: today.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --preview: write the .eml here instead of printing the text part.",
)
@click.option("--force", is_flag=True, help="With --send: send even if that day's was sent.")
@pass_runtime
def digest_cmd(
    rt: Runtime, mode: str | None, day: datetime | None, out: Path | None, force: bool
) -> None:
    """Build the digest of a day and print it (--preview) or send it (--send).

    Example: monitor digest --preview --date 2026-01-06 --out digest.eml
    """
    from monitor import daily
    from monitor.domain import utcnow
    from monitor.pipeline import prepare

    if mode is None:
        raise click.UsageError("say --preview or --send")
    if out is not None and mode == "send":
        raise click.UsageError("--out goes with --preview: --send sends the digest")
    now = utcnow()
    today = now.astimezone(rt.settings.zone).date()
    the_day = day.date() if day else today
    if mode == "send" and the_day > today:
        raise click.UsageError(  # it would be marked sent, and that day's digest never go out
            f"--date {the_day}: a day still to come has no digest to send (today is {today})"
        )
    if mode == "preview":
        rt.read_only = True
        _preview(rt, the_day, now, out)
        return
    prepare(rt.context(), now=now)
    result = daily.send_daily_digest(
        rt.definitions, rt.store, rt.settings, day=the_day, now=now,
        owner=f"cli:{socket.gethostname()}", force=force, clock=utcnow,
    )  # fmt: skip
    if not result.sent:
        raise click.ClickException(f"digest {the_day}: not sent: {result.reason} (--force sends)")
    click.echo(f"digest {the_day}: sent to {result.where}")
    if result.refused:  # the others have it: sent, but someone expecting it does not
        note = daily.refused_note(result.refused, result.again_at)
        click.echo(f"monitor: digest {the_day}: {note}", err=True)


def _preview(rt: Runtime, day: date, now: datetime, out: Path | None) -> None:
    from monitor import daily
    from monitor.statuses import pending_changes

    store = rt.store.with_unrecorded(pending_changes(rt.definitions, rt.store, now=now))
    message = daily.digest_message(rt.definitions, store, rt.settings, day=day, now=now)
    state = rt.store.digest_state(day)
    if state is not None and state.sent_at is not None and state.refused:
        click.echo(f"monitor: digest {day}: sent at {state.sent_at:%Y-%m-%d %H:%M:%S} UTC, but "
                   f"{daily.refused_note(state.refused, state.resend_at)}", err=True)  # fmt: skip
    if out is not None:
        try:
            out.write_bytes(message.as_bytes())
        except OSError as exc:
            raise click.ClickException(f"--out {out}: {exc.strerror or exc}") from exc
        click.echo(f"digest {day}: written to {out}", err=True)
        return
    click.echo(f"Subject: {message['Subject']}\n")
    text = message.get_body(("plain",))
    click.echo(text.get_content() if text is not None else "")


COMMANDS = (digest_cmd,)
