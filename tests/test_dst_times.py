"""Times shown in a zone with daylight saving time: the hour the clocks go back (03:00 CEST to
02:00 CET, Europe/Berlin, 2026-10-25) shows 02:30 twice, an hour apart. The digest, the page's
and the alerts' times say the zone's abbreviation, so the two read as two moments, in order."""

from __future__ import annotations

from datetime import UTC, date, datetime

from monitor.alerttext import build_alert
from monitor.digest import DigestInput, build_digest
from monitor.domain import StatusChange, zoned_text
from monitor.page import format_time

BERLIN = "Europe/Berlin"
FIRST = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
SECOND = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, an hour later


def _change(indicator_id: str, at: datetime) -> StatusChange:
    return StatusChange(indicator_id=indicator_id, at=at, old_status="quiet",
                        new_status="unknown", evidence=(), definition_hash="h")  # fmt: skip


def test_the_digest_tells_the_two_half_past_twos_of_the_night_the_clocks_go_back_apart() -> None:
    data = DigestInput(
        day=date(2026, 10, 25), generated_at=datetime(2026, 10, 25, 6, 0, tzinfo=UTC),
        timezone=BERLIN, changes=(_change("nk", FIRST), _change("tw", SECOND)), indicators=(),
        feed_problems=(),
    )  # fmt: skip
    message = build_digest(data, sender="monitor@example.org", recipients=("a@example.org",))
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.index("2026-10-25 02:30 CEST") < text.index("2026-10-25 02:30 CET)")


def test_the_page_alerts_and_reasons_tell_them_apart() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(BERLIN)
    assert (format_time(FIRST, zone), format_time(SECOND, zone)) == (
        "2026-10-25 02:30 CEST", "2026-10-25 02:30 CET",
    )  # fmt: skip
    assert zoned_text("failing since 2026-10-25 01:30 UTC", zone) == (
        "failing since 2026-10-25 02:30 CET"
    )
    alert = build_alert(_change("nk", SECOND), "North Korea", zone=zone)
    assert "2026-10-25 02:30 CET" in str(alert)
