"""Commands that say what they did: `monitor test [INDICATOR…] [-v]`, and `history` text with the
matched terms and snippets of its evidence."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.definitions import load_definitions
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_cli_ops import invoke, no_monitor_variables, shipped, three_feeds

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives
NOW = datetime.now(UTC)


def test_test_runs_the_examples_of_the_indicators_named(tmp_path: Path) -> None:
    env = shipped(tmp_path)
    every = invoke(["test"], env)
    one = invoke(["test", "north-korea-stance"], env)

    assert every.exit_code == 0 and one.exit_code == 0
    passed = int(re.search(r"^(\d+) passed", one.stdout, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"^(\d+) passed", every.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert 0 < passed < total


def test_test_verbose_shows_every_example_with_its_terms(tmp_path: Path) -> None:
    result = invoke(["test", "north-korea-stance", "-v"], shipped(tmp_path))

    assert result.exit_code == 0
    shown = re.findall(r"^ok   north-korea-stance \(.*north-korea-stance\.yaml:\d+\)$",
                       result.stdout, re.M)  # fmt: skip
    assert len(shown) == int(result.stdout.splitlines()[-1].split()[0])
    assert "FAIL" not in result.stdout
    assert "  terms found: " in result.stdout


@pytest.mark.parametrize(
    ("ids", "says"),
    [
        (["nope", "north-korea-stance"], "no indicator 'nope' in {dir}"),
        (["visa-easng"], "no indicator 'visa-easng' in {dir}; did you mean 'visa-easing'?"),
        (["nope", "nix"], "no indicators 'nope', 'nix' in {dir}"),
    ],
)
def test_test_of_an_unknown_indicator_is_one_line_and_exit_2(
    tmp_path: Path, ids: list[str], says: str
) -> None:
    """The line names the folder read (MONITOR_INDICATORS_DIR), not the default's, and the id
    meant when one is a letter off, as the other commands do. It read `no indicator 'nope' (see
    indicators/*.yaml) (see 'monitor test --help')`, two parentheses in a row."""
    env = shipped(tmp_path)
    result = CliRunner().invoke(main, ["test", *ids], env=env, prog_name="monitor")

    assert result.exit_code == 2
    within = Path(env["MONITOR_INDICATORS_DIR"]) / "*.yaml"
    assert result.stderr.splitlines() == [
        f"Error: Invalid value for INDICATOR: {says.format(dir=within)} (see 'monitor test --help')"
    ]


def test_history_text_shows_the_matched_terms_and_snippets(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = three_feeds(tmp_path, feed_server)
    lede = "The foreign ministry said the rule takes effect on Monday."
    item = news.Item(news.VISA_YONHAP, "https://en.yna.co.kr/view/AEN1", NOW, lede)
    feed_server.route("/a.xml", body=news.rss("Yonhap", [item]))
    assert invoke(["check"], env).exit_code == 0

    result = invoke(["history", "visa-easing"], env)

    assert result.exit_code == 0
    assert re.search(r"^      matched: \S", result.stdout, re.M), result.stdout
    assert f'      "{lede}"' in result.stdout.splitlines()  # not the headline again
    assert "/" not in "".join(re.findall(r"^      matched: (.*)$", result.stdout, re.M))


def test_history_text_of_evidence_without_a_link_has_no_empty_line_for_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A link that is not kept (javascript:, as a feed without links gives none): the evidence
    reads headline, matched terms, snippet, without a line of spaces between them."""
    env = three_feeds(tmp_path, feed_server)
    lede = "The foreign ministry said the rule takes effect on Monday."
    item = news.Item(news.VISA_YONHAP, "javascript:void(0)", NOW, lede, guid="yna-1")
    feed_server.route("/a.xml", body=news.rss("Yonhap", [item]))
    assert invoke(["check"], env).exit_code == 0

    result = invoke(["history", "visa-easing"], env)

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [n for n, text in enumerate(lines) if not text.strip()] == []
    headline = next(n for n, text in enumerate(lines) if text.startswith("    [entry "))
    assert lines[headline + 1].startswith("      matched: ")


@pytest.mark.parametrize("args", [["test", "-v"], ["test", "visa-easing", "north-korea-stance"]])
def test_the_new_forms_of_test_pass_on_the_shipped_indicators(
    tmp_path: Path, args: list[str]
) -> None:
    assert invoke(args, shipped(tmp_path)).exit_code == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["history", "nope"], "history"),
        (["history", "nope", "--json"], "history"),
        (["export", "changes", "--indicator", "nope"], "export"),
        (["verdict", "list", "nope"], "verdict list"),
        (["verdict", "1", "nope:eased", "no"], "verdict"),
        (["silence", "--list", "nope"], "silence"),
        (["silence", "nope", "--for", "1h", "--reason", "x"], "silence"),
        (["explain", "nope", "--title", "x"], "explain"),
    ],
)
def test_an_unknown_indicator_is_one_line_that_names_the_command(
    tmp_path: Path, args: list[str], says: str
) -> None:
    """Every command that takes an indicator says `Error: COMMAND: no indicator 'nope'`, exit 1
    (history, export and verdict list said `Error: no indicator 'nope'`, the others with their
    name, as errors name their stage)."""
    env = shipped(tmp_path)
    assert invoke(["db", "upgrade"], env).exit_code == 0

    result = CliRunner().invoke(main, args, env=env, prog_name="monitor")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [f"Error: {says}: no indicator 'nope'"]


