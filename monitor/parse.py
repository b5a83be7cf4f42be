"""parse: feed bytes -> plain-text `Entry` records. The only module importing feedparser.

Every format feedparser 6 reads (RSS 0.9x-2.0, RDF, Atom 0.3/1.0) goes through one adapter,
so nothing downstream sees a feedparser object. HTML in titles and descriptions becomes
plain text (`html_to_text`); links are made absolute; each entry's publisher is the
registrable domain of its link (`publisher_of`); one read gives at most MAX_ITEMS entries, the
newest (`itemcap.newest`). A body that is not a feed raises ParseError; a feed that is
ill-formed but readable comes back with a `warning`. `parse_job` is what a worker process of
`monitor.parsepool` runs.
"""

from __future__ import annotations

import io
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit
from xml.parsers.expat import errors as expat_errors
from xml.sax import SAXException, SAXParseException

import feedparser
from publicsuffixlist import PublicSuffixList
from selectolax.lexbor import LexborHTMLParser

from monitor import charsets, dates
from monitor.counts import count
from monitor.domain import CONTROLS, MAX_TEXT, MAX_TITLE, Entry, without_controls
from monitor.errors import ParseError
from monitor.identity import distinct_items
from monitor.itemcap import MAX_ITEMS, newest, over_cap
from monitor.links import host_key, without_password, without_userinfo

__all__ = [
    "MAX_ITEMS",
    "ParseJob",
    "Parsed",
    "ParsedFeed",
    "html_to_text",
    "parse_feed",
    "parse_job",
    "publisher_of",
]

DROPPED_TAGS = ("script", "style", "noscript", "template", "title", "iframe", "object", "svg")
RAW_TEXT_TAGS = ("xmp", "noembed", "noframes", "plaintext")  # serialized with their text unescaped
BLOCK_TAGS = (
    "address, article, aside, blockquote, br, dd, details, div, dl, dt, figcaption, figure, "
    "footer, h1, h2, h3, h4, h5, h6, header, hr, li, main, nav, ol, p, pre, section, summary, "
    "table, td, th, tr, ul"
)
# Only a start tag makes an element: a fragment without these names holds none of them.
_SPECIAL_TAG = re.compile("<(?:" + "|".join(DROPPED_TAGS + RAW_TEXT_TAGS) + ")", re.IGNORECASE)
# A comment, a block element's tag (group 1: its name) or any other tag, in serialized HTML.
_MARKUP = re.compile(
    r"<(?:!--.*?--|/?(" + BLOCK_TAGS.replace(", ", "|") + r")(?=[ >])[^>]*|[^>]*)>", re.DOTALL
)
_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", "\xa0"), ("&amp;", "&"))  # &amp; last


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str
    entries: tuple[Entry, ...]
    warning: str = ""  # why the feed is ill-formed, when it was still readable
    # The body stops before its end (cut off): its last item is left out, and its validators
    # must not be kept, so that the next check fetches it whole.
    ends_early: bool = False


GZIP_MAGIC = b"\x1f\x8b"  # how a gzip file begins
# A .gz file served as the feed (application/gzip), or a gzip body without Content-Encoding.
GZIPPED = "gzip-compressed data, which was not sent as Content-Encoding: gzip"

# Said of a body whose parse needed more memory than its worker may take (a million items).
OUT_OF_MEMORY = "out of memory (parse memory limit)"

# Said when a body stops before its end; several of these are joined with "; ".
ENDS_EARLY = "the body ends early (cut off?): its last item left out until the feed is read whole"
ENDS_AFTER_AN_ITEM = "the body ends early (cut off?), after an item's end: read whole next time"


