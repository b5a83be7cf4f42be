"""Silent feeds: read at every check, but bringing nothing new (an outlet that gave a feed up
may serve it for ever, or answer 304), so they looked healthy and their indicators `quiet`.
Shown wherever feed health is, changing no status. Time is passed in, never waited for."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.daily import digest_input, feed_problems
from monitor.definitions import load_definitions
from monitor.digest import build_digest
from monitor.domain import Definitions, Entry, Feed
from monitor.pipeline import Context, prepare, run_cycle
from monitor.settings import Settings
from monitor.store import FetchRecord, Store, open_store
from monitor.views import feeds as feeds_answer
from monitor.views import indicator_views
from monitor.web import create_app
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer
from tests.test_daily import feed_state
from tests.test_digest import parts
from tests.webdata import settings

DAY = timedelta(days=1)
INTERVAL = twofeeds.INTERVAL

FEEDS = """\
feeds:
  - {{id: a, url: '{a}', tags: [t]}}
  - {{id: b, url: '{b}', tags: [t]}}
  - id: c
    url: '{c}'
    silent_after: 30d
  - id: d
    url: '{d}'
    silent_after: 0
"""


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


# ---------------------------------------------------------------- the store


def _item(feed_id: str, n: int) -> Entry:
    return Entry(feed_id, f"g{n}", f"https://{feed_id}.example/{n}", f"T{n}", "", None, "x.org")


def test_last_new_at_starts_at_the_first_read_and_moves_only_with_a_new_entry(
    store: Store,
) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    store.sync_feeds([Feed("x", "https://x.example/rss")], now=at)

    def last_new() -> datetime | None:
        (feed,) = store.feeds()
        return feed.last_new_at

    assert last_new() is None  # never read: not silent, it is "never read"
    storeops.record_fetch(store, "x", now=at, ok=True, http_status=200)  # an empty feed
    assert last_new() == at
    storeops.record_fetch(store, "x", now=at + DAY, ok=True, http_status=304)
    storeops.record_fetch(store, "x", now=at + 2 * DAY, ok=False, error="fetch: HTTP 503")
    assert last_new() == at
    storeops.add_entries(store, [_item("x", 1)], now=at + 3 * DAY)
    storeops.record_fetch(store, "x", now=at + 3 * DAY, ok=True, http_status=200)
    assert last_new() == at + 3 * DAY
    assert storeops.add_entries(store, [_item("x", 1)], now=at + 4 * DAY) == []  # seen before
    assert last_new() == at + 3 * DAY
    storeops.add_entries(store, [_item("x", 2)], now=at + 2 * DAY)  # a cycle that began earlier
    assert last_new() == at + 3 * DAY  # never moves back
    store.sync_feeds([Feed("x", "https://x.example/v2/rss")], now=at + 5 * DAY)
    assert last_new() is None  # another URL starts afresh, as its warning does


@pytest.mark.parametrize("seconds", [-1, 1, 86400])
def test_healthz_counts_the_feeds_silent_as_the_feeds_say(store: Store, seconds: int) -> None:
    """The count is made in SQL, the flag in Python (`FeedState.silent_since`): they agree,
    on both sides of the silent time. Failing and gone feeds say that instead; `0` is off."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    feeds = [Feed(i, f"https://{i}.example/rss") for i in ("ok", "down", "gone", "new")]
    feeds.append(Feed("off", "https://off.example/rss", silent_after=timedelta(0)))
    feeds.append(Feed("monthly", "https://m.example/rss", silent_after=timedelta(days=40)))
    store.sync_feeds(feeds, now=at, default_silent_after=timedelta(days=14))
    store.record_fetches(
        [FetchRecord(f.id, at, ok=True, http_status=304) for f in feeds if f.id != "new"]
    )
    later = at + timedelta(days=14)
    storeops.record_fetch(store, "down", now=later, ok=False, error="fetch: HTTP 503")
    storeops.record_fetch(store, "gone", now=later, ok=False, error="HTTP 410", dead=True)
    now = later + timedelta(seconds=seconds)

    silent = [f.id for f in store.feeds() if f.silent_since(now) is not None]

    assert silent == (["ok"] if seconds > 0 else [])
    assert store.feed_counts(now).silent == len(silent)


