"""The `monitor` command: exit codes, output formats, nothing written on bad input."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.counts import count
from tests import news
from tests.conftest import DATA, ROOT
from tests.feedserver import FeedServer
from tests.test_pipeline import ALL_TAGS as TAGS

VALID = DATA / "definitions" / "valid"
MATCH_KEYS = {"guid", "title", "link", "indicator", "outcome", "terms"}


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env or {}, catch_exceptions=False)


def env_for(tmp_path: Path, indicators: Path, feeds: Path) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'monitor.db'}",
        "MONITOR_INDICATORS_DIR": str(indicators),
        "MONITOR_FEEDS_FILE": str(feeds),
    }


def test_validate_accepts_the_shipped_definitions() -> None:
    env = env_for(Path("/nonexistent"), ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    result = invoke(["validate"], env)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith("ok: 7 indicators, ")
    assert all(": warning: " in line for line in result.stdout.splitlines()[:-1])


GENERAL = DATA / "general-news" / "general-news.xml"


def _one_indicator(tmp_path: Path, terms: str) -> dict[str, str]:
    indicators = tmp_path / "indicators"
    indicators.mkdir()
    (indicators / "x.yaml").write_text(
        "id: x\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n"
        f"  - id: yes\n    label: l\n    rule:\n      all:\n        - {terms}\n"
    )
    return env_for(tmp_path, indicators, VALID / "feeds.yaml")


@pytest.mark.parametrize(
    ("terms", "args", "warning"),
    [
        ("eas*", [], "prefix 'eas*' has fewer than 4 letters"),
        ("ban*", [], "prefix 'ban*' has fewer than 4 letters"),
        ("Trump", ["--general-news", str(GENERAL)], "term 'Trump' occurs in 20 of 199"),
        ("Trump", ["--general-news", str(GENERAL.parent)], "term 'Trump' occurs in 20 of 199"),
    ],
)
def test_validate_warns_about_risky_terms_and_still_exits_0(
    tmp_path: Path, terms: str, args: list[str], warning: str
) -> None:
    env = _one_indicator(tmp_path, terms)
    result = invoke(["validate", *args], env)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'indicators' / 'x.yaml'}:10: warning: {warning}")
    assert lines[-1].startswith("ok: 1 indicator,")


@pytest.mark.parametrize("terms", ["easing", "sanction*", "Kaesong", "/\\bvisa\\b/"])
def test_validate_is_quiet_about_specific_terms(tmp_path: Path, terms: str) -> None:
    result = invoke(["validate", "--general-news", str(GENERAL)], _one_indicator(tmp_path, terms))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["ok: 1 indicator, 3 feeds"]


def test_validate_is_quiet_about_common_words_that_only_cancel_a_match(tmp_path: Path) -> None:
    """A `none` or `unless` term in much general news cuts matches; it never makes one."""
    env = _one_indicator(tmp_path, "visa")
    rule = tmp_path / "indicators" / "x.yaml"
    rule.write_text(rule.read_text() + "      none: [Trump]\n    unless: [said]\n")

    result = invoke(["validate", "--general-news", str(GENERAL)], env)

    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["ok: 1 indicator, 3 feeds"]
    rule.write_text(rule.read_text().replace("- visa", "- Trump"))  # now it makes matches
    warned = invoke(["validate", "--general-news", str(GENERAL)], env).stdout
    assert f"{rule}:10: warning: term 'Trump' occurs in 20 of 199" in warned


def test_validate_out_of_the_checkout_says_it_checked_no_term_against_general_news(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a watch list of one's own the default general news is not there: `ok` with no
    warning read as if 'the' had been checked and found rare."""
    env = _one_indicator(tmp_path, "the")
    monkeypatch.chdir(tmp_path)

    alone = CliRunner().invoke(main, ["validate"], env=env)
    given = CliRunner().invoke(main, ["validate", "--general-news", str(GENERAL)], env=env)

    assert (alone.exit_code, alone.stdout) == (0, "ok: 1 indicator, 3 feeds\n")
    assert alone.stderr.splitlines() == [
        "monitor: validate: no general news to check the terms against"
        " (tests/data/general-news/ is not in this folder, as it is in monitor's checkout): pass"
        " --general-news PATH to be warned of terms common in it"
    ]
    assert given.exit_code == 0 and given.stderr == ""
    assert "warning: term 'the' occurs in 124 of 199" in given.stdout


