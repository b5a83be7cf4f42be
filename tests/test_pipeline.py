"""One check cycle end to end: feeds served on 127.0.0.1, the shipped indicators, a SQLite file."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Feed
from monitor.feedreads import known_again
from monitor.fetch import GONE_RETRY
from monitor.parse import ENDS_EARLY
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import DueFeed, Store, open_store
from monitor.views import indicator_views
from monitor.web import create_app
from tests import news, twofeeds
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.webdata import settings

NOW = datetime.now(UTC).replace(microsecond=0)
INTERVAL = twofeeds.INTERVAL  # the check interval of `context`
ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip


@pytest.fixture
def shipped() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


@pytest.fixture
def store(database_url: str) -> Store:
    with open_store(database_url) as s:
        yield s


def context(shipped: Definitions, store: Store, feeds: list[Feed]) -> Context:
    """The shipped indicators over `feeds`, prepared at NOW."""
    definitions = Definitions(shipped.indicators, tuple(feeds), shipped.hash)
    return twofeeds.context(definitions, store, now=NOW)


def serve_news(feed_server: FeedServer) -> list[Feed]:
    feed_server.route("/yonhap.xml", body=news.yonhap(NOW - timedelta(days=1)), etag='"y1"')
    feed_server.route("/herald.xml", body=news.herald(NOW - timedelta(days=1)), etag='"h1"')
    return [
        Feed("yonhap", feed_server.url("/yonhap.xml"), ALL_TAGS),
        Feed("herald", feed_server.url("/herald.xml"), ALL_TAGS),
    ]


def test_a_cycle_records_each_status_change_once(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    ctx = context(shipped, store, serve_news(feed_server))

    report = run_cycle(ctx, now=NOW)

    assert (report.feeds_checked, report.failed, report.new_entries) == (2, 0, 5)
    changed = {c.indicator_id: (c.old_status, c.new_status) for c in report.changes}
    assert changed == {
        # two publishers, two different stories (before the first read nothing was known)
        "visa-easing": ("unknown", "eased:confirmed"),
        # one story syndicated by a second publisher counts once: still one source
        "flight-routes": ("unknown", "expanded:reported"),
    }  # the others are quiet now: their first reading is no change
    assert {s for s, _since in store.current_statuses().values()} == {
        "eased:confirmed", "expanded:reported", "quiet",
    }  # fmt: skip
    visa = next(c for c in report.changes if c.indicator_id == "visa-easing")
    assert {e.publisher for e in visa.evidence} == {"yna.co.kr", "koreaherald.com"}
    assert all(e.terms and e.snippet for e in visa.evidence)
    assert visa.definition_hash == shipped.indicator("visa-easing").hash

    again = run_cycle(ctx, now=NOW + INTERVAL)

    assert again.feeds_checked == 2 and again.not_modified == 2 and again.changes == []
    assert feed_server.last("/yonhap.xml").headers["if-none-match"] == '"y1"'
    assert len(store.history("visa-easing")) == 1
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"


def test_a_feed_whose_body_did_not_change_is_not_parsed_again(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    feed_server.route("/plain.xml", body=news.yonhap(NOW))  # no validators at all
    ctx = context(shipped, store, [Feed("plain", feed_server.url("/plain.xml"), ALL_TAGS)])

    first = run_cycle(ctx, now=NOW)
    second = run_cycle(ctx, now=NOW + INTERVAL)

    assert first.new_entries == 3
    assert (second.feeds_checked, second.not_modified, second.new_entries) == (1, 1, 0)


def test_a_broken_feed_never_stops_the_cycle(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    feeds = serve_news(feed_server)
    feed_server.route("/html.xml", body=b"<html><body><p>Not a feed</p></body></html>",
                      headers={"Content-Type": "text/html"})  # fmt: skip
    feed_server.route("/down.xml", status=500, body=b"oops")
    feeds += [
        Feed("html", feed_server.url("/html.xml"), ALL_TAGS),
        Feed("down", feed_server.url("/down.xml"), ALL_TAGS),
        Feed("nowhere", "http://127.0.0.1:9/feed.xml", ALL_TAGS),  # nothing listens on port 9
    ]
    ctx = context(shipped, store, feeds)

    report = run_cycle(ctx, now=NOW)

    assert (report.feeds_checked, report.failed, report.new_entries) == (5, 3, 5)
    states = {f.id: f for f in store.feeds()}
    assert "not a feed" in states["html"].last_error
    assert states["down"].http_status == 500 and states["down"].error_count == 1
    assert states["nowhere"].last_error.startswith("fetch: ")
    assert states["down"].next_check_at == NOW + INTERVAL  # back-off starts at one interval
    assert {c.indicator_id for c in report.changes} == {"visa-easing", "flight-routes"}


def test_an_ill_formed_but_readable_feed_is_stored_and_its_fault_kept(
    feed_server: FeedServer, shipped: Definitions, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # An unescaped "&" and no closing tags for the channel and the feed: expat gives up,
    # feedparser's loose parser reads it (an item cut off in its title would be left out).
    sloppy = b"<item><title>A & B</title></item>"
    body = news.yonhap(NOW - timedelta(days=1)).replace(b"</channel></rss>", sloppy)
    feed_server.route("/sloppy.xml", body=body)
    ctx = context(shipped, store, [Feed("sloppy", feed_server.url("/sloppy.xml"), ALL_TAGS)])

    with caplog.at_level("WARNING", logger="monitor.pipeline"):
        report = run_cycle(ctx, now=NOW)

    assert (report.failed, report.new_entries) == (0, 4)
    warning = "line 20, column 16: not well-formed (invalid token)"  # as expat says
    assert f"feed sloppy was read with a warning: {warning}" in caplog.text
    (state,) = store.feeds()
    assert state.last_error == "" and state.error_count == 0  # readable: not a failure
    assert state.warning == warning  # kept with the feed, not only logged


JAPANESE = "日本政府、中国人観光客向けのビザ発給要件を緩和すると発表した"


def _cms(published: datetime, *, one_guid: bool) -> bytes:
    """A CMS's feed of three stories; `one_guid`: under the guid of the first (a known fault)."""
    items = [
        news.Item(title, f"https://cms.example/{n}", published, guid="s1" if one_guid else f"s{n}")
        for n, title in enumerate([news.VISA_YONHAP, news.FLIGHTS, news.GENERAL], start=1)
    ]
    return news.rss("CMS", items)


