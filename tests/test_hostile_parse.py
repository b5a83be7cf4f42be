"""Bodies that make a parser take hours or gigabytes: `monitor check` over a server on 127.0.0.1
serving them beside two good feeds. Deeply nested elements are quadratic in their depth in
lexbor's tree building (HTML in a description) and in feedparser's XHTML content (Atom): a few
MB held a cycle, and every feed's news after them, for hours. A million empty items took 1.1 GB
in a worker, in each worker at once. Each parse has MONITOR_PARSE_TIMEOUT of CPU time and
MONITOR_PARSE_MAX_MEMORY of address space in its worker; the feed fails with the reason, the
others are stored, and the indicators reading only those feeds are `unknown`, never `quiet`.
"""

from __future__ import annotations

import gzip
import json
import resource
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.parse import GZIPPED, OUT_OF_MEMORY, Parsed, ParseJob
from monitor.parsepool import parse_within
from monitor.store import open_store
from tests import news
from tests.feedserver import FeedServer
from tests.test_check_idle import T, at
from tests.test_cli_ops import invoke, no_monitor_variables, shipped

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives

DEPTH_HTML = 300_000  # lexbor: 40,000 take 8 s, and each doubling four times that
DEPTH_XHTML = 100_000  # feedparser: 150 s
TIMEOUT = "parse: gave up after 1s of CPU time (parse timeout)"
HOSTILE = ("nested-html", "nested-xhtml", "formatting", "nested-lists", "nested-quotes")
TRAVEL = ("flight-routes", "visa-easing")  # they read only the hostile feeds (search-travel)
RSS_HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'


def nested_html() -> bytes:
    return in_rss("<div>" * DEPTH_HTML + "visa-free travel" + "</div>" * DEPTH_HTML)


def in_rss(html: str) -> bytes:
    return (
        RSS_HEAD
        + (
            "<item><title>Visa waiver extended</title><link>https://example.org/1</link>"
            f"<description><![CDATA[{html}]]></description></item></channel></rss>"
        ).encode()
    )


def formatting() -> bytes:
    """Formatting elements reconstructed again and again (lexbor issue 340): 4,000 took 29 s."""
    n = 10_000
    return in_rss("".join(f"<b {i}>" for i in range(n)) + "".join(f"<i {i}>" for i in range(n))
                  + "x</b>" * n)  # fmt: skip


def nested_xhtml() -> bytes:
    xhtml = "<div>" * DEPTH_XHTML + "visa-free travel" + "</div>" * DEPTH_XHTML
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>t</title><entry><title>Visa waiver extended</title><id>urn:x:1</id>"
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        f"{xhtml}</div></content></entry></feed>"
    ).encode()


def empty_items() -> bytes:
    return RSS_HEAD + b"<item/>" * 1_000_000 + b"</channel></rss>"  # 7 MB: 330 MB to parse


def watching(tmp_path: Path, server: FeedServer, hostile: dict[str, bytes]) -> dict[str, str]:
    """The `hostile` bodies as feeds read only by the travel indicators, and two good feeds as
    the business indicators' feeds."""
    lines = ["feeds:"]
    bodies = hostile | {"yonhap": news.yonhap(T), "herald": news.herald(T)}
    for name, body in bodies.items():
        server.route(f"/{name}", body=body)
        tag = "search-travel" if name in hostile else "search-business"
        lines.append(f"  - {{id: {name}, url: '{server.url(f'/{name}')}', tags: [{tag}]}}")
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n")
    return shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}


def test_a_body_that_takes_a_parser_hours_fails_its_feed_and_holds_up_no_other(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, T)
    hostile = {
        "nested-html": nested_html(),
        "nested-xhtml": nested_xhtml(),
        "formatting": formatting(),
        "nested-lists": in_rss("<ul><li>" * 100_000 + "visa-free travel"),
        "nested-quotes": in_rss("<blockquote>" * DEPTH_HTML + "visa-free travel"),
    }
    env = watching(tmp_path, feed_server, hostile) | {"MONITOR_PARSE_TIMEOUT": "1s"}

    checked = invoke(["check"], env)
    status = invoke(["status", "--json"], env)
    shown = invoke(["status"], env)

    assert checked.exit_code == 0
    # Five bodies time out: none is left unparsed for want of restarts (4 per cycle).
    assert "monitor: check: 7 feeds checked, 0 not modified, 5 failed, " in checked.stderr
    for name in HOSTILE:
        assert f"feed {name} failed: {TIMEOUT}" in checked.stderr
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        feeds = {f.id: f for f in store.feeds()}
        stored = {e.feed_id for _id, e, _seen in store.entries_since(T - timedelta(days=1))}
    assert {name: feeds[name].last_error for name in HOSTILE} == dict.fromkeys(HOSTILE, TIMEOUT)
    assert stored == {"yonhap", "herald"}
    assert all(feeds[name].last_error in ("", None) for name in ("yonhap", "herald"))
    indicators = {i["id"]: i for i in json.loads(status.stdout)}
    for indicator in TRAVEL:  # never `quiet`: nothing was read
        assert indicators[indicator]["status"] == "unknown"
        assert f"nested-html: never read ({TIMEOUT})" in indicators[indicator]["reason"]
    for business in ("business-investment", "business-regulatory"):  # the good feeds: read
        assert indicators[business]["status"] == "quiet"
    for name in HOSTILE:
        assert f"feed {name}: failing: {TIMEOUT} (since " in shown.stdout


