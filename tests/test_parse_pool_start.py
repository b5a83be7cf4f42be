"""A parse worker that cannot be started (its fork fails for want of memory, or the forkserver
dies in it) costs the bodies not parsed yet, never the cycle: each fails with `parse: could not
start a parsing process (…); read whole at the next check`, the bodies already in the pool's
workers are read, and the next stream (the next cycle) starts a new pool, and a new forkserver.

Real worker processes; the failure is made where the kernel makes it (`tests.nostart`): in a
fork of this process (ENOMEM), and in a real forkserver's fork, which kills it. Feeds served on
127.0.0.1 and stored on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import parsepool
from monitor.domain import Feed
from monitor.errors import ParseError
from monitor.parse import Parsed, ParsedFeed
from monitor.parsepool import parse_many
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from monitor.views import indicator_views
from tests.conftest import ROOT
from tests.dyingparse import wait_for
from tests.feedserver import FeedServer
from tests.nostart import (
    LIMIT_THREADS,
    NOMEM,
    Unstartable,
    ended,
    forkserver_that_cannot_fork,
    needs_pids_limit,
    pids_group,
)
from tests.test_parse_pool import dying, job, parsed  # noqa: F401 (dying: its autouse fixture)
from tests.test_pipeline_window import ALL_TAGS, BODY, NOW, context

NOT_STARTED = "parse: could not start a parsing process ("
FORKSERVER_DIED = f"{NOT_STARTED}the forkserver died: "  # then EOFError, or BrokenPipeError
READ_NEXT = "); read whole at the next check"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def read(result: Parsed | None) -> bool:
    return isinstance(result, ParsedFeed) and len(result.entries) == 3


def test_a_worker_that_cannot_be_started_fails_the_bodies_left_not_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The second worker fails to start while the first holds a body (it waits for the marker
    the failed start leaves): that body is read, the others fail, and a new stream parses."""
    marker = tmp_path / "failed"
    unstartable = Unstartable(fail_at=2, marker=marker)
    monkeypatch.setattr(parsepool, "_context", lambda: unstartable)
    items = [job("first", wait_for(marker)), job("second"), job("third")]
    caplog.set_level(logging.WARNING)

    results = parsed(list(parse_many(items, workers=2)))

    assert list(results) == ["first", "second", "third"]  # every item, in order
    assert read(results["first"])
    failed = f"{NOT_STARTED}{NOMEM}{READ_NEXT}"
    assert all(isinstance(results[n], ParseError) for n in ("second", "third"))
    assert str(results["second"]) == str(results["third"]) == failed
    assert caplog.messages == [
        f"{NOT_STARTED}{NOMEM}): the bodies left in this cycle are not parsed (the next cycle "
        "starts a new pool)"
    ]

    again = parsed(list(parse_many([job("again"), job("more")], workers=2)))  # workers start

    assert unstartable.made > 2  # a new pool, with new workers
    assert list(again) == ["again", "more"] and all(read(r) for r in again.values())


