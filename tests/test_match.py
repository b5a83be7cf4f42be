"""match: compiled rules, one pass per entry, pure."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.definitions import compile_term, load_definitions
from monitor.domain import Entry, Indicator, Outcome
from monitor.match import Matcher, run_examples
from monitor.match.regexterms import regex_hits
from monitor.ruletree import (
    AllNode,
    AnyNode,
    NearNode,
    Node,
    NoneNode,
    Order,
    Rule,
    Scope,
    TermNode,
)

VALID = Path(__file__).parent / "data" / "definitions" / "valid"


# ---------------------------------------------------------------- builders


def node(spec: Any) -> Node:
    """A rule node from the YAML shape: a term string, or {all|any|none|near: ...} (ANDed)."""
    if isinstance(spec, str):
        return TermNode(compile_term(spec))
    assert isinstance(spec, Mapping)
    parts: list[Node] = []
    for key, value in spec.items():
        if key == "near":
            groups = tuple(
                tuple(map(compile_term, [t] if isinstance(t, str) else t)) for t in value["terms"]
            )
            order = Order(value.get("order", "any"))
            parts.append(NearNode(groups, value["within"], order))
        else:
            cls = {"all": AllNode, "any": AnyNode, "none": NoneNode}[key]
            parts.append(cls(tuple(node(v) for v in value)))
    return parts[0] if len(parts) == 1 else AllNode(tuple(parts))


def indicator(
    ind_id: str,
    rule: Any,
    scope: Scope = Scope.ENTRY,
    outcome: str = "yes",
    unless: Sequence[str] = (),
) -> Indicator:
    cues = tuple(map(compile_term, unless))
    return Indicator(
        id=ind_id,
        group="g",
        title="t",
        question="q",
        outcomes=(Outcome(outcome, outcome, Rule(node(rule), scope), unless=cues),),
    )


def entry(title: str, text: str = "", guid: str = "g1") -> Entry:
    return Entry("feed", guid, "https://example.org/a", title, text, None, "example.org")


def matches(rule: Any, title: str, text: str = "", scope: Scope = Scope.ENTRY) -> bool:
    return bool(Matcher([indicator("i", rule, scope)]).match(entry(title, text)))


# ---------------------------------------------------------------- terms

TERM_CASES = [
    # Latin phrases: case-insensitive, word boundaries on both sides
    ("north korea", "North Korea fires missile", True),
    ("north korea", "North Korea's leader", True),
    ("north korea", "North Koreans protest", False),
    ("north korea", "south-north korea talks", True),
    ("art", "The art of war", True),
    ("art", "Markets start higher", False),
    ("art", "Art.", True),
    ("un", "UN이 대북 제재를 논의했다", True),  # a Korean particle after a Latin term
    ("xi", "Taxi drivers strike", False),
    ("u.s.", "The U.S. envoy arrived", True),
    # CJK: substrings, whatever follows
    ("朝鲜", "朝鲜半岛局势紧张", True),
    ("中国", "中国外交部发言人表示", True),
    ("북한", "북한이 미사일을 발사했다", True),
    ("북한", "북한은 오늘", True),
    ("북한", "남한 정부는", False),
    # prefixes: left boundary only
    ("sanction*", "New sanctions announced", True),
    ("sanction*", "A sanctioned bank", True),
    ("sanction*", "Unsanctioned trade", False),
    ("denucleari*", "talks on denuclearization", True),
    # regexes run on the normalized text, case-insensitively
    ("/kim jong[- ]?un/", "Kim Jong-un appears", True),
    ("/kim jong[- ]?un/", "Kim Jong Il", False),
    ("/\\b\\d+ missiles?\\b/", "North Korea fires 3 missiles", True),
    # NFKC: full-width letters and compatibility forms
    ("china", "Ｃｈｉｎａ ａｎｄ Ｋｏｒｅａ", True),
    ("ＤＰＲＫ", "the dprk said", True),
    ("sanction*", "ＳＡＮＣＴＩＯＮＳ", True),
]


@pytest.mark.parametrize(("term", "title", "expected"), TERM_CASES)
def test_term(term: str, title: str, expected: bool) -> None:
    assert matches({"any": [term]}, title) is expected
    assert matches({"any": [term]}, "Headline", "Some text. " + title) is expected


WORD_FORM_CASES = [
    # a plain phrase matches the English forms of its words
    ("oppose", "China opposes new sanctions", True),
    ("oppose", "Beijing opposed the move", True),
    ("oppose", "Opposing views in Seoul", True),
    ("extend", "China extended visa-free entry", True),
    ("extend", "Seoul extends waiver", True),
    ("flight", "Airlines add flights to Jeju", True),
    ("ease", "Visa rules eased for tourists", True),
    ("ease", "China easing curbs", True),
    ("apply", "The rule applies to tour groups", True),
    ("apply", "Korea applied for membership", True),
    ("stop", "Beijing stopped issuing visas", True),
    ("stop", "Stopping the flow of coal", True),
    ("visa", "Visas for South Koreans", True),
    ("meet", "Xi met Lee in Gyeongju", True),
    ("hold", "The two sides held talks", True),
    ("resume flight", "Airlines resumed flights to Jeju", True),
    ("multiple-entry visa", "Ten-year multiple-entry visas", True),
    # a term in -ing is a noun: its plural, and no other form
    ("meeting", "Regular ministerial meetings agreed", True),
    ("booking", "Bookings to Jeju double", True),
    ("talking", "Talked to reporters", False),
    ("bring", "Brings new rules", True),  # not an -ing form: a verb with its own forms
    # ... and never a longer word, unlike a prefix
    ("ease", "East Asia summit", False),
    ("ease", "Tensions in the East China Sea", False),
    ("ban", "Bank of Korea holds rates", False),
    ("ban", "Talks in Bangkok", False),
    ("ban", "US banned the exports", True),
    ("visa", "Visakhapatnam port", False),
    # `=` opts out of forms; names and abbreviations are not inflected anyway
    ("=US", "US envoy in Seoul", True),
    ("=US", "The plan was used in talks", False),
    ("US", "The plan was used in talks", False),
    ("=Xi", "Xi visits Seoul", True),
    ("=oppose", "China opposes sanctions", False),
    ("=oppose", "We oppose sanctions", True),
    ("title:=Xi", "Xi visits Seoul", True),
    ("title:flight", "Flights resume", True),
    ("Park", "Parking rules change", False),
    # prefixes and regexes are unchanged
    ("eas*", "East Asia summit", True),
    ("/\\bvisa\\b/", "Visas for all", False),
    # non-Latin terms are unaffected; in a mixed term the Latin words inflect
    ("签证", "签证政策", True),
    ("sanction 北韓", "UN sanctions 北韩 again", True),
    ("=sanction 北韓", "UN sanctions 北韩 again", False),
]


CJK_CASES = [
    # Traditional Chinese folds to Simplified, in the text and in the term
    ("中國", "中国外交部发言人表示", True),
    ("中国", "中國外交部發言人表示", True),
    ("簽證", "中方对韩实行免签证政策", True),
    ("免签", "對韓國實施免簽政策", True),
    ("韓國", "韩国总统访华", True),
    ("朝鲜", "北韓與朝鮮半島", True),
    ("/韓國(總統|政府)/", "韩国总统访华", True),  # a regex's literal characters fold too
    ("/[丟-龜]{2}免簽/", "对韩国免签", True),  # ... but not inside [...]: the range stays
    # Japanese kanji fold the same way on both sides, so Japanese terms still match
    ("訪問", "首相が中国を訪問", True),
    ("関係", "日中関係が改善", True),
    ("経済", "日本経済の回復", True),
    ("北朝鮮", "北朝鮮がミサイル発射", True),
    ("査証免除", "中国が日本人の査証免除を再開", True),
    ("ビザ", "ビザなし渡航", True),
    # Korean: with or without spaces between syllables; particles after a word
    ("무비자", "무 비자 입국 허용", True),
    ("무비자", "무비자로 입국", True),
    ("비자 면제", "비자면제 확대", True),
    ("비자면제", "비자 면제 확대", True),
    ("중국", "회의 중 국내 기업이", False),  # two syllables are never split
    ("중국 내", "방문 중 국내 투자 확대", False),  # ... nor a two-syllable word of a phrase
    ("중국 내", "중국내 투자 확대", True),
    ("비자 면제", "비 자면제 확대", False),
    ("중국", "중국이 발표했다", True),
]


@pytest.mark.parametrize(("term", "title", "expected"), CJK_CASES)
def test_cjk_folding_and_korean_spacing(term: str, title: str, expected: bool) -> None:
    assert matches({"any": [term]}, title) is expected


def test_a_folded_match_quotes_the_original_text() -> None:
    found = Matcher([indicator("i", {"all": ["签证", "韩国"]})]).match(
        entry("對韓國實施免簽證政策")
    )
    assert found[0].snippet == "對韓國實施免簽證政策"
    assert found[0].terms == ("签证", "韩国")


@pytest.mark.parametrize(("term", "title", "expected"), WORD_FORM_CASES)
def test_word_forms(term: str, title: str, expected: bool) -> None:
    assert matches({"any": [term]}, title) is expected


@pytest.mark.parametrize(
    ("term", "title", "text", "expected"),
    [
        ("title:summit", "Summit in Seoul", "", True),
        ("title:summit", "Leaders meet", "The summit starts today", False),
        ("title:visit*", "Xi visits Seoul", "", True),
        ("title:/visit(s|ed)/", "Xi visited Seoul", "", True),
        ("title:/visit(s|ed)/", "Xi in Seoul", "He visited", False),
    ],
)
def test_title_terms(term: str, title: str, text: str, expected: bool) -> None:
    assert matches({"any": [term]}, title, text) is expected


# ---------------------------------------------------------------- operators

RULE_CASES = [
    ({"all": ["china", "korea"]}, "China and Korea", True),
    ({"all": ["china", "korea"]}, "China and Japan", False),
    ({"any": ["china", "korea"]}, "Korea alone", True),
    ({"all": ["china"], "none": ["oppose sanctions"]}, "China will enforce sanctions", True),
    ({"all": ["china"], "none": ["oppose sanctions"]}, "China will oppose sanctions", False),
    ({"any": ["china", {"all": ["japan", "korea"]}]}, "Japan and Korea", True),
    ({"any": ["china", {"all": ["japan", "korea"]}]}, "Japan alone", False),
    ({"all": ["china", {"none": ["taiwan", "tibet"]}]}, "China on Tibet", False),
    ({"all": ["china", {"any": ["/talks?/", "summit"]}]}, "China holds talks", True),
    ({"near": {"terms": ["xi", "visit*"], "within": 3}}, "Xi will visit Seoul", True),
    ({"near": {"terms": ["xi", "visit*"], "within": 3}}, "Visit by Xi", True),
    ({"near": {"terms": ["xi", "visit*"], "within": 0}}, "Xi visits", True),
    ({"near": {"terms": ["xi", "visit*"], "within": 0}}, "Xi will visit", False),
    (
        {"near": {"terms": ["xi", "visit*"], "within": 3}},
        "Xi said that he and his delegation would visit",
        False,
    ),
    ({"near": {"terms": ["xi", "lee", "summit"], "within": 2}}, "Xi, Lee hold summit", True),
    (
        {"near": {"terms": ["xi", "lee", "summit"], "within": 2}},
        "Xi and then Lee one summit",
        False,
    ),
    ({"near": {"terms": ["中国", "朝鲜"], "within": 2}}, "中国支持朝鲜", True),  # 2 chars = 1 word
    ({"near": {"terms": ["中国", "朝鲜"], "within": 2}}, "中国外交部今天说明朝鲜", False),
    ({"near": {"terms": ["중국", "북한"], "within": 1}}, "중국은 오늘 북한에", True),
]


@pytest.mark.parametrize(("rule", "title", "expected"), RULE_CASES)
def test_rule(rule: Any, title: str, expected: bool) -> None:
    assert matches(rule, title) is expected


SCOPE_CASES = [
    ("China spoke. North Korea fired.", True, False),
    ("China criticised North Korea.", True, True),
    ("China spoke!\nNorth Korea fired", True, False),
    ("中国表示。朝鲜发射导弹", True, False),
    # full-width ！ and ？ end a sentence too (NFKC makes them ! and ?, with no space after)
    ("中国表示！朝鲜发射导弹", True, False),
    ("中国表示？朝鲜发射导弹", True, False),
    ("中国支持WTO！朝鲜发射导弹", True, False),
    # and full-width ． (NFKC makes it .), which Japanese and Chinese also write
    ("中国表示．朝鲜发射导弹", True, False),
    ("中国支持WTO．朝鲜发射导弹", True, False),
    ("China says 3.5 percent of North Korea trade", True, True),
    ("The U.S. envoy met Chinese officials on North Korea.", True, True),
    ("Mr. Wang met North Korea officials.", True, True),
    # an ellipsis (…, which NFKC makes "...") between Chinese, Japanese or Korean words joins
    # clauses, as Korean headlines write it; one or two dots there still end a sentence
    ("中国表示……朝鲜发射导弹", True, True),
    ("中国表示...朝鲜发射导弹", True, True),
    ("中国表示..朝鲜发射导弹", True, False),
]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('중국, 北 핵실험 규탄…"북한 도발 용납 못해"', True),
        ('중국, 北 핵실험 규탄..."북한 도발 용납 못해"', True),
        ("중국, 北 핵실험 규탄… 북한 도발 비판", True),
        ("중국은 규탄했다.북한은 반발했다", False),
    ],
)
def test_an_ellipsis_joins_the_clauses_of_a_korean_headline(title: str, expected: bool) -> None:
    """Korean headlines join two clauses with "…" ("중국, 北 핵실험 규탄…'결의 위반'"): it was
    read as the end of a sentence, so a sentence-scope rule never saw the actor of the first
    clause with the act of the second."""
    rule = {"all": [{"any": ["중국"]}, {"any": ["북한"]}]}
    assert matches(rule, title, "", Scope.SENTENCE) is expected


@pytest.mark.parametrize(("text", "entry_scope", "sentence_scope"), SCOPE_CASES)
def test_sentence_scope(text: str, entry_scope: bool, sentence_scope: bool) -> None:
    rule = {
        "all": [{"any": ["china", "chinese", "wang", "中国"]}, {"any": ["north korea", "朝鲜"]}]
    }
    assert matches(rule, "Headline", text, Scope.ENTRY) is entry_scope
    assert matches(rule, "Headline", text, Scope.SENTENCE) is sentence_scope


def test_title_is_its_own_sentence() -> None:
    rule = {"all": ["china", "north korea"]}
    assert not matches(rule, "China warns", "North Korea fired.", Scope.SENTENCE)
    assert matches(rule, "China warns", "North Korea fired.", Scope.ENTRY)


CHINA = ["China", "Chinese", "Beijing", "中国"]
ORDER_CASES = [
    # order: before — the terms in the listed order
    (
        [CHINA, ["back", "support", "enforce"], "sanction"],
        "before",
        6,
        "China backs sanctions",
        True,
    ),
    (
        [CHINA, ["back", "support", "enforce"], "sanction"],
        "before",
        6,
        "Sanctions back China",
        False,
    ),
    (
        [CHINA, ["back", "support", "enforce"], "sanction"],
        "before",
        6,
        "Beijing says it will strictly enforce new UN sanctions",
        True,
    ),
    ([CHINA, ["back", "support"], "sanction"], "before", 1, "China will not back sanctions", False),
    # order: after — the reverse of the listed order
    (["sanction", CHINA], "after", 3, "China backs sanctions", True),
    (["sanction", CHINA], "after", 3, "Sanctions back China", False),
    # order: any (the default)
    (["sanction", CHINA], "any", 3, "Sanctions back China", True),
    (["sanction", CHINA], "any", 3, "China backs sanctions", True),
    # CJK: two characters count as one word
    (["中国", "制裁"], "before", 2, "中国支持制裁", True),
    (["中国", "制裁"], "before", 2, "制裁中国企业", False),
]


@pytest.mark.parametrize(("terms", "order", "within", "title", "expected"), ORDER_CASES)
def test_near_order(terms: list[Any], order: str, within: int, title: str, expected: bool) -> None:
    rule = {"near": {"terms": terms, "within": within, "order": order}}
    assert matches(rule, title) is expected


UNLESS = ["urge China", "calls on Beijing", "deny", "suspend"]
UNLESS_CASES = [
    # (scope, title, text, expected)
    (Scope.SENTENCE, "China to enforce sanctions on North Korea", "", True),
    (Scope.SENTENCE, "Seoul urges China to enforce sanctions on North Korea", "", False),
    (Scope.ENTRY, "Seoul urges China to enforce sanctions on North Korea", "", False),
    (Scope.SENTENCE, "China denies it will enforce sanctions on North Korea", "", False),
    # a cue in another sentence does not cancel
    (Scope.SENTENCE, "China to enforce sanctions on North Korea", "Russia denies a deal.", True),
    (Scope.ENTRY, "China to enforce sanctions on North Korea", "Russia denies a deal.", True),
    # with sentence scope another sentence may still hold the rule
    (
        Scope.SENTENCE,
        "Seoul urges China to enforce sanctions on North Korea",
        "China will enforce sanctions on North Korea, officials said.",
        True,
    ),
    # with entry scope, a cue in any sentence holding a matched term cancels the match
    (
        Scope.ENTRY,
        "China to enforce sanctions",
        "Beijing suspends the plan. North Korea protests.",
        False,
    ),
]


@pytest.mark.parametrize(("scope", "title", "text", "expected"), UNLESS_CASES)
def test_unless(scope: Scope, title: str, text: str, expected: bool) -> None:
    rule = {"all": [{"any": CHINA}, "enforce", "sanction", "north korea"]}
    if scope == Scope.ENTRY and "Beijing suspends" in text:
        rule = {"all": [{"any": CHINA}, "enforce", "sanction"]}
    matcher = Matcher([indicator("i", rule, scope, unless=UNLESS)])
    assert bool(matcher.match(entry(title, text))) is expected


def test_an_unless_cue_after_a_full_width_sentence_end_leaves_the_match() -> None:
    matcher = Matcher([indicator("i", {"all": ["中国", "制裁"]}, unless=["否认"])])
    for end in "。！？．":
        text = f"中国将执行制裁{end}俄罗斯否认此事{end}"
        assert matcher.match(entry("标题", text)), text


def test_unless_differs_from_none_with_entry_scope() -> None:
    rule = {"all": ["china", "sanction"]}
    title, text = "China backs sanctions", "Separately, Russia denies a deal."
    assert Matcher([indicator("i", rule, unless=["deny"])]).match(entry(title, text))
    assert not matches({**rule, "none": ["deny"]}, title, text)


def test_none_is_per_sentence_in_sentence_scope() -> None:
    rule = {"all": ["china", "sanction*"], "none": ["oppose*"]}
    text = "China will enforce sanctions. Russia opposes them."
    assert matches(rule, "Headline", text, Scope.SENTENCE)
    assert not matches(rule, "Headline", text, Scope.ENTRY)


# ---------------------------------------------------------------- the Match


def test_match_carries_entry_terms_and_snippet() -> None:
    rule = {
        "all": [{"any": ["Beijing", "China"]}, {"any": ["North Korea", "DPRK"]}],
        "none": ["oppose sanctions"],
    }
    prefix = "Intro words. " * 30
    text = prefix + "Officials in China said North Korea must stop. " + "Tail words. " * 30
    e = entry("Headline", text)
    [m] = Matcher([indicator("nk", rule, outcome="pressure")]).match(e)
    assert (m.entry_key, m.indicator_id, m.outcome_id) == (e.key, "nk", "pressure")
    assert m.terms == ("China", "North Korea")
    assert "Officials in China said North Korea" in m.snippet
    assert len(m.snippet) <= 205
    assert m.snippet.startswith("…") and m.snippet.endswith("…")


def test_terms_are_those_that_made_the_rule_true_in_rule_order() -> None:
    rule = {"any": ["korea", "china", {"all": ["japan", "taiwan"]}], "none": ["russia"]}
    [m] = Matcher([indicator("i", rule)]).match(entry("China, Japan, Korea and China again"))
    assert m.terms == ("korea", "china")


def test_snippet_keeps_the_original_text() -> None:
    title = "Ｓｅｏｕｌ: 북한이 미사일을 발사했다"
    [m] = Matcher([indicator("i", {"any": ["북한"]})]).match(entry(title))
    assert m.snippet == title
    text = "Straße café " * 5 + "North Korea's MISSILE launch"
    [m] = Matcher([indicator("i", {"any": ["missile"]})]).match(entry("t", text))
    assert "North Korea's MISSILE launch" in m.snippet


def test_sentence_scope_terms_and_snippet_come_from_the_matching_sentence() -> None:
    rule = {"all": ["china", "north korea"]}
    text = "China spoke about trade. Later, China and North Korea met."
    [m] = Matcher([indicator("i", rule, Scope.SENTENCE)]).match(entry("Headline", text))
    assert m.terms == ("china", "north korea")
    assert "Later, China and North Korea met." in m.snippet


def test_one_pass_handles_many_indicators() -> None:
    indicators = [indicator(f"i{n}", {"all": [f"token{n}", "common"]}) for n in range(300)]
    indicators.append(indicator("cjk", {"any": ["北京"]}))
    indicators.append(indicator("re", {"any": ["/tok(en)?299/"]}))
    matcher = Matcher(indicators)
    found = matcher.match(entry("common token5 and token150", "北京 token299 common"))
    assert [m.indicator_id for m in found] == ["i5", "i150", "i299", "cjk", "re"]
    assert matcher.match(entry("nothing here")) == []


def test_one_entry_can_match_several_outcomes_of_one_indicator() -> None:
    ind = Indicator(
        "i",
        "g",
        "t",
        "q",
        (
            Outcome("a", "a", Rule(node({"any": ["china"]}))),
            Outcome("b", "b", Rule(node({"any": ["korea"]}))),
            Outcome("c", "c", Rule(node({"any": ["japan"]}))),
        ),
    )
    found = Matcher([ind]).match(entry("China and Korea"))
    assert [m.outcome_id for m in found] == ["a", "b"]


def test_a_regex_over_chinese_japanese_or_korean_text_gates_its_outcome() -> None:
    """The Han, Kana or Hangul a regex needs is a literal like any other: the outcome is tried
    only on entries that hold it, not on every entry."""
    matcher = Matcher([indicator("i", {"any": ["/(?<![(])서울(?!=)/", "/北京(?!\\d)/"]})])
    assert matcher.always == []
    assert matcher.match(entry("서울서 회담")) and matcher.match(entry("在北京举行"))
    assert not matcher.match(entry("(서울=연합뉴스) 회담")) and not matcher.match(entry("北京3月"))
    assert not matcher.match(entry("nothing here"))


def test_matcher_without_indicators_or_literals() -> None:
    assert Matcher([]).match(entry("anything")) == []
    assert Matcher([indicator("i", {"any": ["/x+y/"]})]).match(entry("xxy"))


GATED_RULES = [
    {"any": [{"all": ["ban", "eas*"]}, {"all": ["korean film*", "approv*"]}, "/lift\\w* ban/"]},
    {"all": [{"any": ["china", "/\\bxi\\b.{0,12}\\blee\\b/"]}, {"any": ["visa", "year"]}]},
    {"any": ["/\\b(five|ten|5|10)[- ]year (multiple[- ]entry )?visas?\\b/", "visa-free"]},
    {"any": ["/(export|tariff)s? (\\w+ ){0,3}(waiver|exemption)s?|(waiver|exemption) on export/"]},
    {"all": [{"any": ["china", "xi"]}, {"near": {"terms": ["visa", "ban"], "within": 2}}]},
    {"all": ["china", "visa*"], "none": ["ban", "/lift\\w* ban/"]},
    {"any": ["/(?<![(])서울(?!=)/", "/韓 ?(드라마|영화)/"]},
    {"all": [{"any": ["中国", "/(?<![(])(北京|베이징)(?!=)/"]}, "visa"]},
]
GATE_WORDS = "ban eases Korean films approved lifts lifted China Xi met Lee visa year five 10 - "
GATE_WORDS += "multiple entry visas visa-free export tariffs waiver exemption on the . ! 북"
GATE_WORDS += " 서울 (서울=연합뉴스) 베이징 (베이징=연합뉴스) 北京 中国 韓 드라마 영화"


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(range(len(GATED_RULES))),
    st.sampled_from(list(Scope)),
    st.lists(st.sampled_from(GATE_WORDS.split(" ")), max_size=14).map(" ".join),
)
def test_the_literal_gate_never_hides_a_match(rule: int, scope: Scope, text: str) -> None:
    """An outcome is only evaluated when its rule's required literals hit, and in sentence
    scope only when its terms occur in the entry; `/(?!)/` (needs no literal, never matches)
    makes the same rule evaluated on every entry."""
    from monitor.match import scan

    gated = Matcher([indicator("i", GATED_RULES[rule], scope)])
    always = Matcher([indicator("i", {"any": [GATED_RULES[rule], "/(?!)/"]}, scope)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan.Scan, "present", lambda _scan, _node: True)
        expected = bool(always.match(entry("t", text)))
    assert bool(gated.match(entry("t", text))) is expected


NESTED_GATES = [  # children of operators gated by the literals they need (/(?!)/: none)
    {"all": ["china", {"any": ["/(?!)/", {"all": ["/\\d+/", {"any": ["visa", "permit"]}]}]}]},
    {"all": [{"any": ["china", "xi"]}, {"none": [{"all": ["ban", "/lift\\w*/"]}, "year"]}]},
    {
        "any": [
            {"all": ["/\\bxi\\b/", {"any": ["visa", "ban"]}]},
            {"near": {"terms": ["china", "visa"], "within": 2}},
        ]
    },
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(GATED_RULES + NESTED_GATES),
    st.sampled_from(list(Scope)),
    st.lists(st.sampled_from([*GATE_WORDS.split(" "), "permit", "2024"]), max_size=14).map(
        " ".join
    ),
)
def test_gates_only_skip_work(rule: Any, scope: Scope, text: str) -> None:
    """With every gate open (outcomes, regex terms, operators' children) and every rule taken
    as present, an entry gets the same matches, terms and snippets."""
    from monitor.match import scan

    matcher = Matcher([indicator("i", rule, scope)])
    gated = matcher.match(entry("t", text))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan.Scan, "_gates", lambda _scan: -1)  # every bit set
        patch.setattr(scan.Scan, "present", lambda _scan, _node: True)
        assert matcher.match(entry("t", text)) == gated


def test_a_child_whose_literals_are_absent_is_not_evaluated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The inner `all` needs visa or permit: without them, its regex never runs."""
    from monitor.match import scan

    runs: list[str] = []

    def counted(pattern: regex.Pattern[str], text: str, timeout: float) -> list[tuple[int, int]]:
        runs.append(pattern.pattern)
        return regex_hits(pattern, text, timeout)

    monkeypatch.setattr(scan, "regex_hits", counted)
    matcher = Matcher([indicator("i", NESTED_GATES[0])])
    assert not matcher.match(entry("China in 2024"))
    assert runs == ["(?!)"]
    assert matcher.match(entry("China: 2024 visa"))
    assert runs[1:] == ["(?!)", "\\d+"]


# ---------------------------------------------------------------- regex timeouts


def test_catastrophic_regex_times_out_and_counts_as_no_match() -> None:
    matcher = Matcher([indicator("i", {"any": ["/(a|aa)+$/"]})], regex_timeout=0.01)
    assert matcher.match(entry("a" * 60 + "b")) == []
    assert matcher.regex_timeouts == 1
    assert matcher.match(entry("aaa")) != []  # the same term still works on easy text


class KeptWaiting:
    """A pattern whose first search times out on the clock having used no CPU time: what a
    busy machine does to a search by not running its thread."""

    def __init__(self) -> None:
        self.searches = 0

    def search(self, text: str, pos: int, timeout: float) -> regex.Match[str] | None:
        self.searches += 1
        if self.searches == 1:
            raise TimeoutError
        return regex.compile("aaa").search(text, pos)


def test_a_search_kept_waiting_by_a_busy_machine_is_not_cut_short() -> None:
    pattern = KeptWaiting()
    assert regex_hits(pattern, "aaa", 0.05) == [(0, 3)]  # type: ignore[arg-type]
    assert pattern.searches >= 2


def test_nested_quantifier_regex_returns() -> None:
    matcher = Matcher([indicator("i", {"any": ["/(a+)+$/"]})], regex_timeout=0.01)
    assert matcher.match(entry("a" * 5000 + "b")) == []


# ---------------------------------------------------------------- examples


def test_run_examples_of_the_valid_set_pass() -> None:
    defs = load_definitions(VALID / "indicators", VALID / "feeds.yaml")
    results = run_examples(defs.indicators, Matcher(defs.indicators))
    assert [(r.indicator_id, r.expected, r.actual, r.passed) for r in results] == [
        ("north-korea-stance", "pressure", ("pressure",), True),
        ("north-korea-stance", "balance", ("balance",), True),
        ("north-korea-stance", "none", ("none",), True),
    ]
    assert results[0].terms == ("China", "Xi", "North Korea", "sanction*", "enforce*")
    assert results[2].terms == ("North Korea",)


def test_run_examples_explains_a_failure() -> None:
    from dataclasses import replace

    from monitor.domain import Example

    ind = replace(
        indicator("i", {"all": ["china", "sanction*"]}, outcome="pressure"),
        examples=(
            Example("China mulls sanctions", "none", line=3),
            Example("China talks", "pressure", body="about trade", line=5),
            Example("Nothing", "none", line=7),
        ),
    )
    results = run_examples([ind], Matcher([ind]))
    assert [(r.actual, r.passed) for r in results] == [
        (("pressure",), False),
        (("none",), False),
        (("none",), True),
    ]
    assert results[1].terms == ("china",)
    assert results[1].example.line == 5


# ---------------------------------------------------------------- properties

PROPERTY_INDICATORS: Sequence[Indicator] = [
    indicator("phrase", {"any": ["north korea", "xi jinping"]}),
    indicator("cjk", {"any": ["朝鲜", "북한", "中国"]}),
    indicator("prefix", {"all": ["sanction*", {"none": ["lift*"]}]}, Scope.SENTENCE),
    indicator("regex", {"any": ["/kim.{0,3}jong/", "title:/^breaking/"]}),
    indicator("near", {"near": {"terms": ["xi", "visit*"], "within": 3}}, Scope.SENTENCE),
]
PROPERTY_MATCHER = Matcher(PROPERTY_INDICATORS)
PHRASES = ["north korea", "Xi Jinping", "朝鲜", "북한", "中国"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.text(max_size=400))
def test_matching_never_raises(title: str, text: str) -> None:
    for m in PROPERTY_MATCHER.match(entry(title, text)):
        assert m.terms and isinstance(m.snippet, str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(PHRASES), st.text(max_size=200))
def test_a_phrase_with_spaces_around_always_matches(before: str, phrase: str, after: str) -> None:
    found = PROPERTY_MATCHER.match(entry("t", before + " " + phrase + " " + after))
    assert {"phrase", "cjk"} & {m.indicator_id for m in found}


NONE_RULE = Matcher([indicator("i", {"any": ["china", "beijing*"], "none": ["oppose sanctions"]})])


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("abc ChinaBeijing.\n북"), max_size=80),
    st.text(max_size=80),
    st.text(max_size=80),
)
def test_adding_a_none_term_never_turns_a_non_match_into_a_match(
    text: str, before: str, after: str
) -> None:
    if NONE_RULE.match(entry("t", text)):
        return
    assert not NONE_RULE.match(entry("t", text + before + " oppose sanctions " + after))
    assert not NONE_RULE.match(entry("oppose sanctions", text + after))


