"""The first digest of a new database goes out at `MONITOR_DIGEST_TIME`: a daemon first started
after that time on a day sends none that day (nothing was missed), and sends the next day's at
its time, with every change since it began. A real SQLite file, real feeds on 127.0.0.1 and a
real SMTP server; the daemon's clock given (no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.daemon import Daemon
from monitor.definitions import load_definitions
from monitor.digest import DAY_HEADER
from monitor.settings import Settings
from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer, running_smtp_server
from tests.test_scheduler import write_feeds

SEOUL = ZoneInfo("Asia/Seoul")


def digest_daemon(
    tmp_path: Path, smtp: SMTPServer, clock: list[datetime], store_url: str,
    digest_time: str = "07:00", timezone: str = "Asia/Seoul",
) -> Daemon:  # fmt: skip
    """A daemon over the shipped indicators and `tmp_path`'s feeds file, its digest sent to
    `smtp` at `digest_time` in `timezone`, its clock `clock[0]`."""
    settings = Settings(
        indicators_dir=ROOT / "indicators", feeds_file=tmp_path / "feeds.yaml",
        outbox_dir=tmp_path / "outbox", check_jitter=0, smtp_host=smtp.host,
        smtp_port=smtp.port, smtp_starttls=False, digest_to=["reader@example.org"],
        digest_time=digest_time, timezone=timezone,
    )  # fmt: skip
    definitions = load_definitions(settings.indicators_dir, settings.feeds_file)
    return Daemon(settings, open_store(store_url), definitions, clock=lambda: clock[0],
                  owner="daemon")  # fmt: skip


def _serve(tmp_path: Path, feed_server: FeedServer, published: datetime) -> None:
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    feed_server.route("/herald.xml", body=news.herald(published))
    write_feeds(
        tmp_path / "feeds.yaml",
        {"yonhap": feed_server.url("/yonhap.xml"), "herald": feed_server.url("/herald.xml")},
    )


def test_a_new_database_s_first_digest_waits_for_the_digest_time(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Before, a daemon first started at 15:00 sent "the digest of today" as soon as its first
    check was done, as if it had missed the 07:00 one, and another at 07:00 the next day."""
    started = datetime(2026, 12, 7, 15, 0, tzinfo=SEOUL).astimezone(UTC)
    _serve(tmp_path, feed_server, started - timedelta(hours=3))
    clock = [started]
    with running_smtp_server() as smtp:
        daemon = digest_daemon(tmp_path, smtp, clock, f"sqlite:///{tmp_path / 'monitor.db'}")
        try:
            daemon.start()
            assert daemon.check()
            sent_at_start = daemon.digest()
            clock[0] = datetime(2026, 12, 8, 7, 0, tzinfo=SEOUL).astimezone(UTC)
            daemon.check()
            sent_next_morning = daemon.digest()
        finally:
            daemon.store.close()
    assert not sent_at_start
    assert sent_next_morning
    (received,) = smtp.messages
    assert received.message[DAY_HEADER] == "2026-12-08"
    assert "indicators changed" in received.message["Subject"]  # the first readings, in it


def test_a_daemon_started_before_the_digest_time_on_a_new_database_sends_that_day_s(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Started at 06:59:30, its first check after 07:00 (a slow start-up): that day's."""
    started = datetime(2026, 12, 7, 6, 59, 30, tzinfo=SEOUL).astimezone(UTC)
    _serve(tmp_path, feed_server, started - timedelta(hours=3))
    clock = [started]
    with running_smtp_server() as smtp:
        daemon = digest_daemon(tmp_path, smtp, clock, f"sqlite:///{tmp_path / 'monitor.db'}")
        try:
            before = daemon.digest()  # not before the first check
            clock[0] = datetime(2026, 12, 7, 7, 0, 30, tzinfo=SEOUL).astimezone(UTC)
            daemon.start()
            assert daemon.check()
            sent = daemon.digest()
        finally:
            daemon.store.close()
    assert not before and sent
    assert [m.message[DAY_HEADER] for m in smtp.messages] == ["2026-12-07"]
