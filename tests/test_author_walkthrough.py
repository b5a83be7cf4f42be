"""Writing a new indicator as the README's "A watch list of your own" says: `monitor init`,
`monitor new`, an edit, then `monitor validate` and `monitor test`; each step's message says
what is wrong and what to write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.wordforms import derived
from tests.test_cli import env_for, invoke


def watch_list(tmp_path: Path, terms: str, example: str) -> tuple[dict[str, str], Path]:
    """A watch list from `monitor init`, with `monitor new chips`, its placeholder term and
    first example replaced."""
    assert invoke(["init", str(tmp_path)]).exit_code == 0
    env = env_for(tmp_path, tmp_path / "indicators", tmp_path / "config" / "feeds.yaml")
    assert invoke(["new", "chips"], env).exit_code == 0
    path = tmp_path / "indicators" / "chips.yaml"
    text = path.read_text()
    assert "- any: [placeholder]" in text and '"A headline with the placeholder term"' in text
    text = text.replace("- any: [placeholder]", f"- any: {terms}")
    path.write_text(text.replace('"A headline with the placeholder term"', f'"{example}"'))
    return env, path


def test_a_missed_example_names_a_noun_of_a_term_that_word_forms_do_not_reach(
    tmp_path: Path,
) -> None:
    """`cooperate` does not match "cooperation" (word forms are inflections): the failure said
    `terms found: (none)` and left the author to guess why."""
    env, path = watch_list(tmp_path, "[cooperate, agree]", "Seoul and Beijing pledge cooperation")

    result = invoke(["test", "chips"], env)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    found = lines.index("  terms found: (none)")
    assert lines[found - 4] == f"FAIL chips ({path}:21)"
    assert lines[found + 1] == (
        "  not matched: cooperation, a noun made from cooperate (a term matches its inflections"
        " only: cooperates, cooperated, cooperating); add cooperation to the rule to match it"
    )
    assert lines[found + 2] == "  why shown did not fire:"
    document = json.loads(invoke(["test", "chips", "--json"], env).stdout)
    (failed,) = document["examples"]["failed"]
    assert failed["derived"] == [{"word": "cooperation", "term": "cooperate"}]


@pytest.mark.parametrize(
    "terms",
    [
        "[cooperate, cooperation]",  # a term matches it
        "[cooperate, cooperat*]",  # a prefix does
        "[=cooperate]",  # no word forms asked for
        "[Cooperate]",  # a name: no word forms
        "[ban]",  # "banks": no noun of ban
    ],
)
def test_no_noun_is_named_where_a_term_matches_it_or_none_is_made_from_one(
    tmp_path: Path, terms: str
) -> None:
    """Each example misses (it names no chip), so only what the noun is decides."""
    env, _ = watch_list(
        tmp_path, f"{terms}\n        - any: [chip*]", "Seoul banks on Beijing cooperation"
    )

    result = invoke(["test", "chips"], env)

    assert result.exit_code == 1
    assert "FAIL chips" in result.stdout
    assert "a noun made from" not in result.stdout


def test_a_false_alarm_names_no_noun(tmp_path: Path) -> None:
    """A noun of a term in an example expected to match nothing is no reason it failed."""
    env, path = watch_list(tmp_path, "[agree]", "Seoul and Beijing agree")
    path.write_text(
        path.read_text().replace(
            '"A headline about something else"', '"Seoul and Beijing agree; an agreement"'
        )
    )

    result = invoke(["test", "chips"], env)

    assert result.exit_code == 1
    assert "FAIL chips" in result.stdout
    assert "a noun made from" not in result.stdout


@pytest.mark.parametrize(
    ("word", "term", "made"),
    [
        ("cooperation", "cooperate", True),
        ("Cooperations", "cooperate", True),
        ("agreement", "agree", True),
        ("approval", "approve", True),
        ("investors", "invest", True),
        ("exporter", "export", True),
        ("conference", "confer", True),
        ("negotiations", "negotiate", True),
        ("cooperated", "cooperate", False),  # a word form: it matches
        ("banks", "ban", False),  # a stem of three letters: too short to be sure
        ("visas", "visa", False),
        ("talker", "talks", False),  # a term that is a form already has no nouns
        ("Chinese", "China", False),
    ],
)
def test_a_noun_made_from_a_term(word: str, term: str, made: bool) -> None:
    assert derived(word, term) is made