REGEXES = [
    r"(eas|lift|relax)\w* (\w+ ){0,3}sanctions",
    r"kim jong[- ]?un",
    r"(?<!north )\bkorea",
    r"\bxi\b.{0,12}\blee\b|\blee\b.{0,12}\bxi\b",
    r"(export|tariff)s? ban",
    r"(?i)Visa|(?:foo)?bar",
    r"\d+ missiles?",
]
REGEX_MATCHER = Matcher([indicator(f"r{n}", {"any": [f"/{r}/"]}) for n, r in enumerate(REGEXES)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Kim",
                "Jong-un",
                "jong un",
                "lift",
                "eases",
                "new",
                "SANCTIONS",
                "North",
                "Korea",
                "Xi",
                "and",
                "Lee",
                "export",
                "tariffs",
                "ban",
                "visa",
                "foobar",
                "3",
                "missile",
                " ",
                ".",
                "-",
                "é",
                "北",
            ]
        ),
        max_size=12,
    ).map(" ".join)
)
def test_regex_prefilter_never_hides_a_match(text: str) -> None:
    import regex

    from monitor.domain import normalize

    flat = " ".join(normalize("t\n" + text).split(" "))
    expected = {f"r{n}" for n, r in enumerate(REGEXES) if regex.search(r, flat, regex.IGNORECASE)}
    assert {m.indicator_id for m in REGEX_MATCHER.match(entry("t", text))} == expected


