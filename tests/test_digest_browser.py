"""The digest as a reader sees it: its HTML part rendered by Debian's chromium (Playwright, the
system browser), a screenshot in test-artifacts/digest.png, and every status badge in the colour
the page draws it in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.daily import digest_input
from monitor.digest import build_digest
from monitor.domain import Definitions
from monitor.store import Store, open_store
from monitor.web import WebServer, create_app
from tests import webdata
from tests.test_digest import parts
from tests.test_web_browser import ARTIFACTS, browser, shot

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
__all__ = ["browser"]  # a fixture

NOW = webdata.NOW


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Store, Definitions]]:
    defs = webdata.definitions()
    with open_store(f"sqlite:///{tmp_path / 'monitor.db'}") as opened:
        webdata.populate(opened, defs)
        yield opened, defs


def _colours(page: object, selector: str) -> dict[str, str]:
    """data-status -> the computed background colour of the badges `selector` finds."""
    found: dict[str, str] = page.eval_on_selector_all(  # type: ignore[attr-defined]
        selector,
        "els => Object.fromEntries(els.map(e => [e.dataset.status,"
        " getComputedStyle(e).backgroundColor]))",
    )
    return found


def test_the_digest_in_chromium_reads_well_in_the_colours_of_the_page(
    store: tuple[Store, Definitions], browser: object, tmp_path: Path
) -> None:
    opened, defs = store
    confirmed = NOW - 2 * webdata.DAY  # when visa easing was confirmed (`webdata.populate`)
    # The day whose digest (at 07:00 UTC) lists it, whatever the time of day the test runs at:
    # the first digest time after it. As of an hour after it.
    day = (confirmed - timedelta(hours=7)).date() + webdata.DAY
    data = digest_input(
        defs, opened, day=day, now=confirmed + timedelta(hours=1), timezone="UTC",
        public_url="http://127.0.0.1:8000/",
    )  # fmt: skip
    _, html = parts(build_digest(data, sender="monitor@example.org", recipients=["a@b.org"]))
    (tmp_path / "digest.html").write_text(html, encoding="utf-8")

    page = browser.new_page(viewport={"width": 820, "height": 1200})  # type: ignore[attr-defined]
    page.goto((tmp_path / "digest.html").as_uri())
    screenshot = shot(page, "digest.png")
    in_digest = _colours(page, "span[data-status]")
    text = page.inner_text("body")

    assert screenshot == ARTIFACTS / "digest.png" and screenshot.stat().st_size > 10_000
    assert "What changed" in text and "Standing status" in text and "Feed health" in text
    assert text.count(webdata.VISA_HERALD) == 1  # each piece of evidence once
    assert "listed under What changed" in text
    app = create_app(store=opened, definitions=lambda: defs, settings=webdata.settings(),
                     clock=lambda: NOW)  # fmt: skip
    with WebServer(app, host="127.0.0.1", port=0) as server:
        page.goto(f"{server.url}/")
        on_page = _colours(page, ".badge[data-status]")
    shared = set(in_digest) & set(on_page)
    assert {"eased:confirmed", "quiet"} <= shared
    assert {s: in_digest[s] for s in shared} == {s: on_page[s] for s in shared}
