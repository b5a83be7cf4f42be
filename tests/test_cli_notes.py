"""What a command says on stderr beside its output (a summary, progress, where a file went)
starts with `monitor: COMMAND:`, as `match`, `history`, `search` and `check` say theirs
(`monitor: match: in all: …`): a person reading a script's log tells which command said it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.test_cli_ops import make_database, no_monitor_variables, shipped

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["export", "changes", "-o", "{tmp}/changes.csv"], "monitor: export: "),
        (["verdict", "export", "-o", "{tmp}/verdicts.tsv"], "monitor: verdict export: "),
        (["replay", "--since", "2026-01-01"], "monitor: replay: "),
        (["replay", "--since", "2026-01-01", "--dry-run"], "monitor: replay: "),
        (["db", "copy", "--to", "sqlite:///{tmp}/copy.db"], "monitor: db copy: "),
        (["digest", "--preview", "--date", "2026-01-06", "--out", "{tmp}/d.eml"],
         "monitor: digest 2026-01-06: "),
    ],
)  # fmt: skip
def test_every_note_on_stderr_names_its_command(tmp_path: Path, args: list[str], says: str) -> None:
    """`export: changes to changes.csv`, `verdict export: 2 entries, …`, `replay: 3 entries
    re-matched, …`, `db: copying entry: …` and `digest 2026-01-06: written to d.eml` named no
    `monitor`, unlike the others' notes."""
    env = shipped(tmp_path)
    make_database(env)
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]

    result = CliRunner().invoke(main, argv, env=env, prog_name="monitor")

    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines, "a note on stderr"
    assert [line for line in lines if not line.startswith(says)] == []
