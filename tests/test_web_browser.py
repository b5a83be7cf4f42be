"""A person judging evidence: Debian's chromium, driven by Playwright (with the system browser:
no browser is downloaded), clicks the page's verdict buttons on a real server on 127.0.0.1 and
sees the evidence go and the status change; behind tokens, signs in, judges and signs out.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi import FastAPI

from monitor.domain import Definitions, utc_text
from monitor.page import format_time
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.store import Store
from monitor.web import WebServer, create_app
from tests import chromium, webdata
from tests.conftest import ROOT
from tests.webdata import FLIGHTS, GENERAL, NOW, VISA_HERALD, entry_id

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

ARTIFACTS = ROOT / "test-artifacts"
EASED = "Visas are waived or extended"  # visa-easing's one outcome
NOT_TRIED = (
    "the entry lacks terms the rule needs (the parts marked no below)"  # explain's words for a miss
)


@pytest.fixture
def server(app: FastAPI) -> Iterator[WebServer]:
    with WebServer(app, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[object]:
    yield from chromium.launched()


def shot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def test_a_piece_judged_not_relevant_is_marked_under_the_change_that_listed_it(
    server: WebServer, browser: object, store: Store
) -> None:
    """The history keeps the change as recorded, with the piece judged since marked in the
    words of the digest and `monitor history`, in the page's zone, where a reader sees it."""
    herald = entry_id(store, VISA_HERALD)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/page")
    listed = page.locator(f'.change ul.evidence li[data-entry="{herald}"]')
    assert listed.count() == 1 and listed.locator(".not-relevant").count() == 0
    item = page.locator(f'h2#evidence + ul.evidence li[data-entry="{herald}"]')

    with page.expect_navigation():
        item.get_by_role("button", name="Not relevant").click()

    assert listed.count() == 1  # still listed under the change
    mark = listed.locator("[data-not-relevant]")
    when = format_time(NOW, webdata.settings().zone)
    assert mark.inner_text() == f"✗ judged not relevant by anonymous at {when}"
    assert mark.is_visible()
    assert page.locator(".change [data-not-relevant]").count() == 1  # not the other pieces
    listed.scroll_into_view_if_needed()
    shot(page, "history-judged-not-relevant.png")


def test_clicking_not_relevant_takes_the_evidence_off_and_changes_the_status(
    server: WebServer, browser: object, store: Store
) -> None:
    herald = entry_id(store, VISA_HERALD)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/page")
    badge = page.locator("article.indicator .badge").first
    assert badge.get_attribute("data-status") == "eased:confirmed"
    item = page.locator(f'ul.evidence li[data-entry="{herald}"]').first
    item.locator('input[name="note"]').fill("a tour-group story, not visas")

    with page.expect_navigation():
        item.get_by_role("button", name="Not relevant").click()

    assert page.url == f"{server.url}/indicators/visa-easing/page#evidence-{herald}-eased"
    assert badge.get_attribute("data-status") == "eased:reported"
    evidence = page.locator("h2#evidence + ul.evidence")
    assert evidence.locator(f'li[data-entry="{herald}"]').count() == 0
    assert evidence.locator("li").count() == 1
    verdict = page.locator(f'ul.verdicts li[data-entry="{herald}"]')
    assert verdict.get_attribute("data-verdict") == "no"
    assert "a tour-group story, not visas" in verdict.inner_text()
    assert "by anonymous" in verdict.inner_text()
    reason = page.locator(".change .reason").first.inner_text()
    assert (
        reason
        == f"because verdict: no on entry {herald} by anonymous: a tour-group story, not visas"
    )
    assert shot(page, "web-verdict-no.png").stat().st_size > 10_000


