"""`monitor digest --date` of a day still to come: refused in one line, exit 2, with --preview as
with --send (a preview of a day no news is in yet would pass for that day's digest)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import monitor.domain
from tests.test_cli_ops import invoke, no_monitor_variables, shipped

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives
NOW = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # already the 6th in Seoul


@pytest.mark.parametrize("action", ["--preview", "--send"])
@pytest.mark.parametrize(
    ("day", "refused"), [("2026-12-07", True), ("2026-12-06", False), ("2026-12-05", False)]
)
def test_a_digest_of_a_day_still_to_come_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str, day: str, refused: bool
) -> None:
    env = shipped(tmp_path) | {"MONITOR_TIMEZONE": "Asia/Seoul"}
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: NOW)  # the commands' clock
    assert invoke(["db", "upgrade"], env).exit_code == 0  # a database, with nothing read yet

    result = invoke(["digest", action, "--date", day], env)

    verb = action.removeprefix("--")
    line = (
        f"Error: --date {day}: a day still to come has no digest to {verb} (today is 2026-12-06) "
        "(see 'main digest --help')"  # as for any misused option (the prog name of CliRunner)
    )
    if refused:
        assert result.exit_code == 2
        assert result.stdout == ""  # no digest built for a day no news is in yet
        assert result.stderr.splitlines() == [line]
        assert not (tmp_path / "outbox").exists()  # nothing sent, or marked sent
    else:
        assert result.exit_code == 0, result.output
        assert "a day still to come" not in result.stderr
