"""Before any check evaluated an indicator, its `unknown` has no `since`: null in GET
/indicators and `monitor status --json` alike, no "since" on the page; not the moment asked,
which moved on every request. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import monitor.domain
from monitor.cli import main
from monitor.domain import Definitions
from monitor.pipeline import prepare
from monitor.store import Store
from monitor.web import create_app
from tests import webdata
from tests.webdata import NOW

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, empty = webdata.db_url, webdata.defs, webdata.empty  # fixtures


def served(store: Store, defs: Definitions, clock: list[object]) -> TestClient:
    app = create_app(store=store, definitions=lambda: defs, settings=webdata.settings(),
                     clock=lambda: clock[0])  # fmt: skip
    return TestClient(app, raise_server_exceptions=False)


def status_json(db_url: str) -> list[dict[str, object]]:
    env = {
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    result = CliRunner().invoke(main, ["status", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_unknown_before_any_check_has_no_since_on_every_surface(
    empty: Store, defs: Definitions, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock: list[object] = [NOW]
    client = served(empty, defs, clock)
    first = client.get("/indicators").json()
    clock[0] = NOW + timedelta(minutes=3)
    again = client.get("/indicators").json()
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: NOW + timedelta(minutes=7))
    printed = status_json(db_url)
    page = client.get("/", headers={"Accept": "text/html"}).text

    assert {(i["status"], i["since"]) for i in first} == {("unknown", None)}
    assert again == first == printed
    assert 'class="since">since' not in page
    # nor does its timeline draw an unknown from 90 days back: monitoring has not begun
    assert f"{(NOW - timedelta(days=90)).date()} –" not in page


def test_once_monitoring_began_unknown_is_since_then(empty: Store, defs: Definitions) -> None:
    """A daemon's start records when monitoring each indicator began: its `unknown` is since
    then, however late it is asked."""
    prepare(webdata.context(empty, defs), now=NOW - timedelta(hours=1), evaluate=False)
    clock: list[object] = [NOW]
    client = served(empty, defs, clock)
    first = client.get("/indicators").json()
    clock[0] = NOW + timedelta(minutes=3)

    assert client.get("/indicators").json() == first
    assert {i["since"] for i in first} == {monitor.domain.iso_time(NOW - timedelta(hours=1))}
