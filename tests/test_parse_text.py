"""html_to_text and collapse against straightforward references: the DOM walk and the two
regular expressions they replaced (the fast versions must give the same text, byte for byte)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.parse import BLOCK_TAGS, DROPPED_TAGS, collapse, html_to_text


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
