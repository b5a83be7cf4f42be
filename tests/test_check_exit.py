"""`monitor check`'s exit code tells a cycle that read nothing from one that read news: 3 when
every feed it checked failed (unreachable: a port that refuses the connection), 0 when one was
read, or when none was due."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli.watch import NOTHING_READ
from tests import news
from tests.feedserver import FeedServer
from tests.test_check_idle import T, at
from tests.test_cli_ops import invoke, no_monitor_variables, shipped

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives


@contextlib.contextmanager
def refusing() -> Iterator[str]:
    """The base URL of a port on 127.0.0.1 bound by no listener: every connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # held, never listening: nothing else can take the port
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def watching(tmp_path: Path, urls: dict[str, str]) -> dict[str, str]:
    lines = ["feeds:"] + [f"  - {{id: {name}, url: '{url}'}}" for name, url in urls.items()]
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n")
    return shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}


@pytest.mark.parametrize("args", [["check"], ["check", "--json"], ["check", "--force"]])
def test_a_check_whose_every_feed_is_unreachable_exits_3_saying_nothing_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    at(monkeypatch, T)
    with refusing() as base:
        env = watching(tmp_path, {"a": f"{base}/a.xml", "b": f"{base}/b.xml"})
        result = invoke(args, env)

    assert result.exit_code == NOTHING_READ == 3
    lines = result.stderr.splitlines()
    assert lines[-4].startswith("monitor: check: 2 feeds checked, 0 not modified, 2 failed, ")
    assert "Connection refused" in lines[-3] and "Connection refused" in lines[-2]
    said = "monitor: check: no feed could be read (2 feeds checked, every one failed)"
    assert lines[-1] == said  # as the digest says a day's failed reads
    assert all(json.loads(line) for line in result.stdout.splitlines())  # --json: changes only


def test_a_check_of_one_unreachable_feed_says_it_failed_as_a_person_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first day with one feed said `(1 feed checked, all failed)`."""
    at(monkeypatch, T)
    with refusing() as base:
        result = invoke(["check"], watching(tmp_path, {"a": f"{base}/a.xml"}))

    assert result.exit_code == NOTHING_READ
    last = result.stderr.splitlines()[-1]
    assert last == "monitor: check: no feed could be read (1 feed checked, and it failed)"


def test_a_check_that_read_one_feed_while_another_failed_exits_0(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, T)
    feed_server.route("/good.xml", body=news.yonhap(T))
    with refusing() as base:
        env = watching(tmp_path, {"good": feed_server.url("/good.xml"), "down": f"{base}/x"})
        result = invoke(["check"], env)

    assert result.exit_code == 0
    assert "monitor: check: 2 feeds checked, 0 not modified, 1 failed, " in result.stderr
    assert "no feed could be read" not in result.stderr


def test_a_check_with_no_feed_due_after_a_failed_one_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing due is no failure: the next check of an unreachable feed is after its back-off."""
    at(monkeypatch, T)
    with refusing() as base:
        env = watching(tmp_path, {"a": f"{base}/a.xml"})
        assert invoke(["check"], env).exit_code == NOTHING_READ
        again = invoke(["check"], env)

    assert again.exit_code == 0
    assert "monitor: check: 0 feeds checked, " in again.stderr
