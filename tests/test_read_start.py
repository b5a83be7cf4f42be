"""The commands that only read load what they read with: no Alembic when the database is at
the code's revision, no mail or digest templates for `monitor status`, no PostgreSQL dialect
over SQLite, no matcher for `status`; `validate` without general news no feed parser; and the
commands that never run a rule read the definitions without compiling each regex term, while
every command that runs them still reports a bad one. How long they take is measured in
`make bench` (`benchmarks.startup`); here, what they load and what they report."""

from __future__ import annotations

import ast
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from monitor import migrate
from monitor.definitions import load_definitions
from monitor.store import open_store
from tests.conftest import ROOT
from tests.test_migrations import NEXT

# Modules a read needs none of: Alembic (the revision is read with a query), and what the
# digest and its email are made with...
UNNEEDED = ("alembic", "jinja2")
# ...nor, over SQLite, SQLAlchemy's PostgreSQL dialect (the modules of its five drivers)
OVER_SQLITE = ("sqlalchemy.dialects.postgresql",)
MATCHER = ("monitor.match",)  # what `history` shows matched terms with, never `status`
READS = [
    pytest.param(["status", "--json"], UNNEEDED + MATCHER, id="status --json"),
    pytest.param(["status"], UNNEEDED + MATCHER, id="status"),
    pytest.param(["history", "visa-easing"], UNNEEDED, id="history visa-easing"),
    pytest.param(["search", "visa"], UNNEEDED + MATCHER, id="search visa"),
    pytest.param(["verdict", "list"], UNNEEDED + MATCHER, id="verdict list"),
]


def loaded(
    args: list[str], url: str, unneeded: tuple[str, ...] = UNNEEDED, cwd: Path = ROOT
) -> tuple[int, list[str]]:
    """The exit code of `monitor ARGS` over the database at `url` (the shipped definitions),
    and which of `unneeded` it loaded."""
    probe = (
        "import sys\n"
        "from monitor.cli import main\n"
        f"try: main({args!r}, prog_name='monitor')\n"
        "except SystemExit as exc: code = exc.code\n"
        f"print(code, [m for m in {unneeded!r} if m in sys.modules])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DATABASE_URL"] = url
    env["MONITOR_INDICATORS_DIR"] = str(ROOT / "indicators")
    env["MONITOR_FEEDS_FILE"] = str(ROOT / "config" / "feeds.yaml")
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=cwd,
        env=env,
    )  # fmt: skip
    code, _, modules = result.stdout.splitlines()[-1].partition(" ")
    return int(code), ast.literal_eval(modules)


@pytest.mark.parametrize(("args", "unneeded"), READS)
def test_reads_load_neither_alembic_nor_the_digest(
    args: list[str], unneeded: tuple[str, ...], database_url: str
) -> None:
    open_store(database_url).close()  # at the code's revision (the schema made on SQLite)
    if database_url.startswith("sqlite"):
        unneeded += OVER_SQLITE

    assert loaded(args, database_url, unneeded) == (0, [])


def test_validate_without_general_news_loads_no_feed_parser(tmp_path: Path) -> None:
    """Out of monitor's checkout (no tests/data/general-news/ to check the terms against), the
    feed parser and its HTML cleaner are not loaded for no feed."""
    url = f"sqlite:///{tmp_path / 'none.db'}"  # validate opens no database

    assert loaded(["validate"], url, ("monitor.parse", "feedparser"), cwd=tmp_path) == (0, [])
    assert not (tmp_path / "none.db").exists()


