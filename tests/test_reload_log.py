"""The log line of a reload names the files whose edit brought the new set, in `monitor run`
(the daemon's check job) and in `monitor serve` (at a request), which logged no line at all."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from monitor.cli.common import Runtime
from monitor.cli.daemon import _Reloading
from monitor.reloading import Reloader
from monitor.settings import Settings
from monitor.store import open_store
from tests.conftest import ROOT
from tests.test_outages import Clock, home, make_daemon

__all__ = ["home"]  # the fixture: two feeds on a server of 127.0.0.1
SETTLED = 1_000_000_000  # a modification time long past: no edit under way (`SETTLE_SECONDS`)


def watch_list(home: Path) -> tuple[Path, Path]:
    indicators = home / "indicators"
    shutil.copytree(ROOT / "indicators", indicators)
    os.utime(home / "feeds.yaml", (SETTLED, SETTLED))  # written by `home` just now
    return indicators, home / "feeds.yaml"


def edited(path: Path, text: str) -> None:
    path.write_text(text)
    os.utime(path, (SETTLED, SETTLED))


def reloads(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "monitor.daemon" and r.getMessage().startswith("definitions reloaded")
    ]


def test_the_daemon_names_the_files_edited_added_and_removed(
    home: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    indicators, feeds = watch_list(home)
    with open_store(database_url) as store:
        daemon = make_daemon(home, store, Clock(), indicators_dir=indicators)
        daemon.reloader = Reloader(indicators, feeds, daemon.definitions, settle=0)
        extra = "  - {id: extra, url: 'http://127.0.0.1:9/extra.xml'}\n"
        edited(feeds, feeds.read_text() + extra)
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            assert daemon.reload_if_changed()
            (indicators / "flight-routes.yaml").unlink()
            shutil.copy(indicators / "visa-easing.yaml", home / "visa.yaml")  # saved aside
            text = (home / "visa.yaml").read_text().replace("Visa", "Visas", 1)
            edited(indicators / "visa-easing.yaml", text)
            assert daemon.reload_if_changed()
            daemon.reloader.request()  # SIGHUP, no file changed: nothing new, no line
            assert not daemon.reload_if_changed()

    assert reloads(caplog) == [
        f"definitions reloaded: 7 indicators, 3 feeds (changed: {feeds}; feeds added: extra)",
        f"definitions reloaded: 6 indicators, 3 feeds (changed: {indicators}/visa-easing.yaml;"
        f" removed: {indicators}/flight-routes.yaml; indicators removed: flight-routes;"
        " indicators changed: visa-easing)",
    ]


def test_monitor_serve_logs_a_reload_naming_the_file(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    indicators, feeds = watch_list(home)
    url = f"sqlite:///{home / 'monitor.db'}"
    rt = Runtime(Settings(indicators_dir=indicators, feeds_file=feeds, database_url=url))
    definitions = _Reloading(rt)  # what `monitor serve` gives its app
    logging.getLogger().addHandler(caplog.handler)  # the settings set up the log anew
    new = indicators / "visa-copy.yaml"
    text = (indicators / "visa-easing.yaml").read_text().replace("visa-easing", "visa-copy", 1)

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert len(definitions().indicators) == 7
        edited(new, text)
        assert len(definitions().indicators) == 8

    assert reloads(caplog) == [
        f"definitions reloaded: 8 indicators, 2 feeds (new: {new}; indicators added: visa-copy)"
    ]


def test_valid_again_names_the_files_and_what_the_set_read_changes(
    home: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two files edited, one of them invalid: the set in force is from before both edits, and
    once the invalid one is fixed, the line says which files held the problems, which were
    edited and which indicators that changes (it said only `definitions valid again: 7
    indicators, 2 feeds`, whichever edits it held)."""
    indicators, feeds = watch_list(home)
    visa, flights = indicators / "visa-easing.yaml", indicators / "flight-routes.yaml"
    good = visa.read_text()
    with open_store(database_url) as store:
        daemon = make_daemon(home, store, Clock(), indicators_dir=indicators)
        daemon.reloader = Reloader(indicators, feeds, daemon.definitions, settle=0)
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            edited(flights, flights.read_text().replace("window: ", "window: 4", 1))
            edited(visa, good + "unless: [deny]\n")
            assert not daemon.reload_if_changed()
            held = f"changed: {flights}, {visa}"
            reason = daemon.reloader.validity.reason()
            assert reason.endswith(
                f"the last valid set is in force, from before these edits: {held}"
            )
            edited(visa, good)
            assert daemon.reload_if_changed()
            edited(visa, good + "unless: [deny]\n")
            assert not daemon.reload_if_changed()
            visa.write_text(good)  # the set in force, restored (by an editor: a new mtime)
            os.utime(visa, (SETTLED + 60, SETTLED + 60))
            assert not daemon.reload_if_changed()

    error = next(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert error.startswith(
        f"definitions: 1 problem; keeping the last valid set (7 indicators, 2 feeds, from before"
        f" these edits: {held}):"
    )
    again = [r.getMessage() for r in caplog.records if "valid again" in r.getMessage()]
    assert again == [
        f"definitions valid again (the problems were in {visa}): 7 indicators, 2 feeds, a new set"
        f" ({held}; indicators changed: flight-routes)",
        f"definitions valid again (the problems were in {visa}): 7 indicators, 2 feeds, the set"
        f" in force (changed: {visa}; no indicator or feed changed)",
    ]
