"""The commands that only read load what they read with: no Alembic when the database is at
the code's revision, no mail or digest templates for `monitor status`, no PostgreSQL dialect
over SQLite, no matcher for `status`; `validate` without general news no feed parser. How long
they take is measured in `make bench` (`benchmarks.startup`), as a ratio; here, what they
load."""

from __future__ import annotations

import ast
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from monitor import migrate
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
