"""`monitor run`: APScheduler decides *when*; the jobs are the Daemon's (`monitor.daemon`: check,
alerts, digest, checkpoint, cleanup), which call the stages. The only module that imports
APScheduler.

    build_scheduler(daemon)  the Daemon's jobs on their intervals, each guarded: a job that
                             raises is logged (its traceback once while it fails alike) and
                             the daemon goes on
    run(...)                 start the Daemon and the services, schedule the jobs, serve until
                             SIGTERM/SIGINT, stop within SHUTDOWN_GRACE; whatever is stuck, the
                             process ends SHUTDOWN_BUDGET after the signal (`monitor.shutdown`)
    catch_up(scheduler, now) run at once the jobs a clock set back would hold

The schedule's truth is in the database (each feed's next_check_at, each day's digest row), so
the jobs only *look* every tick and a restart neither repeats nor skips work. One job never
runs twice at once (max_instances=1), missed runs coalesce, a job that raises is logged and
the daemon goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from monitor import heap
from monitor.counts import count
from monitor.daemon import Daemon, Resting, Stopping
from monitor.domain import Definitions, format_duration
from monitor.repeats import Repeats
from monitor.settings import Settings
from monitor.shutdown import SHUTDOWN_GRACE, Signals, release_claims, stop_all
from monitor.store import Store

log = logging.getLogger("monitor.daemon")

CLEANUP_EVERY = timedelta(hours=6)
CLOCK_STEP = timedelta(seconds=1)  # a job's next run further off than its interval and this:
# the clock was set back (`catch_up`)


class Service(Protocol):
    """Something served alongside the jobs (the HTTP endpoint): started, then stopped."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


# ---------------------------------------------------------------- scheduling


def _guarded(name: str, work: Callable[[], object]) -> Callable[[], None]:
    """`work` as a job: what it raises is logged and the daemon goes on. A failure that repeats
    the one before (a full disk, the database down: every tick) is one line without its
    traceback, at the 2nd, 4th, 8th… failure in a row (`repeats.Repeats`), its traceback logged the
    first time; the first run that works again says so, and how many failed."""
    repeats = Repeats()

    def job() -> None:
        try:
            work()
        except Stopping as exc:
            log.info("%s: abandoned (%s): the daemon is stopping", name, exc)
            return
        except Resting:  # a failure's back-off: still failing, as far as anyone knows
            return
        except Exception as exc:
            said, failures = repeats.failed(f"{type(exc).__name__}: {exc}")
            if said == "first":
                log.exception("%s: failed; the daemon goes on", name)
            elif said == "again":
                log.error(
                    "%s: failed again (%d in a row; traceback above): %s: %s; the daemon goes on",
                    name, failures, type(exc).__name__, exc,
                )  # fmt: skip
            return
        failures = repeats.worked()
        if failures:
            log.info("%s: works again after %s in a row", name, count(failures, "failure"))

    return job


class _SkippedRunFilter(logging.Filter):
    """A tick skipped because the previous one still runs is expected, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def build_scheduler(daemon: Daemon) -> BackgroundScheduler:
    s = daemon.settings
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())
    scheduler = BackgroundScheduler(timezone=s.zone)
    tick = max(s.tick_interval.total_seconds(), 0.2)
    start = datetime.now(UTC)  # a minute after 02:59:30 CEST is 02:00:30 CET, not 03:00:30
    jobs: list[tuple[str, Callable[[], object], float, timedelta]] = [
        ("check", daemon.check, tick, timedelta(0)),
        ("digest", daemon.digest, tick, timedelta(seconds=min(tick, 1.0))),
        ("alerts", daemon.alerts, tick, timedelta(seconds=tick)),  # after the first check
        ("cleanup", daemon.cleanup, CLEANUP_EVERY.total_seconds(), timedelta(minutes=1)),
        ("checkpoint", daemon.checkpoint, tick, timedelta(seconds=tick / 2)),
    ]
    for name, work, every, delay in jobs:
        scheduler.add_job(
            _guarded(name, work),
            "interval",
            seconds=every,
            id=name,
            name=name,
            next_run_time=start + delay,
            max_instances=1,  # never twice at once
            coalesce=True,  # runs missed while busy or suspended become one
            misfire_grace_time=None,
        )
    return scheduler


def run(
    settings: Settings,
    store: Store,
    definitions: Definitions,
    *,
    services: Callable[[Daemon], Sequence[Service]] | None = None,
    signals: Signals | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit code (0 after a clean stop, 1 when the
    daemon stopped itself: another version migrated the database).

    `services(daemon)` gives what is served alongside the jobs (the HTTP endpoint); they may
    read `daemon.definitions`, which follows reloads. `signals`, installed by the command
    before its start-up (else here), go to the daemon from its first step on."""
    signals = signals or Signals().install()
    signals.before("starting the daemon")
    daemon = Daemon(settings, store, definitions, started=signals.installed_at)
    signals.attach(daemon)  # before start-up's database work, which can wait for the database
    if not daemon.stopping.is_set():
        try:
            signals.run(daemon.start)
        except Stopping as exc:  # a stop during its work (a long look): ends as one before
            log.info("start-up: abandoned (%s): the daemon is stopping", exc)
    scheduler = build_scheduler(daemon)
    started = _start(daemon, scheduler, services)
    while not daemon.stopping.wait(0.5):
        catch_up(scheduler, datetime.now(UTC))
    log.info("stopping")
    stoppers = [scheduler.shutdown] if scheduler.running else []
    done = stop_all([*stoppers, *(s.stop for s in started)], SHUTDOWN_GRACE)
    daemon.close(timeout=1.0)
    released = release_claims(daemon)
    if released:
        log.info("released the claims of %s", released)
    if not done:
        log.warning("work still running after %.0fs was abandoned", SHUTDOWN_GRACE)
        logging.shutdown()
        os._exit(1 if daemon.fatal else 0)  # the pool's threads would be joined at exit
    log.info("stopped")
    return 1 if daemon.fatal else 0


