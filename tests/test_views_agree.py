"""Every view of one change says the same about it: a change `monitor replay` recorded, and
evidence an analyst confirmed (the rules missed it), as the page, `monitor history`, the API,
the daily digest (text and HTML) and the feed of changes show them. Real databases (SQLite and
PostgreSQL), filled through the pipeline's and the verdicts' own functions."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import monitor.domain
from monitor.alerttext import build_alert
from monitor.cli import main
from monitor.domain import Definitions
from monitor.pipeline import evaluate_and_record, store_entries
from monitor.statuses import judge
from monitor.store import Store, open_store
from monitor.web import create_app
from tests.webdata import NOW, WEB, context, news, populate, settings

HOUR = timedelta(hours=1)
JOINT_VENTURE = "Korean and Chinese firms form battery joint venture"
MISSED = "Seoul stocks close higher on chip rally"  # no rule matches it; an analyst says yes
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def db_url(database_url: str) -> str:
    return database_url


@pytest.fixture
def store(db_url: str, defs: Definitions, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: NOW)  # the commands' clock
    with open_store(db_url) as opened:
        populate(opened, defs)
        ctx = context(opened, defs)
        # a replay finds an investment story the rules of the day before had not matched
        then = NOW - 2 * HOUR
        venture = news("yonhap", 5, JOINT_VENTURE, "https://en.yna.co.kr/view/AEN5", then)
        store_entries(ctx, [venture], now=then)
        assert [c.replayed for c in evaluate_and_record(ctx, now=then, replayed=True)] == [True]
        # an analyst confirms as evidence of balance a story no rule matched
        (missed,) = opened.search_entries(MISSED, limit=1)
        target = ("north-korea-stance", "balance")
        judged = judge(defs, opened, entry_id=missed.id, target=target, verdict="yes", who="ana",
                       note="the markets read it so", now=NOW - HOUR)  # fmt: skip
        assert judged.change is not None and judged.change.evidence[0].judged
        yield opened


@pytest.fixture
def defs() -> Definitions:
    from tests.webdata import definitions

    return definitions()


@pytest.fixture
def client(store: Store, defs: Definitions) -> TestClient:
    app = create_app(store=store, definitions=lambda: defs, settings=settings(), clock=lambda: NOW)
    return TestClient(app)


def _env(db_url: str) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_INDICATORS_DIR": str(WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(WEB / "feeds.yaml"),
    }


def _cli(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=_env(db_url), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _digest(db_url: str, tmp_path: Path) -> tuple[str, str]:
    """The digest `monitor digest --preview` builds: its text and HTML parts, line endings
    aside (the file's are CRLF, as SMTP carries a message)."""
    eml = tmp_path / "digest.eml"
    _cli(db_url, "digest", "--preview", "--out", str(eml))
    message = email.message_from_bytes(eml.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def _block(text: str, start: str, end: str) -> str:
    """The part of `text` from `start` up to the next `end`."""
    at = text.index(start)
    stop = text.find(end, at + len(start))
    return text[at : stop if stop >= 0 else len(text)]


def _atom_content(client: TestClient, indicator_id: str) -> str:
    feed = ET.fromstring(client.get(f"/indicators/{indicator_id}/changes.atom").content)
    entry = feed.find(f"{ATOM}entry")
    assert entry is not None
    return entry.findtext(f"{ATOM}content") or ""


def test_a_replayed_change_is_marked_replayed_wherever_it_is_shown(
    db_url: str, client: TestClient, tmp_path: Path
) -> None:
    (api,) = client.get("/indicators/business-investment/history").json()["items"]
    assert api["replayed"] is True
    assert "(replayed)" in _cli(db_url, "history", "business-investment")
    assert "replayed" in client.get("/indicators/business-investment/page").text
    assert "(replayed)" in _atom_content(client, "business-investment")

    text, html = _digest(db_url, tmp_path)
    # "what changed" must not pass a re-evaluation with today's definitions off as news
    changed = _block(text, "* Investment momentum", "\n* ")
    assert "replayed" in changed, changed
    assert "\n      matched: joint venture, Korean, Chinese\n" in changed  # a line of its own
    assert "replayed" in _block(html, "Investment momentum", "</div>")


def test_evidence_an_analyst_confirmed_says_so_wherever_it_is_shown(
    db_url: str, store: Store, client: TestClient, tmp_path: Path
) -> None:
    (api,) = client.get("/indicators/north-korea-stance/history").json()["items"]
    assert [e["judged"] for e in api["evidence"]] == ["yes"]
    assert api["evidence"][0]["terms"] == []  # no rule matched it
    assert "(confirmed by an analyst)" in _cli(db_url, "history", "north-korea-stance")
    page = client.get("/indicators/north-korea-stance/page").text
    assert "confirmed by an analyst" in _block(page, MISSED, "</li>")

    assert "confirmed by an analyst" in _atom_content(client, "north-korea-stance")
    (change,) = store.history("north-korea-stance", limit=1)  # its alert, as the daemon sends it
    assert "confirmed by an analyst" in build_alert(change, "How Beijing talks").body
    text, html = _digest(db_url, tmp_path)
    for part in (text, html):
        shown = _block(part, MISSED, "Investment")
        assert "confirmed by an analyst" in shown, shown
    assert ", confirmed by an analyst\n" in _block(text, MISSED, "Investment")  # ends its line
