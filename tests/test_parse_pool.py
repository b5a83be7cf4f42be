"""A parse worker that dies (the OOM killer, a segfault in a C parser) costs the body it was
parsing, never the cycle: the bodies lost with its pool are parsed again in a new one, the body
it died of fails its feed's check with `parse: the parsing process died (…)`, everything else
is stored, and a body that kills every worker stops the restarts after RESTARTS.

Real worker processes (forkserver), killed with SIGKILL by `tests.dyingparse.parse_or_die`;
feeds served on 127.0.0.1 and stored on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import parsepool
from monitor.domain import Feed
from monitor.errors import ParseError
from monitor.parse import Parsed, ParsedFeed, ParseJob
from monitor.parsepool import RESTARTS, parse_many
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from tests import dyingparse
from tests.dyingparse import (
    INTERRUPT,
    KILL,
    hang_once,
    kill_after,
    pid_after,
    spin,
    spin_beside,
)
from tests.feedserver import FeedServer
from tests.storeops import lease_until
from tests.test_pipeline_window import ALL_TAGS, BODY, NOW, context

KILLED = "killed by signal 9, SIGKILL: out of memory, the OOM killer?"
DIED = f"parse: the parsing process died ({KILLED})"


@pytest.fixture(autouse=True)
def dying(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool sends `parse_or_die` to its workers instead of `parse_job`."""
    monkeypatch.setattr(parsepool, "parse_job", dyingparse.parse_or_die)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


def job(name: str, head: bytes = b"") -> tuple[str, ParseJob]:
    return name, ParseJob(head + BODY, name, f"https://example.com/{name}.xml")


def parsed(results: list[tuple[str, Parsed | None] | None]) -> dict[str, Parsed | None]:
    return dict(r for r in results if r is not None)


def breaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "monitor.parse" and r.levelno == logging.WARNING
    ]


def test_a_worker_that_dies_costs_only_the_body_it_was_parsing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker dies while another one hangs on a body of its own: the pool breaks with
    both (and the bodies queued behind them) in it. Each is parsed again alone in a new pool:
    the body that kills its worker once more fails, every other one is read."""
    marker = tmp_path / "hanging"
    items = [
        job("first"),
        job("killer", kill_after(marker)),
        job("hung", hang_once(marker)),
        job("queued"),
        job("last"),
    ]
    caplog.set_level(logging.WARNING)

    results = parsed(list(parse_many(items, workers=2)))

    assert list(results) == ["first", "killer", "hung", "queued", "last"]  # in order
    killed = results.pop("killer")
    assert isinstance(killed, ParseError) and str(killed) == DIED
    assert all(isinstance(r, ParsedFeed) and len(r.entries) == 3 for r in results.values())
    first, second = breaks(caplog)  # one warning per break
    assert first.startswith(DIED) and "bodies in its pool: each is parsed again alone" in first
    assert first.endswith(f"a new pool goes on (1 of {RESTARTS} restarts in this cycle)")
    assert second.startswith(f"{DIED}, parsing the body of feed killer (https://example.com/")
    assert "that feed fails this check" in second and f"(2 of {RESTARTS} restarts" in second


def test_a_body_that_times_out_beside_others_uses_its_cpu_time_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A body spins (CPU time, counted by its worker's timer) while another worker waits on a
    body of its own: the timeout ends the spinner's worker and breaks the pool with both in it.
    The worker's job is known (the pool's board): that body fails at once, and the others are
    parsed again together. It was parsed again alone as a suspect, and timed out again: one
    hostile body cost two timeouts' CPU time (two minutes with the default timeout)."""
    begun = tmp_path / "begun"
    items = [job("spinner", spin(begun)), job("hung", hang_once(tmp_path / "hung")), job("last")]
    caplog.set_level(logging.WARNING)

    results = parsed(list(parse_many(items, workers=2, timeout=0.5)))

    assert list(results) == ["spinner", "hung", "last"]
    spinner = results.pop("spinner")
    assert str(spinner) == "parse: gave up after 0.5s of CPU time (parse timeout)"
    assert begun.read_text().splitlines() == ["begun"]  # parsed once: its CPU time spent once
    assert all(isinstance(r, ParsedFeed) and len(r.entries) == 3 for r in results.values())
    (said,) = breaks(caplog)
    assert said.startswith("parse: gave up after 0.5s of CPU time (parse timeout), parsing the "
                           "body of feed spinner (https://example.com/")  # fmt: skip


