"""An indicator's definition edited while evidence is stored: the status follows the edit at the
reload (a window made shorter or longer, an outcome renamed; a rule edited: `test_edited_look`),
and the change it records says that the edit moved it, not the news, wherever a change is shown
(the history of the API and of `monitor history --json`); a later change the news makes says
nothing of it. Whole cycles over a feed served on 127.0.0.1, the store on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.definitions import load_definitions
from monitor.domain import QUIET, Definitions
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import Store, open_store
from monitor.web import create_app
from tests.feedserver import FeedServer
from tests.news import Item, rss
from tests.webdata import settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
EDITED = "definition edited (visa.yaml)"
INDICATOR = """\
id: visa
group: Tests
title: Visas
question: Is there a visa waiver?
feeds: {{ids: [a]}}
window: {window}
outcomes:
  - id: {outcome}
    label: A visa waiver
    corroborate: 2
    rule: {{any: [visa waiver]}}
"""
WAIVED = "waived:reported"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


@pytest.fixture
def url(feed_server: FeedServer) -> str:
    """Feed a, carrying a visa waiver story of three days ago."""
    story = Item("Seoul and Beijing agree visa waiver", "https://wire.example.com/1",
                 NOW - timedelta(days=3))  # fmt: skip
    feed_server.route("/a.xml", body=rss("A", [story]))
    return feed_server.url("/a.xml")


def edit(folder: Path, url: str, *, window: str = "30d", outcome: str = "waived") -> Definitions:
    """indicators/visa.yaml as given, reading feed a at `url`."""
    indicators = folder / "indicators"
    indicators.mkdir(exist_ok=True)
    (indicators / "visa.yaml").write_text(INDICATOR.format(window=window, outcome=outcome))
    (folder / "feeds.yaml").write_text(f"feeds:\n  - {{id: a, url: '{url}'}}\n")
    return load_definitions(indicators, folder / "feeds.yaml")


def reload(definitions: Definitions, store: Store, now: datetime) -> Context:
    """What the daemon does with edited definitions: a context of them, prepared."""
    ctx = Context(definitions=definitions, matcher=Matcher(definitions.indicators), store=store,
                  limits=FetchLimits(timeout=30, total_timeout=60), check_interval=INTERVAL,
                  parse_workers=1)  # fmt: skip
    prepare(ctx, now=now)
    return ctx


def changes(ctx: Context, folder: Path, database_url: str) -> list[tuple[str, str, str]]:
    """(old, new, reason) of visa's changes, oldest first, as GET /indicators/visa/history and
    `monitor history visa --json` give them (checked to agree)."""
    app = create_app(store=ctx.store, definitions=lambda: ctx.definitions, settings=settings(),
                     clock=lambda: NOW)  # fmt: skip
    items = TestClient(app).get("/indicators/visa/history").json()["items"]
    api = [(c["old_status"], c["new_status"], c["reason"] or "") for c in reversed(items)]
    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(folder / "indicators"),
           "MONITOR_FEEDS_FILE": str(folder / "feeds.yaml")}  # fmt: skip
    result = CliRunner().invoke(main, ["history", "visa", "--json"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["old_status"], c["new_status"], c["reason"] or "") for c in reversed(lines)] == api
    return api


def test_a_window_edited_moves_the_status_and_the_change_says_why(
    tmp_path: Path, url: str, store: Store, database_url: str, feed_server: FeedServer
) -> None:
    ctx = reload(edit(tmp_path, url), store, NOW)
    run_cycle(ctx, now=NOW)
    assert changes(ctx, tmp_path, database_url) == [("unknown", WAIVED, "")]

    shorter = NOW + INTERVAL
    ctx = reload(edit(tmp_path, url, window="2d"), store, shorter)  # the story is older
    assert store.current_statuses()["visa"] == (QUIET, shorter)
    assert changes(ctx, tmp_path, database_url)[1:] == [(WAIVED, QUIET, EDITED)]

    longer = shorter + INTERVAL
    ctx = reload(edit(tmp_path, url, window="30d"), store, longer)  # it counts again
    assert changes(ctx, tmp_path, database_url)[2:] == [(QUIET, WAIVED, EDITED)]

    # An edit that moves no status is noted as evaluated: the next change is the news'.
    ctx = reload(edit(tmp_path, url, window="20d"), store, longer + INTERVAL)
    fresh = Item("Tokyo visa waiver talks", "https://other.example.org/2", longer)
    feed_server.route("/a.xml", body=rss("A", [fresh]))
    run_cycle(ctx, now=longer + 2 * INTERVAL)
    assert changes(ctx, tmp_path, database_url)[3:] == [(WAIVED, "waived:confirmed", "")]


def test_an_outcome_renamed_takes_its_evidence_along_and_the_change_says_why(
    tmp_path: Path, url: str, store: Store, database_url: str
) -> None:
    """The stored news inside the window is matched against the edited indicator at the
    reload (`pipeline.first_look`): under its new name the outcome has the story (it was
    `quiet`, with the matches left under the old name until `monitor replay`), and the change
    says that the edit moved it, not the news."""
    run_cycle(reload(edit(tmp_path, url), store, NOW), now=NOW)
    ctx = reload(edit(tmp_path, url, outcome="waiver"), store, NOW + INTERVAL)
    assert changes(ctx, tmp_path, database_url) == [
        ("unknown", WAIVED, ""), (WAIVED, "waiver:reported", EDITED),
    ]  # fmt: skip
