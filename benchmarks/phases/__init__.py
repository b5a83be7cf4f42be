"""Where a cold cycle's time goes: `python -m benchmarks.phases [--feeds N] [--entries N]`.

The cold cycle of `make bench` (every feed answers 200, a fresh SQLite store, 100 indicators),
timed in its two phases: while feeds are fetched, parsed in the workers, matched and stored,
then the evaluation at its end (`pipeline.evaluate_and_record`), which the main process does
alone. For each: wall time, this process's CPU time (`process_time`: the main process, all its
threads), and the core-seconds the machine left idle (`/proc/stat`, Linux). A profiling aid,
not a target: to compare two commits, run it at each in turns, several times.

Run as `python -m benchmarks.phases`, whose main module is `benchmarks.phases.__main__`: the
parse workers re-import the main module of the process that starts them (multiprocessing's
forkserver does, to find functions defined there) unless it is a package's `__main__`, and this
package's modules import the whole product and the harness (about 1 s of CPU per worker per
cycle, which the daemon, run as the `monitor` script, does not spend: 0.04 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import feeds
from benchmarks.measure import prepared, set_mode
from benchmarks.server import FeedServer
from monitor import pipeline


def _idle() -> float:
    """Core-seconds all CPUs have been idle (or waiting on I/O) since boot."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def _clocks() -> tuple[float, float, float]:
    return time.perf_counter(), time.process_time(), _idle()


def cold_cycle(root: Path, base_url: str) -> dict[str, Any]:
    _corpus, ctx, now = prepared(root, base_url, "phases.db")
    set_mode(base_url, "200")
    marks: list[tuple[float, float, float]] = []
    evaluate = pipeline.evaluate_and_record

    def timed(*args: Any, **kwargs: Any) -> Any:
        marks.append(_clocks())
        return evaluate(*args, **kwargs)

    pipeline.evaluate_and_record = timed
    try:
        begun = _clocks()
        report = pipeline.run_cycle(ctx, now=now)
        ended = _clocks()
    finally:
        pipeline.evaluate_and_record = evaluate
        ctx.store.close()
    (middle,) = marks
    return {
        "entries": report.new_entries,
        "matches": report.matches,
        **_phase("parse_phase", begun, middle),
        **_phase("evaluation", middle, ended),
    }


def _phase(
    name: str, start: tuple[float, float, float], end: tuple[float, float, float]
) -> dict[str, float]:
    wall, cpu, idle = (round(b - a, 2) for a, b in zip(start, end, strict=True))
    return {f"{name}_wall_s": wall, f"{name}_main_cpu_s": cpu, f"{name}_idle_core_s": idle}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.phases", description=__doc__)
    parser.add_argument("--feeds", type=int, default=500, help="feeds served (default 500)")
    parser.add_argument("--entries", type=int, default=50, help="entries per feed (default 50)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="monitor-phases-") as tmp:
        root = Path(tmp)
        feeds.write(root, args.feeds, args.entries)
        with FeedServer(root / "feeds") as server:
            for key, value in cold_cycle(root, server.base_url).items():
                print(f"{key}: {value}")
