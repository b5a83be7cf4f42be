"""A hostile headline, on SQLite and PostgreSQL: control characters in a feed's items never reach
the store. PostgreSQL refuses a NUL in text, and the entries of all the feeds a cycle reads are
stored in one batch, so one such headline used to keep every feed's news out, cycle after cycle;
a right-to-left override turned the rest of a headline around on the page."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import daily, digest
from monitor.domain import Definitions
from monitor.fetch import MAX_ERROR_CHARS, clip_error
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from tests import news, storeops, twofeeds
from tests.feedserver import FeedServer, _RequestHandler
from tests.twofeeds import LOCAL_LINK, WIRE, WIRE_LINK

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
HOSTILE = "Seoul and Beijing agree visa waiver\x00 for\x01 tour \u202egroups\u2066"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def rss(title: str, link: str, guid: str, description: str) -> bytes:
    """An RSS item written raw: the control characters are in the bytes, as a broken CMS
    sends them (the XML is then ill-formed, and read by feedparser's lenient parser)."""
    item = (
        f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
        f"<description>{description}</description></item>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"{item}</channel></rss>"
    ).encode()


def test_control_characters_are_dropped_and_every_feed_is_stored(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    definitions: Definitions = twofeeds.definitions(
        tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml")
    )
    ctx = twofeeds.context(definitions, store, now=NOW)
    description = "&lt;p&gt;a&amp;#1;b\x00&lt;/p&gt;"  # "&#1;" in HTML, and a NUL
    hostile = rss(HOSTILE, LOCAL_LINK + "\x00", "guid-\x00\u202e1", description)
    feed_server.route("/a.xml", body=hostile)
    feed_server.route("/b.xml", body=news.rss("b", [twofeeds.wire(NOW - HOUR)]))

    report = run_cycle(ctx, now=NOW)

    assert (report.failed, report.new_entries) == (0, 2), report.errors
    entries = {e.feed_id: e for _, e, _ in store.entries_since(NOW - HOUR)}
    assert sorted(entries) == ["a", "b"]
    a = entries["a"]
    assert a.title == "Seoul and Beijing agree visa waiver for tour groups"
    assert (a.link, a.guid, a.text) == (LOCAL_LINK, "guid-1", "ab")
    assert entries["b"].title == WIRE
    shown = [a.title, a.text, a.link, a.guid]
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for text in shown for c in text)
    # the cleaned headline is evidence like any other
    evidence = storeops.evidence(store, ["reads-a"], NOW - HOUR)["reads-a"]
    assert [(e.title, e.link) for e in evidence] == [(a.title, LOCAL_LINK)]
    wire = storeops.evidence(store, ["reads-b"], NOW - HOUR)["reads-b"]
    assert [e.link for e in wire] == [WIRE_LINK]


ESCAPES = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen; set the terminal's title


def answer_500(handler: _RequestHandler) -> None:
    """An error whose reason phrase carries escape sequences (HTTP lets a server send them)."""
    handler.wfile.write(
        f"HTTP/1.1 500 Oops{ESCAPES} \x7fmore\r\nContent-Length: 0\r\n\r\n".encode("latin-1")
    )


def test_escape_sequences_of_a_server_reach_neither_the_log_nor_the_store_nor_the_digest(
    tmp_path: Path, feed_server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A server chooses the reason phrase of its error and the charset of its Content-Type; both
    go into the feed's error or warning, which is logged (a terminal runs what it is sent),
    stored, and shown by `monitor digest --preview` and on the page."""
    definitions = twofeeds.definitions(
        tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml")
    )
    ctx = twofeeds.context(definitions, store, now=NOW)
    feed_server.route("/a.xml", answer_500)
    body = news.rss("b", [twofeeds.wire(NOW - HOUR)]).replace(b"utf-8", b"windows-1252")
    feed_server.route(
        "/b.xml",
        body=body.replace(b"visa", "vis\u00e4".encode()),  # not ASCII: the charsets are compared
        headers={"Content-Type": f"application/rss+xml; charset=utf{ESCAPES}-8"},
    )

    with caplog.at_level(logging.WARNING, logger="monitor"):
        run_cycle(ctx, now=NOW)

    feeds = {f.id: f for f in store.feeds()}
    error, warning = feeds["a"].last_error, feeds["b"].warning
    assert error == "fetch: HTTP 500 Oops[2J]0;pwned more"
    assert warning == (
        "charsets disagree: read as windows-1252; the server says utf[2j]0, the feed declares "
        "windows-1252"
    )
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("feed ")]
    assert f"feed a failed: {error}" in logged
    assert f"feed b was read with a warning: {warning}" in logged
    data = daily.digest_input(definitions, store, day=NOW.date(), now=NOW, timezone="UTC")
    shown = [*logged, *digest.render(data)]
    assert not [c for text in shown for c in text if unicodedata.category(c) == "Cc" and c != "\n"]


def test_a_feed_error_is_one_line_in_the_log() -> None:
    """A library's message may hold a line break (and an error is cut to its length after)."""
    assert clip_error("not a feed:\n  line 2\r\n\u2028of it") == "not a feed: line 2 of it"
    assert clip_error("x\x1b" * 600) == "x" * (MAX_ERROR_CHARS - 1) + "…"
