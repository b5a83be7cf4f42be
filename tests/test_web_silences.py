"""Silences over HTTP (FastAPI's TestClient over the database of tests/webdata.py, on SQLite and
PostgreSQL): GET/POST /silences and POST /silences/{id}/end, their errors and token, the
indicator page's silence form and end button, and a person silencing an indicator in Debian's
chromium (test-artifacts/silenced.png)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor.domain import Definitions, iso_time
from monitor.store import Store
from monitor.web import WebServer, create_app
from tests import webdata
from tests.test_web_browser import browser, shot
from tests.webdata import DAY, NOW, settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures
__all__ = ["browser"]  # a fixture
PAGE = "/indicators/visa-easing/page"
SHAPE = {"id", "indicator", "outcome", "reason", "created_by", "created_at", "until",
         "ended_at", "ended_by", "state"}  # fmt: skip


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def begin(client: TestClient, **body: object) -> dict[str, object]:
    answer = client.post("/silences", json={"indicator": "visa-easing", "for": "7d",
                                            "reason": "state visit"} | body)  # fmt: skip
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_listing_the_silences_of_an_unknown_indicator_is_a_404_as_in_the_cli(
    client: TestClient,
) -> None:
    """`monitor silence --list nosuch` is an error; the API said `[]`, which reads as "none in
    force" for a misspelt id."""
    begin(client)

    answer = client.get("/silences", params={"indicator": "visa-easingg"})

    assert answer.status_code == 404
    assert answer.json() == {"detail": "no indicator 'visa-easingg'; did you mean 'visa-easing'?"}
    assert len(client.get("/silences", params={"indicator": "visa-easing"}).json()) == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/indicators/nope", None),
        ("GET", "/indicators/nope/history", None),
        ("GET", "/indicators/nope/explain/1", None),
        ("GET", "/export/changes?indicator=nope", None),
        ("POST", "/indicators/nope/evidence/1/verdict", {"outcome": "eased", "verdict": "no"}),
        ("GET", "/silences?indicator=nope", None),
        ("POST", "/silences", {"indicator": "nope", "for": "7d", "reason": "state visit"}),
    ],
)
def test_every_endpoint_says_an_unknown_indicator_in_one_wording(
    client: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    """A script matching the API's 404 for a misspelt id met `silence: no indicator 'x'` from
    the silences and `no indicator 'x'` from every other endpoint."""
    answer = client.request(method, path, json=body)

    assert (answer.status_code, answer.json()) == (404, {"detail": "no indicator 'nope'"})


MISSPELT = "no indicator 'visa-easng'; did you mean 'visa-easing'?"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/indicators/{typed}", None),
        ("GET", "/indicators/{typed}/history", None),
        ("GET", "/indicators/{typed}/explain/1", None),
        ("GET", "/indicators/{typed}/changes.atom", None),
        ("GET", "/export/changes?indicator={typed}", None),
        (
            "POST",
            "/indicators/{typed}/evidence/1/verdict",
            {"outcome": "eased", "verdict": "no"},
        ),
        ("GET", "/silences?indicator={typed}", None),
        ("POST", "/silences", {"indicator": "{typed}", "for": "7d", "reason": "state visit"}),
    ],
)
@pytest.mark.parametrize("typed", ["visa-easng", "visa-easin", "Visa-Easing", "vsia-easign"])
def test_every_endpoint_names_the_indicator_an_id_a_letter_off_meant_as_the_cli_does(
    client: TestClient, method: str, path: str, body: dict[str, str] | None, typed: str
) -> None:
    """`monitor history visa-easng` says `did you mean 'visa-easing'?`; the API's 404 said only
    `no indicator 'visa-easng'` (Definitions.no_indicator words both). An id in another case,
    or two letters off, was named with none, where an outcome's 422 named the one meant."""
    given = {k: v.format(typed=typed) for k, v in body.items()} if body else None
    answer = client.request(method, path.format(typed=typed), json=given)

    said = f"no indicator '{typed}'; did you mean 'visa-easing'?"
    assert (answer.status_code, answer.json()) == (404, {"detail": said})


def test_the_page_of_an_id_a_letter_off_names_the_indicator_meant(client: TestClient) -> None:
    answer = client.get("/indicators/visa-easng/page", headers={"Accept": "text/html"})

    assert answer.status_code == 404
    assert MISSPELT in html.unescape(answer.text)


