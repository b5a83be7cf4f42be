"""What every command shares: the Runtime (settings, definitions, the store, built on first
use), the one table turning monitor's errors into command-line errors, the `--json` option.

Every command is made by `command` (a `Command`) or in a `Group`, so that table covers each:

    BadSetting (a setting that cannot work)   one line on stderr, exit 2, nothing written
    DefinitionError                           the file:line problems on stderr (20 per file), then
                                              "definitions: N problem(s); nothing was done", exit 1
    any other MonitorError                    its one-line message ("store: ..."), exit 1
    click.UsageError                          one line naming the command's --help, exit 2
    stdout's reader gone (`| head -1`)        nothing more written or said, exit 141 (SIGPIPE's)
    Ctrl-C, SIGTERM                           one line, what it was doing and what it did
                                              (`Command.stopped`), exit 130 or 143
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor.cli.stops import CLOSED_PIPE, closed_pipe, stopped_by_signals
from monitor.counts import count
from monitor.errors import ConfigError, DefinitionError, MonitorError

# The stages are imported inside the commands that use them, so `monitor --version` and
# `--help` answer without loading SQLAlchemy, FastAPI, feedparser and the rest
# (tests/test_cli_ops.py holds this).
if TYPE_CHECKING:
    from monitor.domain import Definitions, StatusChange
    from monitor.fetch import FetchLimits
    from monitor.match import Matcher
    from monitor.pipeline import Context
    from monitor.settings import Settings
    from monitor.store import Store

Decorated = TypeVar("Decorated", bound=Callable[..., Any])
Row = TypeVar("Row")


@dataclass
class Runtime:
    """What commands share, built on first use: settings, definitions, the store."""

    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)
    read_only: bool = False  # set by commands that only read, before they use the store
    # …and by those that write only to rows stored already (end a silence, judge an entry,
    # replay), or whose work means nothing on a database never made (begin a silence, send a
    # digest): a database that does not exist yet is refused as for the readers, not made.
    must_exist: bool = False
    checkpoints: bool = True  # the daemon's store leaves them to a job (`Store.checkpoint`)
    # False for commands that never run a rule (status, history, verdict list, the exports),
    # set before they read the definitions: each regex term is not compiled to check it,
    # half the definitions' reading. Those that run rules (validate, test, check, run, match,
    # explain...) report a bad regex as every command reports any other problem.
    runs_rules: bool = True

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
        if settings.notify_urls:
            from monitor.notify import unknown_urls

            problem = unknown_urls(settings.notify_urls)
            if problem is not None:
                raise BadSetting(problem)
        logs.configure(settings.log_format, settings.log_level)
        for warning in warnings:
            logging.getLogger("monitor.settings").warning("%s", warning)
        return settings

    @cached_property
    def definitions(self) -> Definitions:
        from monitor import heap
        from monitor.definitions import load_definitions, tag_warnings

        s = self.settings
        definitions = load_definitions(
            s.indicators_dir, s.feeds_file, check_regexes=self.runs_rules
        )
        for warning in tag_warnings(definitions):
            logging.getLogger("monitor.definitions").warning("%s", warning)
        heap.freeze()  # loaded for the whole command
        return definitions

    @cached_property
    def matcher(self) -> Matcher:
        from monitor.match import Matcher

        return Matcher(self.definitions.indicators)

    @cached_property
    def store(self) -> Store:
        """The database; a schema older than the code is a StoreError (run monitor db upgrade)."""
        from monitor import heap
        from monitor.settings import database_dir_problem
        from monitor.store import open_store

        problem = database_dir_problem(self.settings.database_url)
        if problem is not None:
            raise BadSetting(problem)
        self._store = open_store(
            self.settings.database_url,
            read_only=self.read_only,
            checkpoints=self.checkpoints,
            must_exist=self.must_exist,
        )
        heap.freeze()  # open for the whole command
        return self._store

    @cached_property
    def limits(self) -> FetchLimits:
        from monitor.fetch import FetchLimits

        return FetchLimits.from_settings(self.settings)

    def context(self) -> Context:
        """A cycle's context, its leases held by this process (`owners.owner_of`), so that two
        `monitor check`s never check one feed both, and a killed one's are taken over at once."""
        from monitor import owners
        from monitor.pipeline import Context

        owner = owners.owner_of()
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


def click_error(exc: MonitorError) -> click.ClickException:
    """The one table from monitor's errors to the command line's (see the module docstring)."""
    if isinstance(exc, DefinitionError):
        from monitor.definitions import shown_per_file

        for problem in shown_per_file(exc.problems):
            click.echo(problem, err=True)
        return click.ClickException(
            f"definitions: {count(len(exc.problems), 'problem')}; nothing was done"
        )
    return click.ClickException(str(exc))