def test_a_silent_feed_in_the_digest_says_since_which_day_in_the_digest_zone() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    since = datetime(2026, 11, 1, 20, tzinfo=UTC)  # 2 November in Seoul
    two_weeks = timedelta(days=14)
    feeds = [
        feed_state(id="old", last_success_at=now, last_new_at=since, silent_after=two_weeks),
        feed_state(id="both", last_success_at=now, last_new_at=since, silent_after=two_weeks,
                   warning="charset guessed: read as shift_jis; the feed names none"),
        feed_state(id="off", last_success_at=now, last_new_at=since),  # silent_after 0
        feed_state(id="down", last_new_at=since, silent_after=two_weeks,
                   failing_since=now - DAY, last_error="fetch: HTTP 503"),
    ]  # fmt: skip

    problems = {
        p.feed_id: p.problem for p in feed_problems(feeds, now=now, zone=ZoneInfo("Asia/Seoul"))
    }

    assert problems == {
        "old": "no new item since 2026-11-02 (30 days)",
        "both": "no new item since 2026-11-02 (30 days); read with a warning: charset guessed: "
        "read as shift_jis; the feed names none",
        "down": "failing: fetch: HTTP 503",  # failing says more
    }


# ---------------------------------------------------------------- end to end


def _definitions(folder: Path, feed_server: FeedServer) -> Definitions:
    """reads-a, reads-b, reads-both (twofeeds' indicators) over feeds a (answers 304), b (the
    same body, no validators), c (`silent_after: 30d`) and d (`silent_after: 0`)."""
    twofeeds.definitions(folder, "https://unused.example/a", "https://unused.example/b")
    urls = {i: feed_server.url(f"/{i}.xml") for i in "abcd"}
    (folder / "feeds.yaml").write_text(FEEDS.format(**urls))
    return load_definitions(folder / "indicators", folder / "feeds.yaml")


def _serve(feed_server: FeedServer, published: datetime, *, more: bool = False) -> None:
    items = [twofeeds.wire(published)] + ([twofeeds.local(published)] if more else [])
    feed_server.route("/a.xml", body=news.rss("A", items), etag='"a2"' if more else '"a1"')
    feed_server.route("/b.xml", body=news.rss("B", [twofeeds.wire(published)]))
    for i in "cd":
        feed_server.route(f"/{i}.xml", body=news.rss(i, [twofeeds.local(published)]), etag='"1"')


@dataclass(frozen=True)
class Shown:
    """What /feeds, /healthz, /metrics and the page say of silent feeds."""

    silent: list[str]  # /feeds' `silent`
    last_new_at: dict[str, str]  # /feeds' `last_new_at`
    page: dict[str, str]  # the page's note per feed
    states: dict[str, str]  # the page's state per feed
    healthz: tuple[str, int, list[str]]  # status, feeds.silent, reasons
    metric: list[str]  # monitor_feeds_silent
    lede: list[str]  # the page's count at the top


def _shown(store: Store, defs: Definitions, now: datetime) -> Shown:
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    with TestClient(app) as client:
        answer = {f["id"]: f for f in client.get("/feeds").json()}
        health = client.get("/healthz").json()
        metrics = client.get("/metrics").text
        page = client.get("/").text
    rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', page, re.S))
    notes = {i: re.findall(r'<div class="silent">⚠ (.*?)</div>', row) for i, row in rows.items()}
    return Shown(
        silent=sorted(i for i, f in answer.items() if f["silent"]),
        last_new_at={i: f["last_new_at"] for i, f in answer.items()},
        page={i: " | ".join(found) for i, found in notes.items() if found},
        states={i: "".join(re.findall(r'class="state (\w+)"', row)) for i, row in rows.items()},
        healthz=(health["status"], health["feeds"]["silent"], health["reasons"]),
        metric=re.findall(r"^monitor_feeds_silent (\S+)$", metrics, re.M),
        lede=re.findall(r"\d+ feeds? silent", page),
    )


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_feed_that_brings_nothing_new_is_shown_silent_until_it_does(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # `monitor status` reads the clock
    start = now - 15 * DAY
    _serve(feed_server, start - timedelta(hours=1))
    defs = _definitions(tmp_path, feed_server)
    ctx = twofeeds.context(defs, store, now=start)
    first = run_cycle(ctx, now=start)
    assert (first.failed, first.new_entries) == (0, 4)
    statuses = store.current_statuses()

    again = run_cycle(ctx, now=now)  # 15 days on: 304s and the same body

    assert (again.failed, again.not_modified, again.new_entries) == (0, 4, 0)
    assert again.changes == [] and store.current_statuses() == statuses  # no status moved
    shown = _shown(store, defs, now)
    day = f"{start:%Y-%m-%d}"
    assert shown.silent == ["a", "b"]  # c may be silent 30 days, d never is
    assert shown.last_new_at == dict.fromkeys("abcd", _z(start))
    assert shown.page == {"a": f"no new item since {day} (15 days)",
                          "b": f"no new item since {day} (15 days)"}  # fmt: skip
    assert shown.states == {"a": "silent", "b": "silent", "c": "ok", "d": "ok"}
    assert shown.healthz == ("ok", 2, [])  # information: not degraded, no reason
    assert (shown.metric, shown.lede) == (["2.0"], ["2 feeds silent"])
    views = indicator_views(defs, store, now=now)
    assert {v.id: v.silent_feeds for v in views} == {
        "reads-a": ("a",), "reads-b": ("b",), "reads-both": ("a", "b"),
    }  # fmt: skip
    assert "unknown" not in {v.status for v in views}  # silence is not a failure

    data = digest_input(defs, store, day=now.date(), now=now, timezone="UTC")
    text, html = parts(build_digest(data, sender="m@example.org", recipients=["r@example.org"]))
    for feed_id in "ab":
        assert f"* {feed_id}: no new item since {day} (15 days)" in text
        assert f"no new item since {day} (15 days)" in html
    assert "* c:" not in text and "* d:" not in text

    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
           "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}  # fmt: skip
    status = CliRunner().invoke(main, ["status", "--json"], env=env, catch_exceptions=False)
    assert status.exit_code == 0, status.output
    items = {i["id"]: (i["status"], i["silent_feeds"]) for i in json.loads(status.stdout)}
    assert items == {v.id: (v.status, list(v.silent_feeds)) for v in views}
    plain = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False).stdout
    assert f"feed a: no new item since {day} (15 days)\n" in plain

    # A new item in a ends its silence; b stays silent.
    _serve(feed_server, now - timedelta(hours=1), more=True)
    later = now + INTERVAL
    assert run_cycle(ctx, now=later).new_entries == 1
    shown = _shown(store, defs, later)
    assert (shown.silent, shown.healthz[1], shown.metric) == (["b"], 1, ["1.0"])
    assert shown.states["a"] == "ok" and shown.last_new_at["a"] == _z(later)

    # c's own silent_after: silent after 30 days of nothing new, not 14.
    assert [f.id for f in feeds_answer(store, now=start + 29 * DAY) if f.silent] == ["b"]
    assert [f.id for f in feeds_answer(store, now=start + 31 * DAY) if f.silent] == ["a", "b", "c"]