def test_the_page_s_own_form_says_its_origin(
    server: WebServer, browser: object, store: Store
) -> None:
    """Under the page's old no-referrer policy chromium sent `Origin: null` with its forms,
    which cannot be told from a sandboxed frame of another site: a browser without
    Sec-Fetch-Site would now be refused. Its same-origin policy names the origin."""
    herald = entry_id(store, VISA_HERALD)
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/page")
    item = page.locator(f'ul.evidence li[data-entry="{herald}"]').first

    with page.expect_request(lambda r: r.method == "POST") as posted, page.expect_navigation():
        item.get_by_role("button", name="Not relevant").click()

    headers = posted.value.all_headers()
    assert headers.get("origin") == server.url
    assert headers.get("sec-fetch-site") == "same-origin"
    assert [v.verdict for v, _ in store.verdicts()] == ["no"]


def test_confirming_a_missed_entry_makes_it_evidence(
    server: WebServer, browser: object, store: Store
) -> None:
    general = entry_id(store, GENERAL)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/north-korea-stance/page")
    assert page.locator("article.indicator .badge").first.get_attribute("data-status") == "quiet"
    form = page.locator("form.missed")
    form.locator('input[name="entry"]').fill(str(general))
    form.locator('select[name="outcome"]').select_option("balance")

    with page.expect_navigation():
        form.get_by_role("button", name="Confirm as evidence").click()

    status = page.locator("article.indicator .badge").first.get_attribute("data-status")
    assert status == "balance:reported"
    item = page.locator(f'h2#evidence + ul.evidence li[data-entry="{general}"]')
    assert GENERAL in item.inner_text() and "confirmed by an analyst" in item.inner_text()
    assert item.get_by_role("button", name="Confirm").count() == 0  # already confirmed
    assert shot(page, "web-verdict-yes.png").stat().st_size > 10_000


def test_each_verdict_button_is_named_for_its_entry_and_outcome(
    server: WebServer, browser: object, store: Store
) -> None:
    """A screen reader hears "Confirm: entry 12 is evidence of …", not "Confirm" again and
    again, and the note field beside the buttons says whose verdict it explains; the visible
    words stay as they were."""
    herald = entry_id(store, VISA_HERALD)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/page")
    items = page.locator("h2#evidence + ul.evidence li")
    entries = [int(items.nth(n).get_attribute("data-entry")) for n in range(items.count())]
    assert herald in entries and len(entries) == 2
    names = []
    for entry in entries:
        for visible, name in [
            ("Not relevant", f"Not relevant: entry {entry} is not evidence of {EASED}"),
            ("Confirm", f"Confirm: entry {entry} is evidence of {EASED}"),
        ]:
            button = page.get_by_role("button", name=name, exact=True)  # the computed name
            assert button.count() == 1, name
            assert button.inner_text() == visible
            assert button.locator("xpath=ancestor::li[1]").get_attribute("data-entry") == str(entry)
            names.append(name)
        # and the note beside them: "Why (optional)" of which entry's verdict
        name = f"Why (optional), of a verdict on entry {entry} as evidence of {EASED}"
        note = page.get_by_role("textbox", name=name, exact=True)
        assert note.count() == 1, name
        assert note.locator("xpath=ancestor::li[1]").get_attribute("data-entry") == str(entry)
        names.append(name)
    assert len(set(names)) == 6


IN_VIEW = "id => { const r = document.getElementById(id).getBoundingClientRect(); \
return Math.round(r.top) >= 0 && r.top < innerHeight; }"
FOCUS_IN = "id => document.activeElement.closest('#' + CSS.escape(id)) !== null"


