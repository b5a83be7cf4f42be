"""A feed not read successfully within two of its intervals is **stale**, and every place that
shows feed health says so at the moment it is asked (`FeedState.state_at`), never the state
the last cycle wrote: the page's feed table and its top line, /feeds, /healthz's counts,
`monitor status` and the digest. The daemon down for 13 hours left every feed reading `ok` on
the page while `monitor status` listed each as not read for 13h. Real cycles against feeds
served on 127.0.0.1; the times are passed in (`monitor status` reads the clock: 13 hours is
far from the half-hour limit)."""

from __future__ import annotations

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
from monitor.domain import Definitions
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from monitor.web import create_app
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.test_digest import parts
from tests.webdata import settings


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


@dataclass(frozen=True)
class Shown:
    page: dict[str, str]  # feed id -> its state in the page's feed table
    top: str  # the page's line about feed problems
    feeds: dict[str, str]  # feed id -> its `state` in /feeds
    healthz: tuple[str, int, list[str]]  # status, feeds.stale, reasons
    metrics: dict[str, int]  # monitor_feeds{state} -> its count
    digest: list[str]  # the digest's feed lines
    status: list[str]  # `monitor status`'s feed lines


def _shown(store: Store, defs: Definitions, now: datetime, env: dict[str, str]) -> Shown:
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    with TestClient(app) as client:
        health = client.get("/healthz").json()
        feeds = {f["id"]: f["state"] for f in client.get("/feeds").json()}
        page = client.get("/").text
        text = client.get("/metrics").text
    metrics = {
        k: int(float(v))
        for k, v in re.findall(r'^monitor_feeds\{state="(\w+)"\} (\S+)', text, re.M)
    }
    rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', page, re.S))
    states = {i: "".join(re.findall(r'class="state ([\w-]+)"', row)) for i, row in rows.items()}
    data = digest_input(defs, store, day=now.date(), now=now, timezone="UTC")
    text, _html = parts(build_digest(data, sender="m@example.org", recipients=["r@example.org"]))
    status = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False).stdout
    return Shown(
        page=states,
        top=" ".join(re.findall(r"\d+ feeds? failing[^—]*", page)).strip(),
        feeds=feeds,
        healthz=(health["status"], health["feeds"]["stale"], health["reasons"]),
        metrics=metrics,
        digest=[_unsince(re.sub(r"\n +", " ", line)) for line in _digest_lines(text)],
        status=[_unsince(line) for line in re.findall(r"^feed [ab]: .*", status, re.M)],
    )


def _digest_lines(text: str) -> list[str]:
    """The digest's lines about feeds a and b, wrapped at 76 (without their links)."""
    return re.findall(r"^\* [ab]: .*(?:\n  (?!http).*)*", text, re.M)


def _unsince(line: str) -> str:
    """A feed problem's line without its `(since …)`, the time of the last read."""
    return re.sub(r" \(since [^)]*\)$", "", line)


def _setup(feed_server: FeedServer, tmp_path: Path, published: datetime) -> Definitions:
    for name in "ab":
        feed_server.route(f"/{name}.xml", body=news.rss(name, [twofeeds.wire(published)]))
    return twofeeds.definitions(tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml"))


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"MONITOR_DATABASE_URL": database_url,
            "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
            "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}  # fmt: skip


def test_feeds_not_read_since_the_daemon_went_down_are_stale_everywhere(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # `monitor status` reads the clock
    read_at = now - timedelta(hours=13)  # the last cycle, before the daemon went down
    defs = _setup(feed_server, tmp_path, read_at - timedelta(hours=1))
    assert run_cycle(twofeeds.context(defs, store, now=read_at), now=read_at).failed == 0

    shown = _shown(store, defs, now, _env(database_url, tmp_path))

    assert shown.page == {"a": "stale", "b": "stale"}  # not the `ok` their last check wrote
    assert shown.top == "2 feeds failing, gone or stale (not read within two check intervals)"
    assert shown.feeds == {"a": "stale", "b": "stale"}
    status, stale, reasons = shown.healthz
    assert (status, stale) == ("stale", 2)  # the cycles stopped: and both feeds counted stale
    assert reasons == [f"the last successful check cycle finished {13 * 3600} s ago"]
    assert shown.metrics == {"ok": 0, "failing": 0, "dead": 0, "stale": 2}
    assert shown.digest == ["* a: no successful fetch for 13h", "* b: no successful fetch for 13h"]
    assert shown.status == ["feed a: no successful fetch for 13h", "feed b: no successful "
                            "fetch for 13h"]  # fmt: skip


def test_one_feed_left_unread_while_the_cycles_run_is_stale_and_healthz_degraded(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    read_at = now - timedelta(hours=13)
    defs = _setup(feed_server, tmp_path, read_at - timedelta(hours=1))
    run_cycle(twofeeds.context(defs, store, now=read_at), now=read_at)
    feed_server.route("/b.xml", status=429, headers={"Retry-After": "600"})  # not failing
    run_cycle(twofeeds.context(defs, store, now=now), now=now)

    shown = _shown(store, defs, now, _env(database_url, tmp_path))

    assert shown.page == {"a": "ok", "b": "stale"}  # not `rate-limited`: unread for 13h
    assert shown.top == "1 feed failing, gone or stale (not read within two check intervals)"
    assert shown.feeds == {"a": "ok", "b": "stale"}
    assert shown.healthz == (
        "degraded",
        1,
        ["1 of 2 feeds stale: not read successfully within two check intervals"],
    )
    assert shown.metrics == {"ok": 1, "failing": 0, "dead": 0, "stale": 1}
    said = "b: no successful fetch for 13h (rate limited: fetch: HTTP 429 (retry after 600s))"
    assert shown.digest == [f"* {said}"]
    assert shown.status == [f"feed {said}"]