def test_a_body_whose_parse_takes_gigabytes_fails_its_feed_within_the_memory_limit(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, T)
    env = watching(tmp_path, feed_server, {"empty-items": empty_items()})
    env |= {"MONITOR_PARSE_MAX_MEMORY": "300000000"}

    checked = invoke(["check"], env)
    status = invoke(["status", "--json"], env)

    assert checked.exit_code == 0
    assert "monitor: check: 3 feeds checked, 0 not modified, 1 failed, " in checked.stderr
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        feeds = {f.id: f for f in store.feeds()}
        stored = {e.feed_id for _id, e, _seen in store.entries_since(T - timedelta(days=1))}
    # a MemoryError, or an allocation failing in C code as another error ("failed, likely …")
    failed = feeds["empty-items"].last_error
    assert failed.startswith(f"parse: {feed_server.url('/empty-items')}: ")
    assert OUT_OF_MEMORY in failed
    assert f"feed empty-items failed: {failed}" in checked.stderr
    assert stored == {"yonhap", "herald"}
    indicators = {i["id"]: i for i in json.loads(status.stdout)}
    for indicator in TRAVEL:
        assert indicators[indicator]["status"] == "unknown"
        assert "empty-items: never read (parse: " in indicators[indicator]["reason"]
        assert indicators[indicator]["unread_feeds"] == [
            {"feed": "empty-items", "why": "never_read", "since": None, "error": failed}
        ]  # the reason cuts the error at 80 characters: whole here


def test_a_body_that_times_out_alone_in_its_pool_fails_at_once(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The good bodies are parsed long before the nested one uses its second of CPU time: it is
    lost alone, and so is the one its worker timed out on (it ended the cycle with a
    ValueError, the daemon's every cycle)."""
    at(monkeypatch, T)
    hostile = {"nested-lists": in_rss("<ul><li>" * 100_000 + "visa-free travel")}
    env = watching(tmp_path, feed_server, hostile) | {"MONITOR_PARSE_TIMEOUT": "1s"}

    checked = invoke(["check"], env)

    assert checked.exit_code == 0
    assert "monitor: check: 3 feeds checked, 0 not modified, 1 failed, " in checked.stderr
    assert f"feed nested-lists failed: {TIMEOUT}" in checked.stderr


def test_a_gzip_file_served_as_the_feed_fails_saying_so(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .gz of a feed served as application/gzip, with no Content-Encoding: it is not
    inflated (nothing asked for it), and the feed fails naming it, not as text in a guessed
    charset that holds an invalid token."""
    at(monkeypatch, T)
    env = watching(tmp_path, feed_server, {"archive": gzip.compress(news.yonhap(T))})

    checked = invoke(["check"], env)

    failed = f"parse: {feed_server.url('/archive')}: not a feed ({GZIPPED})"
    assert f"feed archive failed: {failed}" in checked.stderr
    assert "monitor: check: 3 feeds checked, 0 not modified, 1 failed, " in checked.stderr


def _raises(job: ParseJob) -> Parsed:
    raise ValueError("[digital envelope routines] not able to copy ctx")


def test_whatever_a_parse_raises_fails_its_body_not_the_cycle_and_lifts_its_limits() -> None:
    """Under the memory limit an allocation failing in C code need not be a MemoryError (it was
    hashlib's ValueError in a check): raised from a worker, it ended the whole cycle. The
    limit holds during the parse only, so the worker can take its next body."""
    job = ParseJob(body=b"<rss/>", feed_id="f", url="http://user:pw@127.0.0.1/f")
    before = resource.getrlimit(resource.RLIMIT_AS)

    limited = parse_within(_raises, job, None, 3_000_000_000)
    unlimited = parse_within(_raises, job, None, None)

    assert isinstance(limited, ParseError) and isinstance(unlimited, ParseError)
    assert str(limited) == (
        f"parse: http://user:***@127.0.0.1/f: failed, likely {OUT_OF_MEMORY} "
        "(ValueError: [digital envelope routines] not able to copy ctx)"
    )
    assert str(unlimited) == (
        "parse: http://user:***@127.0.0.1/f: failed (ValueError: [digital envelope routines] "
        "not able to copy ctx)"
    )
    assert resource.getrlimit(resource.RLIMIT_AS) == before
