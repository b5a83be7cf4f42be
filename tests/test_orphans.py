"""A daemon killed with SIGKILL leaves no process behind: its parse workers, the forkserver they
fork from and CPython's resource tracker end soon after it, whatever killed it.

The process is killed while a parse pool is open (a worker waits for its next job), the case
that left all three orphaned for ever: each worker holds the forkserver's `alive` pipe and
both ends of its own job queue, so nothing it waits on ever ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_shutdown import environment, held_feeds, start, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"),
        reason="the processes are read from /proc through psutil, and killed with SIGKILL: Linux",
    ),
]

# A pool kept open: one job parsed, the stream then left waiting with its workers alive.
POOL = """
import sys, time
from monitor.parse import ParseJob
from monitor.parsepool import parse_many, start_workers
start_workers(2)
body = b"<rss version='2.0'><channel><title>t</title><item><title>a</title></item></channel></rss>"
def items():
    yield 1, ParseJob(body=body, feed_id="f", url="https://example.com/feed")
    yield 2, None
    time.sleep(3600)
    yield 3, None
stream = parse_many(items(), workers=2, ahead=2)
next(stream)
print("ready", flush=True)
time.sleep(3600)
"""


def alive(pids: list[int]) -> list[int]:
    """The pids still running (a zombie has ended: only its parent's wait is missing)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running


def descendants(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def roles(pids: list[int]) -> set[str]:
    """What each descendant is, read from its command line."""
    found = set()
    for pid in pids:
        try:
            line = " ".join(psutil.Process(pid).cmdline())
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" in line:
            found.add("resource_tracker")
        elif "forkserver" in line:
            found.add("forkserver or worker")  # a worker is a fork: the forkserver's line
    return found


def kill_and_wait(proc: subprocess.Popen[bytes], pids: list[int]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    try:
        wait_for(lambda: not alive(pids), 30, f"the killed process's children {alive(pids)} to end")
    finally:
        for pid in alive(pids):  # the test's own processes: none is left behind
            os.kill(pid, signal.SIGKILL)


def test_a_killed_parse_pool_leaves_no_process(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", POOL], env=env, cwd=tmp_path, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        pids = descendants(proc.pid)
        # the tracker, the forkserver and at least one worker
        assert len(pids) >= 3 and roles(pids) == {"resource_tracker", "forkserver or worker"}
        kill_and_wait(proc, pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_daemon_killed_mid_cycle_leaves_no_process(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`monitor run` killed while one feed is answered (and parsed) and another held."""
    published = datetime.now(UTC) - timedelta(hours=2)
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    answer = held_feeds(feed_server, ("held",), published)
    feeds = {name: feed_server.url(f"/{name}.xml") for name in ("yonhap", "held")}
    proc = start(environment(tmp_path, feeds), tmp_path, tmp_path / "run.log")
    try:
        # The cycle's pool is open (the held feed keeps it so) once a worker was forked: the
        # tracker, the forkserver and the worker(s) are the daemon's descendants.
        wait_for(lambda: len(feed_server.requests) == 2, 60, "the two requests")
        wait_for(lambda: len(descendants(proc.pid)) >= 3, 60, "a parse worker")
        kill_and_wait(proc, descendants(proc.pid))
    finally:
        answer.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
