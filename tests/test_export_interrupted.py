"""Ctrl-C or SIGTERM while `monitor export` waits on its database: one line saying what was
written (nothing; `-o FILE` left as it was), exit 130 or 143, not click's `Aborted!`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.test_check_interrupted import SIGNALS
from tests.test_cli_ops import shipped
from tests.test_leases import wait_for
from tests.test_replay_held import monitor


@pytest.fixture
def locked(postgres_url: str) -> Iterator[tuple[str, psycopg.Connection]]:
    """PostgreSQL with its status_change table locked by the test (an export of changes waits
    on it), and a connection to see who waits."""
    url = postgres_url.replace("+psycopg", "")
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as watcher:
        holder.execute("LOCK TABLE status_change IN ACCESS EXCLUSIVE MODE")
        yield postgres_url, watcher
        holder.rollback()


def waiting(watcher: psycopg.Connection) -> bool:
    """Some session waits on a lock to read status_change (the export)."""
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query ILIKE '%status_change%'"
    ).fetchone()
    return row is not None and row[0] > 0


@SIGNALS
@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_an_export_stopped_while_it_waits_on_the_database_says_nothing_was_written(
    tmp_path: Path,
    locked: tuple[str, psycopg.Connection],
    signum: int,
    code: int,
    why: str,
    to_file: bool,
) -> None:
    url, watcher = locked
    env = shipped(tmp_path) | {"MONITOR_DATABASE_URL": url}
    out_file = tmp_path / "changes.csv"
    out_file.write_text("the export of yesterday\n")
    args = ["export", "changes", *(["-o", str(out_file)] if to_file else [])]
    export = monitor(*args, env=env)
    wait_for(lambda: waiting(watcher) or export.poll() is not None, "the export waiting")
    export.send_signal(signum)
    out, err = export.communicate(timeout=60)

    assert export.returncode == code, err
    expected = (
        f"{why}; nothing written, {out_file} left as it was" if to_file
        else f"{why} before anything was written"
    )  # fmt: skip
    assert err.splitlines()[-1] == f"Error: export: {expected}"
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    assert out_file.read_text() == "the export of yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
