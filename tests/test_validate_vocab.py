"""`monitor validate` warns of a risky term in a vocabulary list no indicator uses yet, as it
does of one an indicator uses: once, at the term's own file:line in the vocabulary file."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import GENERAL, _one_indicator, invoke


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
        f"{at}1: warning: prefix 'ban*'{prefix}",
        f"{at}3: warning: prefix 'eas*'{prefix}",
        f"{at}4: warning: term 'Trump' occurs in 20 of 199 general-news entries (10%);"
        " alone it fires on unrelated news",
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
