"""`monitor.match.explain`: an explanation never disagrees with the matcher (over every shipped
example and labeled row), and it shows each part of a rule as it held or failed: a `near` too
far apart, a `none` that vetoes, an `unless` cue that cancels, an entry-scoped part inside a
sentence rule."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.definitions import load_definitions
from monitor.definitions.terms import compile_term
from monitor.domain import Definitions, Entry
from monitor.labeled import load_labeled, select
from monitor.match import Matcher
from monitor.match.explain import (
    MAX_TERMS,
    EntryExplanation,
    NodeExplanation,
    as_json,
    explain_entry,
)
from monitor.match.explaintext import text_lines
from monitor.ruletree import iter_terms
from tests.conftest import DATA, ROOT, SHARED

TRANSLATED = DATA / "labeled" / "translated"
LABELED_DEV = SHARED / "corpus" / "labeled-dev.tsv"
FEEDS = "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [t]}\n"


@functools.cache
def shipped() -> tuple[Definitions, Matcher]:
    definitions = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    return definitions, Matcher(definitions.indicators)


def _agrees(matcher: Matcher, title: str, text: str) -> list[str]:
    """Where the explanations of every outcome disagree with `Matcher.match` on one entry."""
    entry = Entry("x", "g", "", title, text, None, "example.org")
    fired = {(m.indicator_id, m.outcome_id): m.terms for m in matcher.match(entry)}
    wrong = []
    for indicator in matcher.indicators:
        for outcome in explain_entry(matcher, indicator.id, title, text).outcomes:
            key = (indicator.id, outcome.outcome)
            if outcome.matched != (key in fired) or outcome.terms != fired.get(key, ()):
                wrong.append(f"{key}: explained {outcome.matched}, matched {key in fired}")
            if outcome.rule.holds != (outcome.matched or outcome.cancelled):
                wrong.append(f"{key}: the rule's tree says {outcome.rule.holds}")
            if not outcome.tried and outcome.rule.holds:
                wrong.append(f"{key}: a shut gate, yet the rule holds")
    return wrong


def _examples() -> Iterator[tuple[str, str]]:
    definitions, _ = shipped()
    for indicator in definitions.indicators:
        for example in indicator.examples:
            yield example.text, example.body


def test_explanations_agree_with_the_matcher_on_every_shipped_example() -> None:
    _, matcher = shipped()
    examples = list(_examples())
    assert len(examples) > 50
    wrong = [w for title, text in examples for w in _agrees(matcher, title, text)]
    assert wrong == []


@pytest.mark.parametrize("path", sorted(TRANSLATED.glob("*.tsv")), ids=lambda p: p.stem)
def test_explanations_agree_with_the_matcher_on_the_translated_rows(path: Path) -> None:
    _, matcher = shipped()
    items = load_labeled(path)
    wrong = [w for item in items for w in _agrees(matcher, item.title, item.text)]
    assert items and wrong == []


def test_explanations_agree_with_the_matcher_on_labeled_dev_tune_rows() -> None:
    """The `tune` part only: the `score` rows are held out, never read while rules are made."""
    if not LABELED_DEV.is_file():
        pytest.skip(f"{LABELED_DEV} is absent: the shared corpus is only on developers' machines")
    _, matcher = shipped()
    items = select(load_labeled(LABELED_DEV), "tune")
    wrong = [w for item in items for w in _agrees(matcher, item.title, item.text)]
    assert len(items) > 100 and wrong == []


# ---------------------------------------------------------------- a hand-written indicator

RULES = """\
id: x
group: g
title: t
question: q
outcomes:
  - id: close
    label: China right before visa
    rule:
      scope: sentence
      near: {terms: [China, visa], within: 1, order: before}
  - id: vetoed
    label: visa, not suspended
    rule: {scope: sentence, any: [visa], none: [suspend]}
  - id: cued
    label: China and visa, not denied
    rule: {scope: sentence, all: [China, visa]}
    unless: [deny]
  - id: actor
    label: China anywhere, visa in a sentence
    rule:
      scope: sentence
      all:
        - {scope: entry, any: [China, Beijing]}
        - any: [visa, waiver]
  - id: later
    label: visa, then China
    rule: {near: {terms: [China, visa], within: 1, order: after}}
  - id: nested
    label: a waiver, or China and visa
    rule: {any: [waiver, {all: [China, visa]}]}