def parse_feed(
    body: bytes, *, feed_id: str, url: str, content_type: str | None = None
) -> ParsedFeed:
    """Read a feed body into entries; ParseError when it is not a feed at all. Errors show
    `url` without its password; its links are resolved against it without credentials."""
    shown, base = without_password(url), without_userinfo(url)
    if not body.strip():
        raise ParseError(f"parse: {shown}: not a feed (empty body)")
    if body.startswith(GZIP_MAGIC):  # feedparser would guess a charset and find no XML
        raise ParseError(f"parse: {shown}: not a feed ({GZIPPED})")
    if body.lstrip()[:1] in (b"{", b"["):  # feedparser would call it ill-formed XML
        raise ParseError(
            f"parse: {shown}: not a feed (JSON, such as a JSON Feed: RSS, RDF or Atom)"
        )
    # Without a content type feedparser reports a bozo "no Content-type specified";
    # application/xml lets the body's own XML declaration choose the charset. No
    # Content-Location: feedparser would resolve guids against it, and a guid must not
    # change when the feed moves. Links are made absolute here instead.
    served, body = body, charsets.declaration_first(body)
    dropped = served[: len(served) - len(body)]  # white space before the declaration
    headers = {"content-type": charsets.xml_content_type(content_type, body)}
    body, replaced = charsets.repaired_utf8(body, headers["content-type"])
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),  # a file object: feedparser would treat bytes as a path or URL
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except MemoryError:
        raise  # the body's fault only in a size (`parse_job`)
    except Exception as exc:  # feedparser's own bugs on hostile input
        raise ParseError(f"parse: {shown}: not a feed ({type(exc).__name__}: {exc})") from exc
    read_as = _str(parsed.get("encoding"))
    note = charsets.charset_note(read_as, headers["content-type"], body)
    problem = _bozo_text(parsed, note, body=body, dropped=dropped)
    if replaced:
        are = "is" if replaced == 1 else "are"
        problem = _also(problem, f"{count(replaced, 'byte')} that {are} not UTF-8 replaced")
    # Nothing readable: not a feed, also when the ill-formed remains name one (`<rss>`&&&).
    if not parsed.get("entries") and (not parsed.get("version") or _ill_formed(parsed)):
        raise ParseError(f"parse: {shown}: not a feed ({problem or 'no feed elements found'})")
    feed = parsed.get("feed") or {}
    language = _str(feed.get("language"))
    found = list(_entries(parsed.get("entries") or [], feed_id, base, language))
    items, left_out = _whole(found, parsed, body)
    if left_out:  # a body cut off mid-item: the item the cut fell in is no whole story
        problem = _also(problem, left_out)
        if not items:
            raise ParseError(f"parse: {shown}: not a feed ({problem})")
    taken, which = newest(items)
    entries, shared = _unique(taken)
    if which:  # said with the copies known: 1,000 items alike taken are one kept
        problem = _also(problem, over_cap(len(items), which, len(entries), len(taken)))
    if shared:  # a CMS that gives every item one guid: its stories are told apart by headline
        problem = _also(problem, shared)
    return ParsedFeed(
        title=_one_line(_text_of(feed, "title"))[:MAX_TITLE],
        link=_absolute(_str(feed.get("link")), base),
        entries=entries,
        warning=problem,
        ends_early=_ends_early(parsed),
    )


def _also(problem: str, more: str) -> str:
    """`more` after `problem`, if any."""
    return f"{problem}; {more}" if problem else more


@dataclass(frozen=True)
class ParseJob:
    """The arguments of one `parse_feed` call, sent to a worker process."""

    body: bytes
    feed_id: str
    url: str
    content_type: str | None = None


Parsed = ParsedFeed | ParseError


def parse_job(job: ParseJob) -> Parsed:
    """`parse_feed` returning its ParseError instead of raising it (for worker processes); a
    parse that ran out of memory (a worker's limit: `parsepool.parse_within`) is one too."""
    try:
        return parse_feed(job.body, feed_id=job.feed_id, url=job.url, content_type=job.content_type)
    except ParseError as exc:
        return exc
    except MemoryError:
        pass  # said below: here its traceback still holds what the parse took, and saying it
        # could run out of memory too, which ended the worker with a traceback on stderr
    return ParseError(f"parse: {without_password(job.url)}: {OUT_OF_MEMORY}")


# ---------------------------------------------------------------- entries


def _entries(items: list[Any], feed_id: str, url: str, language: str) -> Iterator[Entry]:
    for item in items:
        # feedparser's mappings are dicts (FeedParserDict): isinstance(x, dict) is checked in
        # C, isinstance(x, Mapping) by an ABC's method in Python, for each value read.
        if isinstance(item, dict):
            # A plain dict: FeedParserDict resolves every key through its aliases in Python
            # (and maps a missing updated_parsed to published_parsed); we read no alias.
            yield _entry(dict(item), feed_id, url, language)


