"""`monitor search`, `monitor verdict` and `monitor verdict export` over a database filled by the
pipeline (tests/webdata.py), on SQLite and PostgreSQL: what they print, what they refuse, and
that an export is a labeled file `monitor test --labeled` scores."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.domain import Definitions, utc_text
from monitor.pipeline import store_entries
from monitor.store import Store, open_store
from tests import storeops, webdata
from tests.test_outages import fill, tmpfs
from tests.webdata import GENERAL, NOW, VISA_HERALD
from tests.webdata import cli_entry_id as entry_id
from tests.webdata import run_cli as run
from tests.webhook import running_webhook

defs = webdata.defs  # fixture


@pytest.fixture
def env(database_url: str, defs: Definitions) -> Iterator[dict[str, str]]:
    with open_store(database_url) as store:
        webdata.populate(store, defs)
    yield {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }


def stored(env: dict[str, str]) -> Store:
    return open_store(env["MONITOR_DATABASE_URL"])


def test_search_shows_id_time_source_and_title(env: dict[str, str]) -> None:
    text = run(env, "search", "VISA-FREE")
    found = run(env, "search", "visa-free", "--json").stdout
    lines = [json.loads(line) for line in found.splitlines()]

    assert text.exit_code == 0
    assert [item["title"] for item in lines] == [VISA_HERALD, webdata.HOSTILE_TITLE]
    assert set(lines[0]) == {"id", "time", "feed", "publisher", "title", "link"}
    first = text.stdout.splitlines()[0]
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.match(rf"^ *{lines[0]['id']}  {when}  koreaherald\.com \(herald\)  ", first)
    assert first.endswith(VISA_HERALD)
    assert len(run(env, "search", "visa-free", "--limit", "1").stdout.splitlines()) == 1
    assert text.stderr == ""  # hits: nothing to say


def test_a_search_without_hits_says_so_on_stderr_and_exits_0(env: dict[str, str]) -> None:
    text = run(env, "search", "no such words anywhere")
    as_json = run(env, "search", "no such words anywhere", "--json")

    assert (text.exit_code, as_json.exit_code) == (0, 0)  # as `match` finding nothing
    assert text.stdout == "" and as_json.stdout == ""  # --json: one object per hit, so none
    said = "monitor: search: no stored entry matches 'no such words anywhere' (title or text, "
    said += "any case)\n"
    assert text.stderr == said and as_json.stderr == said


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_an_empty_search_is_a_usage_error_as_over_http(env: dict[str, str], query: str) -> None:
    result = CliRunner().invoke(main, ["search", query, "--json"], env=env, prog_name="monitor")

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "Error: Invalid value for 'TEXT': the query must not be empty (nor only white space) "
        "(see 'monitor search --help')\n"
    )


@pytest.mark.parametrize("length", [201, 60_000])
def test_a_search_over_200_characters_is_a_usage_error_as_over_http(
    env: dict[str, str], length: int
) -> None:
    """GET /entries answers 422 past 200 characters; the command took any length, and past
    SQLite's 50,000 bytes of a LIKE pattern said `store: unable to search entries:
    OperationalError: LIKE or GLOB pattern too complex`, exit 1."""
    query = "visa " * (length // 5) + "v" * (length % 5)
    result = CliRunner().invoke(main, ["search", query], env=env, prog_name="monitor")
    most = CliRunner().invoke(main, ["search", "v" * 200], env=env, prog_name="monitor")

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"Error: Invalid value for 'TEXT': the query must be at most 200 characters (it has "
        f"{length}) (see 'monitor search --help')\n"
    )
    assert most.exit_code == 0  # none matches: one line on stderr


def test_a_verdict_prints_what_changed_and_history_names_it(env: dict[str, str]) -> None:
    herald = entry_id(env, VISA_HERALD)

    result = run(env, "verdict", str(herald), "visa-easing:eased", "no", "--note", "old news")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"verdict: no on entry {herald} by cli: old news (verdict ")
    assert lines[1] == "visa-easing: eased:confirmed -> eased:reported"
    history = run(env, "history", "visa-easing", "--json", "--limit", "1")
    latest = json.loads(history.stdout)
    assert latest["reason"] == f"verdict: no on entry {herald} by cli: old news"
    assert all(isinstance(e["entry_id"], int) for e in latest["evidence"])
    assert herald not in [e["entry_id"] for e in latest["evidence"]]
    text = run(env, "history", "visa-easing", "--limit", "1").stdout
    assert f"because verdict: no on entry {herald} by cli: old news" in text
    assert re.search(r"\[entry \d+\] example\.org: ", text)

    again = run(env, "verdict", "add", str(herald), "visa-easing:eased", "no")  # the long form
    assert again.stdout.splitlines()[1] == "visa-easing: status stays eased:reported"


def test_explain_says_the_verdict_that_stands_on_the_entry(env: dict[str, str]) -> None:
    """`monitor explain --entry` of an entry an analyst judged `no` said only `matched (…)`,
    as if it were evidence; one judged `yes` that the rule missed, only `not matched`. Each
    now says the verdict under its outcome's first line, as the page and `history` do."""
    herald, general = entry_id(env, VISA_HERALD), entry_id(env, GENERAL)
    assert (
        run(env, "verdict", str(herald), "visa-easing:eased", "no", "--note", "old news").exit_code
        == 0
    )
    assert run(env, "verdict", str(general), "visa-easing:eased", "yes").exit_code == 0

    judged_no = run(env, "explain", "visa-easing", "--entry", str(herald)).stdout.splitlines()
    judged_yes = run(env, "explain", "visa-easing", "--entry", str(general)).stdout.splitlines()

    assert judged_no[0].startswith("visa-easing:eased: matched (")
    assert re.fullmatch(
        r"  but an analyst's verdict stands: no by cli at \d{4}-\d\d-\d\d \d\d:\d\d UTC "
        r'\("old news"\): not relevant: it is not evidence, whatever the rule says',
        judged_no[1],
    )
    assert judged_yes[0] == (
        "visa-easing:eased: not matched: the entry lacks terms the rule needs"
        " (the parts marked no below)"
    )
    assert judged_yes[1].startswith("  but an analyst's verdict stands: yes by cli at ")
    assert judged_yes[1].endswith(": confirmed: it is evidence, though the rule missed it")
    unjudged = run(env, "explain", "flight-routes", "--entry", str(herald)).stdout
    assert "verdict" not in unjudged  # none on it for this indicator: nothing said


def test_explain_json_carries_the_verdict_that_stands_on_the_entry(env: dict[str, str]) -> None:
    """`monitor explain --entry --json` said nothing of an analyst's verdict, where the text
    says it: each outcome now has `verdict` (who said what, when, with the note, and whether
    it agrees with the rule), the latest standing; null where none stands."""
    herald, general = entry_id(env, VISA_HERALD), entry_id(env, GENERAL)
    for entry, said in ((herald, "no"), (general, "yes"), (herald, "yes")):  # the last stands
        assert (
            run(env, "verdict", str(entry), "visa-easing:eased", said, "--note", said).exit_code
            == 0
        )
    listed = [
        json.loads(line) for line in run(env, "verdict", "list", "--json").stdout.splitlines()
    ]
    at = {v["entry_id"]: v["at"] for v in reversed(listed)}  # the latest on each entry

    def explained(indicator: str, entry: int) -> list[dict[str, object]]:
        found = run(env, "explain", indicator, "--entry", str(entry), "--json")
        assert found.exit_code == 0, found.output
        outcomes: list[dict[str, object]] = json.loads(found.stdout)["outcomes"]
        return outcomes

    ((matched,), (missed,)) = explained("visa-easing", herald), explained("visa-easing", general)
    assert matched["matched"] is True and missed["matched"] is False
    assert matched["verdict"] == {"verdict": "yes", "who": "cli", "at": at[herald],
                                  "note": "yes", "agrees": True, "beyond_window": ""}  # fmt: skip
    assert missed["verdict"] == {"verdict": "yes", "who": "cli", "at": at[general],
                                 "note": "yes", "agrees": False, "beyond_window": ""}  # fmt: skip
    assert all(o["verdict"] is None for o in explained("flight-routes", herald))
    said = {"confirmed, as the rule says": (herald, ""),  # agrees: no "but"
            "confirmed: it is evidence, though the rule missed it": (general, "but ")}  # fmt: skip
    for does, (entry, but) in said.items():  # the text says what the JSON does, its `at` too
        text = run(env, "explain", "visa-easing", "--entry", str(entry)).stdout.splitlines()
        when = utc_text(datetime.fromisoformat(at[entry]))
        assert (
            text[1] == f'  {but}an analyst\'s verdict stands: yes by cli at {when} ("yes"): {does}'
        )


def test_explain_says_a_yes_on_an_entry_older_than_the_window_adds_no_evidence_now(
    env: dict[str, str],
) -> None:
    """A standing `yes` on an entry older than the indicator's window was described as
    evidence (`confirmed: it is evidence, though the rule missed it`), though it adds none
    now: explain says it as `monitor verdict list` and the page do, in text and JSON."""
    old = NOW - timedelta(days=45)
    titles = ("China and South Korea agree visa-free entry, archives show",  # the rule's
              "Seoul stocks close lower, archives show")  # missed  # fmt: skip
    with stored(env) as store:
        storeops.add_entries(store, [
            webdata.news("yonhap", 40 + n, title, f"https://e.example/{40 + n}", old)
            for n, title in enumerate(titles)
        ], now=old)  # fmt: skip
    beyond = "older than its 30d window: the yes adds no evidence now"
    said = ((titles[0], True, "confirmed, as the rule says"),
            (titles[1], False, "confirmed, though the rule missed it"))  # fmt: skip
    for title, agrees, does in said:
        found = str(entry_id(env, title))
        assert run(env, "verdict", found, "visa-easing:eased", "yes").exit_code == 0

        text = run(env, "explain", "visa-easing", "--entry", found).stdout.splitlines()
        document = json.loads(run(env, "explain", "visa-easing", "--entry", found, "--json").stdout)

        assert text[1].endswith(f": {does}; {beyond}")
        assert text[1].startswith("  an analyst's" if agrees else "  but an analyst's")
        assert "it is evidence" not in "\n".join(text)
        (outcome,) = document["outcomes"]
        assert (outcome["verdict"]["agrees"], outcome["verdict"]["beyond_window"]) == (
            agrees,
            beyond,
        )


def test_a_change_a_verdict_causes_is_alerted(env: dict[str, str]) -> None:
    """As every status change is: from the CLI it goes out at once, as `monitor check` sends."""
    herald = entry_id(env, VISA_HERALD)
    with running_webhook() as hook:
        alerting = env | {"MONITOR_NOTIFY_URLS": hook.apprise_url("/alerts")}
        result = run(alerting, "verdict", str(herald), "visa-easing:eased", "no", "--note", "old")

    assert result.exit_code == 0, result.output
    (alert,) = hook.received
    message = alert.json["message"]
    assert "eased — confirmed → eased — reported" in message
    assert f"verdict: no on entry {herald} by cli: old" in message
    with stored(env) as store:
        assert store.pending_alerts() == 0  # marked sent


def test_a_yes_on_an_entry_older_than_the_window_says_why_nothing_changed(
    env: dict[str, str],
) -> None:
    """A `yes` counts inside the indicator's window only: on an older entry the status stays,
    and the analyst is told why instead of seeing a confirmation do nothing."""
    old = NOW - timedelta(days=45)
    title = "China and South Korea agree visa-free entry, archives show"
    with stored(env) as store:
        storeops.add_entries(
            store, [webdata.news("yonhap", 40, title, "https://e.example/40", old)], now=old
        )
    found = entry_id(env, title)
    recent = entry_id(env, GENERAL)

    said = run(env, "verdict", str(found), "visa-easing:eased", "yes").stdout.splitlines()
    inside = run(env, "verdict", str(recent), "flight-routes:expanded", "no").stdout.splitlines()

    assert said[1] == (
        f"visa-easing: status stays eased:confirmed; entry {found} ({old.date().isoformat()}) is "
        "older than its 30d window: the yes adds no evidence now, and is kept for "
        "`monitor verdict export`"
    )
    assert inside[1].startswith("flight-routes: status stays ")
    assert "window" not in inside[1]  # a no, or an entry inside the window: nothing to explain
    listed = run(env, "verdict", "list").stdout.splitlines()  # as the page marks it
    assert listed[2].endswith("  (older than its 30d window: the yes adds no evidence now)")
    assert f"entry {found} " in listed[2] and "window" not in listed[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999", "visa-easing:eased", "no"], "Error: verdict: no entry 999999"),
        (["{herald}", "nope:eased", "no"], "Error: verdict: no indicator 'nope'"),
        (["{herald}", "visa-easing:nope", "yes"], "has no outcome 'nope' (it has eased)"),
        (["{herald}", "visa-easing", "yes"], "is not INDICATOR:OUTCOME"),
        (["{herald}", "visa-easing:eased", "maybe"], "'maybe' is not one of 'yes', 'no'"),
        (  # the JSON endpoint's limit: the CLI stored any length, into every history and digest
            ["{herald}", "visa-easing:eased", "no", "--note", "why " * 501],
            "Error: verdict: a note is at most 2000 characters (this one has 2003)",
        ),
    ],
)
def test_a_bad_verdict_is_one_line_exits_non_zero_and_writes_nothing(
    env: dict[str, str], args: list[str], message: str
) -> None:
    herald = entry_id(env, VISA_HERALD)
    with stored(env) as store:
        before = store.data_version()

    result = run(env, "verdict", *(a.format(herald=herald) for a in args))

    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output
    if message.startswith("Error: verdict"):
        assert len(result.stderr.strip().splitlines()) == 1
    with stored(env) as store:
        assert store.verdicts() == [] and store.data_version() == before


def test_export_is_a_labeled_file_that_monitor_test_scores(
    env: dict[str, str], defs: Definitions, tmp_path: Path
) -> None:
    herald, general = entry_id(env, VISA_HERALD), entry_id(env, GENERAL)
    run(env, "verdict", str(herald), "visa-easing:eased", "yes")
    run(env, "verdict", str(herald), "visa-easing:eased", "no", "--note", "changed my mind")
    run(env, "verdict", str(general), "north-korea-stance:balance", "yes")
    path = tmp_path / "verdicts.tsv"

    done = run(env, "verdict", "export", "--format", "tsv", "-o", str(path))

    assert done.exit_code == 0, done.output
    assert done.stderr == f"monitor: verdict export: 2 entries, 2 labels to {path}\n"
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as a file `open` makes
    rows = list(csv.DictReader(path.open(), delimiter="\t"))
    keys = [f"{i.id}:{o.id}" for i in defs.indicators for o in i.outcomes]
    assert list(rows[0]) == ["id", "url", "date", "title", "text", *keys]
    by_id = {row["id"]: row for row in rows}
    assert by_id[str(herald)]["visa-easing:eased"] == "n"  # the latest verdict stands
    assert by_id[str(herald)]["flight-routes:expanded"] == "?"
    assert by_id[str(herald)]["title"] == VISA_HERALD
    assert by_id[str(general)]["north-korea-stance:balance"] == "y"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", by_id[str(general)]["date"])
    assert run(env, "verdict", "export").stdout == path.read_text()  # standard output

    scored = run(env, "test", "--labeled", str(path))

    assert scored.exit_code == 0, scored.output
    rows = [line.split() for line in scored.stdout.splitlines()]
    table = {row[0]: row[1:4] for row in rows if len(row) >= 4 and ":" in row[0]}
    assert table["visa-easing:eased"] == ["0", "1", "0"]  # the rule fires: a false alarm
    assert table["north-korea-stance:balance"] == ["0", "0", "1"]  # the rule misses it
    alarm = rf"^FALSE ALARM visa-easing:eased {herald}( \(\w+\))?: {re.escape(VISA_HERALD)}"
    assert re.search(alarm, scored.stdout, re.M)
    miss = rf"^MISS north-korea-stance:balance {general}( \(\w+\))?: {re.escape(GENERAL)}"
    assert re.search(miss, scored.stdout, re.M)


def test_export_to_standard_output_is_utf8_whatever_the_terminal(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`monitor verdict export > verdicts.tsv` in a latin-1 locale: the file is the UTF-8 one
    `-o` writes (it was a UnicodeEncodeError traceback at the en dash of a headline)."""
    run(env, "verdict", str(entry_id(env, webdata.FLIGHTS)), "flight-routes:expanded", "yes")
    path = tmp_path / "verdicts.tsv"
    assert run(env, "verdict", "export", "-o", str(path)).exit_code == 0

    piped = CliRunner(charset="latin-1").invoke(main, ["verdict", "export"], env=env)

    assert piped.exit_code == 0, piped.output
    assert piped.stdout_bytes == path.read_bytes()
    assert webdata.FLIGHTS in path.read_text(encoding="utf-8")


def test_an_export_that_fails_half_way_leaves_the_previous_file_as_it_was(
    env: dict[str, str], defs: Definitions, tmp_path: Path
) -> None:
    """`verdict export -o FILE` on a disk that fills while it writes: FILE was emptied first
    and left half-written, the analyst's previous export lost. The export is written beside
    FILE and renamed over it only once whole: a clear error, FILE as it was, no stray file."""
    with stored(env) as store:
        ctx = webdata.context(store, defs)
        long_text = "Seoul and Beijing agree on visa-free travel for groups. " * 200  # 11 KiB
        entry = webdata.news("herald", 9, "Visa talks in depth", "https://h.kr/9", NOW, long_text)
        store_entries(ctx, [entry], now=NOW)
    run(env, "verdict", str(entry_id(env, "Visa talks in depth")), "visa-easing:eased", "yes")
    whole = run(env, "verdict", "export").stdout
    assert len(whole.encode()) > 4096  # more than the one page FILE gives back when emptied
    with tmpfs(tmp_path / "disk", "64k") as disk:
        path = disk / "verdicts.tsv"
        path.write_text("id\turl\tdate\ttitle\ttext\nlast week's labels\n", encoding="utf-8")
        path.chmod(0o640)  # the analyst's group reads it
        before = path.read_bytes()
        filler = fill(disk)

        full = run(env, "verdict", "export", "-o", str(path))

        assert full.exit_code == 1
        assert full.stderr == f"Error: verdict export: {path}: No space left on device\n"
        assert path.read_bytes() == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "verdicts.tsv"]

        filler.unlink()  # space again
        done = run(env, "verdict", "export", "-o", str(path))

        assert done.exit_code == 0, done.output
        assert path.read_text(encoding="utf-8") == whole
        assert path.stat().st_mode & 0o777 == 0o640  # as it was, not the temporary file's 0600
        assert sorted(p.name for p in disk.iterdir()) == ["verdicts.tsv"]


def test_list_shows_every_verdict_newest_first(env: dict[str, str]) -> None:
    herald = entry_id(env, VISA_HERALD)
    run(env, "verdict", str(herald), "visa-easing:eased", "no", "--note", "old news")
    run(env, "verdict", str(herald), "visa-easing:eased", "yes")

    text = run(env, "verdict", "list", "visa-easing").stdout.splitlines()
    items = [json.loads(line) for line in run(env, "verdict", "list", "--json").stdout.split("\n")
             if line]  # fmt: skip

    assert [(i["verdict"], i["who"], i["note"]) for i in items] == [
        ("yes", "cli", ""), ("no", "cli", "old news")
    ]  # fmt: skip
    assert [i["superseded"] for i in items] == [False, True]  # as the text marks it
    assert re.match(rf"^\S+ \S+ UTC  yes  visa-easing:eased  entry {herald}  by cli$", text[0])
    assert text[1] == f"    {VISA_HERALD}"
    assert text[2].endswith('by cli  "old news"  (superseded by a later verdict)')  # as on the page
    assert run(env, "verdict", "list", "flight-routes").stdout == ""
    unknown = run(env, "verdict", "list", "nope")
    assert unknown.exit_code == 1 and "no indicator 'nope'" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["verdict", "list"], "monitor: verdict list: no verdict recorded yet"),
        (["verdict", "list", "flight-routes"],
         "monitor: verdict list: no verdict recorded for flight-routes yet"),
        (["history", "business-investment"],  # never changed since the first check
         "monitor: history: no status change recorded for business-investment yet"),
    ],
)  # fmt: skip
def test_listing_nothing_says_so_on_stderr_and_exits_0(
    env: dict[str, str], args: list[str], said: str
) -> None:
    text, as_json = run(env, *args), run(env, *args, "--json")

    assert (text.exit_code, as_json.exit_code) == (0, 0)  # as `search` finding nothing
    assert text.stdout == "" and as_json.stdout == ""  # --json: one object per item, so none
    assert text.stderr == as_json.stderr == f"{said}\n"


@pytest.mark.parametrize("args", [["verdict", "list", "nope"], ["history", "nope"]])
def test_listing_an_unknown_indicator_is_still_an_error(
    env: dict[str, str], args: list[str]
) -> None:
    result = run(env, *args)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {' '.join(args[:-1])}: no indicator 'nope'\n"


def test_a_history_with_changes_says_nothing_on_stderr(env: dict[str, str]) -> None:
    result = run(env, "history", "visa-easing")
    assert result.exit_code == 0 and "quiet -> eased:reported" in result.stdout
    assert result.stderr == ""


def test_export_of_no_verdicts_is_a_header(env: dict[str, str]) -> None:
    result = run(env, "verdict", "export")
    assert result.stdout.startswith("id\turl\tdate\ttitle\ttext\t")
    assert len(result.stdout.splitlines()) == 1
    assert run(env, "verdict", "export", "--format", "csv").exit_code == 2


@pytest.mark.parametrize("command", [["search"], ["verdict"], ["verdict", "add"],
                                     ["verdict", "list"], ["verdict", "export"]])  # fmt: skip
def test_the_verdict_commands_have_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert f"Example: monitor {command[0]}" in result.stdout


def test_the_usage_line_of_verdict_names_each_of_its_commands() -> None:
    """`monitor verdict --help` said `[add] ENTRY … | export [OPTIONS]`: no word of `list`."""
    from monitor.cli.verdicts import verdict_group

    result = CliRunner().invoke(main, ["verdict", "--help"], prog_name="monitor")
    usage = result.stdout.split("\n\n")[0]

    assert result.exit_code == 0
    assert sorted(verdict_group.commands) == ["add", "export", "list"]
    for name in verdict_group.commands:
        assert re.search(rf"(^|[\s\[|]){name}[\s\]]", usage), (name, usage)


@pytest.mark.parametrize(("typed", "meant"), [("lst", "list"), ("exprot", "export"), ("ad", "add")])
def test_a_mistyped_verdict_command_is_named_with_the_one_meant(typed: str, meant: str) -> None:
    """`monitor verdict lst` went to `verdict add` as its ENTRY: `Invalid value for 'ENTRY':
    'lst' is not a valid integer range (see 'monitor verdict add --help')`."""
    result = CliRunner().invoke(main, ["verdict", typed], prog_name="monitor")

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: No such command {typed!r}. Did you mean {meant!r}? (see 'monitor verdict --help')"
    ]


def test_status_counts_each_indicators_evidence_as_the_digest_does(env: dict[str, str]) -> None:
    """Each line said `(2 evidence)` or `(1 evidence)`, where the digest counts `1 piece of
    evidence` (README: a count names its noun as the number asks)."""
    items = {i["id"]: i for i in json.loads(run(env, "status", "--json").stdout)}
    lines = {line.split()[0]: line for line in run(env, "status").stdout.splitlines()
             if line and not line.startswith(" ")}  # fmt: skip

    for id_, item in items.items():
        n = item["evidence_count"]
        said = "1 piece of evidence" if n == 1 else f"{n} pieces of evidence"
        assert lines[id_].endswith(f"  ({said})"), lines[id_]
