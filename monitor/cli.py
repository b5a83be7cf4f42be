"""The `monitor` command: thin commands over the stages. Settings are read once, here.

Examples:
  monitor validate                      check indicators/ and config/feeds.yaml
  monitor test                          run every indicator's examples
  monitor check                         one check cycle now
  monitor status --json                 every indicator's status as JSON
  monitor match tests/data/feeds/rss2.xml --json
  monitor run                           the daemon: checks, digest, HTTP page on :8000
  monitor serve                         the HTTP endpoint alone
  monitor digest --preview              today's digest, not sent
  monitor db upgrade                    migrate the database
  monitor search "visa-free"            find stored entries (their ids) to judge
  monitor verdict 123 visa-easing:eased no --note "about Japan"
  monitor verdict export -o verdicts.tsv     then: monitor test --labeled verdicts.tsv
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from monitor.errors import ConfigError, DefinitionError, MonitorError, StoreError, VerdictError

# The stages are imported inside the commands that use them, so `monitor --version` and
# `--help` answer without loading SQLAlchemy, FastAPI, feedparser and the rest
# (tests/test_cli_ops.py holds this).
if TYPE_CHECKING:
    from monitor import scheduler
    from monitor.domain import Definitions, Entry
    from monitor.fetch import FetchLimits
    from monitor.labeled import Score
    from monitor.match import Matcher
    from monitor.pipeline import Context
    from monitor.settings import Settings
    from monitor.store import Store

# monitor.labeled.PARTS, spelled out here so that building the command line imports no matcher
# (tests/test_cli_ops.py checks that the two agree).
LABELED_PARTS = ("tune", "score", "all")


@dataclass
class Runtime:
    """What commands share, built on first use: settings, definitions, the store."""

    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        """Read on first use (so `--help` reads none), then logging is set up by them."""
        from monitor import logs
        from monitor.settings import load_settings

        settings, warnings = self._settings, list[str]()
        if settings is None:
            try:
                settings, warnings = load_settings()
            except ConfigError as exc:
                raise BadSetting(str(exc)) from None
        logs.configure(settings.log_format, settings.log_level)
        for warning in warnings:
            logging.getLogger("monitor.settings").warning("%s", warning)
        return settings

    @cached_property
    def definitions(self) -> Definitions:
        from monitor.definitions import load_definitions, tag_warnings

        try:
            definitions = load_definitions(self.settings.indicators_dir, self.settings.feeds_file)
        except DefinitionError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(
                f"definitions: {len(exc.problems)} problem(s); nothing was done"
            ) from exc
        for warning in tag_warnings(definitions):
            logging.getLogger("monitor.definitions").warning("%s", warning)
        return definitions

    @cached_property
    def matcher(self) -> Matcher:
        from monitor.match import Matcher

        return Matcher(self.definitions.indicators)

    @cached_property
    def store(self) -> Store:
        from monitor.settings import database_dir_problem
        from monitor.store import open_store

        problem = database_dir_problem(self.settings.database_url)
        if problem is not None:
            raise BadSetting(problem)
        try:
            self._store = open_store(self.settings.database_url)
        except StoreError as exc:  # e.g. a schema older than the code: run monitor db upgrade
            raise click.ClickException(str(exc)) from exc
        return self._store

    @cached_property
    def limits(self) -> FetchLimits:
        from monitor.fetch import FetchLimits

        return FetchLimits.from_settings(self.settings)

    def context(self, owner: str = "cli") -> Context:
        from monitor.pipeline import Context

        return Context.from_settings(
            self.settings, self.definitions, self.store,
            owner=owner, matcher=self.matcher, limits=self.limits, jitter=False,
        )  # fmt: skip

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class BadSetting(click.ClickException):
    """A setting that cannot work: one line on stderr, exit 2 (as for a bad option), before
    anything is written."""

    exit_code = 2


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


class OneLineUsage(click.Group):
    """A group whose commands' usage errors are one line on stderr (exit 2), with where to
    read more: `Error: Invalid value for '--limit': ... (see 'monitor history --help')`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if exc.ctx is None:  # already made one line by a group below
                raise
            path = exc.ctx.command_path
            message = " ".join(exc.format_message().split())
            raise click.UsageError(f"{message} (see '{path} --help')") from None


