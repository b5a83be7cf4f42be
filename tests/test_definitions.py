"""definitions: indicators/*.yaml and config/feeds.yaml -> domain objects, or file:line problems."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.definitions import compile_term, load_definitions, validate
from monitor.domain import Example, Feed, FeedSelector
from monitor.errors import DefinitionError
from monitor.ruletree import (
    AllNode,
    AnyNode,
    NearNode,
    NoneNode,
    Order,
    Scope,
    Term,
    TermKind,
    TermNode,
)

DATA = Path(__file__).parent / "data" / "definitions"
VALID = DATA / "valid"
BROKEN = DATA / "broken"
REL = Path("tests/data/definitions")  # as a user would pass them, relative to the repo root


@pytest.fixture
def repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    root = Path(__file__).parent.parent
    monkeypatch.chdir(root)
    return root


# ---------------------------------------------------------------- a valid set


def test_valid_set_loads_to_expected_objects() -> None:
    defs = load_definitions(VALID / "indicators", VALID / "feeds.yaml")

    assert [f.id for f in defs.feeds] == ["yonhap-en", "xinhua", "bbc-asia"]
    assert defs.feeds[0] == Feed(
        "yonhap-en",
        "https://en.yna.co.kr/RSS/news.xml",
        ("korea",),
        timedelta(minutes=15),
        "",
    )
    assert defs.feeds[1].title == "Xinhua World"
    assert defs.feeds[2].tags == () and defs.feeds[2].interval is None

    assert [i.id for i in defs.indicators] == ["north-korea-stance", "xi-visit"]
    nk = defs.indicator("north-korea-stance")
    assert nk.group == "North Korea"
    assert nk.question.startswith("Does Beijing signal") and nk.question.endswith("measures?")
    assert nk.window == timedelta(days=14)
    assert nk.feeds == FeedSelector(ids=(), tags=("korea", "china"))
    assert defs.feeds_for(nk) == ("yonhap-en", "xinhua")
    assert [o.id for o in nk.outcomes] == ["pressure", "balance"]

    pressure = nk.outcome("pressure")
    assert pressure.label == "Signals pressure on Pyongyang"
    assert pressure.corroborate == 3
    assert pressure.rule.scope == Scope.SENTENCE
    node = pressure.rule.node
    assert isinstance(node, AllNode)  # the rule's `all` and `none`, ANDed
    all_node, none_node = node.children
    assert isinstance(all_node, AllNode) and isinstance(none_node, NoneNode)
    first = all_node.children[0]
    assert isinstance(first, AnyNode)
    assert first.children[4] == TermNode(Term("Wang Yi", TermKind.PHRASE, "wang yi"))
    assert first.children[6] == TermNode(Term("중국", TermKind.PHRASE, "중국"))
    prefixes = all_node.children[2]
    assert isinstance(prefixes, AnyNode)
    assert prefixes.children[0] == TermNode(Term("sanction*", TermKind.PREFIX, "sanction"))

    balance = nk.outcome("balance")
    assert balance.corroborate == 2 and balance.rule.scope == Scope.ENTRY
    regex_term = balance.rule.node.children[1].children[2]  # type: ignore[union-attr]
    assert regex_term == TermNode(
        Term(r"/peaceful(ly)? resol\w+/", TermKind.REGEX, r"peaceful(ly)? resol\w+")
    )

    assert nk.examples[0] == Example(
        "Xi tells Lee China will strictly enforce UN sanctions on North Korea", "pressure", "", 27
    )
    assert nk.examples[2].body == "The launch came hours after the summit."
    assert nk.examples[2].expect == "none"


def test_defaults_apply() -> None:
    xi = load_definitions(VALID / "indicators", VALID / "feeds.yaml").indicator("xi-visit")
    assert xi.window == timedelta(days=30)
    assert xi.feeds.everything
    assert xi.examples == ()
    outcome = xi.outcomes[0]
    assert outcome.corroborate == 2
    assert outcome.rule.scope == Scope.ENTRY
    assert outcome.rule.node == NearNode(
        (
            (Term("Xi", TermKind.PHRASE, "xi"),),
            (Term("title:visit*", TermKind.PREFIX, "visit", title_only=True),),
        ),
        3,
    )
    assert outcome.unless == ()


def test_hashes() -> None:
    defs = load_definitions(VALID / "indicators", VALID / "feeds.yaml")
    for indicator in defs.indicators:
        assert indicator.hash == hashlib.sha256(Path(indicator.source).read_bytes()).hexdigest()
    again = load_definitions(VALID / "indicators", VALID / "feeds.yaml")
    assert len(defs.hash) == 64 and again.hash == defs.hash


def test_hash_changes_with_any_file(tmp_path: Path) -> None:
    indicators = tmp_path / "indicators"
    indicators.mkdir()
    for src in (VALID / "indicators").iterdir():
        (indicators / src.name).write_bytes(src.read_bytes())
    feeds = tmp_path / "feeds.yaml"
    feeds.write_bytes((VALID / "feeds.yaml").read_bytes())
    before = load_definitions(indicators, feeds)
    with (indicators / "xi-visit.yaml").open("a") as f:
        f.write("# a comment\n")
    after = load_definitions(indicators, feeds)
    assert after.hash != before.hash
    assert after.indicator("xi-visit").hash != before.indicator("xi-visit").hash
    assert after.indicator("north-korea-stance") == before.indicator("north-korea-stance")


def test_validate_of_a_valid_set_is_empty() -> None:
    assert validate(VALID / "indicators", VALID / "feeds.yaml") == []


# ---------------------------------------------------------------- problems

IND = REL / "broken" / "indicators"
FEEDS = REL / "broken-feeds" / "feeds.yaml"

INDICATOR_PROBLEMS = [
    ("unknown-key.yaml", 5, "unknown key 'colour' in an indicator; allowed: id, group, title"),
    ("unknown-key.yaml", 11, "unknown key 'alll' in a rule; allowed: scope, all, any, none, near"),
    ("missing-key.yaml", 1, "an indicator is missing required key 'question'"),
    ("missing-key.yaml", 5, "an outcome is missing required key 'label'"),
    ("empty-terms.yaml", 10, "'any' must not be empty"),
    ("empty-terms.yaml", 11, "a term must not be empty"),
    ("bad-regex.yaml", 11, "bad regex in term '/(unclosed/': missing )"),
    ("bad-regex.yaml", 12, "regex in term '/a*/' matches empty text"),
    ("dup-a.yaml", 1, "id 'dup-b' must equal the file name's stem 'dup-a'"),
    ("dup-b.yaml", 1, f"duplicate indicator id 'dup-b' (also in {IND / 'dup-a.yaml'})"),
    ("dup-outcome.yaml", 9, "duplicate outcome id 'yes' (first at line 6)"),
    ("dup-outcome.yaml", 12, "outcome id 'none' is reserved"),
    ("dup-outcome.yaml", 19, "expect 'maybe' names no outcome; use one of: yes, none"),
    ("unknown-feed.yaml", 6, "unknown feed id 'nope'; known: bbc-asia, xinhua, yonhap-en"),
    ("wrong-types.yaml", 3, "title must be text"),
    ("wrong-types.yaml", 5, "window: not a duration: '30 days'"),
    ("wrong-types.yaml", 9, "corroborate must be a whole number from 1 to 1000"),
    ("wrong-types.yaml", 11, "scope 'paragraph' must be 'entry' or 'sentence'"),
    ("wrong-types.yaml", 12, "'near' within must be a whole number from 0 to 1000"),
    ("wrong-types.yaml", 13, "an outcome must be a mapping"),
    ("wrong-types.yaml", 17, "a rule needs 'all', 'any' or 'near'"),
    ("tabs.yaml", 3, "invalid YAML: found character '\\t' that cannot start any token"),
    ("binary.yaml", 2, "not UTF-8 text (bad byte at offset 12); save it as UTF-8"),
    ("empty.yaml", 1, "file is empty"),
    ("bomb.yaml", 1, "rules expand to more than 10000 items"),
]


@pytest.fixture(scope="module")
def broken_problems() -> list[str]:
    root = Path(__file__).parent.parent
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        return validate(IND, REL / "broken" / "feeds.yaml")


@pytest.mark.parametrize(("name", "line", "message"), INDICATOR_PROBLEMS)
def test_indicator_problem(broken_problems: list[str], name: str, line: int, message: str) -> None:
    prefix = f"{IND / name}:{line}: "
    found = [p for p in broken_problems if p.startswith(prefix)]
    assert any(message in p for p in found), (prefix + message, broken_problems)


def test_every_problem_is_collected_at_once(broken_problems: list[str], repo_root: Path) -> None:
    assert len(broken_problems) >= len(INDICATOR_PROBLEMS)
    files_with_problems = {p.split(":", 1)[0] for p in broken_problems}
    assert files_with_problems == {str(p) for p in sorted(IND.iterdir())}
    with pytest.raises(DefinitionError) as caught:
        load_definitions(IND, REL / "broken" / "feeds.yaml")
    assert caught.value.problems == broken_problems
    assert str(caught.value).startswith(f"definitions: {IND / 'bad-regex.yaml'}:11: bad regex")


FEED_PROBLEMS = [
    (4, "duplicate feed id 'ok' (first at line 2)"),
    (7, "feed url 'ftp://example.org/feed.xml' must be an http:// or https:// URL"),
    (8, "interval: not a duration: 'soon'"),
    (11, "unknown key 'priority' in a feed; allowed: id, url, tags, interval, title"),
    (12, "a feed is missing required key 'id'"),
]


@pytest.mark.parametrize(("line", "message"), FEED_PROBLEMS)
def test_feed_problem(repo_root: Path, line: int, message: str) -> None:
    problems = validate(REL / "valid" / "indicators", FEEDS)
    assert any(p.startswith(f"{FEEDS}:{line}: {message}") for p in problems), problems


def test_feed_problems_skip_the_feed_cross_check(repo_root: Path) -> None:
    problems = validate(REL / "valid" / "indicators", FEEDS)
    assert len(problems) == len(FEED_PROBLEMS)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("feeds: []\nextra: 1\n", 2, "unknown key 'extra' in the feeds file; allowed: feeds"),
        ("- id: x\n", 1, "the feeds file must be a mapping with keys: feeds"),
        ("feeds:\n  - {id: a, url: 'https://'}\n", 2, "must be an http:// or https:// URL"),
        (  # pasted from a page with a zero-width space: it was "must be an http(s) URL"
            'feeds:\n  - {id: a, url: "https://x.org/rss\u200b"}\n',
            2,
            "feed url 'https://x.org/rss\\u200b' holds a character that is not seen (U+200B at "
            "character 18; copied along with it?): type the URL again",
        ),
        (
            'feeds:\n  - {id: a, url: "https://x.org/\u202erss"}\n',
            2,
            "feed url 'https://x.org/\\u202erss' holds a character that is not seen (U+202E at "
            "character 15; copied along with it?): type the URL again",
        ),
        ("feeds:\n  - {id: 'a b', url: 'https://x.org'}\n", 2, "feed id 'a b' must be a slug"),
        ("feeds:\n  - {id: a, url: https://x.org, tags: korea}\n", 2, "tags must be a list"),
        ("feeds:\n  - {id: a, url: https://x.org, interval: 0m}\n", 2, "must be longer than zero"),
        (
            "feeds:\n  - {id: a, url: https://x.org, interval: 600000w}\n",
            2,
            "interval: too long: '600000w' (at most 3650d, ten years)",
        ),
        (
            "feeds:\n  - {id: a, url: 'http://127.0.0.1:99999/x'}\n",
            2,
            "feed url 'http://127.0.0.1:99999/x': Port out of range 0-65535",
        ),
        (
            "feeds: {a: 1}\nfeeds: []\n",
            2,
            "duplicate key 'feeds' in the feeds file (first at line 1)",
        ),
    ],
)
def test_feeds_file_problems(tmp_path: Path, content: str, line: int, message: str) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(content)
    (tmp_path / "indicators").mkdir()
    problems = validate(tmp_path / "indicators", feeds)
    assert any(p.startswith(f"{feeds}:{line}: ") and message in p for p in problems), problems


def test_missing_paths_are_problems_that_say_where_to_run(tmp_path: Path) -> None:
    """Both missing is mostly monitor run outside a watch list's folder: each problem says so,
    and names the setting that points elsewhere."""
    problems = validate(tmp_path / "nope", tmp_path / "feeds.yaml")
    assert problems == [
        f"{tmp_path / 'feeds.yaml'}:1: cannot read file: No such file or directory; run monitor"
        " in a watch list's folder (monitor init DIR lays one out), or set MONITOR_FEEDS_FILE",
        f"{tmp_path / 'nope'}:1: no such folder; run monitor in a watch list's folder (monitor"
        " init DIR lays one out), or set MONITOR_INDICATORS_DIR",
    ]


def test_an_indicators_path_that_is_a_file_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "indicators").write_text("id: x\n")
    problems = validate(tmp_path / "indicators", VALID / "feeds.yaml")
    assert problems == [f"{tmp_path / 'indicators'}:1: not a directory"]


# ---------------------------------------------------------------- terms

FORMS_OF_BAN = ("bans", "banned", "baned", "banning", "baning")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("North Korea", Term("North Korea", TermKind.PHRASE, "north korea")),
        ("  North   Korea ", Term("  North   Korea ", TermKind.PHRASE, "north korea")),
        ("Ｃｈｉｎａ", Term("Ｃｈｉｎａ", TermKind.PHRASE, "china")),
        ("sanction*", Term("sanction*", TermKind.PREFIX, "sanction")),
        ("/kim jong.un/", Term("/kim jong.un/", TermKind.REGEX, "kim jong.un")),
        ("title:Summit", Term("title:Summit", TermKind.PHRASE, "summit", title_only=True)),
        ("title:visit*", Term("title:visit*", TermKind.PREFIX, "visit", title_only=True)),
        ("title:/x+y/", Term("title:/x+y/", TermKind.REGEX, "x+y", title_only=True)),
        ("북한", Term("북한", TermKind.PHRASE, "북한")),
        ("ban", Term("ban", TermKind.PHRASE, "ban", forms=FORMS_OF_BAN)),
        ("=ban", Term("=ban", TermKind.PHRASE, "ban")),
        ("title:=Xi", Term("title:=Xi", TermKind.PHRASE, "xi", title_only=True)),
        ("Xi", Term("Xi", TermKind.PHRASE, "xi")),  # a name: no forms
        ("DPRK", Term("DPRK", TermKind.PHRASE, "dprk")),  # an abbreviation: no forms
        ("calls on", Term("calls on", TermKind.PHRASE, "calls on")),  # already a form
        (
            "resume flight",
            Term(
                "resume flight",
                TermKind.PHRASE,
                "resume flight",
                forms=(
                    "resume flights",
                    "resume flighted",
                    "resume flighting",
                    "resumes flight",
                    "resumes flights",
                    "resumes flighted",
                    "resumes flighting",
                    "resumed flight",
                    "resumed flights",
                    "resumed flighted",
                    "resumed flighting",
                    "resuming flight",
                    "resuming flights",
                    "resuming flighted",
                    "resuming flighting",
                ),
            ),
        ),
    ],
)
def test_compile_term(raw: str, expected: Term) -> None:
    assert compile_term(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("*", "empty term"),
        ("title:", "empty term"),
        ("//", "empty regex"),
        ("/[/", "bad regex"),
        ("=", "empty term"),
        ("=ban*", "a prefix cannot also be exact"),
        ("=/ban/", "a regex matches only as written"),
        ("=title:US", r"'title:' in term '=title:US' comes first, once \(e.g. title:=US\)"),
        ("title:title:envoy", "'title:' in term 'title:title:envoy' comes first, once"),
    ],
)
def test_compile_term_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_term(raw)


# ---------------------------------------------------------------- never a traceback

FEEDS_OK = "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [t]}\n"


def _load_text(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "indicators").mkdir()
        (root / "indicators" / "x.yaml").write_bytes(content)
        (root / "feeds.yaml").write_text(FEEDS_OK)
        try:
            load_definitions(root / "indicators", root / "feeds.yaml")
        except DefinitionError as exc:
            assert exc.problems
            assert all(p.startswith(f"{root / 'indicators' / 'x.yaml'}:") for p in exc.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_load_or_give_problems(content: bytes) -> None:
    _load_text(content)


KEYS = ["id", "group", "title", "question", "feeds", "window", "outcomes", "examples"]
KEYS += ["label", "rule", "corroborate", "scope", "all", "any", "none", "near", "terms", "within"]
KEYS += ["ids", "tags", "text", "expect", "body", "unless", "order", "before", "after"]
SCALARS = st.one_of(
    st.sampled_from(["x", "china", "/a+/", "/(/", "x*", "title:y", "30d", "none", "a", "t"]),
    st.sampled_from(["@v.a", "@v.b", "@v.nope", "@nope.a", "=x", "title:@v.a", "@v", "=@v.a"]),
    st.integers(-3, 5),
    st.none(),
    st.booleans(),
    st.text(max_size=8),
)
YAML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=25,
)


@pytest.mark.slow  # hundreds of generated definitions: make test runs it, make test-fast not
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), YAML_VALUES, max_size=8))
def test_any_structure_loads_or_gives_problems(doc: dict[str, object]) -> None:
    _load_text(yaml.safe_dump(doc, allow_unicode=True).encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(KEYS), YAML_VALUES, max_size=8),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), YAML_VALUES, max_size=3),
)
@pytest.mark.slow  # hundreds of generated vocabularies: make test runs it, make test-fast not
def test_any_vocabulary_loads_or_gives_problems(
    doc: dict[str, object], vocab: dict[str, object]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        indicators, feeds = _write(
            Path(tmp),
            yaml.safe_dump(doc, allow_unicode=True),
            {"v": yaml.safe_dump(vocab, allow_unicode=True)},
        )
        try:
            load_definitions(indicators, feeds)
        except DefinitionError as exc:
            assert exc.problems
            assert all(p.startswith(f"{indicators}/") for p in exc.problems)


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 5000,
        b"a: &a [*a]\n",
        b"id: x\noutcomes:\n  - &o {id: a, label: b, rule: {any: [*o]}}\n",
        b"x: " + b"9" * 5000 + b"\n",
        b"outcomes: [{id: a, label: b, corroborate: " + b"9" * 5000 + b", rule: {any: [x]}}]\n",
        b"window: 99999999999999999999999d\n",
        b"\xef\xbb\xbfid: x\n",
        b"--- a\n--- b\n",
        b"? [a, b]\n: c\n",
        b"<<: {id: x}\n",
    ],
)
def test_awkward_yaml_gives_problems(content: bytes) -> None:
    _load_text(content)


# ---------------------------------------------------------------- vocabularies, near, unless

VOCAB_ACTORS = """\
china: [China, Beijing, 中国]
korea:
  - "@actors.south"
  - 북한
