"""Ids that the page's forms post (the verdict buttons' entry, the End silence button's
silence), tampered with or stale, through a real server on 127.0.0.1 and a real HTTP client:
a clear 422 or 404, as a page for a browser and JSON for a tool, never a 500 or another entry.

int() took " 7", "1_0" (10) and "١" (Arabic-Indic one) as ids, so a tampered verdict form
judged an entry the form did not name, and 5,000 digits made the End silence button's post a
500 (int()'s ValueError past 4,300 digits)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from monitor.store import Store
from monitor.web import WebServer
from tests import webdata
from tests.webdata import VISA_HERALD

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", **SAME_SITE}
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    with (
        WebServer(app, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def herald_id(client: httpx.Client) -> int:
    (hit,) = [e for e in client.get("/entries", params={"q": VISA_HERALD}).json()]
    return int(hit["id"])


def tampered(entry: int) -> dict[str, str]:
    """The entry id as a tampered form may carry it: each of these int() read as `entry`."""
    digits = str(entry)
    return {
        "arabic-indic": digits.translate(ARABIC_INDIC),
        "spaces": f" {digits} ",
        "underscore": f"{digits[0]}_{digits[1:]}" if len(digits) > 1 else f"0_{digits}",
        "plus": f"+{digits}",
    }


def test_a_tampered_entry_id_is_refused_as_a_page_and_as_json(
    client: httpx.Client, store: Store
) -> None:
    herald = herald_id(client)
    forms = tampered(herald) | {
        "5000 digits": "9" * 5000, "30 digits": "9" * 30, "word": "herald", "empty": "",
        "zero": "0", "negative": f"-{herald}",
    }  # fmt: skip
    path = "/indicators/visa-easing/page/verdict"
    for form, given in forms.items():
        posted = {"entry": given, "outcome": "eased", "verdict": "no"}

        as_page = client.post(path, data=posted, headers=HTML)
        as_json = client.post(
            path, data=posted, headers={"Accept": "application/json", **SAME_SITE}
        )

        assert as_page.status_code == 422, (form, as_page.status_code, as_page.text[:300])
        assert as_page.headers["content-type"].startswith("text/html"), form
        assert "entry: not an entry id" in as_page.text and "Traceback" not in as_page.text
        assert (as_json.status_code, as_json.json()) == (422, {"detail": "entry: not an entry id"})
        assert store.verdicts() == [], form


def test_a_stale_form_naming_an_entry_gone_is_a_404_page(
    client: httpx.Client, store: Store
) -> None:
    posted = {"entry": "999999", "outcome": "eased", "verdict": "no"}
    answer = client.post("/indicators/visa-easing/page/verdict", data=posted, headers=HTML)

    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "verdict: no entry 999999" in answer.text
    assert store.verdicts() == []


def test_the_untampered_form_still_judges(client: httpx.Client, store: Store) -> None:
    posted = {"entry": str(herald_id(client)), "outcome": "eased", "verdict": "no"}
    answer = client.post("/indicators/visa-easing/page/verdict", data=posted, headers=HTML)

    assert answer.status_code == 303
    location = f"/indicators/visa-easing/page#evidence-{posted['entry']}-eased"
    assert answer.headers["location"] == location
    assert [v.entry_id for v, _ in store.verdicts()] == [int(posted["entry"])]


def test_a_tampered_silence_id_is_refused_as_a_page_and_as_json(client: httpx.Client) -> None:
    path = "/indicators/visa-easing/page/silence/end"
    for given in ["9" * 5000, "9" * 30, "2147483648", "١", "1_0", " 1", "0", ""]:
        as_page = client.post(path, data={"silence": given}, headers=HTML)
        as_json = client.post(path, data={"silence": given}, headers=SAME_SITE)

        assert as_page.status_code == 422, (given[:40], as_page.status_code, as_page.text[:300])
        assert as_page.headers["content-type"].startswith("text/html")
        assert "silence: not a silence id" in as_page.text
        assert (as_json.status_code, as_json.json()) == (
            422,
            {"detail": "silence: not a silence id"},
        )


def test_paging_and_path_ids_out_of_range_are_a_422_page(client: httpx.Client) -> None:
    """These FastAPI reads (pydantic): already a 422, as a page for a browser."""
    for path in [
        "/indicators/visa-easing/history?before=" + "9" * 5000,
        "/indicators/visa-easing/history?before=x",
        "/indicators/visa-easing/history?limit=" + "9" * 30,
        "/indicators/visa-easing/page?before=" + "9" * 5000,
        "/indicators/visa-easing/page?before=-1",
        "/silences/" + "9" * 5000 + "/end",
        "/indicators/visa-easing/evidence/" + "9" * 5000 + "/verdict",
    ]:
        method = "POST" if path.endswith(("/end", "/verdict")) else "GET"
        body = {"outcome": "eased", "verdict": "no"}
        answer = client.request(method, path, headers=HTML, json=body)

        assert answer.status_code == 422, (path[:60], answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
