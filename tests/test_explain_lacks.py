"""`monitor explain` on a part that does not hold though some of its terms occur: it names what
it lacks (`; missing: …`, as a part none of whose terms occur does): an `all`'s own terms not
found, a `near`'s terms of the groups none of whose terms occur (a failing `any` leaves it to
its nested rules); a `near` whose every group is found says they are too far apart. A part
that holds, and a `none` with the parts beneath it, name nothing missing."""

from __future__ import annotations

import pytest

from monitor.definitions import load_definitions
from monitor.match import Matcher
from monitor.match.explain import as_json, explain_entry
from monitor.match.explaintext import text_lines

FEEDS = "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [t]}\n"
RULES = """\
id: k
group: g
title: t
question: q
outcomes:
  - id: all-of
    label: an all of its own terms and a nested rule
    rule: {all: [China, sanction*, Pyongyang, DPRK, {any: [enforce*, implement*]}]}
  - id: wide
    label: an all lacking more terms than are named
    rule: {all: [China, WIDE]}
  - id: near-of
    label: a near, one group found
    rule: {near: {terms: [[China, Beijing], [sanction*, embargo], [enforce*]], within: 3}}
  - id: far
    label: a near whose groups are found far apart, in the entry
    rule: {near: {terms: [[China, Beijing], [sanction*, embargo]], within: 2}}
  - id: apart
    label: a near whose groups are found in different sentences
    rule: {scope: sentence, near: {terms: [China, sanction*], within: 2}}
  - id: any-of
    label: an any that fails though a nested rule has a term found
    rule: {any: [visa-free, 무비자, {all: [China, visa]}]}
  - id: vetoed
    label: a part beneath a none, some of its terms found
    rule: {all: [China, {none: [{all: [China, Tokyo]}]}]}
""".replace("WIDE", ", ".join(f"w{n}" for n in range(1, 12)))


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    root = tmp_path_factory.mktemp("lacks")
    (root / "indicators").mkdir()
    (root / "indicators" / "k.yaml").write_text(RULES)
    (root / "feeds.yaml").write_text(FEEDS)
    return Matcher(load_definitions(root / "indicators", root / "feeds.yaml").indicators)


def _explained(matcher: Matcher, outcome: str, title: str, text: str = "") -> list[str]:
    return text_lines(explain_entry(matcher, "k", title, text, outcome_id=outcome))


def test_an_all_some_of_whose_terms_occur_names_those_it_lacks(matcher: Matcher) -> None:
    """`no  all (4 terms) in the entry: China (1), sanction* (1)` did not say it lacked
    Pyongyang and DPRK; the terms of a nested rule that holds are not named."""
    title = "China will enforce sanctions"
    lines = _explained(matcher, "all-of", title)
    found = explain_entry(matcher, "k", title, "", outcome_id="all-of")

    assert lines[1:3] == [
        "  no  all (4 terms) not in the entry: China (1), sanction* (1); missing: Pyongyang, DPRK",
        "      yes any (2 terms) in the entry: enforce* (1)",
    ]
    rule = as_json(found)["outcomes"][0]["rule"]
    assert (rule["terms"]["missing"], rule["terms"]["missing_more"]) == (("Pyongyang", "DPRK"), 0)


def test_an_all_names_eight_terms_it_lacks_and_counts_the_rest(matcher: Matcher) -> None:
    found = explain_entry(matcher, "k", "China and w3 act", "", outcome_id="wide")

    assert text_lines(found)[1] == (
        "  no  all (12 terms) not in the entry: China (1), w3 (1);"
        " missing: w1, w2, w4, w5, w6, w7, w8, w9 and 2 more"
    )
    terms = as_json(found)["outcomes"][0]["rule"]["terms"]
    assert (terms["missing"], terms["missing_more"]) == (
        ("w1", "w2", "w4", "w5", "w6", "w7", "w8", "w9"), 2,
    )  # fmt: skip


def test_a_near_names_the_terms_of_the_groups_not_found_only(matcher: Matcher) -> None:
    """`group 2: none found` beside a group found said which group, not what it needed; the
    other alternatives of a group found (Beijing) are not needed, and not named."""
    found = explain_entry(matcher, "k", "China acts", "", outcome_id="near-of")

    assert text_lines(found)[1] == (
        "  no  near (within 3) not in the entry: group 1: China (1); group 2: none found;"
        " group 3: none found; missing: sanction*, embargo, enforce*"
    )
    groups = as_json(found)["outcomes"][0]["rule"]["groups"]
    assert [g["missing"] for g in groups] == [("Beijing",), ("sanction*", "embargo"), ("enforce*",)]
    assert [bool(g["found"]) for g in groups] == [True, False, False]


def test_a_near_whose_every_group_is_found_says_they_are_too_far_apart(matcher: Matcher) -> None:
    """Found far apart in the entry, or in different sentences, it said nothing of why."""
    far = _explained(matcher, "far", "China said on Monday that it would weigh new sanctions")
    apart = _explained(matcher, "apart", "China acts", "New sanctions follow.")

    assert far[1] == (
        "  no  near (within 2) not in the entry: group 1: China (1); group 2: sanction* (1);"
        " every group found, but not close enough"
    )
    assert apart[1] == (
        "  no  near (within 2) in no sentence: group 1: China (1); group 2: sanction* (2);"
        " every group found, but no sentence holds them all"
    )


def test_an_any_that_fails_leaves_its_nested_rules_to_say_what_they_lack(
    matcher: Matcher,
) -> None:
    """Any one of its alternatives would do: the one some of whose terms occur names the rest
    it lacks; the `any` does not list its own (on the shipped rules, lines of 1,500 characters)."""
    lines = _explained(matcher, "any-of", "China acts")

    assert lines[1:3] == [
        "  no  any (2 terms) not in the entry: none of its own terms found",
        "      no  all (2 terms) not in the entry: China (1); missing: visa",
    ]


def test_parts_that_hold_and_a_nones_name_nothing_missing(matcher: Matcher) -> None:
    """An `any` that holds is as it was; a part beneath a `none` lacks vetoes, which nothing
    needs."""
    held = _explained(matcher, "any-of", "China eases visa rules")
    vetoed = _explained(matcher, "vetoed", "China acts")

    assert held[1:3] == [
        "  yes any (2 terms) in the entry: none of its own terms found",
        "      yes all (2 terms) in the entry: China (1), visa (1)",
    ]
    assert vetoed[1:4] == [
        "  yes all (1 term) in the entry: China (1)",
        "      yes none: no veto fired",
        "          no  all (2 terms) not in the entry: China (1)",
    ]
    assert not any("missing" in line for line in held + vetoed)