# What a command stopped by Ctrl-C or SIGTERM was doing and what it did, after its name and
# why ("status: stopped by SIGTERM …"): words, or words made of its parameters.
Stopped = str | Callable[[dict[str, Any]], str]


class Command(click.Command):
    """A monitor command: a MonitorError it raises is one line on stderr, exit 1. Ctrl-C or
    SIGTERM ends it with one line, `NAME: interrupted …` or `NAME: stopped by SIGTERM …` and
    `stopped` (what it was doing and what it did), exit 130 or 143, unless the command says
    more itself at that moment (its own `stopped_by_signals`, inside this one): so no command
    dies on SIGTERM with nothing said (exit -15) or says click's `Aborted!` (exit 1). Every
    command has `stopped` but the daemon's (`run`, `serve`), which take the signals
    themselves from their first line (`shutdown.Signals`)."""

    def __init__(self, *args: Any, stopped: Stopped | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopped = stopped

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with self._stops(ctx):
                return super().invoke(ctx)
        except MonitorError as exc:
            raise click_error(exc) from exc

    def _stops(self, ctx: click.Context) -> contextlib.AbstractContextManager[None]:
        stopped = self.stopped
        if stopped is None or threading.current_thread() is not threading.main_thread():
            return contextlib.nullcontext()  # only the main thread takes signals
        name = ctx.command_path.partition(" ")[2] or ctx.command_path  # "db upgrade"

        def said(why: str) -> str:
            return f"{name}: {why} {stopped(ctx.params) if callable(stopped) else stopped}"

        return stopped_by_signals(said)


# A group run without its subcommand: its help, shown as written (click 8.2 on; before, it
# printed the help and exited 0).
HELP_ASKED: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Group(click.Group):
    """A group whose commands are `Command`s and whose usage errors are one line on stderr
    (exit 2), with where to read more:
    `Error: Invalid value for '--limit': ... (see 'monitor history --help')`."""

    command_class = Command
    group_class = type  # its subgroups are Groups too

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tolerant_stdout()
        return super().main(*args, **kwargs)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        """Where the group's own --help and --version print (`monitor --help | head -1`); a
        subcommand's are made, and its output written, inside `invoke`."""
        with _quiet_on_closed_pipe():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _quiet_on_closed_pipe():
                return super().invoke(ctx)
        except click.UsageError as exc:
            if exc.ctx is None or isinstance(exc, HELP_ASKED):  # one line already, or a help
                raise
            path = exc.ctx.command_path
            message = " ".join(exc.format_message().split())
            raise click.UsageError(f"{message} (see '{path} --help')") from None


@contextlib.contextmanager
def _quiet_on_closed_pipe() -> Iterator[None]:
    """The reader of stdout gone meanwhile: exit CLOSED_PIPE quietly (click says nothing either,
    but exits 1, as on an error)."""
    try:
        yield
    except OSError as exc:
        if not closed_pipe(exc):
            raise
        raise click.exceptions.Exit(CLOSED_PIPE) from None


def command(name: str, **attrs: Any) -> Callable[[Callable[..., Any]], Command]:
    """`@click.command` making a `Command`: the one way every command of monitor is made."""
    return click.command(name, cls=Command, **attrs)


def group(name: str, **attrs: Any) -> Callable[[Callable[..., Any]], Group]:
    """`@click.group` making a `Group` (its commands are `Command`s), unless `cls` says which
    subclass of Group."""
    attrs.setdefault("cls", Group)
    return click.group(name, **attrs)


ROW_ID = click.IntRange(1, 2**63 - 1)  # the stores' ids are signed 64-bit integers
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 12, 31, tzinfo=UTC)


class Day(click.DateTime):
    """A day, YYYY-MM-DD, from 1900 to 9000: further out, the day before or after it (or its
    time in another zone) is no date Python has."""

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        day = super().convert(value, param, ctx)
        return in_range(self, day, param, ctx)


