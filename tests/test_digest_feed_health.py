"""The digest's feed health as a reader reads it: how long a feed went unread in days, hours or
minutes, not a count of minutes. Real feeds on 127.0.0.1, a real SMTP server, time given."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.daily import send_daily_digest
from monitor.domain import Definitions, how_long
from monitor.store import Store
from tests.smtpserver import running_smtp_server
from tests.test_daily import DAY, at, check, definitions, settings, store

__all__ = ["definitions", "store"]  # fixtures


@pytest.mark.parametrize(
    ("gone", "said"),
    [
        (timedelta(seconds=20), "1m"),
        (timedelta(minutes=47), "47m"),
        (timedelta(hours=2, minutes=1), "2h"),
        (timedelta(hours=26, minutes=3), "1 day"),
        (timedelta(days=3, hours=5), "3 days"),
    ],
)
def test_how_long_rounds_down_to_the_largest_unit(gone: timedelta, said: str) -> None:
    assert how_long(gone) == said


def test_a_feed_unread_for_a_day_reads_so_in_the_digest(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Before, the line said `no successful fetch for 1563m`."""
    check(definitions, store, at(7) - timedelta(hours=26, minutes=3))
    with running_smtp_server() as smtp:
        result = send_daily_digest(
            definitions, store, settings(smtp, tmp_path), day=DAY, now=at(7), owner="test"
        )
    assert result.sent
    (received,) = smtp.messages
    body = received.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "yonhap: no successful fetch for 1 day (since 2026-01-05 04:57 UTC)" in text
    assert "1563m" not in text