def _entry(item: dict[str, Any], feed_id: str, feed_url: str, language: str) -> Entry:
    link = _absolute(_link_of(item), feed_url)
    return Entry(
        feed_id=feed_id,
        guid=_str(item.get("id")).strip() or link,
        link=link,
        title=_headline(item)[:MAX_TITLE].rstrip(),
        text=_longest_text(item)[:MAX_TEXT].rstrip(),
        published=_published(item, language),
        publisher=publisher_of(_source_url(item) or link or feed_url),
    )


def _whole(entries: list[Entry], parsed: Mapping[str, Any], body: bytes) -> tuple[list[Entry], str]:
    """The entries a cut left whole, and what it left out ("" when nothing).

    A body that ends early (`_ends_early`: a dropped connection, a server that stops writing)
    was cut off in its last item unless that one's end tag is in it (`_last_item_closed`: cut
    after it, or a CMS that never writes the feed's own end tags): stored with its text cut
    (or its title), it would keep the whole story out when the feed is read in full, and rules
    that match on the text would never see it. A body ill-formed before the cut hides where it
    ends: of its items those with neither a title nor any text are left out, the remains of a
    cut one.
    """
    if not _ill_formed(parsed):
        return entries, ""
    notes = []
    if _ends_early(parsed) and entries:
        closed = _last_item_closed(body)
        if not closed:
            entries = entries[:-1]
        notes.append(ENDS_AFTER_AN_ITEM if closed else ENDS_EARLY)
    whole = [entry for entry in entries if entry.title or entry.text]
    if len(whole) < len(entries):
        fragments = len(entries) - len(whole)
        notes.append(
            f"{count(fragments, 'item')} left out: neither a title nor any text (the body ends "
            "early?)"
        )
    return whole, "; ".join(notes)


def _last_item_closed(body: bytes) -> bool:
    """Whether the body holds the end tag of its last item (RSS `<item>`, Atom `<entry>`),
    after that item's start. A body in another encoding than ASCII's supersets, or with
    prefixed item tags, is not read so: then False, and a cut body's last item is left out."""
    opened = max(body.rfind(b"<item>"), body.rfind(b"<item "), body.rfind(b"<entry"))
    closed = max(body.rfind(b"</item>"), body.rfind(b"</entry>"))
    return opened >= 0 and closed > opened


def _unique(entries: Sequence[Entry]) -> tuple[tuple[Entry, ...], str]:
    """One of each item (`identity.distinct_items`: the same item twice, or a headline edited
    over the same text, is kept once), and what to tell of the other stories kept under an
    earlier one's guid (or, lacking one, link): "" when none."""
    for entry in entries:
        _ = entry.reused_key, entry.item_key  # hashed here, in the parse worker, as the key is
    by_key = distinct_items(entries)
    kept = {id(e) for items in by_key.values() for e in items}
    shared = [items[0] for items in by_key.values() for _ in items[1:]]
    by_guid = sum(1 for e in shared if e.guid != e.link)  # a guid is its link when it has none
    told = [
        f"{count(n, 'item')} {'shares' if n == 1 else 'share'} the {what} of an earlier one: "
        "stored as stories of their own, "
        "told apart by headline"
        for n, what in ((by_guid, "guid"), (len(shared) - by_guid, "link"))
        if n
    ]
    return tuple(e for e in entries if id(e) in kept), "; ".join(told)


def _headline(item: Mapping[str, Any]) -> str:
    """The item's title, without the " - Publisher" an aggregator (Google News) appends when it
    names the publisher in <source>: copies of one story then share their headline."""
    title = _one_line(_text_of(item, "title"))
    source = item.get("source")
    if isinstance(source, dict):
        name = _one_line(_str(source.get("title")))
        for dash in (" - ", " – ", " — ", " | "):
            if name and title.endswith(dash + name) and len(title) > len(dash + name):
                return title[: -len(dash + name)].rstrip()
    return title