south: [Seoul, "South Korea"]
"""


def _write(root: Path, indicator: str, vocab: dict[str, str]) -> tuple[Path, Path]:
    (root / "indicators" / "vocab").mkdir(parents=True, exist_ok=True)
    (root / "indicators" / "x.yaml").write_text(indicator)
    for stem, text in vocab.items():
        (root / "indicators" / "vocab" / f"{stem}.yaml").write_text(text)
    (root / "feeds.yaml").write_text(FEEDS_OK)
    return root / "indicators", root / "feeds.yaml"


def _indicator_yaml(rule: str, unless: str = "") -> str:
    lines = ["id: x", "group: g", "title: t", "question: q", "outcomes:"]
    lines += ["  - id: yes", "    label: l", "    rule:", f"      {rule}"]
    if unless:
        lines.append(f"    unless: {unless}")
    return "\n".join(lines) + "\n"


def _terms_of(node: object) -> list[str]:
    if isinstance(node, TermNode):
        return [node.term.raw]
    if isinstance(node, NearNode):
        return [t.raw for group in node.terms for t in group]
    assert isinstance(node, AllNode | AnyNode | NoneNode)
    return [raw for child in node.children for raw in _terms_of(child)]


@pytest.mark.parametrize(
    ("rule", "raws"),
    [
        ('any: ["@actors.china"]', ["China", "Beijing", "中国"]),
        ('all: ["@actors.china", visa]', ["China", "Beijing", "中国", "visa"]),
        ('any: ["@actors.korea"]', ["Seoul", "South Korea", "북한"]),  # a list naming a list
        ('any: ["title:@actors.south"]', ["title:Seoul", "title:South Korea"]),
        (
            'near: {terms: ["@actors.china", [back, "@actors.south"]], within: 3}',
            ["China", "Beijing", "中国", "back", "Seoul", "South Korea"],
        ),
    ],
)
def test_vocabulary_references_expand(tmp_path: Path, rule: str, raws: list[str]) -> None:
    defs = load_definitions(*_write(tmp_path, _indicator_yaml(rule), {"actors": VOCAB_ACTORS}))
    assert _terms_of(defs.indicators[0].outcomes[0].rule.node) == raws


def test_near_groups_and_order(tmp_path: Path) -> None:
    rule = 'near: {terms: ["@actors.china", [back, support], sanction], within: 6, order: before}'
    defs = load_definitions(*_write(tmp_path, _indicator_yaml(rule), {"actors": VOCAB_ACTORS}))
    near = defs.indicators[0].outcomes[0].rule.node
    assert isinstance(near, NearNode)
    assert [[t.raw for t in group] for group in near.terms] == [
        ["China", "Beijing", "中国"],
        ["back", "support"],
        ["sanction"],
    ]
    assert near.within == 6 and near.order == Order.BEFORE


def test_unless_terms(tmp_path: Path) -> None:
    yaml_text = _indicator_yaml("any: [sanction]", unless='["urge China", "@actors.south"]')
    defs = load_definitions(*_write(tmp_path, yaml_text, {"actors": VOCAB_ACTORS}))
    assert [t.raw for t in defs.indicators[0].outcomes[0].unless] == [
        "urge China",
        "Seoul",
        "South Korea",
    ]


VOCAB_PROBLEMS = [
    # (rule, unless, vocab files, file, line, message)
    ('any: ["@nope.china"]', "", {}, "x", 9, "unknown vocabulary file 'nope'"),
    ('any: ["@actors.japan"]', "", {}, "x", 9, "unknown name 'japan' in '@actors.japan'"),
    ('any: ["@actors"]', "", {}, "x", 9, "must look like @FILE.NAME"),
    ("any: [visa]", "", {"loop": "a: ['@loop.b']\nb: ['@loop.a']\n"}, "loop", 2, "cycle"),
    ("any: [visa]", "", {"loop": "a: ['@loop.a']\n"}, "loop", 1, "vocabulary cycle: @loop.a"),
    ("any: [visa]", "", {"empty": "a: []\n"}, "empty", 1, "vocabulary 'a' must not be empty"),
    ("any: [visa]", "", {"flat": "a: China\n"}, "flat", 1, "vocabulary 'a' must be a list"),
    ("any: [visa]", "", {"bad": "a: ['/[/']\n"}, "bad", 1, "bad regex"),
    ("any: [visa]", "", {"bad": "a: ['@actors.nope']\n"}, "bad", 1, "unknown name 'nope'"),
    ("any: [visa]", "", {"bad": "- China\n"}, "bad", 1, "must map names to lists"),
    ("any: [visa]", "", {"dup": "a: [x]\nb: [y]\na: [z]\n"}, "dup", 3, "duplicate vocabulary"),
    ("any: [visa]", "", {"bad": "a b: [x]\n"}, "bad", 1, "vocabulary name 'a b' must be a slug"),
    ("any: [visa]", "", {"bad": "a: [[x]]\n"}, "bad", 1, "holds terms, not lists"),
    ('any: ["=@actors.china"]', "", {}, "x", 9, "'=' in term"),
    (
        "any: [visa]",
        "",
        {"deep": "".join(f"a{i}: ['@deep.a{i + 1}']\n" for i in range(2000)) + "a2000: [x]\n"},
        "deep",
        32,
        "vocabulary references nest more than 32 deep",
    ),
    ("near: {terms: [a, b], within: 2, order: first}", "", {}, "x", 9, "'near' order 'first'"),
    ("near: {terms: [a, []], within: 2}", "", {}, "x", 9, "must not be empty"),
    (
        "near: {terms: [[a, b]], within: 2}",
        "",
        {},
        "x",
        9,
        "its terms hold one, [a, b] (any of them)",
    ),
    ("near: {terms: [a], within: 2}", "", {}, "x", 9, "for one term alone, use 'any'"),
    (
        "near: {terms: [a, [[b]]], within: 2}",
        "",
        {},
        "x",
        9,
        "not a list of lists: write terms: [a, [b]]",
    ),
    ("near: {terms: [a, {any: [b]}], within: 2}", "", {}, "x", 9, "'near' terms must be terms"),
    ("any: [visa]", "deny", {}, "x", 10, "'unless' must be a list"),
    ("any: [visa]", "[]", {}, "x", 10, "'unless' must not be empty"),
    ("any: [visa]", "[[deny]]", {}, "x", 10, "not a list of lists: write [deny]"),
    (
        "any: [visa]",
        "[{any: [deny]}]",
        {},
        "x",
        10,
        "an 'any' in it is its terms: write them as items of 'unless', unless: [deny]",
    ),
    ("any: [visa]", '["@actors.nope"]', {}, "x", 10, "unknown name 'nope'"),
]


@pytest.mark.parametrize(("rule", "unless", "vocab", "name", "line", "message"), VOCAB_PROBLEMS)
def test_vocabulary_near_and_unless_problems(
    tmp_path: Path,
    rule: str,
    unless: str,
    vocab: dict[str, str],
    name: str,
    line: int,
    message: str,
) -> None:
    files = {"actors": VOCAB_ACTORS, **vocab}
    indicators, feeds = _write(tmp_path, _indicator_yaml(rule, unless), files)
    problems = validate(indicators, feeds)
    path = indicators / "x.yaml" if name == "x" else indicators / "vocab" / f"{name}.yaml"
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in problems), problems


@pytest.mark.parametrize("vocab_folder", [True, False])
def test_a_reference_in_a_watch_list_without_vocabularies_says_to_write_or_copy_one(
    tmp_path: Path, vocab_folder: bool
) -> None:
    """`monitor init` lays out no vocabulary: `known: (none)` left the author guessing; then
    "copy monitor's own indicators/vocab/actors.yaml", a path of no folder the author was in.
    Run from monitor's checkout, it names the shipped files and the command that copies them."""
    indicators, feeds = _write(tmp_path, _indicator_yaml('any: ["@actors.china"]'), {})
    if not vocab_folder:
        (indicators / "vocab").rmdir()
    (problem,) = validate(indicators, feeds)
    shipped = Path(__file__).resolve().parents[1] / "indicators" / "vocab"
    assert problem == (
        f"{indicators / 'x.yaml'}:9: unknown vocabulary file 'actors' in '@actors.china': no"
        f" {indicators / 'vocab' / 'actors'}.yaml; there is no vocabulary file yet: write one"
        " there, a list per name (china: [China, 中国]), or copy monitor's own actors.yaml, with"
        f" the others: mkdir -p {indicators / 'vocab'} && cp {shipped}/*.yaml"
        f" {indicators / 'vocab'}/"
    )


