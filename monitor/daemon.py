"""The Daemon: the units of work of `monitor run`, each a job that `monitor.scheduler` runs on
its interval and that returns whether there was any work.

    Daemon.check()       reload changed definitions; release the claims (feed leases, alerts,
                         a digest being sent or resent) of daemons of this host that are gone
                         (`monitor.owners`); if a feed is due, run one check cycle and log it,
                         else re-evaluate when a feed's health may have changed a status
    Daemon.alerts()      send the alerts of recorded changes waiting in the outbox (`alerts`)
    Daemon.digest()      send the due day's digest once (claimed in the database first), and a
                         sent one again to the recipients refused with a 4xx answer when due
    Daemon.checkpoint()  copy SQLite's write-ahead log into the database file
    Daemon.cleanup()     delete what MONITOR_RETENTION no longer keeps, give the space back

Its start-up (`start`), its stop (`stop`, `sends_in_flight`, `close`) and the reload of its
definitions are here too; when the jobs run, and the services, signals and deadlines of the
process, are `monitor.scheduler`'s. A check cycle and the building of a digest never overlap
(one work lock), so a digest cannot miss a change being recorded; what time alone changed
(feeds gone unread) is recorded just before a digest is built, so a change dated before it is
not recorded after it. A job abandoned because the daemon stops raises `Stopping`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor import heap, owners
from monitor.alerts import Outbox, send_pending
from monitor.counts import count
from monitor.cycle import CycleReport
from monitor.daily import due_day, resend_refused, retry_delay, send_daily_digest
from monitor.domain import Definitions, StatusChange, utcnow
from monitor.errors import DefinitionError, DigestError, MonitorError, StoreError
from monitor.fetch import FetchLimits, FetchStopped
from monitor.metrics import CYCLE_BUCKETS
from monitor.notify import Notifier
from monitor.pipeline import (
    Context,
    LookStopped,
    evaluate_and_record,
    prepare,
    run_cycle,
    start_parsers,
)
from monitor.reloading import Reloader, log_invalid, log_reloaded
from monitor.settings import Settings
from monitor.store import Store, TakenOver, log_taken_over

log = logging.getLogger("monitor.daemon")

REEVALUATE_EVERY = timedelta(minutes=1)  # between cycles: statuses that time alone changes
ERROR_CHARS = 500  # of a failed check's error on /healthz (`check_failure`)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class _Failing:
    """Checks that fail in a row: since the first, how many, when the next runs, the latest
    error."""

    since: datetime
    failures: int
    retry_at: datetime
    error: str


class Stopping(Exception):
    """The daemon is stopping: the unit of work in progress was abandoned."""


class Resting(Exception):
    """The checks failed: this tick's is not tried (`Daemon.check`), nor logged as working."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"the checks failed: the next is tried at {until:%H:%M:%S} UTC")
        self.until = until


def _log_changes(changes: Iterable[StatusChange]) -> None:
    """One INFO line per status change recorded, whichever step recorded it (a cycle, a reload's
    look, the start-up, time alone between cycles): `visa-easing: quiet -> eased:reported`."""
    for change in changes:
        because = f" because {change.reason}" if change.reason else ""
        log.info(
            "%s: %s -> %s%s", change.indicator_id, change.old_status, change.new_status, because
        )


