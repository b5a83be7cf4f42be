"""Upgrading a database that an older monitor made and filled, on SQLite and PostgreSQL: its
entries, changes, verdicts and silences come through, and an upgrade killed midway leaves the
old revision, which a second `monitor db upgrade` takes to the new one.

The old databases are dumps under tests/data/old-databases/, made by monitor at commit d4eabed
(revision 0005, the first with silences), its code checked out with `git worktree add --detach`
and run over one feed served on 127.0.0.1 (three copies of "Xi to visit Seoul in spring" from
three publishers, one weather item) with tests/data/definitions/valid/indicators/xi-visit.yaml:

    monitor check
    monitor verdict 1 xi-visit:announced no --note "not a visit"
    monitor verdict 2 xi-visit:announced no --note "dup"
    monitor verdict 4 xi-visit:announced yes --note "missed"
    monitor silence xi-visit --for 7d --reason "state visit"          # USER=ana
    monitor silence xi-visit --outcome announced --for 2d --reason "second"
    monitor silence --end 2

then `sqlite3 FILE .dump` and `pg_dump --inserts --no-owner --no-privileges --no-comments`
(its `\\restrict` lines taken out).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from monitor import migrate
from monitor.errors import StoreError
from monitor.store import open_store, schema_differences, schema_status, upgrade

OLD = Path(__file__).parent / "data" / "old-databases"


def _load_0005(url: str) -> None:
    """The database at `url` (empty) made what monitor at revision 0005 left (see above)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript((OLD / "monitor-0005.sqlite.sql").read_text())
        return
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute((OLD / "monitor-0005.postgresql.sql").read_text())


def _check_the_data_came_through(url: str) -> None:
    with open_store(url) as store:
        titles = [e.entry.title for e in store.search_entries("Xi to visit")]
        assert titles == [f"Xi to visit Seoul in spring, officials say ({i})" for i in (2, 1, 0)]
        assert store.search_entries("Busan")[0].id == 4
        verdicts = [(v.entry_id, v.verdict.value, v.note) for v, _ in store.verdicts()]
        assert verdicts == [(4, "yes", "missed"), (2, "no", "dup"), (1, "no", "not a visit")]
        changes = store.history("xi-visit")
        assert [(c.old_status, c.new_status) for c in changes] == [
            ("announced:reported", "announced:confirmed"),
            ("announced:confirmed", "announced:reported"),
            ("unknown", "announced:confirmed"),
        ]
        assert changes[0].reason == "verdict: yes on entry 4 by cli: missed"
        assert [e.entry_id for e in changes[2].evidence] == [3, 2, 1]
        assert store.current_statuses()["xi-visit"][0] == "announced:confirmed"
        silences = store.silences("xi-visit")
        assert [(s.id, s.outcome_id, s.reason, s.created_by) for s in silences] == [
            (2, "announced", "second", "ana"),
            (1, None, "state visit", "ana"),
        ]
        assert silences[0].ended_at is not None and silences[1].ended_at is None


def test_a_database_made_at_revision_0005_upgrades_with_its_data(
    empty_database_url: str,
) -> None:
    _load_0005(empty_database_url)
    head = migrate.head()
    assert schema_status(empty_database_url) == ("0005", head)
    with pytest.raises(StoreError, match=r"older than this monitor's .*monitor db upgrade"):
        open_store(empty_database_url)

    assert upgrade(empty_database_url) == ("0005", head)
    assert schema_differences(empty_database_url) == []
    _check_the_data_came_through(empty_database_url)


# Run in a process of its own: SIGKILL after the statement that records revision AT, inside
# the upgrade's one transaction, as a power cut or the OOM killer would end it.
KILLED_UPGRADE = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from monitor.store import upgrade

url, at = sys.argv[1], sys.argv[2]

@event.listens_for(Engine, "after_cursor_execute")
def _kill(conn, cursor, statement, parameters, context, executemany):
    if statement.startswith("UPDATE alembic_version") and f"version_num='{at}'" in statement:
        os.kill(os.getpid(), signal.SIGKILL)

upgrade(url)
"""


@pytest.mark.parametrize("at", ["0006", "0012", migrate.head()])
def test_an_upgrade_killed_midway_leaves_the_old_revision_and_runs_again(
    empty_database_url: str, at: str
) -> None:
    _load_0005(empty_database_url)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_UPGRADE, empty_database_url, at],
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()

    head = migrate.head()
    assert schema_status(empty_database_url) == ("0005", head)  # nothing of it was kept
    assert upgrade(empty_database_url) == ("0005", head)
    assert schema_differences(empty_database_url) == []
    _check_the_data_came_through(empty_database_url)
