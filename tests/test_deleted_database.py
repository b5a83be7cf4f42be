"""The SQLite file (or its folder) deleted under a running `monitor run`.

SQLite goes on writing into the file it holds open, deleted: before, the daemon checked and
recorded on, /healthz said `ok`, and everything since the deletion was lost when it stopped.
Now it notices at its next tick (`Store.file_problem`: the path no longer names the file it
opened), says so in one ERROR naming the path, and stops with exit code 1, writing nothing more
and making no new database; `monitor status` names the missing file, and /healthz answers
`unavailable` with the reason while a server still runs. SQLite only: a PostgreSQL database is
no file of the daemon's (its store has no file to lose, `file_problem` is None).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from monitor.definitions import load_definitions
from monitor.store import open_store
from monitor.web import create_app
from tests import news
from tests.conftest import ROOT
from tests.test_several_daemons import wait_for
from tests.webdata import settings

FAIL_AFTER = 60.0  # seconds: only a hang takes this long
DEFINITIONS = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


class ChangingFeed:
    """A feed on 127.0.0.1 with one item more at every request: each cycle writes."""

    def __init__(self) -> None:
        self.requests = 0
        feed = self

        class Answer(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                feed.requests += 1
                at = datetime.now(UTC) - timedelta(minutes=5)
                items = [news.Item(f"Weather {n}", f"https://w.example/{n}", at)
                         for n in range(feed.requests)]  # fmt: skip
                body = news.rss("Weather", items)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/weather.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed() -> Iterator[ChangingFeed]:
    served = ChangingFeed()
    yield served
    served.close()


def log_lines(log: Path) -> list[dict[str, Any]]:
    found = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            found.append(json.loads(raw))
        except ValueError:
            found.append({"message": raw, "level": "raw"})
    return found


def cycles(log: Path) -> int:
    return sum(line["message"].startswith("cycle:") for line in log_lines(log))


@pytest.mark.slow
@pytest.mark.parametrize("deleted", ["folder", "file"])
def test_a_deleted_database_stops_the_daemon_with_one_error_naming_it(
    tmp_path: Path, feed: ChangingFeed, deleted: str
) -> None:
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - {{id: weather, url: '{feed.url}'}}\n")
    db = tmp_path / "data" / "monitor.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
        "MONITOR_DATABASE_URL": f"sqlite:///{db}",
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "MONITOR_CHECK_INTERVAL": "1s",
        "MONITOR_CHECK_JITTER": "0",
        "MONITOR_TICK_INTERVAL": "0.2s",
        "MONITOR_HTTP_PORT": "0",
        "MONITOR_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env,
                                  cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for(lambda: cycles(log) >= 2 or daemon.poll() is not None, FAIL_AFTER,
                     "two check cycles")  # fmt: skip
            assert daemon.poll() is None, log.read_text()
            shutil.rmtree(db.parent) if deleted == "folder" else db.unlink()
            code = daemon.wait(timeout=FAIL_AFTER)  # it stops by itself
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()

    lines = log_lines(log)
    errors = [line for line in lines if line["level"] in ("error", "critical", "raw")]
    assert code == 1, log.read_text()
    assert len(errors) == 1, log.read_text()
    said = errors[0]["message"]
    gone = "deleted" if deleted == "file" else f"deleted with its folder {db.parent}"
    assert f"store: the database file {db} was {gone} while monitor ran" in said
    assert said.endswith("; this daemon stops")
    assert "Put the file back before starting monitor again" in said
    assert db.parent.is_dir() == (deleted == "file")  # no folder made again
    assert not db.exists()  # nor a new, empty database

    status = subprocess.run([sys.executable, "-m", "monitor", "status"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=FAIL_AFTER)  # fmt: skip
    assert status.returncode == 1
    left = "" if deleted == "folder" else ", but monitor.db-wal and monitor.db-shm are still there"
    assert f"no database at {db}{left}" in status.stderr  # its log and index: one was there
    assert ("put that very file back" if left else "back from a backup") in status.stderr.lower()
    assert "run monitor check" not in status.stderr  # which makes a new, empty one
    assert not db.exists()
    if deleted == "file":  # a restart refuses: a new file there and SQLite deletes its log
        wal = db.with_name("monitor.db-wal").read_bytes()
        again = subprocess.run([sys.executable, "-m", "monitor", "run"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=FAIL_AFTER)  # fmt: skip
        assert again.returncode == 1, again.stderr
        assert f"no database at {db}{left}" in again.stderr
        assert not db.exists() and db.with_name("monitor.db-wal").read_bytes() == wal


def test_healthz_says_the_database_file_was_deleted_and_writes_are_refused(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "monitor.db"
    with open_store(f"sqlite:///{db}") as store:
        app = create_app(store=store, definitions=lambda: DEFINITIONS, settings=settings())
        client = TestClient(app)
        assert client.get("/healthz").json()["status"] != "unavailable"
        shutil.rmtree(db.parent)
        answer = client.get("/healthz")
        metrics = client.get("/metrics")  # not `monitor_schema_incompatible 1`: no database
        written = client.post("/silences", json={"indicator": "x", "hours": 1, "reason": "r"})
    assert answer.status_code == 503
    health = answer.json()
    assert health["status"] == "unavailable" and health["database"] is False
    assert health["reasons"] == [
        f"store: the database file {db} was deleted with its folder {db.parent} while monitor "
        "ran; what is written now would be lost with the process. Put the file back before "
        "starting monitor again: a start refuses while the -wal and -shm it leaves are there, "
        "and makes a new, empty database where nothing is left"
    ]
    assert written.status_code == 503, written.text
    assert metrics.status_code == 503 and "incompatible" not in metrics.text
    assert not db.parent.exists()