def test_an_older_database_is_still_told_to_upgrade(tmp_path: Path) -> None:
    """The schema check that reads no Alembic still tells an older database from the code's."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_store(url).close()
    with closing(sqlite3.connect(tmp_path / "old.db")) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0032'")

    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "status"], capture_output=True, text=True, timeout=120,
        cwd=ROOT, env=env | {"MONITOR_DATABASE_URL": url},
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: store: the database schema is at revision 0032, older than this monitor's "
        f"{migrate.head()}; run `monitor db upgrade` first\n"
    )


def test_head_is_alembics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The head read from the revision files' lines is the one Alembic finds loading them,
    today's and with a revision more (written as the test of an older schema writes it)."""
    today = migrate.alembic_head()
    assert today is not None
    assert migrate.head() == today
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    later = f"{int(today) + 1:04d}"
    (migrations / "versions" / f"{later}_note.py").write_text(
        NEXT.format(revision=later, down=today)
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    migrate.head.cache_clear()
    try:
        assert migrate.head() == migrate.alembic_head() == later
    finally:
        migrate.head.cache_clear()


# A regex that does not compile, or that matches empty text, in an indicator's rule or in a
# vocabulary list an indicator uses (north-korea-stance's rule, line 25 / the list, line 1).
BAD_REGEXES = {
    "unclosed": (
        "'/peaceful(ly? resol/'",
        "bad regex in term '/peaceful(ly? resol/': missing ) at position 18",
    ),
    "empty": (
        "'/(peaceful)?/'",
        "regex in term '/(peaceful)?/' matches empty text, so it would match everything",
    ),
}
RUN_RULES = [  # every command that runs a rule, with what it is given
    ["validate"],
    ["test"],
    ["check"],
    ["run"],
    ["match", str(ROOT / "tests" / "data" / "feeds" / "rss2.xml")],
    ["explain", "north-korea-stance:balance", "--title", "China urges dialogue"],
]
NO_RULES = [  # and those that never do: they read the definitions for ids, titles, windows
    ["status"],
    ["history", "north-korea-stance"],
    ["verdict", "list"],
    ["verdict", "export"],
    ["export", "changes"],
]
VALID = ROOT / "tests" / "data" / "definitions" / "valid"


def with_bad_regex(tmp_path: Path, kind: str, where: str) -> tuple[dict[str, str], str]:
    """The environment of the valid test definitions with one bad regex term `where` (in the
    indicator, or in a vocabulary list it uses) over a database made, and the problem said."""
    indicators = tmp_path / "indicators"
    shutil.copytree(VALID / "indicators", indicators)
    path = indicators / "north-korea-stance.yaml"
    term, message = BAD_REGEXES[kind]
    if where == "vocabulary":
        (indicators / "vocab").mkdir()
        (indicators / "vocab" / "calm.yaml").write_text(f"words: [restraint, {term}]\n")
        term, problem = "'@calm.words'", f"{indicators / 'vocab' / 'calm.yaml'}:1: {message}"
    else:
        problem = f"{path}:25: {message}"
    written = path.read_text()
    path.write_text(written.replace("'/peaceful(ly)? resol\\w+/'", term))
    assert path.read_text() != written
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    open_store(url).close()
    feeds = tmp_path / "feeds.yaml"  # the valid feeds, at a port nothing listens on
    feeds.write_text(
        re.sub(
            r"url: https?://[^/]+", "url: http://127.0.0.1:9", (VALID / "feeds.yaml").read_text()
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
        "MONITOR_DATABASE_URL": url,
        "MONITOR_INDICATORS_DIR": str(indicators),
        "MONITOR_FEEDS_FILE": str(feeds),
        "MONITOR_HTTP_PORT": "0",
    }
    return env, problem


def monitor(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120,
        cwd=cwd, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("where", ["indicator", "vocabulary"])
@pytest.mark.parametrize("kind", BAD_REGEXES)
@pytest.mark.parametrize("args", RUN_RULES, ids=lambda args: args[0])
def test_a_command_that_runs_rules_reports_a_bad_regex(
    args: list[str], kind: str, where: str, tmp_path: Path
) -> None:
    """As every other problem of the definitions: its file:line and message, exit 1, nothing
    done (`validate` prints it on stdout, with no summary)."""
    env, problem = with_bad_regex(tmp_path, kind, where)

    result = monitor(args, env, tmp_path)

    assert result.returncode == 1
    if args == ["validate"]:
        assert result.stdout.splitlines() == [problem]
    else:
        assert result.stderr.splitlines() == [
            problem,
            "Error: definitions: 1 problem; nothing was done",
        ]


@pytest.mark.parametrize("where", ["indicator", "vocabulary"])
@pytest.mark.parametrize("args", NO_RULES, ids=" ".join)
def test_a_command_that_runs_no_rule_compiles_no_regex(
    args: list[str], where: str, tmp_path: Path
) -> None:
    """A read shows what the store holds and never runs a rule: its regex terms are not
    compiled to check them (half the definitions' reading); the commands that run them, and
    the daemon, refuse the definitions until it is fixed (above)."""
    env, _problem = with_bad_regex(tmp_path, "unclosed", where)

    result = monitor(args, env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "regex" not in result.stderr
    if args == ["status"]:
        assert result.stdout.startswith("north-korea-stance ")


def test_definitions_read_without_compiling_regexes_are_the_same() -> None:
    """The definitions a read gets are those every other command gets: the shipped ones, with
    their hashes."""
    indicators, feeds = ROOT / "indicators", ROOT / "config" / "feeds.yaml"

    checked = load_definitions(indicators, feeds)
    read = load_definitions(indicators, feeds, check_regexes=False)

    assert read == checked
    assert read.hash == checked.hash
    assert [i.hash for i in read.indicators] == [i.hash for i in checked.indicators]