def test_validate_general_news_that_is_not_a_feed_is_a_one_line_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"")
    env = _one_indicator(tmp_path, "visa")
    result = CliRunner().invoke(main, ["validate", "--general-news", str(junk)], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: validate: general news {junk}: parse: {junk.resolve().as_uri()}: not a feed"
        " (empty body)"
    ]


def test_validate_general_news_of_a_folder_without_feeds_is_a_one_line_error(
    tmp_path: Path,
) -> None:
    """A folder with no *.xml in it (the feeds saved as .rss, a wrong folder) was read as no
    news at all: `ok`, no warning, as if the terms had been checked against general news."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "bbc.rss").write_bytes(GENERAL.read_bytes())
    env = _one_indicator(tmp_path, "Trump")

    result = CliRunner().invoke(main, ["validate", "--general-news", str(folder)], env=env)

    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: validate: general news {folder}: no *.xml file in it"
    ]


@pytest.mark.parametrize("explain", [[], ["--explain"]])
def test_a_labeled_row_with_escape_sequences_prints_none(
    tmp_path: Path, explain: list[str]
) -> None:
    """A labeled TSV comes from elsewhere, as a feed does: a cell's escape sequence (one that
    sets the terminal's title, one that clears it) and bidi override reached the terminal in
    the MISS line and --explain's sentences. They are dropped as parse drops them from feeds."""
    env = _one_indicator(tmp_path, "visa")
    labeled = tmp_path / "labeled.tsv"
    title = "Ferry \x1b]0;pwned\x07 news \u202elatot"
    text = "Crossings \x1b[2J resume \x9b31m today"
    labeled.write_text(
        f"id\turl\tdate\ttitle\ttext\tx:yes\n1\thttp://x.org/1\t\t{title}\t{text}\ty\n"
    )

    result = invoke(["test", "--labeled", str(labeled), *explain], env)

    miss = [line for line in result.stdout.splitlines() if line.startswith("MISS ")]
    assert miss == ["MISS x:yes 1 (en): Ferry ]0;pwned news latot | Crossings [2J resume 31m today"]
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", result.stdout)
    if explain:
        assert "    1  Ferry ]0;pwned news latot" in result.stdout


def test_validate_prints_every_problem_with_file_and_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    indicators = tmp_path / "indicators"
    shutil.copytree(VALID / "indicators", indicators)
    broken = indicators / "xi-visit.yaml"
    broken.write_text(broken.read_text().replace("    rule:", "    colour: red\n    rule:"))
    (indicators / "bad-regex.yaml").write_text(
        "id: bad-regex\ngroup: g\ntitle: t\nquestion: q\noutcomes:\n"
        "  - id: yes\n    label: l\n    rule: {any: ['/(unclosed/']}\n"
    )
    env = env_for(tmp_path, indicators, VALID / "feeds.yaml")

    validate = CliRunner().invoke(main, ["validate"], env=env)
    check = CliRunner().invoke(main, ["check"], env=env)

    problems = validate.stdout.splitlines()
    assert validate.exit_code == 1
    assert any(p.startswith(f"{broken}:9:") and "colour" in p for p in problems), problems
    assert any(p.startswith(f"{indicators / 'bad-regex.yaml'}:8:") for p in problems), problems
    assert check.exit_code == 1
    assert "nothing was done" in check.stderr and f"{broken}:9:" in check.stderr
    assert not (tmp_path / "db").exists()  # nothing was written


def test_the_daemon_with_invalid_definitions_writes_no_database(tmp_path: Path) -> None:
    """`monitor run` from a folder that is not a watch list (no indicators/, no feeds file):
    the problems and exit 1, and no database made there, as every other command leaves none."""
    env = env_for(tmp_path, tmp_path / "indicators", tmp_path / "config" / "feeds.yaml")

    result = CliRunner().invoke(main, ["run"], env=env)

    assert result.exit_code == 1
    assert "nothing was done" in result.stderr
    assert not (tmp_path / "db").exists()  # nothing was written


