"""dates: when an item was published, from what its feed wrote and feedparser's reading of it.

feedparser reads most dates, but gets two kinds of them wrong, both common in the feeds this
service reads:

- A date written year first other than ISO 8601's — "2020/1/10 14:33:00" (Dvbbs and other
  Chinese CMSs), "2026.12.04 09:30", "2026年12月4日" — is read only in part, by its ISO 8601
  reader: the year, then the first of the month the feed is read in (a story of 10 January
  read in December is dated 1 December, and counts as fresh). They are read here; one with
  more than `_YEAR_FIRST` reads keeps feedparser's reading only when that is the day written.
- A zone named by an abbreviation feedparser does not know is read as UTC: "09:30:00 KST" is
  09:30 UTC, nine hours late (a Korean story of 08:00 read at 01:00 UTC would even be in the
  future), and "2026-12-04 09:30:00 KST" is the day alone. The zones of `NAMED_ZONES` are
  read here. "CST" is China Standard Time (UTC+8) in a feed in Chinese, and the US Central
  Time feedparser reads elsewhere; "IST" (India, Ireland or Israel) stays UTC.

A date without a zone is UTC. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

# Zone abbreviations feedparser does not know, in hours east of UTC: those the region's feeds
# write (Korea, Japan, Hong Kong, Singapore, the Philippines, Indochina, Indonesia, Western
# Australia), and Europe's, Moscow's, Australia's east and New Zealand's. Each names one zone
# wherever it is written; the ones that do not ("IST", "AST" in Arabia) are left out.
NAMED_ZONES: dict[str, float] = {
    "KST": 9,
    "JST": 9,
    "HKT": 8,
    "SGT": 8,
    "PHT": 8,
    "AWST": 8,
    "ICT": 7,
    "WIB": 7,
    "MSK": 3,
    "EET": 2,
    "EEST": 3,
    "CET": 1,
    "CEST": 2,
    "WET": 0,
    "WEST": 1,
    "BST": 1,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "NZDT": 13,
    "UTC": 0,
}
# "CST" in a feed whose language is Chinese: China Standard Time, not US Central Time (-6).
CHINA_STANDARD_TIME = 8
US_CENTRAL_TIME = -6

_ZONE_ENDS = (*NAMED_ZONES, "CST")
_ZONE_NAMES = "|".join(sorted(_ZONE_ENDS, key=len, reverse=True))
# A time of day then a zone abbreviation, at the end of the date: the zone feedparser's RFC 822
# reader took for UTC ("Fri, 04 Dec 2026 09:30:00 KST"). One after a numeric offset is a
# comment ("+0900 (KST)"), and feedparser reads the offset.
_NAMED_ZONE = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*\(?(?P<name>" + _ZONE_NAMES + r")\)?$", re.IGNORECASE
)

_YEAR_FIRST = re.compile(
    r"(?P<year>\d{4})\s*[-/.年년]\s*(?P<month>\d{1,2})\s*[-/.月월]\s*(?P<day>\d{1,2})(?:\s*[.日일])?"
    r"(?:(?:T|\s+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?"
    r"(?:\s*(?P<zone>Z|GMT|(?P<sign>[+-])(?P<zone_hours>\d{2}):?(?P<zone_minutes>\d{2})?"
    r"|\(?(?P<name>" + _ZONE_NAMES + r")\)?))?",
    re.IGNORECASE,
)


def published(raw: str, stamp: Any, *, language: str = "") -> datetime | None:
    """The moment a feed's date `raw` names, in UTC, given feedparser's reading of it (`stamp`,
    its UTC time tuple, or None) and the feed's language; None when it names none."""
    written = _YEAR_FIRST.match(raw)
    if written is not None and (whole := _YEAR_FIRST.fullmatch(raw)) is not None:
        return _year_first(whole, language)  # read here: feedparser's reading is not needed
    when = _moment(stamp)
    if written is not None and not _near(when, written):  # feedparser made the date up
        return None
    if when is not None and raw.rstrip(") ").upper().endswith(_ZONE_ENDS):
        named = _NAMED_ZONE.search(raw)  # scans the whole date: only for one that ends so
        if named is not None:
            return when - _correction(named["name"], language)
    return when


def _zone_hours(name: str, language: str) -> float:
    """Hours east of UTC of a zone abbreviation (CST: China's in a Chinese feed)."""
    name = name.upper()
    if name == "CST":
        return CHINA_STANDARD_TIME if _chinese(language) else US_CENTRAL_TIME
    return NAMED_ZONES[name]


def _correction(name: str, language: str) -> timedelta:
    """What to take off feedparser's reading of a time in zone `name`: it read a zone it does
    not know as UTC, and CST as US Central Time."""
    read_as = US_CENTRAL_TIME if name.upper() == "CST" else 0
    return timedelta(hours=_zone_hours(name, language) - read_as)


def _chinese(language: str) -> bool:
    return language.strip().lower().replace("_", "-").split("-")[0] == "zh"


def _moment(stamp: Any) -> datetime | None:
    """feedparser's time tuple (UTC) as a datetime; None when it is none or no date."""
    if stamp is None:
        return None
    try:
        year, month, day, hour, minute, second = stamp[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _year_first(written: re.Match[str], language: str) -> datetime | None:
    """The moment a whole `_YEAR_FIRST` date names, in UTC; None when it names none."""
    fields = ("year", "month", "day", "hour", "minute", "second", "zone_hours", "zone_minutes")
    year, month, day, hour, minute, second, zone_hours, zone_minutes = (
        int(value or 0) for value in written.group(*fields)
    )
    offset = timedelta(hours=zone_hours, minutes=zone_minutes)
    if written["sign"] == "-":
        offset = -offset
    if written["name"]:
        offset = timedelta(hours=_zone_hours(written["name"], language))
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC) - offset
    except (ValueError, OverflowError):
        return None


def _near(when: datetime | None, written: re.Match[str]) -> bool:
    """Whether `when` is on the day a date written year first names, or the day before or after
    (its zone moves it)."""
    try:
        day = date(int(written["year"]), int(written["month"]), int(written["day"]))
    except ValueError:
        return False
    return when is not None and abs(when.date() - day) <= timedelta(days=1)