def _link_of(item: Mapping[str, Any]) -> str:
    # FeedBurner (and the like) put a tracker in <link> and the article in origLink.
    original = _str(item.get("feedburner_origlink")).strip()
    if urlsplit(original).scheme in ("http", "https"):
        return original
    link = _str(item.get("link")).strip()
    if link:
        return link
    for candidate in item.get("links") or []:
        if isinstance(candidate, dict) and candidate.get("rel", "alternate") == "alternate":
            href = _str(candidate.get("href")).strip()
            if href:
                return href
    return ""


def _source_url(item: Mapping[str, Any]) -> str:
    """An aggregator's pointer to the original publisher (RSS <source url=...>), if any."""
    source = item.get("source")
    if isinstance(source, dict):
        url = _str(source.get("href") or source.get("url")).strip()
        if urlsplit(url).scheme in ("http", "https"):
            return url
    return ""


def _longest_text(item: Mapping[str, Any]) -> str:
    sources = [_source_of(item, "summary")]
    for content in item.get("content") or []:
        if isinstance(content, dict):
            sources.append((_given(content.get("value")), _given(content.get("type"))))
    # The summary is often a copy of the content (an Atom entry's is the content's very text):
    # clean and convert each distinct source once.
    return max((_convert(_str(v), _str(k)) for v, k in dict.fromkeys(sources)), key=len)


def _text_of(item: Mapping[str, Any], key: str) -> str:
    value, kind = _source_of(item, key)
    return _convert(_str(value), _str(kind))


def _source_of(item: Mapping[str, Any], key: str) -> tuple[str, str]:
    """The value of `key` and its type ("text/html" when feedparser gives none), as given
    (`_given`: not cleaned yet)."""
    detail = item.get(f"{key}_detail")
    kind = _given(detail.get("type")) if isinstance(detail, dict) else "text/html"
    return _given(item.get(key)), kind


def _convert(value: str, kind: str) -> str:
    """The text of a feed's value (cleaned: `_str`) of type `kind`."""
    if "html" not in kind and "<" in value:  # plain text with HTML's tags in it, maybe
        value = _NOT_A_TAG.sub("&lt;", value)
    if "html" in kind or "<" in value or "&" in value:
        text = html_to_text(value)
        # The value holds no control character, and no named reference makes one: only a
        # numeric one ("&#1;") can.
        return CONTROLS.sub("", text) if "&#" in value else text
    return collapse(value)


# HTML's element names. In a value feedparser took for plain text (an Atom type="text", an RSS
# title without an end tag), a "<" before another word is the text's own, kept: "SBS <Running
# Man>" (Korean outlets bracket a programme's name so), "x<y"; before one of these it opens a
# tag ("<br>", "<img src=…>"), which is dropped.
_HTML_ELEMENTS = (
    "a|abbr|acronym|address|area|article|aside|audio|b|base|basefont|bdi|bdo|big|blink|"
    "blockquote|body|br|button|canvas|caption|center|cite|code|col|colgroup|data|datalist|"
    "dd|del|details|dfn|dialog|div|dl|dt|em|embed|fieldset|figcaption|figure|font|footer|"
    "form|frame|frameset|h1|h2|h3|h4|h5|h6|head|header|hgroup|hr|html|i|iframe|img|input|"
    "ins|kbd|label|legend|li|link|main|map|mark|marquee|math|menu|meta|meter|nav|nobr|"
    "noembed|noframes|noscript|object|ol|optgroup|option|output|p|param|picture|plaintext|"
    "pre|progress|q|rp|rt|ruby|s|samp|script|search|section|select|slot|small|source|span|"
    "strike|strong|style|sub|summary|sup|svg|table|tbody|td|template|textarea|tfoot|th|"
    "thead|time|title|tr|track|tt|u|ul|var|video|wbr|xmp"
)
_NOT_A_TAG = re.compile(r"<(?!/?(?:" + _HTML_ELEMENTS + r")(?=[\s/>])|!)", re.IGNORECASE)


def _published(item: dict[str, Any], language: str) -> datetime | None:
    for key in ("published", "updated"):
        raw = _str(item.get(key)).strip()
        when = dates.published(raw, item.get(f"{key}_parsed"), language=language)
        if when is not None:
            return when
    return None


