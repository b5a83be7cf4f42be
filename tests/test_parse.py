"""parse against feed fixtures (tests/data/feeds/) and the shared corpus of real feeds."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import charsets
from monitor.domain import Entry
from monitor.errors import ParseError
from monitor.identity import another_item, distinct_items
from monitor.parse import ParsedFeed, html_to_text, parse_feed, publisher_of

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"
SHARED = Path(__file__).resolve().parents[2] / "shared"
FEED_URL = "https://www.example-news.co.kr/rss/feed.xml"


def parse(name: str, content_type: str | None = None) -> ParsedFeed:
    body = (FEEDS / name).read_bytes()
    return parse_feed(body, feed_id="test", url=FEED_URL, content_type=content_type)


SHARED_GUID = (
    "1 item shares the guid of an earlier one: stored as stories of their own, told apart by "
    "headline"
)


def by_guid(feed: ParsedFeed) -> dict[str, Entry]:
    return {entry.guid: entry for entry in feed.entries}


# ---------------------------------------------------------------- RSS 2.0


def test_rss2_feed_and_first_entry() -> None:
    feed = parse("rss2.xml")
    assert feed.title == "Example News & Views"
    assert feed.link == "https://www.example-news.co.kr/"
    assert feed.warning == SHARED_GUID
    first = feed.entries[0]
    assert first == Entry(
        feed_id="test",
        guid="yna-1",
        link="https://en.yna.co.kr/view/AEN20260105000100315",
        title="Xi tells Lee China will enforce UN sanctions",
        text=(
            "Chinese President Xi Jinping told President Lee Jae-myung on Monday that "
            "Beijing would enforce sanctions.\none\ntwo"
        ),
        published=datetime(2026, 1, 5, 0, 30, tzinfo=UTC),
        publisher="yna.co.kr",
    )


def test_rss2_text_is_the_longest_of_content_and_summary_without_scripts() -> None:
    text = parse("rss2.xml").entries[0].text
    assert "enable js" not in text  # <noscript> dropped
    assert "alert" not in text and "color" not in text  # the summary's <script>/<style>
    assert "<" not in text


def test_rss2_cjk_text_and_relative_link() -> None:
    entries = by_guid(parse("rss2.xml"))
    korean = entries["https://www.example-news.co.kr/news/2026/01/05/korea.html"]
    assert korean.title == "시진핑, 이재명 대통령과 정상회담…북한 문제 논의"
    assert korean.link == "https://www.example-news.co.kr/news/2026/01/05/korea.html"
    assert korean.text.startswith("중국 시진핑 국가주석은")
    assert korean.publisher == "example-news.co.kr"
    assert entries["gt-1000001"].title == "习近平会见韩国总统李在明"
    assert entries["gt-1000001"].publisher == "globaltimes.cn"
    assert entries["yahoo-abc123"].title == "中国の習近平国家主席、韓国の李在明大統領と会談"
    assert entries["yahoo-abc123"].publisher == "yahoo.co.jp"


def test_rss2_dates_bad_and_future() -> None:
    entries = by_guid(parse("rss2.xml"))
    assert entries["gt-1000001"].published is None  # "not a date at all"
    assert entries["yahoo-abc123"].published == datetime(2100, 1, 1, tzinfo=UTC)  # kept as is


def rss_dated(pub_date: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>x</title><link>https://a.example/1</link><pubDate>{pub_date}</pubDate>"
        "</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("pub_date", "published"),
    [
        ("2020/1/10 14:33:00", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),  # Dvbbs (kc0011)
        ("2026/01/05 09:30:00 +0900", datetime(2026, 1, 5, 0, 30, tzinfo=UTC)),
        ("2026.1.5 09:30", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026.01.05", datetime(2026, 1, 5, tzinfo=UTC)),
        ("2026年1月5日 09:30", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05T09:30:00+09:00", datetime(2026, 1, 5, 0, 30, tzinfo=UTC)),
        ("2004년 05월 28일 01:31:15", datetime(2004, 5, 28, 1, 31, 15, tzinfo=UTC)),
        ("2026/1/10 by the editors", None),  # not a date as a whole
        ("2026/13/45", None),
    ],
)
def test_a_date_written_year_first_is_the_day_written(
    pub_date: str, published: datetime | None
) -> None:
    # feedparser reads "2020/1/10 …" as the year alone and makes up the rest: the first of
    # the month the feed is read in, so January's news read in December would be fresh.
    feed = parse_feed(rss_dated(pub_date), feed_id="f", url=FEED_URL)
    assert feed.entries[0].published == published


def test_rss2_another_story_under_an_earlier_guid_is_kept_too() -> None:
    feed = parse("rss2.xml")
    first, other = [e for e in feed.entries if e.guid == "yna-1"]
    assert first.title.startswith("Xi tells Lee")
    assert (other.title, other.link) == (
        "Duplicate guid: another story under the first one's guid",
        "https://en.yna.co.kr/view/other",
    )
    assert first.reused_key != other.reused_key  # the store keeps each under its own
    assert feed.warning == SHARED_GUID  # kept, but told apart by headline alone


def test_the_same_item_twice_is_no_fault() -> None:
    item = "<item><guid>g</guid><title>Same story</title></item>"
    body = f"<rss version='2.0'><channel>{item}{item}</channel></rss>".encode()
    feed = parse_feed(body, feed_id="f", url="https://e.org/")
    assert (len(feed.entries), feed.warning) == (1, "")


def test_stories_under_one_link_are_each_kept_once() -> None:
    """No guids, one link on every item (the site's front page): each story is kept, told
    apart by headline; a headline edited over the same text is the same item."""

    def item(title: str, text: str) -> str:
        return f"<item><title>{title}</title><link>/</link><description>{text}</description></item>"

    items = [
        item("Seoul eases visas for Chinese tour groups", "Groups may enter without a visa."),
        item("Busan port sees tourists return", "Ferries from Qingdao arrived."),
        item("Seoul eases visas for Chinese tourist groups", "Groups may enter without a visa."),
        item("Busan port sees tourists return!", "Ferries from Qingdao arrived today."),
    ]
    body = f"<rss version='2.0'><channel>{''.join(items)}</channel></rss>".encode()
    feed = parse_feed(body, feed_id="f", url="https://e.org/")
    assert [(e.title, e.link) for e in feed.entries] == [
        ("Seoul eases visas for Chinese tour groups", "https://e.org/"),
        ("Busan port sees tourists return", "https://e.org/"),
    ]
    assert feed.warning == (
        "1 item shares the link of an earlier one: stored as stories of their own, told apart "
        "by headline"
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["g1", "g2"]),
            st.sampled_from(["", "Visa deal", "visa deal!", "Visa deals", "Ferry", "?"]),
            st.sampled_from(["", "text a", "text b"]),
        ),
        max_size=12,
    )
)
def test_items_kept_under_one_key_are_those_another_item_tells_apart(
    items: list[tuple[str, str, str]],
) -> None:
    """What a body keeps (and the store stores) under one guid is each item that is another
    story (`another_item`) than every one kept before it: one rule, whatever the order."""
    entries = [Entry("f", guid, "", title, text, None, "") for guid, title, text in items]
    kept: dict[str, list[Entry]] = {}
    for entry in entries:
        under = kept.setdefault(entry.key, [])
        if all(another_item(earlier, entry) for earlier in under):
            under.append(entry)
    assert distinct_items(entries) == kept


def test_rss2_entries_missing_fields_still_parse() -> None:
    feed = parse("rss2.xml")
    assert len(feed.entries) == 7
    no_title, only_title = feed.entries[-2:]
    assert (no_title.guid, no_title.link, no_title.title) == ("", "", "")
    assert no_title.text == "An item with neither title nor link nor guid."
    assert no_title.publisher == "example-news.co.kr"  # the feed's own domain
    assert (only_title.title, only_title.text, only_title.published) == ("Only a title", "", None)
    assert no_title.key != only_title.key


def rss_titled(title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><link>https://a.example/1</link></item></channel></rss>"
    ).encode()


def atom_titled(title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>t</title><id>urn:t</id><updated>2026-01-05T00:00:00Z</updated><entry>"
        f'<title type="text">{title}</title><id>urn:1</id><link href="https://a.example/1"/>'
        "<updated>2026-01-05T00:00:00Z</updated></entry></feed>"
    ).encode()


@pytest.mark.parametrize("feed", [rss_titled, atom_titled])
@pytest.mark.parametrize(
    ("title", "read"),
    [
        ("SBS &lt;Running Man&gt; 중국 방영 재개", "SBS <Running Man> 중국 방영 재개"),
        ("&lt;Squid Game&gt; tops the charts in China", "<Squid Game> tops the charts in China"),
        ("Why x&lt;y matters", "Why x<y matters"),
        ("Seoul&lt;br&gt;and Beijing", "Seoul and Beijing"),  # an HTML tag all the same
        ("&lt;img src='x.jpg'&gt;Seoul and Beijing", "Seoul and Beijing"),
    ],
)
def test_a_plain_text_title_keeps_the_angle_brackets_that_open_no_html_tag(
    feed: Callable[[str], bytes], title: str, read: str
) -> None:
    # Korean outlets bracket a programme's name: "<Running Man>" is no tag, and was dropped.
    assert parse_feed(feed(title), feed_id="f", url=FEED_URL).entries[0].title == read


# ---------------------------------------------------------------- Atom and RDF


def test_atom() -> None:
    feed = parse("atom.xml")
    assert feed.title == "Atom Example"  # type="html" title
    assert feed.link == "https://www.bbc.co.uk/news"
    first, second, third = feed.entries
    assert first.guid == "urn:bbc:world-asia-1"
    assert first.published == datetime(2026, 1, 5, 23, 15, tzinfo=UTC)  # +09:00 -> UTC
    assert first.text == "The launch came hours after the summit ended."  # content beats summary
    assert first.publisher == "bbc.co.uk"
    assert second.title == "China calls for restraint"  # xhtml title
    assert second.text == "Beijing urged all sides to show restraint.\nIt called for dialogue."
    assert second.published == datetime(2026, 1, 6, 11, 0, tzinfo=UTC)  # from <updated>
    assert second.link == "https://www.example-news.co.kr/rss/world-asia-2"  # relative
    assert third.published is None
    assert third.text == "Plain text summary\nover two lines."
    assert third.publisher == "bbc.com"


def test_rdf() -> None:
    feed = parse("rdf.xml")
    assert feed.title == "RDF Example"
    first, second = feed.entries
    assert first.title == "China, South Korea agree to boost trade"
    assert first.guid == first.link == "https://www.globaltimes.cn/page/1.shtml"
    assert first.published == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert first.publisher == "globaltimes.cn"
    assert second.text == ""
    assert second.published is None or second.published.tzinfo is UTC  # 30 Feb 25:00


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("name", "content_type", "title", "text"),
    [
        ("rss-windows-1252.xml", None, "Café “quoted” – naïve", "Prix 5 € — déjà vu"),
        ("rss-euc-kr.xml", None, "북한 비핵화 회담", "중국과 한국은 대화를 강조했다"),
        ("rss-gb2312.xml", None, "中国与韩国领导人会谈", "双方讨论了朝鲜半岛局势"),
        ("rss-utf16.xml", None, "日本と韓国の首脳会談", "北朝鮮のミサイル発射について"),
        (
            "rss-euc-kr-no-declaration.xml",
            "application/rss+xml; charset=EUC-KR",
            "북한 비핵화 회담",
            "중국과 한국은 대화를 강조했다",
        ),
    ],
)
def test_encodings(name: str, content_type: str | None, title: str, text: str) -> None:
    feed = parse(name, content_type)
    [entry] = feed.entries
    assert (feed.title, entry.title, entry.text) == (title, title, text)
    assert entry.link == "https://example.org/1" and entry.publisher == "example.org"


def _euc_kr(*, declared: bool, before: bytes = b"") -> bytes:
    """A Korean feed in EUC-KR, with or without an XML declaration saying so."""
    head = '<?xml version="1.0" encoding="euc-kr"?>\n' if declared else ""
    text = head + (
        '<rss version="2.0"><channel><title>연합뉴스</title><item>'
        "<title>중국, 한국인 무비자 입국 연장</title><link>https://example.org/1</link>"
        "</item></channel></rss>"
    )
    return before + text.encode("euc-kr")


def _utf16_with_bom() -> bytes:
    text = _euc_kr(declared=True).decode("euc-kr").replace('encoding="euc-kr"', 'encoding="utf-16"')
    return text.encode("utf-16")  # with its byte order mark


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_euc_kr(declared=False), "text/xml"),  # no charset anywhere: detected
        (_euc_kr(declared=False), "application/rss+xml"),
        (_euc_kr(declared=True), "text/xml; charset=iso-8859-1"),  # a server's default charset
        (_euc_kr(declared=True, before=b"\r\n"), "text/xml"),  # a line break before it
        (_euc_kr(declared=True, before=b" \n"), None),
        (_utf16_with_bom(), "text/xml; charset=iso-8859-1"),  # the mark wins over the header
    ],
    ids=[
        "undeclared-text-xml",
        "undeclared-rss",
        "server-default-charset",
        "crlf-first",
        "blank",
        "bom-over-header",
    ],
)
def test_a_korean_feed_whose_charset_is_hidden_or_contradicted_is_read_in_it(
    body: bytes, content_type: str | None
) -> None:
    """Read as windows-1252 these were mojibake that no rule matched: `quiet`, on a healthy feed."""
    feed = parse_feed(body, feed_id="f", url="https://example.org/rss", content_type=content_type)
    assert [e.title for e in feed.entries] == ["중국, 한국인 무비자 입국 연장"]
    assert feed.title == "연합뉴스"


@pytest.mark.parametrize("content_type", ["application/rss+xml; charset=utf-8", None])
def test_a_stray_byte_in_a_utf8_feed_is_replaced_not_the_whole_feed_misread(
    content_type: str | None,
) -> None:
    """One byte that is not UTF-8 (a CMS's smart quote) made feedparser read the whole feed as
    iso-8859-2, after chardet over all of it: mojibake that no rule matched."""
    items = "".join(
        f"<item><title>중국, 한국인 무비자 입국 {n}일 연장</title><link>https://e.org/{n}</link>"
        "</item>"
        for n in range(200)
    )
    text = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Yonhap '
    body = (text + f"</title>{items}</channel></rss>").encode().replace(b"Yonhap ", b"Yonhap \x92")
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type=content_type)
    assert (
        feed.title == "Yonhap \ufffd"
        and feed.entries[7].title == "중국, 한국인 무비자 입국 7일 연장"
    )
    assert feed.warning == "1 byte that is not UTF-8 replaced"


def test_utf8_served_as_text_xml_without_a_charset_is_no_fault() -> None:
    """RFC 7303: text/xml without a charset is read by its declaration (RFC 3023's us-ascii
    default made every such feed log "declared as us-ascii, but parsed as utf-8")."""
    body = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><item>'
    body += "<title>中韩签证</title><link>https://example.org/1</link></item></channel></rss>"
    feed = parse_feed(body.encode(), feed_id="f", url="https://e.org/", content_type="text/xml")
    assert (feed.warning, [e.title for e in feed.entries]) == ("", ["中韩签证"])


JAPANESE = "日本政府は本日、北朝鮮の弾道ミサイル発射について声明を発表した"
CHINESE = "中華民國總統府今天就兩岸關係發表聲明"


def _rss(title: str, charset: str, declared: str | None = None, tail: str = "") -> bytes:
    head = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    text = f'{head}<rss version="2.0"><channel><title>t</title><item><guid>1</guid>'
    return (text + f"<title>{title}</title></item>{tail}</channel></rss>").encode(charset)


GUESSED = "charset guessed: read as shift_jis; the feed names none"


@pytest.mark.parametrize(
    ("body", "content_type", "warning"),
    [
        (_rss(JAPANESE, "shift_jis"), "text/xml", GUESSED),
        (_rss(JAPANESE, "shift_jis"), None, GUESSED),
        (_rss(JAPANESE, "shift_jis", tail="<x>&</x>"), "text/xml", f"{GUESSED}; line 1, column "),
        (_rss(JAPANESE, "shift_jis", "shift_jis"), "text/xml; charset=utf-8",
         "charsets disagree: read as shift_jis; the server says utf-8, "
         "the feed declares shift_jis"),
        (_rss(CHINESE, "big5", "big5"), "text/xml; charset=gb2312",
         "charsets disagree: read as gb18030; the server says gb2312, the feed declares big5"),
    ],
    ids=["undeclared", "no-content-type", "undeclared-and-ill-formed", "declared-over-header",
         "header-over-declared"],
)  # fmt: skip
def test_a_charset_guessed_or_contradicted_says_which_the_feed_was_read_in(
    body: bytes, content_type: str | None, warning: str
) -> None:
    """feedparser's words were "document declared as utf-8, but parsed as SHIFT_JIS" where
    nothing was declared, and none when the body was also ill-formed (its complaint about that
    took their place). Read in the server's charset, the Big5 headline is mojibake."""
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type=content_type)
    assert feed.warning.startswith(warning) and len(feed.entries) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_rss(JAPANESE, "shift_jis", "shift_jis"), "text/xml"),
        (_rss(JAPANESE, "shift_jis"), "application/rss+xml; charset=Shift_JIS"),
        (_rss("中国外交部发言人今天表示", "gbk", "gb2312"), "text/xml"),  # GBK labelled gb2312
        (_rss("中国外交部发言人今天表示", "gbk", "gb2312"), "text/xml; charset=GBK"),
        (_rss(JAPANESE, "utf-8"), "text/xml"),  # XML's default
        (_rss("plain ASCII", "ascii"), "text/xml; charset=utf-8"),
    ],
    ids=["declared", "header", "gbk-as-gb2312", "gbk-and-gb2312", "utf-8-default", "ascii"],
)
def test_a_charset_named_is_no_fault(body: bytes, content_type: str) -> None:
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type=content_type)
    assert feed.warning == ""


