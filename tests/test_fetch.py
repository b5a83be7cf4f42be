"""fetch against a real HTTP server on 127.0.0.1 (tests/feedserver.py); no mocks."""

from __future__ import annotations

import asyncio
import errno
import gzip
import hashlib
import os
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest

from monitor.fetch import (
    GONE_RETRY,
    RETRY_AFTER_LONGEST,
    FeedRequest,
    FetchLimits,
    FetchResult,
    FetchStatus,
    fetch_all,
    fetch_sync,
    next_check,
    parse_retry_after,
)
from monitor.settings import Settings
from tests import feedserver
from tests.feedserver import FeedServer

feed_server = feedserver.feed_server  # the fixture

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Xi meets Lee</title><link>https://example.com/a</link></item></channel></rss>"""

# Timeouts no test here waits for (tests of timeouts pass their own): far above the pace of a
# loaded machine, so an answer from 127.0.0.1 is never cut off.
FAST = FetchLimits(timeout=30, total_timeout=60, user_agent="monitor-test/1 (+https://example.org)")


def fetch_one(request: FeedRequest, limits: FetchLimits = FAST) -> FetchResult:
    [result] = fetch_sync([request], limits)
    return result


def get(server: FeedServer, path: str, limits: FetchLimits = FAST, **kw: str) -> FetchResult:
    return fetch_one(FeedRequest("f", server.url(path), **kw), limits)


# ---------------------------------------------------------------- conditional GET


def test_200_then_304_with_etag(feed_server: FeedServer) -> None:
    feed_server.route(
        "/feed", body=RSS, etag='"v1"', headers={"Content-Type": "application/rss+xml"}
    )
    first = get(feed_server, "/feed")
    assert first.status is FetchStatus.MODIFIED and first.ok and not first.failed
    assert first.http_status == 200
    assert first.body == RSS
    assert first.etag == '"v1"'
    assert first.content_type == "application/rss+xml"
    assert first.body_hash == hashlib.sha256(RSS).hexdigest()
    assert first.error == "" and first.moved_to is None
    assert first.final_url == feed_server.url("/feed")

    second = get(feed_server, "/feed", etag=first.etag or "", body_hash=first.body_hash or "")
    assert second.status is FetchStatus.NOT_MODIFIED and second.ok
    assert second.http_status == 304 and second.body is None
    assert second.etag == '"v1"' and second.body_hash == first.body_hash
    assert feed_server.last("/feed").headers["if-none-match"] == '"v1"'


def test_last_modified_round_trip(feed_server: FeedServer) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    feed_server.route("/feed", body=RSS, last_modified=stamp)
    first = get(feed_server, "/feed")
    assert first.status is FetchStatus.MODIFIED and first.last_modified == stamp
    assert "if-modified-since" not in feed_server.last("/feed").headers
    second = get(feed_server, "/feed", last_modified=stamp)
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.last_modified == stamp
    assert feed_server.last("/feed").headers["if-modified-since"] == stamp


def test_unchanged_when_body_hash_is_the_stored_one(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=RSS)
    result = get(feed_server, "/feed", body_hash=hashlib.sha256(RSS).hexdigest())
    assert result.status is FetchStatus.UNCHANGED and result.ok
    assert result.http_status == 200 and result.body is None


def test_user_agent_and_accept_encoding_are_sent(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=RSS)
    get(feed_server, "/feed")
    headers = feed_server.last("/feed").headers
    assert headers["user-agent"] == FAST.user_agent
    assert "gzip" in headers["accept-encoding"]


def test_gzip_body_is_decompressed(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=RSS, gzip=True)
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.MODIFIED and result.body == RSS


# ---------------------------------------------------------------- redirects