def test_test_command_shows_why_an_example_fails(tmp_path: Path) -> None:
    indicators = tmp_path / "indicators"
    shutil.copytree(VALID / "indicators", indicators)
    path = indicators / "north-korea-stance.yaml"
    path.write_text(
        path.read_text().replace(
            '    expect: balance\n', '    expect: balance\n  - text: "China urges dialogue"\n'
            "    expect: pressure\n", 1)
    )  # fmt: skip
    result = CliRunner().invoke(
        main, ["test"], env=env_for(tmp_path, indicators, VALID / "feeds.yaml")
    )

    assert result.exit_code == 1
    assert "FAIL north-korea-stance" in result.stdout
    assert "example:  China urges dialogue" in result.stdout
    assert "expected: pressure" in result.stdout
    assert "actual:   balance" in result.stdout
    # the terms of the indicator in the example, whether a rule held or not: "terms fired"
    # under "actual: none" read as terms of an outcome that fired
    assert "terms found: China, dialogue" in result.stdout
    assert "3 passed, 1 failed" in result.stdout
    # then why: the expected outcome's rule, node by node, and the one that fired instead
    why = result.stdout.split("terms found: China, dialogue\n")[1].splitlines()
    assert why[:2] == [
        "  why pressure did not fire:",
        "    north-korea-stance:pressure: not matched: the entry lacks terms the rule needs"
        " (the parts marked no below)",
    ]
    assert "  why balance fired:" in why
    assert "    north-korea-stance:balance: matched (China, dialogue)" in why


def test_shipped_examples_pass() -> None:
    result = invoke(["test"])
    assert result.exit_code == 0, result.stdout
    assert ", 0 failed" in result.stdout


def test_match_prints_one_json_object_per_match(tmp_path: Path) -> None:
    feed = tmp_path / "news.xml"
    feed.write_bytes(news.yonhap(datetime.now(UTC)))

    result = invoke(["match", str(feed), "--json"])

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert all(set(line) == MATCH_KEYS for line in lines)
    assert {(line["indicator"], line["outcome"]) for line in lines} == {
        ("visa-easing", "eased"),
        ("flight-routes", "expanded"),
    }
    assert all(line["terms"] for line in lines)


def test_match_reports_a_bad_source_on_one_line_and_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "news.xml"
    good.write_bytes(news.yonhap(datetime.now(UTC)))
    html = tmp_path / "page.html"
    html.write_text("<html><body>hello</body></html>")

    result = CliRunner().invoke(main, ["match", str(html), str(tmp_path / "missing.xml"),
                                       str(good), "--json"])  # fmt: skip

    assert result.exit_code == 1
    lines = result.stderr.splitlines()  # two errors, the good file's count, the summary
    assert len(lines) == 4 and all(e.startswith("monitor: ") for e in lines)
    assert "from 1 of 3 sources, 2 matches" in lines[-1]
    assert len(result.stdout.splitlines()) == 2  # the good file was still matched


@pytest.mark.parametrize("source", ["", "  "])
def test_match_refuses_an_empty_source_as_a_usage_error(tmp_path: Path, source: str) -> None:
    """`monitor match "$FEED"` with FEED unset: read as a path, it was the working directory
    (`monitor: : [Errno 21] Is a directory: '.'`, exit 1). It is a usage error, as an empty
    `monitor init` folder or `monitor search` text is, and nothing is read."""
    good = tmp_path / "news.xml"
    good.write_bytes(news.yonhap(datetime.now(UTC)))

    result = CliRunner().invoke(main, ["match", source, str(good)], prog_name="monitor")

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "Error: Invalid value for SOURCE: an empty name is no feed file or URL "
        "(see 'monitor match --help')\n"
    )


def test_match_says_which_file_it_cannot_read_and_why(tmp_path: Path) -> None:
    """A folder or a missing file is named with why, as `monitor validate` words a feeds file
    it cannot read, not by Python's `[Errno 21] Is a directory: '…'`."""
    result = CliRunner().invoke(main, ["match", str(tmp_path), str(tmp_path / "missing.xml")])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"monitor: match: {tmp_path}: cannot read file: Is a directory",
        f"monitor: match: {tmp_path / 'missing.xml'}: cannot read file: No such file or directory",
    ]


def test_match_survives_the_whole_shared_corpus(shared_dir: Path) -> None:
    files = sorted(
        str(p)
        for p in (shared_dir / "corpus").rglob("*")
        if p.is_file() and p.suffix not in {".md", ".tsv"} and p.name != "LICENSE"
    )
    result = CliRunner().invoke(main, ["match", *files, "--json"])

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for line in result.stdout.splitlines():
        assert set(json.loads(line)) == MATCH_KEYS
    for line in result.stderr.splitlines():
        assert line.startswith("monitor: ") and "\n" not in line