def test_a_silence_is_begun_listed_and_ended_over_the_api(client: TestClient) -> None:
    made = begin(client, outcome="eased")
    listed = client.get("/silences").json()
    active = client.get("/silences", params={"active": "true", "indicator": "visa-easing"})
    ended = client.post(f"/silences/{made['id']}/end")
    after = client.get("/silences", params={"active": "true"}).json()

    assert set(made) == SHAPE
    assert (made["indicator"], made["outcome"], made["reason"]) == (
        "visa-easing",
        "eased",
        "state visit",
    )
    assert (made["created_by"], made["state"]) == ("anonymous", "active")
    assert (made["created_at"], made["until"]) == (iso_time(NOW), iso_time(NOW + 7 * DAY))
    assert listed == [made] and active.json() == [made]
    assert ended.status_code == 200
    assert (ended.json()["state"], ended.json()["ended_by"]) == ("ended", "anonymous")
    assert after == []


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"indicator": "nope"}, 404, "no indicator 'nope'"),
        (
            {"outcome": "x"},
            422,
            "silence: indicator 'visa-easing' has no outcome 'x' (it has eased)",
        ),
        # the JSON field the client sent, not the CLI's flag (`--for`, `--reason`)
        ({"for": "abc"}, 422, "silence: \"for\": not a duration: 'abc'"),
        ({"for": "600000w"}, 422, "silence: \"for\": too long: '600000w' (at most 3650d"),
        ({"for": "0s"}, 422, "silence: \"for\": '0s' is no time at all"),
        ({"reason": " "}, 422, 'silence: "reason": a reason is required (why, in a few words)'),
        ({"reason": ""}, 422, None),
        ({"color": "red"}, 422, None),
    ],
)
def test_a_bad_silence_is_a_json_error_and_writes_nothing(
    client: TestClient, store: Store, body: dict[str, str], code: int, detail: str | None
) -> None:
    version = store.data_version()
    answer = client.post(
        "/silences", json={"indicator": "visa-easing", "for": "7d", "reason": "why"} | body
    )
    assert answer.status_code == code
    if detail is not None:
        assert detail in answer.json()["detail"]
        assert "--" not in answer.json()["detail"]
    assert store.data_version() == version and store.silences() == []


def test_ending_an_unknown_or_ended_silence_is_404_or_409(client: TestClient) -> None:
    made = begin(client)
    assert client.post(f"/silences/{made['id']}/end").status_code == 200
    again = client.post(f"/silences/{made['id']}/end")
    unknown = client.post("/silences/999/end")
    assert again.status_code == 409 and "was ended at" in again.json()["detail"]
    assert unknown.status_code == 404 and unknown.json() == {"detail": "silence: no silence 999"}


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}],
)
def test_another_site_s_page_cannot_end_a_silence_without_a_token(
    client: TestClient, headers: dict[str, str]
) -> None:
    """With no token set (the default) the endpoint needs no body, so a page of any site the
    person visits could post to it: the browser's word that it is another site's is refused."""
    made = begin(client)
    answer = client.post(f"/silences/{made['id']}/end", headers=headers)
    assert answer.status_code == 403
    assert client.get("/silences").json()[0]["state"] == "active"
    same_site = client.post(
        f"/silences/{made['id']}/end", headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert same_site.status_code == 200


def test_with_a_token_silences_need_it_and_are_by_api(store: Store, defs: Definitions) -> None:
    app = create_app(
        store=store, definitions=lambda: defs, settings=settings(api_token="t0k"), clock=lambda: NOW
    )
    body = {"indicator": "visa-easing", "for": "1d", "reason": "noise"}
    with TestClient(app) as client:
        refused = [client.get("/silences"), client.post("/silences", json=body)]
        made = client.post("/silences", json=body, headers={"Authorization": "Bearer t0k"})
    assert [r.status_code for r in refused] == [401, 401]
    assert made.status_code == 201 and made.json()["created_by"] == "api"


def test_the_openapi_description_shows_the_silence_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/silences", "/silences/{silence_id}/end"} <= set(spec["paths"])
    assert {"SilenceIn", "SilenceOut"} <= set(spec["components"]["schemas"])


# ---------------------------------------------------------------- the page


def test_the_page_form_silences_shows_it_and_its_button_ends_it(client: TestClient) -> None:
    form = {"outcome": "", "for": "12h", "reason": "state visit <b>noise</b>"}
    posted = client.post("/indicators/visa-easing/page/silence", data=form, follow_redirects=False)
    page = client.get("/indicators/visa-easing/page").text
    index = client.get("/").text
    (made,) = client.get("/silences").json()
    ended = client.post(
        "/indicators/visa-easing/page/silence/end", data={"silence": str(made["id"])},
        follow_redirects=False,
    )  # fmt: skip
    after = client.get("/indicators/visa-easing/page").text

    assert posted.status_code == 303
    assert posted.headers["location"] == "/indicators/visa-easing/page#silence"
    assert (made["outcome"], made["created_by"], made["until"]) == (
        None,
        "anonymous",
        iso_time(NOW + DAY / 2),
    )
    assert f'data-silence="{made["id"]}"' in page
    assert 'by <span dir="auto">anonymous</span>' in page
    assert "“state visit &lt;b&gt;noise&lt;/b&gt;”" in page
    assert 'class="silenced-tag small"' in index
    assert ended.status_code == 303
    assert "data-silence=" not in after and client.get("/silences").json()[0]["state"] == "ended"


def test_the_page_forms_refuse_another_site_and_bad_values(
    client: TestClient, store: Store
) -> None:
    form = {"for": "1d", "reason": "x"}
    other = client.post("/indicators/visa-easing/page/silence", data=form,
                        headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
    bad = client.post("/indicators/visa-easing/page/silence", data={"for": "soon", "reason": "x"})
    end = client.post("/indicators/visa-easing/page/silence/end", data={"silence": "x"})
    assert (other.status_code, bad.status_code, end.status_code) == (403, 422, 422)
    assert store.silences() == []


def test_a_page_s_end_button_ends_only_a_silence_of_its_own_indicator(client: TestClient) -> None:
    """The page shows only its indicator's silences: a silence id of another indicator (or of
    an indicator there is none of) posted to it ends nothing; nor does an id that int() alone
    would read ("1_0", Arabic-Indic digits)."""
    made = begin(client)  # visa-easing's
    other = "/indicators/flight-routes/page/silence/end"
    posts = {
        other: {"silence": str(made["id"])},
        "/indicators/nope/page/silence/end": {"silence": str(made["id"])},
        f"{PAGE}/silence/end": {"silence": f"{made['id']}_0"},
    }
    answers = [client.post(path, data=form, follow_redirects=False) for path, form in posts.items()]
    arabic = client.post(f"{PAGE}/silence/end", data={"silence": "\u0661"})

    assert [a.status_code for a in answers] == [404, 404, 422]
    assert answers[0].json() == {"detail": f"silence: no silence {made['id']} of 'flight-routes'"}
    assert arabic.status_code == 422
    assert client.get("/silences").json()[0]["state"] == "active"
    ended = client.post(f"{PAGE}/silence/end", data={"silence": str(made["id"])},
                        follow_redirects=False)  # fmt: skip
    assert ended.status_code == 303 and client.get("/silences").json()[0]["state"] == "ended"


def test_each_end_button_is_named_for_the_silence_it_ends(client: TestClient) -> None:
    """With two silences on a page, a screen reader's list of buttons told two "End silence"
    apart by nothing: each is named for its outcome, its end and its id, after the words it
    shows."""
    made = [begin(client, outcome="eased"), begin(client, **{"for": "2d"})]
    page = client.get(PAGE).text

    named = re.findall(r'<button type="submit" class="no" aria-label="([^"]*)">End silence<', page)
    until = [datetime.fromisoformat(str(m["until"])).strftime("%Y-%m-%d %H:%M UTC") for m in made]
    assert sorted(named) == sorted([
        f"End silence of Visas are waived or extended until {until[0]} (silence {made[0]['id']})",
        f"End silence of every outcome until {until[1]} (silence {made[1]['id']})",
    ])  # fmt: skip


@pytest.mark.browser
def test_a_person_silences_an_indicator_on_its_page(
    app: FastAPI, browser: object, store: Store
) -> None:
    with WebServer(app, host="127.0.0.1", port=0) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 1200})  # type: ignore[attr-defined]
        page.goto(f"{server.url}/indicators/visa-easing/page")
        form = page.locator('form[action$="/page/silence"]')
        form.locator('input[name="for"]').fill("7d")
        form.locator('input[name="reason"]').fill("state visit: every outlet repeats it")
        with page.expect_navigation():
            form.get_by_role("button", name="Silence").click()

        assert page.url == f"{server.url}/indicators/visa-easing/page#silence"
        silenced = page.locator("div.silenced")
        assert silenced.count() == 1
        assert "state visit: every outlet repeats it" in silenced.inner_text()
        shot(page, "silenced.png")
        with page.expect_navigation():
            silenced.get_by_role("button", name="End silence").click()
        assert page.locator("div.silenced").count() == 0
    (silence,) = store.silences()
    assert (
        silence.ended_by == "anonymous" and silence.reason == "state visit: every outlet repeats it"
    )


