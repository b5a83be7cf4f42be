"""The explanation a person reads: GET /indicators/{id}/explain/{entry} asked as a browser
(Accept: text/html) over the real server on 127.0.0.1 answers a page of what `monitor explain`
prints, JSON stays the answer of everything else, and the indicator's page links each piece of
evidence and each verdict to it ("Why?"). A hostile headline stays text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from monitor.definitions import load_definitions
from monitor.domain import Definitions, Judgement, Verdict, iso_time
from monitor.match import Matcher
from monitor.match.explain import EntryExplanation, explain_entry
from monitor.match.explaintext import numbered_sentences, outcome_blocks
from monitor.store import Store
from monitor.web import WebServer, create_app
from tests import storeops, webdata
from tests.webdata import GENERAL, HOSTILE_LINK, HOSTILE_TITLE, NOW, VISA_HERALD, entry_id, news

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def web(app: FastAPI) -> Iterator[httpx.Client]:
    with (
        WebServer(app, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


class Page(HTMLParser):
    """Start tags with their attributes, and the text inside each element of interest."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.pres: list[tuple[dict[str, str | None], str]] = []
        self.verdicts: list[tuple[dict[str, str | None], str]] = []  # p.verdict
        self.items: list[tuple[str | None, str]] = []  # ol.sentences: (value, text)
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "pre":
            self.pres.append((dict(attrs), ""))
            self._in = "pre"
        elif tag == "p" and dict(attrs).get("class") == "verdict":
            self.verdicts.append((dict(attrs), ""))
            self._in = "p"
        elif tag == "li" and "value" in dict(attrs):
            self.items.append((dict(attrs)["value"], ""))
            self._in = "li"

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in == "pre":
            self.pres[-1] = (self.pres[-1][0], self.pres[-1][1] + data)
        elif self._in == "p":
            self.verdicts[-1] = (self.verdicts[-1][0], self.verdicts[-1][1] + data)
        elif self._in == "li":
            self.items[-1] = (self.items[-1][0], self.items[-1][1] + data)

    def hrefs(self, cls: str) -> list[str | None]:
        return [a.get("href") for t, a in self.tags if t == "a" and a.get("class") == cls]


def explained(
    store: Store, defs: Definitions, indicator: str, entry: int, outcome: str | None
) -> EntryExplanation:
    stored = store.entry(entry)
    assert stored is not None
    matcher = Matcher((defs.indicator(indicator),))
    return explain_entry(matcher, indicator, stored.entry.title, stored.entry.text,
                         outcome_id=outcome, entry_id=entry)  # fmt: skip


# ---------------------------------------------------------------- the page of an explanation


def test_a_browser_gets_the_explanation_as_a_page_of_what_monitor_explain_prints(
    web: httpx.Client, store: Store, defs: Definitions
) -> None:
    herald = entry_id(store, VISA_HERALD)
    answer = web.get(f"/indicators/visa-easing/explain/{herald}?outcome=eased", headers=BROWSER)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store" and "etag" not in answer.headers
    assert answer.headers["vary"] == "Accept"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page = Page(answer.text)
    heading = f"Why visa-easing:eased on entry {herald}"
    assert f"<title>{heading} — monitor</title>" in answer.text
    assert f"<h1>{heading}</h1>" in answer.text
    assert ("a", {"href": "/indicators/visa-easing/page"}) in page.tags  # back to its page
    headline = [a for t, a in page.tags if t == "a" and a.get("rel")]
    assert headline == [{"href": "https://www.koreaherald.com/article/1",
                         "rel": "noopener noreferrer nofollow"}]  # fmt: skip
    assert VISA_HERALD in page.text
    found = explained(store, defs, "visa-easing", herald, "eased")
    assert [(attrs["data-outcome"], attrs["data-matched"], text) for attrs, text in page.pres] == [
        ("eased", "yes", "\n".join(outcome_blocks(found)[0]))
    ]
    assert page.pres[0][1].splitlines()[1].startswith("  yes all")
    assert page.items == [(str(n), s) for n, s in numbered_sentences(found.sentences)]
    assert 'href="/changes.atom"' in answer.text  # the frame (and look) of the other pages


def test_every_outcome_is_explained_when_none_is_named(
    web: httpx.Client, store: Store, defs: Definitions
) -> None:
    general = entry_id(store, GENERAL)
    answer = web.get(f"/indicators/north-korea-stance/explain/{general}", headers=BROWSER)

    page = Page(answer.text)
    assert f"<h1>Why north-korea-stance on entry {general}</h1>" in answer.text
    assert [(a["data-outcome"], a["data-matched"]) for a, _ in page.pres] == [
        ("pressure", "no"),
        ("balance", "no"),
    ]
    found = explained(store, defs, "north-korea-stance", general, None)
    assert [text for _, text in page.pres] == ["\n".join(b) for b in outcome_blocks(found)]
    assert all(text.splitlines()[1].startswith("  no  all") for _, text in page.pres)


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
def test_json_stays_the_answer_of_everything_but_a_browser(
    web: httpx.Client, store: Store, accept: str | None
) -> None:
    herald = entry_id(store, VISA_HERALD)
    headers = {} if accept is None else {"Accept": accept}
    answer = web.get(f"/indicators/visa-easing/explain/{herald}", headers=headers)

    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["vary"] == "Accept"
    assert answer.json()["entry"] == herald and answer.json()["outcomes"][0]["matched"] is True


