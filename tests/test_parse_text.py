"""html_to_text and collapse against straightforward references: the DOM walk and the two
regular expressions they replaced (the fast versions must give the same text, byte for byte);
and so the other shortcuts of a parse worker: links made absolute without `urljoin`, texts
kept without `CONTROLS` scanning them, publishers looked up by netloc, digests of parts hashed
at once."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.domain import CONTROLS
from monitor.identity import digest_of
from monitor.links import host_key
from monitor.parse import (
    BLOCK_TAGS,
    DROPPED_TAGS,
    _absolute,
    _str,
    _suffixes,
    collapse,
    html_to_text,
    publisher_of,
)


def reference_collapse(text: str) -> str:
    return re.sub(r"\s*\n\s*", "\n", re.sub(r"[^\S\n]+", " ", text)).strip()


def reference_html_to_text(html: str) -> str:
    """A newline before and after each block element in the tree, then its text."""
    if "<" not in html and "&" not in html:
        return reference_collapse(html)
    tree = LexborHTMLParser("<body>" + html)
    tree.strip_tags(list(DROPPED_TAGS))
    root = tree.body or tree.root
    if root is None:
        return ""
    for node in root.css(BLOCK_TAGS):
        node.insert_before("\n")
        node.insert_after("\n")
    return reference_collapse(root.text(deep=True, separator="", strip=False))


NAMES = [
    "p", "br", "div", "pre", "li", "ul", "ol", "td", "tr", "th", "table", "h1", "h6", "hr", "dd",
    "dl", "dt", "blockquote", "section", "summary", "details", "figure", "figcaption", "header",
    "footer", "main", "nav", "article", "aside", "address", "b", "i", "a", "span", "em", "font",
    "script", "style", "noscript", "template", "title", "iframe", "object", "svg", "math", "mi",
    "mtext", "annotation-xml", "xmp", "noembed", "noframes", "plaintext", "textarea", "select",
    "option", "caption", "tbody", "col", "body", "html", "head", "frameset", "image", "listing",
    "form", "center", "menu", "button", "selectedcontent", "desc", "P", "Br", "DIV", "Script",
    "p-x",
]  # fmt: skip
ATTRIBUTES = [
    "", " class=x", ' title="a<p>b"', " a='>'", " <p", "<p", " x=<p>", ' href="&amp;"',
    " \x00", "\n", " q='\"'", "<!--", " p", "/x", "/",
]  # fmt: skip
TEXTS = [
    "x", "two words", " ", "\n", "\r\n", "\t", "\xa0", "\u3000", "中文", "한국어", "&amp;", "&lt;",
    "&gt;", "&nbsp;", "&quot;", "&#0;", "&#x80;", "&#xD800;", "&notit;", "&amp", "&", "<", ">",
    "<!--", "-->", "--!>", "<!-- c <p> -->", "<![CDATA[x<p>]]>", "<?php <p> ?>", "<!doctype x>",
    "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "a < b", "</", "<a<p>", "<p<x>", "=", '"',
]  # fmt: skip
TAGS = st.builds(
    "<{}{}{}{}>".format,
    st.sampled_from(["", "/"]),
    st.sampled_from(NAMES),
    st.sampled_from(ATTRIBUTES),
    st.sampled_from(["", "/"]),
)
PIECES = st.one_of(TAGS, st.sampled_from(TEXTS), st.text(max_size=4))
FRAGMENTS = st.lists(PIECES, max_size=40).map("".join)


@pytest.mark.parametrize(
    "html",
    [
        "<p title='<p>x</p>'>a</p>b<a href=\"x>y\">c</a>",  # tags in attribute values
        "a<!-- <p> -- > -->b<!---->c<!--x--->d",  # comments holding tags and dashes
        "a<a<p>b</a<p>c<p <x>d<div <!--=x>e",  # "<" inside tag and attribute names
        "a<xmp><p>&amp;</xmp>b<math><xmp>&lt;p&gt;</xmp></math>c",  # raw text, as HTML or MathML
        "a<noembed>&lt;p&gt;</noembed><noframes><br></noframes>b<plaintext><p>&amp;",
        "a<math><section>s</section><script>&lt;p&gt;</script></math>b",
        "a<table>b<tr>c<td>d</table>e</div>f</li>g<td>h",  # foster parenting, stray tags
        "<p>a<xmp>b</xmp>c<form>d<center>e</p>f",  # a <p> closed by tags that are not blocks
        "a<?php echo '<p>'; ?>b<![CDATA[<p>]]>c",  # bogus comments
        "a&amp;lt;b&lt;p&gt;c&nbsp;d&amp;nbsp;e&#xa0;f",  # escapes of escapes
        "<textarea><p>a</textarea><title><p>b</title>c",
    ],
)
def test_html_to_text_matches_the_dom_reference_on_odd_markup(html: str) -> None:
    assert html_to_text(html) == reference_html_to_text(html)


@settings(max_examples=500, deadline=None)
@given(FRAGMENTS)
def test_html_to_text_matches_the_dom_reference(html: str) -> None:
    assert html_to_text(html) == reference_html_to_text(html)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000\u200bab中"))
    | st.text()
)
def test_collapse_matches_the_regex_reference(text: str) -> None:
    assert collapse(text) == reference_collapse(text)


def reference_absolute(link: str, base: str) -> str:
    """`parse._absolute` as it was: `urljoin`, whatever the link."""
    if not link:
        return ""
    try:
        absolute = urljoin(base, link)
    except ValueError:
        return ""
    return absolute if urlsplit(absolute).scheme in ("http", "https") else ""


LINK_PIECES = ["x.com", "a", "/", "?", "#", ";", ":", "@", "..", "[::1]", "]", "\t", "\uff03", "é"]

BASES = ["https://news.example.com/a/b/feed.xml?x=1", "http://f/", "http://h/a;p?q#f", "ftp://x/"]


@pytest.mark.parametrize(
    "link",
    [
        "https://news.example.com/2026/01/a.html?id=1#top",  # kept as it is: no urljoin
        "http://x.com/a?", "http://x.com/a#", "http://x.com/a?#f", "http://x.com/a;",
        "http://x.com/a;?q", "http://x.com/a;#f", "http://x.com/a;b", "http:///a", "http://x.com/a\tb",
        "http://[::1/a", "http://\uff03x.com/", "HTTP://x.com/a", "/a/b", "a?b", "",
    ],
)  # fmt: skip
@pytest.mark.parametrize("base", BASES)
def test_a_link_is_made_absolute_as_urljoin_makes_it_on_odd_links(link: str, base: str) -> None:
    assert _absolute(link, base) == reference_absolute(link, base)


@settings(max_examples=1000, deadline=None)
@given(
    st.builds(
        "{}{}".format,
        st.sampled_from(["https://", "http://", ""]),
        st.lists(st.sampled_from(LINK_PIECES), max_size=10).map("".join),
    ),
    st.sampled_from(BASES),
)
def test_a_link_is_made_absolute_as_urljoin_makes_it(link: str, base: str) -> None:
    assert _absolute(link, base) == reference_absolute(link, base)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab\t\n\x00\x1f\x7f\x85\x9f\xa0\u202a\u2066\u2069中"))
    | st.text()
)
def test_a_text_loses_its_control_characters_as_the_pattern_removes_them(text: str) -> None:
    assert _str(text) == CONTROLS.sub("", text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(), max_size=5))
def test_a_digest_hashes_each_part_followed_by_a_nul(parts: list[str]) -> None:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    assert digest_of(*parts) == h.hexdigest()


def reference_publisher_of(url: str) -> str:
    """`parse.publisher_of` as it was: the host read out of each URL."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""
    if not host:
        return ""
    host = host_key(host)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return _suffixes().privatesuffix(host) or host


HOST_PIECES = [
    "news.example.co.kr", "Wire.Example.COM", "bücher.de", "127.0.0.1", "[::1]", "[fe80::1%25x]",
    "user:pw@", "@", ":8080", ":", ".", "localhost", "co.uk", "%41", "/", "?", "#", " ", "\t",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    st.builds(
        "{}{}".format,
        st.sampled_from(["https://", "http://", " HTTP://", "//", ""]),
        st.lists(st.sampled_from(HOST_PIECES), max_size=6).map("".join),
    )
)
def test_a_publisher_is_the_one_its_url_s_host_names(url: str) -> None:
    assert publisher_of(url) == reference_publisher_of(url)
