"""A digest whose span had a stretch no check ran in (the daemon down for a day) says so: the
statuses it shows run on across it as recorded, while the page said `unknown` meanwhile. Real
feeds on 127.0.0.1, a real SMTP server, SQLite and PostgreSQL; the daemon's clock given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.digest import DAY_HEADER
from tests.feedserver import FeedServer
from tests.smtpserver import running_smtp_server
from tests.test_digest_first import SEOUL, _serve, digest_daemon


def _text(message: object) -> tuple[str, str]:
    parts = [message.get_body((kind,)) for kind in ("plain", "html")]  # type: ignore[attr-defined]
    return tuple(" ".join(str(p.get_content()).split()) for p in parts)  # type: ignore[return-value]


def test_the_digest_sent_after_a_day_down_says_when_no_feed_was_checked(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    """Before, the digest sent when the daemon came back after 35 hours said only "the feeds
    were checked 5 times since the last digest, the last at 10:00" and showed `quiet since`
    the day before the outage, as if the feeds had been read all along."""
    first = datetime(2026, 12, 7, 6, 59, 30, tzinfo=SEOUL).astimezone(UTC)
    _serve(tmp_path, feed_server, first - timedelta(hours=3))
    clock = [first]
    with running_smtp_server() as smtp:
        daemon = digest_daemon(tmp_path, smtp, clock, database_url)
        try:
            daemon.start()
            for minutes in range(1, 62, 15):  # read every 15 minutes (the interval) until 08:01
                clock[0] = first + timedelta(minutes=minutes)
                daemon.check()
                clock[0] += timedelta(seconds=30)  # the digest job's tick
                assert daemon.digest() == (minutes == 1)  # the 7th's, at 07:01
            last_read = clock[0] - timedelta(seconds=30)
        finally:
            daemon.store.close()
        back = datetime(2026, 12, 8, 19, 0, tzinfo=SEOUL).astimezone(UTC)  # down 35 hours
        clock[0] = back
        daemon = digest_daemon(tmp_path, smtp, clock, database_url)
        try:
            daemon.start()
            daemon.check()
            clock[0] = back + timedelta(seconds=30)
            assert daemon.digest()  # the 8th's, missed at 07:00
        finally:
            daemon.store.close()
    before, after = smtp.messages
    assert after.message[DAY_HEADER] == "2026-12-08"
    for part in _text(after.message):
        assert (
            f"No feed was checked from {last_read.astimezone(SEOUL):%Y-%m-%d %H:%M} KST to "
            "2026-12-08 19:00 KST (1 day): news a feed carried only in that time was never read."
        ) in part
    for part in _text(before.message):  # read every interval: nothing to say
        assert "No feed was checked" not in part