@click.group(cls=OneLineUsage, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monitor")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Watch news feeds for the markers of indicators/*.yaml and record every status change.

    Settings come from MONITOR_* environment variables and .env (see README).
    """
    runtime = ctx.ensure_object(Runtime)
    ctx.call_on_close(runtime.close)


# ---------------------------------------------------------------- definitions


GENERAL_NEWS = Path("tests/data/general-news")  # the shipped sample, relative to the checkout


@main.command("validate")
@click.option(
    "--general-news",
    "general_news",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Feed files (or folders of *.xml) of general news to warn about terms that fire on it;"
    f" repeatable. Default: {GENERAL_NEWS}/ when it exists.",
)
@pass_runtime
def validate_cmd(rt: Runtime, general_news: tuple[Path, ...]) -> None:
    """Check indicators/*.yaml and the feeds file; exit 1 with file:line: message per error.

    Also prints `file:line: warning: ...` for risky terms (a prefix shorter than four
    letters, a term common in general news); warnings leave the exit code 0.

    Example: monitor validate --general-news tests/data/general-news/general-news.xml
    """
    from monitor.definitions import validate
    from monitor.definitions import warnings as definition_warnings
    from monitor.match import general_news_warnings

    problems = validate(rt.settings.indicators_dir, rt.settings.feeds_file)
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(1)
    d = rt.definitions
    entries = _general_news(general_news or ((GENERAL_NEWS,) if GENERAL_NEWS.is_dir() else ()))
    for warning in definition_warnings(d) + general_news_warnings(rt.matcher, entries):
        click.echo(warning)
    click.echo(f"ok: {len(d.indicators)} indicators, {len(d.feeds)} feeds")


def _general_news(paths: tuple[Path, ...]) -> list[Entry]:
    """The entries of feed files, and of the *.xml files in folders; a file that is not a feed
    is a one-line error."""
    from monitor.parse import parse_feed

    files = [f for p in paths for f in (sorted(p.glob("*.xml")) if p.is_dir() else [p])]
    entries: list[Entry] = []
    for path in files:
        try:
            body = path.read_bytes()
            entries += parse_feed(body, feed_id=path.stem, url=path.resolve().as_uri()).entries
        except (OSError, MonitorError) as exc:
            raise click.ClickException(f"validate: general news {path}: {_one_line(exc)}") from None
    return entries


@main.command("test")
@click.option(
    "--labeled",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also score the indicators on a labeled TSV (precision and recall).",
)
@click.option(
    "--part",
    type=click.Choice(LABELED_PARTS),
    default="all",
    show_default=True,
    help="Score only the rows of this part of the labeled file (split by a hash of the id).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead.")
@pass_runtime
def test_cmd(rt: Runtime, labeled: Path | None, part: str, as_json: bool) -> None:
    """Run every indicator's examples; exit 1 on a failure, showing why.

    Example: monitor test --labeled ../shared/corpus/labeled-dev.tsv --part tune
    """
    from monitor.match import run_examples

    results = run_examples(rt.definitions.indicators, rt.matcher)
    failures = [r for r in results if not r.passed]
    if as_json:
        document: dict[str, Any] = {
            "examples": {
                "passed": len(results) - len(failures),
                "failed": [
                    {
                        "indicator": r.indicator_id,
                        "line": r.example.line,
                        "example": r.example.text,
                        "expected": r.expected,
                        "actual": list(r.actual),
                        "terms": list(r.terms),
                    }
                    for r in failures
                ],
            },
        }
        if labeled is not None:
            document["labeled"] = {
                "file": str(labeled),
                "part": part,
                **_score(rt, labeled, part).to_json(),
            }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        if failures:
            raise SystemExit(1)
        return
    for r in failures:
        click.echo(
            f"FAIL {r.indicator_id} ({rt.definitions.indicator(r.indicator_id).source}"
            f":{r.example.line})"
        )
        click.echo(f"  example:  {r.example.text}")
        if r.example.body:
            click.echo(f"  body:     {r.example.body}")
        click.echo(f"  expected: {r.expected}")
        click.echo(f"  actual:   {', '.join(r.actual)}")
        click.echo(f"  terms fired: {', '.join(r.terms) or '(none)'}")
    click.echo(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    if labeled is not None:
        click.echo(f"labeled: {labeled}, part {part}")
        click.echo(_score(rt, labeled, part).report())
    if failures:
        raise SystemExit(1)


def _score(rt: Runtime, path: Path, part: str) -> Score:
    from monitor.labeled import load_labeled, score, select

    try:
        items = select(load_labeled(path), part)
    except ValueError as exc:  # a malformed TSV: file:line: message
        raise click.ClickException(str(exc)) from exc
    return score(items, rt.matcher, rt.definitions.indicators)


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init_cmd(directory: Path) -> None:
    """Lay out a fresh watch list in DIRECTORY: indicators/ with an example indicator,
    config/feeds.yaml and a .env listing every setting (commented out, at its default).

    It passes `monitor validate` and `monitor test` as it is; existing files are never
    overwritten (nothing is written when one exists).

    Example: monitor init my-watch-list
    """
    from monitor.scaffold import init

    try:
        written = init(directory)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && monitor validate && monitor test && monitor check")


@main.command("new")
@click.argument("indicator_id", metavar="ID")
@pass_runtime
def new_cmd(rt: Runtime, indicator_id: str) -> None:
    """Add the skeleton of indicator ID to the indicators folder (MONITOR_INDICATORS_DIR).

    It is valid as it is, with a placeholder term and examples: edit it, then run
    `monitor validate` and `monitor test`.

    Example: monitor new ferry-routes
    """
    from monitor.scaffold import new_indicator

    try:
        path = new_indicator(rt.settings.indicators_dir, indicator_id)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path}")


# ---------------------------------------------------------------- checking


@main.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON lines.")
@click.option("--force", is_flag=True, help="Check every feed now, whatever its schedule.")
@pass_runtime
def check_cmd(rt: Runtime, as_json: bool, force: bool) -> None:
    """Run one check cycle now and print the status changes it recorded.

    On a terminal it shows how many of the due feeds are done; piped, only the summary.

    Example: monitor check --force
    """
    from monitor.domain import utcnow
    from monitor.pipeline import prepare, run_cycle
    from monitor.views import change_json

    ctx = rt.context()  # settings first: they set up the logging that progress keeps apart
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    ctx = dataclasses.replace(ctx, force=force, progress=progress)
    now = utcnow()
    changes = prepare(ctx, now=now)
    try:
        report = run_cycle(ctx, now=now, clock=utcnow)
    finally:
        if progress is not None:
            progress.clear()
    click.echo(report.summary(), err=True)
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    _send_alerts(rt)
    for change in [*changes, *report.changes]:
        if as_json:
            click.echo(json.dumps(change_json(change), ensure_ascii=False))
        else:
            click.echo(
                f"{change.indicator_id}: {change.old_status} -> {change.new_status} "
                f"({len(change.evidence)} evidence)"
            )


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


def _send_alerts(rt: Runtime) -> None:
    """Send the alerts waiting in the outbox (this check's, and any a daemon left)."""
    from monitor.alerts import Outbox, send_pending
    from monitor.domain import utcnow
    from monitor.notify import Notifier

    s = rt.settings
    if not s.notify_urls:
        return
    titles = {i.id: i.title for i in rt.definitions.indicators}
    outbox = Outbox(rt.store, Notifier(s.notify_urls), titles, f"cli:{os.getpid()}", s.zone)
    send_pending(outbox, now=utcnow(), clock=utcnow)


@main.command("match")
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per match.")
@pass_runtime
def match_cmd(rt: Runtime, sources: tuple[str, ...], as_json: bool) -> None:
    """Dry run: match feed files or URLs against the definitions; writes nothing.

    Ends with a summary on stderr: entries read and matches per source, then in all.

    Example: monitor match tests/data/feeds/rss2.xml https://en.yna.co.kr/RSS/news.xml --json
    """
    failed = read = matched = 0
    for source in sources:
        try:
            entries = _read_source(rt, source)
        except (MonitorError, OSError) as exc:
            failed += 1
            click.echo(f"monitor: {source}: {_one_line(exc)}", err=True)
            continue
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
                    click.echo(json.dumps(item, ensure_ascii=False))
                else:
                    click.echo(
                        f"{m.indicator_id}:{m.outcome_id}\t{entry.title}\t{entry.link}\t"
                        f"[{', '.join(m.terms)}]"
                    )
        read, matched = read + len(entries), matched + found
        click.echo(f"monitor: {source}: {_count(len(entries), 'entry')} read, "
                   f"{_count(found, 'match')}", err=True)  # fmt: skip
    click.echo(
        f"monitor: match: {_count(read, 'entry')} read from {len(sources) - failed} of "
        f"{_count(len(sources), 'source')}, {_count(matched, 'match')}",
        err=True,
    )
    if failed:
        raise SystemExit(1)


def _count(n: int, noun: str) -> str:
    plural = {"entry": "entries", "match": "matches"}.get(noun, noun + "s")
    return f"{n} {noun if n == 1 else plural}"


def _read_source(rt: Runtime, source: str) -> tuple[Entry, ...]:
    from monitor.errors import FetchError
    from monitor.fetch import FeedRequest, FetchStatus, fetch_sync
    from monitor.parse import parse_feed

    if source.startswith(("http://", "https://")):
        (result,) = fetch_sync([FeedRequest("match", source)], rt.limits)
        if result.body is None:
            message = result.error or f"fetch: HTTP {result.http_status}"
            raise FetchError(message, permanent=result.status is FetchStatus.GONE)
        body, url, ctype = result.body, result.final_url or source, result.content_type
    else:
        path = Path(source)
        body, url, ctype = path.read_bytes(), path.resolve().as_uri(), None
    return parse_feed(body, feed_id="match", url=url, content_type=ctype).entries


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------- reading


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, the items of GET /indicators.")
@pass_runtime
def status_cmd(rt: Runtime, as_json: bool) -> None:
    """Current status of every indicator.

    Example: monitor status --json
    """
    from monitor.domain import utcnow
    from monitor.pipeline import prepare
    from monitor.views import indicator_json, indicator_views

    prepare(rt.context(), now=utcnow())
    views = indicator_views(rt.definitions, rt.store, now=utcnow())
    if as_json:
        click.echo(json.dumps([indicator_json(v) for v in views], ensure_ascii=False, indent=2))
        return
    for v in views:
        click.echo(
            f"{v.id:<22} {v.status:<22} since {v.since:%Y-%m-%d %H:%M} UTC  "
            f"({len(v.evidence)} evidence)"
        )


@main.command("history")
@click.argument("indicator_id")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many changes, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
@pass_runtime
def history_cmd(rt: Runtime, indicator_id: str, limit: int, as_json: bool) -> None:
    """Status changes of one indicator, with evidence.

    Example: monitor history north-korea-stance --limit 5
    """
    from monitor.views import change_json

    try:
        rt.definitions.indicator(indicator_id)
    except KeyError:
        raise click.ClickException(f"no indicator {indicator_id!r}") from None
    for change in rt.store.history(indicator_id, limit=limit):
        if as_json:
            click.echo(json.dumps(change_json(change), ensure_ascii=False))
            continue
        mark = " (replayed)" if change.replayed else ""
        click.echo(
            f"{change.at:%Y-%m-%d %H:%M} UTC  {change.old_status} -> {change.new_status}{mark}"
        )
        if change.reason:
            click.echo(f"  because {change.reason}")
        for e in change.evidence:
            judged = " (confirmed by an analyst)" if e.judged else ""
            click.echo(f"    [entry {e.entry_id}] {e.publisher}: {e.title}{judged}\n      {e.link}")


@main.command("replay")
@click.option(
    "--since",
    "since",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Re-evaluate entries from this date (YYYY-MM-DD, UTC).",
)
@pass_runtime
def replay_cmd(rt: Runtime, since: datetime) -> None:
    """Re-evaluate stored entries against today's definitions; record changes as replayed.

    Example: monitor replay --since 2026-01-01
    """
    from monitor.domain import utcnow
    from monitor.pipeline import evaluate_and_record, prepare, rematch

    ctx = rt.context()
    now = utcnow()
    prepare(ctx, now=now, evaluate=False)
    start = datetime.combine(since.date(), time(), UTC)
    rematched = rematch(ctx, start)
    changes = evaluate_and_record(ctx, now=now, replayed=True)
    click.echo(
        f"replay: {rematched[0]} entries re-matched, {rematched[1]} matches, "
        f"{len(changes)} status changes",
        err=True,
    )
    for change in changes:
        click.echo(f"{change.indicator_id}: {change.old_status} -> {change.new_status} (replayed)")


# ---------------------------------------------------------------- analysts' verdicts


@main.command("search")
@click.argument("text")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
@pass_runtime
def search_cmd(rt: Runtime, text: str, limit: int, as_json: bool) -> None:
    """Find stored entries whose title or text contains TEXT (any case), newest first.

    Shows each entry's id, time, source (publisher, and the feed) and title: the id is what
    `monitor verdict` takes.

    Example: monitor search "visa-free" --limit 5
    """
    from monitor.views import entry_json

    for found in rt.store.search_entries(text, limit=limit):
        if as_json:
            click.echo(json.dumps(entry_json(found), ensure_ascii=False))
        else:
            click.echo(
                f"{found.id:>7}  {found.time:%Y-%m-%d %H:%M} UTC  {found.entry.publisher} "
                f"({found.entry.feed_id})  "
                f"{' '.join(found.entry.title.split()) or '(no headline)'}"
            )


class _VerdictGroup(click.Group):
    """`monitor verdict ENTRY INDICATOR:OUTCOME yes|no` is short for `monitor verdict add …`:
    arguments that name no subcommand go to `add` (entry ids are numbers, never a name)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["add", *args]
        return super().parse_args(ctx, args)


@main.group(
    "verdict",
    cls=_VerdictGroup,
    subcommand_metavar="[add] ENTRY INDICATOR:OUTCOME yes|no [--note TEXT] | export [OPTIONS]",
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


@verdict_group.command("add")
@click.argument("entry_id", metavar="ENTRY", type=click.IntRange(1))
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
    from monitor.pipeline import judge

    try:
        judged = judge(
            rt.definitions, rt.store, entry_id=entry_id, target=target, verdict=verdict,
            who="cli", note=note, now=utcnow(),
        )  # fmt: skip
    except VerdictError as exc:
        raise click.ClickException(str(exc)) from exc
    v = judged.verdict
    click.echo(f"{v.reason} (verdict {v.id}, {v.indicator_id}:{v.outcome_id})")
    if judged.change is None:
        click.echo(f"{v.indicator_id}: status stays {judged.status}")
    else:
        c = judged.change
        click.echo(f"{c.indicator_id}: {c.old_status} -> {c.new_status}")


@verdict_group.command("list")
@click.argument("indicator_id", metavar="[INDICATOR]", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per verdict.")
@pass_runtime
def verdict_list_cmd(rt: Runtime, indicator_id: str | None, limit: int, as_json: bool) -> None:
    """Every verdict (of one indicator), newest first, superseded ones too: who, when, what.

    Example: monitor verdict list visa-easing --limit 10
    """
    from monitor.views import verdict_json

    if indicator_id is not None:
        try:
            rt.definitions.indicator(indicator_id)
        except KeyError:
            raise click.ClickException(f"no indicator {indicator_id!r}") from None
    for verdict, found in rt.store.verdicts(indicator_id, limit=limit):
        if as_json:
            click.echo(json.dumps(verdict_json(verdict), ensure_ascii=False))
            continue
        note = f'  "{verdict.note}"' if verdict.note else ""
        click.echo(
            f"{verdict.at:%Y-%m-%d %H:%M} UTC  {verdict.verdict:<3}  "
            f"{verdict.indicator_id}:{verdict.outcome_id}  entry {verdict.entry_id}  "
            f"by {verdict.who}{note}\n    {' '.join(found.entry.title.split())}"
        )


@verdict_group.command("export")
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
    export = labeled_tsv(rt.definitions, rt.store.standing_verdicts())
    if output is None:
        click.echo(export.text, nl=False)
    else:
        try:
            output.write_text(export.text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"verdict export: {output}: {exc.strerror}") from exc
    where = f" to {output}" if output is not None else ""
    left = f"; {export.left_out} judged only for outcomes no longer defined" * bool(export.left_out)
    click.echo(
        f"verdict export: {export.rows} entries, {export.labels} labels{where}{left}", err=True
    )


# ---------------------------------------------------------------- the daemon and the digest


@main.command("run")
@pass_runtime
def run_cmd(rt: Runtime) -> None:
    """The daemon: scheduled checks, the daily digest, change alerts and the HTTP endpoint.

    Stops cleanly on SIGTERM or Ctrl-C; SIGHUP (or editing indicators/) reloads definitions.

    Example: MONITOR_CHECK_INTERVAL=5m monitor run
    """
    from monitor import scheduler

    try:
        code = scheduler.run(rt.settings, rt.store, rt.definitions, services=_web(rt))
    except MonitorError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


def _web(rt: Runtime) -> Callable[[scheduler.Daemon], list[scheduler.Service]]:
    """The HTTP endpoint, served by `monitor run` over the daemon's current definitions."""
    from monitor import web

    def services(daemon: scheduler.Daemon) -> list[scheduler.Service]:
        app = web.create_app(
            store=rt.store, definitions=lambda: daemon.definitions, settings=rt.settings
        )
        limits = web.Limits.of(rt.settings)
        return [
            web.WebServer(
                app, host=rt.settings.http_host, port=rt.settings.http_port, limits=limits
            )
        ]

    return services


@main.command("serve")
@click.option("--host", help="Address to bind; default MONITOR_HTTP_HOST (127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port; default MONITOR_HTTP_PORT.")
@pass_runtime
def serve_cmd(rt: Runtime, host: str | None, port: int | None) -> None:
    """Serve only the HTTP endpoint and the status page, reading the same database.

    For a second process next to `monitor run` (which serves them itself). Edited definitions
    are read again on the next request; stops on SIGTERM or Ctrl-C.

    Example: monitor serve --host 127.0.0.1 --port 8001
    """
    from monitor import web

    app = web.create_app(store=rt.store, definitions=_Reloading(rt), settings=rt.settings)
    port = rt.settings.http_port if port is None else port
    web.serve(app, host=host or rt.settings.http_host, port=port, limits=web.Limits.of(rt.settings))


class _Reloading:
    """The definitions, loaded again when a file changed; the last good ones while invalid."""

    def __init__(self, rt: Runtime) -> None:
        from monitor.scheduler import Reloader

        s = rt.settings
        self._reloader = Reloader(s.indicators_dir, s.feeds_file, rt.definitions)

    def __call__(self) -> Definitions:
        try:
            self._reloader.poll()
        except DefinitionError as exc:
            click.echo(f"monitor serve: keeping the last good definitions: {exc}", err=True)
        return self._reloader.definitions


@main.command("digest")
@click.option("--preview", "mode", flag_value="preview", help="Render without sending.")
@click.option("--send", "mode", flag_value="send", help="Send it (once a day unless --force).")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
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
    now = utcnow()
    the_day = day.date() if day else now.astimezone(rt.settings.zone).date()
    prepare(rt.context(), now=now)
    if mode == "preview":
        _preview(rt, the_day, now, out)
        return
    try:
        result = daily.send_daily_digest(
            rt.definitions, rt.store, rt.settings, day=the_day, now=now,
            owner=f"cli:{socket.gethostname()}", force=force, clock=utcnow,
        )  # fmt: skip
    except MonitorError as exc:
        raise click.ClickException(str(exc)) from exc
    if not result.sent:
        raise click.ClickException(f"digest {the_day}: not sent: {result.reason} (--force sends)")
    click.echo(f"digest {the_day}: sent to {result.where}")


def _preview(rt: Runtime, day: date, now: datetime, out: Path | None) -> None:
    from monitor import daily

    message = daily.digest_message(rt.definitions, rt.store, rt.settings, day=day, now=now)
    if out is not None:
        out.write_bytes(message.as_bytes())
        click.echo(f"digest {day}: written to {out}", err=True)
        return
    click.echo(f"Subject: {message['Subject']}\n")
    text = message.get_body(("plain",))
    click.echo(text.get_content() if text is not None else "")


# ---------------------------------------------------------------- the database


@main.group("db", cls=OneLineUsage)
def db_group() -> None:
    """The database schema: its revision, and migrating it to this version's.

    Example: monitor db upgrade
    """


@db_group.command("upgrade")
@pass_runtime
def db_upgrade_cmd(rt: Runtime) -> None:
    """Migrate the database (MONITOR_DATABASE_URL) to this version's schema; safe to run twice.

    Example: monitor db upgrade
    """
    from monitor.store import upgrade

    try:
        before, after = upgrade(rt.settings.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if before == after:
        click.echo(f"db: already at revision {after}")
    else:
        click.echo(f"db: upgraded from revision {before or '(none)'} to {after}")


@db_group.command("current")
@pass_runtime
def db_current_cmd(rt: Runtime) -> None:
    """Print the database's schema revision and this version's; exit 1 when they differ.

    Example: monitor db current
    """
    from monitor.store import schema_status

    try:
        current, head = schema_status(rt.settings.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database: {current or '(none)'}\ncode:     {head}")
    if current != head:
        raise SystemExit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
