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
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor import daily, logs, scheduler, web
from monitor.alerts import Outbox, send_pending
from monitor.definitions import load_definitions, validate
from monitor.definitions import warnings as definition_warnings
from monitor.domain import Definitions, Entry
from monitor.errors import DefinitionError, MonitorError, StoreError
from monitor.fetch import FeedRequest, FetchLimits, fetch_sync
from monitor.labeled import load_labeled, score
from monitor.match import Matcher, general_news_warnings, run_examples
from monitor.notify import Notifier
from monitor.parse import parse_feed
from monitor.pipeline import Context, evaluate_and_record, prepare, rematch, run_cycle
from monitor.settings import Settings
from monitor.store import Store, open_store, schema_status, upgrade
from monitor.views import change_json, indicator_json, indicator_views

F = TypeVar("F", bound=Callable[..., Any])


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What commands share, built on first use: settings, definitions, the store."""

    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        try:
            return self._settings or Settings()
        except ValueError as exc:  # pydantic's ValidationError
            raise click.ClickException(f"settings: {exc}") from exc

    @cached_property
    def definitions(self) -> Definitions:
        try:
            return load_definitions(self.settings.indicators_dir, self.settings.feeds_file)
        except DefinitionError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(
                f"definitions: {len(exc.problems)} problem(s); nothing was done"
            ) from exc

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher(self.definitions.indicators)

    @cached_property
    def store(self) -> Store:
        try:
            self._store = open_store(self.settings.database_url)
        except StoreError as exc:  # e.g. a schema older than the code: run monitor db upgrade
            raise click.ClickException(str(exc)) from exc
        return self._store

    @cached_property
    def limits(self) -> FetchLimits:
        return FetchLimits.from_settings(self.settings)

    def context(self, owner: str = "cli") -> Context:
        s = self.settings
        return Context(
            definitions=self.definitions,
            matcher=self.matcher,
            store=self.store,
            limits=self.limits,
            check_interval=s.check_interval,
            max_backoff=s.max_backoff,
            owner=owner,
            lease=s.feed_lease,
            alerts=bool(s.notify_urls),
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monitor")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Watch news feeds for the markers of indicators/*.yaml and record every status change.

    Settings come from MONITOR_* environment variables and .env (see README).
    """
    runtime = ctx.ensure_object(Runtime)
    logs.configure(runtime.settings.log_format, runtime.settings.log_level)
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
@pass_runtime
def test_cmd(rt: Runtime, labeled: Path | None) -> None:
    """Run every indicator's examples; exit 1 on a failure, showing why.

    Example: monitor test --labeled ../shared/corpus/labeled-dev.tsv
    """
    results = run_examples(rt.definitions.indicators, rt.matcher)
    failures = [r for r in results if not r.passed]
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
        _score(rt, labeled)
    if failures:
        raise SystemExit(1)


def _score(rt: Runtime, path: Path) -> None:
    try:
        items = load_labeled(path)
    except ValueError as exc:  # a malformed TSV: file:line: message
        raise click.ClickException(str(exc)) from exc
    click.echo(score(items, rt.matcher, rt.definitions.indicators).report())


# ---------------------------------------------------------------- checking


@main.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON lines.")
@pass_runtime
def check_cmd(rt: Runtime, as_json: bool) -> None:
    """Run one check cycle now and print the status changes it recorded.

    Example: monitor check
    """
    ctx = rt.context()
    now = utcnow()
    changes = prepare(ctx, now=now)
    report = run_cycle(ctx, now=now, clock=utcnow)
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


def _send_alerts(rt: Runtime) -> None:
    """Send the alerts waiting in the outbox (this check's, and any a daemon left)."""
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

    Example: monitor match tests/data/feeds/korea.xml https://en.yna.co.kr/RSS/news.xml --json
    """
    failed = 0
    for source in sources:
        try:
            entries = _read_source(rt, source)
        except (MonitorError, OSError) as exc:
            failed += 1
            click.echo(f"monitor: {source}: {_one_line(exc)}", err=True)
            continue
        for entry in entries:
            for m in rt.matcher.match(entry):
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
    if failed:
        raise SystemExit(1)


def _read_source(rt: Runtime, source: str) -> tuple[Entry, ...]:
    if source.startswith(("http://", "https://")):
        (result,) = fetch_sync([FeedRequest("match", source)], rt.limits)
        if result.body is None:
            raise MonitorError(result.error or f"fetch: HTTP {result.http_status}")
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
@click.option("--limit", default=20, show_default=True, help="How many changes, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
@pass_runtime
def history_cmd(rt: Runtime, indicator_id: str, limit: int, as_json: bool) -> None:
    """Status changes of one indicator, with evidence.

    Example: monitor history north-korea-stance --limit 5
    """
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
            click.echo(f"    {change.reason}")
        for e in change.evidence:
            click.echo(f"    {e.publisher}: {e.title}\n      {e.link}")


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


# ---------------------------------------------------------------- the daemon and the digest


@main.command("run")
@pass_runtime
def run_cmd(rt: Runtime) -> None:
    """The daemon: scheduled checks, the daily digest, change alerts and the HTTP endpoint.

    Stops cleanly on SIGTERM or Ctrl-C; SIGHUP (or editing indicators/) reloads definitions.

    Example: MONITOR_CHECK_INTERVAL=5m monitor run
    """
    try:
        code = scheduler.run(rt.settings, rt.store, rt.definitions, services=_web(rt))
    except MonitorError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


def _web(rt: Runtime) -> Callable[[scheduler.Daemon], list[scheduler.Service]]:
    """The HTTP endpoint, served by `monitor run` over the daemon's current definitions."""

    def services(daemon: scheduler.Daemon) -> list[scheduler.Service]:
        app = web.create_app(
            store=rt.store, definitions=lambda: daemon.definitions, settings=rt.settings
        )
        return [web.WebServer(app, host=rt.settings.http_host, port=rt.settings.http_port)]

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
    app = web.create_app(store=rt.store, definitions=_Reloading(rt), settings=rt.settings)
    port = rt.settings.http_port if port is None else port
    web.serve(app, host=host or rt.settings.http_host, port=port)


class _Reloading:
    """The definitions, loaded again when a file changed; the last good ones while invalid."""

    def __init__(self, rt: Runtime) -> None:
        self._dir, self._file = rt.settings.indicators_dir, rt.settings.feeds_file
        self._seen = scheduler.fingerprint(self._dir, self._file)
        self._definitions = rt.definitions

    def __call__(self) -> Definitions:
        seen = scheduler.fingerprint(self._dir, self._file)
        if seen != self._seen:
            self._seen = seen
            try:
                self._definitions = load_definitions(self._dir, self._file)
            except DefinitionError as exc:
                click.echo(f"monitor serve: keeping the last good definitions: {exc}", err=True)
        return self._definitions


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
    message = daily.digest_message(rt.definitions, rt.store, rt.settings, day=day, now=now)
    if out is not None:
        out.write_bytes(message.as_bytes())
        click.echo(f"digest {day}: written to {out}", err=True)
        return
    click.echo(f"Subject: {message['Subject']}\n")
    text = message.get_body(("plain",))
    click.echo(text.get_content() if text is not None else "")


# ---------------------------------------------------------------- the database


@main.group("db")
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
    try:
        current, head = schema_status(rt.settings.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database: {current or '(none)'}\ncode:     {head}")
    if current != head:
        raise SystemExit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
