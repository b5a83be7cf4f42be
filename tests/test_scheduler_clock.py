"""`monitor run` (`scheduler.run`, in-process) when the host's clock is set back: APScheduler
keeps each job's next run on the wall clock, so without a catch-up every job (checks,
reloads, digest, alerts) would wait until the clock caught up with where it had been."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from monitor import scheduler
from monitor.daemon import Daemon
from monitor.definitions import load_definitions
from monitor.scheduler import Service
from monitor.settings import Settings
from monitor.store import Store
from tests.test_leases import wait_for
from tests.test_scheduler import home, store, write_feeds

__all__ = ["home", "store"]  # the fixtures, shared with test_scheduler


class SteppedClock(datetime):
    """The wall clock as APScheduler and the daemon's loop read it, `step` away from the host's."""

    step = timedelta(0)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + cls.step


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[SteppedClock]]:
    from apscheduler.schedulers import base

    monkeypatch.setattr(base, "datetime", SteppedClock)
    monkeypatch.setattr(scheduler, "datetime", SteppedClock)
    yield SteppedClock
    SteppedClock.step = timedelta(0)


@contextmanager
def daemon_running(home: Path, store: Store, timezone: str = "UTC") -> Iterator[list[Daemon]]:
    """`monitor run` (`scheduler.run`) in a thread over `home`, ticking every 0.2 s and checking
    hourly, from its first cycle on; the daemon it makes is in the list. Stopped at the end."""
    settings = Settings(
        indicators_dir=home / "indicators", feeds_file=home / "feeds.yaml",
        outbox_dir=home / "outbox", tick_interval="0.2s", check_interval="1h",
        timezone=timezone,
    )  # fmt: skip
    definitions = load_definitions(settings.indicators_dir, settings.feeds_file)
    daemons: list[Daemon] = []

    def services(daemon: Daemon) -> list[Service]:
        daemons.append(daemon)
        return []

    thread = threading.Thread(
        target=scheduler.run, args=(settings, store, definitions), kwargs={"services": services}
    )
    thread.start()
    try:
        wait_for(lambda: store.last_successful_cycle() is not None, "the first cycle")
        yield daemons
    finally:
        if daemons:
            daemons[0].stop()
        thread.join(30)
    assert not thread.is_alive()


def test_the_jobs_go_on_at_once_when_the_clock_is_set_back(
    home: Path, store: Store, stepped: type[SteppedClock], caplog: pytest.LogCaptureFixture
) -> None:
    with daemon_running(home, store) as daemons:
        stepped.step = -timedelta(hours=1)  # NTP corrects a clock that ran an hour ahead
        feeds = {f.id: f.url for f in daemons[0].definitions.feeds}
        write_feeds(home / "feeds.yaml", feeds | {"added": feeds["yonhap"] + "?added"})
        wait_for(lambda: len(daemons[0].definitions.feeds) == 3, "the edited feeds file reloaded")
        assert "the clock was set back: the jobs due run now" in caplog.text


class ZonedClock(datetime):
    """A clock standing at `at` (a UTC moment) until it is set again, read in any zone as a
    clock there reads it, across a change of daylight saving time too."""

    at = datetime.now(UTC)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return cls.at.astimezone(tz) if tz else cls.at.astimezone().replace(tzinfo=None)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), id="clocks-forward"),  # 02:00 CET
        pytest.param(datetime(2026, 10, 25, 1, 0, tzinfo=UTC), id="clocks-back"),  # 03:00 CEST
    ],
)
def test_the_jobs_keep_their_interval_when_daylight_saving_time_begins_or_ends(
    home: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    change: datetime,
) -> None:
    """Before, `catch_up` compared the jobs' next runs with now on the wall clock of
    MONITOR_TIMEZONE: at 01:59:59.9 CET a tick due at 03:00:00.1 CEST, 0.2 s away, read as an
    hour off, and every spring the log said the clock was set back (and ran the clean-up at
    once)."""
    from apscheduler.schedulers import base

    monkeypatch.setattr(base, "datetime", ZonedClock)
    monkeypatch.setattr(scheduler, "datetime", ZonedClock)
    monkeypatch.setattr(ZonedClock, "at", change - timedelta(seconds=30))
    runs: list[datetime] = []  # the clock at each checkpoint tick
    looks: list[datetime] = []  # the clock at each look for jobs a clock set back holds
    checkpoint, look = Daemon.checkpoint, scheduler.catch_up

    def counted(daemon: Daemon) -> bool:
        runs.append(ZonedClock.at)
        return checkpoint(daemon)

    def looked(jobs: BackgroundScheduler, now: datetime) -> bool:
        looks.append(now)
        return look(jobs, now)

    monkeypatch.setattr(Daemon, "checkpoint", counted)
    monkeypatch.setattr(scheduler, "catch_up", looked)
    with daemon_running(home, store, timezone="Europe/Berlin"):
        before, after = change - timedelta(seconds=0.1), change + timedelta(seconds=0.1)
        ZonedClock.at = before  # the next tick is due 0.2 s later, past the change
        wait_for(lambda: before in runs, "a tick 0.1 s before the change")
        seen = len(looks)
        wait_for(lambda: len(looks) > seen + 1, "a look for held jobs after that tick")
        ZonedClock.at = after
        wait_for(lambda: after in runs, "a tick 0.1 s after the change")
    assert "the clock was set back" not in caplog.text
