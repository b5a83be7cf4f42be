"""`monitor silence` and `monitor replay --dry-run` over a database filled by the pipeline
(tests/webdata.py), on SQLite and PostgreSQL: a silence begun, listed (the shape of GET
/silences) and ended from the command line by $USER, bad input in one line with nothing
written, and a dry-run replay that prints the changes a replay records and leaves the database
as it was, byte for byte."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select

from monitor.cli import main
from monitor.domain import Definitions
from monitor.silences import Silence
from monitor.store import metadata, open_store
from tests import webdata
from tests.webdata import NOW

defs = webdata.defs  # fixture
SHAPE = {"id", "indicator", "outcome", "reason", "created_by", "created_at", "until",
         "ended_at", "ended_by", "state"}  # fmt: skip


@pytest.fixture
def env(database_url: str, defs: Definitions, tmp_path: Path) -> Iterator[dict[str, str]]:
    with open_store(database_url) as store:
        webdata.populate(store, defs)
    indicators = tmp_path / "indicators"
    shutil.copytree(webdata.WEB / "indicators", indicators)
    yield {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(indicators),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
        "USER": "ana",
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, prog_name="monitor")


def test_a_silence_is_begun_listed_and_ended_by_the_cli_user(env: dict[str, str]) -> None:
    begun = run(env, "silence", "visa-easing", "--outcome", "eased", "--for", "7d",
                "--reason", "state visit", "--json")  # fmt: skip
    made = json.loads(begun.stdout)
    text = run(env, "silence", "--list")
    ended = run(env | {"USER": ""}, "silence", "--end", str(made["id"]))
    listed = [
        json.loads(line) for line in run(env, "silence", "--list", "--json").stdout.splitlines()
    ]

    assert begun.exit_code == 0, begun.output
    assert set(made) == SHAPE and made["created_by"] == "ana" and made["state"] == "active"
    assert re.fullmatch(
        rf"silence {made['id']}  active   visa-easing:eased  until \d{{4}}-\d\d-\d\d \d\d:\d\d UTC"
        r"  \(by ana: state visit\)\n",
        text.stdout,
    )
    assert ended.exit_code == 0 and "ended" in ended.stdout and "by cli" in ended.stdout
    assert [(s["state"], s["ended_by"]) for s in listed] == [("ended", "cli")]


def test_listing_no_silence_says_so_on_stderr_and_exits_0(env: dict[str, str]) -> None:
    none = [run(env, "silence", "--list", *more) for more in ([], ["--json"])]
    run(env, "silence", "visa-easing", "--for", "7d", "--reason", "state visit")
    other = [run(env, "silence", "--list", "flight-routes", *more) for more in ([], ["--json"])]
    some = run(env, "silence", "--list")
    unknown = run(env, "silence", "--list", "nope")

    assert [(r.exit_code, r.stdout) for r in none + other] == [(0, "")] * 4  # --json: no object
    assert [r.stderr for r in none] == ["monitor: silence: no silence recorded yet\n"] * 2
    said = "monitor: silence: no silence recorded for flight-routes yet\n"
    assert [r.stderr for r in other] == [said] * 2
    assert some.stdout.count("visa-easing") == 1 and some.stderr == ""  # found: nothing to say
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: silence: no indicator 'nope'\n")


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["nope", "--for", "1d", "--reason", "x"], 1, "Error: silence: no indicator 'nope'"),
        (["visa-easing", "--for", "soon", "--reason", "x"], 1,
         "Error: silence: --for: not a duration: 'soon' (use e.g. 90s, 15m, 2h, 30d, 1w)"),
        (["visa-easing", "--for", "600000w", "--reason", "x"], 1,
         "Error: silence: --for: too long: '600000w' (at most 3650d, ten years)"),
        (["visa-easing", "--for", "0s", "--reason", "x"], 1,
         "Error: silence: --for: '0s' is no time at all"),
        (["visa-easing", "--for", "1d", "--reason", " "], 1,
         "Error: silence: --reason: a reason is required (why, in a few words)"),
        (["visa-easing", "--outcome", "x", "--for", "1d", "--reason", "x"], 1,
         "Error: silence: indicator 'visa-easing' has no outcome 'x' (it has eased)"),
        (["visa-easing", "--for", "1d"], 2,
         "Error: a silence needs --for DURATION and --reason TEXT (see 'monitor silence --help')"),
        ([], 2, "Error: give INDICATOR --for D --reason TEXT, or --list, or --end ID"
                " (see 'monitor silence --help')"),
        (["--end", "9"], 1, "Error: silence: no silence 9"),
        (["--end", "0"], 2, None),
        # Ignored, they read as honoured: an ending's reason, a listing by outcome.
        (["--end", "9", "--reason", "story over"], 2, "Error: --reason goes with beginning a "
         "silence (INDICATOR --for D --reason TEXT), not with --end (see 'monitor silence "
         "--help')"),
        (["--list", "visa-easing", "--outcome", "eased"], 2, "Error: --outcome goes with "
         "beginning a silence (INDICATOR --for D --reason TEXT), not with --list (see 'monitor "
         "silence --help')"),
        (["--list", "--for", "1d", "--reason", "x"], 2, "Error: --for and --reason go with "
         "beginning a silence (INDICATOR --for D --reason TEXT), not with --list (see 'monitor "
         "silence --help')"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(
    env: dict[str, str], args: list[str], code: int, error: str | None
) -> None:
    result = run(env, "silence", *args)
    assert result.exit_code == code
    assert len(result.stderr.splitlines()) == 1
    if error is not None:
        assert result.stderr.strip() == error
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        assert store.silences() == []


def test_ending_a_silence_that_is_over_says_when_as_the_cli_writes_times(
    env: dict[str, str],
) -> None:
    hour = timedelta(hours=1)
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        old = Silence("visa-easing", None, "old", "bo", NOW - 3 * hour, NOW - 2 * hour)
        expired = store.add_silence(old)
    begun = json.loads(run(env, "silence", "visa-easing", "--for", "1d", "--reason", "x",
                           "--json").stdout)  # fmt: skip
    assert run(env, "silence", "--end", str(begun["id"])).exit_code == 0
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        ended = store.silence(begun["id"])
    assert ended is not None and ended.ended_at is not None

    again = run(env, "silence", "--end", str(begun["id"]))
    late = run(env, "silence", "--end", str(expired.id))

    assert (again.exit_code, late.exit_code) == (1, 1)
    assert again.stderr == (
        f"Error: silence: silence {begun['id']} was ended at {ended.ended_at:%Y-%m-%d %H:%M} UTC\n"
    )
    assert late.stderr == (
        f"Error: silence: silence {expired.id} expired at {NOW - 2 * hour:%Y-%m-%d %H:%M} UTC\n"
    )
    listed = run(env, "silence", "--list").stdout  # the same time, written the same way
    assert f"ended {ended.ended_at:%Y-%m-%d %H:%M} UTC by ana" in listed
    assert f"expired {NOW - 2 * hour:%Y-%m-%d %H:%M} UTC" in listed


# ---------------------------------------------------------------- replay --dry-run


def contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in order."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def file_bytes(url: str) -> str | None:
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    parts = [p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))]
    return hashlib.sha256(b"".join(parts)).hexdigest()


def test_replay_dry_run_prints_the_changes_and_records_nothing(env: dict[str, str]) -> None:
    visa = Path(env["MONITOR_INDICATORS_DIR"]) / "visa-easing.yaml"
    visa.write_text(re.sub(r"(?m)^window: .*$", "window: 1d", visa.read_text()))
    since = (NOW - timedelta(days=90)).strftime("%Y-%m-%d")
    url = env["MONITOR_DATABASE_URL"]
    before, raw = contents(url), file_bytes(url)

    dry = run(env, "replay", "--since", since, "--dry-run")
    after, raw_after = contents(url), file_bytes(url)
    real = run(env, "replay", "--since", since)

    assert dry.exit_code == 0, dry.output
    assert "visa-easing: eased:confirmed -> quiet (would record)" in dry.stdout
    assert "would be re-matched" in dry.stderr and "dry run: nothing recorded" in dry.stderr
    assert after == before and sum(map(len, after.values())) > 0
    assert raw_after == raw  # SQLite: the file (and its WAL) too
    assert real.stdout == dry.stdout.replace("(would record)", "(replayed)")
    assert contents(url)["status_change"] != before["status_change"]
