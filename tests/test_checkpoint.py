"""The daemon's SQLite store copies its write-ahead log into the file in a job of its own
(`Store.checkpoint`), not in the commit of a check cycle that passes SQLite's 1,000 pages."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from monitor.domain import Entry
from monitor.store import open_store
from tests import storeops

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _entries(first: int, count: int) -> list[Entry]:
    """`count` new entries of about 4 KB each: a commit of 1,500 passes 1,000 pages of log."""
    return [
        Entry(
            "feed",
            f"https://example.org/{n}",
            f"https://example.org/{n}",
            f"Headline {n}",
            f"Body {n} " + "x" * 4000,
            NOW,
            "example.org",
        )
        for n in range(first, first + count)
    ]


def in_file(path: Path) -> int:
    """How many entries the database file holds by itself, without its write-ahead log."""
    alone = path.with_name("alone.db")
    shutil.copyfile(path, alone)
    try:
        with sqlite3.connect(alone) as conn:
            return int(conn.execute("SELECT count(*) FROM entry").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema was copied in yet
        return 0
    finally:
        alone.unlink()


def test_a_store_without_checkpoints_leaves_the_log_to_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "daemon.db"
    with open_store(f"sqlite:///{path}", checkpoints=False) as store:
        storeops.add_entries(store, _entries(0, 1_500), now=NOW)
        assert in_file(path) == 0  # committed, in the log only
        assert store.checkpoint() > 1_000  # the log held the whole commit
        assert in_file(path) == 1_500
        storeops.add_entries(store, _entries(1_500, 10), now=NOW)
        assert store.checkpoint() < 1_000  # the log started afresh after the copy
        assert in_file(path) == 1_510


def test_a_store_with_checkpoints_copies_the_log_in_the_commit_that_passes_1000_pages(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cli.db"
    with open_store(f"sqlite:///{path}") as store:
        storeops.add_entries(store, _entries(0, 1_500), now=NOW)
        assert in_file(path) == 1_500  # the commit itself copied it