@pytest.mark.parametrize(
    "args",
    [
        ["history", "{typed}"],
        ["export", "changes", "--indicator", "{typed}"],
        ["verdict", "list", "{typed}"],
        ["verdict", "1", "{typed}:eased", "no"],
        ["silence", "--list", "{typed}"],
        ["silence", "{typed}", "--for", "1h", "--reason", "x"],
        ["explain", "{typed}", "--title", "x"],
    ],
)
@pytest.mark.parametrize("typed", ["visa-easng", "visa-easin", "Visa-Easing", "vsia-easign"])
def test_an_indicator_id_a_letter_off_is_named_with_the_one_meant(
    tmp_path: Path, args: list[str], typed: str
) -> None:
    """`korea-china-japan-sumit` said only `no indicator …`: a long id typed a letter off is
    hard to see; `monitor verdict lst` already named the subcommand meant. An id in another
    case, or two letters off, was named with none (a stricter match than an outcome's)."""
    env = shipped(tmp_path)
    assert invoke(["db", "upgrade"], env).exit_code == 0

    given = [arg.format(typed=typed) for arg in args]
    result = CliRunner().invoke(main, given, env=env, prog_name="monitor")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines()[-1].endswith(
        f": no indicator '{typed}'; did you mean 'visa-easing'?"
    )
    tested = CliRunner().invoke(main, ["test", typed], env=env, prog_name="monitor")
    assert tested.exit_code == 2
    assert "*.yaml; did you mean 'visa-easing'? (see 'monitor test --help')" in tested.stderr


@pytest.mark.parametrize("args", [["history", "Visa-Easing"], ["verdict", "list", "Visa-Easing"]])
def test_an_id_a_letter_off_is_named_with_the_one_meant_where_there_is_no_database(
    tmp_path: Path, args: list[str]
) -> None:
    """`monitor history` said only `no indicator 'Visa-Easing' (store: no database at …)`, where
    `monitor verdict list` named the one meant."""
    env = shipped(tmp_path)

    result = CliRunner().invoke(main, args, env=env, prog_name="monitor")

    assert (result.exit_code, result.stdout) == (1, "")
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"Error: {' '.join(args[:-1])}: no indicator 'Visa-Easing'; did you mean 'visa-easing'?"
        " (store: no database at "
    )
    assert not (tmp_path / "data" / "monitor.db").exists()


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("visa-easng", "; did you mean 'visa-easing'?"),
        ("visa-easin", "; did you mean 'visa-easing'?"),
        ("VISA-EASING", "; did you mean 'visa-easing'?"),
        ("vsia-easign", "; did you mean 'visa-easing'?"),
        ("flihgt-routes", "; did you mean 'flight-routes'?"),
        ("nope", ""),
        ("weather-report", ""),
        ("chip-supply", ""),
        ("visa", ""),
        ("easing", ""),
    ],
)
def test_an_unknown_indicator_is_named_with_the_one_meant_as_an_outcome_is(
    typed: str, hint: str
) -> None:
    """`Definitions.no_indicator` matched more strictly than `meant`, which names an outcome, a
    key or a vocabulary meant: an id in another case, or two letters off, was named with none;
    one wholly different is named with none still."""
    definitions = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")

    assert definitions.no_indicator(typed) == f"no indicator '{typed}'{hint}"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["verdict", "1", "visa-easing:nope", "no"], "verdict"),
        (["silence", "visa-easing", "--outcome", "nope", "--for", "1h", "--reason", "x"],
         "silence"),
        (["explain", "visa-easing:nope", "--title", "x"], "explain"),
    ],
)  # fmt: skip
def test_an_unknown_outcome_is_the_same_line_after_each_command(
    tmp_path: Path, args: list[str], says: str
) -> None:
    """They said `indicator 'visa-easing' has no outcome 'nope' (it has eased)`, `visa-easing
    has no outcome 'nope' (it has: eased)` and `indicator visa-easing has no outcome 'nope'`."""
    env = shipped(tmp_path)
    assert invoke(["db", "upgrade"], env).exit_code == 0

    result = CliRunner().invoke(main, args, env=env, prog_name="monitor")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"Error: {says}: indicator 'visa-easing' has no outcome 'nope' (it has eased)"
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["verdict", "1", "visa-easing:{typed}", "no"],
        ["silence", "visa-easing", "--outcome", "{typed}", "--for", "1h", "--reason", "x"],
        ["explain", "visa-easing:{typed}", "--title", "x"],
    ],
)
@pytest.mark.parametrize("typed", ["eaesd", "Eased"])
def test_an_outcome_a_letter_off_is_named_with_the_one_meant(
    tmp_path: Path, args: list[str], typed: str
) -> None:
    """`monitor explain chip-supply:agred` listed the outcomes only, where an example's `expect`
    a letter off, or in another case, names the one meant."""
    env = shipped(tmp_path)
    assert invoke(["db", "upgrade"], env).exit_code == 0

    given = [arg.format(typed=typed) for arg in args]
    result = CliRunner().invoke(main, given, env=env, prog_name="monitor")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines()[-1].endswith(
        f"indicator 'visa-easing' has no outcome '{typed}' (it has eased); did you mean 'eased'?"
    )