def _tokyo(*, declared: bool) -> bytes:
    """A Japanese feed in Shift_JIS: `declared` says so in its XML declaration."""
    head = '<?xml version="1.0" encoding="shift_jis"?>' if declared else ""
    item = f"<item><title>{JAPANESE}</title><link>https://tokyo.example/1</link></item>"
    return (head + f'<rss version="2.0"><channel><title>T</title>{item}</channel></rss>').encode(
        "shift_jis"
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_feed_read_with_a_warning_says_so_in_feeds_until_a_clean_read(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    """Readable but not right: the warning was only logged, and both feeds looked healthy in
    /feeds and on the page, one giving three stories one guid (each stored, told apart by
    headline alone), the other read in a guessed charset. It is information: the feeds were
    read, so the statuses stand as they would."""
    yesterday = NOW - timedelta(days=1)
    feed_server.route("/cms.xml", body=_cms(yesterday, one_guid=True), etag='"c1"')
    feed_server.route("/tokyo.xml", body=_tokyo(declared=False),
                      headers={"Content-Type": "text/xml"})  # fmt: skip
    feeds = [Feed("cms", feed_server.url("/cms.xml"), ALL_TAGS),
             Feed("tokyo", feed_server.url("/tokyo.xml"), ALL_TAGS)]  # fmt: skip
    ctx = context(shipped, store, feeds)
    clock = [NOW]
    app = create_app(store=store, definitions=lambda: ctx.definitions, settings=settings(),
                     clock=lambda: clock[0])  # fmt: skip

    def shown() -> dict[str, str]:
        with TestClient(app) as client:
            warnings = {f["id"]: f["warning"] for f in client.get("/feeds").json()}
            page = client.get("/").text
            healthz = client.get("/healthz").json()
        rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', page, re.S))
        for feed_id, warning in warnings.items():
            shown = f'<div class="warn">⚠ <span dir="auto">{warning}</span></div>'
            assert (shown in rows[feed_id]) == bool(warning)
        assert healthz["feeds"]["with_warning"] == sum(map(bool, warnings.values()))
        assert healthz["feeds"]["failing"] == 0
        return warnings

    shared = (
        "2 items share the guid of an earlier one: stored as stories of their own, told "
        "apart by headline"
    )
    guessed = "charset guessed: read as shift_jis; the feed names none"
    report = run_cycle(ctx, now=NOW)
    assert (report.failed, report.new_entries) == (0, 4)  # the CMS's three stories, one more
    assert shown() == {"cms": shared, "tokyo": guessed}
    statuses = {i: s for i, (s, _since) in store.current_statuses().items()}
    assert "unknown" not in statuses.values()  # quiet is still supported

    # A 304 and an unchanged body are not read again: what was found in them stands.
    clock[0] = NOW + INTERVAL
    report = run_cycle(ctx, now=NOW + INTERVAL)
    assert (report.feeds_checked, report.not_modified) == (2, 2)
    assert shown() == {"cms": shared, "tokyo": guessed}

    feed_server.route("/cms.xml", body=_cms(yesterday, one_guid=False), etag='"c2"')
    feed_server.route("/tokyo.xml", body=_tokyo(declared=True),
                      headers={"Content-Type": "text/xml"})  # fmt: skip
    clock[0] = NOW + 2 * INTERVAL
    report = run_cycle(ctx, now=NOW + 2 * INTERVAL)
    # Two stories under guids of their own now: the entries stored under s1 (their links,
    # headlines and texts), not news again; the feed says so while it carries them.
    assert (report.failed, report.not_modified, report.new_entries) == (0, 0, 0)
    assert shown() == {"cms": known_again("guid", 2), "tokyo": ""}


def test_a_body_cut_off_mid_item_stores_the_whole_items_and_the_cut_one_when_read_in_full(
    feed_server: FeedServer, shipped: Definitions, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Each item's guid comes first; the connection drops in the third item after its guid.
    published = NOW - timedelta(days=1)
    titles = [news.VISA_YONHAP, news.FLIGHTS, news.GENERAL]
    items = "".join(
        f"<item><guid>yna-{n}</guid><title>{title}</title>"
        f"<link>https://en.yna.co.kr/view/AEN{n}</link>"
        f"<pubDate>{format_datetime(published)}</pubDate></item>"
        for n, title in enumerate(titles)
    )
    full = f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>".encode()
    feed_server.route("/cut.xml", body=full[: full.index(b"<title>Seoul")], close_delimited=True)
    ctx = context(shipped, store, [Feed("cut", feed_server.url("/cut.xml"), ALL_TAGS)])

    with caplog.at_level("WARNING", logger="monitor.pipeline"):
        first = run_cycle(ctx, now=NOW)

    assert (first.failed, first.new_entries) == (0, 2)
    assert f"{ENDS_EARLY}" in caplog.text
    feed_server.route("/cut.xml", body=full)  # read in full: the third story is news
    assert run_cycle(ctx, now=NOW + INTERVAL).new_entries == 1
    stored = store.entries_since(NOW - timedelta(days=30))
    assert sorted(e.title for _id, e, _seen in stored) == sorted(titles)


def test_an_item_cut_off_in_its_text_is_stored_whole_when_the_feed_is_next_fetched_in_full(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    # The connection drops in the third item's description, after its title: only its text
    # says that visas were eased. Its validators would have the next check answered 304.
    published = format_datetime(NOW - timedelta(days=1))
    stories = [
        (news.VISA_YONHAP, "Yonhap reports the decision."),
        (news.FLIGHTS, "Flights resume next month."),
        (news.GENERAL, "Separately, South Korea launches visa-free entry for Chinese tour groups."),
    ]
    items = "".join(
        f"<item><guid>yna-{n}</guid><title>{title}</title>"
        f"<link>https://en.yna.co.kr/view/AEN{n}</link><pubDate>{published}</pubDate>"
        f"<description>{text}</description></item>"
        for n, (title, text) in enumerate(stories)
    )
    full = f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>".encode()
    validators = {"etag": '"v1"', "last_modified": "Mon, 05 Jan 2026 00:00:00 GMT"}
    cut = full[: full.index(b"launches visa-free")]
    feed_server.route("/cut.xml", body=cut, close_delimited=True, **validators)
    ctx = context(shipped, store, [Feed("cut", feed_server.url("/cut.xml"), ALL_TAGS)])

    first = run_cycle(ctx, now=NOW)

    assert (first.failed, first.new_entries) == (0, 2)  # read: not a failure
    assert titles_stored(store) == [news.VISA_YONHAP, news.FLIGHTS]  # not the cut one
    (state,) = store.feeds()
    assert state.last_error == "" and state.warning.endswith(ENDS_EARLY)

    feed_server.route("/cut.xml", body=full, **validators)  # the same version, whole
    second = run_cycle(ctx, now=NOW + INTERVAL)

    sent = feed_server.last("/cut.xml").headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent
    assert (second.not_modified, second.new_entries) == (0, 1)
    third = next(e for _id, e, _seen in store.entries_since(NOW - timedelta(days=30))
                 if e.guid == "yna-2")  # fmt: skip
    assert (third.title, third.text) == stories[2]
    # Its text, not its title, matches a rule: stored without it, the story would be missed.
    assert second.matches == len(ctx.matcher.match(third)) >= 1
    assert not ctx.matcher.match(replace(third, text=""))
    (state,) = store.feeds()
    assert state.warning == ""  # read whole: cleared

    # Read whole, its validators are kept: the next check is answered 304.
    assert run_cycle(ctx, now=NOW + 2 * INTERVAL).not_modified == 1
    assert feed_server.last("/cut.xml").headers["if-none-match"] == '"v1"'


def test_a_cut_body_served_again_is_read_again_not_taken_as_unchanged(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    # No ETag, no Last-Modified: the body's hash is the only validator, and it is not kept.
    body = news.yonhap(NOW - timedelta(days=1))
    feed_server.route("/cut.xml", body=body[: body.rindex(b"<pubDate>")], close_delimited=True)
    ctx = context(shipped, store, [Feed("cut", feed_server.url("/cut.xml"), ALL_TAGS)])

    assert run_cycle(ctx, now=NOW).new_entries == 2
    again = run_cycle(ctx, now=NOW + INTERVAL)  # the same bytes

    assert (again.feeds_checked, again.not_modified, again.failed) == (1, 0, 0)
    (state,) = store.feeds()
    assert state.warning.endswith(ENDS_EARLY)  # read again, and cut again


def titles_stored(store: Store) -> list[str]:
    stored = store.entries_since(NOW - timedelta(days=30))
    return sorted(e.title for _id, e, _seen in stored)


def test_a_story_under_the_guid_of_an_entry_retention_deleted_is_news(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    old = NOW - timedelta(days=400)
    stocks = news.Item(news.GENERAL, "https://en.yna.co.kr/view/AEN3", old, guid="yna-3")
    won = news.Item("Won weakens against the dollar", "https://en.yna.co.kr/view/AEN4", old,
                    guid="yna-4")  # fmt: skip
    feed_server.route("/yna.xml", body=news.rss("Yonhap", [stocks, won]))
    ctx = context(shipped, store, [Feed("yonhap", feed_server.url("/yna.xml"), ALL_TAGS)])
    assert run_cycle(ctx, now=NOW).new_entries == 2
    later = NOW + INTERVAL  # retention deletes both (nothing matched them)
    assert store.prune(now=later, before=later, matched_before=later, buckets=()).entries == 2
    # The feed still carries the stocks story; its CMS put a story of today under yna-4.
    visa = news.Item(news.VISA_YONHAP, "https://en.yna.co.kr/view/AEN5", later, guid="yna-4")
    feed_server.route("/yna.xml", body=news.rss("Yonhap", [stocks, visa]))

    report = run_cycle(ctx, now=later)

    assert report.new_entries == 1
    assert [(c.indicator_id, c.new_status) for c in report.changes] == [
        ("visa-easing", "eased:reported")
    ]


def test_an_indicator_whose_feeds_were_never_read_is_unknown_from_the_start(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    feed_server.route("/down.xml", status=503, body=b"")
    ctx = context(shipped, store, [Feed("down", feed_server.url("/down.xml"), ALL_TAGS)])
    ids = {i.id for i in shipped.indicators}

    assert {i: s for i, (s, _) in store.current_statuses().items()} == dict.fromkeys(ids, "unknown")
    first = run_cycle(ctx, now=NOW)  # fails within seconds: still nothing read

    assert first.failed == 1 and first.changes == []
    assert {s for s, _since in store.current_statuses().values()} == {"unknown"}
    [view] = [v for v in indicator_views(ctx.definitions, store, now=NOW) if v.id == "visa-easing"]
    assert view.status == "unknown"
    assert view.reason == "feeds not read: down: never read (fetch: HTTP 503 Service Unavailable)"


def test_feeds_failing_for_two_intervals_make_a_change_to_unknown_with_its_reason(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    ctx = context(shipped, store, serve_news(feed_server))
    run_cycle(ctx, now=NOW)
    feed_server.route("/yonhap.xml", status=503, body=b"")
    feed_server.route("/herald.xml", status=503, body=b"")

    early = run_cycle(ctx, now=NOW + INTERVAL)  # failing for under two intervals: not yet
    late = run_cycle(ctx, now=NOW + 3 * INTERVAL)

    assert early.changes == []
    assert {c.new_status for c in late.changes} == {"unknown"}
    assert len(late.changes) == len(shipped.indicators)
    visa = next(c for c in late.changes if c.indicator_id == "visa-easing")
    since = (NOW + INTERVAL).strftime("%Y-%m-%d %H:%M")
    assert visa.old_status == "eased:confirmed"
    assert visa.reason == (
        f"feeds not read: yonhap: failing since {since} UTC (fetch: HTTP 503 Service Unavailable);"
        f" herald: failing since {since} UTC (fetch: HTTP 503 Service Unavailable)"
    )
    assert store.history("visa-easing")[0].reason == visa.reason


def test_after_a_restart_the_status_reflects_stored_feed_health_at_once(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    ctx = context(shipped, store, serve_news(feed_server))
    run_cycle(ctx, now=NOW)
    feed_server.route("/yonhap.xml", status=503, body=b"")
    feed_server.route("/herald.xml", status=503, body=b"")
    run_cycle(ctx, now=NOW + INTERVAL)  # both fail; then the daemon is down for hours

    changes = prepare(ctx, now=NOW + 5 * INTERVAL)  # start-up: no cycle, nothing due yet

    assert {c.new_status for c in changes} == {"unknown"}
    assert {s for s, _since in store.current_statuses().values()} == {"unknown"}


def test_a_gone_feed_is_marked_dead_and_tried_again_once_a_day(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    """Not at the back-off cap (6 h) as a failing feed is: once a GONE_RETRY (a day); see
    test_gone_feeds for what brings it back."""
    feed_server.route("/gone.xml", status=410, body=b"")
    ctx = context(shipped, store, [Feed("gone", feed_server.url("/gone.xml"), ALL_TAGS)])

    run_cycle(ctx, now=NOW)
    run_cycle(ctx, now=NOW + ctx.max_backoff)
    assert feed_server.hits("/gone.xml") == 1

    run_cycle(ctx, now=NOW + GONE_RETRY)
    assert feed_server.hits("/gone.xml") == 2
    assert store.feeds()[0].dead and store.feeds()[0].next_check_at == NOW + 2 * GONE_RETRY


def test_monitor_check_twice_over_the_same_news_records_nothing_new(
    feed_server: FeedServer, tmp_path: Path, database_url: str
) -> None:
    feed_server.route("/yonhap.xml", body=news.yonhap(datetime.now(UTC)), etag='"y1"')
    feed_server.route("/herald.xml", body=news.herald(datetime.now(UTC)))
    feeds_file = tmp_path / "feeds.yaml"
    tags = ", ".join(ALL_TAGS)
    feeds_file.write_text(
        "feeds:\n"
        + "".join(
            f"  - {{id: {name}, url: '{feed_server.url(f'/{name}.xml')}', tags: [{tags}]}}\n"
            for name in ("yonhap", "herald")
        )
    )
    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_FEEDS_FILE": str(feeds_file),
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_CHECK_INTERVAL": "0s",  # every feed is due at every check
    }
    runner = CliRunner()

    first = runner.invoke(main, ["check"], env=env)
    second = runner.invoke(main, ["check"], env=env)
    status = runner.invoke(main, ["status", "--json"], env=env)

    assert first.exit_code == 0, first.output
    assert "visa-easing: unknown -> eased:confirmed" in first.stdout
    assert "flight-routes: unknown -> expanded:reported" in first.stdout
    assert second.exit_code == 0 and second.stdout == ""
    assert "2 feeds checked" in second.stderr

    items = {i["id"]: i for i in json.loads(status.stdout)}
    assert items["visa-easing"]["status"] == "eased:confirmed"
    assert set(items) == {p.stem for p in (ROOT / "indicators").glob("*.yaml")}


def test_feeds_are_claimed_in_batches_each_leased_from_its_claim(
    shipped: Definitions, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from monitor import feedreads
    from monitor.fetch import FeedRequest, FetchResult, FetchStatus

    monkeypatch.setattr(feedreads, "CLAIM_BATCH", 2)
    feeds = [Feed(f"f{n}", f"http://127.0.0.1:9/{n}.xml", ALL_TAGS) for n in range(5)]
    fetched: list[list[str]] = []

    def fetcher(requests: Sequence[FeedRequest]) -> list[FetchResult]:
        fetched.append([r.feed_id for r in requests])
        return [FetchResult(r.feed_id, r.url, FetchStatus.NOT_MODIFIED, 304) for r in requests]

    looks: list[datetime] = []

    def clock() -> datetime:  # a minute later at each look
        looks.append(NOW + timedelta(minutes=len(looks)))
        return looks[-1]

    leases: list[tuple[datetime, datetime]] = []  # (lease, the last look before the claim)
    claim = store.due_feeds

    def spy(*args: object, **kwargs: object) -> list[DueFeed]:
        due = claim(*args, **kwargs)  # type: ignore[arg-type]
        leases.extend((f.lease_until, looks[-1]) for f in due)
        return due

    monkeypatch.setattr(store, "due_feeds", spy)
    # A day's deadline: these cycles are long on purpose. Two fetches at once: PostgreSQL's
    # claims are of one such window (SHARED_CLAIM), SQLite's of CLAIM_BATCH.
    ctx = replace(context(shipped, store, feeds), fetcher=fetcher, cycle_deadline=timedelta(days=1))
    ctx = replace(ctx, limits=replace(ctx.limits, concurrency=2))
    monkeypatch.setattr(feedreads, "SHARED_CLAIM", 1)

    report = run_cycle(ctx, now=NOW, clock=clock)

    assert report.feeds_checked == 5 and report.not_modified == 5
    assert fetched == [["f0", "f1"], ["f2", "f3"], ["f4"]]
    # Each batch is leased for a whole lease from the moment it is claimed.
    assert [until - looked for until, looked in leases] == [ctx.lease] * 5
    assert leases[2][0] > leases[0][0] and leases[4][0] > leases[2][0]
    assert run_cycle(ctx, now=NOW, clock=clock).feeds_checked == 0


def test_a_feed_checked_late_in_a_long_cycle_waits_its_interval_from_that_check(
    shipped: Definitions, store: Store
) -> None:
    from dataclasses import replace

    from monitor.fetch import FeedRequest, FetchResult, FetchStatus

    feeds = [Feed(f"f{n}", f"http://127.0.0.1:9/{n}.xml", ALL_TAGS) for n in range(3)]
    fetched: list[str] = []

    def fetcher(requests: Sequence[FeedRequest]) -> list[FetchResult]:
        fetched.extend(r.feed_id for r in requests)
        return [FetchResult(r.feed_id, r.url, FetchStatus.NOT_MODIFIED, 304) for r in requests]

    # A day's deadline: these cycles are long on purpose.
    ctx = replace(context(shipped, store, feeds), fetcher=fetcher, cycle_deadline=timedelta(days=1))
    # A slow cycle: every look at the clock finds it 10 minutes later (the interval is 15).
    ticks = iter(NOW + timedelta(minutes=10 * n) for n in range(100))
    run_cycle(ctx, now=NOW, clock=lambda: next(ticks))
    checked = {f.id: f.last_checked_at for f in store.feeds()}
    assert all(at is not None and at > NOW for at in checked.values())
    assert all(f.next_check_at == checked[f.id] + INTERVAL for f in store.feeds())

    # A cycle that began one interval after the slow one (another daemon's, which claims as
    # the slow one checks) finds nothing checked in it due again.
    fetched.clear()
    later, current = NOW + INTERVAL, max(checked.values())  # type: ignore[type-var]
    assert run_cycle(ctx, now=later, clock=lambda: current).feeds_checked == 0
    assert fetched == []


def test_a_feed_keeps_the_title_the_feeds_file_gives_it(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    """A feed's own <title> names it on the page and in the digest only when the feeds file
    gives it none: the configured one is never replaced (it was, until the feed was unchanged)."""
    yonhap, herald = serve_news(feed_server)
    ctx = context(shipped, store, [yonhap, replace(herald, title="The Korea Herald (EN)")])

    run_cycle(ctx, now=NOW)
    feed_server.route("/herald.xml", body=news.herald(NOW), etag='"h2"')  # a new body
    run_cycle(ctx, now=NOW + timedelta(hours=1))

    titles = {f.id: f.title for f in store.feeds()}
    assert titles["herald"] == "The Korea Herald (EN)"
    assert titles["yonhap"] == "Yonhap"  # its own <title>: the feeds file names it not


def test_a_feed_keeps_its_own_title_across_a_reload_while_it_is_unchanged(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    """A feed the feeds file gives no title is named by its own <title>: a reload (an edit,
    SIGHUP) or a daemon's start syncs the feeds file again, and its title is kept while the feed
    answers 304 (it was wiped, and the page, the digest and /feeds showed the id instead until
    the feed's body changed; with several daemons each start did so). A title the feeds file
    gives later names it at once."""
    yonhap, herald = serve_news(feed_server)
    ctx = context(shipped, store, [yonhap, herald])
    run_cycle(ctx, now=NOW)
    assert {f.id: f.title for f in store.feeds()}["yonhap"] == "Yonhap"

    later = NOW + timedelta(hours=1)
    prepare(ctx, now=later)  # the definitions reloaded, or another daemon started
    report = run_cycle(ctx, now=later)

    assert report.feeds_checked == 2 and report.not_modified == 2
    assert {f.id: f.title for f in store.feeds()}["yonhap"] == "Yonhap"
    titled = context(shipped, store, [replace(yonhap, title="Yonhap (EN)"), herald])
    prepare(titled, now=later)
    assert {f.id: f.title for f in store.feeds()}["yonhap"] == "Yonhap (EN)"


def test_a_permanent_redirect_to_a_page_that_is_no_feed_is_not_remembered(
    feed_server: FeedServer, shipped: Definitions, store: Store
) -> None:
    """Outlets retire a feed by redirecting it to their home page: the feed failed, and once the
    feed is back at its address it is read there (it stayed at the page for good)."""
    feed_server.redirect("/old.xml", "/home.html", status=301)
    feed_server.route("/home.html", body=b"<html><body>Home</body></html>",
                      headers={"Content-Type": "text/html"})  # fmt: skip
    ctx = context(shipped, store, [Feed("old", feed_server.url("/old.xml"), ALL_TAGS)])

    run_cycle(ctx, now=NOW)
    [failed] = store.feeds()
    feed_server.route("/old.xml", body=news.yonhap(NOW), etag='"y1"')
    run_cycle(ctx, now=NOW + timedelta(days=1))

    assert failed.moved_to is None and "not a feed" in failed.last_error
    [read] = store.feeds()
    assert read.last_error == "" and read.moved_to is None
    assert feed_server.hits("/old.xml") == 2 and feed_server.hits("/home.html") == 1
