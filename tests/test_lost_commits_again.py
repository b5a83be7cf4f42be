"""What people do, a replay, a reload and the clean-up, when the answer to a commit is lost
(`tests.pgproxy` closes the connection instead of passing PostgreSQL's answer on): each is run
again on a new connection and takes what the lost try committed as done. They failed with one
line (`Error: store: unable to …`, exit 1), and doing them again recorded a verdict or a
silence twice, the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from monitor.domain import Definitions, Feed
from monitor.incremental import ATTEMPTS
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.store import Cycle, open_store
from monitor.store.schema import silence_end_table, silence_table, verdict_table
from tests import webdata
from tests.feedserver import FeedServer
from tests.pgproxy import LosesACommit
from tests.test_replay_evaluation import LATER, fresh, history, replayed, while_clustering
from tests.webdata import NOW, VISA_HERALD
from tests.webdata import cli_entry_id as entry_id
from tests.webdata import run_cli as run

pytestmark = pytest.mark.postgres

defs = webdata.defs  # fixture
__all__ = ["history"]  # a fixture


@pytest.fixture
def proxy(postgres_url: str, defs: Definitions) -> Iterator[LosesACommit]:
    with open_store(postgres_url) as store:
        webdata.populate(store, defs)
    with LosesACommit(postgres_url) as lossy:
        yield lossy


def env_of(proxy: LosesACommit) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": proxy.url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }


def rows(proxy: LosesACommit, table: Table) -> int:
    with open_store(proxy.url) as store, store._tx("count") as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_verdict_whose_commit_is_lost_is_recorded_once(proxy: LosesACommit) -> None:
    """`monitor verdict` records the verdict; the answer is lost. The command goes on: the
    verdict is found as this command's own (not appended a second time), and the change it
    causes is recorded and printed. It said `Error: store: unable to record verdict` and exited
    1, and the user, doing it again, got two identical verdict rows."""
    env = env_of(proxy)
    herald = entry_id(env, VISA_HERALD)
    proxy.arm(b"INSERT INTO verdict ")

    result = run(env, "verdict", str(herald), "visa-easing:eased", "no", "--note", "old news")

    assert proxy.losses == 1
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"verdict: no on entry {herald} by cli: old news (verdict ")
    assert lines[1] == "visa-easing: eased:confirmed -> eased:reported"
    assert rows(proxy, verdict_table) == 1


def test_a_silence_made_and_ended_with_lost_commits_is_recorded_once(
    proxy: LosesACommit,
) -> None:
    """`monitor silence` makes a silence, then `--end` ends it; the answer to each commit is
    lost. Each goes on: the silence is one row, its end is this command's (not `was ended
    meanwhile`). Each said `Error: store: unable to …`; making it again made two silences."""
    env = env_of(proxy)
    proxy.arm(b"INSERT INTO silence ")
    made = run(env, "silence", "visa-easing", "--for", "1d", "--reason", "visit", "--json")
    assert proxy.losses == 1
    assert made.exit_code == 0, made.output
    assert rows(proxy, silence_table) == 1

    silence_id = made.stdout.split('"id":')[1].split(",")[0].strip()
    proxy.arm(b"INSERT INTO silence_end ")
    ended = run(env, "silence", "--end", silence_id)
    assert proxy.losses == 1
    assert ended.exit_code == 0, ended.output
    assert "ended" in ended.stdout
    assert rows(proxy, silence_end_table) == 1


@pytest.mark.parametrize(
    "marker",
    [b"INSERT INTO replay ", b"DELETE FROM entry_match ", b"DELETE FROM replay "],
    ids=["begin", "rewrite", "end"],
)
def test_a_replay_whose_commit_is_lost_goes_on(proxy: LosesACommit, marker: bytes) -> None:
    """`monitor replay` holds the matches, rewrites them a batch at a time, and ends its hold;
    the answer to one of those commits is lost. The replay goes on and ends its hold (one whose
    end went through is its own, not `lost its hold`). It failed, and the statuses stayed held
    until a replay from that date or earlier finished the rewrite."""
    env = env_of(proxy)
    proxy.arm(marker)

    result = run(env, "replay", "--since", f"{NOW - timedelta(days=40):%Y-%m-%d}")

    assert proxy.losses == 1
    assert result.exit_code == 0, result.output
    with open_store(proxy.url) as store:
        assert store.replay_hold() is None


def test_a_reload_whose_feed_rows_commit_is_lost_is_stored(
    proxy: LosesACommit, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload stores a new feed; the answer is lost. It is stored all the same, the rows as
    the file says. The reload failed, its feed rows written only by the next check."""
    feeds = [Feed("new-feed", "https://new.example/rss", ("korea",))]
    with open_store(proxy.url) as store:
        proxy.arm(b"INSERT INTO feed ")
        with caplog.at_level(logging.WARNING):
            store.sync_feeds(feeds, now=NOW)
        assert proxy.losses == 1
        assert [f.id for f in store.feeds()] == ["new-feed"]
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


def test_a_clean_up_whose_commit_is_lost_goes_on_and_counts_once(
    proxy: LosesACommit,
) -> None:
    """The clean-up folds an old cycle into the summary and deletes it; the answer is lost.
    The clean-up goes on (its other deletions done), and the cycle is counted once. It failed
    with one line, and the rest waited for the next clean-up."""
    old = NOW - timedelta(days=400)
    with open_store(proxy.url) as store:
        store.record_cycle(Cycle(started_at=old, finished_at=old, feeds_checked=5))
        before = store.cycle_totals()
        proxy.arm(b"DELETE FROM cycle ")
        store.prune(now=NOW, before=NOW - timedelta(days=90), matched_before=old, buckets=())
        assert proxy.losses == 1
        after = store.cycle_totals()
    assert (after.cycles, after.feeds_checked) == (before.cycles, before.feeds_checked)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_evaluation_s_last_try_under_the_lock_whose_commit_is_lost_is_run_again(
    tmp_path: Path,
    feed_server: FeedServer,
    history: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A replay's final evaluation is worked out again ATTEMPTS times (a daemon stores news
    meanwhile each time), then under the evaluations' lock; the answer to that last try's
    commit is lost. It is run again: it finds the stories kept as it wrote them, and the
    replay records its change. The replay failed there (`store: unable to evaluate the
    stories`), having rewritten the matches, without recording the change they make."""
    daemon, replay = replayed(tmp_path, history, feed_server.url("/a.xml"))
    replay.store.close()
    with LosesACommit(history) as proxy, open_store(proxy.url) as lossy:
        replay = replace(replay, store=lossy)

        def news(n: int) -> Callable[[], None]:
            return lambda: store_entries(daemon, [fresh(n, f"p{n}.example.net")], now=LATER)

        def arm() -> None:
            proxy.arm(b"UPDATE counter SET value=")

        while_clustering(monkeypatch, [*(news(n) for n in range(ATTEMPTS)), arm])
        with caplog.at_level(logging.WARNING):
            [change] = evaluate_and_record(replay, now=LATER, replayed=True)
        assert proxy.losses == 1
    daemon.store.close()
    assert (change.old_status, change.new_status, change.replayed) == (
        "said:reported",
        "said:confirmed",
        True,
    )
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1, said
    assert said[0].startswith("store: unable to evaluate the stories: ")
    assert said[0].endswith("; reconnecting for try 2 of 3")
