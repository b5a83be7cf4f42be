"""The page and the digest pass an accessibility audit: axe-core (the engine of the browsers'
audit tools; from the `axe-playwright-python` package, which bundles it), run in Debian's
chromium through Playwright on every shape of page a reader meets, with the data that makes
each shape whole: statuses of every kind (quiet, reported, confirmed, mixed, `unknown` with
why), evidence in Korean, Chinese and Japanese, verdicts, silences, failing feeds, a page behind
tokens signed in, the sign-in page with its error, a 404, an explanation, and the digest's HTML
part. Zero violations of the WCAG 2.1 A and AA rules; a failure lists each one readably (rule,
impact, where, why). What axe cannot see is checked by hand below: keyboard order and focus,
reflow at 320 px, status in words and not in colour alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from monitor.daily import digest_input
from monitor.definitions import load_definitions
from monitor.digest import build_digest
from monitor.domain import Definitions
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.store import Store, open_store
from monitor.views import COLOURS
from monitor.web import WebServer, create_app
from tests import webdata
from tests.test_digest import parts
from tests.test_web_browser import browser
from tests.webdata import DAY, NOW, VISA_HERALD, news

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
__all__ = ["browser"]  # a fixture

WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TOKENS = "alice:alice-token-1,bob:bob-token-2"
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
CJK = [
    "중국, 한국인 무비자 입국 연장",  # Korean
    "China visa-free for Korea: 中国延长对韩国公民免签政策",  # Chinese
    "China visa-free for Korea: 中国、韓国人のビザ免除を延長へ",  # Japanese
]
EASED = "Visas are waived or extended"  # visa-easing's one outcome
MIXED = "China urges restraint by all sides as Beijing backs sanctions on North Korea"


@dataclass
class Seeded:
    store: Store
    defs: Definitions


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The web tests' database (`webdata.populate`) where business-investment reads only the
    gone feed (so it is `unknown`, with why), north-korea-stance is `mixed`, and visa easing has
    evidence in Korean, Chinese and Japanese, two verdicts and a silence. Read, not written, by
    the tests of this module."""
    tmp_path = tmp_path_factory.mktemp("a11y")
    indicators = webdata.reading_only(tmp_path, "business-investment", "gone")
    defs = load_definitions(indicators, webdata.WEB / "feeds.yaml")
    with open_store(f"sqlite:///{tmp_path / 'monitor.db'}") as opened:
        webdata.populate(opened, defs)
        ctx = webdata.context(opened, defs)
        then = NOW - DAY
        found = [
            news("yonhap", 10 + n, title, f"https://example{n}.org/{n}", then, f"{title}. More.")
            for n, title in enumerate([*CJK, MIXED])
        ]
        store_entries(ctx, found, now=then)
        evaluate_and_record(ctx, now=then)
        seeded = Seeded(opened, defs)
        with serve(seeded) as server:
            judge_and_silence(server.url, opened)
        yield seeded


def serve(seeded: Seeded, **values: object) -> WebServer:
    app = create_app(store=seeded.store, definitions=lambda: seeded.defs,
                     settings=webdata.settings(**values), clock=lambda: NOW)  # fmt: skip
    return WebServer(app, host="127.0.0.1", port=0)


def judge_and_silence(base: str, store: Store) -> None:
    """A `no` with a Korean note, a `yes`, and a silence of one outcome, as the page's forms
    post them."""
    herald, korean = (webdata.entry_id(store, t) for t in (VISA_HERALD, CJK[0]))
    page = "/indicators/visa-easing/page"
    with httpx.Client(base_url=base, headers=SAME_SITE) as client:
        for entry, verdict, note in [(herald, "no", "관광 기사, 비자 아님"), (korean, "yes", "")]:
            form = {"entry": str(entry), "outcome": "eased", "verdict": verdict, "note": note}
            assert client.post(f"{page}/verdict", data=form).status_code == 303
        form = {"outcome": "eased", "for": "7d", "reason": "a holiday: the agencies repeat it"}
        assert client.post(f"{page}/silence", data=form).status_code == 303


# ---------------------------------------------------------------- axe