# Six items of real news (tests/data/feeds: QQ News as served in GB2312, and the same in
# traditional characters in Big5), each declaring its charset.
ZH_GB = (FEEDS / "rss-zh-news-gb2312.xml").read_bytes()
ZH_BIG5 = (FEEDS / "rss-zh-news-big5.xml").read_bytes()
HEADLINE_GB = "习近平谈抗战：牢记历史是要以史为鉴、面向未来"
HEADLINE_BIG5 = "習近平談抗戰：牢記歷史是要以史為鑑、面向未來"


def _declaring(body: bytes, charset: str) -> bytes:
    """The body with its XML declaration naming `charset` (the other bytes as they are)."""
    return re.sub(rb'^(<\?xml[^>]*encoding=")[^"]+"', rb'\g<1>%s"' % charset.encode(), body)


def _undeclared(body: bytes) -> bytes:
    return body.split(b"\n", 1)[1]


def _disagree(read: str, said: str, looks: str) -> str:
    return f"charsets disagree: read as {read}; {said}, but the text looks like {looks}"


@pytest.mark.parametrize(
    ("body", "content_type", "warning"),
    [
        (_declaring(ZH_BIG5, "gb2312"), None,
         _disagree("gb18030", "the feed declares gb2312", "big5")),
        (_declaring(ZH_BIG5, "GB18030"), "application/rss+xml",
         _disagree("gb18030", "the feed declares gb18030", "big5")),
        (_undeclared(ZH_BIG5), "text/xml; charset=GB2312",
         _disagree("gb18030", "the server says gb2312", "big5")),
        (ZH_BIG5, "text/xml; charset=gb2312",
         _disagree("gb18030", "the server says gb2312, the feed declares big5", "big5")),
        (_rss(HEADLINE_GB, "gb2312", "big5"), None,  # decodes as Big5: read so, no complaint
         _disagree("big5", "the feed declares big5", "gb18030")),
    ],
    ids=["declared-gb2312", "declared-gb18030", "served-gb2312", "served-gb2312-declared-big5",
         "gb-declared-big5"],
)  # fmt: skip
def test_chinese_in_the_other_chinese_charset_says_which_it_looks_like(
    body: bytes, content_type: str | None, warning: str
) -> None:
    """feedparser reads Big5 labelled gb2312 as gb18030 without a complaint (every Big5 pair is
    a GBK code): the headlines are mojibake, no rule matches them, and before this nothing said
    so. It is still read as labelled; the warning says what the text looks like."""
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type=content_type)
    assert feed.warning == warning
    assert len(feed.entries) == body.count(b"<item>")  # every item read, as before


