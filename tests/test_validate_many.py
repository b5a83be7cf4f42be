"""`monitor validate` on definitions with thousands of problems (a generated file): it printed
every one, 10,001 lines for one file of bad terms. It prints the first 20 of each file by line,
then `file: … and N more`; the exit status and `--json` keep every one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main
from tests import news
from tests.conftest import DATA

VALID = DATA / "definitions" / "valid"
BAD_TERMS = 500


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def indicator(name: str, terms: list[str]) -> str:
    head = f"id: {name}\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n"
    rule = "  - id: yes\n    label: l\n    rule:\n      any:\n"
    return head + rule + "".join(f"        - '{term}'\n" for term in terms)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The valid definitions, with a generated file of BAD_TERMS bad regexes (lines 10 on)
    and a small one of three."""
    indicators = tmp_path / "indicators"
    shutil.copytree(VALID / "indicators", indicators)
    (indicators / "generated.yaml").write_text(indicator("generated", ["/[/"] * BAD_TERMS))
    (indicators / "small.yaml").write_text(indicator("small", ["/(/", "fine", "/)/", "/[/"]))
    return {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'monitor.db'}",
        "MONITOR_INDICATORS_DIR": str(indicators),
        "MONITOR_FEEDS_FILE": str(VALID / "feeds.yaml"),
    }


def test_validate_prints_20_problems_per_file_then_how_many_more(env: dict[str, str]) -> None:
    result = invoke(["validate"], env)

    generated = f"{env['MONITOR_INDICATORS_DIR']}/generated.yaml"
    small = f"{env['MONITOR_INDICATORS_DIR']}/small.yaml"
    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    first = [f"{generated}:{n}" for n in range(10, 30)]
    assert [line.split(": ")[0] for line in lines[:20]] == first
    assert lines[20] == (
        f"{generated}: … and {BAD_TERMS - 20} more (monitor validate --json lists every one)"
    )
    assert [line.split(": ")[0] for line in lines[21:]] == [f"{small}:{n}" for n in (10, 12, 13)]


def test_validate_json_lists_every_problem(env: dict[str, str]) -> None:
    result = invoke(["validate", "--json"], env)

    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["valid"] is False and document["warnings"] == []
    assert (document["indicators"], document["feeds"]) == (None, None)
    problems = document["problems"]
    assert len(problems) == BAD_TERMS + 3
    assert problems[0] == {
        "file": f"{env['MONITOR_INDICATORS_DIR']}/generated.yaml",
        "line": 10,
        "message": "bad regex in term '/[/': unterminated character set at position 1",
    }
    assert [p["line"] for p in problems[:BAD_TERMS]] == list(range(10, 10 + BAD_TERMS))


def test_validate_json_of_valid_definitions_counts_them(tmp_path: Path) -> None:
    env = {"MONITOR_INDICATORS_DIR": str(VALID / "indicators"),
           "MONITOR_FEEDS_FILE": str(VALID / "feeds.yaml")}  # fmt: skip

    quiet = news.rss("weather", [news.Item("Rain expected in the afternoon", "https://e.org/1")])
    (tmp_path / "weather.xml").write_bytes(quiet)  # general news no term fires on

    result = invoke(["validate", "--json", "--general-news", str(tmp_path)], env)

    document = json.loads(result.stdout)
    assert result.exit_code == 0
    assert document["valid"] is True and document["problems"] == []
    assert document["indicators"] == len(list((VALID / "indicators").glob("*.yaml")))
    assert all(set(w) == {"file", "line", "message"} for w in document["warnings"])


def test_a_command_refused_for_bad_definitions_shows_20_per_file_too(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["check"], env=env)

    lines = result.stderr.splitlines()
    assert result.exit_code == 1
    assert len(lines) == 20 + 1 + 3 + 1
    assert lines[20].endswith(f"generated.yaml: … and {BAD_TERMS - 20} more "
                              "(monitor validate --json lists every one)")  # fmt: skip
    assert lines[-1] == f"Error: definitions: {BAD_TERMS + 3} problems; nothing was done"


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_validate_loads_the_definitions_once(
    env: dict[str, str], valid: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each load reads and checks every term (a quarter of a second for the shipped ones): the
    command loaded them to find the problems, then again for the warnings."""
    import monitor.definitions as definitions

    loads: list[bool] = []  # each load's check_regexes
    load = definitions.load_definitions

    def counted(
        indicators_dir: Path, feeds_file: Path, *, check_regexes: bool = True
    ) -> definitions.Definitions:
        loads.append(check_regexes)
        return load(indicators_dir, feeds_file, check_regexes=check_regexes)

    monkeypatch.setattr(definitions, "load_definitions", counted)
    if valid:
        env = env | {"MONITOR_INDICATORS_DIR": str(VALID / "indicators")}
    result = invoke(["validate", "--general-news", str(DATA / "general-news")], env)
    assert result.exit_code == (0 if valid else 1)
    assert loads == [True]  # and it checks every regex term
