"""The daily digest on demand: digest --preview, digest --send.

Ctrl-C or SIGTERM ends `--send` with one line and exit 130 or 143 (`stops`): the claim is
released as when the SMTP server fails, so the next `digest --send` sends it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import Day, Runtime, command, pass_runtime, take_over_claims, write_whole
from monitor.cli.stops import stopped_by_signals


def _stopped(params: dict[str, Any]) -> str:
    """What a digest stopped by a signal outside `--send`'s own line did (`Command.stopped`)."""
    if params["preview"]:
        out = params["out"]
        kept = f", {out} left as it was" if out is not None else ""
        return f"while building the preview; nothing sent{kept}"
    return "before it began, or once it was done (`digest …: sent to …` says it was sent)"


@command("digest", stopped=_stopped)
@click.option("--preview", is_flag=True, help="Render without sending.")
@click.option("--send", is_flag=True, help="Send it (once a day unless --force).")
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
@click.option(
    "--force",
    is_flag=True,
    help="With --send: send even if that day's was sent (built anew, and kept as the one sent).",
)
@pass_runtime
def digest_cmd(
    rt: Runtime,
    preview: bool,
    send: bool,
    day: datetime | None,
    out: Path | None,
    force: bool,
) -> None:
    """Build the digest of a day and print it (--preview) or send it (--send).

    The preview of a day whose digest went out is that message, as it was sent; a day still
    to come has none (exit 2, as with --send). Ctrl-C or SIGTERM during --send: one line,
    nothing marked sent (the next --send sends it); exit 130 or 143.

    Example: monitor digest --preview --date 2026-01-06 --out digest.eml
    """
    from monitor import daily, owners
    from monitor.domain import utcnow
    from monitor.pipeline import evaluate_and_record, prepare

    if preview == send:  # neither, or both: which one was meant is not for us to guess
        raise click.UsageError(
            "say --preview or --send" if not send else "--preview or --send, not both"
        )
    if out is not None and send:
        raise click.UsageError("--out goes with --preview: --send sends the digest")
    if force and preview:  # it built nothing anew: a sent day's preview is the message sent
        raise click.UsageError("--force goes with --send: --preview shows a sent day's as sent")
    now = utcnow()
    today = now.astimezone(rt.settings.zone).date()
    the_day = day.date() if day else today
    if the_day > today:  # sent: it would be marked so, and that day's digest never go out
        raise click.UsageError(
            f"--date {the_day}: a day still to come has no digest to "
            f"{'send' if send else 'preview'} (today is {today})"
        )
    if preview:
        rt.read_only = True
        _preview(rt, the_day, now, out)
        return
    rt.must_exist = True  # no database: a digest of nothing read yet (a mistyped URL?)

    def stopped(why: str) -> str:  # a failed send's path released the claim (send_daily_digest)
        return (f"digest {the_day}: {why} before it was marked sent; nothing marked sent, "
                "`monitor digest --send` sends it again")  # fmt: skip

    with stopped_by_signals(stopped):
        ctx = rt.context()
        prepare(ctx, now=now)
        # No check follows, as one follows a daemon's start: feeds due for two intervals that
        # no check tried are unread, and the changes to `unknown` that makes, dated when they
        # went unread, are recorded now, so that this digest lists them (as its preview does).
        evaluate_and_record(ctx, now=now, checked=True)
        take_over_claims(rt, now)  # a killed `digest --send`'s claim is not left for 15 minutes
        result = daily.send_daily_digest(
            rt.definitions, rt.store, rt.settings, day=the_day, now=now,
            owner=owners.owner_of(), force=force, clock=utcnow,
        )  # fmt: skip
    if not result.sent:
        raise click.ClickException(f"digest {the_day}: not sent: {result.reason} (--force sends)")
    click.echo(f"digest {the_day}: sent to {result.where}")
    if result.refused:  # the others have it: sent, but someone expecting it does not
        note = daily.refused_note(result.refused, result.again_at)
        click.echo(f"monitor: digest {the_day}: {note}", err=True)


def _preview(rt: Runtime, day: date, now: datetime, out: Path | None) -> None:
    """A day whose digest went out shows that message, as kept; any other is built now."""
    from monitor import daily
    from monitor.mail import as_file, as_sent
    from monitor.statuses import pending_changes

    kept = daily.sent_digest(rt.store, day)
    if kept is not None:
        message, raw = kept.message, kept.raw
    else:
        store = rt.store.with_unrecorded(pending_changes(rt.definitions, rt.store, now=now))
        message = daily.digest_message(rt.definitions, store, rt.settings, day=day, now=now)
        raw = as_sent(message)
    said = _sent_note(rt, day, as_it_went_out=kept is not None)
    if said:
        click.echo(f"monitor: digest {day}: {said}", err=True)
    if out is not None:
        write_whole(out, as_file(raw), "digest --out")  # the file whole, or as it was
        click.echo(f"monitor: digest {day}: written to {out}", err=True)
        return
    click.echo(f"Subject: {message['Subject']}\n")
    text = message.get_body(("plain",))
    click.echo(text.get_content() if text is not None else "")


def _sent_note(rt: Runtime, day: date, *, as_it_went_out: bool) -> str:
    """What stderr says of a day whose digest went out: that this is the message kept (when
    it is), and the recipients the server refused (when any); "" for neither."""
    from monitor import daily

    state = rt.store.digest_state(day)
    if state is None or state.sent_at is None:
        return ""
    at = f"{state.sent_at:%Y-%m-%d %H:%M:%S} UTC"
    refused = daily.refused_note(state.refused, state.resend_at) if state.refused else ""
    if as_it_went_out:
        return f"the digest sent at {at}, as it went out" + (f"; {refused}" if refused else "")
    return f"sent at {at}, but {refused}" if refused else ""


COMMANDS = (digest_cmd,)
