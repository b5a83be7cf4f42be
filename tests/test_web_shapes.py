"""One shape per answer: the CLI's `--json` prints exactly what the API returns for the same
database, and every GET answer validates against the schema /openapi.json publishes for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.checks import response_schema_conformance

import monitor.domain
from monitor.cli import main
from monitor.domain import Definitions
from monitor.store import Store
from monitor.web import create_app
from tests import webdata

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures
NOW = webdata.NOW


@pytest.fixture
def client(
    store: Store, defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The API over the seeded database, as `monitor serve` runs it, and the commands of `cli`,
    both at the time the database was seeded (`webdata.NOW`): at the real clock, a suite that
    ran for longer than two check intervals after this module was imported found every feed
    unread and every status `unknown`."""
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: NOW)  # the commands' clock
    settings = webdata.settings()
    live = create_app(store=store, definitions=lambda: defs, settings=settings, clock=lambda: NOW)
    with TestClient(live) as c:
        yield c


def cli(db_url: str, *args: str) -> str:
    env = {
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


def test_status_json_is_get_indicators(db_url: str, client: TestClient) -> None:
    printed = json.loads(cli(db_url, "status", "--json"))  # first: it may record a change
    assert printed == client.get("/indicators").json()
    assert {i["status"] for i in printed} >= {"eased:confirmed"}


def test_history_json_is_the_items_of_get_history(db_url: str, client: TestClient) -> None:
    printed = lines(cli(db_url, "history", "visa-easing", "--json"))
    served = client.get("/indicators/visa-easing/history").json()
    assert printed == served["items"]
    assert len(printed) >= 2


def test_search_json_is_get_entries(db_url: str, client: TestClient) -> None:
    printed = lines(cli(db_url, "search", "visa", "--json"))
    assert printed == client.get("/entries", params={"q": "visa"}).json()
    assert len(printed) == 2


def test_silence_list_json_is_get_silences(db_url: str, client: TestClient) -> None:
    body = {"indicator": "visa-easing", "outcome": "eased", "for": "7d", "reason": "noise"}
    assert client.post("/silences", json=body).status_code == 201
    printed = lines(cli(db_url, "silence", "--list", "--json"))
    assert printed == client.get("/silences").json()
    assert len(printed) == 1 and printed[0]["state"] == "active"


def test_verdict_list_json_is_the_verdict_the_api_answered(
    db_url: str, store: Store, client: TestClient
) -> None:
    (found,) = store.search_entries("visa", limit=1)
    body = {"outcome": "eased", "verdict": "no", "note": "not «news»"}
    answered = client.post(f"/indicators/visa-easing/evidence/{found.id}/verdict", json=body)
    assert answered.status_code == 200, answered.text
    printed = lines(cli(db_url, "verdict", "list", "visa-easing", "--json"))
    assert printed == [answered.json()["verdict"]]


@pytest.mark.parametrize("kind", ["history", "changes", "evidence"])
def test_export_json_is_get_export(db_url: str, client: TestClient, kind: str) -> None:
    printed = json.loads(cli(db_url, "export", kind, "--format", "json"))
    assert printed == client.get(f"/export/{kind}", params={"format": "json"}).json()
    assert printed


# ---------------------------------------------------------------- the published schema

EXAMPLE = {"path_parameters": {"indicator_id": "visa-easing", "entry": 1}, "query": {"q": "visa"}}
QUERIES = {"/entries": EXAMPLE["query"]} | {  # the exports' JSON, checked against its schema
    f"/export/{kind}": {"format": "json"} for kind in ("history", "changes", "evidence")
}


def test_every_get_answer_matches_its_published_schema(app: FastAPI) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    checked = []
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET":
            continue
        needs = {p.name for p in operation.path_parameters}
        case = operation.Case(
            path_parameters={k: v for k, v in EXAMPLE["path_parameters"].items() if k in needs},
            query=QUERIES.get(operation.path),
        )
        response = case.call()
        assert response.status_code == 200, (operation.path, response.text)
        case.validate_response(response, checks=[response_schema_conformance])
        checked.append(operation.path)
    assert sorted(checked) == sorted(
        ["/healthz", "/indicators", "/indicators/{indicator_id}",
         "/indicators/{indicator_id}/history", "/feeds", "/metrics", "/",
         "/indicators/{indicator_id}/page", "/entries", "/export/history", "/export/changes",
         "/export/evidence", "/changes.atom", "/indicators/{indicator_id}/changes.atom",
         "/silences", "/indicators/{indicator_id}/explain/{entry}"]
    )  # fmt: skip