"""


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    root = tmp_path_factory.mktemp("explain")
    (root / "indicators").mkdir()
    (root / "indicators" / "x.yaml").write_text(RULES)
    (root / "feeds.yaml").write_text(FEEDS)
    return Matcher(load_definitions(root / "indicators", root / "feeds.yaml").indicators)


def one(matcher: Matcher, outcome: str, title: str, text: str = "") -> EntryExplanation:
    found = explain_entry(matcher, "x", title, text, outcome_id=outcome)
    assert [o.outcome for o in found.outcomes] == [outcome]
    assert _agrees(matcher, title, text) == []
    return found


def terms(node: NodeExplanation) -> dict[str, tuple[int, ...]]:
    return {f.term: f.sentences for f in node.terms.found}


def test_a_near_too_far_apart_shows_both_groups_found_in_one_sentence(matcher: Matcher) -> None:
    found = one(matcher, "close", "China will soon ease its visa rules")
    (outcome,) = found.outcomes
    rule = outcome.rule

    assert (outcome.matched, outcome.tried, outcome.cancelled) == (False, True, False)
    assert (rule.operator, rule.holds, rule.sentences) == ("near", False, ())
    assert (rule.within, rule.order, rule.together) == (1, "before", (1,))
    assert [{f.term for f in g.found} for g in rule.groups] == [{"China"}, {"visa"}]
    lines = text_lines(found)
    assert lines[1] == (
        "  no  near (within 1, order before) in no sentence: group 1: China (1); "
        "group 2: visa (1); every group in sentence 1, but not close enough"
    )
    assert lines[-2:] == ["sentences:", "    1  China will soon ease its visa rules"]
    assert one(matcher, "close", "China visa rules eased").outcomes[0].matched


@pytest.mark.parametrize(
    ("outcome", "title", "said"),
    [
        ("close", "A visa for China", "group 2: visa (1); every group in sentence 1, close "
         "enough, but not in the order listed"),
        ("later", "China eases visa rules", "group 2: visa (1); close enough, but not in the "
         "reverse of the order listed"),
        ("close", "Visa rules in the whole of China", "group 2: visa (1); every group in "
         "sentence 1, but not close enough"),
    ],
)  # fmt: skip
def test_a_near_with_an_order_says_when_its_groups_are_close_but_in_another_order(
    matcher: Matcher, outcome: str, title: str, said: str
) -> None:
    """Not `but not close enough` for groups one word apart in the other order: the author
    would widen `within`, which never helps, instead of looking at `order`."""
    found = one(matcher, outcome, title)
    rule = found.outcomes[0].rule
    assert (rule.holds, rule.out_of_order) == (False, "close enough," in said)
    assert text_lines(found)[1].endswith(said)
    assert as_json(found)["outcomes"][0]["rule"]["out_of_order"] is rule.out_of_order


def test_an_any_holding_by_a_nested_rule_does_not_say_none_of_its_terms_found(
    matcher: Matcher,
) -> None:
    """Its own terms are not found, its nested rule's are: `yes any …: none of its terms
    found` read as a contradiction."""
    lines = text_lines(one(matcher, "nested", "China eases visa rules"))
    assert lines[1] == "  yes any (1 term) in the entry: none of its own terms found"
    assert lines[2] == "      yes all (2 terms) in the entry: China (1), visa (1)"
    neither = text_lines(one(matcher, "nested", "Japan eases rules"))
    assert neither[1] == (
        "  no  any (1 term) not in the entry: none of its terms found"
        " (1 nested rule, none of their terms found; missing: waiver, China, visa)"
    )


def test_a_none_shows_the_terms_that_veto_and_where(matcher: Matcher) -> None:
    found = one(matcher, "vetoed", "Visa rules suspended", "Visa waivers go on. Visa rules stay.")
    (outcome,) = found.outcomes
    any_, none = outcome.rule.children

    assert outcome.matched and outcome.rule.sentences == (2, 3)
    assert (any_.operator, any_.sentences, terms(any_)) == ("any", (1, 2, 3), {"visa": (1, 2, 3)})
    # it holds in the segment after the last full stop too, which has no words: no sentence
    assert (none.operator, none.holds, none.sentences) == ("none", True, (2, 3))
    assert none.vetoed_by == ("suspend",) and terms(none) == {"suspend": (1,)}
    # it holds where no veto fired, and says where one did: not `yes … vetoed by suspend (1)`
    assert (
        '      yes none (1 term): no veto in sentences 2, 3; vetoed by "suspend" (sentence 1)'
        in text_lines(found)
    )

    alone = one(matcher, "vetoed", "Visa rules suspended").outcomes[0]
    assert not alone.matched and not alone.rule.holds
    assert (alone.rule.children[1].holds, alone.rule.children[1].sentences) == (True, ())
    alone_lines = text_lines(one(matcher, "vetoed", "Visa rules suspended"))
    # sentence 2, after a title with no text, has no words: people are not shown it
    assert '      no  none (1 term): vetoed by "suspend" (sentence 1)' in alone_lines
    assert alone_lines[-2:] == ["sentences:", "    1  Visa rules suspended"]


def test_an_unless_cue_in_the_sentence_of_the_match_cancels_it(matcher: Matcher) -> None:
    found = one(matcher, "cued", "China denies easing visa rules", "Deny everything.")
    (outcome,) = found.outcomes

    assert outcome.rule.holds and outcome.rule.sentences == (1,)
    assert (outcome.matched, outcome.cancelled, outcome.terms) == (False, True, ())
    assert [(f.term, f.sentences) for f in outcome.unless.found] == [("deny", (1, 2))]
    lines = text_lines(found)
    assert lines[0] == (
        "x:cued: not matched: the rule holds, but an unless cue shares a sentence with it"
    )
    assert '  unless (1 cue): cancelled the match: "deny" (sentences 1, 2)' in lines

    elsewhere = one(matcher, "cued", "China eases visa rules", "Russia denies it.").outcomes[0]
    assert elsewhere.matched and not elsewhere.cancelled
    assert elsewhere.terms == ("China", "visa")


VETOES = """\
id: y
group: g
title: t
question: q
outcomes:
  - id: pressure
    label: China pressed, not urged
    rule: {any: [China], none: ["urge China to"]}
    unless: [deny]
"""


@pytest.mark.parametrize(
    ("title", "text", "said"),
    [
        ("China agrees to a deal", "", [
            "y:pressure: matched (China)",
            "      yes any (1 term) in the entry: China (1)",
            "      yes none (1 term): no veto fired (none of its terms found)",
            "  unless (1 cue): no cue found, nothing cancelled"]),
        ("US urge China to agree", "", [
            "y:pressure: not matched: the rule does not hold",
            "  no  all not in the entry",
            "      yes any (1 term) in the entry: China (1)",
            '      no  none (1 term): vetoed by "urge China to" (sentence 1)',
            "  unless (1 cue): no cue found, nothing cancelled"]),
        ("China agrees to a deal", "Rivals deny it.", [
            "y:pressure: matched (China)",
            '  unless (1 cue): "deny" (sentence 2) found, in no sentence of the match: '
            "nothing cancelled"]),
        ("US urge China to agree", "Rivals deny it.", [
            '      no  none (1 term): vetoed by "urge China to" (sentence 1)',
            '  unless (1 cue): "deny" (sentence 2) found; the rule does not hold, so nothing '
            "to cancel"]),
    ],
)  # fmt: skip
def test_each_veto_line_says_whether_it_fired(
    tmp_path: Path, title: str, text: str, said: list[str]
) -> None:
    """A `none` that vetoed nothing read `yes none (1 term) in the entry: none found` (as if
    its terms were in the entry), one that vetoed `no  none … not in the entry: vetoed by …`
    (though its terms were), and the `unless` line listed the cues found without saying
    whether they cancelled anything."""
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "y.yaml").write_text(VETOES)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    matcher = Matcher(load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml").indicators)

    lines = text_lines(explain_entry(matcher, "y", title, text))

    assert [line for line in said if line not in lines] == []


def test_an_entry_scoped_part_holds_in_every_sentence_once_it_holds_in_the_entry(
    matcher: Matcher,
) -> None:
    found = one(matcher, "actor", "Beijing acts", "Tourists win a visa waiver. Prices rise.")
    (outcome,) = found.outcomes
    scoped, act = outcome.rule.children
    (inner,) = scoped.children

    assert outcome.matched and outcome.rule.sentences == (2,)
    assert (scoped.operator, scoped.scope, scoped.sentences) == ("scope", "sentence", (1, 2, 3))
    assert (inner.operator, inner.scope, inner.holds, inner.sentences) == ("any", "entry", True, ())
    assert terms(inner) == {"Beijing": (1,)}
    assert (act.sentences, terms(act)) == ((2,), {"visa": (2,), "waiver": (2,)})
    assert found.sentences == ("Beijing acts", "Tourists win a visa waiver.", "Prices rise.")
    lines = text_lines(found)
    assert "      yes scope entry in sentences 1, 2, 3" in lines
    assert "          yes any (2 terms) in the entry: Beijing (1)" in lines

    nowhere = one(matcher, "actor", "Tourists win a visa waiver").outcomes[0]
    assert not nowhere.matched and not nowhere.rule.children[0].children[0].holds


def test_found_terms_are_capped_and_the_rest_counted() -> None:
    _, matcher = shipped()
    title = " ".join(
        ["China", "Chinese", "Beijing", "Xi", "PRC", "中国", "중국", "베이징", "习近平"]
    )
    found = explain_entry(matcher, "north-korea-stance", title, "", outcome_id="pressure")

    def widest(node: NodeExplanation) -> int:
        return max([node.terms.more, *map(widest, node.children)])

    assert widest(found.outcomes[0].rule) > 0
    assert all(len(n.terms.found) <= MAX_TERMS for n in _nodes(found.outcomes[0].rule))


def _nodes(node: NodeExplanation) -> Iterator[NodeExplanation]:
    yield node
    for child in node.children:
        yield from _nodes(child)


def test_the_json_document_is_the_dataclasses(matcher: Matcher) -> None:
    document = as_json(explain_entry(matcher, "x", "China eases visa rules", ""))
    assert set(document) == {"indicator", "entry", "sentences", "outcomes", "feed", "feed_read"}
    assert (document["feed"], document["feed_read"]) == (None, None)  # words given: no feed
    assert [o["outcome"] for o in document["outcomes"]] == [
        "close",
        "vetoed",
        "cued",
        "actor",
        "later",
        "nested",
    ]
    assert document["outcomes"][0]["rule"]["groups"][0]["found"][0] == {
        "term": "China",
        "sentences": (1,),
    }


@pytest.mark.parametrize(
    ("indicator", "outcome", "message"),
    [("nope", None, "no indicator 'nope'"), ("x", "nope", "indicator x has no outcome 'nope'")],
)
def test_an_unknown_indicator_or_outcome_is_a_key_error(
    matcher: Matcher, indicator: str, outcome: str | None, message: str
) -> None:
    with pytest.raises(KeyError) as raised:
        explain_entry(matcher, indicator, "t", "", outcome_id=outcome)
    assert raised.value.args == (message,)


# ---------------------------------------------------------------- vocabulary references

ACTORS = """\
china: [China, Beijing, "Xi Jinping"]
north-korea: ["North Korea", Pyongyang]
prc: [PRC]
us: [Washington, "White House"]
"""
VOCAB_RULES = """\
id: v
group: g
title: t
question: q
outcomes:
  - id: plain
    label: a vocabulary and a term
    rule: {scope: sentence, all: ["@actors.china", visa]}
  - id: merged
    label: a one-term vocabulary in a rule's own list
    rule: {scope: sentence, any: [Seoul, "@actors.prc"]}
    unless: ["@actors.north-korea", deny]
  - id: near
    label: a vocabulary as a near group, and in a list that is one
    rule:
      scope: sentence
      near: {terms: ["@actors.china", ["@actors.north-korea", DPRK]], within: 2}
  - id: title
    label: a vocabulary in the title only
    rule:
      any: ["title:@actors.china"]
      none: ["@actors.north-korea", "@actors.us", "@actors.prc", {all: [Tokyo, Osaka]}]
  - id: quiet
    label: vocabularies none of whose terms occur
    rule: {any: [Seoul, "@actors.north-korea", "@actors.us"]}
  - id: scoped
    label: a vocabulary in a nested rule of its own scope
    rule:
      scope: sentence
      all: [{scope: entry, any: ["@actors.china"]}, {scope: entry, any: ["@actors.north-korea"]}]
"""


@pytest.fixture(scope="module")
def vocab_matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    root = tmp_path_factory.mktemp("vocab")
    (root / "indicators" / "vocab").mkdir(parents=True)
    (root / "indicators" / "vocab" / "actors.yaml").write_text(ACTORS)
    (root / "indicators" / "v.yaml").write_text(VOCAB_RULES)
    (root / "feeds.yaml").write_text(FEEDS)
    return Matcher(load_definitions(root / "indicators", root / "feeds.yaml").indicators)


def vocab_one(matcher: Matcher, outcome: str, title: str, text: str = "") -> EntryExplanation:
    found = explain_entry(matcher, "v", title, text, outcome_id=outcome)
    assert _agrees(matcher, title, text) == []
    return found


def test_an_any_written_as_a_vocabulary_reference_is_named(vocab_matcher: Matcher) -> None:
    found = vocab_one(vocab_matcher, "plain", "Beijing eases visa rules")
    rule = found.outcomes[0].rule
    (china,) = rule.children

    assert found.outcomes[0].matched
    assert (rule.operator, rule.vocabulary, rule.terms.vocabularies) == ("all", None, ())
    assert (china.operator, china.vocabulary, china.terms.listed) == ("any", "@actors.china", 3)
    assert "      yes any @actors.china (3 terms) in sentence 1: Beijing (1)" in text_lines(found)
    document = as_json(found)["outcomes"][0]["rule"]
    assert document["vocabulary"] is None and document["children"][0]["vocabulary"] == (
        "@actors.china"
    )
    assert document["children"][0]["terms"]["vocabularies"] == (
        {"vocabulary": "@actors.china", "listed": 3},
    )


def test_a_list_holding_a_vocabulary_says_which_and_how_many(vocab_matcher: Matcher) -> None:
    found = vocab_one(vocab_matcher, "merged", "PRC and Seoul deny talks")
    (outcome,) = found.outcomes
    vocabularies = [(v.vocabulary, v.listed) for v in outcome.rule.terms.vocabularies]

    # a one-term vocabulary is one more term of the list around it, not a nested rule
    assert (outcome.rule.children, outcome.rule.vocabulary) == ((), None)
    assert vocabularies == [("@actors.prc", 1)]
    lines = text_lines(found)
    assert "  yes any (2 terms, 1 from @actors.prc) in sentence 1: Seoul (1), PRC (1)" in lines
    assert (
        '  unless (3 cues, 2 from @actors.north-korea): cancelled the match: "deny" (sentence 1)'
        in lines
    )
    document = as_json(found)["outcomes"][0]
    assert document["rule"]["vocabulary"] is None
    assert document["rule"]["terms"]["vocabularies"] == (
        {"vocabulary": "@actors.prc", "listed": 1},
    )
    assert document["unless"]["vocabularies"] == (
        {"vocabulary": "@actors.north-korea", "listed": 2},
    )


def test_a_near_group_from_a_vocabulary_is_named(vocab_matcher: Matcher) -> None:
    found = vocab_one(vocab_matcher, "near", "Xi Jinping says little")
    rule = found.outcomes[0].rule
    named = [[(v.vocabulary, v.listed) for v in g.vocabularies] for g in rule.groups]

    assert (rule.operator, rule.vocabulary) == ("near", None)
    assert named == [[("@actors.china", 3)], [("@actors.north-korea", 2)]]
    assert [g.listed for g in rule.groups] == [3, 3]
    assert text_lines(found)[1] == (
        "  no  near (within 2) in no sentence: group 1 (@actors.china): Xi Jinping (1); "
        "group 2 (3 terms, 2 from @actors.north-korea): none found; missing: DPRK"
    )  # DPRK is written in the list; the vocabulary's two are named by it
    groups = as_json(found)["outcomes"][0]["rule"]["groups"]
    assert [g["vocabularies"] for g in groups] == [
        ({"vocabulary": "@actors.china", "listed": 3},),
        ({"vocabulary": "@actors.north-korea", "listed": 2},),
    ]


def test_a_title_only_reference_is_named_as_written(vocab_matcher: Matcher) -> None:
    found = vocab_one(vocab_matcher, "title", "Beijing acts", "Pyongyang waits.")
    rule = found.outcomes[0].rule
    any_, none = rule.children
    (china,) = any_.children

    assert not found.outcomes[0].matched  # Pyongyang vetoes it
    assert (china.vocabulary, china.holds) == ("title:@actors.china", True)
    assert (none.vocabulary, none.terms.listed) == (None, 1)
    assert [c.vocabulary for c in none.children] == ["@actors.north-korea", "@actors.us", None]
    lines = text_lines(found)
    assert (
        "          yes any title:@actors.china (3 terms) in the entry: title:Beijing (1)" in lines
    )
    assert "      no  none (1 term, 1 from @actors.prc): vetoed by a nested rule below" in (lines)
    assert "          yes any @actors.north-korea (2 terms) in the entry: Pyongyang (2)" in lines
    json = as_json(found)["outcomes"][0]["rule"]["children"][0]["children"][0]
    assert json["vocabulary"] == "title:@actors.china"


def test_quiet_nested_vocabularies_are_named_where_they_are_counted(
    vocab_matcher: Matcher,
) -> None:
    found = vocab_one(vocab_matcher, "quiet", "Seoul acts")
    assert text_lines(found)[1:3] == [
        "  yes any (1 term) in the entry: Seoul (1)",
        "      ... 2 more nested rules (@actors.north-korea, @actors.us):"
        " none of their terms found",
    ]
    some = text_lines(vocab_one(vocab_matcher, "title", "Beijing acts"))
    assert (
        "          ... 3 more nested rules, among them @actors.north-korea, @actors.us:"
        " none of their terms found"
    ) in some


def test_a_collapsed_part_names_the_vocabularies_beneath_it(vocab_matcher: Matcher) -> None:
    """A part none of whose terms occur is one line: it names the vocabulary it needed (here
    under a scope), so an author sees which list lacks the word ("Korea" alone)."""
    lines = text_lines(vocab_one(vocab_matcher, "scoped", "Beijing acts"))

    assert (
        "      no  scope entry in no sentence (1 nested rule (@actors.north-korea),"
        " none of their terms found)"
    ) in lines, lines


MISSING = """\
id: m
group: g
title: t
question: q
outcomes:
  - id: shown
    label: a fresh `monitor new` skeleton's rule
    rule:
      all:
        - any: [placeholder]
  - id: many
    label: more terms than are named
    rule:
      any:
        - all: [a1, a2, a3, a4, a5]
        - near: {terms: [[a6, a1], [a7, a8, a9, a10]], within: 3}
"""


def test_a_collapsed_part_names_the_terms_it_needed(tmp_path: Path) -> None:
    """It said `no  all not in the entry (1 nested rule, none of their terms found)`: which
    terms were missing, `placeholder` of a fresh skeleton, the author could not see."""
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "m.yaml").write_text(MISSING)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    matcher = Matcher(load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml").indicators)

    lines = text_lines(explain_entry(matcher, "m", "Chips shipped", ""))
    found = explain_entry(matcher, "m", "Chips shipped", "", outcome_id="shown").outcomes[0]

    assert lines[1] == (
        "  no  all not in the entry (1 nested rule, none of their terms found;"
        " missing: placeholder)"
    )
    assert lines[3] == (
        "  no  any not in the entry (2 nested rules, none of their terms found;"
        " missing: a1, a2, a3, a4, a5, a6, a7, a8 and 2 more)"
    )
    (any_,) = found.rule.children
    assert (any_.terms.missing, any_.terms.missing_more) == (("placeholder",), 0)
    near = explain_entry(matcher, "m", "a1 a2 a3 a4 a5 a6 a7 a8 a9 b10", "", outcome_id="many")
    terms = as_json(near)["outcomes"][0]["rule"]["children"][1]["terms"]
    assert [f["term"] for f in terms["found"]] == ["a6", "a1", "a7", "a8", "a9"]
    assert (terms["missing"], terms["missing_more"]) == (("a10",), 0)


LEAVES = """\
id: l
group: g
title: t
question: q
outcomes:
  - id: wide
    label: a leaf of 68 terms
    rule: {any: [WIDE]}
  - id: leaves
    label: leaves none of whose terms occur, beside one that does
    rule:
      all:
        - any: [China]
        - any: [visa, waiver, "@actors.prc"]
        - near: {terms: [launch, [set up, working group]], within: 4}
  - id: quiet
    label: alternatives none of whose terms occur, and a veto
    rule:
      any:
        - China
        - all: [Seoul, Tokyo]
        - "@actors.us"
        - all: [Osaka, Kyoto]
      none: [{any: [deny, "@actors.prc"]}, {all: [suspend, halt]}]
  - id: vetoes
    label: a part none of whose terms occur, with a veto beneath it
    rule: {all: [{any: [visa]}, {none: [deny, "@actors.prc", "@actors.us"]}]}
""".replace("WIDE", ", ".join(f"t{n}" for n in range(1, 69)))


@pytest.fixture(scope="module")
def leaves_matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    root = tmp_path_factory.mktemp("leaves")
    (root / "indicators" / "vocab").mkdir(parents=True)
    (root / "indicators" / "vocab" / "actors.yaml").write_text(ACTORS)
    (root / "indicators" / "l.yaml").write_text(LEAVES)
    (root / "feeds.yaml").write_text(FEEDS)
    return Matcher(load_definitions(root / "indicators", root / "feeds.yaml").indicators)


def test_a_part_without_nested_rules_none_of_whose_terms_occur_names_them(
    leaves_matcher: Matcher,
) -> None:
    """`no  any (3 terms) not in the entry: none found` left the author to open the file to see
    which words the entry lacked, where a part with nested rules named them."""
    found = explain_entry(leaves_matcher, "l", "China acts", "", outcome_id="leaves")
    lines = text_lines(found)

    assert lines[1:5] == [
        "  no  all not in the entry",
        "      yes any (1 term) in the entry: China (1)",
        "      no  any (3 terms, 1 from @actors.prc) not in the entry: none found;"
        " missing: visa, waiver",
        "      no  near (within 4) not in the entry: group 1: none found; group 2: none found;"
        " missing: launch, set up, working group",
    ]
    china, visa, near = (c["terms"] for c in as_json(found)["outcomes"][0]["rule"]["children"])
    assert (china["missing"], china["missing_more"]) == ((), 0)
    assert (visa["missing"], visa["missing_more"]) == (("visa", "waiver"), 0)
    assert (near["missing"], near["missing_more"]) == (("launch", "set up", "working group"), 0)


def test_a_wide_part_names_eight_missing_terms_and_counts_the_rest(
    leaves_matcher: Matcher,
) -> None:
    found = explain_entry(leaves_matcher, "l", "China acts", "", outcome_id="wide")
    (outcome,) = found.outcomes

    assert text_lines(found)[1] == (
        "  no  any (68 terms) not in the entry: none found;"
        " missing: t1, t2, t3, t4, t5, t6, t7, t8 and 60 more"
    )
    terms = as_json(found)["outcomes"][0]["rule"]["terms"]
    assert (terms["missing"], terms["missing_more"]) == (
        tuple(f"t{n}" for n in range(1, MAX_TERMS + 1)), 68 - MAX_TERMS,
    )  # fmt: skip
    assert outcome.rule.terms.listed == 68


def test_the_alternatives_counted_name_the_terms_they_needed_but_a_vetos_do_not(
    leaves_matcher: Matcher,
) -> None:
    """`... 2 more nested rules: none of their terms found` named none; the alternatives of a
    `none` are vetoes, which nothing needs: they stay unnamed, in a counted line or one part."""
    lines = text_lines(explain_entry(leaves_matcher, "l", "China acts", "", outcome_id="quiet"))
    vetoes = text_lines(explain_entry(leaves_matcher, "l", "Japan", "", outcome_id="vetoes"))

    assert lines[1:6] == [
        "  yes all in the entry",
        "      yes any (1 term) in the entry: China (1)",
        "          ... 3 more nested rules, among them @actors.us: none of their terms found;"
        " missing: Seoul, Tokyo, Osaka, Kyoto",
        "      yes none: no veto fired (none of its terms found)",
        "          ... 2 more nested rules: none of their terms found",
    ]
    assert vetoes[1] == (
        "  no  all not in the entry (2 nested rules, none of their terms found; missing: visa)"
    )


def test_every_node_of_the_json_has_a_vocabulary(vocab_matcher: Matcher) -> None:
    document = as_json(explain_entry(vocab_matcher, "v", "Beijing acts", ""))

    def walk(node: dict[str, object]) -> Iterator[dict[str, object]]:
        yield node
        for child in node["children"]:  # type: ignore[attr-defined]
            yield from walk(child)

    nodes = [n for o in document["outcomes"] for n in walk(o["rule"])]
    assert nodes and all("vocabulary" in n for n in nodes)
    assert {n["vocabulary"] for n in nodes} >= {None, "@actors.china", "title:@actors.china"}


def test_a_vocabulary_term_matches_as_the_same_term_written_out(vocab_matcher: Matcher) -> None:
    """The name is for people: the matcher takes `Beijing` from @actors.china and `Beijing`
    written in a rule for one term, so naming a vocabulary changes no match and no count."""
    china = next(t for t in vocab_matcher.indicator_terms["v"] if t.raw == "Beijing")
    assert china.vocabulary == "@actors.china"
    assert china == replace(china, vocabulary="")
    assert hash(china) == hash(replace(china, vocabulary=""))
    term = list(iter_terms(vocab_matcher.indicators[0].outcomes[0].rule.node))[1]
    assert (term.raw, term.vocabulary) == ("Beijing", "@actors.china")
    assert term == compile_term("Beijing") and hash(term) == hash(compile_term("Beijing"))


def test_two_spellings_of_one_term_are_shown_once_as_the_first(tmp_path: Path) -> None:
    """中韩 and 中韓 in one vocabulary fold to one term: a text holding 中韩 was said to hold
    both (`terms fired: 中韩, 中韓`; `any @mine.pair (3 terms) in the entry: 中韩 (1), 中韓
    (1)`)."""
    (tmp_path / "indicators" / "vocab").mkdir(parents=True)
    (tmp_path / "indicators" / "vocab" / "mine.yaml").write_text("pair: [中韩, 中韓, 한중]\n")
    (tmp_path / "indicators" / "x.yaml").write_text(
        "id: x\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n  - id: set-up\n    label: l\n"
        "    rule: {all: ['@mine.pair', {near: {terms: [[成立, 設立], 工作组], within: 2}}]}\n"
    )
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    matcher = Matcher(load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml").indicators)
    title = "中韓成立供应链工作组"
    (match,) = matcher.match(Entry("a", "g", "", title, "", None, "p"))
    assert match.terms == ("中韩", "成立", "工作组")
    assert matcher.terms_hit(Entry("a", "g", "", title, "", None, "p"), "x") == match.terms
    lines = text_lines(explain_entry(matcher, "x", title, ""))
    assert lines[0] == "x:set-up: matched (中韩, 成立, 工作组)"
    assert lines[2] == "      yes any @mine.pair (3 terms) in the entry: 中韩 (1)"


def test_a_near_of_single_terms_some_missing_says_every_group_is_needed(tmp_path: Path) -> None:
    """`terms: [launch, set up, working group]` written as alternatives asks for all three: the
    line listed the groups found and not, and left the author to see why."""
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "x.yaml").write_text(
        "id: x\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n  - id: set-up\n    label: l\n"
        "    rule: {near: {terms: [launch, set up, working group], within: 4}}\n"
    )
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    matcher = Matcher(load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml").indicators)
    lines = text_lines(explain_entry(matcher, "x", "Seoul and Beijing launch working group", ""))
    assert lines[1] == (
        "  no  near (within 4) not in the entry: group 1: launch (1); group 2: none found;"
        " group 3: working group (1); missing: set up; each of its 3 terms is a group of its own,"
        " and every group must be found: alternatives go in one group, a list (terms: [[A, B], C])"
    )
    lines = text_lines(explain_entry(matcher, "x", "Beijing hosts a trade fair", ""))
    assert lines[1] == (
        "  no  near (within 4) not in the entry: group 1: none found; group 2: none found;"
        " group 3: none found; missing: launch, set up, working group"
    )  # nothing found: nothing to say of its shape, only what it needed
