"""A time zone for `monitor run` in a test whose digest day must not change under it:

    zone = noon_zone(datetime.now(UTC))     # MONITOR_TIMEZONE: its clock reads 12:xx now

The digest's day is the day in MONITOR_TIMEZONE (nothing else of the daemon reads the zone), so a
test that sets this zone has eleven hours and more before that day ends, whatever the time of
day it runs at: it neither waits for midnight to pass nor fails when it straddles it.
"""

from __future__ import annotations

from datetime import datetime


def noon_zone(now: datetime) -> str:
    """The fixed-offset zone (`Etc/GMT±N`, UTC-11 to UTC+12) whose clock reads 12:xx at `now`."""
    ahead = 12 - now.hour  # hours east of UTC: -11 (at 23:xx UTC) to +12 (at 00:xx UTC)
    return f"Etc/GMT{-ahead:+d}"  # the tz database's Etc signs are POSIX's: Etc/GMT-9 is UTC+9


__all__ = ["noon_zone"]
