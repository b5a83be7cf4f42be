"""`monitor check` that finds no feed due says why, and when the next one is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import monitor.domain
from monitor.store import open_store
from tests import news
from tests.feedserver import FeedServer
from tests.test_cli_ops import invoke, no_monitor_variables, shipped

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives
T = datetime(2026, 12, 5, 20, 0, 7, tzinfo=UTC)


def feeds(tmp_path: Path, feed_server: FeedServer) -> dict[str, str]:
    """Two feeds, checked every 30 and every 10 minutes."""
    lines = ["feeds:"]
    for name, interval in (("slow", "30m"), ("fast", "10m")):
        feed_server.route(f"/{name}.xml", body=news.yonhap(T))
        lines.append(f"  - {{id: {name}, url: '{feed_server.url(f'/{name}.xml')}', "
                     f"interval: {interval}}}")  # fmt: skip
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n")
    return shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: moment)  # the commands' clock


@pytest.mark.parametrize("args", [["check"], ["check", "--json"]])
def test_a_check_with_no_feed_due_says_when_the_next_one_is(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    env = feeds(tmp_path, feed_server)
    at(monkeypatch, T)
    first = invoke(args, env)
    at(monkeypatch, T + timedelta(minutes=1))
    again = invoke(args, env)

    assert first.exit_code == 0 and again.exit_code == 0
    assert first.stderr.splitlines()[-1].startswith("monitor: check: 2 feeds checked, ")
    assert "no feed due" not in first.stderr
    summary = [line for line in again.stderr.splitlines() if line.startswith("monitor: check: ")]
    assert summary == [
        "monitor: check: 0 feeds checked, 0 not modified, 0 failed, 0 new entries, 0 matches, "
        "0 status changes in 0.00s; no feed due before 2026-12-05 20:10 UTC; "
        "--force checks every feed now"
    ]
    assert again.stdout == ""  # --json: no change, no line, no new field
    assert (feed_server.hits("/slow.xml"), feed_server.hits("/fast.xml")) == (1, 1)


def test_a_forced_check_or_one_with_a_feed_due_gives_no_such_hint(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = feeds(tmp_path, feed_server)
    at(monkeypatch, T)
    invoke(["check"], env)
    at(monkeypatch, T + timedelta(minutes=10))

    due = invoke(["check"], env)
    at(monkeypatch, T + timedelta(minutes=11))
    forced = invoke(["check", "--force"], env)

    assert due.stderr.splitlines()[-1].startswith("monitor: check: 1 feed checked, ")
    assert forced.stderr.splitlines()[-1].startswith("monitor: check: 2 feeds checked, ")
    assert "no feed due" not in due.stderr + forced.stderr


def test_a_check_whose_due_feeds_another_process_holds_says_who_and_until_when(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = feeds(tmp_path, feed_server)
    at(monkeypatch, T)
    invoke(["check"], env)
    due = T + timedelta(minutes=10)  # the fast feed is due: a daemon elsewhere claims it
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        claimed = store.due_feeds(due, owner="elsewhere:4242:1@abc", lease=timedelta(minutes=5))
    at(monkeypatch, due + timedelta(minutes=1))

    held = invoke(["check"], env)

    assert [f.id for f in claimed] == ["fast"]
    assert held.stderr.splitlines()[-1].endswith(
        " 0 status changes in 0.00s; 1 due feed held by elsewhere:4242 (being checked, or until "
        "its lease runs out at 2026-12-05 20:15 UTC); --force checks every feed now"
    )