@pytest.mark.parametrize(
    ("body", "content_type", "headline"),
    [
        (ZH_GB, None, HEADLINE_GB),
        (ZH_GB, "text/xml; charset=gb2312", HEADLINE_GB),
        (_undeclared(ZH_GB), "application/rss+xml; charset=GBK", HEADLINE_GB),
        (_declaring(ZH_GB, "gb18030"), "text/xml", HEADLINE_GB),
        (ZH_BIG5, None, HEADLINE_BIG5),
        (ZH_BIG5, "text/xml; charset=big5", HEADLINE_BIG5),
        (_declaring(ZH_BIG5, "cp950"), "text/xml", HEADLINE_BIG5),
    ],
    ids=["gb2312", "gb2312-served", "gbk-served", "gb18030", "big5", "big5-served", "cp950"],
)
def test_genuine_gb_and_big5_news_has_no_warning(
    body: bytes, content_type: str | None, headline: str
) -> None:
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type=content_type)
    assert feed.warning == ""
    assert feed.entries[1].title == headline


def test_only_the_first_bytes_of_a_chinese_body_are_weighed() -> None:
    """Cheap on a large feed: the first 16 KB decide, a character cut off at their end does not
    count against them, and fewer than 20 characters decide nothing."""
    text = b"<rss>" + HEADLINE_BIG5.encode("big5") * 500  # two bytes a character from byte 5
    sample = text[: charsets.CHINESE_SAMPLE]
    with pytest.raises(UnicodeDecodeError):
        sample.decode("big5")  # the sample ends inside a character
    assert charsets.misread_chinese("gb18030", text + b"\x80 not Big5") == "big5"
    assert charsets.misread_chinese("gb18030", HEADLINE_BIG5[:19].encode("big5")) == ""
    assert charsets.misread_chinese("gb18030", HEADLINE_BIG5[:20].encode("big5")) == "big5"
    assert charsets.misread_chinese("shift_jis", text) == ""  # not a charset of Chinese


