"""Right-to-left text that people, feeds or their servers wrote (an analyst's name in a verdict
or silence row, a feed's error or warning, a status change's reason, a publisher) sits in an
element of its own with `dir="auto"` on the page and in the digest's HTML: a bidi isolate, so
that an Arabic or Hebrew name does not reorder the English words around it ("by …, 2026-…")."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from monitor.digest import DigestInput, FeedProblem, render
from monitor.domain import Definitions, Evidence, StatusChange
from monitor.silences import Silence
from monitor.statuses import judge
from monitor.store import Store
from monitor.webmodels import IndicatorView
from tests import storeops, test_web_lang, webdata
from tests.test_web_lang import VOID
from tests.webdata import NOW, VISA_HERALD, entry_id

client = test_web_lang.client  # fixtures
db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app

NAME = "أحمد"  # an analyst
SAID = "שביתה בנמל"  # a silence's reason, in Hebrew
ERROR = "خطأ في الخادم"  # what a feed's server answered
WARNING = "تحذير"
PUBLISHER = "مثال.مصر"


class Holders(HTMLParser):
    """For each piece of text that holds `words`: the innermost element around it, its
    attributes and all the text inside that element."""

    def __init__(self, words: str) -> None:
        super().__init__(convert_charrefs=True)
        self.words = words
        self.open: list[tuple[dict[str, str | None], list[str]]] = []
        self.holders: list[tuple[dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.open.append((dict(attrs), []))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for _attrs, text in self.open:
            text.append(data)
        if self.words in data and self.open:
            self.holders.append(self.open[-1])


def isolated(html: str, words: str) -> int:
    """How many times `words` are shown, each checked to be in an element with `dir="auto"`
    that holds none of the words around them."""
    parser = Holders(words)
    parser.feed(html)
    assert parser.holders, words
    for attrs, text in parser.holders:
        shown = "".join(text)
        assert attrs.get("dir") == "auto", (words, attrs, shown)
        assert not shown.strip().startswith(("by ", "because ", "yonhap")), shown
    return len(parser.holders)


def test_names_reasons_and_feed_errors_are_isolated_on_the_page(
    client: TestClient, store: Store, defs: Definitions
) -> None:
    then = NOW - timedelta(hours=1)
    store.add_silence(
        Silence("business-investment", None, SAID, NAME, then, NOW + timedelta(days=1))
    )
    herald = entry_id(store, VISA_HERALD)
    judge(
        defs,
        store,
        entry_id=herald,
        target=("business-investment", "momentum"),
        verdict="yes",
        who=NAME,
        now=then,
    )
    storeops.record_fetch(store, "gone", now=then, ok=False, error=ERROR)
    storeops.record_fetch(store, "yonhap", now=then, ok=True, warning=WARNING)

    indicator = client.get("/indicators/business-investment/page").text
    index = client.get("/").text

    assert isolated(indicator, NAME) == 3  # the silence's, the verdict's, the change's reason
    isolated(indicator, SAID)
    isolated(index, ERROR)
    isolated(index, WARNING)


def test_names_reasons_publishers_and_feed_problems_are_isolated_in_the_digest() -> None:
    evidence = Evidence(
        1, "visa-easing", "eased", "Visa news", "https://e.example/", PUBLISHER, NOW, ("visa",), ""
    )
    reason = f"verdict: yes on entry 1 by {NAME}"
    change = StatusChange(
        "visa-easing", NOW, "quiet", "eased:reported", (evidence,), "h", reason=reason
    )
    line = IndicatorView(
        id="visa-easing", group="Travel", title="Visa easing", question="", status="eased:reported",
        since=NOW, reason="", started=NOW, window_days=30, outcomes=(), evidence=(evidence,),
        evidence_count=1,
    )  # fmt: skip
    silence = Silence("visa-easing", None, SAID, NAME, NOW, NOW + timedelta(days=1))
    problem = FeedProblem("yonhap", "https://e.example/rss", f"failing: {ERROR}", NOW)
    data = DigestInput(NOW.date(), NOW, "UTC", (change,), (line,), (problem,), silences=(silence,))

    page = render(data)[1]

    assert isolated(page, NAME) == 2  # the change's reason, the silence's who
    isolated(page, SAID)
    isolated(page, ERROR)
    isolated(page, PUBLISHER)
