"""Commands that read: match (a dry run over feed files or URLs), status, history, search.

Ctrl-C or SIGTERM ends each with one line and exit 130 or 143 (`stops`; `match` and `search`
say how far they got, the others what they read: `Command.stopped`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.common import (
    Runtime,
    command,
    echo_json,
    echo_unread,
    json_option,
    one_line,
    pass_runtime,
)
from monitor.cli.stops import stopped_by_signals
from monitor.counts import count
from monitor.domain import utc_text
from monitor.errors import MonitorError
from monitor.links import without_password

if TYPE_CHECKING:
    from monitor.domain import Entry


def _sources(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """An empty SOURCE (`monitor match "$FEED"` with FEED unset) is no file nor URL: read as a
    path it was the working directory ("[Errno 21] Is a directory: '.'")."""
    if any(not source.strip() for source in value):
        raise click.BadParameter("an empty name is no feed file or URL", param_hint="SOURCE")
    return value


@command("match", stopped="before or after reading the sources; nothing recorded")
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True, callback=_sources)
@json_option("One JSON object per line per match.")
@pass_runtime
def match_cmd(rt: Runtime, sources: tuple[str, ...], as_json: bool) -> None:
    """Dry run: match feed files or URLs against the definitions; writes nothing.

    Ends with a summary on stderr: entries read and matches per source, then in all, each line
    starting `monitor: match:`.
    Ctrl-C or SIGTERM: one line naming the source it was reading; exit 130 or 143.

    Example: monitor match tests/data/feeds/rss2.xml https://en.yna.co.kr/RSS/news.xml --json
    """
    failed = read = matched = 0
    done: list[str] = []  # the sources read so far

    def stopped(why: str) -> str:
        at = without_password(sources[len(done)])
        return (f"match: {why} while reading {at}, after {len(done)} of "
                f"{count(len(sources), 'source')}; nothing recorded")  # fmt: skip

    with stopped_by_signals(stopped):
        for source in sources:
            failed, read, matched = _match_one(rt, source, as_json, (failed, read, matched))
            done.append(source)
    click.echo(
        f"monitor: match: in all: {count(read, 'entry')} read from {len(sources) - failed} of "
        f"{count(len(sources), 'source')}, {count(matched, 'match')}",
        err=True,
    )
    if failed:
        raise SystemExit(1)


def _match_one(
    rt: Runtime, source: str, as_json: bool, counts: tuple[int, int, int]
) -> tuple[int, int, int]:
    """Read and match one source, print its matches and its line; the counts (failed, entries
    read, matches) with it."""
    failed, read, matched = counts
    try:
        entries = _read_source(rt, source)
    except OSError as exc:  # a file: "cannot read file: Is a directory", not "[Errno 21] …"
        click.echo(f"monitor: match: {source}: cannot read file: {exc.strerror or exc}", err=True)
        return failed + 1, read, matched
    except MonitorError as exc:
        click.echo(f"monitor: match: {without_password(source)}: {one_line(exc)}", err=True)
        return failed + 1, read, matched
    found = 0
    for entry in entries:
        for m in rt.matcher.match(entry):
            found += 1
            if as_json:
                item = {
                    "guid": entry.guid,
                    "title": entry.title,
                    "link": entry.link,
                    "indicator": m.indicator_id,
                    "outcome": m.outcome_id,
                    "terms": list(m.terms),
                }
                echo_json(item)
            else:
                click.echo(
                    f"{m.indicator_id}:{m.outcome_id}\t{entry.title}\t{entry.link}\t"
                    f"[{', '.join(m.terms)}]"
                )
    click.echo(f"monitor: match: {without_password(source)}: {count(len(entries), 'entry')} read, "
               f"{count(found, 'match')}", err=True)  # fmt: skip
    return failed, read + len(entries), matched + found


def _read_source(rt: Runtime, source: str) -> tuple[Entry, ...]:
    from monitor.errors import FetchError
    from monitor.fetch import FeedRequest, FetchStatus, fetch_sync
    from monitor.parse import parse_feed

    if source.lower().startswith(("http://", "https://")):  # a scheme has no case: HTTPS://
        (result,) = fetch_sync([FeedRequest("match", source)], rt.limits)
        if result.body is None:
            message = result.error or f"fetch: HTTP {result.http_status}"
            raise FetchError(message, permanent=result.status is FetchStatus.GONE)
        body, url, ctype = result.body, result.final_url or source, result.content_type
    else:
        path = Path(source)
        body, url, ctype = path.read_bytes(), path.resolve().as_uri(), None
    return parse_feed(body, feed_id="match", url=url, content_type=ctype).entries


@command("status", stopped="while reading the statuses; nothing written")
@json_option("A JSON array, the items of GET /indicators.")
@pass_runtime
def status_cmd(rt: Runtime, as_json: bool) -> None:
    """Current status of every indicator, then each feed that needs attention, as the digest's
    feed health lists them: dead, failing (since when, and why), not read successfully for
    more than two intervals, silent (no new item for longer than its silent_after), read
    with a warning (ill-formed, items left out, a charset guessed), or moved permanently (its
    new URL, for the feeds file); then a line while a replay holds the statuses (on stderr
    with --json, and in each item's `held`). With --json each indicator names its silent
    feeds; `GET /feeds` gives every feed's health.

    Example: monitor status --json
    """
    from monitor import views as shown
    from monitor.digestinput import feed_problems
    from monitor.domain import UNKNOWN, utcnow
    from monitor.statuses import pending_changes

    rt.read_only, rt.runs_rules, now = True, False, utcnow()
    store = rt.store.with_unrecorded(pending_changes(rt.definitions, rt.store, now=now))
    views = shown.indicator_views(rt.definitions, store, now=now, evidence=False)  # counted
    held = shown.replay_note(rt.store.replay_hold(), now=now)
    if as_json:
        echo_json([i.model_dump(mode="json") for i in shown.indicators(views, held)], indent=2)
        if held:
            click.echo(f"monitor: {held}", err=True)
        return
    # columns as wide as the longest id and status (at least 22), so a long one of a watch
    # list of one's own does not push its line's status out of line with the others'
    wide = max([22, *(len(v.id) for v in views)]), max([22, *(len(v.status) for v in views)])
    for v in views:
        since = f"since {utc_text(v.since)}" if v.since else "before any check"
        line = f"{v.id:<{wide[0]}} {v.status:<{wide[1]}} {since}"
        click.echo(f"{line}  ({count(v.evidence_count, 'piece')} of evidence)")
        if v.status == UNKNOWN:  # it always says why, as the page and the digest do
            click.echo(f"  because {shown.clean(v.reason) or shown.NOT_READ_YET}")
        elif unread := shown.unread_words(v):  # a status some of its feeds do not support
            click.echo(f"  {unread}")
        if v.silences:  # as the page's card marks it
            click.echo(
                f"  silenced: {count(len(v.silences), 'silence')} in force "
                f"({', '.join(map(str, v.silences))}), as `monitor silence --list` shows"
            )
    for problem in feed_problems(rt.store.feeds(), now=now):  # the digest's feed health
        text = problem.text(utc_text(problem.since) if problem.since else "")
        click.echo(f"feed {problem.feed_id}: {shown.clean(text)}")
    if held:
        click.echo(held)


@command(
    "history",
    stopped=lambda p: f"while reading the status changes of {p['indicator_id']}; nothing written",
)
@click.argument("indicator_id")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="How many changes, newest first.",
)
@json_option("One JSON object per change.")
@pass_runtime
def history_cmd(rt: Runtime, indicator_id: str, limit: int, as_json: bool) -> None:
    """Status changes of one indicator, with evidence.

    When it has none yet, one line on stderr says so and the exit code is 0 (with --json
    nothing is printed: no objects); an unknown INDICATOR_ID is an error (exit 1). An indicator
    whose file was removed still has the changes recorded while it was defined: they are
    printed, after a line on stderr saying it is no longer defined. A piece of evidence an
    analyst judged `no` after the change, or a copy of the story judged, is marked under it
    (`✗ judged not relevant by ana at …`; `judged_since` in --json); the change is as recorded.

    Example: monitor history north-korea-stance --limit 5
    """
    from monitor.shownterms import shown_terms
    from monitor.views import clean, judged_since, lede
    from monitor.webmodels import ChangeOut

    rt.read_only, rt.runs_rules = True, False
    try:
        rt.definitions.indicator(indicator_id)
    except KeyError:
        try:
            recorded = indicator_id in rt.store.current_statuses()  # its file removed since
        except MonitorError as exc:  # no database, say: nothing recorded of it either
            unknown = rt.definitions.no_indicator(indicator_id)
            raise click.ClickException(f"history: {unknown} ({exc})") from None
        if not recorded:
            raise click.ClickException(
                f"history: {rt.definitions.no_indicator(indicator_id)}"
            ) from None
        click.echo(f"monitor: history: {indicator_id} is no longer defined", err=True)
    changes = rt.store.history(indicator_id, limit=limit)
    if not changes:
        click.echo(f"monitor: history: no status change recorded for {indicator_id} yet", err=True)
    for change, judged in zip(changes, judged_since(rt.store, changes), strict=True):
        if as_json:
            echo_json(ChangeOut.of(change, judged).model_dump(mode="json"))
            continue
        mark = " (replayed)" if change.replayed else ""
        click.echo(f"{utc_text(change.at)}  {change.old_status} -> {change.new_status}{mark}")
        if change.reason:
            click.echo(f"  because {change.reason}")
        echo_unread(change)
        for e in change.evidence:
            confirmed = " (confirmed by an analyst)" if e.judged else ""
            click.echo(f"    [entry {e.entry_id}] {e.publisher}: {clean(e.title)}{confirmed}")
            if since := judged.get((e.entry_id, e.outcome_id)):
                click.echo(f"      ✗ {since.words(utc_text(since.at))}")
            if link := clean(e.link):
                click.echo(f"      {link}")
            if terms := shown_terms(e.terms, e.title, e.snippet):
                click.echo(f"      matched: {', '.join(terms)}")
            if snippet := lede(e.title, e.snippet):
                click.echo(f'      "{snippet}"')


def _searchable(ctx: click.Context, param: click.Parameter, text: str) -> str:
    """TEXT, or a usage error when it is empty or only white space (as GET /entries refuses
    it): such a search would list every stored entry rather than find one."""
    from monitor.webmodels.given import search_text

    try:
        return search_text(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@command("search", stopped="before it searched; nothing shown")
@click.argument("text", callback=_searchable)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many entries, newest first.",
)
@click.option(
    "--before",
    type=click.IntRange(1, 2**63 - 1),
    metavar="ID",
    help="Only the entries after this one (the last id of the page before), newest first.",
)
@json_option("One JSON object per entry.")
@pass_runtime
def search_cmd(rt: Runtime, text: str, limit: int, before: int | None, as_json: bool) -> None:
    """Find stored entries whose title or text contains TEXT (any case), newest first.

    Shows each entry's id, time, source (publisher, and the feed) and title: the id is what
    `monitor verdict` takes. An empty TEXT (or only white space), or one over 200 characters,
    is a usage error (exit 2).
    When no entry matches, one line on stderr says so and the exit code is 0, as for `match`
    (with --json nothing is printed: no objects). When more match than --limit, one line on
    stderr names the next page's `--before ID` (the last id shown); entries stored meanwhile
    shift no page. Ctrl-C or SIGTERM: one line; exit 130 or 143.

    Example: monitor search "visa-free" --limit 5 --before 1234
    """
    shown: list[int] = []  # the ids of the entries shown so far

    def stopped(why: str) -> str:
        if shown:
            return f"search: {why} after {count(len(shown), 'entry')} shown"
        return f"search: {why} while searching the stored entries; nothing shown"

    with stopped_by_signals(stopped):
        _search(rt, text, limit, before, as_json, shown)


def _search(
    rt: Runtime, text: str, limit: int, before: int | None, as_json: bool, shown: list[int]
) -> None:
    from monitor.views import entries

    rt.read_only = True
    try:
        hits, next_before = entries(rt.store, text, limit=limit, before=before)
    except KeyError:
        raise click.ClickException(f"search: no stored entry {before} (--before)") from None
    if not hits:
        click.echo(f"monitor: search: no stored entry matches {text!r} (title or text, any case)"
                   f"{' after entry ' + str(before) if before else ''}", err=True)  # fmt: skip
    for found in hits:
        if as_json:
            echo_json(found.model_dump(mode="json"))
        else:
            click.echo(
                f"{found.id:>7}  {utc_text(found.time)}  {found.publisher} ({found.feed})  "
                f"{' '.join(found.title.split()) or '(no headline)'}"
            )
        shown.append(found.id)
    if next_before is not None:
        click.echo(f"monitor: search: more entries match: --before {next_before}", err=True)


COMMANDS = (
    match_cmd,
    status_cmd,
    history_cmd,
    search_cmd,
)