# ---------------------------------------------------------------- not feeds


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "(empty body)"),
        (b"  \n\t ", "(empty body)"),
        ((FEEDS / "html-page.html").read_bytes(), "(no feed elements found)"),
        (b'\n{"version": "https://jsonfeed.org/version/1.1"}', "(JSON, such as a JSON Feed"),
        (bytes(range(256)) * 4, "("),
        (b"<?xml version='1.0'?><rss version='2.0'><channel><item><title>x", "("),
        (b"<?xml version='1.0'?><<<rss>>>&&& <item", "not well-formed (invalid token)"),
    ],
    ids=["empty", "blank", "html", "json", "binary", "truncated", "ill-formed-rss"],
)
def test_not_a_feed_raises_parse_error(body: bytes, reason: str) -> None:
    try:
        feed = parse_feed(body, feed_id="f", url="https://example.com/feed")
    except ParseError as exc:
        assert str(exc).startswith("parse: https://example.com/feed: not a feed ")
        assert reason in str(exc)
    else:  # a truncated feed may still be readable: then it must say so
        assert feed.warning and feed.entries


def test_illformed_but_readable_feed_has_a_warning() -> None:
    body = b"<rss version='2.0'><channel><title>t</title><item><title>a & b</title></item>"
    feed = parse_feed(body, feed_id="f", url="https://example.com/feed")
    assert feed.warning
    assert [e.title for e in feed.entries] == ["a & b"]