# ---------------------------------------------------------------- pathological regexes, bounded

ATOMS = st.sampled_from(["a", "aa", "a?", r"\w", r"\s?", ".", "[ab]", "(?:a|a)", "(?:a|aa)"])
EVIL = st.recursive(
    ATOMS,
    lambda inner: st.tuples(st.lists(inner, min_size=1, max_size=3), st.sampled_from("+*")).map(
        lambda parts: "(" + "".join(parts[0]) + ")" + parts[1]
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None)
@given(
    pattern=st.tuples(EVIL, st.sampled_from(["$", "b", "!", r"\d"])).map("".join),
    scope=st.sampled_from([Scope.ENTRY, Scope.SENTENCE]),
    length=st.integers(20, 3_000),
)
def test_a_pathological_regex_never_stalls_matching(
    pattern: str, scope: Scope, length: int
) -> None:
    """Nested quantifiers over text built to make them backtrack: the time budget per term
    (`regex_timeout`) bounds every entry, in either scope, however the pattern is nested."""
    try:
        matcher = Matcher([indicator("i", {"any": [f"/{pattern}/"]}, scope)], regex_timeout=0.02)
    except ValueError:
        return  # rejected by the definitions (matches the empty string): also fine
    text = ("a" * length + " ") * 3 + "c"
    started = time.thread_time()  # CPU time: other processes on the machine do not count
    matcher.match(entry("a" * min(length, 900) + "c", text))
    assert time.thread_time() - started < 1.0


# ---------------------------------------------------------------- the shipped vocabulary

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def actors(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """One indicator per list of the shipped indicators/vocab/actors.yaml."""
    root = tmp_path_factory.mktemp("actors")
    (root / "indicators").mkdir()
    shutil.copytree(ROOT / "indicators" / "vocab", root / "indicators" / "vocab")
    for name in ("china", "south-korea", "north-korea"):
        (root / "indicators" / f"{name}.yaml").write_text(
            f"id: {name}\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n"
            f"  - id: yes\n    label: l\n    rule: {{any: ['@actors.{name}']}}\n"
        )
    (root / "feeds.yaml").write_text("feeds: []\n")
    return Matcher(load_definitions(root / "indicators", root / "feeds.yaml").indicators)


ACTOR_CASES = [
    ("Xi Jinping meets Lee Jae-myung in Gyeongju", {"china", "south-korea"}),
    ("S. Korea, China agree to resume talks", {"china", "south-korea"}),
    ("S Korean exports rise", {"south-korea"}),
    ("U.S. Korea policy under review", set()),
    ("N. Korea fires missile, KCNA says", {"north-korea"}),
    ("Kim Jong-un inspects factory", {"north-korea"}),
    ("中國外交部：習近平將訪問韓國", {"china", "south-korea"}),
    ("北朝鮮が弾道ミサイル発射、韓国軍発表", {"north-korea", "south-korea"}),
    ("중국 외교부, 북한 도발에 우려 표명", {"china", "north-korea"}),
    ("이재명 대통령, 시진핑 주석과 회담", {"china", "south-korea"}),
    ("Japan and Taiwan sign trade pact", set()),
]


@pytest.mark.parametrize(("title", "expected"), ACTOR_CASES)
def test_shipped_actor_lists(actors: Matcher, title: str, expected: set[str]) -> None:
    assert {m.indicator_id for m in actors.match(entry(title))} == expected