def test_after_a_verdict_a_keyboard_user_is_back_at_the_entry_judged(
    server: WebServer, browser: object, store: Store
) -> None:
    """The form's post is answered with a redirect; it lands where the entry judged is (its
    evidence item, or its verdict once a `no` took it out), scrolled into view, and Tab goes
    on from there, not from the top of the page."""
    herald = entry_id(store, VISA_HERALD)
    page = browser.new_page(viewport={"width": 1280, "height": 500})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/page")
    items = page.locator("h2#evidence + ul.evidence li")
    (other,) = [
        int(items.nth(n).get_attribute("data-entry"))
        for n in range(items.count())
        if items.nth(n).get_attribute("data-entry") != str(herald)
    ]
    for entry, button, where in [
        (other, "Confirm", "h2#evidence + ul.evidence li"),  # stays, confirmed
        (herald, "Not relevant", "ul.verdicts li"),  # taken out: its verdict says so
    ]:
        anchor = f"evidence-{entry}-eased"
        page.locator(f"#{anchor}").get_by_role("button", name=button).focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")

        assert page.url == f"{server.url}/indicators/visa-easing/page#{anchor}"
        target = page.locator(f"#{anchor}")
        assert target.count() == 1 and target.get_attribute("data-entry") == str(entry)
        assert page.locator(f"{where}#{anchor}").count() == 1
        assert page.evaluate("scrollY") > 0 and page.evaluate(IN_VIEW, anchor)
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS_IN, anchor)  # the next Tab is inside the entry judged
    assert shot(page, "web-verdict-landing.png").stat().st_size > 10_000


def test_why_on_a_piece_of_evidence_shows_its_rule_part_by_part(
    server: WebServer, browser: object, store: Store
) -> None:
    """The "Why?" beside a piece of evidence opens its explanation (the tree `monitor explain`
    prints, `yes` where a part holds, and the sentences); the one beside a confirmed miss
    shows the parts that do not hold (`no`); each page links back to the indicator's."""
    herald, general = entry_id(store, VISA_HERALD), entry_id(store, GENERAL)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/page")
    item = page.locator(f'h2#evidence + ul.evidence li[data-entry="{herald}"]')

    with page.expect_navigation():
        item.get_by_role("link", name="Why?").click()

    assert page.url == f"{server.url}/indicators/visa-easing/explain/{herald}?outcome=eased"
    assert page.locator("h1").inner_text() == f"Why visa-easing:eased on entry {herald}"
    tree = page.locator('pre.tree[data-outcome="eased"]').inner_text().splitlines()
    assert tree[0].startswith("visa-easing:eased: matched (")
    assert tree[1].lstrip().startswith("yes all") and len(tree) > 2
    assert all(line.lstrip().startswith(("yes ", "no ")) for line in tree[1:])
    assert page.locator("ol.sentences li").first.inner_text() == VISA_HERALD
    shot(page, "web-why-evidence.png")
    with page.expect_navigation():
        page.get_by_role("link", name="← Visa easing between China and South Korea").click()
    assert page.url == f"{server.url}/indicators/visa-easing/page"

    page.goto(f"{server.url}/indicators/north-korea-stance/page")
    form = page.locator("form.missed")
    form.locator('input[name="entry"]').fill(str(general))
    form.locator('select[name="outcome"]').select_option("balance")
    with page.expect_navigation():
        form.get_by_role("button", name="Confirm as evidence").click()
    with page.expect_navigation():
        page.locator(f'ul.verdicts li[data-entry="{general}"]').get_by_role(
            "link", name="Why?"
        ).click()

    assert page.url.endswith(f"/indicators/north-korea-stance/explain/{general}?outcome=balance")
    missed = page.locator('pre.tree[data-outcome="balance"]')
    assert missed.get_attribute("data-matched") == "no"
    lines = missed.inner_text().splitlines()
    assert lines[0] == "north-korea-stance:balance: not matched: " + NOT_TRIED
    assert lines[1].lstrip().startswith("no  all")
    assert page.locator("ol.sentences li").first.inner_text() == GENERAL
    assert shot(page, "web-why-missed.png").stat().st_size > 10_000
    page.close()


