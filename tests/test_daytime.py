"""The daemon tests' time zone (tests/daytime.py): at any time of day its clock reads 12:xx, so
a digest day set in it does not end under a test of minutes, and no test waits for midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.daytime import noon_zone

DAY = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize("hour", range(24))
def test_at_every_hour_the_zone_reads_noon_and_its_day_lasts_another_eleven_hours(
    hour: int,
) -> None:
    for now in (DAY + timedelta(hours=hour), DAY + timedelta(hours=hour, minutes=59, seconds=59)):
        local = now.astimezone(ZoneInfo(noon_zone(now)))
        assert local.hour == 12, (now, noon_zone(now), local)
        assert (now + timedelta(hours=11)).astimezone(local.tzinfo).date() == local.date()
