"""A feed's redirect must not reach into the operator's network: a public feed is redirected
only to public addresses, an internal one (a LAN service, every feed on 127.0.0.1 here) within
internal ones too, but to link-local (the cloud metadata service) only from link-local.

A public origin cannot exist here: those feeds answer through httpx's MockTransport (the
internet, mocked at the transport), under a public IP literal or a name whose addresses the
test gives at the resolver seam (`fetch_all(resolve=…)`). IP literals and `localhost` are
resolved by the system's resolver, as the connection resolves them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest

from monitor.fetch import FeedRequest, FetchLimits, FetchResult, FetchStatus, fetch_all
from monitor.pipeline import run_cycle
from monitor.store import FetchRecord, open_store
from tests import feedserver, twofeeds
from tests.feedserver import FeedServer

feed_server = feedserver.feed_server  # the fixture

RSS = b'<rss version="2.0"><channel><title>t</title></channel></rss>'
FAST = FetchLimits(timeout=30, total_timeout=60)  # no test here waits for these
PUBLIC_FEED = "http://93.184.215.14/feed"  # a public address (example.com's, once)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


class Internet:
    """The internet at the transport: `redirects` answer 301 to a Location, every other URL
    the feed; `asked` lists every URL a request was sent to, in order."""

    def __init__(self, redirects: dict[str, str]) -> None:
        self.redirects = redirects
        self.asked: list[str] = []
        self.transport = httpx2.MockTransport(self.answer)

    def answer(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        self.asked.append(url)
        if url in self.redirects:
            return httpx2.Response(301, headers={"Location": self.redirects[url]})
        return httpx2.Response(200, content=RSS)

    def fetch(self, url: str, names: dict[str, list[str]] | None = None) -> FetchResult:
        resolve = None if names is None else Names(names).resolve
        requests = [FeedRequest("f", url)]
        [result] = asyncio.run(fetch_all(requests, FAST, transport=self.transport, resolve=resolve))
        return result


class Names:
    """DNS as the test says it: a name's addresses, [] for a name that does not resolve."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        return self.names.get(host, [])


def refused(target: str, address: str, kind: str, own: str = "public") -> str:
    return (
        f"fetch: redirect to an internal address refused: {target} "
        f"({address}, {kind}; the feed's own address is {own})"
    )


# ---------------------------------------------------------------- from a public feed

INTERNAL_TARGETS = [
    ("http://127.0.0.1:6379/", "127.0.0.1", "loopback"),
    ("http://10.0.0.5/admin/reboot", "10.0.0.5", "private"),
    ("http://192.168.1.1/", "192.168.1.1", "private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
    ("http://localhost/admin", "127.0.0.1", "loopback"),  # a name, resolved by the system
    ("http://100.64.0.1/", "100.64.0.1", "shared"),
    ("http://0/", "0.0.0.0", "unspecified"),
    ("http://[::1]/", "::1", "loopback"),
    ("http://[fe80::1]/", "fe80::1", "link-local"),
    ("http://[fd00::5]/", "fd00::5", "unique-local"),
    # Every spelling of 127.0.0.1 is judged as what it connects to:
    ("http://2130706433/", "127.0.0.1", "loopback"),
    ("http://0x7f000001/", "127.0.0.1", "loopback"),
    ("http://0x7f.1/", "127.0.0.1", "loopback"),
    ("http://127.1/", "127.0.0.1", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "::ffff:a9fe:a9fe", "link-local"),
    ("http://[2002:7f00:1::1]/", "2002:7f00:1::1", "loopback"),  # 6to4, around 127.0.0.1
]


@pytest.mark.parametrize(("target", "address", "kind"), INTERNAL_TARGETS)
def test_a_public_feed_is_not_redirected_into_the_network(
    target: str, address: str, kind: str
) -> None:
    internet = Internet({PUBLIC_FEED: target})
    result = internet.fetch(PUBLIC_FEED)
    assert result.status is FetchStatus.FAILED
    assert result.error == refused(target, address, kind)
    assert internet.asked == [PUBLIC_FEED]  # nothing was sent to the refused address
    assert result.moved_to is None  # a 301 to it is not remembered either


@pytest.mark.parametrize(
    "target",
    ["http://93.184.216.34/moved", "http://[2606:4700::1111]/", "http://[2002:808:808::]/"],
)
def test_a_public_feed_is_redirected_to_public_addresses(target: str) -> None:
    internet = Internet({PUBLIC_FEED: target})
    result = internet.fetch(PUBLIC_FEED)
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.moved_to == target


def test_one_internal_address_of_a_name_refuses_the_hop() -> None:
    internet = Internet({"https://news.example/feed": "https://cdn.example/feed"})
    names = {"news.example": ["93.184.215.14"], "cdn.example": ["93.184.216.34", "10.1.2.3"]}
    result = internet.fetch("https://news.example/feed", names)
    assert result.error == refused("https://cdn.example/feed", "10.1.2.3", "private")
    assert internet.asked == ["https://news.example/feed"]


def test_a_later_hop_is_judged_by_the_feed_s_own_address() -> None:
    internet = Internet(
        {PUBLIC_FEED: "http://93.184.216.34/a", "http://93.184.216.34/a": "http://10.0.0.5/b"}
    )
    result = internet.fetch(PUBLIC_FEED)
    assert result.error == refused("http://10.0.0.5/b", "10.0.0.5", "private")
    assert internet.asked == [PUBLIC_FEED, "http://93.184.216.34/a"]


def test_a_target_that_does_not_resolve_is_left_to_its_connection() -> None:
    internet = Internet({"https://news.example/feed": "https://gone.example/feed"})
    result = internet.fetch("https://news.example/feed", {"news.example": ["93.184.215.14"]})
    assert result.status is FetchStatus.MODIFIED, result.error  # the mock answers anything
    assert internet.asked == ["https://news.example/feed", "https://gone.example/feed"]


def test_a_feed_whose_own_name_does_not_resolve_is_judged_public() -> None:
    internet = Internet({"https://news.example/feed": "https://10.0.0.5/"})
    result = internet.fetch("https://news.example/feed", {})
    assert result.error == (
        "fetch: redirect to an internal address refused: https://10.0.0.5/ "
        "(10.0.0.5, private; the feed's own address is unknown, so judged public)"
    )


# ---------------------------------------------------------------- from an internal feed


@pytest.mark.parametrize(
    ("feed", "target"),
    [
        ("http://10.0.0.5/feed", "http://127.0.0.1:8080/feed"),
        ("http://10.0.0.5/feed", "http://93.184.216.34/feed"),
        ("http://169.254.1.1/feed", "http://169.254.169.254/feed"),
    ],
)
def test_an_internal_feed_is_redirected_within_the_network(feed: str, target: str) -> None:
    internet = Internet({feed: target})
    result = internet.fetch(feed)
    assert result.status is FetchStatus.MODIFIED, result.error
    assert internet.asked == [feed, target]


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[fe80::a9fe:a9fe]/", "fe80::a9fe:a9fe"),
        ("http://2852039166/", "169.254.169.254"),
    ],
)
def test_a_loopback_feed_is_not_redirected_to_link_local(
    feed_server: FeedServer, target: str, address: str
) -> None:
    feed_server.redirect("/feed", target, 302)
    [result] = asyncio.run(fetch_all([FeedRequest("f", feed_server.url("/feed"))], FAST))
    assert result.status is FetchStatus.FAILED
    assert result.error == refused(target, address, "link-local", own="loopback")


