"""`monitor explain`: why an indicator's outcomes did or did not fire on an entry, node by node
(`monitor.match.explain`), a stored one (`--entry`) or a title and text given."""

from __future__ import annotations

import click

from monitor.cli.common import ROW_ID, Runtime, command, echo_json, json_option, pass_runtime
from monitor.domain import Verdict


@command("explain", stopped="while explaining; nothing written")
@click.argument("target", metavar="INDICATOR[:OUTCOME]")
@click.option("--entry", "entry_id", type=ROW_ID, metavar="ID", help="A stored entry's id.")
@click.option("--title", help="A headline to explain instead of a stored entry.")
@click.option("--text", help="With --title: the text after the headline (default: none).")
@json_option("One JSON document, as GET /indicators/{id}/explain/{entry} answers.")
@pass_runtime
def explain_cmd(
    rt: Runtime,
    target: str,
    entry_id: int | None,
    title: str | None,
    text: str | None,
    as_json: bool,
) -> None:
    """Why each outcome of INDICATOR (or OUTCOME alone) did or did not fire on an entry: the
    rule's every part, whether it holds and in which sentences (numbered from 1, the headline
    first), the terms found there; a `near`'s groups, a `none`'s vetoes, the `unless` cues;
    then the entry's sentences. A stored entry from a feed the indicator does not read (its
    `feeds:`) is never its evidence: a note says so first. Writes nothing.

    --entry reads a stored entry (its id: `monitor search`, `monitor history`); --title (and
    --text) explain words given here, without a database. An unknown indicator, outcome or
    entry is a one-line error (exit 1).

    Example: monitor explain visa-easing:eased --entry 456
    """
    from monitor.domain import utcnow
    from monitor.match import Matcher
    from monitor.match.explain import as_json as document
    from monitor.match.explain import explain_entry
    from monitor.match.explaintext import text_lines
    from monitor.statuses import standing_on

    if (entry_id is None) == (title is None):
        raise click.UsageError("give --entry ID or --title TEXT, one of them")
    if text is not None and title is None:
        raise click.UsageError("--text goes with --title")
    if title is not None and not (title + (text or "")).strip():  # "$HEADLINE" unset?
        raise click.UsageError("--title (with --text) is empty: nothing to explain")
    indicator_id, colon, outcome_id = target.partition(":")
    if colon and not outcome_id:
        raise click.BadParameter(f"{target!r} is not INDICATOR or INDICATOR:OUTCOME")
    try:
        indicator = rt.definitions.indicator(indicator_id)
    except KeyError:
        raise click.ClickException(
            f"explain: {rt.definitions.no_indicator(indicator_id)}"
        ) from None
    if outcome_id and outcome_id not in {o.id for o in indicator.outcomes}:
        raise click.ClickException(f"explain: {indicator.no_outcome(outcome_id)}")
    feed: str | None = None  # a stored entry's
    verdicts: list[tuple[Verdict, str]] = []  # those standing on it, with what they do now
    if entry_id is not None:
        rt.read_only = True
        stored = rt.store.entry(entry_id)
        if stored is None:
            raise click.ClickException(f"explain: no entry {entry_id}")
        title, text = stored.entry.title, stored.entry.text
        feed = stored.entry.feed_id
        verdicts = standing_on(rt.store, stored, indicator, now=utcnow())
    assert title is not None
    if entry_id is None:
        title, text = _as_an_entry_keeps(title, text or "")
    read = None if feed is None else feed in rt.definitions.feeds_for(indicator)
    found = explain_entry(
        Matcher((indicator,)), indicator_id, title, text or "",
        outcome_id=outcome_id or None, entry_id=entry_id, feed=feed, feed_read=read,
        verdicts=verdicts,
    )  # fmt: skip
    if as_json:
        echo_json(document(found), indent=2)
        return
    for line in text_lines(found):
        click.echo(line)


def _as_an_entry_keeps(title: str, text: str) -> tuple[str, str]:
    """The title and text given, cut as a feed's are (a stored entry's are already), saying on
    stderr which was cut: the words past the cut are never matched."""
    from monitor.domain import MAX_TEXT, MAX_TITLE

    for option, given, most in (("title", title, MAX_TITLE), ("text", text, MAX_TEXT)):
        if len(given) > most:
            click.echo(
                f"monitor: explain: --{option} was cut to its first {most:,} characters, "
                f"as a feed's {option} is",
                err=True,
            )
    return title[:MAX_TITLE].rstrip(), text[:MAX_TEXT].rstrip()


COMMANDS = (explain_cmd,)