def test_two_bodies_that_time_out_together_each_use_their_cpu_time_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two bodies spin side by side, and both workers run out of CPU time (their own timers
    end them) in the pool that breaks: both are found on the board and fail at once, and the
    body queued behind them is parsed in the next pool. Only the first was blamed: the second
    was parsed again, spun again and timed out again, its CPU time spent twice."""
    one, two = tmp_path / "one", tmp_path / "two"
    items = [job("one", spin_beside(one, two)), job("two", spin_beside(two, one)), job("last")]
    caplog.set_level(logging.WARNING)

    results = parsed(list(parse_many(items, workers=2, timeout=0.5)))

    assert list(results) == ["one", "two", "last"]
    timeout = "parse: gave up after 0.5s of CPU time (parse timeout)"
    assert [str(results.pop(name)) for name in ("one", "two")] == [timeout, timeout]
    assert one.read_text().splitlines() == ["begun"]  # each parsed once
    assert two.read_text().splitlines() == ["begun"]
    (last,) = results.values()
    assert isinstance(last, ParsedFeed) and len(last.entries) == 3
    (said,) = breaks(caplog)  # one break
    assert said.startswith(f"{timeout}, parsing the bodies of feeds one (https://example.com/")
    assert "two (https://example.com/two.xml): each fails this check" in said


def test_bodies_that_kill_every_worker_stop_the_restarts_after_RESTARTS(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One body in the pool at a time (ahead=1). A killer alone by chance is not blamed yet
    (an idle worker may have been the one to die): it is parsed again alone, and dies so again.
    Each killer costs two restarts, so RESTARTS // 2 are found; after the next break the bodies
    left are not parsed (not here either: what kills a worker would kill the cycle) and fail."""
    killers = [job(f"killer{n}", KILL) for n in range(RESTARTS // 2 + 1)]
    items = [job("before"), *killers, job("after"), None, job("later")]
    caplog.set_level(logging.WARNING)

    results = list(parse_many(items, workers=2, ahead=1))

    assert None in results  # the lull is passed on
    found = parsed(results)
    assert isinstance(found["before"], ParsedFeed) and len(found["before"].entries) == 3
    assert all(str(found[name]) == DIED for name, _job in killers[:-1])
    given_up = (
        f"parse: not parsed: the parsing process died {RESTARTS + 1} times in this cycle (the "
        f"last time: {KILLED}); read whole at the next check"
    )
    last_killer = found[killers[-1][0]]
    assert isinstance(last_killer, ParseError) and str(last_killer) == given_up
    assert isinstance(found["after"], ParseError) and str(found["after"]) == given_up
    assert str(found["later"]) == given_up
    warnings = breaks(caplog)
    assert len(warnings) == RESTARTS + 1
    assert warnings[0].startswith(f"{DIED} with 1 body in its pool: it is parsed again alone")
    assert "parsing the body of feed killer0" in warnings[1]
    assert warnings[-1].endswith(
        f"that is {RESTARTS + 1} times in this cycle: the bodies left are not parsed"
    )


def test_an_idle_worker_that_dies_costs_no_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The OOM killer picks the idle worker while the other parses the only body left in the
    pool: the pool breaks with that body alone in it, but it is not the one the pool died of.
    It is parsed again alone, in a new pool, and read."""
    marker = tmp_path / "busy"
    items = [job("done", pid_after(marker)), job("busy", hang_once(marker))]
    caplog.set_level(logging.WARNING)
    stream = parse_many(items, workers=2)

    done = next(stream)  # parsed once "busy" hangs in the other worker: its worker is idle now
    os.kill(int(Path(f"{marker}.pid").read_text()), signal.SIGKILL)
    rest = list(stream)

    assert done is not None and done[0] == "done" and isinstance(done[1], ParsedFeed)
    [busy] = rest
    assert busy is not None and busy[0] == "busy"
    assert isinstance(busy[1], ParsedFeed) and len(busy[1].entries) == 3
    assert breaks(caplog) == [
        f"{DIED} with 1 body in its pool: it is parsed again alone; a new pool goes on "
        f"(1 of {RESTARTS} restarts in this cycle)"
    ]


def test_ctrl_c_at_a_terminal_leaves_the_workers_to_the_process_they_work_for() -> None:
    """Ctrl-C at a terminal sends SIGINT to every process of the foreground group, the workers
    too: a worker that took it as KeyboardInterrupt printed a traceback under `monitor check`'s
    (or `monitor run`'s) and lost its body. A worker ignores it: the process it works for
    decides how to stop, and the body under way is parsed."""
    items = [job("interrupted", INTERRUPT), job("next")]

    try:
        results = parsed(list(parse_many(items, workers=2)))
    except KeyboardInterrupt:  # the worker's, passed back with its job
        pytest.fail("the worker took SIGINT as KeyboardInterrupt")

    assert all(isinstance(r, ParsedFeed) and len(r.entries) == 3 for r in results.values())


def test_a_cycle_stores_every_feed_but_the_one_whose_worker_died_and_reads_it_next_time(
    feed_server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    names = ["a", "b", "c", "d", "e"]
    for name in names:
        feed_server.route(f"/{name}.xml", body=KILL + BODY if name == "c" else BODY)
    feeds = [Feed(n, feed_server.url(f"/{n}.xml"), ALL_TAGS) for n in names]
    ctx = context(store, feeds, parse_workers=2)
    caplog.set_level(logging.WARNING)

    report = run_cycle(ctx, now=NOW)

    assert report.feeds_checked == 5 and report.failed == 1 and report.new_entries == 4 * 3
    assert report.errors == [f"c: {DIED}"]
    assert f"feed c failed: {DIED}" in caplog.messages
    stored = {entry.feed_id for _id, entry, _seen in store.entries_since(NOW - timedelta(days=7))}
    assert stored == {"a", "b", "d", "e"}
    state = {f.id: f for f in store.feeds()}
    assert state["c"].last_error == DIED and state["c"].error_count == 1
    assert state["c"].last_success_at is None and state["c"].next_check_at is not None
    assert all(state[n].last_success_at is not None for n in ("a", "b", "d", "e"))
    assert lease_until(store, "c") is None  # recorded: no lease left to run out

    feed_server.route("/c.xml", body=BODY)  # the body that killed the worker is gone
    later = run_cycle(ctx, now=NOW + timedelta(days=1))

    assert later.failed == 0
    stored = {entry.feed_id for _id, entry, _seen in store.entries_since(NOW - timedelta(days=7))}
    assert stored == set(names)
    revived = {f.id: f for f in store.feeds()}["c"]
    assert revived.last_error == "" and revived.error_count == 0


def test_a_machine_of_one_cpu_parses_in_a_worker_process_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process a body that kills its parser would kill the daemon, and a parse that
    takes hours would have no timeout (`parse_within`): one CPU gets one worker."""
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    marker = tmp_path / "pid"
    marker.touch()

    results = parsed(list(parse_many([job("a", pid_after(marker))])))

    assert isinstance(results["a"], ParsedFeed)
    assert int(Path(f"{marker}.pid").read_text()) != os.getpid()


def test_a_broken_pool_sends_no_sigterm_to_the_pid_of_its_dead_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead worker's pid is free at once (the forkserver, its parent, reaps it before it tells
    the pool), and on a busy host (pid_max 32768 here) soon another process's: the pool that
    breaks ends its workers with SIGTERM, and sent one to that pid too: whatever process had
    it by then was stopped (a `monitor` command of a test run beside it, with exit 143)."""
    sent: list[tuple[int, int]] = []
    kill = os.kill

    def recorded(pid: int, sig: int) -> None:
        sent.append((pid, sig))
        kill(pid, sig)

    monkeypatch.setattr(os, "kill", recorded)
    marker = tmp_path / "busy"
    items = [job("done", pid_after(marker)), job("busy", hang_once(marker))]
    stream = parse_many(items, workers=2)
    next(stream)  # "busy" hangs in the other worker: this one is idle
    dead = int(Path(f"{marker}.pid").read_text())
    os.kill(dead, signal.SIGKILL)
    rest = list(stream)

    assert [r[0] for r in rest if r is not None] == ["busy"]  # the pool did break, and went on
    assert (dead, signal.SIGKILL) in sent
    assert (dead, signal.SIGTERM) not in sent, sent
