"""The alert outbox: a recorded status change waits in the database until every channel has
accepted its alert, so alerts survive a crash, a restart and a channel that is down.

    send_pending(outbox, now=..., clock=...) -> int    alert the changes due, one at a time

A change is recorded as pending in the transaction that records it (`Store.record_changes`
with `alert=True`). `send_pending` claims one pending change at a time (compare-and-set, with a
lease: each change is in one daemon's hands, even with several daemons on one PostgreSQL),
sends it with `Notifier.deliver`, and marks it alerted only when every channel accepted it. A
failed try is retried with back-off (ALERT_RETRY doubling up to ALERT_RETRY_MAX), or later
when a channel that did not take it answered 429 or 503 with Retry-After (no earlier than that,
at most `notify.RETRY_AFTER_MAX` ahead; then, and no later, when that was all that held it),
sending only to the channels that did not take it yet. What a channel asked is written to the
database (`Store.rest_channels`) and read before every alert (`Store.channel_rests`,
`Notifier.heed`), so every process on it (other daemons, `monitor check` beside one, a daemon
restarted) leaves the channel alone until then, for every alert; a channel that failed on
DOWN_AFTER alerts in a row is not tried again in the same call (`_Failing`). A daemon killed
between recording a change and sending it leaves it pending: the next start (or another daemon)
sends it, once. A daemon killed while sending leaves it claimed until the claim's lease ends,
or until a daemon of the same host sees it is gone (`Store.take_over_claims`, at once); whether
the channel got it then is unknowable, so it may be sent again (at least once, never lost).

A change that a silence holds (`monitor.silences`) is not claimed while the silence is in force;
when it ends the change is claimed as any other, sent once, and its alert names the silence.

Built like healthchecks' `process_one_flip`: one small unit of work that says whether there
was any. The daemon runs it as its own job, so a slow or failing channel never holds up a check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from monitor.alerttext import build_alert
from monitor.counts import count
from monitor.notify import RESTING, RETRY_AFTER_MAX, Delivery, Notifier
from monitor.silences import holder
from monitor.store import AlertClaim, Store

log = logging.getLogger("monitor.alerts")

ALERT_RETRY = timedelta(seconds=30)  # after a failed try; doubles up to ALERT_RETRY_MAX
ALERT_RETRY_MAX = timedelta(hours=1)
CLAIM_SLACK = timedelta(seconds=60)  # a claim lasts the longest a try can take, and this
MAX_PER_RUN = 100  # changes alerted per call at most, so a stopping daemon is not held up
DOWN_AFTER = 2  # failures in a row after which a channel is not tried again in a run


@dataclass(frozen=True)
class Outbox:
    """What sending needs: where the changes are, the channels, and how to name things."""

    store: Store
    notifier: Notifier
    titles: Mapping[str, str]  # indicator id -> title, for the alert's text
    owner: str  # this daemon, as in feed leases
    zone: tzinfo = UTC
    public_url: str | None = None  # MONITOR_PUBLIC_URL: alerts link to the indicator's page

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts: every channel tried to its timeout, every attempt."""
        tries = max(1, len(self.notifier.channels)) * self.notifier.attempts
        return tries * timedelta(seconds=self.notifier.timeout) + CLAIM_SLACK


def retry_delay(attempts: int) -> timedelta:
    """The back-off after the `attempts`-th failed try (1, 2, …)."""
    delay: timedelta = ALERT_RETRY * 2 ** max(0, attempts - 1)
    return min(delay, ALERT_RETRY_MAX)


