"""The digest and silences, sent through a real SMTP server (aiosmtpd) from SQLite and
PostgreSQL: a held change is left out of "what changed" while its silence lasts (the digest
counts it and shows the silence: who, why, until) and is listed once, in the first digest
after the silence ends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from monitor.daily import send_daily_digest
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Evidence, StatusChange
from monitor.settings import Settings
from monitor.silences import Silence
from monitor.store import Store, open_store
from tests.conftest import ROOT
from tests.smtpserver import running_smtp_server

SEVEN = time(7, 0)
DAY = date(2026, 1, 6)


def at(hour: int, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour), UTC)


@pytest.fixture
def definitions() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


@pytest.fixture
def store(database_url: str, definitions: Definitions) -> Iterator[Store]:
    with open_store(database_url) as s:
        s.ensure_indicators((i.id for i in definitions.indicators), now=at(0))
        yield s


def change(indicator: str, outcome: str, when: datetime) -> StatusChange:
    link = f"https://news.example/{indicator}"
    evidence = Evidence(1, indicator, outcome, f"Headline about {indicator}", link,
                        "news.example", when, ("visa",), "…")  # fmt: skip
    return StatusChange(indicator, when, "unknown", f"{outcome}:reported", (evidence,), "h")


def test_a_held_change_is_left_out_until_the_silence_ends_then_listed_once(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    until = at(8, DAY + timedelta(days=1))  # past the next digest: held in two digests
    store.add_silence(
        Silence("visa-easing", None, "state visit: expected noise", "ana", at(5), until)
    )
    store.record_changes(
        [change("visa-easing", "eased", at(6)), change("flight-routes", "added", at(6))]
    )
    texts: list[str] = []
    with running_smtp_server() as smtp:
        s = Settings(
            smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
            digest_to=["reader@example.org"], digest_time=SEVEN, timezone="UTC",
            outbox_dir=tmp_path / "outbox",
        )  # fmt: skip
        for n in range(4):
            day = DAY + timedelta(days=n)
            assert send_daily_digest(definitions, store, s, day=day, now=at(7, day), owner="t").sent
        for received in smtp.messages:
            texts.append(received.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        subjects = [r.message["Subject"] for r in smtp.messages]
        html = smtp.messages[0].message.get_body(("html",)).get_content()  # type: ignore[union-attr]

    changed = [t.split("WHAT CHANGED")[1].split("STANDING STATUS")[0] for t in texts]
    assert subjects == [
        # no feed was ever read: every standing status is unknown, whatever was recorded
        "monitor digest 2026-01-06: 1 indicator changed, 7 unknown",
        "monitor digest 2026-01-07: no changes, 7 unknown",
        "monitor digest 2026-01-08: 1 indicator changed, 7 unknown",
        "monitor digest 2026-01-09: no changes, 7 unknown",
    ]
    assert "Headline about flight-routes" in changed[0]
    assert "Headline about visa-easing" not in changed[0] + changed[1] + changed[3]
    assert "Headline about visa-easing" in changed[2]
    assert "1 change held back by the silences below" in changed[0]
    assert "1 change held back" not in changed[1]  # it was recorded before this digest's window
    for text in texts[:2]:
        assert "SILENCED" in text and "until 2026-01-07 08:00 UTC" in text
        assert "by ana: state visit: expected noise" in text
    assert "SILENCED" not in texts[2] + texts[3]
    said = re.sub(r"<[^>]+>", "", html)  # the reason in its own element, with its `dir`
    assert "Silenced" in said and "by ana: state visit: expected noise" in said