def _ill_formed(parsed: Mapping[str, Any]) -> bool:
    """The body is not well-formed XML (not merely, say, in another charset than declared)."""
    return bool(parsed.get("bozo")) and isinstance(parsed.get("bozo_exception"), SAXException)


# expat's complaints that only the end of a body can cause: it stopped in an element, a tag, a
# character or a CDATA section. A body cut off (a dropped connection, a server that stops
# writing) ends in one; an ill-formed body complains where it goes wrong, and no further.
_CUT_OFF = frozenset(
    {
        expat_errors.XML_ERROR_NO_ELEMENTS,  # "no element found": elements left open
        expat_errors.XML_ERROR_UNCLOSED_TOKEN,
        expat_errors.XML_ERROR_PARTIAL_CHAR,
        expat_errors.XML_ERROR_UNCLOSED_CDATA_SECTION,
    }
)


def _ends_early(parsed: Mapping[str, Any]) -> bool:
    """The body stops before its end: cut off, so the last item feedparser read of it is the
    one the cut fell in, and its text (or its title) may be cut."""
    exc = parsed.get("bozo_exception")
    return (
        bool(parsed.get("bozo"))
        and isinstance(exc, SAXParseException)
        and exc.getMessage() in _CUT_OFF
    )


def _bozo_text(
    parsed: Mapping[str, Any], charset: str = "", *, body: bytes = b"", dropped: bytes = b""
) -> str:
    """feedparser's complaint, after `charset` (`_charset_note`), which says in plainer words
    what its CharacterEncodingOverride says ("document declared as utf-8, but parsed as
    SHIFT_JIS": no charset was declared) and what a later complaint overwrote. expat's is
    placed in the body as served (`_fault`): `body` as feedparser was given it, `dropped` the
    white space taken from before its declaration."""
    complaint = ""
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        if exc is None:
            complaint = "ill-formed"
        elif isinstance(exc, SAXParseException):
            complaint = _fault(exc, body, dropped, _str(parsed.get("encoding")))
        elif not isinstance(exc, feedparser.CharacterEncodingOverride):
            complaint = collapse(str(exc)) or type(exc).__name__
    return "; ".join(text for text in (charset, complaint) if text)


# feedparser hands expat the body decoded, with this declaration in place of the body's own
# (its RE_XML_DECLARATION), or on a line of its own before a body without one.
_FEEDPARSER_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
_DECLARATION = re.compile(r"^<\?xml[^>]*?>")
_LINE_BREAK = re.compile(r"\r\n?|\n")  # what expat counts as one


def _fault(exc: SAXParseException, body: bytes, dropped: bytes, read_as: str) -> str:
    """expat's complaint at its line and column in the body as served, `line 34, column 158:
    not well-formed (invalid token)` (the column counted from 0, as expat does), not in what
    feedparser gave expat (`<unknown>:35:158: …`, where `<unknown>` stands for a file name)."""
    try:
        head = body[:1024].decode(read_as or "utf-8", errors="replace").removeprefix("\ufeff")
    except LookupError:
        head = ""
    declared = _DECLARATION.match(head)
    given = _FEEDPARSER_DECLARATION + ("" if declared else "\n")
    served = dropped.decode("latin-1") + (declared[0] if declared else "")
    line, column = exc.getLineNumber(), exc.getColumnNumber()
    if line is None or column is None:
        return collapse(str(exc))
    line, column = _moved(line, column, given, served)
    return f"line {line}, column {column}: {exc.getMessage()}"


def _moved(line: int, column: int, given: str, served: str) -> tuple[int, int]:
    """Where (line, column) of `given` + a text is in `served` + the same text."""
    given_lines, served_lines = _LINE_BREAK.split(given), _LINE_BREAK.split(served)
    if line < len(given_lines):  # in feedparser's own declaration: nothing of the body's
        return line, column
    if line == len(given_lines):  # on the line the declarations end
        column += len(served_lines[-1]) - len(given_lines[-1])
    return line + len(served_lines) - len(given_lines), column