def test_a_forkserver_that_dies_as_it_forks_fails_the_stream_and_the_next_starts_another(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The forkserver dies of a fork that fails (as when memory is short): every body of the
    stream fails; once it is gone, the next stream starts a new forkserver and parses."""
    dead = forkserver_that_cannot_fork()
    caplog.set_level(logging.WARNING)

    results = parsed(list(parse_many([job("a"), job("b"), job("c")], workers=2)))

    assert list(results) == ["a", "b", "c"]
    errors = {str(r) for r in results.values() if isinstance(r, ParseError)}
    [error] = errors  # all three failed, with one message
    assert error.startswith(FORKSERVER_DIED) and error.endswith(READ_NEXT)
    [warning] = caplog.messages
    assert warning.startswith(FORKSERVER_DIED) and "not parsed" in warning

    ended(dead)  # by the next cycle, a minute later
    again = parsed(list(parse_many([job("a"), job("b"), job("c")], workers=2)))

    assert all(read(r) for r in again.values()) and len(again) == 3


def test_a_cycle_whose_workers_cannot_start_fails_its_feeds_and_the_next_reads_them(
    feed_server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The cycle completes; its feeds failed this check, so its indicators, never read, stay
    `unknown` (not `quiet`) and say why; the next cycle reads every feed whole."""
    names = ["a", "b", "c"]
    for name in names:
        feed_server.route(f"/{name}.xml", body=BODY)
    feeds = [Feed(n, feed_server.url(f"/{n}.xml"), ALL_TAGS) for n in names]
    ctx = context(store, feeds, parse_workers=2)
    dead = forkserver_that_cannot_fork()
    caplog.set_level(logging.WARNING)

    report = run_cycle(ctx, now=NOW)

    assert report.feeds_checked == 3 and report.failed == 3 and report.new_entries == 0
    [error] = {e.split(": ", 1)[1] for e in report.errors}
    assert sorted(e.split(": ", 1)[0] for e in report.errors) == names
    assert error.startswith(FORKSERVER_DIED) and error.endswith(READ_NEXT)
    state = {f.id: f for f in store.feeds()}
    assert all(state[n].last_error == error and state[n].last_success_at is None for n in names)
    assert {s for s, _since in store.current_statuses().values()} == {"unknown"}
    [view] = [v for v in indicator_views(ctx.definitions, store, now=NOW) if v.id == "visa-easing"]
    assert view.status == "unknown"
    assert view.reason.startswith(f"feeds not read: a: never read ({FORKSERVER_DIED}")
    assert store.entries_since(NOW - timedelta(days=7)) == []

    ended(dead)
    later = run_cycle(ctx, now=NOW + timedelta(days=1))

    assert later.failed == 0 and later.new_entries == 3 * 3
    stored = {entry.feed_id for _id, entry, _seen in store.entries_since(NOW - timedelta(days=7))}
    assert stored == set(names)
    assert "unknown" not in {s for s, _since in store.current_statuses().values()}


PROGRAM_GONE = """\
import json, logging, os, sys
from monitor.errors import ParseError
from monitor.parse import ParseJob
from monitor.parsepool import parse_many

logging.basicConfig(level=logging.WARNING, format="%(message)s")
os.remove(__file__)  # as when the daemon's program is removed while it runs
body = open(sys.argv[1], "rb").read()
jobs = [(n, ParseJob(body, n, f"https://example.com/{n}.xml")) for n in ("a", "b", "c")]
results = dict(r for r in parse_many(jobs, workers=2) if r is not None)
print(json.dumps({n: str(r) if isinstance(r, ParseError) else "read" for n, r in results.items()}))
"""


def test_workers_that_end_before_their_first_body_blame_no_feed(tmp_path: Path) -> None:
    """The workers cannot load the program they run (its file was removed while it ran):
    each ends before its first body. No body is to blame, so no feed is said to kill its
    worker; every body fails with the start error, at once, without the restarts."""
    program, body = tmp_path / "gone.py", tmp_path / "body.xml"
    program.write_text(PROGRAM_GONE)
    body.write_bytes(BODY)

    done = subprocess.run(
        [sys.executable, str(program), str(body)],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip

    results = json.loads(done.stdout)
    assert list(results) == ["a", "b", "c"]
    started = f"{NOT_STARTED}it ended before its first body: exit code 1{READ_NEXT}"
    assert set(results.values()) == {started}
    assert "that feed fails this check" not in done.stderr
    assert "restarts in this cycle" not in done.stderr
    assert f"{NOT_STARTED}it ended before its first body: exit code 1)" in done.stderr


PIDS_LIMITED = (
    LIMIT_THREADS
    + """
import json, logging, sys
from monitor.errors import ParseError
from monitor.parse import ParseJob
from monitor.parsepool import parse_many, start_workers


def stream(body):
    jobs = [(n, ParseJob(body, n, f"https://example.com/{n}.xml")) for n in ("a", "b", "c")]
    results = dict(r for r in parse_many(jobs, workers=2) if r is not None)
    return {n: str(r) if isinstance(r, ParseError) else "read" for n, r in results.items()}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    body, group, more = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3])
    start_workers(2)  # the forkserver starts outside the limit: it can fork the workers
    limit_threads(group, more)
    limited = stream(body)
    lift_limit(group)
    print(json.dumps({"limited": limited, "then": stream(body)}))
"""
)


@needs_pids_limit
@pytest.mark.parametrize(
    ("more", "why"),
    [(0, "RuntimeError: can't start new thread"), (1, parsepool.MANAGER_DIED)],
    ids=["manager", "feeder"],
)
def test_a_pool_whose_threads_cannot_start_fails_the_stream_and_the_next_parses(
    tmp_path: Path, more: int, why: str
) -> None:
    """A limit on processes (a container's pids limit) leaves this process no thread to start:
    not the pool's manager thread (`more` 0), or not the thread with which the manager feeds
    the workers (1), which would leave every job waiting for ever. Every body fails at once with
    the start error, and the process goes on; once the limit is lifted, the next stream
    parses."""
    program, body = tmp_path / "limited.py", tmp_path / "body.xml"
    program.write_text(PIDS_LIMITED)
    body.write_bytes(BODY)
    with pids_group(f"pool-{more}") as group:
        done = subprocess.run(
            [sys.executable, str(program), str(body), str(group), str(more)],
            capture_output=True, text=True, timeout=120, check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip

    results = json.loads(done.stdout)
    assert results["limited"] == dict.fromkeys("abc", f"{NOT_STARTED}{why}{READ_NEXT}")
    assert results["then"] == dict.fromkeys("abc", "read")
    assert f"{NOT_STARTED}{why}): the bodies left in this cycle are not parsed" in done.stderr
    assert "Error" not in done.stderr.replace("RuntimeError: can't start new thread", "")
