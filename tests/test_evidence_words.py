"""Evidence reads like news: the snippet does not repeat the headline, highlights never cut a
word, matched terms are shown as words a person wrote (never a regex's source)."""

from __future__ import annotations

import pytest

from monitor.page import highlight
from monitor.views import lede, shown_terms


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        ("South Korean visitors", ["/Korea/"], "South <mark>Korean</mark> visitors"),
        ("the Koreans", ["/orea/"], "the <mark>Koreans</mark>"),
        ("new sanctions imposed", ["sanction"], "new <mark>sanctions</mark> imposed"),
        ("Xinhua said", ["Xi"], "Xinhua said"),
        ("중국과 한국", ["/중/"], "<mark>중</mark>국과 한국"),  # no spaces between CJK words
    ],
)
def test_a_highlight_never_cuts_a_word(text: str, terms: list[str], expected: str) -> None:
    assert str(highlight(text, terms)) == expected


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (["title:China", "=US", "sanction*"], ("China", "US", "sanctions")),
        (["tariff*", "=Beijing"], ("tariff", "Beijing")),  # not in the text: as written
        (["/(extend|eas)\\w* visa/"], ("extends visa",)),  # the words it matched
        (["/Korea/"], ("Korean",)),  # whole words
        (["/never here/"], ()),  # matched beyond the snippet: left out, never the source
        (["/\\p{Han}+/"], ()),  # regex-module syntax: left out, never the source
    ],
)
def test_matched_terms_are_shown_as_words_a_person_wrote(
    terms: list[str], expected: tuple[str, ...]
) -> None:
    title = "China extends visa-free entry for South Korean visitors"
    assert shown_terms(terms, title, "The US said sanctions stay.") == expected


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("China extends visa-free entry. Seoul welcomes it…", "Seoul welcomes it…"),
        ("…china extends visa-free entry — Seoul welcomes it", "Seoul welcomes it"),
        ("China extends visa-free entry", ""),
        ("Seoul welcomes the move.", "Seoul welcomes the move."),
    ],
)
def test_the_snippet_does_not_repeat_the_headline(snippet: str, expected: str) -> None:
    assert lede("China extends  visa-free entry", snippet) == expected