# Items with their guid (or Atom id) first, as many CMSs write them: a body cut off after it
# leaves feedparser an item with that guid and nothing else.
CUT_RSS = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>News</title>"
    + "".join(
        f"<item><guid>g{n}</guid><title>Story {n}</title><link>https://e.org/{n}</link>"
        f"<description>Text of story {n}.</description></item>"
        for n in (1, 2, 3)
    )
    + "</channel></rss>"
).encode()
CUT_ATOM = (
    "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
    "<title>News</title><id>tag:e.org,2026:feed</id><updated>2026-01-05T00:00:00Z</updated>"
    + "".join(
        f"<entry><id>tag:e.org,2026:{n}</id><title>Story {n}</title>"
        f"<link href='https://e.org/{n}'/><updated>2026-01-05T00:00:00Z</updated>"
        f"<summary>Text of story {n}.</summary></entry>"
        for n in (1, 2, 3)
    )
    + "</feed>"
).encode()


def cut(body: bytes, before: str, keep: int = 0) -> bytes:
    """`body` up to the last occurrence of `before` (not included), and `keep` bytes of it."""
    return body[: body.rindex(before.encode()) + keep]


# The third story in CDATA, in Korean: a cut can fall in a section or in a character.
CUT_CDATA = CUT_RSS.replace(
    b"<description>Text of story 3.</description>",
    "<description><![CDATA[<p>Text of story 3, 이야기.</p>]]></description>".encode(),
)
ENDS_EARLY = "the body ends early (cut off?): its last item left out until the feed is read whole"
ENDS_AFTER_AN_ITEM = "the body ends early (cut off?), after an item's end: read whole next time"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (cut(CUT_RSS, "<guid>g3"), "no element found"),  # right after <item>
        (cut(CUT_RSS, "<title>Story 3"), "no element found"),  # after the guid
        (cut(CUT_RSS, "ory 3</title>"), "no element found"),  # inside the title
        (cut(CUT_RSS, "<description>Text of story 3"), "no element found"),  # after the title
        (cut(CUT_RSS, "xt of story 3"), "no element found"),  # inside the description
        (cut(CUT_RSS, "escription>Text of story 3"), "unclosed token"),  # inside its start tag
        (cut(CUT_RSS, "</description></item></channel>"), "no element found"),  # its text whole
        (cut(CUT_RSS, "</item></channel>"), "no element found"),  # before the item's end tag
        (cut(CUT_CDATA, "story 3, "), "unclosed CDATA section"),  # inside a CDATA section
        (cut(CUT_CDATA, "야기", keep=1), "unclosed CDATA section"),  # inside a character
        (cut(CUT_ATOM, "<title>Story 3"), "no element found"),  # after the id
        (cut(CUT_ATOM, "<summary>Text of story 3"), "no element found"),  # after the title
        (cut(CUT_ATOM, "xt of story 3"), "no element found"),  # inside the summary
        (cut(CUT_ATOM, "ummary>Text of story 3"), "unclosed token"),  # inside its start tag
        (cut(CUT_ATOM, "</entry></feed>"), "no element found"),  # before the entry's end tag
    ],
    ids=[
        "rss-after-item", "rss-after-guid", "rss-in-title", "rss-after-title",
        "rss-in-description", "rss-in-description-tag", "rss-after-description-text",
        "rss-before-item-end", "rss-in-cdata", "rss-in-character",
        "atom-after-id", "atom-after-title", "atom-in-summary", "atom-in-summary-tag",
        "atom-before-entry-end",
    ],
)  # fmt: skip
def test_the_item_a_body_was_cut_off_in_is_left_out_whatever_it_holds(
    body: bytes, complaint: str
) -> None:
    # The cut one would be stored with its text cut (or none), for good: read in full later,
    # the whole story is skipped as seen, and rules on its text never see it.
    feed = parse_feed(body, feed_id="f", url="https://e.org/feed")
    assert [e.title for e in feed.entries] == ["Story 1", "Story 2"]
    assert [e.text for e in feed.entries] == ["Text of story 1.", "Text of story 2."]
    assert complaint in feed.warning and feed.warning.endswith(ENDS_EARLY)
    assert feed.ends_early  # so the pipeline keeps none of its validators


