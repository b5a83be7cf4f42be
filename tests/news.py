"""RSS bodies for tests: China–South Korea headlines the shipped indicators match."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    published: datetime | None = None
    description: str = ""
    guid: str | None = None


def rss(title: str, items: list[Item]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link>",
        "<description>test feed</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title><link>{escape(item.link)}</link>")
        parts.append(f"<guid>{escape(item.guid or item.link)}</guid>")
        if item.published is not None:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


VISA_YONHAP = "China extends visa-free entry for South Korean visitors to 30 days"
VISA_HERALD = "South Korea launches visa-free entry for Chinese tour groups"
FLIGHTS = "Korean Air resumes Incheon–Shanghai flights after three-year hiatus"
GENERAL = "Seoul stocks close higher on chip rally"


def yonhap(published: datetime) -> bytes:
    return rss(
        "Yonhap",
        [
            Item(VISA_YONHAP, "https://en.yna.co.kr/view/AEN1", published),
            Item(FLIGHTS, "https://en.yna.co.kr/view/AEN2", published),
            Item(GENERAL, "https://en.yna.co.kr/view/AEN3", published),
        ],
    )


def herald(published: datetime) -> bytes:
    return rss(
        "Korea Herald",
        [
            Item(VISA_HERALD, "https://www.koreaherald.com/article/1", published),
            # the Yonhap flights story, syndicated: one story, counted once
            Item(FLIGHTS, "https://www.koreaherald.com/article/2", published),
        ],
    )