def test_a_loopback_feed_is_redirected_to_localhost(feed_server: FeedServer) -> None:
    moved = f"http://localhost:{feed_server.port}/new"
    feed_server.redirect("/feed", moved, 301)
    feed_server.route("/new", body=RSS)
    [result] = asyncio.run(fetch_all([FeedRequest("f", feed_server.url("/feed"))], FAST))
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.moved_to == moved


# ---------------------------------------------------------------- through a proxy


@pytest.fixture
def proxy() -> Iterator[FeedServer]:
    """A plain HTTP proxy on 127.0.0.1: asked for absolute URLs, it answers from its routes."""
    with FeedServer() as server:
        yield server


def test_through_a_proxy_the_rule_still_applies(
    proxy: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
    proxy.redirect(PUBLIC_FEED, "http://10.0.0.5/admin/reboot", 302)
    proxy.route("http://10.0.0.5/admin/reboot", body=RSS)
    [result] = asyncio.run(fetch_all([FeedRequest("f", PUBLIC_FEED)], FAST))
    assert result.error == refused("http://10.0.0.5/admin/reboot", "10.0.0.5", "private")
    assert [r.path for r in proxy.requests] == [PUBLIC_FEED]


# ---------------------------------------------------------------- a move remembered before


def test_a_remembered_move_the_rule_refuses_is_not_used() -> None:
    """A `moved_to` stored before the rule (a public feed's 301 into the network) is judged as
    that redirect would be: the feeds file's URL is read instead, and the move forgotten."""
    internet = Internet({})
    request = FeedRequest("f", "http://10.0.0.5/admin/reboot", listed_url=PUBLIC_FEED)
    [result] = asyncio.run(fetch_all([request], FAST, transport=internet.transport))
    assert result.status is FetchStatus.MODIFIED, result.error
    assert internet.asked == [PUBLIC_FEED]
    assert result.moved_to == ""  # "" clears the stored one


def test_a_remembered_move_the_rule_allows_is_used() -> None:
    internet = Internet({})
    request = FeedRequest("f", "http://93.184.216.34/moved", listed_url=PUBLIC_FEED)
    [result] = asyncio.run(fetch_all([request], FAST, transport=internet.transport))
    assert result.status is FetchStatus.MODIFIED, result.error
    assert internet.asked == ["http://93.184.216.34/moved"]
    assert result.moved_to is None


def test_a_cycle_forgets_a_remembered_move_to_link_local(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    """Feed a on 127.0.0.1 was recorded as moved to the metadata service (before the rule):
    the cycle reads it at its own URL, sends nothing there, and the move is forgotten."""
    feed_server.route("/a.xml", body=RSS)
    feed_server.route("/b.xml", body=RSS)
    urls = (feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    with open_store(database_url) as store:
        ctx = twofeeds.context(twofeeds.definitions(tmp_path, *urls), store, now=NOW)
        moved_to = "http://169.254.169.254/latest/meta-data/"
        store.record_fetches([FetchRecord("a", now=NOW, ok=True, moved_to=moved_to)])
        assert {f.id: f.moved_to for f in store.feeds()}["a"] == moved_to
        run_cycle(replace(ctx, parse_workers=1), now=NOW + twofeeds.INTERVAL)
        a = {f.id: f for f in store.feeds()}["a"]
        assert (a.moved_to, a.last_error) == (None, "")
        assert a.last_success_at == NOW + twofeeds.INTERVAL
    assert feed_server.hits("/a.xml") == 1