@pytest.mark.parametrize(
    ("body", "titles"),
    [
        (cut(CUT_RSS, "<item><guid>g3"), ["Story 1", "Story 2"]),
        (cut(CUT_RSS, "</channel>"), ["Story 1", "Story 2", "Story 3"]),
        (cut(CUT_RSS, "</channel>", keep=5), ["Story 1", "Story 2", "Story 3"]),
        (cut(CUT_ATOM, "</feed>"), ["Story 1", "Story 2", "Story 3"]),
        (cut(CUT_RSS.replace(b"<item>", b"<item xml:lang='en'>"), "</channel>"),
         ["Story 1", "Story 2", "Story 3"]),
    ],
    ids=["rss-between-items", "rss-after-the-items", "rss-in-the-channel-end-tag",
         "atom-after-the-entries", "items-with-attributes"],
)  # fmt: skip
def test_a_body_that_ends_early_after_an_item_s_end_keeps_that_item(
    body: bytes, titles: list[str]
) -> None:
    """The last item's end tag is in the body: the cut fell after it (or a CMS never writes
    the feed's own end tags), and it is whole. The body is still read whole next time, since
    items after the cut may be missing."""
    feed = parse_feed(body, feed_id="f", url="https://e.org/feed")
    assert [e.title for e in feed.entries] == titles
    assert feed.entries[-1].text == f"Text of story {len(titles)}."
    assert feed.ends_early and feed.warning.endswith(ENDS_AFTER_AN_ITEM)


def test_a_body_ill_formed_elsewhere_keeps_its_last_item() -> None:
    # expat gives up at the "&", far from the end: nothing says the body was cut.
    body = CUT_RSS.replace(b"<title>Story 2", b"<title>Story & 2")
    feed = parse_feed(body, feed_id="f", url="https://e.org/feed")
    assert [e.title for e in feed.entries] == ["Story 1", "Story & 2", "Story 3"]
    assert feed.entries[-1].text == "Text of story 3."
    assert "not well-formed (invalid token)" in feed.warning
    assert (feed.ends_early, ENDS_EARLY in feed.warning) == (False, False)


def test_a_well_formed_body_does_not_end_early() -> None:
    feed = parse_feed(CUT_RSS, feed_id="f", url="https://e.org/feed")
    assert (len(feed.entries), feed.warning, feed.ends_early) == (3, "", False)


def test_the_remains_of_an_item_cut_off_in_a_body_ill_formed_elsewhere_are_left_out() -> None:
    body = cut(CUT_RSS.replace(b"<title>Story 2", b"<title>Story & 2"), "<title>Story 3")
    feed = parse_feed(body, feed_id="f", url="https://e.org/feed")
    assert [e.title for e in feed.entries] == ["Story 1", "Story & 2"]
    assert feed.warning.endswith(
        "1 item left out: neither a title nor any text (the body ends early?)"
    )


def test_an_item_without_title_or_text_in_a_well_formed_feed_is_kept() -> None:
    body = b"<rss version='2.0'><channel><item><guid>g</guid></item></channel></rss>"
    feed = parse_feed(body, feed_id="f", url="https://e.org/feed")
    assert ([e.guid for e in feed.entries], feed.warning) == (["g"], "")


