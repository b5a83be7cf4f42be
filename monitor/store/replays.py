"""A replay's hold on the matches (the `replay` row): `monitor replay` rewrites the stored
matches a batch of entries per transaction, so a daemon's writes wait for one batch at most,
never for the whole rewrite. Meanwhile the matches are half old, half new: the row tells the
evaluations (`StorySession.replay_held`) to record nothing until the rewrite is done, and the
kept stories, which the replay forgets only with its last transaction, go on showing the
statuses as recorded. A replay that stopped half way leaves the row: the evaluations stay held
until another replay, from that date or earlier, takes it over (once its lease has passed) and
finishes the rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from monitor.errors import StoreError
from monitor.store.base import StoreBase, after_a_lost_connection, once_more_if_disconnected
from monitor.store.forgetting import forget_stories, hold_evaluations
from monitor.store.schema import replay_table

_ROW = 1  # the one row


@dataclass(frozen=True)
class ReplayHold:
    """A replay rewriting the matches from `since` on (or one that stopped half way)."""

    since: datetime
    owner: str
    lease_until: datetime  # another replay may take it over after

    def stalled(self, now: datetime) -> bool:
        """Its lease ran out: the replay stopped half way (killed, interrupted, failed) or is
        stuck; the statuses stay held until another replay finishes the rewrite."""
        return self.lease_until <= now

    @property
    def finish(self) -> str:
        """The command that finishes the rewrite (and ends the hold)."""
        return f"monitor replay --since {self.since:%Y-%m-%d}"

    def note(self, now: datetime) -> str:
        """What it means for the statuses at `now`, in one line: the same in /healthz, on the
        page, in `monitor status`, in the digest and in the log."""
        day = f"{self.since:%Y-%m-%d}"
        if self.stalled(now):
            return (
                f"statuses held: a replay from {day} stopped half way through rewriting the "
                f"matches; no status change is recorded or alerted until `{self.finish}` "
                "finishes it"
            )
        return (
            f"statuses held: a replay from {day} is rewriting the matches; no status change is "
            "recorded until it finishes"
        )


class ReplaysMixin(StoreBase):
    """The hold a replay keeps on the matches while it rewrites them."""

    @once_more_if_disconnected
    def begin_replay(
        self, since: datetime, *, owner: str, now: datetime, lease: timedelta
    ) -> datetime:
        """Hold the matches for a replay by `owner` from `since` on; returns the date it must
        replay from: `since`, or the earlier date of a replay that stopped half way (whose
        rewrite it finishes). StoreError while another replay's lease lasts. Safe to run again:
        a try whose commit went through left this owner's hold, which it renews."""
        with self._tx("begin a replay", write=True) as conn:
            hold_evaluations(conn, self._insert)
            found = replay_hold(conn)
            if found is not None and found.owner != owner and found.lease_until > now:
                raise StoreError(
                    f"store: another replay (from {found.since:%Y-%m-%d}, by {found.owner}) is "
                    f"rewriting the matches; its hold lasts until {found.lease_until:%H:%M:%S} "
                    "UTC unless it goes on: run this one after it"
                )
            start = since if found is None else min(since, found.since)
            values = {"since": start, "owner": owner, "lease_until": now + lease}
            statement = self._insert(replay_table).values(id=_ROW, **values)
            conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))
            return start

    @once_more_if_disconnected
    def replay_hold(self) -> ReplayHold | None:
        """The replay holding the matches (or stopped half way), if any."""
        with self._tx("read the replay's hold") as conn:
            return replay_hold(conn)

    @once_more_if_disconnected
    def stop_replay(self, *, owner: str, now: datetime) -> bool:
        """`owner` stopped half way (interrupted, failed): its hold stays, the matches being
        half rewritten, but its lease ends now, so that the next replay takes it over at once
        (and it reads as stalled). False when the hold is not its own (ended, or taken over)."""
        with self._tx("stop a replay", write=True) as conn:
            ours = replay_table.c.id == _ROW, replay_table.c.owner == owner
            stopped = conn.execute(update(replay_table).where(*ours).values(lease_until=now))
            return bool(stopped.rowcount == 1)

    def end_replay(self, *, owner: str) -> None:
        """The rewrite is done: forget the kept stories (each outcome is worked out anew from
        the new matches at the next evaluation) and let the evaluations go on. Run again when
        the connection is lost (`after_a_lost_connection`): a try whose commit went through
        left no hold, which is then this one's end, not a hold lost to another replay."""
        after_a_lost_connection(
            lambda: self._end_replay(owner), lambda: self._end_replay(owner, again=True)
        )

    def _end_replay(self, owner: str, *, again: bool = False) -> None:
        with self._tx("end a replay", write=True) as conn:
            hold_evaluations(conn, self._insert)
            ours = delete(replay_table).where(replay_table.c.owner == owner)
            if conn.execute(ours).rowcount != 1:
                if again and replay_hold(conn) is None:
                    return  # ended by the try whose answer was lost
                raise StoreError(_LOST)
            forget_stories(conn)


def renew_hold(conn: Connection, owner: str, lease_until: datetime) -> None:
    """Renew `owner`'s hold, in a transaction of its rewrite (compare-and-set: StoreError
    when another replay took it over, its own lease having passed)."""
    renewed = conn.execute(
        update(replay_table)
        .where(replay_table.c.id == _ROW, replay_table.c.owner == owner)
        .values(lease_until=lease_until)
    )
    if renewed.rowcount != 1:
        raise StoreError(_LOST)


def replay_hold(conn: Connection) -> ReplayHold | None:
    row = conn.execute(select(replay_table).where(replay_table.c.id == _ROW)).first()
    return None if row is None else ReplayHold(row.since, row.owner, row.lease_until)


_LOST = (
    "store: the replay lost its hold on the matches (it went on past its lease, and another "
    "replay took it over)"
)