def test_match_finds_nothing_in_general_news(shared_dir: Path) -> None:
    feeds = sorted(str(p) for p in (shared_dir / "corpus" / "real-feeds").glob("*.xml"))
    result = CliRunner().invoke(main, ["match", *feeds, "--json"])
    assert result.stdout == ""


@pytest.mark.parametrize("scheme", ["HTTP", "Http"])
def test_match_fetches_a_url_whose_scheme_is_in_capitals(
    feed_server: FeedServer, scheme: str
) -> None:
    """A URL's scheme is case-insensitive (RFC 3986): `monitor match HTTP://host/feed` was
    taken for a file path ("No such file or directory: 'HTTP:/host/feed'", exit 1). It is
    fetched and matched as the lower-case one is."""
    feed_server.route("/y.xml", body=news.yonhap(datetime.now(UTC)))
    lower = feed_server.url("/y.xml")
    capitals = scheme + lower.removeprefix("http")

    expected = invoke(["match", lower, "--json"])
    result = CliRunner().invoke(main, ["match", capitals, "--json"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected.stdout and len(result.stdout.splitlines()) == 2
    assert result.stderr.splitlines()[0] == f"monitor: match: {capitals}: 3 entries read, 2 matches"
    assert feed_server.hits("/y.xml") == 2


def _checked_with_yonhap(tmp_path: Path, feed_server: FeedServer) -> tuple[dict[str, str], Path]:
    """A copy of the shipped indicators reading one feed of Yonhap news from two days ago,
    checked once (visa-easing: eased:reported); the env and the indicators folder."""
    feed_server.route("/y.xml", body=news.yonhap(datetime.now(UTC) - timedelta(days=2)))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - {{id: y, url: '{feed_server.url('/y.xml')}', tags: [{', '.join(TAGS)}]}}\n"
    )
    indicators = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators", indicators)
    env = env_for(tmp_path, indicators, feeds)
    assert "visa-easing: unknown -> eased:reported" in invoke(["check"], env).stdout
    return env, indicators


def test_replay_re_evaluates_stored_entries_with_todays_definitions(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env, indicators = _checked_with_yonhap(tmp_path, feed_server)

    visa = indicators / "visa-easing.yaml"  # today's definition reads only the last day's news
    visa.write_text(re.sub(r"(?m)^window: .*$", "window: 1d", visa.read_text()))
    since = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%d")
    replay = invoke(["replay", "--since", since], env)
    history = invoke(["history", "visa-easing", "--json"], env)

    assert "visa-easing: eased:reported -> quiet (replayed)" in replay.stdout
    latest = json.loads(history.stdout.splitlines()[0])
    assert latest["replayed"] is True and latest["new_status"] == "quiet"


def test_check_says_why_an_indicator_turned_unknown(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env, indicators = _checked_with_yonhap(tmp_path, feed_server)

    visa = indicators / "visa-easing.yaml"  # now it reads a tag no feed has: no feed at all
    visa.write_text(re.sub(r"(?m)^feeds: .*$", "feeds: {tags: [nowhere]}", visa.read_text()))
    checked = invoke(["check"], env)
    lines = checked.stdout.splitlines()

    turned = next(i for i, line in enumerate(lines) if line.startswith("visa-easing: "))
    assert lines[turned].startswith("visa-easing: eased:reported -> unknown")
    assert lines[turned + 1] == (
        "  because feeds not read: none selected (no feed in the feeds file has its tags or ids)"
    )
    # the summary counts it: it was recorded before the cycle (on reading the definitions)
    printed = [line for line in lines if " -> " in line and not line.startswith(" ")]
    assert f", {count(len(printed), 'status change')} in " in checked.stderr


def test_history_of_an_unknown_indicator_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["history", "no-such-thing"])
    assert result.exit_code == 1
    assert "no indicator 'no-such-thing'" in result.output


@pytest.mark.parametrize("command", ["check", "match", "validate", "test", "status", "history",
                                     "replay"])  # fmt: skip
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = invoke([command, "--help"])
    assert result.exit_code == 0
    assert "Example: monitor " + command in result.stdout


def test_test_labeled_scores_and_reports_a_malformed_file_clearly(tmp_path: Path) -> None:
    good = invoke(["test", "--labeled", str(DATA / "labeled" / "basic.tsv")])
    bad = CliRunner().invoke(main, ["test", "--labeled", str(DATA / "labeled" / "bad-label.tsv")])

    assert good.exit_code == 0
    assert "precision" in good.stdout and "overall" in good.stdout
    assert bad.exit_code == 1
    assert "Traceback" not in bad.output and "bad-label.tsv:" in bad.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # a quote opened in a cell and never closed takes in the rest of a big file: the csv
        # module's field limit was a _csv.Error traceback
        (
            (
                'id\ttitle\ttext\tdemo:eased\n1\t"Unclosed quote\tx\tn\n'
                + "".join(
                    f"{n}\tChina eases visas {n}\tSeoul welcomes it\ty\n" for n in range(2, 5000)
                )
            ).encode(),
            "2: field larger than field limit (131072) (a cell that opens a quote and never"
            " closes it?)",
        ),
        # a file saved as latin-1: "labeled: PATH'utf-8' codec can't decode…", no line
        (
            "id\ttitle\ttext\tdemo:eased\n1\tCafé visa\tx\ty\n".encode("latin-1"),
            "2: not UTF-8 text (bad byte at offset 30); save it as UTF-8",
        ),
    ],
)
def test_test_labeled_reports_a_broken_file_as_file_line_message(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "labeled.tsv"
    path.write_bytes(content)

    result = CliRunner().invoke(main, ["test", "--labeled", str(path)])

    assert result.exit_code == 1
    assert result.stderr == f"Error: labeled: {path}:{message}\n"


def test_test_labeled_part_and_json(tmp_path: Path) -> None:
    path = str(DATA / "labeled" / "basic.tsv")
    parts = {
        part: json.loads(invoke(["test", "--labeled", path, "--part", part, "--json"]).stdout)
        for part in ("tune", "score", "all")
    }
    text = invoke(["test", "--labeled", path, "--part", "score"])
    bad = CliRunner().invoke(main, ["test", "--labeled", path, "--part", "dev"])

    assert parts["all"]["examples"]["failed"] == []
    assert parts["all"]["labeled"]["part"] == "all" and parts["all"]["labeled"]["items"] == 6
    assert parts["tune"]["labeled"]["items"] + parts["score"]["labeled"]["items"] == 6
    assert "part score" in text.stdout and "language" in text.stdout
    assert bad.exit_code == 2 and "'dev' is not one of" in bad.stderr


def test_test_labeled_figures_only_scores_a_part_without_showing_its_rows(tmp_path: Path) -> None:
    """A held-out part can be measured without being read: the same counts, no row in sight."""
    path = tmp_path / "labeled.tsv"
    rows = [
        ("id", "url", "date", "title", "text", "visa-easing:eased"),
        ("a6", "https://example.org/a6", "2024-11-27", "Rain expected on Sunday", "", "n"),
        ("a7", "https://example.org/a7", "2024-11-28", "Harbour cranes repainted", "", "y"),
    ]
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    shown, hidden = (
        invoke(["test", "--labeled", str(path), *flag]).stdout for flag in ([], ["--figures-only"])
    )
    shown_json, hidden_json = (
        json.loads(invoke(["test", "--labeled", str(path), "--json", *flag]).stdout)["labeled"]
        for flag in ([], ["--figures-only"])
    )

    assert "MISS visa-easing:eased a7" in shown and "Harbour cranes" in shown
    assert "a7" not in hidden and "Harbour" not in hidden
    assert hidden.splitlines() == shown.splitlines()[: len(hidden.splitlines())]
    assert [m["id"] for m in shown_json["misses"]] == ["a7"]
    assert "misses" not in hidden_json and "false_alarms" not in hidden_json
    assert hidden_json["overall"] == shown_json["overall"] and hidden_json["overall"]["fn"] == 1


def test_test_labeled_against_another_folder_counts_what_each_outcome_gained_and_lost(
    tmp_path: Path,
) -> None:
    """Two versions of the rules on the same rows: `--against DIR` names the rows one matches
    and the other does not, with the McNemar p-value; `--figures-only` keeps the rows out."""
    env = _one_indicator(tmp_path, "visa")  # this version: x:yes on any visa
    before = tmp_path / "before"
    before.mkdir()
    (before / "x.yaml").write_text(
        (tmp_path / "indicators" / "x.yaml").read_text().replace("- visa", "- title:visa")
    )
    labeled = tmp_path / "labeled.tsv"
    rows = [
        ("id", "title", "text", "x:yes"),
        ("r1", "Visa rules eased", "", "y"),  # both match
        ("r2", "Rules eased", "More visa waivers from May.", "y"),  # this version only: gained
        ("r3", "Weather", "No visa news today.", "n"),  # this version only: a false alarm added
        ("r4", "Markets", "", "n"),
    ]
    labeled.write_text("".join("\t".join(row) + "\n" for row in rows))
    args = ["test", "--labeled", str(labeled), "--against", str(before)]

    shown = invoke(args, env)
    hidden = invoke([*args, "--figures-only"], env)
    document = json.loads(invoke([*args, "--json"], env).stdout)["labeled"]["against"]
    hidden_document = json.loads(invoke([*args, "--json", "--figures-only"], env).stdout)

    assert shown.exit_code == 0, shown.output
    table = shown.stdout.split(f"against the indicators of {before}")[1].splitlines()
    assert table[2].split() == ["x:yes", "1", "0", "1", "0", "1.000"]
    assert "GAINED x:yes r2 (en): Rules eased | More visa waivers" in shown.stdout
    assert "ALARM ADDED x:yes r3 (en): Weather" in shown.stdout
    assert "r2" not in hidden.stdout and "r3" not in hidden.stdout
    assert table[2] in hidden.stdout.splitlines()
    assert document["indicators"] == str(before)
    assert document["outcomes"]["x:yes"] == {
        "matches_gained": 1, "matches_lost": 0, "false_alarms_added": 1,
        "false_alarms_removed": 0, "p_value": 1.0,
    }  # fmt: skip
    assert [c["id"] for c in document["changed"]] == ["r2", "r3"]
    assert "changed" not in hidden_document["labeled"]["against"]


def test_test_against_needs_labeled_and_valid_definitions(tmp_path: Path) -> None:
    env = _one_indicator(tmp_path, "visa")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.yaml").write_text("id: x\noutcomes: []\n")
    labeled = tmp_path / "labeled.tsv"
    labeled.write_text("id\ttitle\ttext\tx:yes\nr1\tVisa\t\ty\n")

    alone = invoke(["test", "--against", str(broken)], env)
    bad = invoke(["test", "--labeled", str(labeled), "--against", str(broken)], env)

    assert alone.exit_code == 2 and "give --labeled too" in alone.stderr
    assert bad.exit_code == 1
    [line] = bad.stderr.splitlines()
    assert line.startswith(f"Error: --against {broken}: {broken / 'x.yaml'}")


def test_test_against_a_folder_without_indicators_says_so(tmp_path: Path) -> None:
    """`--against before` for `before/indicators`: every outcome was "only in this version,
    not compared", a comparison of nothing that exited 0."""
    env = _one_indicator(tmp_path, "visa")
    (tmp_path / "before" / "indicators").mkdir(parents=True)
    labeled = tmp_path / "labeled.tsv"
    labeled.write_text("id\ttitle\ttext\tx:yes\nr1\tVisa\t\ty\n")

    result = invoke(["test", "--labeled", str(labeled), "--against", str(tmp_path / "before")], env)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: --against {tmp_path / 'before'}: no indicator file in it; "
        f"did you mean {tmp_path / 'before' / 'indicators'}?"
    ]


