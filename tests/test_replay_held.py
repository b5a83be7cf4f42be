"""A replay that stopped half way leaves every status held (no change recorded, no alert)
until another replay finishes the rewrite: `monitor replay` ends saying so, with the command
that finishes it, and /healthz, /metrics, the page, `monitor status` and the digest say it while
the hold lasts. A real `monitor replay` process interrupted between two batches
(`tests.pausedreplay`); SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.definitions import load_definitions
from monitor.errors import StoreError
from monitor.pipeline import REPLAY_BATCH, evaluate_and_record
from monitor.store import Store, open_store
from tests import twofeeds
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.pausedreplay import PAUSED
from tests.test_replay_lock import NOW, definitions, history
from tests.test_web import _checked, make_client
from tests.webdata import WEB

__all__ = ["history"]  # the fixture: the old rule found one publisher's entries, 3 batches

MINUTE = timedelta(minutes=1)
LATER = (
    "a replay from {day} is rewriting the matches; no status change is recorded until it finishes"
)
STOPPED = (
    "a replay from {day} stopped half way through rewriting the matches; no status change is "
    "recorded or alerted until `monitor replay --since {day}` finishes it"
)


@pytest.fixture(autouse=True)
def no_monitor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test gives (a developer's MONITOR_TEST_POSTGRES would be warned of)."""
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)


def settings_of(folder: Path, database_url: str) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(folder / "indicators"),
        "MONITOR_FEEDS_FILE": str(folder / "feeds.yaml"),
        "MONITOR_OUTBOX_DIR": str(folder / "outbox"),
    }


