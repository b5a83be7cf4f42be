"""The daily digest in a time zone with daylight saving time (Europe/Berlin): on the day the
clocks go forward at 02:00 a digest time of 02:30 (a time that day skips) is due when they
reach 03:00; on the day they go back at 03:00 (02:30 comes twice) it is due the first time,
and not again the second. One digest a day, each once. A real database (SQLite and
PostgreSQL), real feeds on 127.0.0.1 and a real SMTP server; the daemon's clock given and
stepped five minutes a tick (no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.digest import DAY_HEADER
from tests import news
from tests.feedserver import FeedServer
from tests.smtpserver import running_smtp_server
from tests.test_digest_first import digest_daemon
from tests.test_scheduler import write_feeds

TICK = timedelta(minutes=5)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "sent"),
    [
        pytest.param(  # 2026-03-29: 02:00 CET -> 03:00 CEST; 02:30 is never on the clock
            _utc(2026, 3, 28, 0, 0),
            [
                ("2026-03-28", _utc(2026, 3, 28, 1, 30)),  # 02:30 CET
                ("2026-03-29", _utc(2026, 3, 29, 1, 0)),  # 03:00 CEST, not 03:30 CEST
                ("2026-03-30", _utc(2026, 3, 30, 0, 30)),  # 02:30 CEST
            ],
            id="clocks-forward",
        ),
        pytest.param(  # 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 is on the clock twice
            _utc(2026, 10, 24, 0, 0),
            [
                ("2026-10-24", _utc(2026, 10, 24, 0, 30)),  # 02:30 CEST
                ("2026-10-25", _utc(2026, 10, 25, 0, 30)),  # 02:30 CEST, the first; not at CET
                ("2026-10-26", _utc(2026, 10, 26, 1, 30)),  # 02:30 CET
            ],
            id="clocks-back",
        ),
    ],
)
def test_a_digest_time_the_clocks_skip_or_repeat_sends_one_digest_that_day(
    tmp_path: Path,
    feed_server: FeedServer,
    database_url: str,
    start: datetime,
    sent: list[tuple[str, datetime]],
) -> None:
    """Before, the 02:30 a spring-forward day skips was read with winter's offset: that
    digest went out at 03:30 CEST, half an hour after the clocks had passed 02:30."""
    feed_server.route("/yonhap.xml", body=news.yonhap(start - timedelta(hours=3)))
    write_feeds(tmp_path / "feeds.yaml", {"yonhap": feed_server.url("/yonhap.xml")})
    clock = [start]
    received: list[tuple[str, datetime]] = []
    with running_smtp_server() as smtp:
        daemon = digest_daemon(
            tmp_path, smtp, clock, database_url, digest_time="02:30", timezone="Europe/Berlin"
        )
        try:
            daemon.start()
            assert daemon.check()
            while clock[0] <= sent[-1][1] + timedelta(hours=2):
                if daemon.digest():
                    received.append((smtp.messages[-1].message[DAY_HEADER], clock[0]))
                clock[0] += TICK
        finally:
            daemon.store.close()
    assert received == sent
    assert len(smtp.messages) == len(sent)
