"""A person judging evidence: Debian's chromium, driven by Playwright (with the system browser:
no browser is downloaded), clicks the page's verdict buttons on a real server on 127.0.0.1 and
sees the evidence go and the status change. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from monitor.store import Store
from monitor.web import WebServer
from tests import webdata
from tests.conftest import ROOT
from tests.webdata import GENERAL, VISA_HERALD

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def server(app: FastAPI) -> Iterator[WebServer]:
    with WebServer(app, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def entry_id(store: Store, title: str) -> int:
    (hit,) = [s.id for s in store.search_entries(title) if s.entry.title == title]
    return hit


def shot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


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

    assert page.url == f"{server.url}/indicators/visa-easing/page#evidence"
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