def monitor(*args: str, module: str = "monitor", env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=clean | {"PYTHONPATH": str(ROOT)} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def until_paused(replay: subprocess.Popen[str]) -> None:
    """Read a `tests.pausedreplay` process's stderr until it says it paused: the first batch
    is rewritten, the second not yet."""
    assert replay.stderr is not None
    said = []
    for line in replay.stderr:
        said.append(line)
        if PAUSED in line:
            return
    raise AssertionError("".join(said))


@pytest.mark.parametrize(
    ("signum", "code", "why"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_a_replay_interrupted_half_way_says_the_statuses_are_held_and_how_to_finish(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    signum: int,
    code: int,
    why: str,
) -> None:
    new = definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))  # both publishers
    env = settings_of(tmp_path, history)
    day = (NOW - timedelta(days=7)).date().isoformat()
    replay = monitor("replay", "--since", day, module="tests.pausedreplay", env=env)
    until_paused(replay)
    replay.send_signal(signum)
    out, err = replay.communicate(timeout=60)

    assert replay.returncode == code, err
    assert err.splitlines()[-1] == (
        f"Error: replay: {why} after {REPLAY_BATCH} entries re-matched: every status is held "
        f"(no change recorded, no alert) until the rewrite is finished: run "
        f"`monitor replay --since {day}`"
    )
    assert "Traceback" not in err and "Aborted" not in err
    assert out == ""
    with open_store(history) as store:
        hold = store.replay_hold()
        assert hold is not None and hold.stalled(datetime.now(UTC))  # its lease ended with it
        daemon = twofeeds.context(new, store, now=NOW)
        assert evaluate_and_record(daemon, now=NOW + MINUTE) == []  # held
        assert store.current_statuses()["watch"][0] == "said:reported"

    finish = monitor("replay", "--since", day, env=env)  # at once: no lease to wait out
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err
    assert out == "watch: said:reported -> said:confirmed (replayed)\n"
    with open_store(history) as store:
        assert store.replay_hold() is None
        assert store.current_statuses()["watch"][0] == "said:confirmed"


def _hold(store: Store, *, stalled: bool, now: datetime) -> str:
    """Hold the statuses as a replay from a week before `now` does: running (its lease lasts
    past `now`) or stopped half way (its lease ran out); returns its day."""
    since = (now - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    began = now - (10 if stalled else 1) * MINUTE
    store.begin_replay(since, owner="replay elsewhere", now=began, lease=2 * MINUTE)
    return f"{since:%Y-%m-%d}"


@pytest.mark.parametrize("stalled", [False, True], ids=["running", "stopped"])
def test_healthz_metrics_and_the_page_say_while_a_replay_holds_the_statuses(
    database_url: str, stalled: bool
) -> None:
    """So do the indicators' JSON (`held`, in every item) and each indicator's page: a tool
    reading the statuses could not tell they were held."""
    defs = load_definitions(WEB / "indicators", WEB / "feeds.yaml")
    recent = NOW - timedelta(minutes=5)
    with _checked(database_url, defs, *((f.id, True, recent) for f in defs.feeds)) as store:
        client = make_client(store, defs)
        assert client.get("/healthz").json()["reasons"] == []
        for path in ("/", ONE_PAGE):  # cached: a hold moves no version
            assert "statuses held" not in client.get(path).text
        assert {i["held"] for i in client.get("/indicators").json()} == {""}
        assert client.get("/indicators/visa-easing").json()["held"] == ""
        day = _hold(store, stalled=stalled, now=NOW)
        health, metrics, page, listed, one, its_page = (client.get(p) for p in (
            "/healthz", "/metrics", "/", "/indicators", "/indicators/visa-easing", ONE_PAGE
        ))  # fmt: skip
        store.end_replay(owner="replay elsewhere")
        after = client.get("/healthz").json()
        page_after = client.get("/").text
        listed_after = client.get("/indicators")
        its_page_after = client.get(ONE_PAGE).text

    note = "statuses held: " + (STOPPED if stalled else LATER).format(day=day)
    assert health.status_code == 200
    assert health.json()["status"] == ("degraded" if stalled else "ok")
    assert health.json()["reasons"] == [note]
    assert "\nmonitor_replay_held 1.0\n" in metrics.text
    assert f"\nmonitor_replay_stalled {float(stalled)}\n" in metrics.text
    assert note in page.text
    assert {i["held"] for i in listed.json()} == {note}
    assert len(listed.json()) == len(defs.indicators)
    assert one.json()["held"] == note
    assert listed.headers["etag"] != listed_after.headers["etag"]  # not the answer kept
    assert note in its_page.text
    assert (after["status"], after["reasons"]) == ("ok", [])
    assert "statuses held" not in page_after
    assert {i["held"] for i in listed_after.json()} == {""}
    assert "statuses held" not in its_page_after


ONE_PAGE = "/indicators/visa-easing/page"


def test_monitor_status_and_the_digest_say_while_a_stopped_replay_holds_the_statuses(
    tmp_path: Path, feed_server: FeedServer, history: str
) -> None:
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    env = settings_of(tmp_path, history)
    with open_store(history) as store:
        day = _hold(store, stalled=True, now=datetime.now(UTC))
    note = "statuses held: " + STOPPED.format(day=day)

    runner = CliRunner()
    status = runner.invoke(main, ["status"], env=env, catch_exceptions=False)
    as_json = runner.invoke(main, ["status", "--json"], env=env, catch_exceptions=False)
    digest = runner.invoke(main, ["digest", "--preview"], env=env, catch_exceptions=False)

    assert status.exit_code == 0, status.output
    assert status.stdout.splitlines()[-1] == note
    assert as_json.stderr.splitlines()[-1] == f"monitor: {note}"
    assert as_json.stdout.startswith("[")  # still JSON alone
    assert {item["held"] for item in json.loads(as_json.stdout)} == {note}  # as GET /indicators
    text = " ".join(digest.stdout.split())
    assert "* Statuses held: " + STOPPED.format(day=day) in text


@pytest.mark.parametrize("dry_run", [False, True], ids=["replay", "dry-run"])
def test_a_replay_stopped_by_an_error_half_way_says_the_statuses_are_held(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
    dry_run: bool,
) -> None:
    """An error after the first batch (the database gone, a full disk) ends the replay as an
    interruption does, exit 1; a dry run's rewrite is rolled back: its error alone."""
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    replace, batches = Store.replace_matches, []

    def failing(self: Store, *args: Any, **kwargs: Any) -> int:
        if batches:
            raise StoreError("store: replace matches: disk I/O error")
        batches.append(1)
        return replace(self, *args, **kwargs)

    monkeypatch.setattr(Store, "replace_matches", failing)
    day = (NOW - timedelta(days=7)).date().isoformat()
    args = ["replay", "--since", day, *(["--dry-run"] if dry_run else [])]
    result = CliRunner().invoke(main, args, env=settings_of(tmp_path, history))

    assert result.exit_code == 1
    if dry_run:
        assert result.stderr.splitlines()[-1] == "Error: store: replace matches: disk I/O error"
    else:
        assert result.stderr.splitlines()[-1] == (
            f"Error: replay: stopped by an error (store: replace matches: disk I/O error) after "
            f"{REPLAY_BATCH} entries re-matched: every status is held (no change recorded, no "
            f"alert) until the rewrite is finished: run `monitor replay --since {day}`"
        )
    with open_store(history) as store:
        assert (store.replay_hold() is None) == dry_run
