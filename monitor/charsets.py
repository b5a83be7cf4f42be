"""charsets: which charset a feed body is read in, and what to say when that was a guess. Pure:
bytes and labels in, decisions out; `monitor.parse` tells feedparser what is decided here.

    declaration_first(body)                 the body without white space before its declaration
    xml_content_type(content_type, body)    the media type (and charset) feedparser is told
    repaired_utf8(body, content_type)       a UTF-8 body with a few stray bytes replaced
    charset_note(read_as, content_type, body)  "charset guessed: read as …" or ""
    misread_chinese(read, body)             "big5" for Big5 text read as GB (and the reverse)
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import re

# Charsets servers add to every text answer by default (Apache's AddDefaultCharset), whatever
# the body: a feed's own XML declaration naming another is believed over them.
_DEFAULT_CHARSETS = frozenset({"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"})
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8, UTF-16 (and 32) LE, BE
_UTF8 = ("utf-8", "utf8")
_DECLARED = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def declaration_first(body: bytes) -> bytes:
    """The body without the white space some servers print before the XML declaration (a PHP
    file's trailing line break): there the declaration, and its encoding, would be ignored."""
    if body[:1].isspace() and body.lstrip().startswith(b"<?xml"):
        return body.lstrip()
    return body


def xml_content_type(content_type: str | None, body: bytes) -> str:
    """The media type feedparser is told. application/xml lets the body's BOM or declaration
    choose the charset; it stands for a text/xml without one too (RFC 7303 obsoletes the
    us-ascii default of RFC 3023), for a server's default charset that the body's own
    declaration contradicts, and for any charset before a byte order mark."""
    if not content_type:
        return "application/xml"
    mime, charset = media(content_type)
    if not (mime in ("text/xml", "application/xml") or mime.endswith("+xml")):
        return content_type  # feedparser says what else it is (text/html: no feed)
    if body.startswith(_BOMS):
        charset = ""  # a byte order mark names the charset before any header (RFC 7303 3.3)
    elif charset in _DEFAULT_CHARSETS and declared(body) not in ("", *_DEFAULT_CHARSETS):
        charset = ""
    return content_type if charset else "application/xml"


def media(content_type: str) -> tuple[str, str]:
    """The media type and charset of a Content-Type, lower case ("" without one)."""
    mime, _, params = content_type.partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    return mime.strip().lower(), charset


def declared(body: bytes) -> str:
    """The encoding the body's XML declaration names, lower case ("" without one)."""
    found = _DECLARED.match(body[:200])
    return found[1].decode("ascii").lower() if found is not None else ""


STRAY_BYTES = 1 / 10_000  # of a UTF-8 body's bytes that may be invalid and replaced


def repaired_utf8(body: bytes, content_type: str) -> tuple[bytes, int]:
    """A body meant as UTF-8 (by its charset, its declaration, or XML's default) with a few
    bytes that are not: those replaced by U+FFFD, and how many. feedparser would read all of
    it in another charset (mojibake, so no rule matches), after asking chardet over all of it
    (ten seconds for a 2 MB feed). A body with more such bytes is left to that: it is in
    another charset than it says."""
    mime, charset = media(content_type)
    named = declared(body)
    if not charset and mime == "application/xml":
        charset = named or "utf-8"
    if charset not in _UTF8 or body.startswith(_BOMS[1:]):  # a UTF-16 mark: not meant so
        return body, 0
    try:
        body.decode("utf-8")
        return body, 0
    except UnicodeDecodeError:
        text = body.decode("utf-8", "replace")
    if named not in ("", *_UTF8) and _decodes(body, named):
        return body, 0  # the header is wrong, the declaration right: feedparser reads it so
    replaced = text.count("\ufffd")
    if replaced > max(3, len(body) * STRAY_BYTES):
        return body, 0
    return text.encode("utf-8"), replaced


def _decodes(body: bytes, charset: str) -> bool:
    try:
        body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


# Charsets read alike, as the first: feedparser reads gb2312 as gb18030, and each of the others
# holds its first's text and more. A feed labelled with one and read in another was not misread.
_ALIKE = {"gb2312": "gb18030", "gbk": "gb18030", "cp932": "shift_jis", "cp949": "euc_kr",
          "cp950": "big5", "big5hkscs": "big5"}  # fmt: skip


def charset_note(read_as: str, content_type: str, body: bytes) -> str:
    """`read_as`, the charset feedparser read a body in, when no label named it (chardet's
    guess, or its last resorts: mojibake is likely) or the labels disagree; "" otherwise, and
    for a body in ASCII or with a byte order mark. The labels: the Content-Type's charset as
    told to feedparser (`xml_content_type`) and the XML declaration's; without either, UTF-8."""
    read = read_as.lower()
    if not read or body.isascii() or body.startswith(_BOMS):
        return ""
    labels = {"the server says": media(content_type)[1], "the feed declares": declared(body)}
    named = {_alike(name) for name in labels.values() if name} or {"utf-8"}
    said = ", ".join(f"{who} {name}" for who, name in labels.items() if name)
    said = said or "the feed names none"
    if _alike(read) not in named:
        return f"charset guessed: read as {read}; {said}"
    other = misread_chinese(_alike(read), body)
    looks = f", but the text looks like {other}" if other else ""
    if len(named) > 1 or looks:
        return f"charsets disagree: read as {read}; {said}{looks}"
    return ""


def _alike(charset: str) -> str:
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        name = charset.lower()
    return _ALIKE.get(name, name)


# The two charsets of Chinese text, each with the codes of its common characters: GB2312's
# punctuation and full-width forms (rows 1-3) and its 6,763 hanzi (rows 16-87, the simplified
# characters in everyday use); Big5's punctuation and its 5,401 frequent characters (A440-C67E,
# the traditional characters in everyday use; the 7,652 after them are rare). Genuine news has
# a few characters per thousand outside its charset's set; Chinese text read in the other
# charset has most of them outside (Big5 read as GB about 3 in 4, GB read as Big5 about half).
_CHINESE = {
    "gb18030": (("gb18030", "gb2312"), ((0xA1A1, 0xA3FE), (0xB0A1, 0xF7FE))),
    "big5": (("cp950", "big5"), ((0xA140, 0xA3BF), (0xA440, 0xC67E))),
}
CHINESE_SAMPLE = 16 * 1024  # bytes: the first of a body, where the two readings are weighed
CHINESE_MIN = 20  # characters that are not ASCII: fewer decide nothing
IMPLAUSIBLE = 1 / 3  # of the characters outside the common set: not text in that charset
PLAUSIBLE = 1 / 10  # at most: text in that charset
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def misread_chinese(read: str, body: bytes) -> str:
    """The other charset of Chinese ("big5" or "gb18030") when a body read as `read` (one of
    them, as `_alike` names it) is implausible text in it and plausible in the other: its first
    `CHINESE_SAMPLE` bytes decode in the other without an error, and of their characters that
    are not ASCII at least `IMPLAUSIBLE` fall outside the common set of the charset read and at
    most `PLAUSIBLE` outside the other's. "" otherwise, and for other charsets. feedparser reads
    Big5 labelled gb2312 as gb18030 without a complaint (every Big5 pair is a GBK code): the
    text is mojibake and no rule matches."""
    if read not in _CHINESE:
        return ""
    (other,) = set(_CHINESE) - {read}
    sample = body[:CHINESE_SAMPLE]
    try:
        as_other = _not_ascii(sample, other, "strict")
    except UnicodeDecodeError:
        return ""
    as_read = _not_ascii(sample, read, "replace")
    if min(len(as_read), len(as_other)) < CHINESE_MIN:
        return ""
    if _uncommon(as_read, read) >= IMPLAUSIBLE and _uncommon(as_other, other) <= PLAUSIBLE:
        return other
    return ""


def _not_ascii(sample: bytes, charset: str, errors: str) -> str:
    """The characters of `sample` that are not ASCII, read in `charset` (an incomplete last
    character, cut off by the sample, left out)."""
    decoder = codecs.getincrementaldecoder(_CHINESE[charset][0][0])(errors)
    return "".join(_NOT_ASCII.findall(decoder.decode(sample, final=False)))


def _uncommon(text: str, charset: str) -> float:
    """The share of `text` (characters that are not ASCII) outside `charset`'s common set."""
    return 1 - sum(map(_common(charset).__contains__, text)) / len(text)


@functools.cache
def _common(charset: str) -> frozenset[str]:
    """The common characters of `charset`: its codes in the ranges that the plain codec
    (gb2312, big5) defines, as each of its codecs reads them (gb18030 reads GB2312's middle dot
    and dash otherwise than gb2312 does)."""
    (reading, plain), ranges = _CHINESE[charset]
    found: set[str] = set()
    for low, high in ranges:
        for code in range(low, high + 1):
            pair = code.to_bytes(2, "big")
            with contextlib.suppress(UnicodeDecodeError):
                found.add(pair.decode(plain))
                found.add(pair.decode(reading))
    return frozenset(found)
