"""A real SQLite database for the web tests, filled through the store and pipeline functions:
the indicators of tests/data/web, three feeds (one fine, one not modified, one gone), news
over three weeks (one headline hostile), two cycles and a sent digest."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI

from monitor.cli import main
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Entry, Indicator
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, evaluate_and_record, prepare, store_entries
from monitor.settings import Settings
from monitor.store import Cycle, Store, open_store
from monitor.web import create_app
from tests import storeops
from tests.conftest import DATA
from tests.readfeeds import read_once

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
WEB = DATA / "web"  # four small indicators, three feeds: independent of the shipped ones

HOSTILE_TITLE = (
    "<script>alert(1)</script> China extends visa-free entry for South Korean visitors "
    "<img src=x onerror=alert(2)>"
)
HOSTILE_TEXT = 'Seoul welcomes the move. <a href="javascript:alert(4)">click</a> & more'
HOSTILE_LINK = "javascript:alert(3)"
VISA_HERALD = "South Korea launches visa-free entry for Chinese tour groups"
FLIGHTS = "Korean Air resumes Incheon–Shanghai flights after three-year hiatus"
GENERAL = "Seoul stocks close higher on chip rally"


def news(feed: str, n: int, title: str, link: str, published: datetime, text: str = "") -> Entry:
    host = link.split("/")[2] if "://" in link else "example.org"
    return Entry(feed, f"{feed}-{n}", link, title, text, published, host.removeprefix("www."))


@functools.cache
def definitions() -> Definitions:
    return load_definitions(WEB / "indicators", WEB / "feeds.yaml")


CHINA_VOCAB = "@places.china"  # visa-easing's China list, in `with_vocabulary`'s indicators


def with_vocabulary(root: Path) -> Path:
    """A copy of the web indicators under `root` whose visa-easing reads its China list from a
    vocabulary (indicators/vocab/places.yaml) as CHINA_VOCAB; the copy's indicators folder."""
    indicators = root / "indicators"
    shutil.copytree(WEB / "indicators", indicators)
    (indicators / "vocab").mkdir()
    (indicators / "vocab" / "places.yaml").write_text("china: [China, Chinese, 중국]\n")
    visa = indicators / "visa-easing.yaml"
    rule = visa.read_text()
    assert "- any: [China, Chinese, 중국]" in rule
    visa.write_text(rule.replace("- any: [China, Chinese, 중국]", f'- "{CHINA_VOCAB}"'))
    return indicators


def reading_only(root: Path, indicator: str, feed: str) -> Path:
    """A copy of the web indicators under `root` whose `indicator` reads `feed` alone (its
    `feeds:`, where the others read every feed); the copy's indicators folder."""
    indicators = root / "indicators"
    shutil.copytree(WEB / "indicators", indicators)
    path = indicators / f"{indicator}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    (window,) = [n for n, line in enumerate(lines) if line.startswith("window:")]
    lines.insert(window, f"feeds: {{ids: [{feed}]}}\n")
    path.write_text("".join(lines))
    return indicators


@functools.cache
def _matcher(indicators: tuple[Indicator, ...]) -> Matcher:
    return Matcher(indicators)


def context(store: Store, defs: Definitions) -> Context:
    return Context(
        definitions=defs,
        matcher=_matcher(defs.indicators),
        store=store,
        limits=FetchLimits(timeout=30, total_timeout=60),  # waited for only by a hang
    )


def populate(store: Store, defs: Definitions, *, now: datetime = NOW) -> None:
    ctx = context(store, defs)
    prepare(ctx, now=now - 30 * DAY)
    read_once(ctx, now=now - 30 * DAY)
    # three weeks ago one publisher reports visa easing (behind a hostile headline)
    then = now - 20 * DAY
    hostile = news("yonhap", 1, HOSTILE_TITLE, HOSTILE_LINK, then, HOSTILE_TEXT)
    store_entries(ctx, [hostile, news("yonhap", 2, GENERAL, "https://en.yna.co.kr/3", then)],
                  now=then)  # fmt: skip
    evaluate_and_record(ctx, now=then)
    # two days ago a second publisher confirms it, and flights resume
    recent = now - 2 * DAY
    store_entries(
        ctx,
        [
            news("herald", 3, VISA_HERALD, "https://www.koreaherald.com/article/1", recent),
            news("yonhap", 4, FLIGHTS, "https://en.yna.co.kr/view/AEN2", recent),
        ],
        now=recent,
    )
    evaluate_and_record(ctx, now=recent)
    record_fetches(store, now - timedelta(minutes=5))
    for minutes, seconds in ((65, 1.2), (5, 3.4)):
        start = now - timedelta(minutes=minutes)
        took = timedelta(seconds=seconds)
        counts = {"feeds_checked": 3, "not_modified": 1, "failed": 1, "new_entries": 2}
        store.record_cycle(Cycle(start, start + took, matches=1, **counts))
    day = (now - DAY).date()
    assert store.claim_digest(day, owner="test", now=now - DAY)
    store.mark_digest_sent(day, now - DAY)


def record_fetches(store: Store, at: datetime) -> None:
    next_at = at + timedelta(minutes=15)
    storeops.record_fetch(store, "yonhap", now=at, ok=True, http_status=200, next_check_at=next_at)
    storeops.record_fetch(store, "herald", now=at, ok=True, http_status=304, next_check_at=next_at)
    storeops.record_fetch(store,
        "gone", now=at, ok=False, http_status=410, dead=True, error_count=1,
        error="fetch: HTTP 410 Gone <b>bold</b>",
    )  # fmt: skip


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def db_url(database_url: str) -> str:
    return database_url  # SQLite, then PostgreSQL (tests/databases.py)


@pytest.fixture
def defs() -> Definitions:
    return definitions()


@pytest.fixture
def store(db_url: str, defs: Definitions) -> Iterator[Store]:
    with open_store(db_url) as opened:
        populate(opened, defs)
        yield opened


@pytest.fixture
def empty(db_url: str) -> Iterator[Store]:
    """A store made and migrated, with no check and no daemon yet (`monitor serve` first)."""
    with open_store(db_url) as opened:
        yield opened


@pytest.fixture
def app(store: Store, defs: Definitions) -> FastAPI:
    return create_app(store=store, definitions=lambda: defs, settings=settings(), clock=lambda: NOW)


def entry_id(store: Store, title: str) -> int:
    """The id of the one stored entry with this headline."""
    (hit,) = [s.id for s in store.search_entries(title) if s.entry.title == title]
    return hit


def run_cli(env: dict[str, str], *args: str) -> Result:
    """`monitor ARGS` in this process, with `env` (MONITOR_DATABASE_URL and the definitions)."""
    return CliRunner().invoke(main, list(args), env=env)


def cli_entry_id(env: dict[str, str], title: str) -> int:
    """The id `monitor search --json` gives the one stored entry with this headline."""
    found = [
        json.loads(line) for line in run_cli(env, "search", title, "--json").stdout.splitlines()
    ]
    (hit,) = [f for f in found if f["title"] == title]
    return int(hit["id"])