def test_without_monitors_checkout_a_reference_says_to_copy_its_vocabulary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed as a package, monitor has no shipped vocabulary files to name."""
    monkeypatch.setattr("monitor.definitions.vocab.SHIPPED", tmp_path / "nowhere")
    indicators, feeds = _write(tmp_path, _indicator_yaml('any: ["@actors.china"]'), {})
    (problem,) = validate(indicators, feeds)
    assert problem.endswith(
        "there is no vocabulary file yet: write one there, a list per name (china: [China,"
        " 中国]), or copy monitor's own indicators/vocab/actors.yaml"
    )


def test_hash_changes_with_a_vocabulary_it_uses(tmp_path: Path) -> None:
    uses = _indicator_yaml('any: ["@actors.china"]')
    (tmp_path / "indicators" / "vocab").mkdir(parents=True)
    (tmp_path / "indicators" / "other.yaml").write_text(
        _indicator_yaml("any: [visa]").replace("id: x", "id: other")
    )
    paths = _write(tmp_path, uses, {"actors": VOCAB_ACTORS})
    before = load_definitions(*paths)
    _write(tmp_path, uses, {"actors": VOCAB_ACTORS.replace("Beijing", "Peking")})
    after = load_definitions(*paths)
    assert after.indicator("x").hash != before.indicator("x").hash
    assert after.indicator("other").hash == before.indicator("other").hash
    assert after.hash != before.hash
    data = (tmp_path / "indicators" / "other.yaml").read_bytes()
    assert after.indicator("other").hash == hashlib.sha256(data).hexdigest()


def test_shipped_vocabulary_is_not_an_indicator() -> None:
    root = Path(__file__).parent.parent
    defs = load_definitions(root / "indicators", root / "config" / "feeds.yaml")
    assert (root / "indicators" / "vocab" / "actors.yaml").is_file()
    assert "actors" not in {i.id for i in defs.indicators}
