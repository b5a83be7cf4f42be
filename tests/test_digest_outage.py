"""The digest of a day every feed failed, as a reader reads it: why the indicators are unknown
said once, under feed health, each one naming its feeds and pointing there; and "since the
last digest" said once at the top. Real feeds on 127.0.0.1, a real SMTP server, time given."""

from __future__ import annotations

import html as markup
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from monitor.daily import send_daily_digest
from monitor.domain import Definitions, Feed
from monitor.settings import Settings
from monitor.store import Store
from tests import news
from tests.feedserver import FeedServer
from tests.smtpserver import running_smtp_server
from tests.test_daily import DAY, READ_BEFORE, at, check, definitions, settings, store

__all__ = ["definitions", "store"]  # fixtures

ERROR = "HTTP 503 Service Unavailable"
POINTER = "feeds not read: yonhap, herald; see “7 indicators unknown” under feed health, below"


def _parts(message: EmailMessage) -> dict[str, str]:
    """Each part as a reader reads it, on one line: the HTML without its tags."""
    parts = {}
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        text = body.get_content()
        if kind == "html":
            text = markup.unescape(re.sub(r"<[^>]+>", " ", text)).replace(" :", ":")
        parts[kind] = " ".join(text.split())
    return parts


def test_a_day_the_feeds_died_says_why_once(
    definitions: Definitions, store: Store, tmp_path: Path, feed_server: FeedServer
) -> None:
    """Before, each of the 7 unknown indicators carried the whole `feeds not read: yonhap:
    failing since … (fetch: HTTP 503 Service Unavailable); herald: …` under its change, under
    its standing status and again under feed health: each feed's error 23 times in a part."""
    day2 = DAY + timedelta(days=1)
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="t").sent
        for path in ("/yonhap.xml", "/herald.xml"):
            feed_server.route(path, status=503, body=b"down for maintenance")
        for hour in (8, 16):
            check(definitions, store, at(hour))
        check(definitions, store, at(7, day2) - READ_BEFORE)
        assert send_daily_digest(definitions, store, s, day=day2, now=at(7, day2), owner="t").sent
    titles = [i.title for i in definitions.indicators]
    assert len(titles) == 7
    for kind, text in _parts(smtp.messages[1].message).items():
        heads = ("Standing status", "Feed health") if kind == "html" else ("STANDING", "FEED H")
        changed, health = text[: text.index(heads[0])], text[text.index(heads[1]) :]
        # each feed's error once, in its own line under feed health
        assert text.count(ERROR) == 2, kind
        for feed in ("yonhap", "herald"):
            line = f"{feed}: failing: fetch: {ERROR} (since 2026-01-06 08:00 UTC)"
            assert health.count(line) == 1, kind
        # every unknown names its feeds and points to the one entry, under its change and its
        # standing status
        assert text.count(POINTER) == 14, kind
        assert changed.count(POINTER) == 7, kind
        entry = "7 indicators unknown since 2026-01-06 08:30 UTC: feeds not read: yonhap, herald"
        assert health.count(entry) == 1, kind
        after = health[health.index(entry) :]
        assert all(title in after for title in titles), kind
        assert "status unknown since" not in health, kind
        # the span said once, at the top
        assert text.count("since the last digest") == 1, kind
        assert (
            "7 indicators changed since the last digest. The feeds were checked in 3 cycles"
            " (6 feed reads, every one failed), the last at 2026-01-07 06:50 UTC" in text
        ), kind


def _feeds_die(
    definitions: Definitions, store: Store, feed_server: FeedServer, s: Settings
) -> None:
    """DAY's digest goes out with every feed read; at 08:00 both feeds fail, for good, and by
    noon the checks have made the 7 indicators unknown."""
    check(definitions, store, at(7) - READ_BEFORE)
    assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="t").sent
    for path in ("/yonhap.xml", "/herald.xml"):
        feed_server.route(path, status=503, body=b"down for maintenance")
    for hour in (8, 12):
        check(definitions, store, at(hour))