@pytest.mark.parametrize("option", [["--part", "score"], ["--part", "all"], ["--figures-only"]])
def test_labeled_options_without_a_labeled_file_are_refused(
    tmp_path: Path, option: list[str]
) -> None:
    """Not silently ignored: `monitor test --part score` ran only the examples, as if scored."""
    env = _one_indicator(tmp_path, "visa")

    refused = invoke(["test", *option], env)

    assert refused.exit_code == 2
    assert f"{option[0]} is about scores on a labeled file: give --labeled too" in refused.stderr


def test_a_warning_about_a_vocabulary_term_points_into_the_vocabulary_once(tmp_path: Path) -> None:
    env = _one_indicator(tmp_path, '"@v.risky"')
    indicators = tmp_path / "indicators"
    (indicators / "y.yaml").write_text(
        (indicators / "x.yaml").read_text().replace("id: x", "id: y").replace("@v.risky", "@v.b")
    )
    (indicators / "vocab").mkdir()
    (indicators / "vocab" / "v.yaml").write_text("risky: [visa, ban*]\nb: ['@v.risky']\n")
    result = invoke(["validate", "--general-news", str(GENERAL)], env)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{indicators / 'vocab' / 'v.yaml'}:1: warning: prefix 'ban*' has fewer than 4 letters,"
        " so it matches many unrelated words (eas* matches East and easy); write the words out",
        "ok: 2 indicators, 3 feeds",
    ]
