"""A feed whose server asks us to slow down (429, or 503 with Retry-After) is not a feed that is
broken: it is not `failing` (/healthz stays `ok`, the page, /feeds, /metrics and the digest do
not call it failing, no WARNING is logged), its Retry-After is honoured, and wherever feed health
is shown it says `rate limited`, with the server's answer. While it goes unread for longer than
two intervals, its indicators are `unknown` as for any feed not read, the reason naming the
answer. A real cycle against feeds served on 127.0.0.1; time is passed in, never waited for."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.daily import digest_input
from monitor.digest import build_digest
from monitor.domain import UNKNOWN, Definitions, utc_text
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from monitor.views import indicator_views
from monitor.web import create_app
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.test_digest import parts
from tests.webdata import settings

INTERVAL = twofeeds.INTERVAL
ANSWER = "fetch: HTTP 429 (retry after 600s)"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


@dataclass(frozen=True)
class Shown:
    """What /healthz, /feeds, /metrics, the page and the digest say of feed b."""

    healthz: tuple[str, int, list[str]]  # status, feeds.failing, reasons
    feed: dict[str, object]  # b in /feeds
    state: str  # b's state on the page
    failing_metric: list[str]  # monitor_feeds{state="failing"}
    rate_limited: tuple[int, list[str]]  # /healthz's feeds.rate_limited, its /metrics gauge
    digest: list[str]  # the digest's lines about b


def _shown(store: Store, defs: Definitions, now: datetime) -> Shown:
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    with TestClient(app) as client:
        health = client.get("/healthz").json()
        feeds = {f["id"]: f for f in client.get("/feeds").json()}
        metrics = client.get("/metrics").text
        page = client.get("/").text
    rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', page, re.S))
    data = digest_input(defs, store, day=now.date(), now=now, timezone="UTC")
    text, _html = parts(build_digest(data, sender="m@example.org", recipients=["r@example.org"]))
    return Shown(
        healthz=(health["status"], health["feeds"]["failing"], health["reasons"]),
        feed=feeds["b"],
        state="".join(re.findall(r'class="state ([\w-]+)"', rows["b"])),
        failing_metric=re.findall(r'^monitor_feeds\{state="failing"\} (\S+)$', metrics, re.M),
        rate_limited=(
            health["feeds"]["rate_limited"],
            re.findall(r"^monitor_feeds_rate_limited (\S+)$", metrics, re.M),
        ),
        digest=re.findall(r"^\* b: .*(?:\n  (?!http).*)*", text, re.M),  # wrapped at 76
    )


def _setup(feed_server: FeedServer, tmp_path: Path, published: datetime) -> Definitions:
    for name in "ab":
        feed_server.route(f"/{name}.xml", body=news.rss(name, [twofeeds.wire(published)]))
    return twofeeds.definitions(tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml"))


def test_a_feed_asking_to_slow_down_is_not_failing_and_says_so(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)  # `monitor status` reads the clock
    read_at = now - INTERVAL - timedelta(minutes=1)
    defs = _setup(feed_server, tmp_path, read_at - timedelta(hours=1))
    ctx = twofeeds.context(defs, store, now=read_at)
    assert run_cycle(ctx, now=read_at).failed == 0
    feed_server.route("/b.xml", status=429, headers={"Retry-After": "600"})

    with caplog.at_level(logging.INFO, logger="monitor.pipeline"):
        report = run_cycle(ctx, now=now)

    (b,) = [f for f in store.feeds() if f.id == "b"]
    assert (b.failing_since, b.last_error, b.last_success_at) == (None, ANSWER, read_at)
    assert b.next_check_at is not None and b.next_check_at >= now + timedelta(seconds=600)
    assert report.failed == 1  # a fetch that brought nothing, counted as such
    assert "1 failed (1 rate limited)" in report.summary()
    said = [(r.levelno, r.getMessage()) for r in caplog.records if "feed b" in r.getMessage()]
    assert said == [(logging.INFO, f"feed b asked to be read later: {ANSWER}; next check at "
                                   f"{utc_text(b.next_check_at)} at the earliest")]  # fmt: skip
    shown = _shown(store, defs, now)
    assert shown.healthz == ("ok", 0, [])
    assert (shown.feed["failing_since"], shown.feed["rate_limited"]) == (None, True)
    assert shown.feed["last_error"] == ANSWER
    assert shown.state == "rate-limited"
    assert shown.failing_metric == ["0.0"]
    assert shown.rate_limited == (1, ["1.0"])  # counted, as not failing
    assert shown.digest == [f"* b: rate limited: {ANSWER}"]
    statuses = {v.id: v.status for v in indicator_views(defs, store, now=now)}
    assert UNKNOWN not in statuses.values()  # b was read an interval ago: it still counts
    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
           "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}  # fmt: skip
    status = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False)
    assert f"feed b: rate limited: {ANSWER}\n" in status.stdout
    assert "failing" not in status.stdout


def test_a_feed_rate_limited_for_long_leaves_its_indicators_unknown_naming_the_answer(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    defs = _setup(feed_server, tmp_path, start - timedelta(hours=1))
    ctx = twofeeds.context(defs, store, now=start)
    run_cycle(ctx, now=start)
    feed_server.route("/b.xml", status=429, headers={"Retry-After": "600"})
    run_cycle(ctx, now=start + INTERVAL)
    later = start + 4 * INTERVAL  # b due again (backing off: two intervals), and still refused

    report = run_cycle(ctx, now=later)

    assert feed_server.hits("/b.xml") == 3
    assert report.failed == 1
    views = {v.id: v for v in indicator_views(defs, store, now=later)}
    assert views["reads-b"].status == UNKNOWN
    assert views["reads-b"].reason == (
        f"feeds not read: b: not read since {utc_text(start)} ({ANSWER})"
    )
    assert views["reads-both"].status != UNKNOWN  # a is read
    shown = _shown(store, defs, later)
    assert shown.healthz == (  # not failing; but b is unread for four intervals: stale
        "degraded",
        0,
        ["1 of 2 feeds stale: not read successfully within two check intervals"],
    )
    assert shown.state == "stale"  # as the digest says below, not `rate-limited` any more
    (line,) = shown.digest
    assert " ".join(line.split()) == (
        f"* b: no successful fetch for 1h (rate limited: {ANSWER}) (since {utc_text(start)})"
    )


def test_a_503_with_retry_after_is_a_rate_limit_and_one_without_a_failure(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    defs = _setup(feed_server, tmp_path, start - timedelta(hours=1))
    ctx = twofeeds.context(defs, store, now=start)
    run_cycle(ctx, now=start)
    feed_server.route("/a.xml", status=503, headers={"Retry-After": "120"})
    feed_server.route("/b.xml", status=503)

    run_cycle(ctx, now=start + INTERVAL)

    feeds = {f.id: f for f in store.feeds()}
    assert feeds["a"].failing_since is None
    assert feeds["a"].last_error == "fetch: HTTP 503 (retry after 120s)"
    assert feeds["b"].failing_since == start + INTERVAL
    assert feeds["b"].last_error == "fetch: HTTP 503 Service Unavailable"
    shown = _shown(store, defs, start + INTERVAL)
    assert shown.healthz == ("degraded", 1, ["1 of 2 feeds failing: b"])
    assert (shown.failing_metric, shown.rate_limited) == (["1.0"], (1, ["1.0"]))  # b; a