def audit(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now."""
    axe = pytest.importorskip(
        "axe_playwright_python.sync_playwright", reason="pip install -e '.[dev]'"
    )
    options = {"runOnly": {"type": "tag", "values": WCAG21_AA}, "resultTypes": ["violations"]}
    found: list[dict[str, Any]] = axe.Axe().run(page, options=options).response["violations"]
    return found


def readable(where: str, violations: list[dict[str, Any]]) -> str:
    """One paragraph per rule broken: its id, impact and help, then each element (its CSS
    target and the first words of its HTML) with axe's reason."""
    lines = [f"{where}: {len(violations)} axe violation(s)"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} element(s)]")
        for node in v["nodes"][:8]:
            why = "; ".join(c["message"] for key in ("any", "all", "none") for c in node[key])
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:120]}")
            lines.append(f"      {why}")
        if len(v["nodes"]) > 8:
            lines.append(f"    and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_no_violations(page: Any, where: str) -> None:
    violations = audit(page)
    assert not violations, readable(where, violations)


# ---------------------------------------------------------------- every page shape

OPEN_PAGES = {
    "index": "/",
    "indicator confirmed, verdicts, silence": "/indicators/visa-easing/page",
    "indicator unknown": "/indicators/business-investment/page",
    "indicator mixed": "/indicators/north-korea-stance/page",
    "explanation": "/indicators/visa-easing/explain/{herald}",
    "404": "/indicators/nope/page",
    "422": "/indicators/visa-easing/page?before=abc",
}


@pytest.fixture(scope="module")
def site(seeded: Seeded) -> Iterator[str]:
    """The page without tokens over the seeded database."""
    with serve(seeded) as server:
        yield server.url


def opened(browser: Any, url: str, width: int = 1280) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url)
    return page


@pytest.mark.parametrize("width", [1280, 320])
@pytest.mark.parametrize("shape", OPEN_PAGES)
def test_every_page_shape_has_no_axe_violation(
    site: str, seeded: Seeded, browser: Any, shape: str, width: int
) -> None:
    """On a desktop and at 320 px (its 1280 px at 400 % zoom), where a rule's tree and the
    feed-health table scroll in their own box: a box that scrolls is reached by the keyboard
    (axe: scrollable-region-focusable) and named for a screen reader."""
    herald = webdata.entry_id(seeded.store, VISA_HERALD)
    page = opened(browser, site + OPEN_PAGES[shape].format(herald=herald), width=width)
    assert page.locator("h1").count() == 1  # the page meant, not a blank one
    assert_no_violations(page, f"{shape} at {width} px")


@pytest.mark.parametrize(
    ("title", "verdict", "lang"), [(VISA_HERALD, "no", "ko"), (CJK[0], "yes", None)]
)
def test_an_explanation_with_a_standing_verdict_has_no_axe_violation(
    site: str, seeded: Seeded, browser: Any, title: str, verdict: str, lang: str | None
) -> None:
    """The analyst's verdict on the entry (a `no` with a Korean note, a `yes`) is a paragraph of
    its own after the rule's tree: inside the <pre> its long line made the <pre> scroll, and
    axe found a scrollable region no keyboard could reach (scrollable-region-focusable); the
    note is marked as the language it is written in."""
    entry = webdata.entry_id(seeded.store, title)
    page = opened(browser, f"{site}/indicators/visa-easing/explain/{entry}")
    said = page.locator('pre.tree[data-outcome="eased"] + p.verdict')
    assert said.get_attribute("data-verdict") == verdict  # what the audit reads
    assert page.locator("pre.tree").evaluate("e => e.scrollWidth <= e.clientWidth")
    note = said.locator(".note")
    assert note.get_attribute("lang") == lang if lang else note.count() == 0
    assert_no_violations(page, f"explanation with a verdict ({verdict})")


@pytest.mark.parametrize("width", [1280, 320])
def test_a_piece_judged_not_relevant_since_its_change_is_marked_and_audited(
    site: str, seeded: Seeded, browser: Any, width: int
) -> None:
    """The seeded `no` on the Herald's piece, given after the change that listed it: the
    history marks it there in words (not by colour alone), and the page still passes."""
    herald = webdata.entry_id(seeded.store, VISA_HERALD)
    page = opened(browser, f"{site}/indicators/visa-easing/page", width=width)
    mark = page.locator(f'.change li[data-entry="{herald}"] [data-not-relevant]')
    assert mark.count() == 1
    assert mark.inner_text().startswith("✗ judged not relevant by anonymous at ")
    assert mark.evaluate("e => e.scrollWidth <= e.clientWidth")  # nothing cut off at 320 px
    assert_no_violations(page, f"indicator with a piece judged not relevant at {width} px")