# ---------------------------------------------------------------- with named tokens


def test_with_named_tokens_a_silence_is_by_the_token_s_name_and_the_form_needs_csrf(
    store: Store, defs: Definitions
) -> None:
    from tests.test_web_signin import Clock, as_browser, csrf_of, serve, sign_in

    with (
        serve(store, defs, Clock()) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as web,
    ):
        alice = sign_in(web)
        page = web.get(PAGE, headers=as_browser(alice)).text
        form = {"for": "1d", "reason": "noise"}
        refused = web.post(f"{PAGE}/silence", data=form, headers=as_browser(alice))
        posted = web.post(
            f"{PAGE}/silence", data=form | {"csrf": csrf_of(page)}, headers=as_browser(alice)
        )
        bearer = {"Authorization": "Bearer bob-token-2"}
        body = {"indicator": "visa-easing", "for": "2h", "reason": "wire copy"}
        made = web.post("/silences", headers=bearer, json=body)
        shown = web.get(PAGE, headers=as_browser(alice)).text
        ended = web.post(
            f"{PAGE}/silence/end", headers=as_browser(alice),
            data={"silence": str(made.json()["id"]), "csrf": csrf_of(shown)},
        )  # fmt: skip

    assert refused.status_code == 403 and posted.status_code == 303
    assert made.status_code == 201 and made.json()["created_by"] == "bob"
    assert 'data-silence="1"' in shown and 'data-silence="2"' in shown
    assert ended.status_code == 303
    by = {s.id: (s.created_by, s.ended_by) for s in store.silences()}
    assert by == {1: ("alice", None), 2: ("bob", "alice")}
