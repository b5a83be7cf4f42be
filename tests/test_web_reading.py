"""What a reader meets on the page beyond the audit of tests/test_web_a11y.py, in Debian's
chromium: Japanese and Chinese headlines drawn in their own glyph forms (the font chromium
picks, as DevTools reports it), a keyboard's way past the index's list of every indicator,
an error page quoting a long address that wraps on a phone, the timeline's stretches in
words and its bar's height on a phone, and each page's title and headings."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise
from typing import Any

import pytest

from tests import webdata
from tests.test_web_a11y import CJK, OPEN_PAGES, TOKENS, Seeded, opened, seeded, serve, site
from tests.test_web_browser import browser, shot
from tests.webdata import VISA_HERALD

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
__all__ = ["browser", "seeded", "site"]  # fixtures

FONTS = {"ko": "Noto Sans CJK KR", "ja": "Noto Sans CJK JP", "zh": "Noto Sans CJK SC"}


def installed(family: str) -> bool:
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    return family in listed


def cjk_font(page: Any, selector: str) -> str:
    """The CJK font chromium drew the element's text in (of those DevTools lists for it)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, selector
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    (family,) = [f["familyName"] for f in fonts if "CJK" in f["familyName"]]
    return str(family)


@pytest.mark.parametrize("lang", ["ko", "ja", "zh"])
def test_a_korean_japanese_or_chinese_headline_is_drawn_in_its_own_glyph_forms(
    site: str, browser: Any, lang: str
) -> None:
    """A headline marked `ja` is drawn in a Japanese font and one marked `zh` in a Chinese one
    (韓, 国, 免 differ in form between them): the page's fonts list the Korean one first, and a
    font in the list that has the character wins over `lang`, so each was drawn in Korean."""
    for family in FONTS.values():
        if not installed(family):
            pytest.skip(f"{family} is not installed (apt-get install fonts-noto-cjk; .ci/run does)")
    page = opened(browser, site + "/indicators/visa-easing/page")
    headline = f'h2#evidence + ul.evidence .headline[lang="{lang}"]'
    assert page.locator(headline).inner_text() in CJK
    assert cjk_font(page, headline) == FONTS[lang]
    page.close()


def test_the_index_has_a_skip_link_past_its_list_of_every_indicator(
    site: str, browser: Any
) -> None:
    """The first Tab on the index reaches "Skip to the indicators", drawn on the screen while
    it has the focus (off it otherwise); Enter on it takes the next Tab to the first card's
    title, past the list of every indicator (one link each) at the top."""
    page = opened(browser, site + "/")
    skip = page.get_by_role("link", name="Skip to the indicators", exact=True)
    assert skip.count() == 1
    assert skip.count() == 1
    assert skip.bounding_box()["y"] < 0  # type: ignore[index]  # not drawn until focused
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the indicators"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 12
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first = page.locator("article.indicator h3 a").first
    assert page.evaluate("document.activeElement.href") == first.evaluate("a => a.href")
    assert page.evaluate("document.activeElement.closest('nav')") is None
    page.close()


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two bounding boxes share any area."""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])  # fmt: skip


@pytest.mark.parametrize("width", [360, 1280])
def test_the_skip_link_focused_covers_nothing_of_who_is_signed_in(
    seeded: Seeded, browser: Any, width: int
) -> None:
    """Focused, "Skip to the indicators" is drawn in the page's flow above the session bar: it
    was drawn at the top left over the page, and on a phone over "Signed in as alice"."""
    with serve(seeded, api_tokens=TOKENS) as server:
        page = opened(browser, server.url + "/", width=width)
        page.get_by_label("Token").fill("alice-token-1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        who = page.locator("form.session span")
        assert who.inner_text() == "Signed in as alice"
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to the indicators", exact=True)
        assert page.evaluate("document.activeElement.textContent") == "Skip to the indicators"
        shown, named = skip.bounding_box(), who.bounding_box()
        assert shown is not None and named is not None
        assert shown["y"] >= 0 and shown["height"] > 12, shown
        for other in page.locator("form.session span, form.session button").all():
            assert not overlap(shown, other.bounding_box()), (shown, other.bounding_box())
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"skip-link-signed-in-{width}.png")
        page.close()


@pytest.mark.parametrize(
    "path",
    ["/indicators/{long}/page", "/indicators/visa-easing/explain/1?outcome={long}"],
)
def test_an_error_quoting_a_long_address_wraps_on_a_phone(
    site: str, browser: Any, path: str
) -> None:
    """The 404 of an indicator, or the 422 of an outcome, named in a long link (a mangled one
    pasted from a chat) wraps the name it quotes at 360 px: the page was 2295 px wide."""
    page = opened(browser, site + path.format(long="x" * 300), width=360)
    assert page.locator("article.error h1").count() == 1
    assert "x" * 300 in page.locator("article.error .lede").inner_text().replace("\n", "")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.close()


@pytest.mark.parametrize("path", ["/", "/indicators/visa-easing/page"])
def test_which_status_held_when_is_written_out_under_each_timeline(
    site: str, browser: Any, path: str
) -> None:
    """Under each timeline "Which status held when", reached with Tab and opened with Enter,
    lists its stretches in words, in order (status and dates, as their tooltips and the image's
    name say them): a reader who cannot tell the stretches' colours apart (a light green
    `reported` from a grey `quiet`), or has no mouse for the tooltips, reads them there."""
    page = opened(browser, site + path)
    cards = page.locator("article.indicator")
    for n in range(cards.count()):
        card = cards.nth(n)
        titles = card.locator("rect.seg title").all_text_contents()
        summary = card.get_by_text("Which status held when", exact=True)
        assert summary.count() == 1 and not card.locator("details.stretches li").first.is_visible()
        summary.focus()
        page.keyboard.press("Enter")
        assert card.locator("details.stretches li").all_inner_texts() == titles
    if path == "/":  # business-investment's feed is gone: its stretch says so in words
        assert page.locator("details.stretches li", has_text="⚠ unknown: ").count() >= 1
    page.close()


@pytest.mark.parametrize("width", [320, 360, 1280])
def test_the_timelines_bar_keeps_its_height_on_a_phone(site: str, browser: Any, width: int) -> None:
    """The timeline is stretched across the card, not scaled down with it: its stretches are
    16 px tall at any width (scaled, they were 4.5 px at 360 px wide, a short one a speck)."""
    page = opened(browser, site + "/", width=width)
    heights = page.eval_on_selector_all(
        "svg.timeline rect.seg", "rs => rs.map(r => r.getBoundingClientRect().height)"
    )
    assert len(heights) >= page.locator("svg.timeline").count()
    assert all(15.5 <= h <= 16.5 for h in heights), heights
    page.close()


HEADINGS = "[...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1])"


def test_each_page_has_a_title_of_its_own_and_headings_in_order(
    site: str, seeded: Seeded, browser: Any
) -> None:
    """A tab or a screen reader's window list tells the pages apart by their <title>, and a
    screen reader's list of headings opens at one h1 and goes down a level at a time."""
    herald = webdata.entry_id(seeded.store, VISA_HERALD)
    titles = []
    for path in OPEN_PAGES.values():
        page = opened(browser, site + path.format(herald=herald))
        titles.append(page.title())
        levels = page.evaluate(HEADINGS)
        assert levels[0] == 1 and levels.count(1) == 1, (path, levels)
        assert all(b <= a + 1 for a, b in pairwise(levels)), (path, levels)
        page.close()
    assert all(t.endswith(" — monitor") for t in titles), titles
    assert len(set(titles)) == len(titles), titles
