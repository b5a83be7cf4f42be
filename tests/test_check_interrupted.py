"""Ctrl-C or SIGTERM in `monitor check` and `monitor match`: one line saying what was done, exit
130 or 143, and what was stored stays stored (no click `Aborted!`, no death on the spot)."""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.store import open_store
from tests import news
from tests.feedserver import FeedServer, Handler
from tests.test_check_idle import T
from tests.test_cli_ops import shipped
from tests.test_leases import wait_for
from tests.test_replay_held import monitor

SIGNALS = pytest.mark.parametrize(
    ("signum", "code", "why"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)


def hangs(handler: Handler) -> None:
    """Answer nothing until the server stops (the end of the test)."""
    handler.wait(3600)


def two_feeds(tmp_path: Path, feed_server: FeedServer) -> dict[str, str]:
    """A feed that answers and one that hangs."""
    feed_server.route("/quick.xml", body=news.yonhap(T))
    feed_server.route("/stuck.xml", hangs)
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        f"  - {{id: quick, url: '{feed_server.url('/quick.xml')}'}}\n"
        f"  - {{id: stuck, url: '{feed_server.url('/stuck.xml')}'}}\n"
    )
    return shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}


@SIGNALS
def test_a_check_stopped_while_a_feed_hangs_says_what_it_stored_and_releases_the_rest(
    tmp_path: Path, feed_server: FeedServer, signum: int, code: int, why: str
) -> None:
    env = two_feeds(tmp_path, feed_server)
    check = monitor("check", env=env)
    assert feed_server.wait_until(lambda s: s.hits("/stuck.xml") == 1 == s.hits("/quick.xml"))
    check.send_signal(signum)
    out, err = check.communicate(timeout=60)

    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        feeds = {f.id: f for f in store.feeds()}
        stored = len(store.entries_since(datetime(1970, 1, 1, tzinfo=UTC)))
    checked = sorted(name for name, f in feeds.items() if f.last_checked_at is not None)
    assert check.returncode == code, err
    last = err.splitlines()[-1]
    said = re.fullmatch(
        f"Error: check: {why}: (\\d) feeds? checked and stored, (\\d) released unchecked", last
    )
    assert said is not None, err
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    assert int(said[1]) == len(checked) and int(said[1]) + int(said[2]) == 2
    assert (int(said[1]) == 1) == (f"{why}: 1 feed checked" in last)
    assert "stuck" not in checked  # never answered: left for the next check, at once
    assert all(f.lease_owner is None for f in feeds.values())
    assert (stored > 0) == ("quick" in checked)  # what it stored stays stored


@SIGNALS
def test_a_match_stopped_while_a_source_hangs_says_what_it_read(
    tmp_path: Path, feed_server: FeedServer, signum: int, code: int, why: str
) -> None:
    feed_server.route("/stuck.xml", hangs)
    quick = Path(__file__).parent / "data" / "feeds" / "rss2.xml"
    env = shipped(tmp_path)
    match = monitor("match", str(quick), feed_server.url("/stuck.xml"), env=env)
    assert feed_server.wait_until(lambda s: s.hits("/stuck.xml") == 1)
    match.send_signal(signum)
    _out, err = match.communicate(timeout=60)

    assert match.returncode == code, err
    assert err.splitlines()[-1] == (
        f"Error: match: {why} while reading {feed_server.url('/stuck.xml')}, after 1 of 2 "
        "sources; nothing recorded"
    )
    assert "Traceback" not in err and "Aborted!" not in err


def test_a_check_stopped_once_one_feed_is_stored_counts_it_as_one_feed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = two_feeds(tmp_path, feed_server)
    check = monitor("check", env=env)

    def quick_stored() -> bool:
        if not Path(env["MONITOR_DATABASE_URL"].removeprefix("sqlite:///")).exists():
            return False
        with open_store(env["MONITOR_DATABASE_URL"]) as store:
            return any(f.id == "quick" and f.last_checked_at for f in store.feeds())

    assert feed_server.wait_until(lambda s: s.hits("/stuck.xml") == 1)
    wait_for(quick_stored, "the quick feed stored")
    check.send_signal(signal.SIGINT)
    _out, err = check.communicate(timeout=60)

    assert check.returncode == 130, err
    assert err.splitlines()[-1] == (
        "Error: check: interrupted: 1 feed checked and stored, 1 released unchecked"
    )