def in_range(
    kind: click.ParamType,  # type: ignore[type-arg]  # generic in new clicks only
    moment: datetime,
    param: click.Parameter | None,
    ctx: click.Context | None,
) -> datetime:
    """`moment`, or a usage error when it lies outside EARLIEST..LATEST."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not EARLIEST <= aware <= LATEST:
        span = f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
        kind.fail(f"{moment.date().isoformat()} is out of range ({span})", param, ctx)
    return moment


def take_over_claims(rt: Runtime, now: datetime) -> None:
    """Release the claims of the processes of this host that are gone (a killed daemon,
    `monitor check` or `monitor digest --send`: `Store.take_over_claims`), as the daemon does
    every tick, before this command claims any; one log line per gone process."""
    from monitor import owners
    from monitor.store import log_taken_over

    taken = rt.store.take_over_claims(now, ended=owners.ended)
    log_taken_over(taken, logging.getLogger("monitor.claims"))


def send_alerts(rt: Runtime) -> None:
    """Send the alerts waiting in the outbox (this command's, and any a daemon left), each
    claimed by this process (`owners.owner_of`)."""
    from monitor import owners
    from monitor.alerts import Outbox, send_pending
    from monitor.domain import utcnow
    from monitor.notify import Notifier

    s = rt.settings
    if not s.notify_urls:
        return
    titles = {i.id: i.title for i in rt.definitions.indicators}
    notifier, owner = Notifier(s.notify_urls), owners.owner_of()
    outbox = Outbox(rt.store, notifier, titles, owner, s.zone, public_url=s.public_url)
    send_pending(outbox, now=utcnow(), clock=utcnow)


def json_option(help: str) -> Callable[[Decorated], Decorated]:
    """`--json` (the parameter `as_json`): print JSON instead of lines for people."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def tolerant_stdout() -> None:
    """Text for people on a terminal whose encoding cannot write some of it (a latin-1 locale,
    a Korean headline) shows those characters as `\\uXXXX`, as Python's stderr does, rather
    than ending the command in a traceback."""
    stdout = sys.stdout
    if isinstance(stdout, io.TextIOWrapper) and stdout.errors == "strict":
        stdout.reconfigure(errors="backslashreplace")


def echo_utf8(text: str, *, nl: bool = True) -> None:
    """Print what a program reads (JSON, a TSV) as UTF-8 bytes, whatever the terminal's
    encoding: the same document in every locale."""
    click.echo(text.encode("utf-8", "replace"), nl=nl)


def echo_json(document: object, *, indent: int | None = None) -> None:
    """Print one JSON document (a line, unless `indent`) in UTF-8; every `--json` output goes
    here."""
    echo_utf8(json.dumps(document, ensure_ascii=False, indent=indent))


def echo_unread(change: StatusChange) -> None:
    """Under a change's line, after its `because` line when it has one (`monitor history`,
    `monitor check`; a change the failures did not cause lists them too): every feed that
    supported no status when it was recorded, its error whole (`views.unread_lines`), when
    the reason does not say them all."""
    from monitor.views import unread_lines

    lines = unread_lines(change, UTC)
    if lines:
        click.echo(f"  feeds not read then ({len(lines)}):")
    for line in lines:
        click.echo(f"    {line}")


def write_whole(path: Path, chunks: Iterable[str] | bytes, what: str) -> None:
    """Write `chunks` (text in UTF-8, or bytes as they are) to a file beside `path`, then
    rename it over `path`: a failure (a full disk, an error while the chunks are made) leaves
    `path` as it was, and no stray file. The file gets the mode `path` had, or a new file's
    (0666 less the umask)."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise click.ClickException(f"{what}: {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), _mode_for(path))
            if isinstance(chunks, bytes):
                out.write(chunks)
            else:
                for chunk in chunks:
                    out.write(chunk.encode("utf-8", "replace"))
            out.flush()
            os.fsync(out.fileno())  # whole on disk before it takes the name
        os.replace(temporary, path)
    except OSError as exc:
        raise click.ClickException(f"{what}: {path}: {exc.strerror}") from exc
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _mode_for(path: Path) -> int:
    """The permissions `path` has, or those `open(path, "w")` would give it (mkstemp's are
    0600: an export others read would stop being readable)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def recorded_of(
    rt: Runtime, indicator_id: str | None, read: Callable[[], list[Row]], *, name: str
) -> list[Row]:
    """`read()`: the rows recorded of one indicator (of all when `indicator_id` is None). One
    whose file was removed since keeps its rows: they are returned after a line on stderr saying
    it is no longer defined, as `history` does; with none recorded it is `unknown` (exit 1)."""
    gone = indicator_id is not None and all(i.id != indicator_id for i in rt.definitions.indicators)
    unknown = f"{name}: {rt.definitions.no_indicator(indicator_id or '')}"
    try:
        rows = read()
    except MonitorError as exc:  # no database, say: nothing recorded of it either
        if not gone:
            raise
        raise click.ClickException(f"{unknown} ({exc})") from None
    if gone and not rows:
        raise click.ClickException(unknown)
    if gone:
        click.echo(f"monitor: {name}: {indicator_id} is no longer defined", err=True)
    return rows


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
