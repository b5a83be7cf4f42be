"""A cycle in a daemon that reaches a limit on processes and threads (a container's pids
limit), made where the kernel makes it (`tests.nostart.pids_group`): whichever thread cannot be
started, the cycle loses nothing and hangs on nothing. Either it fails whole with Python's
"can't start new thread" and gives its feeds back, so that any daemon may check them at once,
or its feeds fail this check with the parse pool's start error, read whole at the next; with
room for every thread, it stores their news.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.nostart import LIMIT_THREADS, needs_pids_limit, pids_group
from tests.test_pipeline_window import BODY

pytestmark = [pytest.mark.slow, needs_pids_limit]

NAMES = ("a", "b", "c")
NOT_STARTED = "parse: could not start a parsing process ("
READ_NEXT = "); read whole at the next check"

CYCLE_LIMITED = (
    LIMIT_THREADS
    + """
import json, logging, sys
from datetime import timedelta
from monitor.domain import Feed
from monitor.parsepool import start_workers
from monitor.pipeline import run_cycle
from monitor.store import open_store
from tests.test_pipeline_window import ALL_TAGS, NOW, context

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    urls, group, database = json.loads(sys.argv[1]), sys.argv[2], sys.argv[4]
    more = int(sys.argv[3])
    with open_store(database) as store:
        ctx = context(store, [Feed(n, u, ALL_TAGS) for n, u in urls.items()], parse_workers=2)
        start_workers(2)  # the forkserver starts outside the limit: it can fork the workers
        limit_threads(group, more)
        try:
            report = run_cycle(ctx, now=NOW)
            found = {"errors": sorted(report.errors), "new": report.new_entries}
        except RuntimeError as exc:
            found = {"raised": str(exc)}
        lift_limit(group)
        due = store.due_feeds(NOW, owner="another", lease=timedelta(minutes=5), limit=10)
        found["due_to_another"] = sorted(f.id for f in due)
    print(json.dumps(found))
"""
)


def cycle_with_room_for(more: int, feed_server: FeedServer, tmp_path: Path) -> dict[str, Any]:
    """One cycle over three feeds, in a process that may start `more` threads, on a store of
    its own; what it found, and the feeds due to another daemon after it."""
    program = tmp_path / "limited.py"
    program.write_text(CYCLE_LIMITED)
    urls = {n: feed_server.url(f"/{n}.xml") for n in NAMES}
    database = f"sqlite:///{tmp_path / f'monitor-{more}.db'}"
    with pids_group(f"cycle-{more}") as group:
        done = subprocess.run(
            [sys.executable, str(program), json.dumps(urls), str(group), str(more), database],
            capture_output=True, text=True, timeout=120, check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    # Python's own complaint is the only error: none from joining a thread that never started,
    # a coroutine left unawaited, or a worker loading what its pool no longer has.
    others = done.stderr.replace("RuntimeError: can't start new thread", "")
    assert "Error" not in others and "never awaited" not in others, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def kind(found: dict[str, Any]) -> str:
    """What the user sees of one cycle, checked to hold nothing back."""
    if "raised" in found:  # the cycle failed whole: its feeds are given back at once
        assert found["raised"] == "can't start new thread"
        assert found["due_to_another"] == list(NAMES)
        return "failed whole"
    if found["errors"]:  # checked: each failed with the reason, and is read at the next check
        assert found["new"] == 0 and found["due_to_another"] == []
        assert [e.split(": ", 1)[0] for e in found["errors"]] == list(NAMES)
        for error in found["errors"]:
            assert error.split(": ", 1)[1].startswith(NOT_STARTED) and error.endswith(READ_NEXT)
        return "feeds failed"
    assert found == {"errors": [], "new": 3 * 3, "due_to_another": []}
    return "stored"


def test_a_cycle_short_of_threads_loses_nothing_and_hangs_on_nothing(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """With room for no thread, then one more each time, until the cycle has all it needs: the
    lease renewer, the fetch loop, the parse pool's manager and the thread that feeds its
    workers. Each cycle fails whole, or fails its feeds, or stores them: in that order as the
    room grows, and each of the three is seen."""
    for name in NAMES:
        feed_server.route(f"/{name}.xml", body=BODY)
    kinds = []
    for more in range(12):
        kinds.append(kind(cycle_with_room_for(more, feed_server, tmp_path)))
        if kinds[-1] == "stored":
            break
    assert kinds[0] == "failed whole" and kinds[-1] == "stored"
    assert "feeds failed" in kinds
    assert kinds == sorted(kinds, key=["failed whole", "feeds failed", "stored"].index)