def send_pending(
    outbox: Outbox,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Alert the changes that are due, one at a time; returns how many were tried."""
    if not outbox.notifier.channels:
        return 0
    tried, failing = 0, _Failing()
    while tried < MAX_PER_RUN and not stop():
        at = clock() if clock else now
        claimed = outbox.store.claim_alerts(at, owner=outbox.owner, lease=outbox.lease, limit=1)
        if not claimed:
            break
        send_one(outbox, claimed[0], clock=clock or (lambda: now), failing=failing)
        tried += 1
    for line in failing.summary():
        log.warning("alerts: %s", line)
    return tried


@dataclass
class _Failing:
    """The channels failing in one run of `send_pending`. One that failed on DOWN_AFTER alerts
    in a row is not tried again in the run: fifty changes in a cycle and a channel that answers
    429, or hangs to its timeout, made fifty tries into its rate limit, and a healthy channel's
    last alert waited for all of them. Its alerts count a failed try as if tried (each keeps its
    back-off) and go to the other channels at once. Two in a row, not one: an alert that fails
    for a reason of its own (the same back-off for all) would otherwise hold the others back."""

    streak: dict[str, int] = field(default_factory=dict)  # channel key -> failures in a row
    down: dict[str, str] = field(default_factory=dict)  # channel key -> why it is skipped
    skipped: dict[str, int] = field(default_factory=dict)  # channel name -> alerts not tried
    resting: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (why, alerts)

    def update(self, claim: AlertClaim, delivery: Delivery) -> None:
        for key in set(delivery.done) - set(claim.done):
            self.streak[key] = 0
        for key, error in delivery.failed:
            self.streak[key] = self.streak.get(key, 0) + 1
            if self.streak[key] >= DOWN_AFTER:
                self.down[key] = f"it failed on {self.streak[key]} alerts in a row: {error}"
        for failure in delivery.failures:
            if failure.error.startswith("not tried: "):
                self.skipped[failure.channel] = self.skipped.get(failure.channel, 0) + 1
            if failure.error.startswith(RESTING):
                n = self.resting.get(failure.channel, ("", 0))[1]
                self.resting[failure.channel] = (failure.error.removeprefix(RESTING), n + 1)

    def summary(self) -> list[str]:
        return [
            f"{channel}: not tried for {count(n, 'more alert')} after it failed on {DOWN_AFTER} "
            f"in a row; {'it goes to it at its' if n == 1 else 'they go to it at their'} next try"
            for channel, n in self.skipped.items()
        ] + [
            f"{channel}: {count(n, 'alert')} {'waits' if n == 1 else 'wait'}: {why} (Retry-After); "
            f"{'it goes' if n == 1 else 'they go'} to it then"
            for channel, (why, n) in self.resting.items()
        ]


def send_one(
    outbox: Outbox,
    claim: AlertClaim,
    *,
    clock: Callable[[], datetime],
    failing: _Failing | None = None,
) -> bool:
    """Send one claimed change; True when every channel has it now. With `failing`, the
    channels it holds as down are not tried, and what this try found is added to it."""
    change = claim.change
    assert change.id is not None
    title = outbox.titles.get(change.indicator_id) or change.title or change.indicator_id
    holders = outbox.store.silences(change.indicator_id, ending_after=change.recorded)
    held_by = holder(change, holders)
    alert = build_alert(
        change, title, zone=outbox.zone, public_url=outbox.public_url, held_by=held_by
    )
    store, owner = outbox.store, outbox.owner
    rests = store.channel_rests(clock(), longest=RETRY_AFTER_MAX)  # what every process was told
    outbox.notifier.heed(rests, now=clock())
    down = failing.down if failing is not None else None
    delivery = outbox.notifier.deliver(alert, skip=claim.done, down=down, clock=clock)
    if delivery.rests:  # for every process on the database to heed
        store.rest_channels(dict(delivery.rests), now=clock())
    if failing is not None:
        failing.update(claim, delivery)
    if not delivery.failures:
        if not store.alert_sent(change.id, owner=owner, now=clock(), done=delivery.done):
            log.warning("alerts: change %d was sent after its claim ran out", change.id)
        return True
    attempts = claim.attempts + 1
    retry_at = clock() + retry_delay(attempts)
    if delivery.not_before is not None and delivery.not_before > retry_at:
        retry_at = delivery.not_before  # a channel asked to be left alone until then
    if delivery.not_before is not None and _only_resting(delivery):
        retry_at = delivery.not_before  # not tried: due when the wait ends, no back-off on it
    error = "; ".join(f"{f.channel}: {f.error}" for f in delivery.failures)[:500]
    store.alert_failed(change.id, owner=owner, error=error, retry_at=retry_at, done=delivery.done)
    log.log(  # a channel not tried (resting, or down) is told once, in the run's summary
        logging.WARNING if delivery.failed or failing is None else logging.INFO,
        "alerts: change %d (%s) not delivered (try %d); next try at %s",
        change.id, change.indicator_id, attempts, retry_at.isoformat(timespec="seconds"),
    )  # fmt: skip
    return False


def _only_resting(delivery: Delivery) -> bool:
    """Whether every channel that does not have the alert was left alone for its Retry-After."""
    return all(failure.error.startswith(RESTING) for failure in delivery.failures)


__all__ = ["ALERT_RETRY", "ALERT_RETRY_MAX", "Outbox", "retry_delay", "send_one", "send_pending"]
