"""Taking over the claims of a daemon that is gone, every kind in one place: the leases of due
feeds (`due_feeds`), the alert outbox's claims (`claim_alerts`), the claim on a day's digest
not sent yet (`claim_digest`) and on a sent one's resend (`claim_resend`). Each records its
owner's name (`monitor.owners`); the caller says which owners have ended, and their claims are
released at once rather than when they run out. A daemon stopping cleanly gives up its own
the same way (`release_claims`). With them goes its note of the indicators it has
(`DefinersMixin.note_defined`): a stopped daemon's files hold no indicator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, Connection, select, union, update

from monitor.counts import count
from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.digests import DIGEST_CLAIM_TIMEOUT
from monitor.store.feedlocks import lock_feed_rows
from monitor.store.schema import change_table, definer_table, digest_table, feed_table

__all__ = ["ClaimsMixin", "TakenOver", "log_taken_over"]


@dataclass(frozen=True)
class TakenOver:
    """What one gone owner held and was released: feeds, alerts of changes, the days of
    digests it was sending and of sent digests it was sending again (resends)."""

    feeds: int = 0
    alerts: int = 0
    digests: tuple[date, ...] = ()
    resends: tuple[date, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.feeds or self.alerts or self.digests or self.resends)

    def __str__(self) -> str:
        """`3 feeds, 1 alert and the digest of 2026-02-01`, as the log says it."""
        parts = [count(n, word) for n, word in ((self.feeds, "feed"), (self.alerts, "alert")) if n]
        parts += [f"the digest of {day.isoformat()}" for day in self.digests]
        parts += [f"the resend of the digest of {day.isoformat()}" for day in self.resends]
        return " and ".join(parts) if len(parts) < 3 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def log_taken_over(taken: Mapping[str, TakenOver], log: logging.Logger) -> None:
    """One INFO line per gone owner whose claims `take_over_claims` released, the same from
    the daemon and from the commands that claim (`monitor check`, `digest --send`)."""
    for owner, held in taken.items():
        log.info(
            "claims: took over %s from %s, a process of this host that is gone",
            held,
            owner,
            extra={"feeds": held.feeds, "alerts": held.alerts, "owner": owner,
                   "digests": [day.isoformat() for day in held.digests],
                   "resends": [day.isoformat() for day in held.resends]},
        )  # fmt: skip


class ClaimsMixin(StoreBase):
    """The claims of every kind that owners hold, and their release when an owner is gone."""

    @once_more_if_disconnected
    def take_over_claims(
        self, now: datetime, *, ended: Callable[[str], bool]
    ) -> dict[str, TakenOver]:
        """Release at once the claims holding at `now` of each owner that `ended` says is no
        more (`owners.ended`: a process of this host that is gone): its feed leases, so any
        daemon checks those feeds now; its alerts' claims, so the next send takes them; its
        claim on a digest not sent yet, so the next try sends it; its claim on a resend, which
        is due at `now` then. Returns owner -> what was released. Compare-and-set per owner: a
        claim is released only while that owner still holds it, so daemons doing this at once
        release each claim once."""
        with self._tx("read claim holders") as conn:
            gone = [owner for owner in conn.execute(_holders(now)).scalars() if ended(owner)]
        taken = {}
        for owner in sorted(set(gone)):
            with self._tx("take over claims", write=True) as conn:
                taken[owner] = _release(conn, owner, now)
        return {owner: released for owner, released in taken.items() if released}

    @once_more_if_disconnected
    def release_claims(
        self, owner: str, now: datetime, *, alerts: bool = True, digests: bool = True
    ) -> TakenOver:
        """Release at once every claim `owner` holds, as `take_over_claims` does for a gone
        owner: what a daemon stopping cleanly gives up, so a restarted (or another) daemon
        checks its feeds, sends its alerts and digest at once. `alerts=False` leaves its alert
        claims, `digests=False` its digest and resend claims: a send of them is still in
        flight. Returns what was released."""
        with self._tx("release claims", write=True) as conn:
            return _release(conn, owner, now, alerts=alerts, digests=digests)


def _holders(now: datetime) -> CompoundSelect[Any]:
    """The owners whose claims of any kind hold at `now`."""
    feed, change, digest = feed_table.c, change_table.c, digest_table.c
    return union(
        select(feed.lease_owner).where(feed.lease_owner.is_not(None), feed.lease_until > now),
        select(change.notify_owner).where(
            change.notified_at.is_(None),
            change.notify_owner.is_not(None),
            change.notify_until > now,
        ),
        select(digest.claimed_by).where(
            digest.claimed_by.is_not(None), digest.claimed_at > now - DIGEST_CLAIM_TIMEOUT
        ),
    )


def _release(
    conn: Connection, owner: str, now: datetime, *, alerts: bool = True, digests: bool = True
) -> TakenOver:
    """Release every claim `owner` still holds, in the caller's transaction; a resend it held
    is due at `now`. Its alert claims only with `alerts`, its digest and resend claims only
    with `digests`."""
    leased = feed_table.c.lease_owner == owner
    lock_feed_rows(conn, leased)
    feeds = conn.execute(
        update(feed_table).where(leased).values(lease_owner=None, lease_until=None)
    )
    released = TakenOver(int(feeds.rowcount or 0))
    # Its definitions hold no indicator any more (`note_defined`): the next note by another
    # process ends those only it had, dated by its last note, not once its note runs out.
    definer = definer_table.c
    noted = conn.execute(select(definer.noted_at).where(definer.owner == owner)).scalar()
    if noted is not None:
        until = noted - timedelta(microseconds=1)
        conn.execute(update(definer_table).where(definer.owner == owner).values(until=until))
    if alerts:
        sending = conn.execute(
            update(change_table)
            .where(change_table.c.notify_owner == owner, change_table.c.notified_at.is_(None))
            .values(notify_owner=None, notify_until=None)
        )
        released = replace(released, alerts=int(sending.rowcount or 0))
    if not digests:
        return released
    days = (
        conn.execute(
            update(digest_table)
            .where(digest_table.c.claimed_by == owner, digest_table.c.sent_at.is_(None))
            .values(claimed_at=None, claimed_by=None)
            .returning(digest_table.c.day)
        )
        .scalars()
        .all()
    )
    resends = (
        conn.execute(
            update(digest_table)
            .where(digest_table.c.claimed_by == owner, digest_table.c.sent_at.is_not(None))
            .where(digest_table.c.resend_at.is_not(None))
            .values(claimed_by=None, resend_at=now)
            .returning(digest_table.c.day)
        )
        .scalars()
        .all()
    )
    return replace(released, digests=tuple(sorted(days)), resends=tuple(sorted(resends)))
