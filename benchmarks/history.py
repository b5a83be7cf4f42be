"""8. History: the same work over a short and a long stored history (issue 15).

A store is built through the store API (bulk `add_news`, not timed cycles) with news at a
steady rate of `RATE` entries a day, `MATCH_SHARE` of them matched by one of 100 indicators,
every feed read, statuses recorded, and a cycle row per 15 minutes; `entries` sets how many days
of history that is. Then, in a fresh process (a restart): `monitor status` (what its command
computes), the first `GET /indicators`, and two cycles that each store `CYCLE_ENTRIES` new
entries at the same density and evaluate (the first after the restart, then a warm one), on a
store opened as the daemon opens it: SQLite's write-ahead log is copied into the file by the
daemon's checkpoint job, beside the checks, so each cycle's checkpoint is timed on its own
(`…_checkpoint_s`), not in the cycle. Reported per size, and as ratios of the large store to
the small one.

Each store is measured `repeats` times (5 by default), in rounds of one measurement of each size
whose order alternates (small then large, large then small, …), each time in a fresh process on a
fresh copy of the store as built (`keep` then `restore`): a measurement adds news, and load on a
shared machine drifts, so alternating lets a slow spell, and whatever follows a copy of the long
store, land on both sizes alike. The ratios compare each size's median, so two slow samples of
five on one side do not decide them; every sample is reported too. Not the fastest sample: one
quiet moment decides it, as one slow moment decides a single measurement (the short store's
first cycles of 0.23, 0.27 and 0.37 s took that ratio from 1.27× to 1.47×; README).
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from benchmarks.feeds import Corpus, indicators
from benchmarks.sampler import TreeSampler, rss_mb
from monitor import heap
from monitor.domain import Definitions, Entry, Match
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, evaluate_and_record, prepare
from monitor.store import Cycle, FetchRecord, Store, open_store, upgrade

RATE = 10_000  # entries a day
MATCH_SHARE = 0.138  # of entries matched (1M entries, 138,000 matches in issue 15)
CYCLE_ENTRIES = 2_000
INDICATORS = 100
BATCH = 5_000
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _definitions(root: Path) -> Definitions:
    return Corpus.load(root).definitions("http://127.0.0.1:9", indicators(INDICATORS))


def build(root: Path, name: str, entries: int, server: str = "") -> dict[str, Any]:
    """A store of `entries` entries ending at NOW (on SQLite, or in a new database of the
    PostgreSQL `server`); returns how long the build took."""
    started = time.perf_counter()
    definitions = _definitions(root)
    url = store_url(root, name, server)
    if server:
        _recreate(server, url)
        upgrade(url)  # an empty PostgreSQL database gets its schema from `monitor db upgrade`
    store = open_store(url)
    days = max(entries / RATE, 1.0)
    begin = NOW - timedelta(days=days)
    ctx = Context(definitions=definitions, matcher=Matcher(()), store=store, limits=FetchLimits())
    prepare(ctx, now=begin)
    rng = random.Random(15)
    for start in range(0, entries, BATCH):
        count = min(BATCH, entries - start)
        _add(store, definitions, rng, [_when(rng, begin, NOW) for _ in range(count)], start)
    _feeds_read(store, definitions, NOW - timedelta(minutes=5))
    for n in range(int(days * 96)):
        at = begin + n * timedelta(minutes=15)
        store.record_cycle(Cycle(at, at + timedelta(seconds=3), feeds_checked=40, new_entries=25))
    evaluate_and_record(ctx, now=NOW - timedelta(minutes=5))
    store.close()
    if server:
        _analyze(url)
    return {
        "entries": entries,
        "days": round(days, 1),
        "build_s": round(time.perf_counter() - started, 1),
        "file_mb": round(_size_mb(root, name, url), 1),
    }


def measure(root: Path, name: str, server: str = "") -> dict[str, Any]:
    """The timings over a built store, in a fresh process."""
    definitions = _definitions(root)
    url = store_url(root, name, server)
    found: dict[str, Any] = {"status_s": _status(url, definitions)}
    found |= _reads(url, definitions)
    found |= _first_get(url, definitions)
    store = open_store(url, checkpoints=False)  # as the daemon's: its checkpoint is a job
    ctx = Context(definitions=definitions, matcher=Matcher(()), store=store, limits=FetchLimits())
    heap.freeze()  # as `monitor run` does once start-up is done
    rng = random.Random(16)
    for label, now in (("first_cycle", NOW), ("warm_cycle", NOW + timedelta(minutes=15))):
        with TreeSampler() as sampler:
            started = time.perf_counter()
            _add(store, definitions, rng, [now] * CYCLE_ENTRIES, 10**9 + int(now.timestamp()))
            _feeds_read(store, definitions, now)
            changes = evaluate_and_record(ctx, now=now)
            found[label + "_s"] = round(time.perf_counter() - started, 3)
        found[label + "_changes"] = len(changes)
        found[label + "_peak_rss_mb"] = round(sampler.peak_self_mb, 1)
        started = time.perf_counter()  # the daemon's checkpoint job, beside the checks
        store.checkpoint()
        found[label + "_checkpoint_s"] = round(time.perf_counter() - started, 3)
    found["rss_after_mb"] = round(rss_mb(), 1)
    store.close()
    return found


def keep(root: Path, name: str, server: str = "") -> None:
    """Keep a copy of the built store, for `restore` before each measurement."""
    url = store_url(root, name, server)
    if server:
        _recreate(server, _kept_url(url), template=make_url(url).database)
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:  # the whole store in the file, none of it in the WAL
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    shutil.copyfile(root / f"history-{name}.db", root / f"history-{name}.kept.db")


def restore(root: Path, name: str, server: str = "") -> None:
    """The store as it was built (as `keep` copied it)."""
    url = store_url(root, name, server)
    if server:
        _recreate(server, url, template=make_url(_kept_url(url)).database)
        return
    for suffix in ("-wal", "-shm"):
        (root / f"history-{name}.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(root / f"history-{name}.kept.db", root / f"history-{name}.db")


def drop(root: Path, name: str, server: str = "") -> None:
    """Drop the store and its kept copy from a PostgreSQL server (a SQLite store's files go with
    `root`)."""
    if not server:
        return
    url = store_url(root, name, server)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for database in (make_url(url).database, make_url(_kept_url(url)).database):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        engine.dispose()


def medians(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the samples, and every sample."""
    found: dict[str, Any] = {
        key: round(statistics.median(sample[key] for sample in samples), 3) for key in samples[0]
    }
    found["samples"] = {key: [sample[key] for sample in samples] for key in samples[0]}
    return found


