"""The digest's feed health as a reader reads it: how long a feed went unread in days, hours or
minutes, not a count of minutes. Real feeds on 127.0.0.1, a real SMTP server, time given."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.daily import send_daily_digest
from monitor.domain import Definitions, how_long
from monitor.statuses import begin_silence
from monitor.store import Store
from tests.feedserver import FeedServer
from tests.smtpserver import Received, running_smtp_server
from tests.test_daily import DAY, READ_BEFORE, at, check, definitions, settings, store

__all__ = ["definitions", "store"]  # fixtures


@pytest.mark.parametrize(
    ("gone", "said"),
    [
        (timedelta(seconds=20), "1m"),
        (timedelta(minutes=47), "47m"),
        (timedelta(hours=2, minutes=1), "2h"),
        (timedelta(hours=26, minutes=3), "1 day"),
        (timedelta(days=3, hours=5), "3 days"),
    ],
)
def test_how_long_rounds_down_to_the_largest_unit(gone: timedelta, said: str) -> None:
    assert how_long(gone) == said


def test_a_feed_unread_for_a_day_reads_so_in_the_digest(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Before, the line said `no successful fetch for 1563m`."""
    check(definitions, store, at(7) - timedelta(hours=26, minutes=3))
    with running_smtp_server() as smtp:
        result = send_daily_digest(
            definitions, store, settings(smtp, tmp_path), day=DAY, now=at(7), owner="test"
        )
    assert result.sent
    (received,) = smtp.messages
    body = received.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "yonhap: no successful fetch for 1 day (since 2026-01-05 04:57 UTC)" in text
    assert "1563m" not in text


def _text(received: Received) -> str:
    body = received.message.get_body(("plain",))
    assert body is not None
    return " ".join(body.get_content().split())  # as one line: the summary is wrapped


def test_a_day_without_a_change_says_what_was_read_and_a_day_nobody_read_says_so(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Before, both digests said only `No indicator changed since the last digest.` and
    `Nothing changed.`: a quiet day read the same as a day no feed was checked."""
    day2, day3 = DAY + timedelta(days=1), DAY + timedelta(days=2)
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="t").sent
        check(definitions, store, at(7, day2) - READ_BEFORE)  # the same news again
        assert send_daily_digest(definitions, store, s, day=day2, now=at(7, day2), owner="t").sent
        assert send_daily_digest(definitions, store, s, day=day3, now=at(7, day3), owner="t").sent
    first, quiet, unread = (_text(m) for m in smtp.messages)
    # the first digest ever: since when it lists changes, not "since the last digest"; and
    # monitoring began inside its span: since then, not the day before's digest time, when
    # nothing was watched
    assert "since the last digest" not in first and "2026-01-05" not in first
    assert "changed since monitoring began (2026-01-06 06:50 UTC)." in first
    assert (  # one cycle read both feeds: one check, not two; since when said once
        "changed since monitoring began (2026-01-06 06:50 UTC). The feeds were checked in 1"
        " cycle (2 feed reads), the last at 2026-01-06 06:50 UTC" in first
    )
    assert "No indicator changed since the last digest." in quiet
    assert (
        "The feeds were checked in 1 cycle (2 feed reads), the last at 2026-01-07 06:50 UTC,"
        " and brought no new item." in quiet
    )
    assert (
        "No indicator changed since the last digest. No feed was checked in that time: nothing"
        " new was read." in unread
    )
    assert "The feeds were checked" not in unread


def test_a_first_digest_of_monitoring_begun_before_its_span_says_since_the_span_began(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Monitoring began the day before (no digest went out since): its changes run from the
    day before's digest time, a time the feeds were watched."""
    check(definitions, store, at(7) - timedelta(hours=26))  # 2026-01-05 05:00: before 07:00
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="t").sent
    (first,) = (_text(m) for m in smtp.messages)
    assert "changed since 2026-01-05 07:00 UTC." in first
    assert "monitoring began" not in first


def test_a_digest_of_a_day_before_monitoring_began_says_nothing_was_watched_then(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """A new database's `monitor digest --send --date` of the day before said `No indicator
    changed since monitoring began (2026-01-06 09:00 UTC).` above `As they stood at 2026-01-06
    07:00 UTC`: "since" a moment after everything it covers."""
    check(definitions, store, at(9))  # monitoring begins 2026-01-06 09:00
    yesterday = DAY - timedelta(days=1)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        assert send_daily_digest(definitions, store, s, day=yesterday, now=at(10), owner="t").sent
    (text,) = (_text(m) for m in smtp.messages)
    assert "since monitoring began" not in text
    assert (
        "Nothing was monitored in the time this digest covers: monitoring began at 2026-01-06"
        " 09:00 UTC. No feed was checked in that time: nothing new was read." in text
    )


def test_a_past_day_before_monitoring_began_names_a_silence_by_its_title(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """A day before anything was monitored lists no standing status, and its silences were
    named by the indicator's id (`* visa-easing: until …`), where every other digest names them
    by title."""
    check(definitions, store, at(9))  # monitoring begins 2026-01-06 09:00
    begin_silence(definitions, store, target=("visa-easing", None), duration="7d",
                  reason="state visit", who="ana", now=at(9))  # fmt: skip
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        yesterday = DAY - timedelta(days=1)
        assert send_daily_digest(definitions, store, s, day=yesterday, now=at(10), owner="t").sent
    (text,) = (_text(m) for m in smtp.messages)
    said = "SILENCED -------- * Visa easing between China and South Korea: until 2026-01-13 09:00"
    assert said in text and "* visa-easing:" not in text
    (html,) = (m.message.get_body(("html",)).get_content() for m in smtp.messages)
    assert "Visa easing between China and South Korea" in html


@pytest.mark.parametrize(
    ("down", "said"),
    [
        (["/yonhap.xml", "/herald.xml"], r"\(6 feed reads, every one failed\)"),
        (["/yonhap.xml"], r"\(6 feed reads, 3 of them failed\)"),
    ],
)
def test_a_day_the_feeds_failed_says_how_many_reads_failed(
    definitions: Definitions, store: Store, tmp_path: Path, feed_server: FeedServer,
    down: list[str], said: str,
) -> None:  # fmt: skip
    """Before, a day every read failed said `The feeds were checked in 3 cycles (6 feed reads)
    since the last digest, …, and brought no new item.`, as a quiet day does."""
    day2 = DAY + timedelta(days=1)
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="t").sent
        for path in down:
            feed_server.route(path, status=503, body=b"down for maintenance")
        for hour in (8, 16):
            check(definitions, store, at(hour))
        check(definitions, store, at(7, day2) - READ_BEFORE)
        assert send_daily_digest(definitions, store, s, day=day2, now=at(7, day2), owner="t").sent
    text = _text(smtp.messages[1])
    assert re.search(rf"since the last digest\. The feeds were checked in 3 cycles {said}, ", text)
    subject = str(smtp.messages[1].message["Subject"])
    assert subject.endswith(", 7 unknown") == (len(down) == 2), subject