def test_the_explanation_of_a_miss_names_the_terms_each_failing_part_needed(
    server: WebServer, browser: object, store: Store
) -> None:
    """A part none of whose terms the entry holds names them, as `monitor explain` does: the
    page said `none found` and left the reader to open the indicator's file; the line still
    fits the tree's box."""
    flights = entry_id(store, FLIGHTS)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/indicators/visa-easing/explain/{flights}?outcome=eased")
    tree = page.locator('pre.tree[data-outcome="eased"]')

    assert tree.inner_text().splitlines()[1:5] == [
        "  no  all not in the entry",
        "      no  any (3 terms) not in the entry: none found; missing: China, Chinese, 중국",
        "      yes any (3 terms) in the entry: /\\bkorea/ (1)",
        "      no  any (3 terms) not in the entry: none found;"
        " missing: visa-free, /(extend|eas)\\w* (the )?visa/, 무비자",
    ]
    assert tree.evaluate("e => e.scrollWidth <= e.clientWidth")  # nothing to scroll
    shot(page, "web-why-missing.png")
    page.close()


def test_the_explanation_shows_the_standing_verdict_beside_the_tree_which_stays_as_it_was(
    server: WebServer, browser: object, store: Store
) -> None:
    """After a verdict, the entry's explanation says it, in the words `monitor explain` and
    its JSON say (who, when, the note, what it does to the evidence), in a paragraph after the
    rule's tree: inside the <pre> it made the tree's second line a verdict and the <pre> scroll.
    The tree reads as it did before the verdict, and does not scroll."""
    herald = entry_id(store, VISA_HERALD)
    why = f"/indicators/visa-easing/explain/{herald}?outcome=eased"
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    page.goto(server.url + why)
    tree = page.locator('pre.tree[data-outcome="eased"]')
    before = tree.inner_text()
    assert page.locator("p.verdict").count() == 0  # no analyst judged it yet
    page.goto(f"{server.url}/indicators/visa-easing/page")
    item = page.locator(f'ul.evidence li[data-entry="{herald}"]').first
    item.locator('input[name="note"]').fill("a tour-group story, not visas")
    with page.expect_navigation():
        item.get_by_role("button", name="Not relevant").click()
    with page.expect_navigation():
        page.locator(f'ul.verdicts li[data-entry="{herald}"]').get_by_role(
            "link", name="Why?"
        ).click()

    assert page.url == server.url + why
    assert tree.inner_text() == before
    assert tree.inner_text().splitlines()[1].lstrip().startswith("yes all")
    assert tree.evaluate("e => e.scrollWidth <= e.clientWidth")  # nothing to scroll
    verdict = page.locator('pre.tree[data-outcome="eased"] + p.verdict')
    assert verdict.is_visible()
    assert (verdict.get_attribute("data-verdict"), verdict.get_attribute("data-agrees")) == (
        "no",
        "no",
    )
    (said,) = [o["verdict"] for o in httpx.get(server.url + why).json()["outcomes"]]
    assert (said["verdict"], said["who"], said["agrees"]) == ("no", "anonymous", False)
    when = utc_text(datetime.fromisoformat(said["at"]))  # the page's zone: UTC
    assert verdict.inner_text() == (
        f'but an analyst\'s verdict stands: no by anonymous at {when} ("{said["note"]}"):'
        " not relevant: it is not evidence, whatever the rule says"
    )
    assert said["note"] == "a tour-group story, not visas"
    assert shot(page, "web-why-judged.png").stat().st_size > 10_000
    page.close()


# ---------------------------------------------------------------- signing in


@pytest.fixture
def guarded(store: Store, defs: Definitions) -> Iterator[WebServer]:
    settings = webdata.settings(api_tokens="alice:alice-token-1,bob:bob-token-2")
    app = create_app(store=store, definitions=lambda: defs, settings=settings, clock=lambda: NOW)
    with WebServer(app, host="127.0.0.1", port=0) as running:
        yield running


