"""6. HTTP: the web endpoint over a populated SQLite file, loaded from a separate process."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.feeds import ROOT, Corpus, indicators
from monitor.domain import Definitions, Entry, Evidence, Match, StatusChange
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare
from monitor.store import Store, open_store

DAY = timedelta(days=1)
ENDPOINTS = ("indicators", "history")


def web_built() -> bool:
    return importlib.util.find_spec("monitor.web") is not None


def http(
    root: Path, *, indicator_count: int, entry_count: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    """Requests/s and latency of GET /indicators and GET /indicators/{id}/history, over a
    store populated back from the corpus's `now`, which the server takes for its clock (not
    the clock's: every run stores, and shows, the same)."""
    from monitor.settings import Settings
    from monitor.web import WebServer, create_app

    corpus = Corpus.load(root)
    definitions = corpus.definitions("http://127.0.0.1:9", indicators(indicator_count))
    url = f"sqlite:///{root / 'web.db'}"
    now = corpus.now
    store = open_store(url)
    populate(store, definitions, entry_count, now=now)
    settings = Settings(_env_file=None, database_url=url)
    app = create_app(
        store=store, definitions=lambda: definitions, settings=settings, clock=lambda: now
    )
    server = WebServer(app, host="127.0.0.1", port=0)
    server.start()
    ids = [i.id for i in definitions.indicators]
    try:
        found: dict[str, Any] = {"indicators": indicator_count, "stored_entries": entry_count}
        found["indicators_endpoint"] = _load([f"{server.url}/indicators"], seconds, concurrency)
        history = [f"{server.url}/indicators/{i}/history" for i in ids]
        found["history_endpoint"] = _load(history, seconds, concurrency)
    finally:
        server.stop()
        store.close()
    return found


def _load(urls: list[str], seconds: float, concurrency: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.load",
        "--seconds",
        str(seconds),
        "--concurrency",
        str(concurrency),
        *urls,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def populate(store: Store, definitions: Definitions, count: int, *, now: datetime) -> None:
    """`count` entries over 60 days, 2 % of them matched, and 20 status changes per indicator."""
    rng = random.Random(6)
    ctx = Context(definitions=definitions, matcher=Matcher(()), store=store, limits=FetchLimits())
    prepare(ctx, now=now - 60 * DAY)
    feeds = [f.id for f in definitions.feeds]
    outcomes = [(i.id, o.id) for i in definitions.indicators for o in i.outcomes]
    hashes = {i.id: i.hash for i in definitions.indicators}

    def matched(new: Sequence[tuple[int, Entry]]) -> list[tuple[int, Match]]:
        return [
            (entry_id, Match(entry.key, *rng.choice(outcomes), ("term",), entry.title))
            for entry_id, entry in new
            if rng.random() < 0.02
        ]

    for start in range(0, count, 5_000):
        batch = [_entry(rng, n, feeds, now) for n in range(start, min(count, start + 5_000))]
        store.add_news(batch, now=now, match=matched, definition_hashes=hashes)
    for indicator in definitions.indicators:
        store.record_changes(_changes(indicator.id, indicator.outcomes[0].id, now))


def _entry(rng: random.Random, n: int, feeds: list[str], now: datetime) -> Entry:
    published = now - timedelta(seconds=rng.randrange(60 * 86400))
    title = f"Report {n}: officials in Seoul and Beijing review trade and travel plans"
    text = "Officials said talks would continue next month. " * 8
    link = f"https://news{n % 40}.example.com/story/{n}"
    return Entry(rng.choice(feeds), link, link, title, text, published, f"news{n % 40}.example.com")


def _changes(indicator_id: str, outcome_id: str, now: datetime) -> list[StatusChange]:
    statuses = ["quiet", f"{outcome_id}:reported", f"{outcome_id}:confirmed"]
    changes = []
    for k in range(20):
        at = now - (60 - 3 * k) * DAY
        evidence = tuple(
            Evidence(
                k * 10 + e,
                indicator_id,
                outcome_id,
                f"Headline {k}.{e}",
                f"https://news{e}.example.com/{k}",
                f"news{e}.example.com",
                at,
                ("term",),
                "…a snippet around the matched term…",
            )
            for e in range(3)
        )
        old, new = statuses[k % 3], statuses[(k + 1) % 3]
        changes.append(StatusChange(indicator_id, at, old, new, evidence, "hash"))
    return changes
