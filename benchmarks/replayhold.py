"""How long a replay's final evaluation keeps a daemon beside it waiting, on a long history.

    python -m benchmarks.replayhold build DIR [--entries N] [--postgres URL]
    python -m benchmarks.replayhold measure DIR [--postgres URL] [--repeats N]

`build`: the history scenario's store (`benchmarks.history.build`, 1,000,000 entries by
default: ~83,000 pieces of evidence inside the windows) in DIR (SQLite) or in a database of the
PostgreSQL server URL, and a copy kept to start each measurement from.

`measure`: on a fresh copy each time, what `monitor replay --since` does for the last day of
news (re-match that day, a batch at a time, then the final evaluation, which works every
outcome out anew), while a daemon's stand-in in another process, in a loop, records a feed's
fetch (a daemon's write: it waits for SQLite's write lock) and takes the evaluations' lock
(an empty `story_session`: what a daemon's evaluation waits for on PostgreSQL), each in a
process of its own, its store opened as the daemon's. Prints JSON: the final evaluation's wall
time, how long it worked out the stories holding no lock (`story_reading`) and wrote them
(`story_session`, the lock held), its longest write transaction, and the longest and median
wait of each of the stand-in's steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from benchmarks import feeds, history
from monitor import heap
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, evaluate_and_record, rematch
from monitor.store import FetchRecord, Store, open_store

NAME = "replayhold"  # the store's name (history-replayhold.db, monitor_bench_history_…)
PROBE_EVERY = 0.02  # seconds between two of a stand-in's steps
STEPS = ("record_fetch", "evaluations_lock")  # a stand-in process each


def build(root: Path, entries: int, server: str = "") -> dict[str, Any]:
    if not (root / "corpus.json").exists():  # the feeds `make bench` serves: 500 of 50 items
        feeds.write(root, 500, 50)
    found = history.build(root, NAME, entries, server)
    history.keep(root, NAME, server)
    return found


def measure(root: Path, server: str = "") -> dict[str, Any]:
    """One replay of the last day on a fresh copy of the store, the stand-in beside it."""
    history.restore(root, NAME, server)
    url = history.store_url(root, NAME, server)
    definitions = history._definitions(root)
    spans: dict[str, list[float]] = {}
    store = open_store(url)
    _time_sessions(store, spans)
    matcher = Matcher(definitions.indicators)
    ctx = Context(definitions=definitions, matcher=matcher, store=store, limits=FetchLimits())
    heap.freeze()
    now = history.NOW
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    results = spawn.Queue()
    feed = definitions.feeds[0].id
    readies = [spawn.Event() for _ in STEPS]
    probes = [
        spawn.Process(target=_probe, args=(url, step, feed, stop, ready, results))
        for step, ready in zip(STEPS, readies, strict=True)
    ]
    for probe in probes:
        probe.start()
    waits: dict[str, Any] = {}
    try:
        for ready in readies:
            ready.wait()
        started = time.perf_counter()
        entries, _written = rematch(ctx, now - timedelta(days=1))
        rematched = time.perf_counter()
        for found in spans.values():
            found.clear()
        changes = evaluate_and_record(ctx, now=now, replayed=True)
        finished = time.perf_counter()
    finally:
        stop.set()
        for _probe_process in probes:
            waits |= results.get()
        for probe in probes:
            probe.join()
        store.close()
    return {
        "entries_rematched": entries,
        "rematch_s": round(rematched - started, 2),
        "final_evaluation_s": round(finished - rematched, 2),
        "final_evaluation_changes": len(changes),
        "worked_out_s": round(sum(spans.get("story_reading", [])), 2),
        "writing_s": round(sum(spans["story_session"]), 2),
        "longest_story_session_s": round(max(spans["story_session"], default=0.0), 2),
        "story_sessions": len(spans["story_session"]),
        **dict(sorted(waits.items())),
    }


def _time_sessions(store: Store, spans: dict[str, list[float]]) -> None:
    """Note how long each `story_reading` of `store` lasts (an evaluation worked out, holding
    no lock; none before this change) and each `story_session` (its lock held: SQLite's write
    lock, PostgreSQL's evaluations')."""
    for name in ("story_reading", "story_session"):
        if hasattr(store, name):
            setattr(store, name, _timed(getattr(store, name), spans.setdefault(name, [])))


def _timed(method: Any, spans: list[float]) -> Any:
    @contextlib.contextmanager
    def timed() -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with method() as held:
                yield held
        finally:
            spans.append(time.perf_counter() - started)

    return timed


def _probe(url: str, step: str, feed: str, stop: Event, ready: Event, results: Any) -> None:
    """A daemon's stand-in doing `step` every PROBE_EVERY seconds until `stop`: a fetch
    recorded, or the evaluations' lock taken and let go; puts its longest and median wait,
    and the errors (a wait that ran out)."""
    store = open_store(url, checkpoints=False)  # as the daemon's: its checkpoint is a job
    waits: list[float] = []
    errors: list[str] = []
    ready.set()
    while not stop.wait(PROBE_EVERY):
        started = time.perf_counter()
        try:
            if step == "record_fetch":
                _record_fetch(store, feed)
            else:
                _take_lock(store)
        except Exception as exc:
            errors.append(str(exc)[:200])
        waits.append(time.perf_counter() - started)
    store.close()
    results.put(
        {
            f"{step}_longest_s": round(max(waits, default=0.0), 2),
            f"{step}_median_s": round(statistics.median(waits), 4) if waits else 0.0,
            f"{step}_count": len(waits),
            f"{step}_errors": errors,
        }
    )


def _record_fetch(store: Store, feed: str) -> None:
    store.record_fetches([FetchRecord(feed, now=history.NOW, ok=True, http_status=304)])


def _take_lock(store: Store) -> None:
    with store.story_session():
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replayhold", description=__doc__)
    parser.add_argument("what", choices=("build", "measure"))
    parser.add_argument("root", type=Path)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server's URL")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    if args.what == "build":
        print(json.dumps(build(args.root, args.entries, args.postgres)))
        return
    for _ in range(args.repeats):
        print(json.dumps(measure(args.root, args.postgres)), flush=True)


if __name__ == "__main__":
    main()