def test_a_browser_gets_an_unknown_entry_as_an_error_page(web: httpx.Client) -> None:
    answer = web.get("/indicators/visa-easing/explain/999999", headers=BROWSER)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "explain: no entry 999999" in answer.text


def test_a_hostile_headline_is_inert_in_the_explanation(web: httpx.Client, store: Store) -> None:
    hostile = entry_id(store, HOSTILE_TITLE)
    answer = web.get(f"/indicators/visa-easing/explain/{hostile}", headers=BROWSER)

    assert answer.status_code == 200
    page = Page(answer.text)
    assert [t for t, _ in page.tags if t in ("script", "img", "iframe", "object")] == []
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert all(
        not (value or "").strip().lower().startswith("javascript:")
        for _, attrs in page.tags
        for value in attrs.values()
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in answer.text
    assert HOSTILE_TITLE in page.text  # the headline, and sentence 1, as text
    assert page.items[0] == ("1", HOSTILE_TITLE)
    assert HOSTILE_LINK in page.text  # shown, never an href
    assert "script-src" not in answer.headers["content-security-policy"]


def test_a_vocabulary_is_named_on_the_page_and_in_the_json(store: Store, tmp_path: Path) -> None:
    """The rule of visa-easing read with its China list from a vocabulary: the page shows the
    reference in the tree (escaped, as all of it is), the JSON names it on its node."""
    vocab_defs = load_definitions(webdata.with_vocabulary(tmp_path), webdata.WEB / "feeds.yaml")
    app = create_app(store=store, definitions=lambda: vocab_defs, settings=webdata.settings(),
                     clock=lambda: NOW)  # fmt: skip
    herald = entry_id(store, VISA_HERALD)
    path = f"/indicators/visa-easing/explain/{herald}?outcome=eased"
    with (
        WebServer(app, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        answer, served = client.get(path, headers=BROWSER), client.get(path)

    line = f"      yes any {webdata.CHINA_VOCAB} (3 terms) in the entry: Chinese (1)"
    assert answer.status_code == 200 and served.status_code == 200
    (tree,) = Page(answer.text).pres
    assert tree[1].splitlines()[2] == line
    assert escape(line, quote=False) in answer.text
    rule = served.json()["outcomes"][0]["rule"]
    assert rule["children"][0]["vocabulary"] == webdata.CHINA_VOCAB
    assert [c["vocabulary"] for c in rule["children"][1:]] == [None, None]


def test_the_verdict_that_stands_on_the_entry_is_in_the_json_and_on_the_page(
    store: Store, defs: Definitions
) -> None:
    """The JSON and the page said nothing of an analyst's verdict, where `monitor explain`
    says it: each outcome's `verdict` (null where none stands), and on the page, in a paragraph
    of its own after the tree (not in the <pre>, which it made scroll), the line `monitor
    explain` prints under the outcome's first line, its time in the page's zone; the tree is
    the one an entry no analyst judged has."""
    herald, general = entry_id(store, VISA_HERALD), entry_id(store, GENERAL)
    at = NOW - timedelta(hours=3)
    store.add_verdict(Verdict(herald, "visa-easing", "eased", Judgement.NO, "ana", at, "old news"))
    old = NOW - timedelta(days=45)  # beyond visa-easing's 30d window
    storeops.add_entries(store, [news("yonhap", 40, "Seoul stocks dip", "https://e.example/40",
                                      old)], now=old)  # fmt: skip
    archived = entry_id(store, "Seoul stocks dip")
    store.add_verdict(Verdict(archived, "visa-easing", "eased", Judgement.YES, "ana", at))
    seoul = create_app(store=store, definitions=lambda: defs, clock=lambda: NOW,
                       settings=webdata.settings(timezone="Asia/Seoul"))  # fmt: skip
    with (
        WebServer(seoul, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        path = f"/indicators/visa-easing/explain/{herald}"
        served, answer = client.get(path), client.get(path, headers=BROWSER)
        beyond = client.get(f"/indicators/visa-easing/explain/{archived}").json()
        unjudged = client.get(f"/indicators/visa-easing/explain/{general}").json()

    (outcome,) = served.json()["outcomes"]
    assert outcome["matched"] is True
    assert outcome["verdict"] == {
        "verdict": "no", "who": "ana", "at": iso_time(at), "note": "old news",
        "agrees": False, "beyond_window": "",
    }  # fmt: skip
    (yes,) = beyond["outcomes"]
    assert yes["verdict"]["beyond_window"] == (
        "older than its 30d window: the yes adds no evidence now"
    )
    assert unjudged["outcomes"][0]["verdict"] is None
    page = Page(answer.text)
    ((attrs, tree),) = page.pres
    assert attrs == {
        "class": "tree", "data-outcome": "eased", "data-matched": "yes", "tabindex": "0",
        "role": "region", "aria-label": "The rule of visa-easing:eased, part by part",
    }  # fmt: skip
    assert tree == "\n".join(outcome_blocks(explained(store, defs, "visa-easing", herald, None))[0])
    ((said, words),) = page.verdicts
    assert (said["data-outcome"], said["data-verdict"], said["data-agrees"]) == (
        "eased",
        "no",
        "no",
    )
    kst = at.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M KST")
    assert words == (
        f'but an analyst\'s verdict stands: no by ana at {kst} ("old news"): not relevant:'
        " it is not evidence, whatever the rule says"
    )
    assert answer.text.index("</pre>") < answer.text.index('<p class="verdict"')  # after it


def test_a_signed_in_browser_sees_who_it_is_on_the_explanation(
    store: Store, defs: Definitions
) -> None:
    settings = webdata.settings(api_tokens="alice:alice-token-1")
    guarded = create_app(store=store, definitions=lambda: defs, settings=settings,
                         clock=lambda: NOW)  # fmt: skip
    herald = entry_id(store, VISA_HERALD)
    path = f"/indicators/visa-easing/explain/{herald}"
    with (
        WebServer(guarded, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        signed_in = client.post(
            "/signin", data={"token": "alice-token-1", "next": path},
            headers={**BROWSER, "Sec-Fetch-Site": "same-origin"}, follow_redirects=True,
        )  # fmt: skip
    assert signed_in.status_code == 200 and str(signed_in.url).endswith(path)
    assert 'data-who="alice"' in signed_in.text and "Sign out" in signed_in.text
    assert len(re.findall(r'name="csrf" value="[^"]+"', signed_in.text)) == 1  # sign-out
    assert "<!--" not in signed_in.text.split("<body>")[1]  # no slot left unfilled


# ---------------------------------------------------------------- the indicator's page


def test_the_indicator_page_links_each_piece_of_evidence_and_each_verdict_to_why(
    web: httpx.Client, store: Store
) -> None:
    herald, general = entry_id(store, VISA_HERALD), entry_id(store, GENERAL)
    before = web.get("/indicators/north-korea-stance/page")
    assert Page(before.text).hrefs("why") == []  # no evidence, no verdict
    judged = web.post(f"/indicators/north-korea-stance/evidence/{general}/verdict",
                      json={"outcome": "balance", "verdict": "yes", "note": "a miss"})  # fmt: skip
    assert judged.status_code == 200

    page = web.get("/indicators/north-korea-stance/page")
    why = f"/indicators/north-korea-stance/explain/{general}?outcome=balance"
    assert page.headers["etag"] != before.headers["etag"]
    again = web.get(page.request.url, headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304  # the links are of the data: the page's ETag holds
    evidence = page.text.split('id="evidence"')[1].split('id="verdicts"')[0]
    verdicts = page.text.split('id="verdicts"')[1].split('id="history"')[0]
    assert Page(evidence).hrefs("why") == [why]  # the confirmed miss is evidence now
    assert Page(verdicts).hrefs("why") == [why]
    assert Page(page.text.split('id="history"')[1]).hrefs("why") == []

    visa = Page(web.get("/indicators/visa-easing/page").text).hrefs("why")
    hostile = entry_id(store, HOSTILE_TITLE)
    assert sorted(visa) == sorted(
        f"/indicators/visa-easing/explain/{n}?outcome=eased" for n in (herald, hostile)
    )
    for href in [*visa, why]:
        assert web.get(str(href), headers=BROWSER).status_code == 200


def test_a_verdict_on_an_outcome_no_longer_defined_links_to_every_outcome(
    web: httpx.Client, store: Store
) -> None:
    """Its outcome was renamed or taken out: `?outcome=` it would be 422, so the link asks why
    each outcome that is defined did or did not fire."""
    general = entry_id(store, GENERAL)
    store.add_verdict(Verdict(general, "north-korea-stance", "renamed", "yes", "cli", NOW))

    page = web.get("/indicators/north-korea-stance/page")
    verdicts = page.text.split('id="verdicts"')[1].split('id="history"')[0]
    (why,) = Page(verdicts).hrefs("why")
    assert why == f"/indicators/north-korea-stance/explain/{general}"
    assert web.get(why, headers=BROWSER).status_code == 200
