"""The measurements. Each runs in a fresh process (see `__main__.isolated`) and returns a dict."""

from __future__ import annotations

import gc
import io
import os
import statistics
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser

from benchmarks.feeds import Corpus, indicators
from benchmarks.sampler import TreeSampler, rss_mb
from monitor import heap
from monitor.domain import Entry
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.parse import parse_feed
from monitor.pipeline import Context, prepare, run_cycle, start_parsers
from monitor.store import Store, open_store

CYCLE_INDICATORS = 100
STORE_BATCH = 1_000  # entries per add_news call
PRODUCT_PARSE = {"sanitize_html": False, "resolve_relative_uris": False}  # as parse.py does


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# ---------------------------------------------------------------- 1. parse floor


def feedparser_alone(bodies: list[bytes], **options: bool) -> int:
    """feedparser on each body, told it is application/xml (as parse tells it when no header
    says otherwise); returns the entries read."""
    headers = {"content-type": "application/xml"}
    return sum(
        len(feedparser.parse(io.BytesIO(body), response_headers=headers, **options).entries)
        for body in bodies
    )


def parse_floor(root: Path, default_feeds: int) -> dict[str, Any]:
    """feedparser alone on the corpus bytes, one core: the product's settings on every feed,
    feedparser's defaults on the first `default_feeds` (they are twice as slow; 0: not run)."""
    _one_core()
    corpus = Corpus.load(root)

    def run(files: list[Path], **options: bool) -> dict[str, Any]:
        bodies = [f.read_bytes() for f in files]
        started = time.perf_counter()
        entries = feedparser_alone(bodies, **options)
        seconds = time.perf_counter() - started
        return {
            "entries": entries,
            "seconds": round(seconds, 3),
            "entries_per_s": _rate(entries, seconds),
        }

    found = {"product_settings": {**run(corpus.files, **PRODUCT_PARSE), "options": PRODUCT_PARSE}}
    if default_feeds:
        found["feedparser_defaults"] = run(corpus.files[:default_feeds])
    return found


# ---------------------------------------------------------------- 2, 3, 7. cycles


def set_mode(base_url: str, mode: str) -> None:
    with urllib.request.urlopen(f"{base_url}/_mode?set={mode}") as answer:
        answer.read()


def prepared(root: Path, base_url: str, name: str) -> tuple[Corpus, Context, datetime]:
    """The corpus, a cycle's context over a fresh store `name`, and the time it was prepared
    at (the corpus's `now`, which its newest entries bear: not the clock's, so every run
    stores and matches the same): the parse workers' server started and the store prepared,
    as the daemon starts."""
    corpus = Corpus.load(root)
    definitions = corpus.definitions(base_url, indicators(CYCLE_INDICATORS))
    ctx = Context(
        definitions=definitions,
        matcher=Matcher(definitions.indicators),
        store=open_store(f"sqlite:///{root / name}"),
        limits=FetchLimits(),
    )
    now = corpus.now
    start_parsers(ctx)
    prepare(ctx, now=now)
    heap.freeze()  # as `monitor run` and `monitor check` do once start-up is done
    return corpus, ctx, now


def _timed_cycle(
    ctx: Context, base_url: str, server_pid: int, mode: str, now: datetime
) -> dict[str, Any]:
    set_mode(base_url, mode)
    gc.collect()
    with TreeSampler(exclude=frozenset({server_pid})) as sampler:
        started = time.perf_counter()
        report = run_cycle(ctx, now=now)
        wall = time.perf_counter() - started
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(sampler.cpu_seconds, 3),
        "feeds": report.feeds_checked,
        "not_modified": report.not_modified,
        "failed": report.failed,
        "new_entries": report.new_entries,
        "matches": report.matches,
        "status_changes": len(report.changes),
        "entries_per_s": _rate(report.new_entries, wall),
        "peak_rss_mb": round(sampler.peak_self_mb, 1),
        "peak_rss_with_workers_mb": round(sampler.peak_tree_mb, 1),
    }


def cycles(root: Path, base_url: str, server_pid: int, memory_cycles: int) -> dict[str, Any]:
    """Cold (every feed 200), warm (304), unchanged bodies, then `memory_cycles` warm cycles."""
    corpus, ctx, now = prepared(root, base_url, "cycles.db")
    results: dict[str, Any] = {}
    for name, mode in (("cold", "200"), ("warm", "304"), ("unchanged", "ignore")):
        results[name] = _timed_cycle(ctx, base_url, server_pid, mode, now)
        now += timedelta(hours=1)
    results["cold"]["planted"] = corpus.planted
    results["memory"] = _memory(ctx, base_url, now, memory_cycles)
    ctx.store.close()
    return results


def cold_cycle(root: Path, base_url: str, server_pid: int, turn: int) -> dict[str, Any]:
    """One more cold cycle, on a fresh store of its own: a turn taken with the parse floor."""
    _corpus, ctx, now = prepared(root, base_url, f"cold-{turn}.db")
    found: dict[str, Any] = _timed_cycle(ctx, base_url, server_pid, "200", now)
    ctx.store.close()
    return found


