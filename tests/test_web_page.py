"""The status page: what a person reads, and that nothing a feed says can run in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor import views, web
from monitor.digest import DigestInput, render
from monitor.domain import Definitions, StatusChange
from monitor.page import ago, highlight, web_url
from monitor.pipeline import prepare
from monitor.store import Cycle, Store, open_store
from monitor.timeline import timeline
from monitor.webmodels import IndicatorView
from tests import storeops, webdata
from tests.webdata import HOSTILE_TITLE, NOW

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


# ---------------------------------------------------------------- the index


def test_the_page_shows_every_indicator_by_group_with_status(
    client: TestClient, defs: Definitions
) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    for indicator in defs.indicators:
        card = re.search(
            rf'<article class="card indicator" id="{indicator.id}".*?</article>', html, re.S
        )
        assert card, indicator.id
        assert indicator.title in card.group(0)
        assert f'href="/indicators/{indicator.id}/page"' in card.group(0)
    assert 'data-status="eased:confirmed"' in html
    assert 'data-status="expanded:reported"' in html
    groups = re.findall(
        r'<h2><span class="kicker"[^>]*>What to watch</span><span.*?>(.*?)</span></h2>', html
    )
    assert groups == ["Business", "Travel and cultural exchange", "North Korea"]  # as defined
    assert html.index("Feed health") > html.index("Visa easing")


def test_evidence_shows_headline_publisher_date_link_and_marked_terms(client: TestClient) -> None:
    html = client.get("/").text
    card = re.search(r'id="visa-easing".*?</article>', html, re.S).group(0)  # type: ignore[union-attr]

    assert (
        '<a href="https://www.koreaherald.com/article/1" rel="noopener noreferrer nofollow">'
        "South <mark>Korea</mark> launches <mark>visa-free</mark> entry for "
        "<mark>Chinese</mark> tour groups</a>"
    ) in card
    published = (NOW - timedelta(days=2)).strftime("%Y-%m-%d")
    assert f'<span dir="auto">koreaherald.com</span> · {published}' in card
    assert "<mark>visa-free</mark>" in card
    assert "<mark>Chinese</mark>" in card
    assert '<svg class="timeline"' in card
    assert "since " + (NOW - timedelta(days=2)).strftime("%Y-%m-%d %H:%M UTC") in card


def test_feed_health_is_at_the_bottom(client: TestClient) -> None:
    html = client.get("/").text
    rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', html, re.S))

    assert set(rows) == {"yonhap", "herald", "gone"}
    assert '<td class="state dead">dead</td>' in rows["gone"]
    assert "410" in rows["gone"]
    assert "fetch: HTTP 410 Gone &lt;b&gt;bold&lt;/b&gt;" in rows["gone"]
    assert "(not modified)" in rows["herald"]
    assert "Korea &lt;b&gt;Herald&lt;/b&gt;" in rows["herald"]
    assert "1 feed failing, gone or stale" in html
    assert "read with a warning" not in html and 'class="warn"' not in html


def test_a_feed_read_with_a_warning_says_so_in_feed_health(
    client: TestClient, store: Store
) -> None:
    """Information next to the feed, still `ok`; a server chooses part of it (the media type
    feedparser names): escaped like any feed text."""
    hostile = "text/html<script>alert(5)</script> is not an XML media type"
    storeops.record_fetch(store, "yonhap", now=NOW, ok=True, http_status=200, warning=hostile)
    html = client.get("/").text
    rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', html, re.S))

    assert '<td class="state ok">ok</td>' in rows["yonhap"]
    shown = "text/html&lt;script&gt;alert(5)&lt;/script&gt; is not an XML media type"
    assert f'<div class="warn">⚠ <span dir="auto">{shown}</span></div>' in rows["yonhap"]
    assert "<script>alert(5)" not in html
    assert "1 feed failing, gone or stale" in html and "1 feed read with a warning" in html


def test_a_cycle_that_checked_no_feed_is_not_the_last_check(
    client: TestClient, store: Store
) -> None:
    """A daemon restarted after `kill -9` of one on another host: its cycles find the due feeds
    leased by the dead one and check none. The page does not say "Last check just now", and a
    due feed's next check is not a time in the past; /healthz tells the two times apart, and
    /feeds says what the page says: due, and held by whom until when."""
    at, past = NOW - timedelta(minutes=5), NOW - timedelta(minutes=2)
    for feed_id in ("yonhap", "herald"):  # checked 5 minutes ago, due 2 minutes ago
        storeops.record_fetch(store, feed_id, now=at, ok=True, http_status=200, next_check_at=past)
    dead = "web1:4242:987654@0123456789ab"
    lease = timedelta(minutes=5)
    claimed = store.due_feeds(NOW - timedelta(minutes=1), owner=dead, lease=lease,
                              skip=["gone", "herald"])  # fmt: skip
    assert [f.id for f in claimed] == ["yonhap"]
    store.record_cycle(Cycle(NOW - timedelta(seconds=30), NOW - timedelta(seconds=20)))  # none

    html = client.get("/").text
    lede = " ".join(re.search(r'<p class="lede">(.*?)</p>', html, re.S).group(1).split())
    rows = dict(re.findall(r'<tr data-feed="([^"]+)">(.*?)</tr>', html, re.S))
    health = client.get("/healthz").json()
    feeds = {f["id"]: f for f in client.get("/feeds").json()}

    assert lede.startswith("Last check 5 minutes ago (")
    assert "just now (" not in lede
    assert "1 due feed held by a lease, and the latest cycle (just now) checked none" in lede
    zone = webdata.settings().zone  # as every time on the page: the day and the zone's name
    until = (NOW + timedelta(minutes=4)).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    assert f"<td>due — held by web1:4242 until {until}</td>" in rows["yonhap"]
    assert "<td>due</td>" in rows["herald"]  # its time has passed: not shown as a past time
    shown_past = past.astimezone(webdata.settings().zone).strftime("%Y-%m-%d %H:%M")
    assert shown_past not in rows["yonhap"] + rows["herald"]
    ends = (NOW + timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    held = {k: feeds["yonhap"][k] for k in ("due", "held_by", "held_until")}
    assert held == {"due": True, "held_by": "web1:4242", "held_until": ends}
    assert [feeds["herald"][k] for k in ("due", "held_by", "held_until")] == [True, None, None]
    cycled, checked = (datetime.fromisoformat(health[k]) for k in ("last_successful_cycle",
                                                                     "last_check"))  # fmt: skip
    assert cycled == NOW - timedelta(seconds=20)
    # webdata's cycle that read 3, to the whole second as every time in JSON
    assert checked == (NOW - timedelta(minutes=5, seconds=-3.4)).replace(microsecond=0)


def test_the_indicator_page_has_its_full_history(client: TestClient) -> None:
    response = client.get("/indicators/visa-easing/page")

    assert response.status_code == 200
    html = response.text
    assert '<h1 dir="auto">Visa easing between China and South Korea</h1>' in html
    statuses = re.findall(
        r'class="change" id="change-\d+">.*?data-status="([^"]+)".*?data-status="([^"]+)"',
        html,
        re.S,
    )
    assert statuses == [("eased:reported", "eased:confirmed"), ("quiet", "eased:reported")]
    assert 'href="/"' in html


def test_the_indicator_page_pages_its_history(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "HISTORY_LIMIT", 1)

    first = client.get("/indicators/visa-easing/page").text
    older = re.search(r'<a href="(/indicators/visa-easing/page\?before=\d+)">Older', first)
    assert older
    second = client.get(older.group(1)).text

    assert first.count('class="change"') == second.count('class="change"') == 1
    assert "Older changes" not in second


# ---------------------------------------------------------------- hostile feeds


def test_a_hostile_headline_is_inert_in_the_page(client: TestClient) -> None:
    for path in ("/", "/indicators/visa-easing/page"):
        response = client.get(path)
        html = response.text
        tags = parse(html)

        assert [t for t, _ in tags.tags if t in ("script", "img", "iframe", "object")] == []
        assert all(
            not (value or "").strip().lower().startswith("javascript:")
            for _, attrs in tags.tags
            for value in attrs.values()
        )
        assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(2)&gt;" in html
        assert "javascript:alert(3)" in "".join(tags.text)  # shown as text, never an href
        assert HOSTILE_TITLE.split(">")[1].split("<")[0] in "".join(tags.text)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy


def test_a_hostile_headline_is_plain_data_in_json(client: TestClient) -> None:
    response = client.get("/indicators/visa-easing")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert HOSTILE_TITLE in [e["title"] for e in response.json()["evidence"]]


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        (
            "China eases visa rules",
            ["China", "visa*"],
            "<mark>China</mark> eases <mark>visa</mark> rules",
        ),
        ("a <b>China</b> & co", ["China"], "a &lt;b&gt;<mark>China</mark>&lt;/b&gt; &amp; co"),
        ("a < b", ["lt", "amp"], "a &lt; b"),  # never inside an escape
        (
            "<script>x</script>",
            ["script"],
            "&lt;<mark>script</mark>&gt;x&lt;/<mark>script</mark>&gt;",
        ),
        ("Chinese visitors", ["China"], "Chinese visitors"),  # word boundary
        ("Chinese visitors", ["Chin*"], "<mark>Chinese</mark> visitors"),
        ("Wang  Yi met Lee", ["Wang Yi"], "<mark>Wang  Yi</mark> met Lee"),
        ("중국과 한국", ["중국"], "<mark>중국</mark>과 한국"),  # substring in CJK
        (
            "extends visa-free entry",
            ["/(extend|eas)\\w* visa/"],
            "<mark>extends visa</mark>-free entry",
        ),
        ("title hit", ["title:hit"], "title <mark>hit</mark>"),
        ("x", ["/[/", "/\\p{Han}/", "", "*"], "x"),  # bad or foreign regexes are skipped
        ("visa-free visa", ["visa-free", "visa"], "<mark>visa-free</mark> <mark>visa</mark>"),
    ],
)
def test_highlight_escapes_then_marks(text: str, terms: list[str], expected: str) -> None:
    assert str(highlight(text, terms)) == expected


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://example.org/a?b=c", "https://example.org/a?b=c"),
        ("http://example.org/", "http://example.org/"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("/relative", None),
        ("https://", None),
        ("", None),
        ("https://exa mple.org/", None),
    ],
)
def test_only_http_links_become_hrefs(link: str, expected: str | None) -> None:
    assert web_url(link) == expected


def test_the_timeline_spans_90_days_with_a_segment_per_status(defs: Definitions) -> None:
    changes = [
        StatusChange(
            "visa-easing",
            NOW - timedelta(days=2),
            "eased:reported",
            "eased:confirmed",
            (),
            "h",
            id=2,
        ),
        StatusChange(
            "visa-easing", NOW - timedelta(days=20), "quiet", "eased:reported", (), "h", id=1
        ),
        StatusChange(
            "visa-easing", NOW - timedelta(days=200), "x", "quiet", (), "h", id=0
        ),  # before
    ]
    t = timeline(defs, "visa-easing", changes, "eased:confirmed", now=NOW, zone=ZoneInfo("UTC"))

    assert [s.status.code for s in t.segments] == ["quiet", "eased:reported", "eased:confirmed"]
    assert sum(s.width for s in t.segments) == pytest.approx(1000, abs=0.05)
    assert t.segments[0].x == 0
    assert t.segments[2].width == pytest.approx(1000 * 2 / 90, abs=0.05)
    assert t.changes == 2 and len(t.marks) == 2
    assert t.ticks[0][1] == (NOW - timedelta(days=90)).strftime("%b %-d")
    assert t.segments[1].status.text == "Visas are waived or extended (reported)"
    assert t.segments[1].status.tone == "o0 reported"


def test_monitoring_began_is_marked_where_it_began_not_at_the_last_change(
    defs: Definitions,
) -> None:
    began, changed = NOW - timedelta(days=30), NOW - timedelta(days=3)
    change = StatusChange("visa-easing", changed, "quiet", "eased:reported", (), "h", id=1)
    utc = ZoneInfo("UTC")

    t = timeline(defs, "visa-easing", [change], "eased:reported", now=NOW, zone=utc, started=began)
    before = timeline(defs, "visa-easing", [change], "eased:reported", now=NOW, zone=utc,
                      started=NOW - timedelta(days=200))  # fmt: skip

    assert t.monitored_from == (round(1000 * 60 / 90, 2), f"{began:%Y-%m-%d}")
    assert t.segments[0].x == t.monitored_from[0]  # the bars start there, the label is left of it
    assert before.monitored_from is None  # it began before the 90 days shown


def test_a_status_that_held_for_no_time_is_neither_drawn_nor_in_the_legend(
    defs: Definitions,
) -> None:
    """The first check found evidence: its change from `unknown` is at the moment monitoring
    began, so `unknown` held for no time (as `export history` says: no stretch of it)."""
    began = NOW - timedelta(days=10)
    first = StatusChange("visa-easing", began, "unknown", "eased:reported", (), "h", id=1)
    utc = ZoneInfo("UTC")

    t = timeline(defs, "visa-easing", [first], "eased:reported", now=NOW, zone=utc, started=began)
    just = timeline(defs, "visa-easing", [], "quiet", now=NOW, zone=utc, started=NOW)

    assert [s.status.code for s in t.segments] == ["eased:reported"]
    assert [look.code for look in t.legend] == ["eased:reported"]
    assert t.changes == 1  # the change itself is still marked
    assert [(s.width, s.status.code) for s in just.segments] == [(0, "quiet")]  # began now


def test_a_quiet_timeline_is_one_segment(defs: Definitions) -> None:
    t = timeline(defs, "north-korea-stance", [], "quiet", now=NOW, zone=ZoneInfo("UTC"))
    assert [(s.x, s.width, s.status.tone) for s in t.segments] == [(0, 1000, "quiet")]
    assert t.legend[0].text == "quiet"


# ---------------------------------------------------------------- unknown is not quiet


@pytest.fixture
def unread(database_url: str, defs: Definitions) -> Iterator[TestClient]:
    """The web indicators two days after monitoring began, every feed failing since."""
    with open_store(database_url) as fresh:
        began = NOW - timedelta(days=2)
        prepare(webdata.context(fresh, defs), now=began)
        for feed in defs.feeds:
            storeops.record_fetch(
                fresh, feed.id, now=began, ok=False, error="fetch: connection refused"
            )
        fresh.record_cycle(Cycle(began, began))
        app = web.create_app(store=fresh, definitions=lambda: defs, settings=webdata.settings(),
                             clock=lambda: NOW)  # fmt: skip
        with TestClient(app) as client:
            yield client


def test_an_indicator_never_read_is_drawn_unknown_with_why_and_a_timeline_from_its_start(
    unread: TestClient, defs: Definitions
) -> None:
    html = unread.get("/").text
    tags = parse(html)

    badges = [a for t, a in tags.tags if t == "span" and "badge" in (a.get("class") or "")]
    assert badges and {a["data-status"] for a in badges} == {"unknown"}
    assert "⚠ unknown</span>" in html
    why = "⚠ unknown — feeds not read: yonhap: never read (fetch: connection refused); herald:"
    assert html.count(why) == len(defs.indicators)
    segments = [a for t, a in tags.tags if t == "rect" and "seg" in (a.get("class") or "")]
    start = round(1000 * 88 / 90, 2)  # two of the ninety days: nothing drawn before
    assert {(s["class"], s["x"]) for s in segments} == {("seg unknown", str(start))}
    began = (
        f"monitoring began {(NOW - timedelta(days=2)):%Y-%m-%d}</span>"  # the start marker's label
    )
    assert began in html and "not monitored" not in html
    assert f"monitored since {(NOW - timedelta(days=2)):%Y-%m-%d}" in html
    page = unread.get("/indicators/visa-easing/page").text
    assert "⚠ unknown — feeds not read: yonhap: never read" in page
    api = unread.get("/indicators/visa-easing").json()
    refused = "never read (fetch: connection refused)"
    assert api["status"] == "unknown"
    assert api["reason"] == f"feeds not read: yonhap: {refused}; herald: {refused}; gone: {refused}"


def test_unknown_and_quiet_are_drawn_apart_and_alike_on_the_page_and_in_the_digest(
    client: TestClient,
) -> None:
    css = client.get("/").text
    unknown, quiet = views.PALETTE["unknown"], views.PALETTE["quiet"]
    assert unknown.background != quiet.background and unknown.fill != quiet.fill
    assert f".unknown {{ background:{unknown.background}; color:{unknown.text};" in css
    assert f"svg.timeline .seg.unknown {{ fill:{unknown.fill}; }}" in css
    assert f".quiet {{ background:{quiet.background}; color:{quiet.text};" in css
    line = IndicatorView(
        id="tw", group="Taiwan", title="Taiwan", question="", status="unknown", since=NOW,
        reason="feeds not read: tw: gone", started=NOW, window_days=14, outcomes=(), evidence=(),
        evidence_count=0,
    )  # fmt: skip
    text, html = render(DigestInput(NOW.date(), NOW, "UTC", (), (line,), ()))
    assert f"background:{unknown.background};color:{unknown.text}" in html
    assert "⚠ unknown</span>" in html
    assert "⚠ unknown</span>" in html and "feeds not read: tw: gone</div>" in html
    assert "⚠ unknown   (since " in text and ")\n  feeds not read: tw: gone\n" in text


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        ("/indicators/visa-easing/page?before=abc", "before: Input should be a valid integer"),
        ("/entries?q=x&limit=0", "limit: Input should be greater than or equal to 1"),
        ("/export/changes?format=xml", "format: Input should be"),
    ],
)
def test_a_bad_query_value_is_an_html_422_for_a_browser_and_json_for_a_client(
    client: TestClient, path: str, wrong: str
) -> None:
    page = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>422 " in page.text and wrong in page.text
    api = client.get(path)
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"][-1] in path


@pytest.mark.parametrize(
    "path", ["/indicators/nope/page", "/indicators/nope", "/no/such/page", "/indicators/x%3C/page"]
)
def test_a_browser_gets_an_html_error_page_and_an_api_client_json(
    client: TestClient, path: str
) -> None:
    page = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<h1>404 Not Found</h1>" in page.text
    assert '<a href="/">' in page.text  # a way back to every indicator
    assert "<script" not in page.text and "x<" not in page.text  # the id is escaped
    api = client.get(path)  # no Accept, as curl and the CLI send
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/json"
    assert "detail" in api.json()


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(hours=2) - timedelta(seconds=5), "in 2 hours"),  # a 2 h silence just begun
        (timedelta(days=7) - timedelta(minutes=1), "in 7 days"),
        (-timedelta(minutes=90, seconds=1), "2 hours ago"),
        (-timedelta(minutes=80), "1 hour ago"),
        (-timedelta(seconds=20), "just now"),
    ],
)
def test_times_relative_to_now_are_rounded_to_the_nearest(delta: timedelta, said: str) -> None:
    assert ago(NOW + delta, NOW) == said
