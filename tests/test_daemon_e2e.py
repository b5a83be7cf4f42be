"""`monitor run` as a subprocess: feeds on 127.0.0.1, a real SMTP server, a SQLite file.

Start it with a digest time a few seconds ahead; it checks the feeds, records the status
changes and sends exactly one digest carrying them; SIGTERM stops it in order (every job done
within the grace, as its log says) with exit code 0; restarted, it sends no second digest,
and a broken edit plus SIGHUP leaves the last valid definitions in force. Logs are JSON
(MONITOR_LOG_FORMAT=json).

The daemon runs on the wall clock, so every step waits on what it expects to see (a message
caught, a log line) and no assertion depends on how the checks split into cycles: jitter and
the tick decide whether the two feeds' later checks share a cycle. The deadlines only turn a
hang into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.daytime import noon_zone
from tests.feedserver import FeedServer
from tests.smtpserver import running_smtp_server

pytestmark = pytest.mark.slow

ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip
DIGEST_DELAY = 4  # seconds from start to the digest time (sent only after the first check)
FAIL_AFTER = 60  # seconds: only a broken daemon takes this long for a step


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            lines.append({"message": raw, "level": "raw"})
    return lines


def count(path: Path, text: str) -> int:
    return sum(text in line["message"] for line in log_lines(path))


class Daemon:
    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def stop(self) -> int:
        """SIGTERM, and the exit code. Whether the stop kept to its budget is read from the
        log (an orderly stop, not one abandoned after SHUTDOWN_GRACE), not from a wall-clock
        margin a loaded machine could cross; the wait only turns a hang into a failure."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=FAIL_AFTER)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._out.close()


def stopped_in_order(path: Path) -> int:
    """How many stops were orderly: every job ended within SHUTDOWN_GRACE, nothing abandoned."""
    lines = log_lines(path)
    late = ("work still running after", "still stopping after")  # past the grace, the budget
    assert not [x for x in lines if any(words in x["message"] for words in late)]
    return sum(x["message"] == "stopped" for x in lines)


def get_json(log: Path, path: str) -> Any:
    """GET `path` from the endpoint whose address `monitor run` logged."""
    (line,) = [x for x in log_lines(log) if x["message"].startswith("web: listening on ")]
    base = line["message"].removeprefix("web: listening on ")
    with urllib.request.urlopen(base + path, timeout=FAIL_AFTER) as answer:
        return json.load(answer)


def rechecked(path: Path) -> int:
    """Feeds checked by every cycle but the first of the log (answered 304: not modified)."""
    cycles = [line for line in log_lines(path) if line["message"].startswith("cycle:")]
    return sum(c["not_modified"] for c in cycles[1:])


def test_monitor_run_checks_sends_one_digest_and_stops_cleanly(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    zone = noon_zone(datetime.now(UTC))  # the digest's day cannot end under the test
    shutil.copytree(ROOT / "indicators", tmp_path / "indicators")
    published = datetime.now(UTC) - timedelta(hours=2)
    feed_server.route("/yonhap.xml", body=news.yonhap(published), etag='"y1"')
    feed_server.route("/herald.xml", body=news.herald(published), etag='"h1"')
    tags = ", ".join(ALL_TAGS)
    (tmp_path / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{id: {name}, url: '{feed_server.url(f'/{name}.xml')}', tags: [{tags}]}}\n"
        for name in ("yonhap", "herald")
    ))  # fmt: skip
    db = tmp_path / "data" / "monitor.db"

    with running_smtp_server() as smtp:
        digest_at = datetime.now(ZoneInfo(zone)) + timedelta(seconds=DIGEST_DELAY)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
            "MONITOR_DATABASE_URL": f"sqlite:///{db}",
            "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
            "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
            "MONITOR_CHECK_INTERVAL": "2s",
            "MONITOR_TICK_INTERVAL": "0.5s",
            "MONITOR_SMTP_HOST": smtp.host,
            "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false",
            "MONITOR_DIGEST_TO": "reader@example.org",
            "MONITOR_DIGEST_TIME": digest_at.strftime("%H:%M:%S"),
            "MONITOR_TIMEZONE": zone,
            "MONITOR_HTTP_PORT": "0",
            "MONITOR_LOG_FORMAT": "json",
            "PYTHONPATH": str(ROOT),
        }
        log = tmp_path / "run.log"

        first = Daemon(env, tmp_path, log)
        wait_for(lambda: smtp.messages, FAIL_AFTER, "the digest")
        # both feeds checked again (conditional GETs: 304), in one cycle or two, and several
        # more digest ticks: still one digest
        wait_for(lambda: rechecked(log) >= 2, FAIL_AFTER, "both feeds checked again")
        served = get_json(log, "/indicators")  # the HTTP endpoint, in the same process
        code = first.stop()

        assert (code, len(smtp.messages)) == (0, 1), log.read_text()
        assert stopped_in_order(log) == 1, log.read_text()  # within SHUTDOWN_GRACE (7 s)
        with open_store(f"sqlite:///{db}") as store:
            changes = {c.indicator_id: c.new_status for c in store.history("visa-easing")}
            changes |= {c.indicator_id: c.new_status for c in store.history("flight-routes")}
            sent = store.digest_state(digest_at.date())
        assert changes == {"visa-easing": "eased:confirmed", "flight-routes": "expanded:reported"}
        assert sent is not None and sent.sent_at is not None
        assert {i["id"]: i["status"] for i in served}["visa-easing"] == "eased:confirmed"

        digest = smtp.messages[0].message
        assert digest["Subject"] == f"monitor digest {digest_at.date()}: 2 indicators changed"
        text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Visa easing between China and South Korea" in text
        assert "⚠ unknown → eased — confirmed" in text  # nothing was known before the first read
        assert "https://en.yna.co.kr/view/AEN1" in text

        cycles = [line for line in log_lines(log) if line["message"].startswith("cycle:")]
        assert cycles and cycles[0]["feeds_checked"] == 2 and cycles[0]["changes"] == 2
        assert {"not_modified", "failed", "new_entries", "matches", "duration"} <= set(cycles[0])
        assert sum(c["feeds_checked"] for c in cycles[1:]) == rechecked(log)  # all 304s
        assert sum(c["new_entries"] + c["changes"] for c in cycles[1:]) == 0
        assert not [line for line in log_lines(log) if line["level"] in ("error", "raw")]

        # Restarted after the digest time: no second digest. SIGHUP reloads; so does an edit,
        # and a broken one is reported while the last valid set stays in force.
        second = Daemon(env, tmp_path, log)
        checked_before = rechecked(log)
        wait_for(lambda: count(log, "running:") == 2, FAIL_AFTER, "the restart")
        second.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: count(log, "definitions unchanged") == 1, FAIL_AFTER, "the reload")
        visa = tmp_path / "indicators" / "visa-easing.yaml"
        visa.write_text(visa.read_text().replace("outcomes:", "outcomes: [", 1))
        wait_for(lambda: count(log, "keeping the last valid set"), FAIL_AFTER, "the report")
        # the restarted daemon checked both feeds (a digest may go out only after that) and
        # kept ticking through several digest looks
        wait_for(lambda: rechecked(log) >= checked_before + 4, FAIL_AFTER, "checks after restart")
        code = second.stop()

    assert (code, len(smtp.messages)) == (0, 1), log.read_text()
    assert stopped_in_order(log) == 2, log.read_text()
    (report,) = [line for line in log_lines(log) if "keeping the last valid set" in line["message"]]
    assert report["level"] == "error" and report["problems"][0].startswith(f"{visa}:")