def _memory(ctx: Context, base_url: str, now: datetime, count: int) -> dict[str, Any]:
    """RSS after the first warm cycle and after the last of `count`."""
    set_mode(base_url, "304")
    first = last = 0.0
    for n in range(count):
        report = run_cycle(ctx, now=now)
        assert report.not_modified == report.feeds_checked, report.summary()
        now += timedelta(hours=1)
        if n == 0:
            first = rss_mb()
    last = rss_mb()
    return {
        "warm_cycles": count,
        "rss_after_first_mb": round(first, 1),
        "rss_after_last_mb": round(last, 1),
        "growth_mb": round(last - first, 1),
    }


# ---------------------------------------------------------------- 4. match, 5. store


def sample_entries(root: Path, count: int) -> list[Entry]:
    """The first `count` entries of the corpus, as parsed (the same on every run)."""
    entries: list[Entry] = []
    for path in Corpus.load(root).files:
        if len(entries) >= count:
            break
        entries += parse_feed(
            path.read_bytes(), feed_id=path.stem, url=f"http://{path.stem}/"
        ).entries
    return entries[:count]


MATCH_ROUNDS = 5  # passes over the sample per size, taken in turns; the median counts


def match_scaling(root: Path, sizes: list[int], count: int) -> dict[str, Any]:
    """Entries/s of `Matcher.match` on one core with each number of indicators: the median of
    MATCH_ROUNDS passes over the sample, the sizes taking turns, so that a hiccup of a shared
    machine (a pass lasts a fraction of a second) or its drift touches every size alike. The
    rate is by wall clock; `cpu_entries_per_s` beside it is by the process's CPU time, which
    another process's load on the core does not inflate."""
    _one_core()
    entries = sample_entries(root, count)
    matchers = {size: Matcher(indicators(size)) for size in sizes}
    rounds: dict[int, list[tuple[float, float, int]]] = {size: [] for size in sizes}
    for matcher in matchers.values():
        matcher.match(entries[0])
    for _round in range(MATCH_ROUNDS):
        for size, matcher in matchers.items():
            wall, cpu = time.perf_counter(), time.process_time()
            matches = sum(len(matcher.match(entry)) for entry in entries)
            rounds[size].append((time.perf_counter() - wall, time.process_time() - cpu, matches))
    found: dict[str, Any] = {"entries": len(entries), "rounds": MATCH_ROUNDS}
    for size, taken in rounds.items():
        seconds = statistics.median(wall for wall, _cpu, _n in taken)
        cpu_seconds = statistics.median(cpu for _wall, cpu, _n in taken)
        found[str(size)] = {
            "entries_per_s": _rate(len(entries), seconds),
            "us_per_entry": round(seconds / len(entries) * 1e6, 1),
            "cpu_entries_per_s": _rate(len(entries), cpu_seconds),
            "round_entries_per_s": [_rate(len(entries), wall) for wall, _cpu, _n in taken],
            "matches": taken[0][2],
        }
    return found


STORE_TURNS = 3  # fresh stores timed; the median counts (one turn lasts a fraction of a second)


def store_rate(root: Path, count: int, batch: int) -> dict[str, Any]:
    """New entries/s through `add_news` (no matches) in batches, then the same entries again:
    the median of STORE_TURNS turns, each on a fresh store (a turn takes a fraction of a
    second, which one hiccup of a shared machine can double; the first also compiles the
    store's statements, once per process, as a daemon's first cycle does)."""
    entries = sample_entries(root, count)
    now = Corpus.load(root).now
    turns = []
    for turn in range(STORE_TURNS):
        store = open_store(f"sqlite:///{root / f'store-{turn}.db'}")
        new, seconds = _stored(store, entries, batch, now)
        again, dup_seconds = _stored(store, entries, batch, now)
        store.close()
        turns.append(
            {
                "new": new,
                "new_entries_per_s": _rate(new, seconds),
                "duplicates_skipped": len(entries) - again,
                "duplicate_entries_per_s": _rate(len(entries), dup_seconds),
            }
        )
    return {
        "entries": len(entries),
        "batch": batch,
        "new": turns[0]["new"],
        "new_entries_per_s": statistics.median(t["new_entries_per_s"] for t in turns),
        "duplicates_skipped": turns[0]["duplicates_skipped"],
        "duplicate_entries_per_s": statistics.median(t["duplicate_entries_per_s"] for t in turns),
        "turns": turns,
    }


def _stored(store: Store, entries: list[Entry], batch: int, now: datetime) -> tuple[int, float]:
    """How many of `entries` were new, and the seconds `add_news` took, in batches."""
    new = 0
    started = time.perf_counter()
    for start in range(0, len(entries), batch):
        added = store.add_news(
            entries[start : start + batch], now=now, match=lambda _fresh: [], definition_hashes={}
        )
        new += len(added.entries)
    return new, time.perf_counter() - started