def test_permanent_redirect_chain_sets_moved_to(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b", 301)
    feed_server.redirect("/b", feed_server.url("/c"), 308)  # absolute and relative Locations
    feed_server.route("/c", body=RSS)
    result = get(feed_server, "/a")
    assert result.status is FetchStatus.MODIFIED
    assert result.moved_to == feed_server.url("/c") == result.final_url
    assert result.url == feed_server.url("/a")


@pytest.mark.parametrize("statuses", [(302,), (301, 302), (307, 301), (303,)])
def test_temporary_hop_means_no_moved_to(feed_server: FeedServer, statuses: tuple[int]) -> None:
    path = "/start"
    for i, status in enumerate(statuses):
        feed_server.redirect(path, f"/hop{i}", status)
        path = f"/hop{i}"
    feed_server.route(path, body=RSS)
    result = get(feed_server, "/start")
    assert result.status is FetchStatus.MODIFIED and result.body == RSS
    assert result.moved_to is None and result.final_url == feed_server.url(path)


def test_permanent_redirect_to_failure_is_not_a_move(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b", 301)
    feed_server.route("/b", status=500)
    result = get(feed_server, "/a")
    assert result.status is FetchStatus.FAILED and result.moved_to is None


def test_more_than_five_redirects_fail(feed_server: FeedServer) -> None:
    for i in range(6):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}", 301)
    feed_server.route("/r6", body=RSS)
    result = get(feed_server, "/r0")
    assert result.status is FetchStatus.FAILED and result.failed
    assert result.error == "fetch: too many redirects (>5)"
    assert feed_server.hits("/r6") == 0
    assert get(feed_server, "/r1").status is FetchStatus.MODIFIED  # exactly five is fine


def test_redirect_loop_fails(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b", 302)
    feed_server.redirect("/b", "/a", 302)
    result = get(feed_server, "/a")
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: redirect loop")


def test_redirect_to_file_scheme_fails(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "file:///etc/passwd", 301)
    result = get(feed_server, "/a")
    assert result.status is FetchStatus.FAILED
    assert result.error == "fetch: redirect to non-HTTP scheme 'file'"


def test_redirect_without_location_fails(feed_server: FeedServer) -> None:
    feed_server.route("/a", status=302)
    assert get(feed_server, "/a").error == "fetch: HTTP 302 redirect without a Location"


def test_non_http_url_fails_without_raising() -> None:
    result = fetch_one(FeedRequest("f", "ftp://example.com/feed"))
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: unsupported URL scheme 'ftp'")


# ---------------------------------------------------------------- size and time limits

SMALL = FetchLimits(timeout=30, total_timeout=60, max_bytes=10_000)
BIG = b"<rss>" + b"x" * 50_000 + b"</rss>"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"body": b"<rss/>", "content_length": 50_000}, "(Content-Length 50000)"),
        ({"body": BIG}, "(Content-Length 50011)"),
        ({"body": BIG, "chunked": True}, ""),
        ({"body": BIG, "close_delimited": True}, ""),
    ],
    ids=["content-length-lies", "content-length", "chunked", "close-delimited"],
)
def test_oversize_body_fails(
    feed_server: FeedServer, options: dict[str, object], error: str
) -> None:
    feed_server.route("/big", **options)
    result = get(feed_server, "/big", SMALL)
    assert result.status is FetchStatus.FAILED
    assert result.error == f"fetch: body larger than 10000 bytes {error}".rstrip()


def test_body_at_the_cap_passes(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=b"x" * 10_000, chunked=True)
    assert get(feed_server, "/feed", SMALL).status is FetchStatus.MODIFIED


def test_gzip_bomb_fails_after_decompression(feed_server: FeedServer) -> None:
    bomb = b"\0" * 5_000_000
    assert len(gzip.compress(bomb)) < 10_000
    feed_server.route("/bomb", body=bomb, gzip=True)
    result = get(feed_server, "/bomb", SMALL)
    assert result.status is FetchStatus.FAILED
    assert result.error == "fetch: body larger than 10000 bytes"


