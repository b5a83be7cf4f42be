"""Every integer the API reads from a path or a query (`?limit`, `?before`, the verdict's entry
id, the silence's id), through a real server on 127.0.0.1 and a real HTTP client: ASCII digits
alone or a 422 naming the parameter, and nothing judged or ended. Every boolean (`?active`):
`true` or `false` alone, else a 422 naming it.

pydantic read "1_0" as 10, "+7", " 7" and "7.0" as 7, so `POST /silences/+1/end` ended silence
1, `/indicators/x/evidence/1_0/verdict` judged entry 10 and `?limit=1_0` paged by 10: a value
the client did not write (the form fields were already read as digits alone: test_web_form_ids).
"""

from __future__ import annotations

import httpx2 as httpx
import pytest

from monitor.store import Store
from tests import test_web_form_ids, webdata
from tests.test_web_form_ids import HTML, SAME_SITE
from tests.webdata import VISA_HERALD

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures
client = test_web_form_ids.client  # fixture: the app served on 127.0.0.1, and a client of it

DIGITS_ONLY = "Input should be a valid integer: ASCII digits 0-9 alone, at most"


def spellings(value: int) -> dict[str, str]:
    """`value` as a client might mistype it: pydantic read each of the first five as `value`."""
    digits = str(value)
    return {
        "underscore": f"{digits[0]}_{digits[1:]}" if len(digits) > 1 else f"0_{digits}",
        "plus": f"+{digits}",
        "space before": f" {digits}",
        "space after": f"{digits} ",
        "point zero": f"{digits}.0",
        "arabic-indic": digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        "full-width": digits.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "30 digits": "9" * 30,
    }


def refused(answer: httpx.Response, where: str, name: str) -> bool:
    """A 422 whose one error names the parameter and says why, of the type pydantic gives an
    integer it cannot read (`abc`), so a client need not know another."""
    if answer.status_code != 422:
        return False
    (error,) = answer.json()["detail"]
    said = error["msg"].startswith(DIGITS_ONLY)
    return said and (error["type"], error["loc"]) == ("int_parsing", [where, name])


def herald_id(client: httpx.Client) -> int:
    (hit,) = client.get("/entries", params={"q": VISA_HERALD}).json()
    return int(hit["id"])


@pytest.mark.parametrize(
    ("path", "query", "name", "value"),
    [
        ("/indicators/visa-easing/history", {}, "limit", 2),
        ("/indicators/visa-easing/history", {}, "before", 12),
        ("/indicators/visa-easing/page", {}, "before", 12),
        ("/entries", {"q": "seoul"}, "limit", 10),
    ],
)
def test_a_mistyped_paging_number_is_a_422_naming_it(
    client: httpx.Client, path: str, query: dict[str, str], name: str, value: int
) -> None:
    plain = client.get(path, params=query | {name: str(value)})
    assert plain.status_code == 200, plain.text[:300]

    for spelling, given in spellings(value).items():
        answer = client.get(path, params=query | {name: given})

        assert refused(answer, "query", name), (spelling, answer.status_code, answer.text[:300])


def test_a_mistyped_entry_cursor_is_a_422(client: httpx.Client) -> None:
    herald = herald_id(client)
    assert client.get("/entries", params={"q": "visa", "before": str(herald)}).status_code == 200

    for spelling, given in spellings(herald).items():
        answer = client.get("/entries", params={"q": "visa", "before": given})

        assert refused(answer, "query", "before"), (spelling, answer.status_code, answer.text)


def test_a_mistyped_entry_id_in_the_verdict_path_judges_nothing(
    client: httpx.Client, store: Store
) -> None:
    herald = herald_id(client)
    body = {"outcome": "eased", "verdict": "no", "note": "not the story"}

    for spelling, given in spellings(herald).items():
        answer = client.post(f"/indicators/visa-easing/evidence/{given}/verdict", json=body)

        assert refused(answer, "path", "entry_id"), (spelling, answer.status_code, answer.text)
        assert store.verdicts() == [], spelling

    plain = client.post(f"/indicators/visa-easing/evidence/{herald}/verdict", json=body)
    assert plain.status_code == 200, plain.text
    assert [v.entry_id for v, _ in store.verdicts()] == [herald]


def test_a_mistyped_silence_id_in_the_path_ends_no_silence(client: httpx.Client) -> None:
    begin = {"indicator": "visa-easing", "for": "2d", "reason": "a state visit"}
    begun = client.post("/silences", json=begin)
    assert begun.status_code == 201, begun.text
    silence = begun.json()["id"]

    for spelling, given in spellings(silence).items():
        answer = client.post(f"/silences/{given}/end", headers=SAME_SITE)

        assert refused(answer, "path", "silence_id"), (spelling, answer.status_code, answer.text)
        (still,) = client.get("/silences").json()
        assert still["state"] == "active", spelling

    ended = client.post(f"/silences/{silence}/end", headers=SAME_SITE)
    assert (ended.status_code, ended.json()["state"]) == (200, "ended")


def test_a_browser_is_shown_which_number_is_wrong(client: httpx.Client) -> None:
    answer = client.get("/indicators/visa-easing/page", params={"before": "1_0"}, headers=HTML)

    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert "before: " + DIGITS_ONLY + " 19 of them" in answer.text


TRUE_OR_FALSE = "Input should be a valid boolean: `true` or `false` alone"


@pytest.mark.parametrize("given", ["yes", "no", "on", "off", "1", "0", "t", "f", "y", "n", "True",
                                   "FALSE", " true", "true ", "", "ture"])  # fmt: skip
def test_a_boolean_query_is_true_or_false_alone(client: httpx.Client, given: str) -> None:
    """pydantic read `yes`, `on`, `1`, `t`, `Y` as true and `no`, `off`, `0` as false (and any
    case of them), so `?active=1` listed the silences in force and `?active=no` every one: a
    meaning the client did not write, where `?active=ture` was a 422."""
    begin = {"indicator": "visa-easing", "for": "2d", "reason": "a state visit"}
    assert client.post("/silences", json=begin).status_code == 201
    assert len(client.get("/silences", params={"active": "true"}).json()) == 1
    assert len(client.get("/silences", params={"active": "false"}).json()) == 1
    assert len(client.get("/silences").json()) == 1

    answer = client.get("/silences", params={"active": given})

    assert answer.status_code == 422, (given, answer.text[:300])
    (error,) = answer.json()["detail"]
    assert (error["type"], error["loc"], error["msg"]) == (
        "bool_parsing",
        ["query", "active"],
        TRUE_OR_FALSE,
    )
