"""Verdicts over HTTP (FastAPI's TestClient, the database of tests/webdata.py on SQLite and
PostgreSQL): the JSON endpoint, entry search, the page's form, tokens and errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor.domain import Definitions
from monitor.store import Store
from monitor.web import WebServer, create_app
from tests import storeops, webdata
from tests.webdata import GENERAL, NOW, VISA_HERALD, settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures
TOKEN = "verdict-token"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def entry_id(client: TestClient, title: str) -> int:
    found = client.get("/entries", params={"q": title}).json()
    (hit,) = [f for f in found if f["title"] == title]
    return int(hit["id"])


def verdict_url(entry: int, indicator: str = "visa-easing") -> str:
    return f"/indicators/{indicator}/evidence/{entry}/verdict"


# ---------------------------------------------------------------- the JSON API


def test_a_no_takes_the_evidence_out_and_answers_the_new_status(client: TestClient) -> None:
    before = client.get("/indicators/visa-easing").json()
    herald = entry_id(client, VISA_HERALD)
    assert herald in [e["entry_id"] for e in before["evidence"]]

    answer = client.post(
        verdict_url(herald), json={"outcome": "eased", "verdict": "no", "note": "old news"}
    )

    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["status"] == "eased:reported"
    verdict = data["verdict"]
    assert (verdict["entry_id"], verdict["indicator"], verdict["outcome"]) == (
        herald, "visa-easing", "eased"
    )  # fmt: skip
    assert (verdict["verdict"], verdict["who"], verdict["note"]) == ("no", "anonymous", "old news")
    reason = f"verdict: no on entry {herald} by anonymous: old news"
    assert data["change"]["reason"] == reason
    assert data["change"]["old_status"] == "eased:confirmed"
    after = client.get("/indicators/visa-easing").json()  # at once: no cache stands in the way
    assert after["status"] == "eased:reported"
    assert herald not in [e["entry_id"] for e in after["evidence"]]
    history = client.get("/indicators/visa-easing/history").json()["items"]
    assert history[0]["reason"] == reason
    assert all(isinstance(e["entry_id"], int) for c in history for e in c["evidence"])
    assert [c["reason"] for c in history[1:]] == [None, None]


def test_a_yes_adds_an_entry_no_rule_matched(client: TestClient) -> None:
    general = entry_id(client, GENERAL)
    answer = client.post(
        verdict_url(general, "north-korea-stance"), json={"outcome": "balance", "verdict": "yes"}
    ).json()

    assert answer["status"] == "balance:reported"
    detail = client.get("/indicators/north-korea-stance").json()
    (item,) = detail["evidence"]
    assert (item["entry_id"], item["judged"], item["terms"]) == (general, "yes", [])
    statuses = {i["id"]: i["status"] for i in client.get("/indicators").json()}
    assert statuses["north-korea-stance"] == "balance:reported"


@pytest.mark.parametrize(
    ("path", "body", "code", "detail"),
    [
        ("/indicators/nope/evidence/{herald}/verdict", {"outcome": "eased", "verdict": "no"},
         404, "no indicator 'nope'"),
        ("/indicators/visa-easing/evidence/999999/verdict", {"outcome": "eased", "verdict": "no"},
         404, "verdict: no entry 999999"),
        ("/indicators/visa-easing/evidence/{herald}/verdict", {"outcome": "x", "verdict": "no"},
         422, "has no outcome 'x'"),
        ("/indicators/visa-easing/evidence/{herald}/verdict",
         {"outcome": "eased", "verdict": "maybe"}, 422, None),
        ("/indicators/visa-easing/evidence/{herald}/verdict", {"verdict": "no"}, 422, None),
        ("/indicators/visa-easing/evidence/0/verdict", {"outcome": "eased", "verdict": "no"},
         422, None),
    ],
)  # fmt: skip
def test_a_bad_verdict_is_a_json_error_and_writes_nothing(
    client: TestClient, store: Store, path: str, body: dict[str, str], code: int, detail: str | None
) -> None:
    herald = entry_id(client, VISA_HERALD)
    version = store.data_version()

    answer = client.post(path.format(herald=herald), json=body)

    assert answer.status_code == code
    assert answer.headers["content-type"] == "application/json"
    if detail is not None:
        assert detail in answer.json()["detail"]
    assert store.verdicts() == [] and store.data_version() == version


def test_a_change_a_verdict_causes_waits_for_its_alert(store: Store, defs: Definitions) -> None:
    """With MONITOR_NOTIFY_URLS set, as a check's change does: the daemon's alerts job sends
    it (the page's buttons and the API post here)."""
    alerting = settings(notify_urls=["json://127.0.0.1:9/alerts"])
    app = create_app(store=store, definitions=lambda: defs, settings=alerting, clock=lambda: NOW)
    with TestClient(app) as client:
        herald = entry_id(client, VISA_HERALD)
        answer = client.post(verdict_url(herald), json={"outcome": "eased", "verdict": "no"})

    assert answer.json()["change"]["new_status"] == "eased:reported"
    assert store.pending_alerts(NOW) == 1


def test_with_a_token_a_verdict_needs_it_and_is_by_api(store: Store, defs: Definitions) -> None:
    guarded = create_app(store=store, definitions=lambda: defs,
                         settings=settings(api_token=TOKEN), clock=lambda: NOW)  # fmt: skip
    with TestClient(guarded) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        herald = next(
            f["id"]
            for f in client.get("/entries", params={"q": "visa"}, headers=auth).json()
            if f["title"] == VISA_HERALD
        )
        body = {"outcome": "eased", "verdict": "no"}
        assert client.post(verdict_url(herald), json=body).status_code == 401
        assert client.get("/entries", params={"q": "visa"}).status_code == 401
        assert store.verdicts() == []
        answer = client.post(verdict_url(herald), json=body, headers=auth)
        assert answer.status_code == 200
        assert answer.json()["verdict"]["who"] == "api"


def test_entries_are_searched_by_title_or_text(client: TestClient) -> None:
    found = client.get("/entries", params={"q": "VISA-FREE", "limit": 5})

    assert found.status_code == 200
    items = found.json()
    assert [i["title"] for i in items] == [VISA_HERALD, webdata.HOSTILE_TITLE]
    assert set(items[0]) == {"id", "time", "feed", "publisher", "title", "link"}
    assert items[0]["feed"] == "herald"
    assert len(client.get("/entries", params={"q": "visa", "limit": 1}).json()) == 1
    assert client.get("/entries").status_code == 422  # q is required
    for blank in ("", "  ", "\t"):  # it would list every entry; `monitor search` refuses it too
        refused = client.get("/entries", params={"q": blank})
        assert refused.status_code == 422
        assert "the query must not be empty" in refused.json()["detail"][0]["msg"]
    assert client.get("/entries", params={"q": "a\x00b"}).json() == []
    assert client.get("/entries", params={"q": "签" * 200}).status_code == 200
    assert client.get("/entries", params={"q": "签" * 201}).status_code == 422  # as documented


def test_a_json_verdict_needs_a_json_body(client: TestClient, store: Store) -> None:
    """A form of another site can post text/plain, not application/json: the endpoint takes
    only the latter, so it cannot be made to judge by a visitor's browser."""
    herald = entry_id(client, VISA_HERALD)
    answer = client.post(
        verdict_url(herald),
        content=b'{"outcome": "eased", "verdict": "no"}',
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 422
    assert store.verdicts() == []


def test_the_openapi_description_shows_the_verdict_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/indicators/{indicator_id}/evidence/{entry_id}/verdict"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/VerdictIn"
    )
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/JudgedOut")
    assert {"404", "422"} <= set(post["responses"])
    entries = spec["paths"]["/entries"]["get"]["responses"]["200"]["content"]
    assert entries["application/json"]["schema"]["items"]["$ref"].endswith("/EntryOut")
    evidence = spec["components"]["schemas"]["EvidenceOut"]["properties"]
    assert "entry_id" in evidence and "judged" in evidence
    assert "reason" in spec["components"]["schemas"]["ChangeOut"]["properties"]


# ---------------------------------------------------------------- the page's form


def test_the_page_form_judges_and_sends_the_browser_back_to_the_page(client: TestClient) -> None:
    herald = entry_id(client, VISA_HERALD)
    page = client.get("/indicators/visa-easing/page")
    assert f'name="entry" value="{herald}"' in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]

    answer = client.post(
        "/indicators/visa-easing/page/verdict",
        data={"entry": str(herald), "outcome": "eased", "verdict": "no", "note": "dup"},
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/indicators/visa-easing/page#evidence-{herald}-eased"
    again = client.post(  # a browser without Sec-Fetch-Site: its Origin, by the page's policy
        "/indicators/visa-easing/page/verdict",
        data={"entry": str(herald), "outcome": "eased", "verdict": "no"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    after = client.get("/indicators/visa-easing/page")
    assert after.status_code == 200 and after.headers["etag"] != page.headers["etag"]
    evidence = after.text.split('id="evidence"')[1].split('id="verdicts"')[0]
    assert VISA_HERALD not in evidence
    verdicts = after.text.split('id="verdicts"')[1].split('id="history"')[0]
    rows = re.findall(r'<li data-verdict="no".*?</li>', verdicts)
    assert len(rows) == 2  # newest first: the second post, then the one with a note
    row = rows[1]
    assert f"entry {herald}" in row and VISA_HERALD in row
    assert 'by <span dir="auto">anonymous</span>, ' in row and "“dup”" in row
    assert re.search(r'data-status="eased:reported"', after.text)
    assert f"verdict: no on entry {herald} by anonymous: dup" in after.text


@pytest.mark.parametrize(
    ("outcome", "location"),
    [
        ("balance", "/indicators/north-korea-stance/page#evidence-{entry}-balance"),
        ("//evil.example/x", None),  # no outcome of the indicator: 422, no redirect at all
        ("balance#@evil.example", None),
    ],
)
def test_the_page_form_sends_the_browser_back_to_the_entry_judged_on_this_site(
    client: TestClient, outcome: str, location: str | None
) -> None:
    """The redirect names the entry judged as a fragment of the indicator's page (the `id`
    of its evidence item), a path of this site: the outcome is one of the indicator's."""
    general = entry_id(client, GENERAL)
    answer = client.post(
        "/indicators/north-korea-stance/page/verdict",
        data={"entry": str(general), "outcome": outcome, "verdict": "yes"},
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    if location is None:
        assert answer.status_code == 422 and "location" not in answer.headers
        return
    assert answer.status_code == 303
    assert answer.headers["location"] == location.format(entry=general)
    page = client.get(answer.headers["location"].partition("#")[0]).text
    assert f'<li data-entry="{general}" id="evidence-{general}-balance">' in page


def test_the_page_says_which_verdicts_add_no_evidence_now_and_which_were_superseded(
    client: TestClient, store: Store
) -> None:
    """An analyst confirms by id an article older than the window (the form "An article the
    rules missed?"): the page comes back without it among the evidence, and its verdicts say
    why, as `monitor verdict` does; a verdict a later one on its entry replaced says so, so a
    `no` that no longer stands does not read as one."""
    old = NOW - timedelta(days=45)
    title = "China and South Korea agree visa-free entry, archives show"
    storeops.add_entries(
        store, [webdata.news("yonhap", 40, title, "https://e.example/40", old)], now=old
    )
    found, herald = entry_id(client, title), entry_id(client, VISA_HERALD)
    for entry, verdict in ((found, "yes"), (herald, "no"), (herald, "yes")):
        answer = client.post(
            "/indicators/visa-easing/page/verdict",
            data={"entry": str(entry), "outcome": "eased", "verdict": verdict},
            headers={"Sec-Fetch-Site": "same-origin"},
            follow_redirects=False,
        )
        assert answer.status_code == 303

    page = client.get("/indicators/visa-easing/page").text
    evidence = page.split('id="evidence"')[1].split('id="verdicts"')[0]
    assert f'data-entry="{found}"' not in evidence and f'data-entry="{herald}"' in evidence
    verdicts = page.split('id="verdicts"')[1].split('id="history"')[0]
    rows = re.findall(
        r'<li data-verdict="(yes|no)" data-entry="(\d+)"(?: id="[^"]+")?>(.*?)</li>', verdicts
    )
    assert [(v, int(e)) for v, e, _ in rows] == [("yes", herald), ("no", herald), ("yes", found)]
    assert "superseded" not in rows[0][2] and "window" not in rows[0][2]
    assert "superseded by a later verdict" in rows[1][2]
    assert "older than its 30d window: the yes adds no evidence now" in rows[2][2]


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "null"},
        {"Origin": "https://evil.example"},
    ],
)
def test_the_page_form_refuses_a_post_from_another_site(
    client: TestClient, store: Store, headers: dict[str, str]
) -> None:
    herald = entry_id(client, VISA_HERALD)
    answer = client.post(
        "/indicators/visa-easing/page/verdict",
        data={"entry": str(herald), "outcome": "eased", "verdict": "no"},
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert store.verdicts() == []


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"entry": "x", "outcome": "eased", "verdict": "no"}, 422),
        ({f"f{n}": "x" for n in range(20)}, 422),
        ({"entry": "{herald}", "outcome": "eased", "verdict": "no", "note": "x" * 20_000}, 413),
        ({"entry": "999999", "outcome": "eased", "verdict": "no"}, 404),
        ({"entry": "{herald}", "outcome": "eased", "verdict": "perhaps"}, 422),
    ],
)
def test_a_bad_form_is_an_error_and_writes_nothing(
    client: TestClient, store: Store, form: dict[str, str], code: int
) -> None:
    herald = entry_id(client, VISA_HERALD)
    data = {k: v.format(herald=herald) for k, v in form.items()}
    answer = client.post("/indicators/visa-easing/page/verdict", data=data, follow_redirects=False)
    assert answer.status_code == code
    assert store.verdicts() == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_is_refused_with_413_and_writes_nothing(
    client: TestClient, store: Store, chunked: bool
) -> None:
    """MONITOR_HTTP_MAX_BODY_BYTES (64 KiB): a declared length is refused before the body is
    read, a chunked body (no length) once the cap is passed; either way no verdict is written."""
    herald = entry_id(client, VISA_HERALD)
    version = store.data_version()
    body = ('{"outcome": "eased", "verdict": "yes", "note": "' + "x" * 70_000 + '"}').encode()

    def chunks() -> Iterator[bytes]:
        for at in range(0, len(body), 8192):
            yield body[at : at + 8192]

    content = chunks() if chunked else body
    answer = client.post(
        verdict_url(herald), content=content, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 413
    assert "at most 65536 bytes" in answer.json()["detail"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert store.verdicts() == [] and store.data_version() == version
    small = {"outcome": "eased", "verdict": "yes", "note": "x" * 1000}
    assert client.post(verdict_url(herald), json=small).status_code == 200


def test_the_page_says_when_older_verdicts_are_left_out(app: FastAPI, store: Store) -> None:
    """The page lists an indicator's 50 latest verdicts: past them it says that older ones are
    left out and where to read them, rather than letting them vanish unsaid."""
    general = webdata.entry_id(store, GENERAL)
    page = "/indicators/visa-easing/page"
    with (
        WebServer(app, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url) as web,
    ):
        for n in range(51):
            said = web.post(verdict_url(general), json={
                "outcome": "eased", "verdict": "yes" if n % 2 else "no", "note": f"take {n}"
            })  # fmt: skip
            assert said.status_code == 200, said.text
            html = web.get(page).text
            listed = re.findall(r'<li data-verdict="(?:yes|no)"', html)
            assert len(listed) == min(n + 1, 50)
            assert ("“take 0”" in html) == (n < 50)
            assert ("monitor verdict list visa-easing" in html) == (n == 50), n
