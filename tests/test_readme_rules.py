"""Every YAML example of the README's rule reference is valid and does what the text beside it says.

An author copies these blocks into files of their own: one that no longer validates, or that
matches other headlines than the README says, teaches the wrong rule. Each block is read from
the README (not copied here), written into real files beside the shipped vocabularies, validated
as `monitor validate` does, and matched against the headlines its text names.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from monitor.definitions import load_definitions, validate
from monitor.domain import Entry
from monitor.match import Matcher
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
FEEDS = (
    "feeds:\n  - {id: a, url: 'https://example.org/a.xml', tags: [korea, china]}\n"
    "  - {id: yonhap-en, url: 'https://example.org/b.xml', tags: [korea]}\n"
)


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    return README[start : README.index("\n## ", start + 1)]


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


RULE_BLOCKS = yaml_blocks(section("Indicator files"))
FEED_BLOCKS = yaml_blocks(section("Feeds"))


def block(marker: str) -> str:
    """The one rule-reference block that holds `marker`."""
    found = [b for b in RULE_BLOCKS if marker in b]
    assert len(found) == 1, (marker, found)
    return found[0]


def folder(tmp_path: Path, indicator: str, stem: str = "x", actors: str = "") -> Path:
    """An indicators folder with the shipped vocabularies (`actors` appended) and one file."""
    ind = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators" / "vocab", ind / "vocab")
    if actors:
        path = ind / "vocab" / "actors.yaml"
        path.write_text(path.read_text() + "\n" + actors)
    (ind / f"{stem}.yaml").write_text(indicator)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    return ind


def as_indicator(snippet: str) -> str:
    """A README snippet as a whole indicator: its `outcomes:`, or an outcome with its rule."""
    head = "id: x\ngroup: g\ntitle: t\nquestion: q\n"
    if snippet.startswith("outcomes:"):
        return head + snippet
    rule = snippet if snippet.startswith("rule:") else "rule:\n" + textwrap.indent(snippet, "  ")
    return head + "outcomes:\n  - id: o\n    label: l\n" + textwrap.indent(rule, "    ")


def matcher(tmp_path: Path, indicator: str, actors: str = "") -> Matcher:
    ind = folder(tmp_path, indicator, actors=actors)
    assert validate(ind, tmp_path / "feeds.yaml") == []
    return Matcher(load_definitions(ind, tmp_path / "feeds.yaml").indicators)


def fires(m: Matcher, title: str, text: str = "") -> bool:
    return bool(m.match(Entry("a", "g", "https://example.org/1", title, text, None, "example.org")))


def vocab_and_rule() -> tuple[str, str]:
    """The shared-vocabularies block: a list file's lines, then a rule's (after `# in an …`)."""
    lists, rule = block("# indicators/vocab/actors.yaml").split("# in an indicator\n")
    return lists.replace("# indicators/vocab/actors.yaml\n", ""), rule


def test_the_rule_reference_has_its_examples() -> None:
    assert len(RULE_BLOCKS) >= 8
    assert len(FEED_BLOCKS) >= 1


@pytest.mark.parametrize("number", range(len(RULE_BLOCKS)))
def test_every_rule_reference_example_is_valid(tmp_path: Path, number: int) -> None:
    snippet = RULE_BLOCKS[number]
    actors = ""
    if snippet.startswith("# indicators/vocab/actors.yaml"):
        # the list file's lines over the shipped file's (`china` written again is a duplicate)
        actors, snippet = vocab_and_rule()
        shipped = (ROOT / "indicators" / "vocab" / "actors.yaml").read_text()
        actors = "\n".join(
            line for line in actors.splitlines() if line.split(":")[0] + ":" not in shipped
        )
    if snippet.startswith("id: "):
        stem = snippet.split("\n", 1)[0].removeprefix("id: ").strip()
        ind = folder(tmp_path, snippet, stem=stem)
    else:
        ind = folder(tmp_path, as_indicator(snippet), actors=actors)
    assert validate(ind, tmp_path / "feeds.yaml") == [], snippet


def test_the_feeds_example_is_valid(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text(FEED_BLOCKS[0])
    assert validate(ROOT / "indicators", tmp_path / "feeds.yaml") == []


def test_the_list_file_example_is_valid_as_a_file_of_its_own(tmp_path: Path) -> None:
    # `neighbours` references the shipped `south-korea`: the README's lists as a file of their
    # own, under another name, with that list beside them
    lists, _ = vocab_and_rule()
    lists = lists.replace("@actors.", "@mine.") + 'south-korea: [Seoul, "South Korea"]\n'
    ind = folder(tmp_path, as_indicator('all: ["@mine.neighbours"]'))
    (ind / "vocab" / "mine.yaml").write_text(lists)
    assert validate(ind, tmp_path / "feeds.yaml") == []
    m = Matcher(load_definitions(ind, tmp_path / "feeds.yaml").indicators)
    assert fires(m, "Seoul speaks") and fires(m, "Beijing speaks")
    assert not fires(m, "Tokyo speaks")


# (the block's marker, headline, text, whether it fires): the README's own words about it
CLAIMS = [
    # the indicator file: its first example fires, its second does not
    (
        "id: north-korea-stance",
        "Xi tells Lee China will strictly enforce UN sanctions on North Korea",
        "",
        True,
    ),
    ("id: north-korea-stance", "North Korea fires ballistic missile into East Sea", "", False),
    # word forms: "`oppose` matches opposes, opposed, opposing"; "resume flight" resumed flights
    ("=US, title:=Xi", "China opposes the plan", "", True),
    ("=US, title:=Xi", "They opposed it", "", True),
    ("=US, title:=Xi", "Opposing views", "", True),
    ("=US, title:=Xi", "Airlines resumed flights", "", True),
    ("=US, title:=Xi", "New sanctions", "", True),
    # "`=US` only "US" and "us", not "USA"; `title:` looks only at the title
    ("=US, title:=Xi", "US says", "", True),
    ("=US, title:=Xi", "Join us", "", True),
    ("=US, title:=Xi", "USA says", "", False),
    ("=US, title:=Xi", "Xi speaks", "", True),
    ("=US, title:=Xi", "A speech", "Xi speaks", False),
    # "also 中国, 免簽, 무 비자, 비자면제"
    ("무비자, 비자 면제", "中国", "", True),
    ("무비자, 비자 면제", "免簽", "", True),
    ("무비자, 비자 면제", "무 비자", "", True),
    ("무비자, 비자 면제", "비자면제", "", True),
    ("무비자, 비자 면제", "査証免除", "", True),
    # near: "China backs sanctions", not "Sanctions back China"
    ("order: before", "China backs sanctions", "", True),
    ("order: before", "Sanctions back China", "", False),
    # a labeled regex: an import or export ban, with China
    ("label: import or export ban", "中国宣布暂停部分商品进口", "", True),
    ("label: import or export ban", "中国欢迎进口", "", False),
    # nested scope: "China …" in the headline, the act and its object in one sentence
    ('# "China …" in the headline', "China speaks", "It will enforce the sanctions.", True),
    ('# "China …" in the headline', "China speaks", "It will enforce. The sanctions stay.", False),
    # unless: not "Seoul urges China to enforce…"; a cue elsewhere in an entry leaves it standing
    ('not "Seoul urges China', "China to enforce sanctions", "", True),
    ('not "Seoul urges China', "Seoul urges China to enforce sanctions", "", False),
    ('not "Seoul urges China', "China to enforce sanctions", "Separately, Russia denied it.", True),
]


@pytest.mark.parametrize(("marker", "title", "text", "expected"), CLAIMS)
def test_a_rule_reference_example_does_what_the_readme_says(
    tmp_path: Path, marker: str, title: str, text: str, expected: bool
) -> None:
    snippet = block(marker)
    indicator = snippet if snippet.startswith("id: ") else as_indicator(snippet)
    if snippet.startswith("id: "):
        ind = folder(tmp_path, snippet, stem="north-korea-stance")
        m = Matcher(load_definitions(ind, tmp_path / "feeds.yaml").indicators)
    else:
        m = matcher(tmp_path, indicator)
    assert fires(m, title, text) is expected, (snippet, title, text)


def test_the_vocabulary_rule_example_fires_on_its_lists(tmp_path: Path) -> None:
    _, rule = vocab_and_rule()
    m = matcher(tmp_path, as_indicator(rule))
    assert fires(m, "China backs sanctions on North Korea")
    assert not fires(m, "China backs sanctions on Iran")
