"""The long-running commands: run (the daemon) and serve (the HTTP endpoint alone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from monitor.cli.common import Runtime, command, pass_runtime
from monitor.errors import DefinitionError, StoreError
from monitor.shutdown import Signals  # the standard library only: loads nothing else

if TYPE_CHECKING:
    from monitor import scheduler
    from monitor.daemon import Daemon
    from monitor.domain import Definitions
    from monitor.reloading import Validity


@command("run")
@pass_runtime
def run_cmd(rt: Runtime) -> None:
    """The daemon: scheduled checks, the daily digest, change alerts and the HTTP endpoint.

    Stops cleanly on SIGTERM or Ctrl-C; SIGHUP (or editing indicators/) reloads definitions.

    Example: MONITOR_CHECK_INTERVAL=5m monitor run
    """
    signals = Signals().install()  # first: a signal during start-up stops it cleanly
    from monitor import scheduler

    settings = rt.settings  # logging is set up: from here a stop during start-up is logged
    # The definitions first: invalid ones (a folder that is no watch list) make no database.
    signals.before("loading the definitions")
    definitions = signals.run(lambda: rt.definitions)  # signals are taken meanwhile
    signals.before("opening the database")
    rt.checkpoints = False  # a job of the daemon's copies SQLite's log into the file
    store = signals.run(lambda: rt.store)  # it may wait for a lock: signals taken meanwhile
    code = scheduler.run(settings, store, definitions, services=_web(rt), signals=signals)
    raise SystemExit(code)


def _web(rt: Runtime) -> Callable[[Daemon], list[scheduler.Service]]:
    """The HTTP endpoint, served by `monitor run` over the daemon's current definitions."""
    from monitor import web

    def services(daemon: Daemon) -> list[scheduler.Service]:
        app = web.create_app(
            store=rt.store,
            definitions=lambda: daemon.definitions,
            settings=rt.settings,
            validity=lambda: daemon.reloader.validity,
            failing=daemon.check_failure,
        )
        limits = web.Limits.of(rt.settings)
        return [
            web.WebServer(
                app, host=rt.settings.http_host, port=rt.settings.http_port, limits=limits
            )
        ]

    return services


@command("serve")
@click.option("--host", help="Address to bind; default MONITOR_HTTP_HOST (127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port; default MONITOR_HTTP_PORT.")
@pass_runtime
def serve_cmd(rt: Runtime, host: str | None, port: int | None) -> None:
    """Serve only the HTTP endpoint and the status page, reading the same database.

    For a second process next to `monitor run` (which serves them itself, and makes the
    database on its first start): a database that does not exist yet is refused (exit 1), as
    by the commands that only read. Edited definitions are read again on the next request (all
    of them after a SIGHUP); stops on SIGTERM or Ctrl-C (exit 0), and with exit 1, as `monitor
    run` does, once a request finds the database migrated by another version (writes are
    refused from then on).

    Example: monitor serve --host 127.0.0.1 --port 8001
    """
    if host is not None and not host.strip():  # `--host "$HOST"` with HOST unset
        raise click.BadParameter(
            "an empty address is none to listen on (give one, or leave --host out for "
            "MONITOR_HTTP_HOST)",
            param_hint="'--host'",
        )
    signals = Signals().install()  # first, as for `monitor run`
    from monitor import web

    settings = rt.settings  # logging is set up: from here a stop during start-up is logged
    signals.before("loading the definitions")
    reloading = signals.run(lambda: _Reloading(rt))  # signals are taken meanwhile
    signals.reload_with(reloading.request)
    signals.before("opening the database")
    # It shows what a check recorded: on a database no check made it would make and migrate
    # one (a mistyped MONITOR_DATABASE_URL) and serve an empty monitor; refused as a reader.
    rt.must_exist = True
    store = signals.run(lambda: rt.store)
    signals.before("serving")
    foreign: list[str] = []  # why the database is not this version's any more, once found
    app = web.create_app(
        store=store,
        definitions=reloading,
        settings=settings,
        validity=reloading.validity,
        on_schema_change=foreign.append,
    )
    port = settings.http_port if port is None else port
    limits = web.Limits.of(settings)
    host = host or settings.http_host

    def stop() -> bool:  # a signal between here and uvicorn's own handlers is not lost
        return bool(foreign) or signals.stop_signal is not None

    web.serve(app, host=host, port=port, limits=limits, stop=stop)
    if foreign:  # the error it would give at start-up: a restart of this version fails alike
        raise StoreError(f"{foreign[0]}; this server stopped")


class _Reloading:
    """The definitions, loaded again when a file changed; the last good ones while invalid."""

    def __init__(self, rt: Runtime) -> None:
        from monitor.reloading import Reloader

        s = rt.settings
        self._reloader = Reloader(s.indicators_dir, s.feeds_file, rt.definitions)

    def request(self) -> None:
        """Read the files again at the next request, changed or not (SIGHUP)."""
        self._reloader.request()

    def validity(self) -> Validity:
        """Whether the files on disk are valid, read again if they changed."""
        self()
        return self._reloader.validity

    def __call__(self) -> Definitions:
        from monitor import heap

        try:
            if (definitions := self._reloader.poll()) is not None:
                from monitor.reloading import log_reloaded

                heap.refreeze()  # the last set is let go
                log_reloaded(definitions, self._reloader.changed)  # as `monitor run` logs it
        except DefinitionError as exc:  # a log record, as `monitor run` logs it (not a bare line)
            from monitor.reloading import log_invalid

            log_invalid(exc, self._reloader.definitions, self._reloader.validity.held)
        return self._reloader.definitions


COMMANDS = (
    run_cmd,
    serve_cmd,
)
