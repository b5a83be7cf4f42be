"""`monitor validate` warns of a risky term in a vocabulary list no indicator uses yet, as it
does of one an indicator uses: once, at the term's own file:line in the vocabulary file; a term
common in general news, whose harm depends on how an indicator will use it, in one line per
vocabulary file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import GENERAL, ROOT, _one_indicator, invoke


def test_a_risky_term_of_an_unused_vocabulary_list_is_warned_of_at_its_line(
    tmp_path: Path,
) -> None:
    env = _one_indicator(tmp_path, '"@v.used"')
    vocab = tmp_path / "indicators" / "vocab"
    vocab.mkdir()
    (vocab / "v.yaml").write_text(
        "used: [visa, ban*]\n"
        "later:\n"  # no indicator uses it yet
        "  - eas*\n"
        "  - Trump\n"
        "  - '/(a+)+$/'\n"
        "  - ban*\n"  # the same term as a used one, at its own line
        "again: ['@v.later']\n"  # a reference to it: each term still warned of once
    )

    result = invoke(["validate", "--general-news", str(GENERAL)], env)

    assert result.exit_code == 0, result.output
    at = f"{vocab / 'v.yaml'}:"
    prefix = (
        " has fewer than 4 letters, so it matches many unrelated words (eas* matches East and"
        " easy); write the words out"
    )
    assert result.stdout.splitlines() == [
        f"{at[:-1]}: warning: lists no indicator uses yet hold 1 term common in general news,"
        " 'Trump' (line 4, 10%): alone such a term fires on unrelated news (beside other terms,"
        " or in none or unless, it is fine); an indicator that makes matches with one is warned"
        " of it at its line",
        f"{at}1: warning: prefix 'ban*'{prefix}",
        f"{at}3: warning: prefix 'eas*'{prefix}",
        f"{at}5: warning: regex term '/(a+)+$/' can backtrack for ever: nested quantifiers"
        " (a repeated group that repeats inside, like (a+)+); a text that triggers it counts"
        " as no match",
        f"{at}6: warning: prefix 'ban*'{prefix}",
        "ok: 1 indicator, 3 feeds",
    ]


def test_a_term_written_at_one_more_place_says_place(tmp_path: Path) -> None:
    """The count of the other places a frequent term is written reads as counts do elsewhere:
    `1 more place`, not `1 more places`."""
    env = _one_indicator(tmp_path, "Trump\n        - any: [Trump]")

    result = invoke(["validate", "--general-news", str(GENERAL)], env)

    assert result.exit_code == 0, result.output
    assert "(10%; also written at 1 more place); alone" in result.stdout, result.stdout


QUOTE = 'a term that starts with @ (a vocabulary reference) must be quoted: "@v.cues"'


@pytest.mark.parametrize(
    ("where", "old", "new", "line", "advice"),
    [
        (  # it said to quote it; quoted, it was "'unless' must be a list": two fixes
            "x.yaml",
            "    unless: [urge*]",
            "    unless: @v.cues",
            11,
            f"{QUOTE}, and 'unless' takes a list: write unless: [\"@v.cues\"]",
        ),
        (
            "x.yaml",
            "    unless: [urge*]",
            "    unless: @v.cues, urge*   # the cues",
            11,
            f"{QUOTE}, and 'unless' takes a list: write unless: [\"@v.cues\", urge*]",
        ),
        (
            "x.yaml",
            "        - any: [visa]",
            "        - any: @v.cues",
            10,
            f"{QUOTE}, and 'any' takes a list: write any: [\"@v.cues\"]",
        ),
        ("x.yaml", "        - any: [visa]", "        - @v.cues", 10, QUOTE),  # an item already
        ("x.yaml", "    label: l", "    label: @v.cues", 7, QUOTE),  # text, no list
        (  # a list's name in a vocabulary file takes a list too
            "vocab/v.yaml",
            "later: [talks]",
            "later: @v.cues",
            3,
            f"{QUOTE}, and 'later' takes a list: write later: [\"@v.cues\"]",
        ),
    ],
)
def test_an_unquoted_reference_says_what_to_write_in_one_fix(
    tmp_path: Path, where: str, old: str, new: str, line: int, advice: str
) -> None:
    """What the problem says to write validates as it is: quoted, and in brackets where the
    key takes a list (one reference quoted alone is one term where a list goes, a second
    problem)."""
    env = _one_indicator(tmp_path, "any: [visa]")
    indicators = tmp_path / "indicators"
    x = indicators / "x.yaml"
    x.write_text(x.read_text() + "    unless: [urge*]\n")
    (indicators / "vocab").mkdir()
    vocab = "cues: [talks]\nused: ['@v.cues']\nlater: [talks]\n"
    (indicators / "vocab" / "v.yaml").write_text(vocab)
    path = indicators / where
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))

    result = invoke(["validate"], env)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:{line}: invalid YAML: found character '@' that cannot start any token; {advice}"
    ]
    key = new[: len(new) - len(new.lstrip(" -"))]  # the indent, and a list item's "- "
    if ": write " in advice:  # the line it says to write, whole
        fixed = key + advice.partition(": write ")[2]
    else:  # the reference quoted where it stands
        fixed = new.replace("@v.cues", '"@v.cues"')
    path.write_text(text.replace(old, fixed))
    assert invoke(["validate"], env).exit_code == 0, fixed


def test_the_shipped_vocabularies_copied_into_a_watch_list_are_one_warning_a_file(
    tmp_path: Path,
) -> None:
    """Copied as the README says, into a watch list whose indicator uses none of their lists,
    the shipped vocabularies were a warning line per common term (`Trump`, `U.S.`, … of
    `others`, a list meant for `none`); now one line for actors.yaml, naming them, and a
    term an indicator makes matches with is still warned of at its own line."""
    env = _one_indicator(tmp_path, "any: [visa, Trump]")
    vocab = tmp_path / "indicators" / "vocab"
    vocab.mkdir()
    for shipped in sorted((ROOT / "indicators" / "vocab").glob("*.yaml")):
        (vocab / shipped.name).write_bytes(shipped.read_bytes())

    result = invoke(["validate", "--general-news", str(GENERAL)], env)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    x = tmp_path / "indicators" / "x.yaml"
    assert lines[0] == (
        f"{x}:10: warning: term 'Trump' occurs in 20 of 199 general-news entries (10%; also"
        " written at 1 more place); alone it fires on unrelated news"
    )
    # the shipped lists' lines may move: the one line of the file, whatever they are
    summary = f"{vocab / 'actors.yaml'}: warning: lists no indicator uses yet hold 3 terms"
    assert lines[1].startswith(summary + " common in general news, '中国' (line "), lines
    assert "'U.S.' (line " in lines[1] and "'Washington' (line " in lines[1], lines
    assert "Trump" not in lines[1], lines  # warned of where an indicator makes matches with it
    assert lines[1].endswith(
        " alone such a term fires on unrelated news (beside other terms, or in none or unless,"
        " it is fine); an indicator that makes matches with one is warned of it at its line"
    )
    assert lines[2:] == ["ok: 1 indicator, 3 feeds"]