# ---------------------------------------------------------------- URLs and publishers


def _absolute(link: str, base: str) -> str:
    """`link` resolved against `base`; "" unless the result is an http(s) URL."""
    if not link:
        return ""
    try:
        if base and _AS_JOINED.fullmatch(link) and not _JOIN_DROPS.search(link):
            # What urljoin refuses (ValueError) is refused; the link's parts are then cached
            # for `publisher_of`. It is what urljoin makes of it, at a third of the cost.
            urlsplit(base), urlsplit(link)
            return link
        absolute = urljoin(base, link)
    except ValueError:
        return ""
    return absolute if urlsplit(absolute).scheme in ("http", "https") else ""


# A link that `urljoin` gives back as it is, whatever the base: an http(s) URL with a host,
# without a tab or line break (it drops them), nor a "?", "#" or ";" that ends it or comes before
# a "?" or "#" (an empty query, fragment or last segment's params, which it drops).
_AS_JOINED = re.compile(r"https?://[^/?#\t\r\n][^\t\r\n]*")
_JOIN_DROPS = re.compile(r"[?#;](?:[?#]|$)")


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package: never downloads


def publisher_of(url: str) -> str:
    """The registrable domain of a URL's host ("news.yahoo.co.jp" -> "yahoo.co.jp"), in lower
    case, a Unicode one in its IDNA form (`links.host_key`): `bücher.de` and `xn--bcher-kva.de`
    are one publisher, as they are one host.

    Hosts without one (IP addresses, "localhost", a bare public suffix) are returned as
    they are; "" when the URL has no host.
    """
    try:
        netloc = urlsplit(url.strip()).netloc
    except ValueError:
        return ""
    return _publisher(netloc)


@lru_cache(maxsize=16_384)  # feeds name few hosts, and the lookup costs more than the parse
def _publisher(netloc: str) -> str:
    """`publisher_of` a URL whose netloc (user info, host, port) is `netloc`: a feed's links
    share a few, and reading the host out of one costs more than looking it up here."""
    host = (SplitResult("", netloc, "", "", "").hostname or "").rstrip(".")
    if not host:
        return ""
    host = host_key(host)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _suffixes().privatesuffix(host) or host


# ---------------------------------------------------------------- text


def collapse(text: str) -> str:
    """Whitespace runs become one space, or one newline when they held a line break."""
    if "\n" not in text:
        return " ".join(text.split())
    return "\n".join([" ".join(words) for line in text.split("\n") if (words := line.split())])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: scripts and styles dropped, blocks on their own lines."""
    if "<" not in html and "&" not in html:
        return collapse(html)
    tree = LexborHTMLParser("<body>" + html)  # in <body>, <noscript> holds elements, not text
    if _SPECIAL_TAG.search(html):
        tree.strip_tags(list(DROPPED_TAGS))
        tree.unwrap_tags(list(RAW_TEXT_TAGS))
    root = tree.body or tree.root
    if root is None:
        return ""
    # Block elements are found in the serialized tree: a CSS query and a text node inserted
    # around each block cost more than the parse itself.
    return collapse(_serialized_text(root.html or ""))


def _serialized_text(html: str) -> str:
    """The text of serialized HTML, with a newline for each tag of a block element.

    The serializer escapes "<", ">", "&" and U+00A0 in text and attribute values (not in
    RAW_TEXT_TAGS), and no name holds a ">": read from the left, each "<" outside a tag opens a
    tag that ends at the next ">", or a comment; each "&" opens one of `_ESCAPES`.
    """
    parts = _MARKUP.split(html)  # texts, and between them the name of a block's tag or None
    parts[1::2] = ["\n" if name else "" for name in parts[1::2]]  # cheaper than a sub's calls
    text = "".join(parts)
    if "&" in text:
        for escape, char in _ESCAPES:
            text = text.replace(escape, char)
    return text


def _str(value: object) -> str:
    """A feed's value as text without control characters (`CONTROLS`); "" for what is no
    text."""
    return without_controls(value) if isinstance(value, str) else ""


def _given(value: object) -> str:
    """A feed's value as given, if it is text; "" for what is no text."""
    return value if isinstance(value, str) else ""
