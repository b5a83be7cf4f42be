"""The prefilter of regex terms: the literals every match contains, read without CPython's
private parser, as that parser read them (so the same regexes are skipped)."""

from __future__ import annotations

import ast

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match.prefilter import required_literals
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("\\bs\\.? korea", (frozenset({" korea"}),)),
        (
            "ban on (south korean |korean )?group tour",
            (frozenset({"group tour"}), frozenset({"ban on "})),
        ),
        (
            "\\bkorean (\\w+ ){0,2}(films?|movies?)\\b",
            (frozenset({"korean "}), frozenset({"movie", "film"})),
        ),
        ("visa[- ]free", (frozenset({"visa"}), frozenset({"free"}))),
        ("(?i)no[- ]visa entry", (frozenset({"visa entry"}),)),
        ("abc|abd", (frozenset({"ab"}),)),
        ("a|b|c", ()),
        ("(?:sanction)+s", (frozenset({"sanction"}),)),
        ("(sanctions?|embargo)", (frozenset({"sanction", "embargo"}),)),
        ("x*y+z{2}", (frozenset({"y"}),)),
        ("[.]com", (frozenset({".com"}),)),
        ("colou?r", (frozenset({"colo"}),)),
        ("(?<!u\\.)\\bchina", (frozenset({"china"}),)),
        ("(?=foo)bar", (frozenset({"bar"}),)),
        ("(\\w+) \\1 again", ()),  # a backreference: no prefilter
        ("(?x) spaced out", ()),  # verbose mode: no prefilter
        ("\\p{Han}+visa", ()),
        ("visa(?#note)waiver", (frozenset({"visawaiver"}),)),
        (
            "multiple-entry (visa|permit)s?",
            (frozenset({"multiple-entry "}), frozenset({"permit", "visa"})),
        ),
        ("(?P<who>beijing|seoul) (says|said)", (frozenset({"beijing", "seoul"}),)),
        ("a++bcdef", (frozenset({"bcdef"}),)),
        ("\\x41bcd", (frozenset({"abcd"}),)),
        ("中国", (frozenset({"中国"}),)),  # no case: a match holds it as written
        ("관세[^.]{0,6}(인하|철폐)", (frozenset({"관세"}),)),
        ("(FTA|자유무역협정) ?(발효|시행)", (frozenset({"발효", "시행"}),)),
        ("(visa|ビザ)免除", (frozenset({"免除"}),)),
        ("visa免除", (frozenset({"visa"}), frozenset({"免除"}))),  # the ASCII ones first
        ("[中国]人", (frozenset({"人"}),)),
        ("[^a]bcde", (frozenset({"bcde"}),)),
        ("(?i:Seoul) talks", (frozenset({"seoul"}), frozenset({" talks"}))),  # as rare: in order
        # the spaces around a word are no letters: "the" is no requirement worth scanning for
        (
            "(dialogue|talks) (is|are) the (only|best) way",
            (frozenset({"dialogue", "talks"}), frozenset({"best", "only"})),
        ),
    ],
)
def test_required_literals(pattern: str, expected: tuple[frozenset[str], ...]) -> None:
    assert required_literals(pattern) == expected


ATOMS = ["a", "b", "ab", "ba", " ", "-", ".", "\\.", "\\b", "\\w", "[ab]", "[a]", "[^a]", "(", ")"]
ATOMS += ["(?:", "(?=", "(?!", "|", "*", "+", "?", "{2}", "{1,3}", "{,2}", "+?", "*+", "^", "$"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(ATOMS), min_size=1, max_size=10).map("".join),
    st.lists(st.sampled_from(["a", "b", " ", "-", "."]), max_size=12).map("".join),
)
def test_every_match_contains_a_literal_of_each_requirement(pattern: str, text: str) -> None:
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error:
        return
    found = compiled.search(text)
    if found is not None:
        for need in required_literals(pattern):
            assert any(literal in found.group().lower() for literal in need)


CASELESS_ATOMS = ["中", "国", "中国", "비자", "ビザ", "[中国]", "[^中]", ".", "(", ")", "(?:"]
CASELESS_ATOMS += ["(?!", "|", "*", "+", "?", "{2}", "{0,3}", " ", "a"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(CASELESS_ATOMS), min_size=1, max_size=10).map("".join),
    st.lists(st.sampled_from(["中", "国", "비", "자", "ビ", "ザ", " ", "a"]), max_size=12).map(
        "".join
    ),
)
def test_every_match_contains_a_caseless_literal_of_each_requirement(
    pattern: str, text: str
) -> None:
    """Han, Kana and Hangul literals: every match holds one of each set, as written."""
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error:
        return
    found = compiled.search(text)
    if found is not None:
        for need in required_literals(pattern):
            assert any(literal in found.group().lower() for literal in need)


def test_no_module_imports_a_private_module_of_the_standard_library() -> None:
    for path in (ROOT / "monitor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            assert not [n for n in names if n.startswith(("re._", "sre_"))], path
