"""A silence in force is named wherever an indicator's status is given: the page marks the card
`silenced`, and `GET /indicators`, `GET /indicators/{id}`, `monitor status --json` and
`monitor status` give the silences' ids; ended, it is gone from all of them at once. On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import monitor.domain
from monitor.store import Store
from tests import webdata
from tests.webdata import NOW, WEB, run_cli

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _shown(client: TestClient, env: dict[str, str]) -> dict[str, object]:
    """What each surface says of visa-easing's silences."""
    listed = {i["id"]: i for i in client.get("/indicators").json()}
    cli = {i["id"]: i for i in json.loads(run_cli(env, "status", "--json").stdout)}
    text = run_cli(env, "status").stdout.splitlines()
    (at,) = [n for n, line in enumerate(text) if line.startswith("visa-easing ")]
    said = [line for line in text[at + 1 :] if line.startswith("  ")][:2]  # its lines
    page = client.get("/", headers={"Accept": "text/html"}).text
    card = page.split('data-indicator="visa-easing"', 1)[1].split("</article>", 1)[0]
    return {
        "list": listed["visa-easing"]["silences"],
        "one": client.get("/indicators/visa-easing").json()["silences"],
        "cli": cli["visa-easing"]["silences"],
        "others": {i: v["silences"] for i, v in listed.items() if i != "visa-easing"},
        "text": [line for line in said if "silenced" in line],
        "page": "silenced-tag" in card,
    }


def test_a_silence_in_force_is_named_by_the_api_and_the_cli_as_on_the_page(
    client: TestClient, store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the page marked the card `silenced` while `/indicators` and `monitor status`
    said nothing of it: a tool had to join `GET /silences` itself."""
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: NOW)  # the commands' clock
    env = {"MONITOR_DATABASE_URL": db_url, "MONITOR_INDICATORS_DIR": str(WEB / "indicators"),
           "MONITOR_FEEDS_FILE": str(WEB / "feeds.yaml")}  # fmt: skip
    others = {i: [] for i in ("business-investment", "flight-routes", "north-korea-stance")}
    before = _shown(client, env)  # kept by the server's cache of views
    assert before == {"list": [], "one": [], "cli": [], "others": others, "text": [],
                      "page": False}  # fmt: skip

    silence = {"indicator": "visa-easing", "for": "7d", "reason": "state visit"}
    first = client.post("/silences", json=silence).json()["id"]
    one_outcome = silence | {"outcome": "eased", "for": "1d", "reason": "wire copy"}
    second = client.post("/silences", json=one_outcome).json()["id"]
    during = _shown(client, env)

    assert during == {
        "list": [second, first],  # newest first, as GET /silences
        "one": [second, first],
        "cli": [second, first],
        "others": others,
        "text": [f"  silenced: 2 silences in force ({second}, {first}), as `monitor silence "
                 "--list` shows"],
        "page": True,
    }  # fmt: skip
    assert client.post(f"/silences/{second}/end").status_code == 200
    assert client.post(f"/silences/{first}/end").status_code == 200
    assert _shown(client, env) == before