class Daemon:
    """The units of work of `monitor run`. Each returns whether there was any work."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        definitions: Definitions,
        *,
        clock: Clock = utcnow,
        owner: str | None = None,
        started: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        # When the daemon was started (`monitor run`'s first line; else now): with the first
        # check cycle recorded, when monitoring began for the first digest (`daily.due_day`).
        self.started = started if started is not None else clock()
        self._first_cycle: datetime | None = None  # the earliest cycle recorded, once found
        self.owner = owner or owners.owner_of()  # host:pid:start@place (`monitor.owners`)
        self.stopping = threading.Event()
        self.fatal: str | None = None  # why the daemon stopped itself (the exit code is 1)
        self._checked = threading.Event()  # the first check is done: a digest may go out
        self._work = threading.Lock()  # a check cycle and the building of a digest
        self._limits = FetchLimits.from_settings(settings)
        self.reloader = Reloader(settings.indicators_dir, settings.feeds_file, definitions)
        self._digest_failures = 0
        self._digest_not_before: datetime | None = None
        # One try per channel at a time: the outbox retries with back-off (see `alerts`).
        self.notifier = Notifier(settings.notify_urls, attempts=1) if settings.notify_urls else None
        self._evaluated_at: datetime | None = None  # the last cycle or re-evaluation
        self._failing: _Failing | None = None  # the checks fail: since when, why, next try
        self._in_flight: set[str] = set()  # the sends running now (`sends_in_flight`)
        self._in_flight_lock = threading.Lock()  # held for a set's update only
        self.context = self._context(definitions)

    @property
    def definitions(self) -> Definitions:
        return self.context.definitions

    def _context(self, definitions: Definitions) -> Context:
        return Context.from_settings(
            self.settings,
            definitions,
            self.store,
            owner=self.owner,
            limits=self._limits,
            stop=self.stopping,
        )

    def start(self) -> None:
        """Sync the configuration and record what stored feed health implies at once."""
        now = self.clock()
        start_parsers(self.context)
        with self._gate(), _abandoned_look():
            _log_changes(prepare(self.context, now=now))
        self._evaluated_at = now
        self.take_over_claims(now)

    def take_over_claims(self, now: datetime) -> dict[str, TakenOver]:
        """Release the claims of daemons of this host that are gone (killed, say, and this one
        their restart): their feeds are checked now, their alerts sent and a digest they were
        sending sent by the next try, not when the claims run out. Logs one line per owner."""
        taken = self.store.take_over_claims(now, ended=owners.ended)
        log_taken_over(taken, log)
        return taken

    def stop(self) -> None:
        self.stopping.set()

    def sends_in_flight(self) -> frozenset[str]:
        """The sends whose job runs now: "alerts", "digest" (a digest or its resend). Their
        claims are not released at a stop (`shutdown.release_claims`)."""
        with self._in_flight_lock:
            return frozenset(self._in_flight)

    @contextlib.contextmanager
    def _sending(self, kind: str) -> Iterator[None]:
        """A send job runs: from before it looks at `stopping` until it ends."""
        with self._in_flight_lock:
            self._in_flight.add(kind)
        try:
            yield
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(kind)

    def request_reload(self) -> None:
        self.reloader.request()

    def close(self, timeout: float = 2.0) -> None:
        """Nothing waits in memory: alerts not sent yet stay in the outbox for the next start."""
        if self.notifier is None:
            return
        try:
            pending = self.store.pending_alerts()
        except StoreError as exc:  # stopping anyway; the outbox is as it was
            log.warning("alerts: %s", exc)
            return
        if pending:
            log.info("alerts: %d waiting in the database for the next start", pending)

    # ------------------------------------------------------------ checks

    def check(self) -> bool:
        """Reload definitions if they changed; run one cycle if a feed is due. A check that
        fails (not one abandoned at a stop) is noted until one works (`check_failure`), and the
        next is tried at the next tick, then after two, four… (`_retry_delay`): until then each
        tick's raises `Resting`."""
        started = self.clock()
        failing, tick = self._failing, self._tick()
        if failing and started + tick / 2 < failing.retry_at <= started + self._retry_delay(
            failing.failures
        ):  # the tick due then runs, late by a few ms; a retry further off: the clock went back
            raise Resting(failing.retry_at)  # a full disk: each due feed was fetched every tick
        try:
            worked = self._check()
        except Stopping:
            raise
        except Exception as exc:
            before = self._failing
            since = before.since if before else started
            failures = before.failures + 1 if before else 1
            retry_at = started + self._retry_delay(failures)
            self._failing = _Failing(since, failures, retry_at, one_line(exc))
            raise
        self._failing = None
        return worked

    def _retry_delay(self, failures: int) -> timedelta:
        """After `failures` checks in a row failed: a tick, then twice as long at each failure,
        at most the shortest interval of a feed (never more often than without the failure)."""
        tick = self._tick()
        every = (f.interval or self.settings.check_interval for f in self.definitions.feeds)
        longest = max(min(every, default=self.settings.check_interval), tick)
        seconds = tick.total_seconds() * 2.0 ** min(failures - 1, 62)
        return timedelta(seconds=min(seconds, longest.total_seconds()))

    def _tick(self) -> timedelta:
        return max(self.settings.tick_interval, timedelta(seconds=0.2))  # the scheduler's

    def check_failure(self) -> str | None:
        """Why the checks fail, since when (the first of the failures in a row), with the
        latest error and when the next is tried; None once one works. Said by /healthz, which
        is `degraded` meanwhile: the last successful cycle alone would keep it `ok` for up to
        MONITOR_HEALTH_MAX_AGE while every check fails (a full disk)."""
        failing = self._failing
        if failing is None:
            return None
        return (
            f"the checks fail since {failing.since:%Y-%m-%d %H:%M:%S} UTC ({failing.failures} in"
            f" a row; the next at {failing.retry_at:%H:%M:%S} UTC): {failing.error}"
        )

    def _check(self) -> bool:
        if self.stopping.is_set():
            return False
        self._refuse_another_database()
        self.reload_if_changed()
        self.take_over_claims(self.clock())
        if not self._any_due(self.clock()):
            self._reevaluate()
            self._checked.set()
            return False
        with self._gate(), _abandoned_look():  # an edit's look owed (`evaluate_and_record`)
            try:
                report = run_cycle(self.context, now=self.clock(), clock=self.clock)
            except FetchStopped as exc:
                raise Stopping(f"fetching: {exc}") from exc
            self._evaluated_at = report.started_at
        self._checked.set()
        if report.feeds_checked or report.dropped or report.changes:
            log.info(report.summary(), extra=cycle_fields(report))
        _log_changes(report.changes)
        return bool(report.feeds_checked)

    def _refuse_another_database(self) -> None:
        """Stop when another version migrated the database while this daemon ran (`monitor db
        upgrade` of a newer monitor on another machine): its checks would write rows as this
        version knows them into tables it does not know, which could succeed with the new
        columns left empty. Read once a tick: one row. Stop too when the SQLite file was
        deleted under the daemon (its folder too): SQLite goes on writing into the file it
        holds open, and all of it is lost when the process ends (one stat)."""
        problem = self.store.file_problem() or self.store.schema_problem()
        if problem is not None:
            self.fatal = problem
            log.error("%s; this daemon stops", problem)
            self.stop()
            raise Stopping(problem)

    def _reevaluate(self) -> None:
        """Between cycles, record the changes time alone makes once a minute: a feed failing
        for two intervals makes its indicators unknown even while its back-off keeps it from
        being checked, and evidence leaves its window."""
        now = self.clock()
        if self._evaluated_at is not None and now - self._evaluated_at < REEVALUATE_EVERY:
            return
        with self._gate():
            self._record_what_time_changed(now)

    def _record_what_time_changed(self, now: datetime) -> None:
        """Record the changes time alone made by `now` (the work lock held), and log them."""
        with _abandoned_look():  # one owed since a replay refused it (`evaluate_and_record`)
            changes = evaluate_and_record(self.context, now=now, clock=self.clock)
        self._evaluated_at = now
        _log_changes(changes)

    @contextlib.contextmanager
    def _building_digest(self) -> Iterator[None]:
        """The work lock, and what time alone changed since the last re-evaluation recorded
        first: a change to `unknown` is dated when the feeds went unread, so one dated before
        the digest is built and recorded while it is sent would be in no digest's "what
        changed" (the next one starts where this one was built)."""
        with self._gate():
            self._record_what_time_changed(self.clock())
            yield

    def _any_due(self, now: datetime) -> bool:
        return any(f.next_check_at is None or f.next_check_at <= now for f in self.store.feeds())

    # ------------------------------------------------------------ alerts

    def alerts(self) -> bool:
        """Send the alerts waiting in the outbox; off the check path (its own job)."""
        with self._sending("alerts"):
            return self._send_alerts()

    def _send_alerts(self) -> bool:
        if self.notifier is None or self.stopping.is_set():
            return False
        titles = {i.id: i.title for i in self.definitions.indicators}
        outbox = Outbox(
            self.store,
            self.notifier,
            titles,
            self.owner,
            self.settings.zone,
            public_url=self.settings.public_url,
        )
        sent = send_pending(outbox, now=self.clock(), clock=self.clock, stop=self.stopping.is_set)
        return bool(sent)

    @contextlib.contextmanager
    def _gate(self) -> Iterator[None]:
        """The work lock, given up when the daemon stops while waiting for it."""
        while not self._work.acquire(timeout=0.2):
            if self.stopping.is_set():
                raise Stopping("waiting for the work lock")
        try:
            yield
        finally:
            self._work.release()

    # ------------------------------------------------------------ definitions

    def reload_if_changed(self) -> bool:
        """Load the definitions again when a file changed or a reload was asked (SIGHUP).

        An invalid set is reported with its file:line problems (20 per file); the last valid one
        stays. A set whose storing failed (`prepare`: a lost connection, say) raises, and the
        last valid one stays too: the next check loads the files and stores the set again."""
        try:
            definitions = self.reloader.poll()
        except DefinitionError as exc:
            log_invalid(exc, self.definitions, self.reloader.validity.held)
            return False
        if definitions is None:
            return False
        context = self._context(definitions)
        try:
            with self._gate(), _abandoned_look():
                changes = prepare(context, now=self.clock())
                self.context = context
        except BaseException:  # the next check loads the files again
            self.reloader.retry(self.definitions)
            raise
        heap.refreeze()  # the last set is let go (`heap.freeze` kept it out of collections)
        _log_changes(changes)
        log_reloaded(definitions, self.reloader.changed)
        return True

    # ------------------------------------------------------------ digest

    def digest(self) -> bool:
        """Send the due day's digest unless it was sent; back off after a failure. Then send a
        sent one again to the recipients refused with a 4xx answer, when that is due (the
        schedule is in the database: `daily.resend_refused`). Not before the first check since
        start-up, so a digest caught up after a restart is current."""
        with self._sending("digest"):
            return self._digest()

    def _digest(self) -> bool:
        if self.stopping.is_set() or not self._checked.is_set():
            return False
        sent = self._send_due(self.clock())
        resent = resend_refused(self.definitions, self.store, self.settings, now=self.clock(),
                                clock=self.clock, guard=self._gate(), owner=self.owner)  # fmt: skip
        return sent or resent is not None

    def _send_due(self, now: datetime) -> bool:
        if self._digest_not_before and now < self._digest_not_before:
            return False
        s = self.settings
        last = self.store.last_digest()
        day = due_day(
            now,
            digest_time=s.digest_time,
            zone=s.zone,
            last_sent=last[0] if last else None,
            began=None if last else self._began(),
        )
        if day is None:
            return False
        state = self.store.digest_state(day)
        if state is not None and state.sent_at is not None:
            return False
        try:
            result = send_daily_digest(
                self.definitions,
                self.store,
                s,
                day=day,
                now=now,
                owner=self.owner,
                sleep=self._sleep,
                clock=self.clock,
                guard=self._building_digest(),
            )
        except Stopping:
            raise
        except Exception as exc:
            self._digest_failures += 1
            delay = retry_delay(self._digest_failures)
            self._digest_not_before = self.clock() + delay
            log.error(
                "%s; trying again in %s", exc, delay, exc_info=not isinstance(exc, DigestError)
            )
            return False
        self._digest_failures, self._digest_not_before = 0, None
        if not result.sent:
            log.debug("digest: %s not sent: %s", day, result.reason)
        return result.sent

    def _began(self) -> datetime:
        """When monitoring began: the first check cycle recorded, or this daemon's start if
        that came first (a daemon started just before the digest time checks after it)."""
        # Asked at each digest tick until the first digest goes out; once found, the earliest
        # cycle stays the earliest, so the cycles are read once, not at every tick.
        if self._first_cycle is None:
            self._first_cycle = self.store.first_cycle_started()
        first = self._first_cycle
        return self.started if first is None else min(first, self.started)

    def _sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise Stopping("digest retry")

    # ------------------------------------------------------------ retention

    def checkpoint(self) -> bool:
        """Copy SQLite's write-ahead log into the database file (`Store.checkpoint`), in a job
        of its own beside the checks: the daemon's store leaves this out of its commits, so a
        check cycle does not wait for it (on a 1,000,000-entry file a cycle's 2,000 new entries
        dirty a page of the key index each, and copying them back took about a fifth of the
        cycle). Whether the log held any pages."""
        if self.stopping.is_set():
            return False
        return self.store.checkpoint() > 0

    def cleanup(self) -> int:
        """Delete what MONITOR_RETENTION no longer keeps (`Store.prune`: matched entries only
        once outside every indicator's window too), then give the space back; returns how many
        entries were deleted."""
        if self.stopping.is_set():
            return 0
        now = self.clock()
        before = now - self.settings.retention
        longest = max((i.window for i in self.definitions.indicators), default=timedelta(0))
        pruned = self.store.prune(
            now=now,
            before=before,
            matched_before=min(before, now - longest),
            buckets=CYCLE_BUCKETS,
        )
        if pruned.any:
            log.info(
                "retention: %s (%d matched), %s, %s, %s deleted",
                count(pruned.entries, "old entry"),
                pruned.matched,
                count(pruned.changes, "change"),
                count(pruned.cycles, "cycle"),
                count(pruned.digests, "digest"),
                extra={
                    "deleted": pruned.entries,
                    "changes": pruned.changes,
                    "digests": pruned.digests,
                },
            )
            self.store.compact()
        return pruned.entries


@contextlib.contextmanager
def _abandoned_look() -> Iterator[None]:
    """A look at the stored news (`pipeline.first_look`) that a stop ended between its pages is
    a unit of work abandoned: Stopping. It wrote nothing, so the next start looks again."""
    try:
        yield
    except LookStopped as exc:
        raise Stopping(f"looking at the stored news: {exc}") from exc


def cycle_fields(report: CycleReport) -> dict[str, object]:
    """The cycle line's numbers as log fields (keys of the JSON log line)."""
    return {
        "feeds_checked": report.feeds_checked,
        "not_modified": report.not_modified,
        "failed": report.failed,
        "dropped": report.dropped,
        "new_entries": report.new_entries,
        "matches": report.matches,
        "changes": len(report.changes),
        "duration": round(report.duration, 3),
    }


def one_line(exc: Exception) -> str:
    """An error as /healthz shows it: its first line (a MonitorError's words; another's type
    too), at most ERROR_CHARS."""
    text = str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 1] + "…"


__all__ = ["Clock", "Daemon", "Resting", "Stopping", "cycle_fields"]
