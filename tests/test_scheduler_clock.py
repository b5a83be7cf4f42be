"""`monitor run` (`scheduler.run`, in-process) when the host's clock is set back: APScheduler
keeps each job's next run on the wall clock, so without a catch-up every job (checks,
reloads, digest, alerts) would wait until the clock caught up with where it had been."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import pytest

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


def test_the_jobs_go_on_at_once_when_the_clock_is_set_back(
    home: Path, store: Store, stepped: type[SteppedClock], caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        indicators_dir=home / "indicators",
        feeds_file=home / "feeds.yaml",
        outbox_dir=home / "outbox",
        tick_interval="0.2s",
        check_interval="1h",
    )
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
        stepped.step = -timedelta(hours=1)  # NTP corrects a clock that ran an hour ahead
        feeds = {f.id: f.url for f in daemons[0].definitions.feeds}
        write_feeds(home / "feeds.yaml", feeds | {"added": feeds["yonhap"] + "?added"})
        wait_for(lambda: len(daemons[0].definitions.feeds) == 3, "the edited feeds file reloaded")
        assert "the clock was set back: the jobs due run now" in caplog.text
    finally:
        if daemons:
            daemons[0].stop()
        thread.join(30)
    assert not thread.is_alive()