def _start(
    daemon: Daemon,
    scheduler: BackgroundScheduler,
    services: Callable[[Daemon], Sequence[Service]] | None,
) -> list[Service]:
    """Start the services, then the jobs; none once a stop was asked for (a signal during
    start-up). Returns the services started."""
    started: list[Service] = []
    if daemon.stopping.is_set():
        return started
    try:
        for service in services(daemon) if services else ():
            if daemon.stopping.is_set():
                break
            service.start()
            started.append(service)
    except BaseException:
        stop_all([s.stop for s in started], SHUTDOWN_GRACE)
        daemon.close(timeout=0)
        raise
    if not daemon.stopping.is_set():
        heap.freeze()  # start-up is done: what it loaded lives as long as the daemon
        scheduler.start()
        _log_start(daemon)
    return started


def catch_up(scheduler: BackgroundScheduler, now: datetime) -> bool:
    """Run at once the jobs whose next run is further off than their interval: the host's
    clock was set back (APScheduler keeps each job's next run on the wall clock, so a clock
    set back an hour would hold the checks, the digest and the alerts for an hour). Whether
    any was. Compared in UTC: on the wall clock of MONITOR_TIMEZONE, a run due at 03:00:00.1
    CEST lies an hour after 01:59:59.9 CET, the moment before daylight saving time begins."""
    now = now.astimezone(UTC)
    late = [
        job
        for job in scheduler.get_jobs()
        if job.next_run_time is not None
        and job.next_run_time.astimezone(UTC) - now > job.trigger.interval + CLOCK_STEP
    ]
    if late:
        log.warning("the clock was set back: the jobs due run now, not when it catches up")
    for job in late:
        job.modify(next_run_time=now)
    return bool(late)


def _intervals(definitions: Definitions, default: timedelta) -> str:
    """How often the feeds are checked: `15m`, or `1m to 15m` when their `interval`s differ."""
    every = sorted({feed.interval or default for feed in definitions.feeds} or {default})
    low, high = format_duration(every[0]), format_duration(every[-1])
    return low if low == high else f"{low} to {high}"


def _log_start(daemon: Daemon) -> None:
    s = daemon.settings
    target = f"smtp {s.smtp_host}:{s.smtp_port}" if s.smtp_host else f"{s.outbox_dir}/"
    log.info(
        "running: %s, %s, checked every %s; digest at %s %s to %s; %s; database %s",
        count(len(daemon.definitions.indicators), "indicator"),
        count(len(daemon.definitions.feeds), "feed"),
        _intervals(daemon.definitions, s.check_interval),
        s.digest_time.strftime("%H:%M"),
        s.timezone,
        target,
        count(len(s.notify_urls), "alert channel"),
        daemon.store.where,
    )
    if s.smtp_host and not s.digest_to:  # else said only at the digest time, hours later
        log.warning(
            "digest: MONITOR_SMTP_HOST is set but MONITOR_DIGEST_TO is empty: no digest can be"
            " sent until it names a recipient"
        )


__all__ = ["Service", "build_scheduler", "run"]
