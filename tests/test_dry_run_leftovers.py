"""A dry run killed outright (`kill -9`) on SQLite leaves its copy of the database beside it (as
big as the database); the next command that writes to the database (another dry run, the
daemon's start, `monitor check`, `monitor db upgrade`) deletes it and logs so, but never the
copy of a dry run that still runs. Real processes and files: each copy is locked by the process
that made it while it lives."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.feedserver import FeedServer
from tests.test_cli_silences import contents
from tests.test_replay_dry_run import DAY, WOULD, dry_run, files_beside
from tests.test_replay_held import monitor, settings_of, until_paused
from tests.test_replay_lock import definitions, history

__all__ = ["history"]  # the fixture: a database a replay has three batches to rewrite

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def copies(url: str) -> list[str]:
    return [name for name in files_beside(url) if ".dry-run-" in name]


def killed_dry_run(tmp_path: Path, url: str) -> list[str]:
    """Run a dry run until it is half way, kill it (SIGKILL): the copy's files it left."""
    replay = monitor(
        "replay", "--since", DAY, "--dry-run", module="tests.pausedreplay",
        env=settings_of(tmp_path, url),
    )  # fmt: skip
    until_paused(replay)
    replay.kill()
    replay.communicate(timeout=60)
    assert replay.returncode == -signal.SIGKILL
    left = copies(url)
    assert left, "the killed dry run left no copy"
    return left


def removed_lines(stderr: str, url: str, left: list[str]) -> list[str]:
    folder = Path(url.removeprefix("sqlite:///")).parent
    main_copy = next(name for name in left if not name.endswith(("-wal", "-shm", "-journal")))
    said = "removed a dry run's copy of the database, left by a process that ended without "
    said += f"deleting it (killed?): {folder / main_copy} ("
    return [line for line in stderr.splitlines() if said in line and "WARNING" in line]


def test_the_next_dry_run_removes_the_copy_a_killed_one_left_and_says_so(
    tmp_path: Path, feed_server: FeedServer, history: str
) -> None:
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    files, before = files_beside(history), contents(history)
    left = killed_dry_run(tmp_path, history)

    result = dry_run(tmp_path, history)

    assert result.exit_code == 0, result.output
    assert result.stdout == WOULD
    assert len(removed_lines(result.stderr, history, left)) == 1, result.stderr
    assert files_beside(history) == files  # its own copy gone too
    assert contents(history) == before


@pytest.mark.parametrize("args", [["db", "upgrade"], ["check"]], ids=" ".join)
def test_a_command_that_writes_removes_the_copy_a_killed_dry_run_left(
    tmp_path: Path, feed_server: FeedServer, history: str, args: list[str]
) -> None:
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    files = files_beside(history)
    left = killed_dry_run(tmp_path, history)

    result = CliRunner().invoke(main, args, env=settings_of(tmp_path, history))

    assert result.exit_code == 0, result.output
    assert len(removed_lines(result.stderr, history, left)) == 1, result.stderr
    assert copies(history) == []
    assert set(files_beside(history)) - {*files, "monitor.db-wal", "monitor.db-shm"} == set()


def test_the_copy_of_a_dry_run_still_running_is_kept(
    tmp_path: Path, feed_server: FeedServer, history: str
) -> None:
    definitions(tmp_path, "Dispatch", feed_server.url("/a.xml"))
    files = files_beside(history)
    env = settings_of(tmp_path, history)
    running = monitor("replay", "--since", DAY, "--dry-run", module="tests.pausedreplay", env=env)
    until_paused(running)
    its_copy = copies(history)

    other = dry_run(tmp_path, history)  # a second dry run meanwhile, and a command that writes
    checked = CliRunner().invoke(main, ["check"], env=env)

    assert other.exit_code == 0 and checked.exit_code == 0, other.output + checked.output
    assert other.stdout == WOULD
    assert "removed" not in other.stderr + checked.stderr
    assert copies(history) == its_copy
    running.send_signal(signal.SIGTERM)  # it ends as usual, and deletes its copy
    _out, err = running.communicate(timeout=60)
    assert running.returncode == 143, err
    assert files_beside(history) == files


def test_a_copy_no_process_locks_is_one_left(tmp_path: Path, history: str) -> None:
    """As an older version's dry run left them (it locked none): removed."""
    definitions(tmp_path, "Dispatch", "http://127.0.0.1:9/a.xml")
    folder = Path(history.removeprefix("sqlite:///")).parent
    (folder / "monitor.db.dry-run-old12345").write_bytes(b"\0" * 4096)
    (folder / "monitor.db.dry-run-old12345-wal").write_bytes(b"\0" * 1024)
    (folder / "monitor.db.dry-run-old12345.txt").write_text("not a copy's: kept")
    (folder / "other.db.dry-run-x").write_text("another database's: kept")

    result = CliRunner().invoke(main, ["db", "upgrade"], env=settings_of(tmp_path, history))

    assert result.exit_code == 0, result.output
    assert "monitor.db.dry-run-old12345 (0.0 MB)" in result.stderr
    assert not (folder / "monitor.db.dry-run-old12345").exists()
    assert not (folder / "monitor.db.dry-run-old12345-wal").exists()
    assert (folder / "monitor.db.dry-run-old12345.txt").exists()
    assert (folder / "other.db.dry-run-x").exists()
    assert os.listdir(folder)  # the database itself is there
