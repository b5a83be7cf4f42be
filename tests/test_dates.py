"""Dates with a zone named by an abbreviation feedparser does not know (`monitor.dates`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.parse import parse_feed

# 09:30 in Seoul or Tokyo is 00:30 UTC; in Hong Kong, Singapore or Beijing 01:30.
SEOUL = datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
BEIJING = datetime(2026, 12, 4, 1, 30, tzinfo=UTC)


def rss(pub_date: str, language: str = "") -> bytes:
    tag = f"<language>{language}</language>" if language else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"{tag}<item><title>x</title><link>https://a.example/1</link>"
        f"<pubDate>{pub_date}</pubDate></item></channel></rss>"
    ).encode()


def published(pub_date: str, language: str = "") -> datetime | None:
    feed = parse_feed(rss(pub_date, language), feed_id="f", url="https://a.example/feed")
    return feed.entries[0].published


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        # feedparser read each of these as 09:30 UTC, nine or eight hours late
        ("Fri, 04 Dec 2026 09:30:00 KST", SEOUL),
        ("Fri, 04 Dec 2026 09:30 kst", SEOUL),
        ("04 Dec 2026 09:30:00 JST", SEOUL),
        ("Fri, 04 Dec 2026 09:30:00 HKT", BEIJING),
        ("Fri, 04 Dec 2026 09:30:00 SGT", BEIJING),
        ("Fri, 04 Dec 2026 09:30:00 CET", datetime(2026, 12, 4, 8, 30, tzinfo=UTC)),
        ("Fri, 04 Dec 2026 09:30:00 NZDT", datetime(2026, 12, 3, 20, 30, tzinfo=UTC)),
        # and these as the day alone (midnight UTC)
        ("2026-12-04 09:30:00 KST", SEOUL),
        ("2026/12/04 09:30 (KST)", SEOUL),
        ("2026년 12월 4일 09:30 KST", SEOUL),
    ],
)
def test_a_zone_feedparser_does_not_know_is_read(pub_date: str, expected: datetime) -> None:
    assert published(pub_date) == expected


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Fri, 04 Dec 2026 09:30:00 +0900 (KST)", SEOUL),  # the offset counts, not the comment
        ("Fri, 04 Dec 2026 09:30:00 +0900", SEOUL),
        ("Fri, 04 Dec 2026 09:30:00 EST", datetime(2026, 12, 4, 14, 30, tzinfo=UTC)),
        ("Fri, 04 Dec 2026 09:30:00 GMT", datetime(2026, 12, 4, 9, 30, tzinfo=UTC)),
        ("Fri, 04 Dec 2026 09:30:00 UTC", datetime(2026, 12, 4, 9, 30, tzinfo=UTC)),
        # India, Ireland or Israel: no zone can be told, so UTC as before
        ("Fri, 04 Dec 2026 09:30:00 IST", datetime(2026, 12, 4, 9, 30, tzinfo=UTC)),
        ("2026-12-04T09:30:00+09:00", SEOUL),
        ("2026-12-04 09:30:00", datetime(2026, 12, 4, 9, 30, tzinfo=UTC)),
    ],
)
def test_zones_feedparser_knows_are_read_as_before(pub_date: str, expected: datetime) -> None:
    assert published(pub_date) == expected


@pytest.mark.parametrize("language", ["zh-cn", "zh-CN", "zh_TW", "zh"])
def test_cst_in_a_chinese_feed_is_china_standard_time(language: str) -> None:
    # feedparser reads CST as US Central Time: 15:30 UTC, fourteen hours late.
    assert published("Fri, 04 Dec 2026 09:30:00 CST", language) == BEIJING
    assert published("2026-12-04 09:30:00 CST", language) == BEIJING


@pytest.mark.parametrize("language", ["", "en-us", "ko"])
def test_cst_elsewhere_is_us_central_time(language: str) -> None:
    central = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    assert published("Fri, 04 Dec 2026 09:30:00 CST", language) == central
    assert published("2026-12-04 09:30:00 CST", language) == central


def test_a_zone_name_that_is_no_date_ending_changes_nothing() -> None:
    # "KST" in a date feedparser cannot read leaves it undated, not shifted from nothing.
    assert published("KST sometime this morning") is None
