"""GET /healthz: how the service stands, in one word and the reasons for it, from the cycles,
the feeds counted, the digest and alerts that failed, the definitions in force and a replay's
hold; and how old the last cycle may be (`health_max_age`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from monitor.counts import count
from monitor.domain import CLOCK_SLACK, Definitions
from monitor.errors import StoreError
from monitor.reloading import Validity
from monitor.settings import Settings
from monitor.store import FeedCounts, Store
from monitor.views import replay_note
from monitor.webmodels.feeds import FeedCountsOut, HealthOut, HealthStatus
from monitor.weboutage import Outage

HEALTH_FACTOR = 3  # /healthz: a last success older than this many check intervals is stale


def health_max_age(settings: Settings, definitions: Definitions) -> timedelta:
    """MONITOR_HEALTH_MAX_AGE, else HEALTH_FACTOR times the time between the daemon's cycles:
    the shortest interval of a feed (one runs when any feed is due; every feed may set a longer
    one than CHECK_INTERVAL), at least a tick (with 0s every feed is checked at each tick)."""
    if settings.health_max_age:
        return settings.health_max_age
    every = (f.interval or settings.check_interval for f in definitions.feeds)
    shortest = min(every, default=settings.check_interval)
    return max(shortest, settings.tick_interval) * HEALTH_FACTOR


# /healthz reports a failing digest of a day this recent: the UTC date back this many days is
# at least two local days back in any time zone (MONITOR_TIMEZONE: digest days are local).
DIGEST_FAILURE_DAYS = timedelta(days=3)
# An e-mail address in an SMTP error ("every recipient refused: a@x (550 <a@x>: no such user)",
# a sender refused): /healthz answers without a token, so it shows none.
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")
HIDDEN_ADDRESS = "[address]"


def health(
    store: Store,
    *,
    now: datetime,
    started: datetime,
    max_age: timedelta,
    validity: Validity = Validity(),  # noqa: B008 (frozen)
    schema: str | None = None,
    failing: str | None = None,
    outage: Outage | None = None,
    asked: str = "GET /healthz",
) -> HealthOut:
    """GET /healthz: `unavailable` when the database does not answer, or its SQLite file was
    deleted under the server (`Store.file_problem`: the reason says which); `starting` for one
    `max_age` after `started` while no cycle has finished, then `stale`; `stale` too when the
    last successful cycle is older than `max_age`; else the feeds' `ok`, `degraded` or
    `unhealthy`. `ok` is `degraded` while the latest digest (of the last DIGEST_FAILURE_DAYS)
    is unsent after a failed try, while a change's alert waits after a failed try, while the
    definition files on disk are invalid (the last valid set in force: `validity`), or while a
    replay that stopped half way holds the statuses (`replay_note`), or while the daemon's
    checks fail (`failing`: `Daemon.check_failure`), and every status then says
    why; a replay at work says so too, without changing the status. `incompatible` when
    `schema` says why the database is not at the code's revision any more (another version
    migrated it): nothing else is read. `outage` (the app's, shared by every endpoint) is told
    whether the database answered the request `asked`: an outage is logged once, then at the
    2nd, 4th, 8th… failed request in a row, and once when it answers again, so a load balancer
    probing every few seconds does not flood the log."""
    limit = max_age.total_seconds()
    gone = store.file_problem()  # what it reads is of a deleted file: the reason, not the rest
    if gone is not None:
        return HealthOut(
            status="unavailable", database=False, last_successful_cycle=None, age_seconds=None,
            max_age_seconds=limit, feeds=None, reasons=[gone],
        )  # fmt: skip
    if schema is not None:
        return HealthOut(
            status="incompatible", database=True, last_successful_cycle=None, age_seconds=None,
            max_age_seconds=limit, feeds=None, reasons=[schema],
        )  # fmt: skip
    try:
        last, checked = store.last_successful_cycle(), store.last_reading_cycle()
        counts = store.feed_counts(now)
        digest = store.failing_digest(since=(now - DIGEST_FAILURE_DAYS).date())
        alerts = store.failing_alerts(now)
        hold = store.replay_hold()
    except StoreError as exc:
        if outage is not None:
            outage.failed(asked, exc)
        return HealthOut(
            status="unavailable", database=False, last_successful_cycle=None, age_seconds=None,
            max_age_seconds=limit, feeds=None, reasons=["the database did not answer"],
        )  # fmt: skip
    if outage is not None:
        outage.answered(asked)
    status: HealthStatus
    age = None if last is None else max((now - last).total_seconds(), 0.0)
    if last is not None and last > now + CLOCK_SLACK:  # no cycle finished since the clock
        status, reasons = (
            "stale",
            [  # went back: the last one says nothing of now
                f"the last successful check cycle finished at {last:%Y-%m-%d %H:%M:%S} UTC,"
                " after now: the clock was set back"
            ],
        )
    elif age is None:
        fresh = now - started <= max_age
        status = "starting" if fresh else "stale"
        reasons = [] if fresh else ["no check cycle finished since the server started"]
    elif age > limit:
        status, reasons = "stale", [f"the last successful check cycle finished {age:.0f} s ago"]
    else:
        status, reasons = _feed_health(counts)
    if digest is not None:  # the daily digest is what most readers see: its failure is news
        status = "degraded" if status == "ok" else status
        error = _ADDRESS.sub(HIDDEN_ADDRESS, digest.last_error)  # no token: not to whom
        reasons.append(f"the digest of {digest.day} is not sent: {error}")
    if alerts is not None:  # a reader relying on alerts hears of nothing else
        status = "degraded" if status == "ok" else status
        error = _ADDRESS.sub(HIDDEN_ADDRESS, alerts.error)
        reasons.append(
            f"{count(alerts.count, 'change alert')} not delivered after a failed try, the oldest"
            f" recorded {alerts.oldest:%Y-%m-%d %H:%M} UTC: {error}"
        )
    if failing is not None:  # a full disk: no news is stored, though the last cycle is recent
        status = "degraded" if status == "ok" else status
        reasons.append(_ADDRESS.sub(HIDDEN_ADDRESS, failing))
    if validity.invalid:  # an edit the daemon did not take: the operator must hear of it
        status = "degraded" if status == "ok" else status
        reasons.append(validity.reason())
    if hold is not None:  # no status moves, no alert goes out: a stopped one needs a hand
        status = "degraded" if status == "ok" and hold.stalled(now) else status
        reasons.append(replay_note(hold, now=now))
    return HealthOut(
        status=status, database=True, last_successful_cycle=last, last_check=checked,
        age_seconds=age, max_age_seconds=limit, feeds=FeedCountsOut.of(counts), reasons=reasons,
    )  # fmt: skip


def _feed_health(counts: FeedCounts) -> tuple[HealthStatus, list[str]]:
    """`ok`, `degraded` or `unhealthy`, and why, from the feeds' counts."""
    reasons = []
    if counts.total and not counts.read_recently:
        if counts.never_read == counts.total:
            reasons.append("no feed was ever read successfully")
        else:
            reasons.append("no feed read successfully within two check intervals")
    if counts.failing:
        more = counts.failing - len(counts.failing_ids)
        names = ", ".join(counts.failing_ids) + (f" and {more} more" if more > 0 else "")
        reasons.append(f"{counts.failing} of {count(counts.total, 'feed')} failing: {names}")
    if counts.stale and counts.read_recently:  # none read recently: said above, and more
        reasons.append(
            f"{counts.stale} of {count(counts.total, 'feed')} stale: not read successfully"
            " within two check intervals"
        )
    if counts.total and not counts.read_recently:
        return "unhealthy", reasons
    return ("degraded" if reasons else "ok"), reasons
