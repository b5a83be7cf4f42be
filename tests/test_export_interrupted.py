"""Ctrl-C or SIGTERM while `monitor export` or `monitor search` waits on its database: one line
saying what was written or shown (nothing; `-o FILE` left as it was), exit 130 or 143, not
click's `Aborted!`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.test_check_interrupted import SIGNALS
from tests.test_cli_ops import shipped
from tests.test_leases import wait_for
from tests.test_replay_held import monitor


@contextlib.contextmanager
def locked(postgres_url: str, table: str) -> Iterator[psycopg.Connection]:
    """`table` locked by the test (a command reading it waits), and a connection to see who
    waits."""
    url = postgres_url.replace("+psycopg", "")
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as watcher:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield watcher
        holder.rollback()


def waiting(watcher: psycopg.Connection) -> bool:
    """Some session waits on a lock (the command, on the table the test holds)."""
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"
    ).fetchone()
    return row is not None and row[0] > 0


def stopped_while_waiting(
    postgres_url: str, table: str, signum: int, args: list[str], env: dict[str, str]
) -> tuple[int, str, str]:
    """Run `monitor ARGS` while `table` is locked, send `signum` once it waits on it: its exit
    code, stdout and stderr."""
    with locked(postgres_url, table) as watcher:
        command = monitor(*args, env=env | {"MONITOR_DATABASE_URL": postgres_url})
        wait_for(lambda: waiting(watcher) or command.poll() is not None, f"{args[0]} waiting")
        command.send_signal(signum)
        out, err = command.communicate(timeout=60)
    return command.returncode, out, err


@SIGNALS
@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_an_export_stopped_while_it_waits_on_the_database_says_nothing_was_written(
    tmp_path: Path, postgres_url: str, signum: int, code: int, why: str, to_file: bool
) -> None:
    out_file = tmp_path / "changes.csv"
    out_file.write_text("the export of yesterday\n")
    args = ["export", "changes", *(["-o", str(out_file)] if to_file else [])]
    returncode, out, err = stopped_while_waiting(
        postgres_url, "status_change", signum, args, shipped(tmp_path)
    )

    assert returncode == code, err
    expected = (
        f"{why}; nothing written, {out_file} left as it was" if to_file
        else f"{why} before anything was written"
    )  # fmt: skip
    assert err.splitlines()[-1] == f"Error: export: {expected}"
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    assert out_file.read_text() == "the export of yesterday\n"


@SIGNALS
def test_a_search_stopped_while_it_waits_on_the_database_says_nothing_was_shown(
    tmp_path: Path, postgres_url: str, signum: int, code: int, why: str
) -> None:
    returncode, out, err = stopped_while_waiting(
        postgres_url, "entry", signum, ["search", "visa-free"], shipped(tmp_path)
    )

    assert returncode == code, err
    assert err.splitlines()[-1] == (
        f"Error: search: {why} while searching the stored entries; nothing shown"
    )
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