def test_gzip_bomb_never_inflates_much_past_the_cap(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB on the wire
    feed_server.route("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    limits = FetchLimits(timeout=30, total_timeout=60, max_bytes=1_000_000)  # the cap must cut it
    tracemalloc.start()
    try:
        result = get(feed_server, "/bomb", limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error == "fetch: body larger than 1000000 bytes"
    assert peak < 5_000_000  # httpx alone would inflate a 64 KiB read to ~64 MB


def test_broken_gzip_fails(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: cannot decode the gzip body")


@pytest.mark.parametrize("after", [b"", b"\0" * 8], ids=["members", "members-then-padding"])
def test_a_gzip_body_of_several_members_is_read_whole(
    feed_server: FeedServer, after: bytes
) -> None:
    """`cat a.gz b.gz`: gzip readers take every member; the second item was cut off."""
    half = len(RSS) // 2
    body = gzip.compress(RSS[:half]) + gzip.compress(RSS[half:]) + after
    feed_server.route("/feed", body=body, headers={"Content-Encoding": "gzip"}, chunk_size=7)
    assert get(feed_server, "/feed").body == RSS


def test_deflate_body_is_decompressed(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=zlib.compress(RSS), headers={"Content-Encoding": "deflate"})
    assert get(feed_server, "/feed").body == RSS


def test_slow_trickle_hits_the_total_timeout(feed_server: FeedServer) -> None:
    feed_server.route("/slow", body=RSS * 20, chunk_size=50, trickle=0.05)
    limits = FetchLimits(timeout=1, total_timeout=0.5)
    result = get(feed_server, "/slow", limits)
    assert result.status is FetchStatus.FAILED
    # cut by the total timeout (the whole trickle takes 3 s and would succeed); how much later
    # than 0.5 s the loop noticed depends on the machine's load: only the lower bound is checked
    assert result.error == "fetch: gave up after 0.5s in all (total timeout)"
    assert result.elapsed >= 0.4


def test_server_that_never_answers_gives_read_timeout(feed_server: FeedServer) -> None:
    feed_server.route("/hang", body=RSS, delay=30)
    result = get(feed_server, "/hang", FetchLimits(timeout=0.3, total_timeout=5))
    assert result.status is FetchStatus.FAILED
    assert result.error == "fetch: read timeout after 0.3s"


def test_connection_refused_fails_and_says_so() -> None:
    """A feed whose server is down: the error says the connection was refused (httpx's own
    words, "All connection attempts failed", say nothing of why)."""
    with FeedServer() as server:
        url = server.url("/feed")
    result = fetch_one(FeedRequest("f", url))
    assert result.status is FetchStatus.FAILED
    refused = f"[Errno {errno.ECONNREFUSED}] {os.strerror(errno.ECONNREFUSED)}"
    assert result.error == f"fetch: cannot connect: {refused}"


# ---------------------------------------------------------------- status codes


@pytest.mark.parametrize(
    ("status", "expected", "error"),
    [
        (500, FetchStatus.FAILED, "fetch: HTTP 500 Internal Server Error"),
        (503, FetchStatus.FAILED, "fetch: HTTP 503 Service Unavailable"),
        (404, FetchStatus.FAILED, "fetch: HTTP 404 Not Found"),
        (410, FetchStatus.GONE, "fetch: HTTP 410 Gone"),
        (429, FetchStatus.RATE_LIMITED, "fetch: HTTP 429"),
    ],
)
def test_error_statuses(
    feed_server: FeedServer, status: int, expected: FetchStatus, error: str
) -> None:
    feed_server.route("/feed", status=status, body=b"nope")
    result = get(feed_server, "/feed")
    assert result.status is expected and result.failed
    assert result.http_status == status and result.error == error and result.body is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds(feed_server: FeedServer, status: int) -> None:
    feed_server.route("/feed", status=status, headers={"Retry-After": "120"})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.RATE_LIMITED
    assert result.retry_after == timedelta(seconds=120)
    assert result.error == f"fetch: HTTP {status} (retry after 120s)"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_fractional_seconds_is_honoured_rounded_up(
    feed_server: FeedServer, status: int
) -> None:
    """`Retry-After: 1.5` was unreadable: a 429 fell back to the usual back-off and a 503 was a
    plain failure. It is a wait of 2 s (rounded up, never sooner than asked)."""
    feed_server.route("/feed", status=status, headers={"Retry-After": "1.5"})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.RATE_LIMITED
    assert result.retry_after == timedelta(seconds=2)
    assert result.error == f"fetch: HTTP {status} (retry after 2s)"


def test_a_retry_after_past_what_a_timedelta_holds_is_a_long_wait_not_a_crash(
    feed_server: FeedServer,
) -> None:
    """`Retry-After: 999…` (30 digits) raised OverflowError: the feed failed with
    `fetch: OverflowError: …` instead of resting; it rests for the longest back-off."""
    feed_server.route("/feed", status=429, headers={"Retry-After": "9" * 30})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.RATE_LIMITED
    assert result.retry_after == RETRY_AFTER_LONGEST
    when, _ = next_check(result, now=NOW, interval=INTERVAL, errors_before=0, max_backoff=CAP)
    assert when == NOW + CAP


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_http_date(feed_server: FeedServer, status: int) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    feed_server.route("/feed", status=status, headers={"Retry-After": format_datetime(when, True)})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.RATE_LIMITED and result.retry_after is not None
    assert timedelta(minutes=59) < result.retry_after <= timedelta(hours=1)


NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", timedelta(0)),
        (" 3600 ", timedelta(hours=1)),
        ("Sat, 10 Jan 2026 12:30:00 GMT", timedelta(minutes=30)),
        ("Sat, 10 Jan 2026 11:00:00 GMT", timedelta(0)),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
        ("1.5", timedelta(seconds=2)),  # fractional seconds, which some services send: rounded up
        ("0.2", timedelta(seconds=1)),
        (" 30.0 ", timedelta(seconds=30)),
        ("1.", None),
        (".5", None),
        ("1,5", None),
        ("\u00b2", None),  # a Latin-1 "²": a digit to str.isdigit, not to int()
        ("9" * 30, RETRY_AFTER_LONGEST),  # more than a timedelta holds (callers cap lower)
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# ---------------------------------------------------------------- many feeds at once


def test_one_broken_feed_does_not_affect_the_others(feed_server: FeedServer) -> None:
    for i in range(8):
        feed_server.route(f"/ok{i}", body=RSS + str(i).encode())
    feed_server.route("/hang", delay=30)
    feed_server.route("/err", status=500)
    feed_server.redirect("/loop", "/loop", 301)
    paths = ["/ok0", "/hang", "/ok1", "/err", "/ok2", "/loop", "/missing"]
    paths += [f"/ok{i}" for i in range(3, 8)]
    requests = [FeedRequest(p.strip("/"), feed_server.url(p)) for p in paths]
    requests.append(FeedRequest("bad-url", "http://[::1"))
    # the read timeout must cut /hang, and never the answers of 127.0.0.1 on a loaded machine
    limits = FetchLimits(timeout=3, total_timeout=10, concurrency=4)
    results = fetch_sync(requests, limits)
    assert [r.feed_id for r in results] == [r.feed_id for r in requests]
    by_id = {r.feed_id: r for r in results}
    for i in range(8):
        assert by_id[f"ok{i}"].status is FetchStatus.MODIFIED
        assert by_id[f"ok{i}"].body == RSS + str(i).encode()
    assert by_id["hang"].error == "fetch: read timeout after 3s"
    assert by_id["err"].status is FetchStatus.FAILED
    assert by_id["loop"].error.startswith("fetch: redirect loop")
    assert by_id["missing"].http_status == 404
    assert by_id["bad-url"].status is FetchStatus.FAILED
    assert by_id["bad-url"].error.startswith("fetch: ")


def test_fetch_all_accepts_a_transport() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=RSS, headers={"ETag": '"t"'})

    requests = [FeedRequest("f", "https://example.com/feed")]
    transport = httpx2.MockTransport(handler)
    [result] = asyncio.run(fetch_all(requests, FetchLimits(), transport=transport))
    assert result.status is FetchStatus.MODIFIED and result.etag == '"t"'


def test_limits_from_settings() -> None:
    settings = Settings.model_validate(
        {
            "fetch_timeout": "5s",
            "fetch_total_timeout": "1m",
            "max_body_bytes": 2048,
            "fetch_concurrency": 3,
        }
    )
    limits = FetchLimits.from_settings(settings)
    assert limits == FetchLimits(
        timeout=5, total_timeout=60, max_bytes=2048, concurrency=3, user_agent=settings.user_agent
    )


# ---------------------------------------------------------------- back-off policy

INTERVAL = timedelta(minutes=15)
CAP = timedelta(hours=6)


def result_of(status: FetchStatus, retry_after: timedelta | None = None) -> FetchResult:
    return FetchResult("f", "https://example.com/", status, retry_after=retry_after)


@pytest.mark.parametrize(
    ("status", "errors_before", "retry_after", "delay", "errors_after"),
    [
        (FetchStatus.MODIFIED, 0, None, INTERVAL, 0),
        (FetchStatus.NOT_MODIFIED, 7, None, INTERVAL, 0),
        (FetchStatus.UNCHANGED, 3, None, INTERVAL, 0),
        (FetchStatus.FAILED, 0, None, INTERVAL, 1),
        (FetchStatus.FAILED, 1, None, 2 * INTERVAL, 2),
        (FetchStatus.FAILED, 3, None, 8 * INTERVAL, 4),
        (FetchStatus.FAILED, 5, None, CAP, 6),  # 8h capped at 6h
        (FetchStatus.FAILED, 500, None, CAP, 501),  # no overflow
        (FetchStatus.RATE_LIMITED, 0, timedelta(hours=1), timedelta(hours=1), 1),
        (FetchStatus.RATE_LIMITED, 0, timedelta(seconds=10), INTERVAL, 1),
        (FetchStatus.RATE_LIMITED, 2, timedelta(minutes=30), 4 * INTERVAL, 3),
        (FetchStatus.RATE_LIMITED, 0, timedelta(days=3), CAP, 1),
        (FetchStatus.RATE_LIMITED, 1, None, 2 * INTERVAL, 2),
        (FetchStatus.GONE, 0, None, GONE_RETRY, 1),  # a day, not the 6 h cap
    ],
)
def test_next_check_backoff(
    status: FetchStatus,
    errors_before: int,
    retry_after: timedelta | None,
    delay: timedelta,
    errors_after: int,
) -> None:
    when, errors = next_check(
        result_of(status, retry_after),
        now=NOW,
        interval=INTERVAL,
        errors_before=errors_before,
        max_backoff=CAP,
    )
    assert (when - NOW, errors) == (delay, errors_after)


def test_a_gone_feed_waits_for_the_cap_when_it_is_longer_than_gone_retry() -> None:
    week = timedelta(days=7)
    when, _ = next_check(
        result_of(FetchStatus.GONE), now=NOW, interval=INTERVAL, errors_before=0, max_backoff=week
    )
    assert when == NOW + week


def test_next_check_never_backs_off_below_the_interval() -> None:
    day = timedelta(days=1)
    when, _ = next_check(
        result_of(FetchStatus.FAILED), now=NOW, interval=day, errors_before=2, max_backoff=CAP
    )
    assert when - NOW == day


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("pack", [zlib.compress, _raw_deflate], ids=["zlib-wrapped", "raw"])
def test_deflate_both_flavours_are_decompressed(feed_server: FeedServer, pack: object) -> None:
    feed_server.route("/feed", body=pack(RSS), headers={"Content-Encoding": "deflate"})  # type: ignore[operator]
    assert get(feed_server, "/feed").body == RSS


def test_deflate_bomb_never_inflates_much_past_the_cap(feed_server: FeedServer) -> None:
    bomb = zlib.compress(b"\0" * 50_000_000, 9)  # ~50 KB on the wire
    feed_server.route("/bomb", body=bomb, headers={"Content-Encoding": "deflate"})
    limits = FetchLimits(timeout=30, total_timeout=60, max_bytes=1_000_000)  # the cap must cut it
    tracemalloc.start()
    try:
        result = get(feed_server, "/bomb", limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error == "fetch: body larger than 1000000 bytes"
    assert peak < 10_000_000  # httpx's decoder inflated a 64 KiB read whole: ~75 MB here


def test_broken_deflate_fails(feed_server: FeedServer) -> None:
    feed_server.route("/feed", body=b"x\x9cnot deflate", headers={"Content-Encoding": "deflate"})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: cannot decode the deflate body")


# ---------------------------------------------------------------- hostile servers


def _gzip_stream(size: int, *, step: int = 1 << 24) -> bytes:
    """gzip of `size` zero bytes, compressed a slice at a time (never `size` bytes in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * step
    parts = [packer.compress(zeros) for _ in range(size // step)]
    return b"".join([*parts, packer.flush()])


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    """A body of ~2 KB that inflates to 1 GiB through two layers of gzip."""
    bomb = gzip.compress(_gzip_stream(1 << 30), 9)
    assert len(bomb) < 4_000
    return bomb


@pytest.mark.slow  # compressing a gigabyte of zeros twice takes seconds
@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip,gzip", "x-gzip, gzip"])
def test_a_stacked_gzip_bomb_stops_at_the_cap_in_bounded_memory(
    feed_server: FeedServer, gigabyte_bomb: bytes, encoding: str
) -> None:
    feed_server.route("/bomb", body=gigabyte_bomb, headers={"Content-Encoding": encoding})
    limits = FetchLimits(timeout=30, total_timeout=60, max_bytes=1_000_000)
    tracemalloc.start()
    try:
        result = get(feed_server, "/bomb", limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status is FetchStatus.FAILED
    assert result.error == "fetch: body larger than 1000000 bytes"
    assert peak < 10_000_000


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(RSS))),
        ("identity, gzip", gzip.compress(RSS)),
        ("deflate, gzip", gzip.compress(zlib.compress(RSS))),
        ("GZIP", gzip.compress(RSS)),
        ("identity", RSS),
    ],
)
def test_stacked_encodings_are_undone_in_reverse_order(
    feed_server: FeedServer, encoding: str, body: bytes
) -> None:
    feed_server.route("/feed", body=body, headers={"Content-Encoding": encoding})
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.MODIFIED, result.error
    assert result.body == RSS


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "rot13"])
def test_an_encoding_not_asked_for_is_refused_with_its_name(
    feed_server: FeedServer, encoding: str
) -> None:
    feed_server.route(
        "/feed", body=b"\x8b\x00 compressed somehow", headers={"Content-Encoding": encoding}
    )
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.FAILED
    assert result.error == f"fetch: unsupported Content-Encoding {encoding!r}"


def test_a_304_to_a_request_without_validators_is_a_failure(feed_server: FeedServer) -> None:
    feed_server.route("/feed", status=304)
    result = get(feed_server, "/feed")
    assert result.status is FetchStatus.FAILED
    assert result.error == "fetch: HTTP 304 Not Modified to a request that named no version"
    # With a validator sent, the same answer means what it says.
    assert get(feed_server, "/feed", etag='"v1"').status is FetchStatus.NOT_MODIFIED


@pytest.mark.parametrize("location", ["http://[::1", "ht!tp://example.com/feed", "http://:80/x"])
def test_a_malformed_redirect_target_is_a_fetch_error(
    feed_server: FeedServer, location: str
) -> None:
    feed_server.redirect("/a", location, 301)
    result = get(feed_server, "/a")
    assert result.status is FetchStatus.FAILED
    assert result.error == f"fetch: HTTP 301 redirect to a malformed Location {location!r}"
    assert len(feed_server.requests) == 1


def test_error_texts_are_capped(feed_server: FeedServer) -> None:
    from monitor.fetch import MAX_ERROR_CHARS

    def long_reason(h: feedserver._RequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 500 " + b"x" * 5_000 + b"\r\nContent-Length: 0\r\n\r\n")
        h.close_connection = True

    feed_server.route("/a", long_reason)
    result = get(feed_server, "/a")
    assert result.status is FetchStatus.FAILED
    assert result.error.startswith("fetch: HTTP 500 xxxx")
    assert len(result.error) == MAX_ERROR_CHARS == 500
    assert result.error.endswith("…")