def test_the_setting_0_shows_no_feed_silent_but_those_that_set_silent_after(
    store: Store, tmp_path: Path, feed_server: FeedServer
) -> None:
    now = datetime(2026, 3, 20, tzinfo=UTC)
    _serve(feed_server, now - 40 * DAY)
    defs = _definitions(tmp_path, feed_server)
    ctx = twofeeds.context(defs, store, now=now - 40 * DAY)
    run_cycle(ctx, now=now - 40 * DAY)
    assert [f.id for f in feeds_answer(store, now=now) if f.silent] == ["a", "b", "c"]

    off = Settings(_env_file=None, feed_silent_after="0")  # type: ignore[call-arg]
    prepare(Context.from_settings(off, defs, store, owner="t"), now=now)  # a daemon's start

    assert [f.id for f in feeds_answer(store, now=now) if f.silent] == ["c"]
    assert store.feed_counts(now).silent == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "silent_after: not a duration: 'soon' (use e.g. 90s, 15m, 2h, 30d, 1w)"),
        ("-3d", "silent_after: not a duration: '-3d' (use e.g. 90s, 15m, 2h, 30d, 1w)"),
        ("4000d", "silent_after: too long: '4000d' (at most 3650d, ten years)"),
        ("[30d]", "silent_after must be text"),
        ("''", "silent_after must not be empty"),
    ],
)
def test_a_malformed_silent_after_is_an_error_at_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    twofeeds.definitions(tmp_path, "https://a.example/rss", "https://b.example/rss")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n  - id: a\n    url: https://a.example/rss\n    tags: [t]\n"
        f"  - id: b\n    url: https://b.example/rss\n    silent_after: {value}\n"
    )
    env = {"MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
           "MONITOR_FEEDS_FILE": str(feeds)}  # fmt: skip

    result = CliRunner().invoke(main, ["validate"], env=env)

    assert result.exit_code == 1
    assert f"{feeds}:7: {message}" in result.output


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", timedelta(0)), ("30d", timedelta(days=30)), ("1w", timedelta(weeks=1))],
)
def test_the_setting_takes_a_duration_or_0(value: str, expected: timedelta) -> None:
    assert Settings(_env_file=None, feed_silent_after=value).feed_silent_after == expected  # type: ignore[call-arg]


def test_a_malformed_setting_says_what_it_expects() -> None:
    with pytest.raises(ValueError, match=r"'soon' is not a duration \(e\.g\. 14d, 3w; 0: off\)"):
        Settings(_env_file=None, feed_silent_after="soon")  # type: ignore[call-arg]