def test_a_change_points_to_the_outage_entry_only_when_the_entry_lists_its_indicator(
    definitions: Definitions, store: Store, tmp_path: Path, feed_server: FeedServer
) -> None:
    """All 7 go unknown at 08:30 for the same feeds; at 16:00 the feeds file gains a feed that
    North Korea's indicator reads, and it is read: that indicator is no longer unknown, and
    the outage entry lists the other 6. Before, its 08:30 change still read "see “6
    indicators unknown” under feed health", an entry that does not name it; now it says its
    own reason, the feeds and their errors."""
    day2 = DAY + timedelta(days=1)
    feed_server.route("/kcna.xml", body=news.rss("KCNA Watch", []))
    kcna = Feed("kcna", feed_server.url("/kcna.xml"), ("search-northkorea",))
    wider = Definitions(definitions.indicators, (*definitions.feeds, kcna), definitions.hash)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        _feeds_die(definitions, store, feed_server, s)
        check(wider, store, at(16))
        check(wider, store, at(7, day2) - READ_BEFORE)
        assert send_daily_digest(wider, store, s, day=day2, now=at(7, day2), owner="t").sent
    north = definitions.indicator("north-korea-stance").title
    own = (
        "feeds not read: yonhap: failing since 2026-01-06 08:00 UTC (fetch: HTTP 503 Service"
        " Unavailable); herald: failing since 2026-01-06 08:00 UTC (fetch: HTTP 503 Service"
        " Unavailable)"
    )
    pointer = POINTER.replace("7 indicators", "6 indicators")
    for kind, text in _parts(smtp.messages[1].message).items():
        heads = ("Standing status", "Feed health") if kind == "html" else ("STANDING", "FEED H")
        changed, health = text[: text.index(heads[0])], text[text.index(heads[1]) :]
        entry = health[health.index("6 indicators unknown") :]
        assert north not in entry, kind  # the entry lists the 6 still unknown
        went = _said_of(north, changed, [i.title for i in wider.indicators])  # its first change
        assert "⚠ unknown" in went and own in went, kind
        assert "under feed health" not in went, kind
        assert changed.count(pointer) == 6, kind  # each of the others points there


def test_a_past_day_s_digest_built_again_names_the_feeds_the_first_one_named(
    definitions: Definitions, store: Store, tmp_path: Path, feed_server: FeedServer
) -> None:
    """Sent again with --force after its day (its standing statuses then worked out from the
    changes recorded), the digest of a day the feeds died names the feeds under each change
    and standing status, and in the outage entry, as the one sent that day did. Before, the
    rebuilt one's said "feeds not read: listed in “7 indicators unknown” …" and the entry
    the first reason whole: the feeds kept with the changes were not passed on."""
    day2 = DAY + timedelta(days=1)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        _feeds_die(definitions, store, feed_server, s)
        check(definitions, store, at(16))
        check(definitions, store, at(7, day2) - READ_BEFORE)
        assert send_daily_digest(definitions, store, s, day=day2, now=at(7, day2), owner="t").sent
        again = send_daily_digest(
            definitions, store, s, day=day2, now=at(9, day2), owner="t", force=True
        )
        assert again.sent
    first, rebuilt = (_parts(m.message) for m in smtp.messages[1:])
    entry = "7 indicators unknown since 2026-01-06 08:30 UTC: feeds not read: yonhap, herald"
    for kind in ("plain", "html"):
        for said in (first[kind], rebuilt[kind]):
            assert said.count(POINTER) == 14, kind
            assert entry in said, kind
        standing = [p[p.index("STANDING" if kind == "plain" else "Standing status") :]
                    for p in (first[kind], rebuilt[kind])]  # fmt: skip
        assert _without_times(standing[0]) == _without_times(standing[1]), kind


def _said_of(title: str, text: str, titles: list[str]) -> str:
    """What `text` says under the first mention of `title`, up to the next title's."""
    start = text.index(title) + len(title)
    return text[start : min(i for t in titles if (i := text.find(t, start)) >= 0)]


def _without_times(text: str) -> str:
    """A part's words but when it was built and the line a past day's says of when its
    statuses stood (`As they stood at …`), which the first one, built that day, did not say."""
    text = re.sub(r"As they stood at [^.]*\. ", "", text)
    return re.sub(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "Generated", text)