def ratios(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    keys = (
        "first_cycle_s",
        "warm_cycle_s",
        "status_s",
        "first_get_indicators_s",
        "get_indicators_after_news_s",
        "evidence_read_s",
        "evidence_read_last_day_s",
        "match_version_ms",
    )
    found = {key.rsplit("_", 1)[0]: round(large[key] / max(small[key], 1e-6), 2) for key in keys}
    found["evidence_in_windows"] = round(
        large["evidence_in_windows"] / max(small["evidence_in_windows"], 1), 2
    )
    return found


def _status(url: str, definitions: Definitions) -> float:
    """What `monitor status` computes: pending changes, then the views, read-only."""
    from monitor import views
    from monitor.statuses import pending_changes

    started = time.perf_counter()
    with open_store(url, read_only=True) as store:
        heap.freeze()  # as the command's Runtime does once the store is open
        shown = store.with_unrecorded(pending_changes(definitions, store, now=NOW))
        views.indicators(views.indicator_views(definitions, shown, now=NOW, evidence=False))
    return round(time.perf_counter() - started, 3)


def _reads(url: str, definitions: Definitions) -> dict[str, Any]:
    """The store's own reads on a fresh handle: every indicator's evidence in its window, the
    last day's evidence (as much in both stores: what a read costs beyond its window), and the
    match version."""
    with open_store(url, read_only=True) as store:
        windows = {i.id: NOW - i.window for i in definitions.indicators}
        started = time.perf_counter()
        found = store.evidence_read(list(windows), windows).found
        window_s = time.perf_counter() - started
    with open_store(url, read_only=True) as store:
        started = time.perf_counter()
        day = store.evidence_read(list(windows), NOW - timedelta(days=1)).found
        day_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(100):
            with store._tx("read the match version") as conn:
                store._match_version(conn)
        version_s = (time.perf_counter() - started) / 100
    return {
        "evidence_in_windows": sum(map(len, found.values())),
        "evidence_read_s": round(window_s, 3),
        "evidence_last_day": sum(map(len, day.values())),
        "evidence_read_last_day_s": round(day_s, 3),
        "match_version_ms": round(version_s * 1000, 3),
    }


def _first_get(url: str, definitions: Definitions) -> dict[str, float]:
    """The first GET /indicators of a server just started, and the first after new news."""
    from monitor.settings import Settings
    from monitor.web import WebServer, create_app

    store = open_store(url)
    settings = Settings(_env_file=None, database_url=url)
    app = create_app(  # at NOW, as status: the clock's would leave every window empty
        store=store, definitions=lambda: definitions, settings=settings, clock=lambda: NOW
    )
    server = WebServer(app, host="127.0.0.1", port=0)
    server.start()
    heap.freeze()  # as `monitor run` does once start-up is done
    found = {}
    try:
        for key in ("first_get_indicators_s", "get_indicators_after_news_s"):
            if key != "first_get_indicators_s":  # one more match than the page showed
                with open_store(url) as writer:
                    _add(writer, definitions, random.Random(17), [NOW] * 50, 2 * 10**9)
            started = time.perf_counter()
            with urllib.request.urlopen(f"{server.url}/indicators", timeout=600) as answer:
                answer.read()
            found[key] = round(time.perf_counter() - started, 3)
    finally:
        server.stop()
        store.close()
    return found


def _add(
    store: Store,
    definitions: Definitions,
    rng: random.Random,
    times: Sequence[datetime],
    first: int,
) -> None:
    feeds = [f.id for f in definitions.feeds]
    outcomes = [(i.id, o.id) for i in definitions.indicators for o in i.outcomes]
    hashes = {i.id: i.hash for i in definitions.indicators}
    batch = [_entry(rng, first + k, feeds, when) for k, when in enumerate(times)]

    def matched(new: Sequence[tuple[int, Entry]]) -> list[tuple[int, Match]]:
        return [
            (entry_id, Match(entry.key, *rng.choice(outcomes), ("term",), entry.title))
            for entry_id, entry in new
            if rng.random() < MATCH_SHARE
        ]

    store.add_news(batch, now=max(times), match=matched, definition_hashes=hashes)


def _entry(rng: random.Random, n: int, feeds: list[str], published: datetime) -> Entry:
    topic = rng.randrange(10**6)  # distinct stories: titles and texts share few shingles
    title = f"Report {n}: officials review plan {topic} for {rng.choice(_PLACES)}"
    text = f"Talks on item {topic} and {rng.randrange(10**6)} would continue. " * 4
    link = f"https://news{n % 40}.example.com/story/{n}"
    return Entry(rng.choice(feeds), link, link, title, text, published, f"news{n % 40}.example.com")


_PLACES = ("Seoul", "Beijing", "Tokyo", "Pyongyang", "Busan", "Shanghai", "Osaka", "Taipei")


def _when(rng: random.Random, begin: datetime, end: datetime) -> datetime:
    return begin + (end - begin) * rng.random()


def _feeds_read(store: Store, definitions: Definitions, now: datetime) -> None:
    store.record_fetches(
        [FetchRecord(f.id, now=now, ok=True, http_status=304) for f in definitions.feeds]
    )


def store_url(root: Path, name: str, server: str) -> str:
    if server:
        return str(make_url(server).set(database=f"monitor_bench_history_{name}"))
    return f"sqlite:///{root / f'history-{name}.db'}"


def _kept_url(url: str) -> str:
    return str(make_url(url).set(database=f"{make_url(url).database}_kept"))


def _recreate(server: str, url: str, template: str | None = None) -> None:
    """A database at `url` on `server`, empty or a copy of `template` (dropped first if a run
    left it)."""
    name = make_url(url).database
    copy = f' TEMPLATE "{template}"' if template else ""
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    finally:
        engine.dispose()


def _analyze(url: str) -> None:
    """What autovacuum does within a minute or so of a bulk load (and always has done in a
    database used for months): the planner's statistics, of every table."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def _size_mb(root: Path, name: str, url: str) -> float:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                size = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
                return float(size.scalar_one()) / 1e6
        finally:
            engine.dispose()
    files = [root / f"history-{name}.db{suffix}" for suffix in ("", "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6
