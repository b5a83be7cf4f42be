"""`monitor db upgrade` names each revision it ran that reworks what users see (statuses,
evidence: a revision's `NOTICE`), and what to run: the first check records what moves, and
`monitor status` shows it before then. On SQLite and PostgreSQL, through the real command.

The case: revision 0030 (a `no` takes the entry's copies out too) over a store whose kept
stories were found by the older rule, so visa-easing stands at `eased:confirmed` on a copy of
the entry an analyst rejected; after the upgrade it is `eased:reported`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import migrate
from monitor.cli import main
from monitor.cli.db import AFTER_NOTICES
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Entry
from monitor.statuses import judge
from monitor.store import Store, open_store
from monitor.store import evidence as store_evidence
from tests.conftest import ROOT
from tests.test_migrations import rewound
from tests.test_store_read_only import env_for
from tests.test_verdict_copies import TARGET, store_news, wire_copy

HOUR = timedelta(hours=1)
REWORKING = ["0002", "0012", "0021", "0024", "0030"]  # they rework statuses or evidence


@pytest.fixture
def definitions() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


@pytest.fixture
def now() -> datetime:
    """Today: `monitor status` works the statuses out at the clock's time."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(database_url: str, definitions: Definitions, now: datetime) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.sync_feeds(definitions.feeds, now=now - 9 * HOUR, default_interval=HOUR)
        opened.ensure_indicators((i.id for i in definitions.indicators), now=now - 9 * HOUR)
        yield opened


def test_the_notices_are_those_of_the_revisions_run_oldest_first() -> None:
    head = migrate.head()

    assert [r for r, _ in migrate.notices("0001", head)] == REWORKING
    assert [r for r, _ in migrate.notices("0012", head)] == ["0021", "0024", "0030"]
    assert [r for r, _ in migrate.notices("0011", "0012")] == ["0012"]
    assert migrate.notices(head, head) == []
    for _, notice in migrate.notices("0001", head):
        assert "\n" not in notice and "  " not in notice  # one line each


def test_db_upgrade_names_a_revision_that_reworks_statuses_and_status_shows_its_result(
    store: Store, definitions: Definitions, database_url: str, tmp_path: Path, now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    feed = definitions.feeds[0].id
    first = store_news(
        store, definitions, [wire_copy(1, "wire-a.example", now - 3 * HOUR, feed)], now - HOUR
    )["g1"]
    store_news(store, definitions, [wire_copy(2, "paper-b.example", now - 2 * HOUR, feed)],
               now - HOUR)  # fmt: skip
    other = Entry(feed, "k1", "https://wire-a.example/ko/1", "중국, 한국인 무비자 입국 연장",
                  "중국 정부가 한국인에 대한 무비자 입국 정책을 연장한다고 밝혔다.",
                  now - 4 * HOUR, "wire-a.example")  # fmt: skip
    store_news(store, definitions, [other], now - HOUR)
    with monkeypatch.context() as older:  # as the older code judged: paper-b's copy stayed
        older.setattr(store_evidence, "copy_test", lambda _originals: lambda _item: False)
        judged = judge(
            definitions, store, entry_id=first, target=TARGET, verdict="no", who="cli", now=now
        )
        assert judged.status == "eased:confirmed"
    rewound(database_url, "0030")
    env = env_for(database_url, tmp_path)

    upgraded = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    status = CliRunner().invoke(main, ["status", "--json"], env=env)

    assert upgraded.exit_code == 0, upgraded.output
    ((_, notice),) = migrate.notices("0029", "0030")
    assert upgraded.stdout.splitlines() == [
        f"db: upgraded from revision 0029 to {migrate.head()}",
        "db: what users will see change:",
        f"  0030: {notice}",
        f"db: {AFTER_NOTICES}",
    ]
    assert "`no` verdict" in notice and "a level may drop" in notice
    # what the first check will record, shown now; nothing recorded yet
    assert status.exit_code == 0, status.output
    shown = {item["id"]: item["status"] for item in json.loads(status.stdout)}
    assert shown["visa-easing"] == "eased:reported"
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"