@pytest.mark.parametrize("before", ["<title>Story 1", "xt of story 1"])
def test_a_body_cut_off_in_its_first_item_is_not_a_feed(before: str) -> None:
    with pytest.raises(ParseError, match=r"not a feed \(.*; the body ends early \(cut off\?\)"):
        parse_feed(cut(CUT_RSS, before), feed_id="f", url="https://e.org/feed")


def test_a_body_that_looks_like_a_path_is_not_opened() -> None:
    with pytest.raises(ParseError):
        parse_feed(str(FEEDS / "rss2.xml").encode(), feed_id="f", url="https://example.com/")


def test_title_and_text_are_capped() -> None:
    long = "word " * 10_000
    body = (
        f"<rss version='2.0'><channel><item><title>{long}</title>"
        f"<description>{long}</description></item></channel></rss>"
    ).encode()
    [entry] = parse_feed(body, feed_id="f", url="https://example.com/").entries
    assert len(entry.title) <= 1_000 and len(entry.text) <= 20_000
    assert entry.title.startswith("word word") and not entry.title.endswith(" ")


# ---------------------------------------------------------------- publishers and text


@pytest.mark.parametrize(
    ("url", "publisher"),
    [
        ("https://www.bbc.co.uk/news/world-asia-1", "bbc.co.uk"),
        ("https://bbc.co.uk/", "bbc.co.uk"),
        ("https://news.yahoo.co.jp/articles/x", "yahoo.co.jp"),
        ("https://en.yna.co.kr/view/AEN1", "yna.co.kr"),
        ("http://www.globaltimes.cn/page/1.shtml", "globaltimes.cn"),
        ("https://WWW.Reuters.COM/world/", "reuters.com"),
        ("https://www.xinhuanet.com.", "xinhuanet.com"),
        ("https://user:pw@edition.cnn.com:8443/x?y#z", "cnn.com"),
        ("http://127.0.0.1:8000/feed", "127.0.0.1"),
        ("http://localhost/feed", "localhost"),
        ("not a url", ""),
        ("", ""),
        ("http://[::1", ""),
    ],
)
def test_publisher_of(url: str, publisher: str) -> None:
    assert publisher_of(url) == publisher


def test_publisher_comes_from_an_aggregators_source_url() -> None:
    body = b"""<rss version="2.0"><channel><item><title>t</title>
    <link>https://news.google.com/rss/articles/CBMi</link>
    <source url="https://www.reuters.com">Reuters</source></item></channel></rss>"""
    [entry] = parse_feed(body, feed_id="g", url="https://news.google.com/rss").entries
    assert entry.link == "https://news.google.com/rss/articles/CBMi"
    assert entry.publisher == "reuters.com"


def test_an_aggregators_publisher_suffix_leaves_the_headline() -> None:
    """Google News titles each copy "<headline> - <publisher>": without the suffix, copies of a
    story share their headline (and count once); a dash inside the headline stays."""
    body = """<rss version="2.0"><channel>
    <item><title>Seoul - Beijing flights resume - The Korea Herald</title>
    <link>https://news.google.com/rss/articles/A</link>
    <source url="https://www.koreaherald.com">The Korea Herald</source></item>
    <item><title>The Korea Herald</title><link>https://news.google.com/rss/articles/B</link>
    <source url="https://www.koreaherald.com">The Korea Herald</source></item>
    <item><title>Visa talks - Reuters analysis</title><link>https://e.org/c</link></item>
    </channel></rss>"""
    entries = parse_feed(body.encode(), feed_id="g", url="https://news.google.com/rss").entries
    assert [e.title for e in entries] == [
        "Seoul - Beijing flights resume",
        "The Korea Herald",  # nothing but the name: kept whole
        "Visa talks - Reuters analysis",  # no <source>: nothing to strip
    ]


