"""Evidence reads like news: the snippet does not repeat the headline, highlights never cut a
word, matched terms are shown as words a person wrote (never a regex's source)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.definitions import load_definitions, validate
from monitor.domain import Entry, Indicator
from monitor.match import Matcher
from monitor.page import highlight
from monitor.shownterms import shown_terms
from monitor.views import lede


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        ("South Korean visitors", ["/Korea/"], "South <mark>Korean</mark> visitors"),
        ("the Koreans", ["/orea/"], "the <mark>Koreans</mark>"),
        ("new sanctions imposed", ["sanction"], "new <mark>sanctions</mark> imposed"),
        ("Xinhua said", ["Xi"], "Xinhua said"),
        ("중국과 한국", ["/중/"], "<mark>중</mark>국과 한국"),  # no spaces between CJK words
        # as the matcher folds and spaces them: Traditional as Simplified, Korean with or
        # without the spaces of the term, never a two-syllable word split
        ("對韓國實施免簽政策", ["免签", "韩国"], "對<mark>韓國</mark>實施<mark>免簽</mark>政策"),
        (
            "무 비자 입국, 비자면제",
            ["무비자", "비자 면제"],
            "<mark>무 비자</mark> 입국, <mark>비자면제</mark>",
        ),
        ("방문 중 국내 투자", ["중국 내"], "방문 중 국내 투자"),
        # a Latin term next to CJK text matches (no word boundary is crossed), so it is marked;
        # a prefix runs on over Latin letters only, not into a Korean particle or Chinese
        ("UN이 대북 제재", ["UN"], "<mark>UN</mark>이 대북 제재"),
        ("美国和WTO组织", ["wto"], "美国和<mark>WTO</mark>组织"),
        ("sanctions에 대해", ["sanction*"], "<mark>sanctions</mark>에 대해"),
        ("中国外交部表示", ["中国*"], "<mark>中国</mark>外交部表示"),
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
        ("…visa-free entry. Seoul welcomes it", "Seoul welcomes it"),  # the headline's end
        ("entry for tourists, Seoul said", "entry for tourists, Seoul said"),  # not cut off
        (
            "China extends visa-free entry China extends visa-free entry. Seoul welcomes it",
            "Seoul welcomes it",
        ),  # the headline, then a text that opens with it again
    ],
)
def test_the_snippet_does_not_repeat_the_headline(snippet: str, expected: str) -> None:
    assert lede("China extends  visa-free entry", snippet) == expected


LABELED = """\
id: ports
group: Trade
title: Port bans
question: Does China ban imports?
feeds: {tags: [china]}
window: 30d
outcomes:
  - id: ban
    label: A ban
    rule:
      all:
        - any: [China, 中国]
        - {term: '/(禁止|暂停)[^。]{0,10}(进口|出口)/', label: import or export ban}
examples:
  - text: 中国宣布暂停从日本进口水产品
    expect: ban
"""
FEEDS = "feeds:\n  - {id: f, url: 'https://example.org/rss', tags: [china]}\n"


def test_a_labeled_regex_term_is_reported_as_its_label(tmp_path: Path) -> None:
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "ports.yaml").write_text(LABELED, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    definitions = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")
    title = "中国宣布暂停从日本进口水产品"
    entry = Entry("f", "g", "https://example.org/1", title, "", None, "example.org")

    (found,) = Matcher(definitions.indicators).match(entry)

    assert found.terms == ("中国", "import or export ban")
    assert shown_terms(found.terms, title) == ("中国", "import or export ban")


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("{term: '/x+/'}", "missing"),
        ("{term: '/x+/', label: ''}", "a term's label must not be empty"),
        ("{term: '/x+/', label: x, note: y}", "unknown key 'note'"),
        ("{term: '/(/', label: x}", "bad regex"),
    ],
)
def test_a_labeled_term_is_checked(tmp_path: Path, item: str, problem: str) -> None:
    (tmp_path / "indicators").mkdir()
    text = LABELED.replace(
        "{term: '/(禁止|暂停)[^。]{0,10}(进口|出口)/', label: import or export ban}", item
    )
    (tmp_path / "indicators" / "ports.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(FEEDS)

    problems = validate(tmp_path / "indicators", tmp_path / "feeds.yaml")

    assert any("ports.yaml:13: " in p and problem in p for p in problems), problems


def test_a_hit_in_the_text_gives_a_snippet_of_the_text_alone() -> None:
    title = "China extends visa-free entry for South Korean visitors to 30 days"
    text = "Officials in Seoul welcomed the step. " * 2 + "Beijing will also ease sanctions."
    entry = Entry("f", "g", "https://example.org/1", title, text, None, "example.org")
    matcher = Matcher([_indicator(["sanction*"])])

    (found,) = matcher.match(entry)

    assert found.snippet.startswith("Officials in Seoul")  # no tail of the headline before it
    (in_title,) = Matcher([_indicator(["visa-free"])]).match(entry)
    assert in_title.snippet.startswith(title)  # the page and digest leave it out (lede)
    assert lede(title, in_title.snippet).startswith("Officials in Seoul")


def _indicator(terms: list[str]) -> Indicator:
    from tests.test_match import indicator

    return indicator("i", {"any": terms})


def test_a_latin_term_in_cjk_text_is_shown_as_the_headline_writes_it() -> None:
    title = "中国在APEC会上表示, 美国sanctions에 반대"
    assert shown_terms(["apec", "sanction*", "中国*"], title) == ("APEC", "sanctions", "中国")


def test_a_folded_or_spaced_term_is_shown_as_the_headline_writes_it() -> None:
    title, text = "中國對韓國實施免簽政策", "한국인 무 비자 입국 허용"
    assert shown_terms(["免签", "中國", "무비자", "査証免除"], title, text) == (
        "免簽", "中國", "무 비자", "査証免除",  # the last found nowhere: as written
    )  # fmt: skip
