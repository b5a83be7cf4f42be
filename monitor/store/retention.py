"""Retention of everything: entries (matched ones too once outside every window), status
changes (the latest per indicator stays; their counts stay in `change_summary`), cycles (their
sums stay in `cycle_summary`), the daily digests (the latest sent stays), then the space given
back: SQLite compacted, PostgreSQL vacuumed and analyzed.

What is kept how long (README "Retention"):
- an entry no indicator matched: until `before` (first seen), unless an analyst judged it;
- a matched entry and its matches: until `matched_before` (its time), which the daemon sets to
  the earlier of `before` and the start of the longest window, so no status moves; judged
  entries stay (verdicts are the analysts' labeled data);
- a status change: until `before`, except the latest of each indicator and any whose alert is
  still pending; each keeps its own copy of its evidence, so deleting entries loses none of it;
  those deleted are added to their indicator's `change_summary` row in the same transaction,
  so the counts /metrics reports never go down;
- a cycle: until `before`; its counts are added to the one `cycle_summary` row in the same
  transaction, so the totals /metrics reports never go down;
- a day's digest (its claim, the message that went out, the refused recipients): until a day
  before `before` (days are MONITOR_TIMEZONE's, `before` is UTC: the whole day is past it),
  except the latest sent and every day after it (the next digest lists the changes from where
  that one's ended, and a missed day is caught up from it), one whose refused recipients are
  still to be sent it again (`resend_at`), and one being sent (a fresh claim, not yet sent);
  nothing while no digest was ever sent. A day deleted is forgotten: seen again, it is built
  again from what retention left, as one never sent;
- a deleted entry's key (`forgotten_entry`), with its headline's digest: while feeds still
  offer it, and until `before` after they last did, so a feed that still carries the entry
  does not bring it back as news (another story under that key is news: `entries.py`).

On PostgreSQL no step waits for a writer that may wait for it (the feed rows: `feedlocks`):
- the keys no feed offered go skipping those a batch of news holds (it notes them as offered);
- a batch of entries is taken skipping those held (being judged, their matches replaced), the
  `evaluated` counter taken first when matched ones go (`hold_evaluations`: evaluations and
  replays take it first too); their keys are kept, added in key order (`_forgotten_rows`), as
  a batch of news adds those it carries from an older form (`oldkeys`): one waits at most for
  another clean-up or a batch adding a key before it, or for a batch noting one (which from
  then on waits for no clean-up); the `matches` counter is moved last, as by every writer of
  matches and verdicts. A batch of news reads the entries before the keys, and those as it
  notes them (`entries.py`), so an entry deleted meanwhile is found as forgotten;
- status changes go once alerted (the alert outbox writes only pending ones), then their counts
  by indicator; the cycles' summary row is taken before the cycles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Delete, delete, exists, func, or_, select

from monitor.identity import headline_digest
from monitor.store.base import StoreBase, after_a_lost_connection, log, once_more_if_disconnected
from monitor.store.digests import DIGEST_CLAIM_TIMEOUT
from monitor.store.forgetting import forget_stories_of, hold_evaluations
from monitor.store.health import CYCLE_COUNTS, added_seconds, cycle_sums, summed
from monitor.store.schema import (
    change_summary_table,
    change_table,
    cycle_summary_table,
    cycle_table,
    digest_table,
    entry_table,
    forgotten_table,
    match_table,
    verdict_table,
)

BATCH = 5_000  # entries deleted per transaction: a writer waits for one batch at most
COMPACT_SHARE = 0.25  # SQLite is vacuumed in full when free pages exceed this share of the file
# The transaction of a clean-up's try, and, asked after its connection was lost, whether it
# committed ('committed', 'aborted', 'in progress'; PostgreSQL 13 and later).
_XACT = "SELECT pg_current_xact_id()::text"
_XACT_STATUS = "SELECT pg_xact_status(%s::xid8)"
_PRUNED_TABLES = ("entry", "entry_match", "status_change", "cycle", "forgotten_entry", "digest")


@dataclass(frozen=True)
class Pruned:
    """What one `Store.prune` deleted."""

    entries: int = 0  # matched ones included
    matched: int = 0  # of which matched
    changes: int = 0
    cycles: int = 0
    digests: int = 0  # days' digests (each with the message that went out)

    @property
    def any(self) -> bool:
        return bool(self.entries or self.changes or self.cycles or self.digests)


class RetentionMixin(StoreBase):
    """Retention and compaction."""

    def prune(
        self,
        *,
        now: datetime,
        before: datetime,
        matched_before: datetime,
        buckets: Sequence[float],
    ) -> Pruned:
        """Delete what retention no longer keeps (see the module's docstring); `buckets` are
        the cycle-duration bounds /metrics counts, kept for the deleted cycles.

        Each transaction is run again when its connection is lost (`_counted`), safely: it
        deletes what is still there and counts what it deleted, in the transaction that deletes
        it; a try whose commit went through though its answer was lost is taken as done, with
        what it counted, so the counts returned (the log's line) are what was deleted."""
        self._forget_unoffered(before)
        unmatched = self._delete_entries(before, now, matched=False)
        matched = self._delete_entries(matched_before, now, matched=True)
        changes = self._counted("delete old status changes", self._delete_changes(before))
        cycles = self._counted("delete old cycles", self._delete_cycles(before, buckets))
        digests = self._counted("delete old digests", self._delete_digests(now, before))
        return Pruned(unmatched + matched, matched, changes, cycles, digests)

    def _counted(self, what: str, work: Callable[[Connection], int]) -> int:
        """`work(conn)`, a deletion that returns how many rows it deleted, in one transaction;
        run again on a new connection when its connection is lost (`after_a_lost_connection`).
        A try whose commit went through though its answer was lost deleted its rows, so the
        next finds none of them: it is taken as done, with the count it returned, when
        PostgreSQL says its transaction committed (`pg_xact_status`, asked on the new
        connection; SQLite loses no connection)."""
        lost: dict[str, Any] = {}  # the transaction of the try before, and what it counted

        def one_try() -> int:
            lost.clear()
            with self._tx(what, write=True) as conn:
                if self.dialect == "postgresql":
                    lost["xact"] = conn.exec_driver_sql(_XACT).scalar_one()
                lost["count"] = work(conn)
            return int(lost["count"])

        def again() -> int:
            if "xact" in lost and "count" in lost and self._committed(what, lost["xact"]):
                log.info("store: %s: done before the connection was lost", what)
                return int(lost["count"])
            return one_try()

        return after_a_lost_connection(one_try, again)

    def _committed(self, what: str, xact: str) -> bool:
        with self._tx(f"{what} (read whether the lost try committed)") as conn:
            status = conn.exec_driver_sql(_XACT_STATUS, (xact,)).scalar_one()
        return bool(status == "committed")

    @once_more_if_disconnected
    def _forget_unoffered(self, before: datetime) -> None:
        with self._tx("forget keys no feed offered", write=True) as conn:
            conn.execute(self._unoffered_keys(before))

    def _delete_changes(self, before: datetime) -> Callable[[Connection], int]:
        latest = select(func.max(change_table.c.id)).group_by(change_table.c.indicator_id)
        changes = delete(change_table).where(
            change_table.c.at < before,
            change_table.c.notified_at.is_not(None),
            change_table.c.id.not_in(latest.scalar_subquery()),
        )

        def work(conn: Connection) -> int:
            gone = conn.execute(changes.returning(change_table.c.indicator_id)).scalars().all()
            self._fold_changes(conn, Counter(gone))
            return len(gone)

        return work

    def _delete_cycles(
        self, before: datetime, buckets: Sequence[float]
    ) -> Callable[[Connection], int]:
        return lambda conn: self._fold_cycles(conn, before, buckets)

    def _delete_digests(self, now: datetime, before: datetime) -> Callable[[Connection], int]:
        return lambda conn: int(conn.execute(_old_digests(now, before)).rowcount)

    def _unoffered_keys(self, before: datetime) -> Delete:
        """Delete the deleted entries' keys no feed offered since `before`. On PostgreSQL a key
        a batch of news holds is skipped: it is being noted as offered now (`leave_forgotten`),
        so it stays; the next clean-up looks at it again. Waiting for it instead, while holding
        the keys met before it, could close a circle with a batch that holds it and asks for
        one of those (`deadlock detected`): a batch notes its keys in two passes (keys, then
        item keys), in whatever order the plan meets them. SQLite's writer holds the write
        lock anyway."""
        old = forgotten_table.c.offered_at < before
        if self.dialect != "postgresql":
            return delete(forgotten_table).where(old)
        held = select(forgotten_table.c.key).where(old).with_for_update(skip_locked=True)
        return delete(forgotten_table).where(forgotten_table.c.key.in_(held.scalar_subquery()))

    def _delete_entries(self, before: datetime, now: datetime, *, matched: bool) -> int:
        """Delete unjudged entries before `before` (first seen, for unmatched ones; their time,
        for matched ones, whose matches go with them), a batch per transaction; their keys are
        kept as forgotten at `now`."""
        has_match = exists().where(match_table.c.entry_id == entry_table.c.id)
        judged = exists().where(verdict_table.c.entry_id == entry_table.c.id)
        if matched:
            old = [entry_table.c.time < before, has_match]
        else:
            old = [entry_table.c.first_seen < before, ~has_match]
        columns = (entry_table.c.id, entry_table.c.key, entry_table.c.title, entry_table.c.item_key)
        batch = select(*columns).where(*old, ~judged).limit(BATCH)
        if self.dialect == "postgresql":
            # Locked until deleted, so a verdict recorded meanwhile waits and finds no entry
            # (its delete would take the verdict with it); one being recorded holds its entry,
            # which is skipped. SQLite's writer holds the write lock anyway.
            batch = batch.with_for_update(skip_locked=True)
        deleted = 0
        while True:
            ids = self._counted(
                "delete old entries", self._delete_batch(batch, now, matched=matched)
            )
            deleted += ids
            if ids < BATCH:
                return deleted

    def _delete_batch(
        self, batch: Any, now: datetime, *, matched: bool
    ) -> Callable[[Connection], int]:
        """Deletes one batch of the entries `batch` selects; returns how many."""

        def work(conn: Connection) -> int:
            if matched:  # its stories forgotten between two evaluations, not in one
                hold_evaluations(conn, self._insert)
            rows = conn.execute(batch).all()
            ids = [row.id for row in rows]
            if ids:
                forgotten = self._insert(forgotten_table)
                conn.execute(forgotten.on_conflict_do_nothing(), _forgotten_rows(rows, now))
                if matched:
                    conn.execute(delete(match_table).where(match_table.c.entry_id.in_(ids)))
                    forget_stories_of(conn, ids)
                conn.execute(delete(entry_table).where(entry_table.c.id.in_(ids)))
                self._matches_written(conn)  # a kept evidence read never depends on it
            return len(ids)

        return work

    def _fold_changes(self, conn: Connection, deleted: Counter[str]) -> None:
        """Add the status changes deleted (per indicator) to `change_summary`, in the
        transaction that deletes them: each counted by the one prune whose DELETE returned it
        (on PostgreSQL a row another daemon's prune deleted first is not returned), added in
        the database, so prunes of several daemons at once neither lose nor double a count."""
        if not deleted:
            return
        insert = self._insert(change_summary_table)
        added = change_summary_table.c.changes + insert.excluded.changes
        conn.execute(
            insert.on_conflict_do_update(index_elements=["indicator_id"], set_={"changes": added}),
            [{"indicator_id": i, "changes": n} for i, n in sorted(deleted.items())],
        )

    def _fold_cycles(self, conn: Connection, before: datetime, buckets: Sequence[float]) -> int:
        """Add the counts of the cycles finished before `before` to the summary, delete them.
        The summary's row is locked first, so the prunes of several daemons fold one after
        another; on PostgreSQL the sums are over the rows the DELETE returned, so a cycle
        another daemon's prune folded, or one recorded meanwhile, is not counted twice or
        lost (SQLite's writer holds the write lock throughout)."""
        summary = self._locked_cycle_summary(conn)
        old = cycle_table.c.finished_at < before
        if self.dialect == "postgresql":
            gone = delete(cycle_table).where(old).returning(*cycle_table.c).cte("gone")
            query = cycle_sums(self.dialect, buckets, gone.c).select_from(gone)
            folded = summed(conn.execute(query).one())
        else:
            folded = summed(conn.execute(cycle_sums(self.dialect, buckets).where(old)).one())
            conn.execute(delete(cycle_table).where(old))
        if not folded.cycles:
            return 0
        counts = {name: getattr(folded, name) for name in CYCLE_COUNTS}
        lasted = {str(float(b)): n for b, n in zip(buckets, folded.within, strict=True)}
        conn.execute(
            cycle_summary_table.update().values(
                cycles=summary.cycles + folded.cycles,
                seconds=added_seconds(summary.seconds, folded.seconds),
                counts=_added(summary.counts, counts),
                within=_added(summary.within, lasted),
            )
        )
        return folded.cycles

    def _locked_cycle_summary(self, conn: Connection) -> Any:
        """The `cycle_summary` row (made, empty, if missing), locked until the transaction
        ends (PostgreSQL; SQLite's writer holds the write lock anyway)."""
        empty = {"id": 1, "cycles": 0, "seconds": 0.0, "counts": {}, "within": {}}
        insert = self._insert(cycle_summary_table).values(**empty)
        conn.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
        return conn.execute(select(cycle_summary_table).with_for_update()).one()

    def checkpoint(self) -> int:
        """Copy what SQLite's write-ahead log holds into the database file, without waiting
        for readers or writers (a PASSIVE checkpoint: the log is copied as far as no reader
        still needs it); returns how many pages the log holds (copied or not: SQLite starts it
        afresh at the next write once all of it is copied). PostgreSQL checkpoints itself: 0."""
        if self.dialect == "postgresql":
            return 0
        raw = self._engine.raw_connection()
        try:
            found = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            _busy, pages, _copied = found
            return max(int(pages), 0)
        finally:
            raw.close()

    def compact(self) -> bool:
        """Give the space of deleted rows back: SQLite's free pages are released (at once when
        the file vacuums incrementally, else by a full VACUUM once they exceed COMPACT_SHARE of
        it, which also makes it incremental); PostgreSQL's pruned tables are vacuumed and
        analyzed (the space is reused, the planner sees the new sizes). Whether it did."""
        if self.dialect == "postgresql":
            with self._engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(_PRUNED_TABLES)}")
            return True
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            free = cursor.execute("PRAGMA freelist_count").fetchone()[0]
            incremental = cursor.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
            if not free or (not incremental and free <= COMPACT_SHARE * pages):
                return False
            if incremental:
                cursor.executescript("PRAGMA incremental_vacuum")  # steps it to the end
            else:
                cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
                cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return True
        finally:
            raw.close()


def _old_digests(now: datetime, before: datetime) -> Delete:
    """Delete the digests of the days that ended before `before` in any time zone (a day
    before its UTC date) but the latest sent and the days after it (none while no digest was
    ever sent: the latest is NULL), those with a resend pending and those being sent."""
    c = digest_table.c
    latest_sent = select(func.max(c.day)).where(c.sent_at.is_not(None)).scalar_subquery()
    not_being_sent = or_(
        c.sent_at.is_not(None), c.claimed_at.is_(None), c.claimed_at <= now - DIGEST_CLAIM_TIMEOUT
    )
    return delete(digest_table).where(
        c.day < (before.astimezone(UTC) - timedelta(days=1)).date(),
        c.day < latest_sent,
        c.resend_at.is_(None),
        not_being_sent,
    )


def _forgotten_rows(rows: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    """The rows that keep deleted entries' keys and item keys (`Entry.item_key`, which finds
    the item offered again under a new guid), each with its headline's digest, in key order.

    Two entries may share an item key (copies of one item the code before revision 0022
    stored at each check that found it under a new guid), so two daemons' batches, disjoint
    in entries, may add the same keys; a batch of news adds those it carries from an older
    form too (`oldkeys`). An INSERT that meets a key another transaction added waits for its
    commit: added in their batch's order, two waited for each other (`deadlock detected`);
    in key order, by every transaction that adds them, one waits for the other."""
    kept: dict[str, dict[str, Any]] = {}
    for row in rows:
        headline = headline_digest(row.title) or None
        for key in (row.key, row.item_key):
            if key and key not in kept:
                kept[key] = {"key": key, "offered_at": now, "headline": headline}
    return [kept[key] for key in sorted(kept)]


def _added(kept: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    return {key: kept.get(key, 0) + more.get(key, 0) for key in {*kept, *more}}
