"""Headlines in their own language and direction: the page and the digest mark each piece of
text a feed, a person or YAML wrote with `lang` (Korean, Japanese, Chinese by script) and
`dir="auto"`, so that a browser draws Japanese with Japanese glyphs, a screen reader reads
Korean with a Korean voice, and Arabic lays out right to left inside an English page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor.digest import DigestInput, render
from monitor.domain import Definitions, Evidence
from monitor.labeled import language_of
from monitor.languages import marked_language
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.store import Store
from monitor.webmodels import IndicatorView
from tests import webdata
from tests.webdata import NOW, VISA_HERALD, entry_id, news

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

KOREAN = "중국, 한국인 무비자 입국 연장"
JAPANESE = "China visa-free for Korea: 中国、韓国人のビザ免除を延長へ"
CHINESE = "China visa-free for Korea: 中国延长对韩国公民免签政策"
ARABIC = "الصين تمدد الإعفاء من التأشيرة China visa-free Korea"
RTL_MARK = "\u200fChina visa-free Korea, a headline that opens with a right-to-left mark"
HEADLINES = {KOREAN: "ko", JAPANESE: "ja", CHINESE: "zh", ARABIC: None, RTL_MARK: None}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Elements(HTMLParser):
    """Every element with its attributes and the text inside it (its children's too)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        text: list[str] = []
        self.found.append((tag, dict(attrs), text))
        self.open.append(text)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for text in self.open:
            text.append(data)

    def holding(self, words: str, **attrs: str) -> list[dict[str, str | None]]:
        """The attributes of the innermost elements whose text is `words` (with `attrs`)."""
        hits = [
            a
            for _tag, a, text in self.found
            if "".join(text).strip().strip("“”") == words
            and all(a.get(k) == v for k, v in attrs.items())
        ]
        return hits


def elements(html: str) -> Elements:
    parsed = Elements()
    parsed.feed(html)
    return parsed


@pytest.fixture
def client(app: FastAPI, store: Store, defs: Definitions) -> Iterator[TestClient]:
    ctx = webdata.context(store, defs)
    then = NOW - timedelta(days=1)
    found = [
        news("yonhap", 10 + n, title, f"https://example{n}.org/{n}", then)
        for n, title in enumerate(HEADLINES)
    ]
    store_entries(ctx, found, now=then)
    evaluate_and_record(ctx, now=then)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(("path", "shown"), [("/", 3), ("/indicators/visa-easing/page", 6)])
def test_every_headline_carries_its_language_and_direction(
    client: TestClient, path: str, shown: int
) -> None:
    expected = {**HEADLINES, VISA_HERALD: None}
    page = elements(client.get(path).text)
    seen = set()
    for _tag, attrs, text in page.found:
        headline = "".join(text).strip()
        if attrs.get("class") == "headline" and headline in expected:
            assert attrs.get("lang") == expected[headline], headline
            assert attrs["dir"] == "auto", headline
            seen.add(headline)
    assert len(seen) == shown  # the index lists the newest three of each indicator
    ((_, html, _),) = [e for e in page.found if e[0] == "html"]
    assert html["lang"] == "en"  # the page's own words stay English


def test_the_page_marks_yaml_text_and_an_analysts_note(client: TestClient, store: Store) -> None:
    herald = entry_id(store, VISA_HERALD)
    note = "관광 기사, 비자 아님"
    client.post(
        "/indicators/visa-easing/page/verdict",
        data={"entry": str(herald), "outcome": "eased", "verdict": "no", "note": note},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    page = elements(client.get("/indicators/visa-easing/page").text)
    (title,) = page.holding("Visa easing between China and South Korea", **{"dir": "auto"})
    assert title.get("lang") is None  # Latin: the page's en
    assert page.holding("Is there movement on visa-free entry between China and South Korea?")
    assert page.holding("Visas are waived or extended", dir="auto")
    (said,) = page.holding(note, **{"class": "note"})
    assert said == {"class": "note", "lang": "ko", "dir": "auto"}
    (word,) = [a for a in page.holding("중국") if a.get("lang") == "ko"]  # a matched term
    assert word["dir"] == "auto"


def test_the_digest_marks_headlines_and_snippets_with_their_language() -> None:
    evidence = tuple(
        Evidence(
            n,
            "visa-easing",
            "eased",
            title,
            f"https://e{n}.org/",
            f"e{n}.org",
            NOW,
            ("visa-free",),
            snippet=f"{title}。続報です",
        )
        for n, title in enumerate([JAPANESE, ARABIC], start=1)
    )
    line = IndicatorView(
        id="visa-easing", group="Travel", title="비자 완화", question="", status="eased:reported",
        since=NOW, reason="", started=NOW, window_days=30, outcomes=(), evidence=evidence,
        evidence_count=2,
    )  # fmt: skip
    text, html = render(DigestInput(NOW.date(), NOW, "UTC", (), (line,), ()))
    page = elements(html)
    (headline,) = page.holding(JAPANESE, href="https://e1.org/")
    assert (headline["lang"], headline["dir"]) == ("ja", "auto")
    (arabic,) = page.holding(ARABIC, href="https://e2.org/")
    assert (arabic.get("lang"), arabic["dir"]) == ("ja", "auto")  # its snippet says 続報です
    (title,) = page.holding("비자 완화", dir="auto")
    assert title["lang"] == "ko"
    assert JAPANESE in text and 'lang="' not in text  # the text part needs no marks


@pytest.mark.parametrize(
    ("text", "language", "marked"),
    [
        ("Xi meets Lee", "en", ""),
        ("北 미사일 발사", "ko", "ko"),
        ("中国、ビザ免除", "ja", "ja"),
        ("中国延长免签", "zh", "zh"),
        ("الصين", "en", ""),
    ],
)
def test_the_scorer_and_the_pages_read_one_language(text: str, language: str, marked: str) -> None:
    assert language_of(text) == language  # the labeled scorer's split
    assert marked_language(text) == marked  # the pages' `lang`


def test_the_explanation_marks_the_entrys_sentences(client: TestClient, store: Store) -> None:
    korean = entry_id(store, KOREAN)
    asked = client.get(f"/indicators/visa-easing/explain/{korean}", headers={"Accept": "text/html"})
    page = elements(asked.text)
    (headline,) = page.holding(KOREAN, **{"class": "headline"})
    assert (headline["lang"], headline["dir"]) == ("ko", "auto")
    (sentence,) = page.holding(KOREAN, value="1")
    assert (sentence["lang"], sentence["dir"]) == ("ko", "auto")