def test_signing_in_judging_and_signing_out_in_a_browser(
    guarded: WebServer, browser: object, store: Store
) -> None:
    """The page behind tokens: sent to sign in, back to the page, a verdict by the token's name,
    signed out, and refused after, even with the old cookie put back."""
    herald = entry_id(store, VISA_HERALD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    wanted = f"{guarded.url}/indicators/visa-easing/page"

    page.goto(wanted)
    assert page.url == f"{guarded.url}/signin?next=/indicators/visa-easing/page"
    assert shot(page, "sign-in.png").stat().st_size > 5_000
    page.locator("#token").fill("alice-token-x")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "That is not a token of this monitor." in page.locator(".problem").inner_text()
    page.locator("#token").fill("alice-token-1")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()

    assert page.url == wanted
    assert page.locator("form.session strong").inner_text() == "alice"
    assert shot(page, "signed-in.png").stat().st_size > 10_000
    (cookie,) = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    item = page.locator(f'ul.evidence li[data-entry="{herald}"]').first
    with page.expect_navigation():
        item.get_by_role("button", name="Not relevant").click()
    verdict = page.locator(f'ul.verdicts li[data-entry="{herald}"]')
    assert "by alice" in verdict.inner_text()
    assert [v.who for v, _ in store.verdicts()] == ["alice"]

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert page.url == f"{guarded.url}/signin"
    assert context.cookies() == []
    page.goto(wanted)
    assert page.url.startswith(f"{guarded.url}/signin")
    context.add_cookies([cookie])  # the old cookie, put back: that session has ended
    page.goto(wanted)
    assert page.url.startswith(f"{guarded.url}/signin")
    assert page.locator("ul.evidence").count() == 0
    context.close()


@pytest.mark.parametrize("width", [390, 320])
def test_on_a_phone_nothing_runs_off_the_right_edge(
    browser: object, server: WebServer, width: int
) -> None:
    """At 390 px, and at 320 (a small phone; a desktop's 1280 px at 400% zoom, the width WCAG's
    reflow asks for), the wide feed-health table scrolls in its own box: the page does not
    scroll sideways (nor does the overview of every indicator), and its last column can be
    scrolled to."""
    page = browser.new_page(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/")
    shot(page, f"index-phone-{width}.png")

    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width
    box = page.evaluate(
        "(() => { const b = document.querySelector('.wide');"
        " return [b.clientWidth, b.scrollWidth]; })()"
    )
    assert box[1] > box[0]  # the table is wider than its box, which scrolls
    page.close()


LONG_WORD = "Supercalifragilisticexpialidocious" * 8  # no place to break, as a hostile feed sends


@pytest.mark.parametrize("width", [360, 1280])
def test_a_long_word_from_a_feed_or_an_analyst_does_not_widen_the_page(
    browser: object, server: WebServer, store: Store, defs: Definitions, width: int
) -> None:
    """A headline without a place to break (in the verdicts and on its explanation), a note or
    a silence's reason pasted as one long URL: each wraps inside its box, at a phone's width
    and a desktop's, as the evidence does, and no form's menu of outcomes runs past the edge."""
    ctx = webdata.context(store, defs)
    title = f"China extends visa-free entry for South Korean visitors {LONG_WORD}"
    link, hour = "https://www.koreaherald.com/a/9", timedelta(hours=1)
    store_entries(ctx, [webdata.news("herald", 9, title, link, NOW - hour)], now=NOW)
    evaluate_and_record(ctx, now=NOW)
    entry, url = entry_id(store, title), "https://example.org/" + "segment" * 40
    verdict = {"outcome": "eased", "verdict": "yes", "note": f"see {url}"}
    silence = {"indicator": "visa-easing", "for": "1h", "reason": url}
    with httpx.Client(base_url=server.url) as web:
        said = web.post(f"/indicators/visa-easing/evidence/{entry}/verdict", json=verdict)
        assert said.status_code == 200, said.text
        silenced = web.post("/silences", json=silence)
        assert silenced.status_code == 201, silenced.text
    page = browser.new_page(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    for path in (
        "/indicators/visa-easing/page",
        f"/indicators/visa-easing/explain/{entry}?outcome=eased",
        "/indicators/north-korea-stance/page",
    ):
        page.goto(f"{server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    shot(page, f"long-words-{width}.png")
    page.close()
