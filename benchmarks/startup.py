"""10. Start-up: the CPU-seconds of the everyday commands, each a process of its own, against
`monitor --help`'s on the same machine in the same run.

Analysts run `monitor status`, `history`, `search`, `explain`, `match` many times a day, and
scripts call `--json` in loops: what such a command costs is mostly its start (imports, the
definitions read, the store opened and its schema revision checked), not its query. The store
is a real one: a few feeds generated as `benchmarks.feeds` writes them, served on 127.0.0.1
and read by a real `monitor check` with the shipped indicators.

Each command runs `repeats` times, in rounds (each round runs every command once, so that a
machine getting busier meanwhile weighs on all of them alike). Its CPU-seconds (user + system,
the process's own, from `getrusage`) are given as the median and the least of its rounds; the
ratio (`over_help`, no target: it varies by a fifth between runs on a quiet machine) is the
least over `--help`'s least, as `timeit` takes the fastest: other work
on the machine only ever adds to a process's CPU-seconds (cores and caches shared), and on a
2-core machine under a load of 10 the medians of one version were up to a third apart from
run to run.
Every command ran once before the rounds, with its bytecode written to a folder of the run's
own (`PYTHONPYCACHEPREFIX`), as an installed monitor has it: what is measured is importing and
running, not compiling monitor's source (which `PYTHONDONTWRITEBYTECODE=1` makes every run do,
0.1-0.8 CPU-seconds more a command in our runs).

    python -m benchmarks.startup BEFORE [--repeats N] [--source]

compares two versions instead: BEFORE is a folder holding another version's `monitor` package
(`git archive 556925e monitor | tar -x -C BEFORE`), run in turns with this one, each command's
least CPU-seconds and its ratio to `--help`'s printed as a Markdown table. `--source` runs them
with PYTHONDONTWRITEBYTECODE=1 and an empty cache folder: every module (the libraries' too)
compiled at every command, the worst case of a machine that sets it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import feeds
from benchmarks.server import FeedServer

FEEDS, ENTRIES = 12, 30
ROOT = Path(__file__).resolve().parent.parent
# name: arguments of `monitor` (a name's first word is the command's)
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "status_json": ["status", "--json"],
    "status": ["status"],
    "status_no_database": ["status"],  # over a database that does not exist: one line, exit 1
    "history": ["history", "visa-easing"],
    "history_json": ["history", "visa-easing", "--json"],
    "search": ["search", "visa"],
    "explain": ["explain", "visa-easing:eased", "--entry", "1"],
    "verdict_list": ["verdict", "list"],
    "match": ["match", str(ROOT / "tests" / "data" / "feeds" / "rss2.xml")],
    "validate": ["validate"],
}
FAILING = {"status_no_database": 1}  # the exit code a command is expected to end with


def measure(root: Path, repeats: int = 5) -> dict[str, Any]:
    """Each command's median CPU-seconds and wall seconds over `repeats` rounds, and its CPU
    over `--help`'s, over a store a real `monitor check` wrote."""
    env = _store(root / "startup")
    for name in COMMANDS:  # bytecode written; the store's first reader's work done
        _run(name, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(max(repeats, 1)):
        for name in COMMANDS:
            samples[name].append(_run(name, env))
    found: dict[str, Any] = {"repeats": max(repeats, 1)}
    for name, taken in samples.items():
        found[name] = {
            "cpu_s": round(statistics.median(cpu for cpu, _wall in taken), 3),
            "least_cpu_s": round(min(cpu for cpu, _wall in taken), 3),
            "wall_s": round(statistics.median(wall for _cpu, wall in taken), 3),
            "samples_cpu_s": [round(cpu, 3) for cpu, _wall in taken],
        }
    floor = max(found["help"]["least_cpu_s"], 1e-3)
    found["over_help"] = {
        name: round(found[name]["least_cpu_s"] / floor, 2) for name in COMMANDS if name != "help"
    }
    return found


def _store(root: Path) -> dict[str, str]:
    """The environment of commands over a store that `monitor check` wrote from generated
    feeds served on 127.0.0.1 (the shipped indicators read them)."""
    corpus = feeds.write(root, FEEDS, ENTRIES, match_share=0.2, now=datetime.now(UTC))
    lines = ["feeds:"]
    with FeedServer(root / "feeds") as server:
        for feed_id in corpus.feed_ids:
            lines += [f"  - id: {feed_id}", f"    url: {server.base_url}/{feed_id}.xml",
                      f"    tags: {list(corpus.tags)}"]  # fmt: skip
        (root / "feeds.yaml").write_text("\n".join(lines) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env |= {
            "MONITOR_DATABASE_URL": f"sqlite:///{root / 'monitor.db'}",
            "MONITOR_FEEDS_FILE": str(root / "feeds.yaml"),
            "MONITOR_INDICATORS_DIR": str(feeds.SHIPPED_INDICATORS),
            "PYTHONPYCACHEPREFIX": str(root / "pycache"),
        }
        subprocess.run(_monitor("check"), env=env, cwd=root, check=True, capture_output=True)
    return env


def _monitor(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args]


def compare(before: Path, repeats: int, *, source: bool) -> str:
    """The Markdown table of each command's least CPU-seconds before and after (`--help`'s
    ratio beside it), the versions taking turns, the first of each round alternating."""
    with tempfile.TemporaryDirectory(prefix="monitor-startup-") as tmp:
        root = Path(tmp)
        env = _store(root / "store")
        trees = {"before": before.resolve(), "after": ROOT}
        envs = {}
        for name, tree in trees.items():
            envs[name] = env | {"PYTHONPATH": str(tree)}
            if source:  # an empty cache folder, never written: every module compiled
                envs[name] |= {"PYTHONDONTWRITEBYTECODE": "1"}
                envs[name]["PYTHONPYCACHEPREFIX"] = str(root / "no-pycache")
            else:
                envs[name]["PYTHONPYCACHEPREFIX"] = str(root / f"pycache-{name}")
                for command in COMMANDS:
                    _run(command, envs[name])
        taken: dict[tuple[str, str], list[float]] = {}
        for turn in range(max(repeats, 1)):
            for command in COMMANDS:
                for name in trees if turn % 2 == 0 else reversed(trees):
                    cpu, _wall = _run(command, envs[name])
                    taken.setdefault((name, command), []).append(cpu)
    least = {key: min(values) for key, values in taken.items()}
    lines = ["| command | before: CPU-s (/ --help) | after | after - before |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    for command in COMMANDS:
        b, a = least["before", command], least["after", command]
        hb, ha = least["before", "help"], least["after", "help"]
        shown = " ".join(COMMANDS[command]).replace(str(ROOT) + "/", "")
        if command == "status_no_database":
            shown += " (no database)"
        lines.append(f"| `{shown}` | {b:.2f} ({b / hb:.1f}×) | {a:.2f} ({a / ha:.1f}×) "
                     f"| {a - b:+.2f} |")  # fmt: skip
    return "\n".join(lines)


def _run(name: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU-seconds, wall seconds) of one run of command `name`, which must end as expected."""
    if name == "status_no_database":
        env = env | {"MONITOR_DATABASE_URL": env["MONITOR_DATABASE_URL"] + ".none"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    folder = Path(env["MONITOR_FEEDS_FILE"]).parent  # not a checkout: PYTHONPATH says which
    done = subprocess.run(
        _monitor(*COMMANDS[name]), env=env, cwd=folder, capture_output=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != FAILING.get(name, 0):
        raise RuntimeError(f"startup: monitor {' '.join(COMMANDS[name])}: exit "
                           f"{done.returncode}: {done.stderr.decode()[-500:]}")  # fmt: skip
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu, wall


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.startup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("before", type=Path, help="a folder holding the other version's monitor")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--source", action="store_true", help="monitor's modules not compiled")
    args = parser.parse_args()
    print(compare(args.before, args.repeats, source=args.source))
