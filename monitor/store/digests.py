"""The daily digest's rows: one per day, claimed once so that it is sent once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update

from monitor.store.base import StoreBase, after_a_lost_connection, once_more_if_disconnected
from monitor.store.schema import digest_table

DIGEST_CLAIM_TIMEOUT = timedelta(minutes=15)  # an unsent claim older than this may be retaken


@dataclass(frozen=True)
class DigestState:
    day: date
    claimed_at: datetime | None
    claimed_by: str | None
    sent_at: datetime | None
    attempts: int
    last_error: str
    covered_until: datetime | None = None  # None: sent before this was kept (then: sent_at)
    # Recipients the SMTP server refused when it was sent: (address, its answer) each.
    refused: tuple[tuple[str, str], ...] = ()
    # When the daemon sends it again to those refused with a temporary (4xx) answer: None
    # when none is pending; `resends`: how many times it was sent again so far.
    resend_at: datetime | None = None
    resends: int = 0


# A digest row but the message kept with it (`kept_digest` reads that): /healthz, /metrics and
# every check of a day's state read the row, and need not carry an e-mail each time.
_STATE = [column for column in digest_table.c if column.name != "message"]


class DigestsMixin(StoreBase):
    """The daily digest's claim and outcome."""

    def claim_digest(
        self,
        day: date,
        *,
        owner: str,
        now: datetime,
        stale: timedelta = DIGEST_CLAIM_TIMEOUT,
    ) -> bool:
        """True for the one caller that may send the digest of `day`.

        That is the first claimant, or a later one when the previous claim was released by
        `mark_digest_failed` or is unsent and older than `stale`. A sent digest is never
        claimed again.

        Run again when its connection is lost (`after_a_lost_connection`), and then the
        day claimed by `owner` at `now` is this call's own: the lost try had committed, only
        its answer was lost. It is sent at once, not once that claim goes stale (15 min on).
        """
        return after_a_lost_connection(
            lambda: self._claim_digest(day, owner=owner, now=now, stale=stale, again=False),
            lambda: self._claim_digest(day, owner=owner, now=now, stale=stale, again=True),
        )

    def _claim_digest(
        self, day: date, *, owner: str, now: datetime, stale: timedelta, again: bool
    ) -> bool:
        claim = {"claimed_at": now, "claimed_by": owner}
        with self._tx("claim digest", write=True) as conn:
            first = conn.execute(
                self._insert(digest_table)
                .values(day=day, attempts=1, last_error="", refused=[], **claim)
                .on_conflict_do_nothing(index_elements=["day"])
                .returning(digest_table.c.day)
            ).first()
            if first is not None:
                return True
            c = digest_table.c
            free = or_(c.claimed_at.is_(None), c.claimed_at <= now - stale)
            mine = and_(c.claimed_by == owner, c.claimed_at == now)  # the lost try's claim
            retaken = conn.execute(
                update(digest_table)
                .where(c.day == day, c.sent_at.is_(None), or_(free, mine) if again else free)
                .values(attempts=c.attempts + case((mine, 0), else_=1), **claim)
            )
            return retaken.rowcount == 1

    @once_more_if_disconnected
    def mark_digest_sent(
        self,
        day: date,
        now: datetime,
        *,
        covered_until: datetime | None = None,
        refused: Sequence[tuple[str, str]] = (),
        resend_at: datetime | None = None,
        message: bytes | None = None,
    ) -> None:
        """Sent at `now`, listing the changes recorded up to `covered_until` (default `now`);
        `refused`: the recipients the server refused, (address, its answer) each; `resend_at`:
        when some of them are to be sent it again (`claim_resend`), if any; `message`: the
        message that went out, as sent (what a resend sends again)."""
        with self._tx("mark digest sent", write=True) as conn:
            conn.execute(
                update(digest_table)
                .where(digest_table.c.day == day)
                .values(
                    sent_at=now,
                    covered_until=covered_until or now,
                    last_error="",
                    refused=_kept(refused),
                    resend_at=resend_at,
                    resends=0,
                    message=message,
                    claimed_by=None,  # its claim ends: `claimed_by` names who holds one now
                )
            )

    def claim_resend(
        self,
        *,
        now: datetime,
        most: int,
        stale: timedelta = DIGEST_CLAIM_TIMEOUT,
        owner: str | None = None,
    ) -> tuple[date, int] | None:
        """The sent digest whose refused recipients are due to be sent it again at `now`, for the
        one caller that may: (its day, which resend this is, from 1), or None.

        Compare-and-set: the claim moves `resend_at` on by `stale` and counts the resend, so a
        second caller finds it taken, and the resend of a caller that died is taken over once
        `stale` has passed. A digest sent again `most` times is not claimed any more: when the
        caller of that last resend died, its claim, once stale, is given up (`resend_at`
        cleared), so the day no longer reads as to be tried again and retention may delete it.
        `owner`, the caller, holds the claim (`claimed_by`) until `mark_resent`, so a daemon of
        its host that sees it is gone takes the claim over at once (`take_over_claims`)."""
        c = digest_table.c
        ripe = (c.sent_at.is_not(None), c.resend_at <= now)
        due = (*ripe, c.resends < most)
        # Read first: the daemon asks at every tick, and a write transaction (SQLite: the
        # database's write lock) for a resend that is rarely due would hold up the checks.
        with self._tx("read digest resends") as conn:
            found = conn.execute(
                select(c.day, c.resends).where(*ripe).order_by(c.day).limit(1)
            ).first()
        if found is None:
            return None
        if found.resends >= most:
            with self._tx("give up a dead last resend", write=True) as conn:
                conn.execute(
                    update(digest_table)
                    .where(*ripe, c.resends >= most)
                    .values(resend_at=None, claimed_by=None)
                )
            return self.claim_resend(now=now, most=most, stale=stale, owner=owner)
        return after_a_lost_connection(
            lambda: self._claim_resend(found.day, due, now=now, stale=stale, owner=owner),
            lambda: self._claim_resend(
                found.day, due, now=now, stale=stale, owner=owner, again=True
            ),
        )

    def _claim_resend(
        self,
        day: date,
        due: tuple[Any, ...],
        *,
        now: datetime,
        stale: timedelta,
        owner: str | None,
        again: bool = False,
    ) -> tuple[date, int] | None:
        """`claim_resend`'s compare-and-set; `again`, run again after a lost connection:
        the day claimed by `owner` at `now` is the claim of the lost try, whose commit went
        through (only its answer was lost), and this call's to send."""
        c = digest_table.c
        with self._tx("claim digest resend", write=True) as conn:
            if again and owner is not None:
                mine = select(c.resends).where(c.day == day, c.claimed_by == owner)
                taken = conn.execute(mine.where(c.claimed_at == now)).first()
                if taken is not None:
                    return day, taken.resends
            taken = conn.execute(
                update(digest_table)
                .where(digest_table.c.day == day, *due)
                .values(
                    resend_at=now + stale,
                    resends=digest_table.c.resends + 1,
                    claimed_at=now,
                    claimed_by=owner,
                )
                .returning(digest_table.c.resends)
            ).first()
        return None if taken is None else (day, taken.resends)

    @once_more_if_disconnected
    def mark_resent(
        self,
        day: date,
        resend: int,
        *,
        refused: Sequence[tuple[str, str]],
        resend_at: datetime | None,
    ) -> bool:
        """After resend number `resend` (`claim_resend`): the recipients refused now (those
        taken are gone from the list) and when to try again (None: not again). False, and
        nothing written, when that claim was taken over meanwhile."""
        with self._tx("mark digest resent", write=True) as conn:
            done = conn.execute(
                update(digest_table)
                .where(digest_table.c.day == day, digest_table.c.resends == resend)
                .values(refused=_kept(refused), resend_at=resend_at, claimed_by=None)
            )
            return done.rowcount == 1

    @once_more_if_disconnected
    def mark_digest_failed(self, day: date, error: str, now: datetime) -> None:
        """Record the error and release the claim so that a later attempt may retry."""
        with self._tx("mark digest failed", write=True) as conn:
            conn.execute(
                update(digest_table)
                .where(digest_table.c.day == day)
                .values(last_error=error, failed_at=now, claimed_at=None, claimed_by=None)
            )

    @once_more_if_disconnected
    def last_digest(self) -> tuple[date, datetime] | None:
        """(day, sent at) of the latest digest sent."""
        query = (
            select(digest_table.c.day, digest_table.c.sent_at)
            .where(digest_table.c.sent_at.is_not(None))
            .order_by(digest_table.c.day.desc())
            .limit(1)
        )
        with self._tx("read digests") as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.day, row.sent_at)

    @once_more_if_disconnected
    def next_sent_digest(self, after: date) -> date | None:
        """The earliest day after `after` whose digest was sent."""
        c = digest_table.c
        query = select(func.min(c.day)).where(c.day > after, c.sent_at.is_not(None))
        with self._tx("read digests") as conn:
            found: date | None = conn.execute(query).scalar()
        return found

    @once_more_if_disconnected
    def failing_digest(self, since: date) -> DigestState | None:
        """The latest digest of a day from `since` on, if it is not sent and its last try
        failed (`mark_digest_failed`): what /healthz reports until a retry sends it."""
        query = (
            select(*_STATE)
            .where(digest_table.c.day >= since)
            .order_by(digest_table.c.day.desc())
            .limit(1)
        )
        with self._tx("read digests") as conn:
            row = conn.execute(query).first()
        if row is None or row.sent_at is not None or not row.last_error:
            return None
        return _state(row)

    @once_more_if_disconnected
    def digest_state(self, day: date) -> DigestState | None:
        with self._tx("read digests") as conn:
            row = conn.execute(select(*_STATE).where(digest_table.c.day == day)).first()
        return None if row is None else _state(row)

    @once_more_if_disconnected
    def kept_digest(self, day: date) -> tuple[datetime, bytes] | None:
        """When the digest of `day` went out and the message as sent (`mark_digest_sent`);
        None when it did not, or went out before messages were kept (revision 0017)."""
        c = digest_table.c
        query = select(c.sent_at, c.message).where(
            c.day == day, c.sent_at.is_not(None), c.message.is_not(None)
        )
        with self._tx("read digests") as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.sent_at, row.message)


def _kept(refused: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"address": address, "answer": answer} for address, answer in refused]


def _state(row: Any) -> DigestState:
    return DigestState(
        row.day,
        row.claimed_at,
        row.claimed_by,
        row.sent_at,
        row.attempts,
        row.last_error,
        row.covered_until,
        tuple((r["address"], r["answer"]) for r in row.refused or ()),
        row.resend_at,
        row.resends,
    )