def test_the_index_audited_shows_every_kind_of_status(site: str, browser: Any) -> None:
    """What the audit above read: each kind of badge, evidence in three CJK languages, a silence
    and failing feeds, so that a colour or a label none of them drew is not left unchecked."""
    page = opened(browser, site + "/")
    badges = page.eval_on_selector_all(
        ".badge[data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert {"unknown", "mixed", "eased:confirmed", "expanded:reported"} <= set(badges)
    langs = page.eval_on_selector_all(".headline[lang]", "els => els.map(e => e.lang)")
    assert {"ko", "zh", "ja"} <= set(langs)
    assert page.locator(".silenced-tag").count() == 1
    assert page.locator("td.state.dead").count() == 1
    assert page.locator(".why-unknown").count() == 1


def test_signing_in_and_a_signed_in_page_have_no_axe_violation(
    seeded: Seeded, browser: Any
) -> None:
    with serve(seeded, api_tokens=TOKENS) as server:
        page = opened(browser, server.url + "/indicators/visa-easing/page")
        assert page.url.startswith(server.url + "/signin")
        assert_no_violations(page, "sign-in")
        page.keyboard.type("not-a-token")  # the token field has the focus: typed and sent
        page.keyboard.press("Enter")  # from the keyboard alone
        assert page.get_by_role("alert").inner_text() == "That is not a token of this monitor."
        assert_no_violations(page, "sign-in, refused")
        page.get_by_label("Token").focus()
        page.keyboard.type("alice-token-1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("form.session [data-who=alice]").count() == 1
        assert_no_violations(page, "indicator, signed in")
        page.goto(server.url + "/")
        assert_no_violations(page, "index, signed in")
        page.goto(server.url + "/indicators/nope/page")
        assert_no_violations(page, "404, signed in")


# ---------------------------------------------------------------- the digest


def digest_html(seeded: Seeded) -> str:
    """The HTML part of today's digest over the seeded database: every kind of change (to
    unknown and mixed too), the silence, the standing statuses and the feed gone."""
    data = digest_input(seeded.defs, seeded.store, day=NOW.date(), now=NOW, timezone="UTC",
                        public_url="http://127.0.0.1:8000/")  # fmt: skip
    _, html = parts(build_digest(data, sender="monitor@example.org", recipients=["a@b.org"]))
    return html


def test_the_digest_has_no_axe_violation(seeded: Seeded, browser: Any, tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_text(digest_html(seeded), encoding="utf-8")
    page = opened(browser, (tmp_path / "digest.html").as_uri(), width=820)
    statuses = page.eval_on_selector_all("[data-status]", "els => els.map(e => e.dataset.status)")
    assert {"unknown", "mixed", "quiet", "eased:confirmed", "expanded:reported"} <= set(statuses)
    assert page.locator("[data-silenced]").count() == 1 and "HTTP 410" in page.inner_text("body")
    message = page.get_by_role("article", name=page.title(), exact=True)
    assert message.get_attribute("aria-roledescription") == "email"
    assert message.locator("h1").count() == 1  # the whole digest is in it
    assert_no_violations(page, "digest")


def test_the_digest_with_the_days_verdicts_has_no_axe_violation(
    seeded: Seeded, browser: Any, tmp_path: Path
) -> None:
    """Built just after the seeded verdicts (given through the page, at the clock's time): they
    are the day's, listed in their own section, the Korean note marked as Korean."""
    after = max(v.at for v, _ in seeded.store.verdicts()) + timedelta(seconds=1)
    data = digest_input(seeded.defs, seeded.store, day=NOW.date(), now=after, timezone="UTC",
                        public_url="http://127.0.0.1:8000/")  # fmt: skip
    _, html = parts(build_digest(data, sender="monitor@example.org", recipients=["a@b.org"]))
    (tmp_path / "digest.html").write_text(html, encoding="utf-8")
    page = opened(browser, (tmp_path / "digest.html").as_uri(), width=820)
    verdicts = page.locator("li[data-verdict]")
    assert verdicts.count() == 2 and verdicts.first.locator("i[lang=ko]").count() == 1
    assert_no_violations(page, "digest with verdicts")


WEBMAIL = """<!DOCTYPE html><html lang="fr"><head><title>Boîte de réception</title></head>
<body><header><p>Messagerie</p></header><main><h1>Boîte de réception</h1>{message}</main>
</body></html>"""


def test_the_digest_inside_a_webmail_page_is_one_article_in_english(
    seeded: Seeded, browser: Any, tmp_path: Path
) -> None:
    """Webmail keeps a message's body and drops its <html> and <head>: the digest sits in the
    client's own page (here a French one, with its own header and main). A <main> or <header> of
    the digest would be a second one there; its `<html lang="en">` is gone, so a screen reader
    read the English digest in the page's French. The digest is one article named by its subject
    (landmark navigation reaches it), in English, and the page stays free of violations."""
    html = digest_html(seeded)
    body = re.search(r"<body[^>]*>(.*)</body>", html, re.S)
    title = re.search(r"<title>(.*)</title>", html)
    assert body is not None and title is not None
    (tmp_path / "webmail.html").write_text(WEBMAIL.format(message=body[1]), encoding="utf-8")
    page = opened(browser, (tmp_path / "webmail.html").as_uri(), width=820)
    assert page.locator("main").count() == 1 and page.locator("header").count() == 1
    message = page.get_by_role("article", name=unescape(title[1]), exact=True)
    said_in = "e => e.closest('[lang]').lang"
    assert message.locator("h2").first.evaluate(said_in) == "en"
    assert "What changed" in message.inner_text()
    assert_no_violations(page, "digest in a webmail page")


# ---------------------------------------------------------------- what axe cannot see

CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]"
NUMBERED = f"""() => {{
  const found = [...document.querySelectorAll({CONTROLS!r})];
  found.forEach((e, n) => e.dataset.a11y = n);
  return found.map(e => e.tabIndex);
}}"""
FOCUSED = """() => { const e = document.activeElement, s = getComputedStyle(e);
  return [e.dataset.a11y ?? null, s.outlineStyle, parseFloat(s.outlineWidth) || 0]; }"""
RING = """() => { const e = document.activeElement, seen = c => !c.endsWith(', 0)');
  let around = e.parentElement;
  while (around && !seen(getComputedStyle(around).backgroundColor)) around = around.parentElement;
  const behind = getComputedStyle(around).backgroundColor;
  const own = getComputedStyle(e).backgroundColor;
  return [getComputedStyle(e).outlineColor, seen(own) ? own : behind, behind]; }"""


@pytest.mark.parametrize(
    "shape", ["index", "indicator confirmed, verdicts, silence", "explanation"]
)
def test_tab_reaches_every_control_in_reading_order_with_a_visible_focus_ring(
    site: str, seeded: Seeded, browser: Any, shape: str
) -> None:
    """From the top of the page, Tab goes through every link, field and button once, in the
    order they are read (no tabindex reorders them), and each one focused is drawn with a focus
    ring at 3:1 and more against the control and what is around it (WCAG 1.4.11: the page's own
    ring, 3 px of #0b57d0, on white, the page's grey, a silence's lilac and the buttons' #fafaf8;
    no control sits on a badge's colour), then leaves the page. The ring is the page's, solid
    and 2 px or more, not left to the browser (chromium's own was 1 px, `auto`)."""
    herald = webdata.entry_id(seeded.store, VISA_HERALD)
    page = opened(browser, site + OPEN_PAGES[shape].format(herald=herald))
    tab_indexes = page.evaluate(NUMBERED)
    assert len(tab_indexes) > 5 and set(tab_indexes) == {0}
    reached = []
    for _ in tab_indexes:
        page.keyboard.press("Tab")
        number, outline, width = page.evaluate(FOCUSED)
        assert outline == "solid" and width >= 2, (number, outline, width)
        ring, inside, behind = page.evaluate(RING)  # 3:1 on the control and around it
        for colour in (inside, behind):
            assert contrast(hex_of(ring), hex_of(colour)) >= 3, (number, ring, colour)
        reached.append(int(number))
    assert reached == list(range(len(tab_indexes)))
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)[0] is None  # past the last one: out of the page


CUT_OFF = """() => [...document.querySelectorAll('body *')].flatMap(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  const out = r.right > innerWidth + 0.5 && !e.closest('.wide, pre');
  const clipped = ['hidden', 'clip'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
  return out || clipped ? [e.outerHTML.slice(0, 100)] : [];
})"""


@pytest.mark.parametrize("shape", [*OPEN_PAGES, "digest"])
def test_at_320_px_nothing_is_cut_off_or_needs_sideways_scrolling(
    site: str, seeded: Seeded, browser: Any, shape: str, tmp_path: Path
) -> None:
    """Reflow (WCAG 1.4.10): a 1280 px screen zoomed to 400 % is 320 CSS pixels wide; the page
    reads without scrolling sideways, but for the feed-health table and a rule's tree, which
    scroll in their own box."""
    if shape == "digest":
        (tmp_path / "digest.html").write_text(digest_html(seeded), encoding="utf-8")
        url = (tmp_path / "digest.html").as_uri()
    else:
        herald = webdata.entry_id(seeded.store, VISA_HERALD)
        url = site + OPEN_PAGES[shape].format(herald=herald)
    page = opened(browser, url, width=320)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.evaluate(CUT_OFF) == []


def test_every_status_is_written_out_not_told_by_colour_alone(site: str, browser: Any) -> None:
    """Each badge says its status in words (unknown with its ⚠), and each colour of the
    timeline's legend comes with the status it stands for."""
    for path in ("/", "/indicators/visa-easing/page", "/indicators/business-investment/page"):
        page = opened(browser, site + path)
        badges = page.eval_on_selector_all(
            ".badge[data-status]", "els => els.map(e => [e.dataset.status, e.innerText])"
        )
        assert badges
        for code, words in badges:
            assert words == ("⚠ unknown" if code == "unknown" else code), path
        legend = page.eval_on_selector_all(
            ".legend i", "els => els.map(e => e.nextElementSibling.innerText)"
        )
        assert legend and all(legend), path


def contrast(one: str, other: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[n : n + 2], 16) / 255 for n in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_status_colour_reads_at_4_5_to_1() -> None:
    """Every tone's words on its badge (the page and the digest draw from `COLOURS`), also the
    outcome hues no audited page showed: at least WCAG AA's 4.5:1 for text."""
    low = {
        tone: round(contrast(c.text, c.background), 2)
        for tone, c in COLOURS.items()
        if contrast(c.text, c.background) < 4.5
    }
    assert low == {}


def test_each_why_link_is_named_for_the_rule_and_entry_it_explains(
    site: str, seeded: Seeded, browser: Any
) -> None:
    """A screen reader's list of links reads "Why?: the rule of … on entry 7", not "Why?" once
    per piece of evidence and verdict; the visible word stays "Why?" and leads the name."""
    page = opened(browser, site + "/indicators/visa-easing/page")
    links = page.locator("a.why")
    assert links.count() >= 5
    for n in range(links.count()):
        link = links.nth(n)
        entry = link.locator("xpath=ancestor::li[1]").get_attribute("data-entry")
        name = f"Why?: the rule of {EASED} on entry {entry}"
        assert link.inner_text() == "Why?"
        assert page.get_by_role("link", name=name, exact=True).nth(0).count() == 1, name
        assert link.get_attribute("aria-label") == name


def test_the_timeline_says_in_words_which_status_held_when(site: str, browser: Any) -> None:
    """The timeline draws each stretch of a status in its colour; to a screen reader it is one
    image, named by those stretches in order (status and dates), not only by how many changes
    there were."""
    page = opened(browser, site + "/indicators/visa-easing/page")
    svg = page.locator("svg.timeline")
    stretches = svg.locator("rect.seg title").all_text_contents()
    assert len(stretches) >= 2 and all(" – " in s for s in stretches)
    name = "Status over the last 90 days, 2 changes: " + "; ".join(stretches)
    assert stretches[-1].startswith(f"{EASED} (confirmed): ")
    assert page.get_by_role("img", name=name, exact=True).count() == 1


SWATCHES = """() => [...document.querySelectorAll('.legend i')].map(i => {
  const seg = i.closest('article').querySelector(`rect.seg.${[...i.classList].join('.')}`);
  return [i.className, getComputedStyle(i).backgroundColor, getComputedStyle(seg).fill,
          getComputedStyle(i).borderTopColor, getComputedStyle(i).borderTopWidth];
})"""
EDGES = """() => [...document.querySelectorAll('rect.seg')].map(r => [r.getAttribute('class'),
  getComputedStyle(r).stroke, getComputedStyle(r).strokeWidth])"""


def hex_of(rgb: str) -> str:
    """`rgb(1, 2, 3)` as `#010203`."""
    return "#" + "".join(f"{int(n):02x}" for n in re.findall(r"\d+", rgb)[:3])


@pytest.mark.parametrize("path", ["/", "/indicators/visa-easing/page"])
def test_the_timelines_legend_shows_each_status_as_its_stretch_is_drawn(
    site: str, browser: Any, path: str
) -> None:
    """Each swatch of the legend is in the colour of its status's stretch (not the badge's
    lighter one), and swatches and stretches have an edge at 3:1 or more on the white card
    (WCAG 1.4.11), so a grey quiet or a light reported stretch is seen where it begins."""
    page = opened(browser, site + path)
    swatches = page.evaluate(SWATCHES)
    assert {"quiet", "o0 reported", "o0 confirmed"} <= {tone for tone, *_ in swatches}
    for tone, swatch, fill, edge, width in swatches:
        assert swatch == fill, tone
        assert contrast(hex_of(edge), "#ffffff") >= 3 and width == "1px", tone
    for tone, stroke, width in page.evaluate(EDGES):
        assert stroke != "none" and contrast(hex_of(stroke), "#ffffff") >= 3, tone
        assert float(width.removesuffix("px")) >= 1, tone


FIELDS = """() => [...document.querySelectorAll('input:not([type=hidden]), select')].map(f => {
  let around = f.parentElement;
  while (around && getComputedStyle(around).backgroundColor.endsWith(', 0)'))
    around = around.parentElement;
  return [f.getAttribute('aria-label') || f.id, getComputedStyle(f).borderTopColor,
          getComputedStyle(f).backgroundColor, getComputedStyle(around).backgroundColor];
})"""


def test_every_form_field_is_outlined_at_3_to_1(seeded: Seeded, browser: Any) -> None:
    """A text, number or password field (and a select) is seen by its border, at 3:1 and more
    against the field and what is around it (WCAG 1.4.11): the page's pale #e2e2dc was 1.3:1."""
    with serve(seeded, api_tokens=TOKENS) as server:
        page = opened(browser, server.url + "/indicators/north-korea-stance/page")
        fields = page.evaluate(FIELDS)  # sign-in's token
        page.get_by_label("Token").fill("alice-token-1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        fields += page.evaluate(FIELDS)  # silence, note, entry id, outcome selects
    assert len(fields) >= 8
    for name, border, inside, around in fields:
        for other in (inside, around):
            assert contrast(hex_of(border), hex_of(other)) >= 3, (name, border, other)


FOCUS_AFTER = """id => document.getElementById(id).compareDocumentPosition(document.activeElement)
  & Node.DOCUMENT_POSITION_FOLLOWING"""


@pytest.mark.parametrize("section", ["Silence", "Evidence now", "Verdicts", "History"])
def test_a_keyboard_user_jumps_to_a_section_of_an_indicators_page(
    site: str, browser: Any, section: str
) -> None:
    """Past the card, a few Tabs reach "On this page", whose links take the keyboard to each
    section: the next Tab goes on from there, not through every evidence form before it."""
    page = opened(browser, site + "/indicators/visa-easing/page")
    contents = page.get_by_role("navigation", name="On this page")
    link = contents.get_by_role("link", name=section, exact=True)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == section:
            break
    assert link.evaluate("a => a === document.activeElement")
    target = link.get_attribute("href").removeprefix("#")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_AFTER, target)  # focus goes on after the section's heading
    inside = page.evaluate("document.activeElement.closest('nav') === null")
    assert inside and page.evaluate("scrollY") > 0


def test_the_index_names_each_cards_links_for_its_indicator(site: str, browser: Any) -> None:
    """A screen reader's list of links on the index reads "Full history of Visa easing …", not
    "Full history →" once per indicator; the visible words stay."""
    page = opened(browser, site + "/")
    titles = page.locator("article.indicator h3").all_inner_texts()
    assert len(titles) == 4
    for title in titles:
        card = page.locator("article.indicator", has=page.get_by_role("heading", name=title))
        history = card.get_by_role("link", name=f"Full history of {title}", exact=True)
        assert history.inner_text() == "Full history →"
    visa = "Visa easing between China and South Korea"
    assert page.get_by_role("link", name=f"silenced: {visa}", exact=True).inner_text() == "silenced"
    more = page.get_by_role("link", name=f"1 more on the page of {visa}", exact=True)
    assert more.inner_text() == "1 more on the indicator's page"


def test_the_index_headings_read_as_their_group_not_with_the_label_above(
    site: str, browser: Any
) -> None:
    """A screen reader's list of headings reads each group ("Korea") and "Feed health", not
    "What to watch Korea" and "Sources Feed health"; the small label above each stays in sight."""
    page = opened(browser, site + "/")
    groups = page.locator("nav.overview .g").all_text_contents()
    assert groups
    expected = [*dict.fromkeys(groups), "Feed health"]
    assert page.get_by_role("heading", level=2).count() == len(expected)
    for name in expected:
        assert page.get_by_role("heading", level=2, name=name, exact=True).count() == 1, name
    kickers = page.locator("h2 .kicker").all_inner_texts()
    assert kickers == ["WHAT TO WATCH"] * (len(expected) - 1) + ["SOURCES"]


def test_the_silence_forms_reason_is_named_for_its_indicator(site: str, browser: Any) -> None:
    """The reason of a silence is asked as "Why silence Visa easing …", named for what it
    silences as the verdicts' note fields are for their entry, not a bare "Why"; the field is
    required, which a screen reader says of it."""
    page = opened(browser, site + "/indicators/visa-easing/page")
    title = page.locator("h1").inner_text()
    reason = page.get_by_role("textbox", name=f"Why silence {title}", exact=True)
    assert reason.get_attribute("name") == "reason"
    assert reason.evaluate("f => f.required && f.closest('form').action.endsWith('/silence')")


ROW_LOOK = """tr => [tr.children[0], tr.querySelector('td:not([class])')].map(c => {
  const s = getComputedStyle(c); return [s.fontWeight, s.backgroundColor]; })"""


def test_the_feed_health_table_has_column_and_row_headers(site: str, browser: Any) -> None:
    """In the feed-health table a screen reader names each cell by its column ("State") and its
    row's feed: the heads are `<th scope="col">` and each row's feed `<th scope="row">`, drawn
    as the cells beside it."""
    page = opened(browser, site + "/")
    table = page.locator("#feeds + .wide table")
    columns = table.locator("thead th")
    assert columns.count() == 7
    assert set(columns.evaluate_all("ths => ths.map(t => t.scope)")) == {"col"}
    rows = table.locator("tbody tr")
    assert rows.count() >= 3
    for n in range(rows.count()):
        row = rows.nth(n)
        header = row.get_by_role("rowheader")
        assert header.count() == 1 and header.get_attribute("scope") == "row"
        assert header.evaluate("h => h === h.parentElement.firstElementChild")
        feed = row.get_attribute("data-feed")
        assert header.inner_text().strip(), feed
        head, cell = row.evaluate(ROW_LOOK)
        assert head == cell, feed


LABELS = """() => [...document.querySelectorAll('article.indicator')].map(card =>
  [...card.querySelectorAll('svg text, .began')].flatMap(t => {
    const r = t.getBoundingClientRect(), c = card.getBoundingClientRect(), s = getComputedStyle(t);
    if (s.display === 'none' || !r.width) return [];
    const scale = t instanceof SVGElement ? r.height / t.getBBox().height : 1;
    return [[t.textContent, r.left, r.right, parseFloat(s.fontSize) * scale, c.left, c.right]];
  }))"""


@pytest.mark.parametrize("width", [320, 360, 768, 901, 1024, 1280])
@pytest.mark.parametrize("path", ["/", "/indicators/visa-easing/page"])
def test_the_timelines_dates_stay_readable_at_every_width(
    site: str, browser: Any, path: str, width: int
) -> None:
    """The timeline's dates under it ("Aug 18" … "today") and its "monitoring began" are drawn
    at 12 px or more at any width, measured as drawn (at 320 px the dates shrank with the
    drawing to about 4 px; at 901 px its 13 px "monitoring began" drew at 10.7), and do not run
    into each other or out of the card."""
    page = opened(browser, site + path, width=width)
    drawn = [labels for labels in page.evaluate(LABELS) if labels]
    assert len(drawn) >= page.locator("svg.timeline").count()
    for labels in drawn:
        assert len(labels) >= 4 or labels[0][0].startswith("monitoring began")
        for text, left, right, size, card_left, card_right in labels:
            assert size >= 12, (text, size)
            assert card_left <= left and right <= card_right, text
        spans = sorted((left, right) for _, left, right, *_ in labels)
        assert all(one[1] < other[0] for one, other in pairwise(spans)), labels