def test_a_feedburner_item_links_to_its_article_not_the_tracker() -> None:
    body = b"""<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
    <channel><item><title>t</title>
    <link>http://feeds.feedburner.com/~r/koreatimes/~3/Ab1Cd/story1.html</link>
    <feedburner:origLink>https://www.koreatimes.co.kr/news/1</feedburner:origLink>
    </item></channel></rss>"""
    [entry] = parse_feed(body, feed_id="kt", url="https://feeds.feedburner.com/kt").entries
    assert (entry.link, entry.publisher) == (
        "https://www.koreatimes.co.kr/news/1",
        "koreatimes.co.kr",
    )


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain   text", "plain text"),
        ("  two\n\n\nlines  ", "two\nlines"),
        ("<p>Hello <b>wor</b>ld</p><p>Next</p>", "Hello world\nNext"),
        ("a &amp; b &lt;c&gt; &quot;d&quot; &#x4E2D;&#22269;", 'a & b <c> "d" 中国'),
        ("non&nbsp;breaking", "non breaking"),
        ("<script>alert(1)</script>kept<style>p{}</style>", "kept"),
        ("<noscript>js off</noscript><template><p>t</p></template>shown", "shown"),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a\nb"),
        ("x<!-- comment -->y", "xy"),
        ("a < b and c > d", "a < b and c > d"),
        ("<p>unclosed <i>tags", "unclosed tags"),
        ("<html><head><title>T</title></head><body><p>page</p></body></html>", "page"),
        ("<svg><text>drawn</text></svg><iframe>frame</iframe>text", "text"),
        ("<a href='/x'>北朝鮮</a>의 <em>미사일</em>", "北朝鮮의 미사일"),
        ("", ""),
        ("<div></div>", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


# ---------------------------------------------------------------- the shared corpus


def corpus_files(*folders: str) -> list[Path]:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared corpus is only on the developers' machines")
    corpus = SHARED / "corpus"
    files = [p for folder in folders for p in sorted((corpus / folder).rglob("*")) if p.is_file()]
    return [p for p in files if p.suffix not in {".tsv", ".txt"} and p.name != "LICENSE"]


def test_every_corpus_file_parses_or_raises_parse_error() -> None:
    files = corpus_files("real-feeds", "feedparser-tests")
    assert len(files) > 2_000
    crashes: list[str] = []
    for path in files:
        try:
            feed = parse_feed(path.read_bytes(), feed_id="c", url="https://example.com/feed")
        except ParseError as exc:
            assert str(exc).startswith("parse: https://example.com/feed: not a feed (")
            continue
        except Exception as exc:
            crashes.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        for entry in feed.entries:
            assert entry.published is None or entry.published.tzinfo is UTC, path
            assert len(entry.title) <= 1_000 and len(entry.text) <= 20_000, path
    assert crashes == []


def test_real_feeds_yield_every_item() -> None:
    files = corpus_files("real-feeds")
    with (SHARED / "corpus" / "real-feeds" / "SOURCES.tsv").open(encoding="utf-8") as f:
        expected = {row["file"]: int(row["items"]) for row in csv.DictReader(f, delimiter="\t")}
    counts = {}
    for path in files:
        feed = parse_feed(path.read_bytes(), feed_id="c", url=f"https://example.com/{path.name}")
        assert feed.title, path.name
        assert all(e.title or e.text for e in feed.entries), path.name
        counts[path.name] = len(feed.entries)
    duplicates = {"ukrnet-suspilne-1.xml": 1}  # one story listed twice (same link, no guid)
    assert counts == {name: n - duplicates.get(name, 0) for name, n in expected.items()}


# An invalid token (a control character) on line 3, column 20 of the lines below, as expat
# counts columns (from 0): what `python -c "import xml.parsers.expat"` says of the same bytes.
_FAULTY = ['<rss version="2.0"><channel><title>t</title>',
           "<item><guid>1</guid><title>한국 A</title></item>",
           "<item><guid>2</guid>\x01<title>B</title></item>",
           "</channel></rss>"]  # fmt: skip
_AT = "line 3, column 20: not well-formed (invalid token)"


def _faulty(head: str = "", charset: str = "utf-8", newline: str = "\n") -> bytes:
    return (head + newline.join(_FAULTY)).encode(charset)


@pytest.mark.parametrize(
    ("body", "content_type", "at"),
    [
        (_faulty(), "application/rss+xml", _AT),
        (b"\xef\xbb\xbf" + _faulty(), "application/rss+xml", _AT),  # a byte order mark
        (_faulty(newline="\r\n"), "application/rss+xml", _AT),
        (_faulty('<?xml version="1.0" encoding="utf-8"?>'), "text/xml", _AT),
        (_faulty('<?xml version="1.0" encoding="utf-8"?>\n'), None, _AT.replace("3", "4", 1)),
        (_faulty('<?xml version="1.0"\n encoding="utf-8"?>\n'), None, _AT.replace("3", "5", 1)),
        (b"\n\n" + _faulty('<?xml version="1.0"?>\n'), "text/xml", _AT.replace("3", "6", 1)),
        (_faulty('<?xml version="1.0" encoding="euc-kr"?>\n', "euc-kr"), "text/xml",
         _AT.replace("3", "4", 1)),
        (_faulty(charset="euc-kr"), "text/xml; charset=euc-kr", _AT),
        (_faulty(charset="utf-16"), "application/xml", _AT),
        (_faulty('<?xml version="1.0" encoding="utf-16"?>\n', "utf-16"), "application/xml",
         _AT.replace("3", "4", 1)),
    ],
    ids=["utf-8", "bom", "crlf", "declared-same-line", "declared", "declared-on-two-lines",
         "blank-lines-first", "declared-euc-kr", "header-euc-kr", "utf-16", "utf-16-declared"],
)  # fmt: skip
def test_an_ill_formed_body_is_faulted_at_its_line_as_served(
    body: bytes, content_type: str | None, at: str
) -> None:
    """feedparser hands expat its own XML declaration, on a line of its own before a body
    without one, so expat's lines were one too many (`<unknown>:4:20`, `<unknown>` standing for
    a file name there is none of)."""
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type=content_type)
    assert feed.warning == at and [e.title for e in feed.entries] == ["한국 A", "B"]


def test_a_fault_on_the_line_of_the_declaration_is_at_its_column_as_served() -> None:
    head = '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
    body = (head + '<rss version="2.0"><channel>\x01<item><title>A</title></item>').encode()
    feed = parse_feed(body, feed_id="f", url="https://e.org/", content_type="text/xml")
    assert feed.warning.startswith(f"line 1, column {len(head) + 28}: not well-formed")
