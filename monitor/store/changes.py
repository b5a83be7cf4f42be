"""Statuses and their changes: each indicator's current status, status changes recorded by
compare-and-set, and the alert outbox on the change rows.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Self

from sqlalchemy import Connection, bindparam, func, or_, select, update

from monitor.domain import (
    INITIAL,
    QUIET,
    Evidence,
    StatusChange,
    UnreadFeed,
    without_controls,
)
from monitor.store.base import (
    StoreBase,
    after_a_lost_connection,
    chunks,
    log,
    once_more_if_disconnected,
)
from monitor.store.schema import change_table, state_table
from monitor.store.silences import held_now


@dataclass(frozen=True)
class AlertClaim:
    """A recorded change claimed for alerting (`Store.claim_alerts`)."""

    change: StatusChange
    attempts: int  # failed tries so far
    done: tuple[str, ...]  # keys of the channels that accepted it already
    until: datetime  # the claim's end: another daemon may take it over then


@dataclass(frozen=True)
class FailingAlerts:
    """Recorded changes whose alert waits after a failed try (`Store.failing_alerts`)."""

    count: int
    oldest: datetime  # when the oldest of them was recorded
    error: str  # its last try's error: the channels by scheme and host, without secrets


class Around(NamedTuple):
    """An indicator's changes on either side of a moment (`Store.changes_around`)."""

    before: StatusChange | None = None  # its latest change before the moment
    after: StatusChange | None = None  # its first change from the moment on


def _nearest(moment: datetime, *, before: bool) -> Any:
    """The id of the indicator's (of the row of `state_table` it is selected with) latest change
    before `moment`, or its first from `moment` on."""
    c = change_table.c
    query = select(c.id).where(c.indicator_id == state_table.c.indicator_id)
    if before:
        query = query.where(c.at < moment).order_by(c.at.desc(), c.id.desc())
    else:
        query = query.where(c.at >= moment).order_by(c.at, c.id)
    return query.limit(1).correlate(state_table).scalar_subquery()


def _recorded_before(conn: Connection, change: StatusChange) -> StatusChange | None:
    """`change` with its id when a row holds it, recorded at its very `recorded_at` (the
    moment its `record_changes` call took, to the microsecond: that call's own row)."""
    c = change_table.c
    query = select(c.id).where(
        c.indicator_id == change.indicator_id,
        c.at == change.at,
        c.recorded_at == change.recorded,
        c.old_status == change.old_status,
        c.new_status == change.new_status,
        c.definition_hash == change.definition_hash,
    )
    found = conn.execute(query.order_by(c.id.desc()).limit(1)).scalar()
    return None if found is None else replace(change, id=int(found))


# The statements `record_changes` runs per change, built once: built per change with its values,
# SQLAlchemy's building and caching of them cost more than running them.
_RECORD = change_table.insert().returning(change_table.c.id)
_STATE = select(state_table.c.status, state_table.c.version).where(
    state_table.c.indicator_id == bindparam("indicator")
)
_SWAP = update(state_table).where(  # SET: the columns of the parameters
    state_table.c.indicator_id == bindparam("indicator"),
    state_table.c.status == bindparam("held"),
    state_table.c.version == bindparam("held_version"),
)


class ChangesMixin(StoreBase):
    """Statuses, status changes and the alert outbox."""

    _unrecorded: tuple[StatusChange, ...] = ()  # see `with_unrecorded`
    _unrecorded_rows: tuple[StatusChange, ...] = ()  # those of them that would be rows

    @once_more_if_disconnected
    def with_unrecorded(self, changes: Sequence[StatusChange]) -> Self:
        """This store (the same connection pool: close only one) reading `changes` as if they
        were recorded, in memory: what a read-only command shows after evaluating without
        writing. Statuses and `changes_between` include them; an indicator's first reading
        (unknown -> quiet) only moves its status, as `record_changes` does it."""
        query = select(state_table.c.indicator_id, state_table.c.version)
        with self._tx("read statuses") as conn:
            versions = {row.indicator_id: row.version for row in conn.execute(query)}
        rows = [c for c in changes if not _first_reading(c, versions.get(c.indicator_id, 0))]
        view = copy.copy(self)
        view._unrecorded = (*self._unrecorded, *changes)
        view._unrecorded_rows = (*self._unrecorded_rows, *rows)
        return view

    @once_more_if_disconnected
    def ensure_indicators(self, indicator_ids: Iterable[str], *, now: datetime) -> None:
        """Give indicators seen for the first time a state: INITIAL (unknown) since `now`, as
        nothing was read for them yet; the first evaluation records what they are."""
        rows = [
            {"indicator_id": i, "status": INITIAL, "since": now, "definition_hash": ""}
            | {"version": 0, "started_at": now}
            for i in dict.fromkeys(indicator_ids)
        ]
        if rows:
            statement = self._insert(state_table).on_conflict_do_nothing(
                index_elements=["indicator_id"]
            )
            with self._tx("add indicators", write=True) as conn:
                conn.execute(statement, rows)

    @once_more_if_disconnected
    def current_statuses(self) -> dict[str, tuple[str, datetime]]:
        """indicator id -> (status, since)."""
        with self._tx("read statuses") as conn:
            rows = conn.execute(
                select(state_table.c.indicator_id, state_table.c.status, state_table.c.since)
            )
            found = {row.indicator_id: (row.status, row.since) for row in rows}
        return found | {c.indicator_id: (c.new_status, c.at) for c in self._unrecorded}

    @once_more_if_disconnected
    def evaluated_with(self) -> dict[str, str]:
        """indicator id -> the hash of the definition its status was last worked out with by a
        writer (`mark_evaluated`; that of its latest change before it; "" before any)."""
        query = select(state_table.c.indicator_id, state_table.c.definition_hash)
        with self._tx("read statuses") as conn:
            return {row.indicator_id: row.definition_hash for row in conn.execute(query)}

    @once_more_if_disconnected
    def mark_evaluated(self, hashes: Mapping[str, str]) -> None:
        """Note that the statuses of these indicators (id -> definition hash) were worked out
        with these definitions, whether or not that changed them (safe to run twice)."""
        rows = [{"id": i, "hash": h} for i, h in hashes.items()]
        if not rows:
            return
        key = state_table.c.indicator_id == bindparam("id")
        statement = update(state_table).where(key).values(definition_hash=bindparam("hash"))
        with self._tx("note the definitions evaluated", write=True) as conn:
            conn.execute(statement, rows)

    @once_more_if_disconnected
    def monitoring_started(self) -> dict[str, datetime]:
        """indicator id -> when monitoring it began (the page's timeline starts there)."""
        query = select(state_table.c.indicator_id, state_table.c.started_at, state_table.c.since)
        with self._tx("read statuses") as conn:
            found = {row.indicator_id: row.started_at or row.since for row in conn.execute(query)}
        return {c.indicator_id: c.at for c in self._unrecorded} | found

    @once_more_if_disconnected
    def monitoring_ended(self) -> dict[str, datetime]:
        """indicator id -> when monitoring it ended: the last check that had it, once no
        process checks with it any more (`DefinersMixin.note_defined`)."""
        query = select(state_table.c.indicator_id, state_table.c.ended_at)
        with self._tx("read statuses") as conn:
            rows = conn.execute(query.where(state_table.c.ended_at.is_not(None)))
            return {row.indicator_id: row.ended_at for row in rows}

    @once_more_if_disconnected
    def first_readings(self) -> dict[str, datetime]:
        """indicator id -> when its first reading ended the unknown it began in, where that
        recorded no change (`record_changes`: quiet is not news) and is known: the stretch
        before it is `unknown`, not the status of its first change's `old_status`. The
        unrecorded first readings (`with_unrecorded`) count too."""
        query = select(state_table.c.indicator_id, state_table.c.read_at)
        query = query.where(state_table.c.read_at.is_not(None))
        with self._tx("read statuses") as conn:
            found = {row.indicator_id: row.read_at for row in conn.execute(query)}
        rows = set(map(id, self._unrecorded_rows))
        pending = [c for c in self._unrecorded if id(c) not in rows and c.old_status == INITIAL]
        return found | {c.indicator_id: c.at for c in pending}

    def record_changes(
        self, changes: Sequence[StatusChange], *, alert: bool = False, now: datetime | None = None
    ) -> list[StatusChange]:
        """Record each change unless its old status is no longer the stored one. A change
        keeps its top EVIDENCE_KEPT evidence items and how many it had (`evidence_total`).

        `now`: when they are recorded (`recorded_at`; without it, each change's own
        `recorded`), which a silence holds them by: a change can be dated earlier (`at`).

        With `alert`, each (not replayed) change is recorded as pending in the alert outbox,
        in the same transaction: a crash cannot lose its alert (`claim_alerts`). Otherwise
        it is recorded as needing none.

        Each change is its own compare-and-set transaction; a change another worker has
        already made (or overtaken) is skipped. Returns the recorded changes with their ids:
        every one this call recorded, also one whose connection was lost as it committed
        (run again on a new connection, `after_a_lost_connection`, it finds its row: the
        same change recorded at this very `recorded_at`), and those recorded before it.

        An indicator's first reading is not news: its state moves from INITIAL (unknown: nothing
        read yet) to quiet without a change row (so no alert and no line in the digest). Any
        other first status, and every later move, is a recorded change.
        """
        recorded = []
        for change in changes:
            pending = alert and not change.replayed
            change = replace(change, recorded_at=now or change.recorded)
            values = _change_values(change) | {"notified_at": None if pending else change.at}
            record = functools.partial(self._record_change, change, values)
            done = after_a_lost_connection(record, functools.partial(record, again=True))
            if done is not None:
                recorded.append(done)
        return recorded

    def _record_change(
        self, change: StatusChange, values: dict[str, Any], *, again: bool = False
    ) -> StatusChange | None:
        """Record one change (compare and set); `again`: after a try whose connection was lost,
        which may have recorded it (its row is then found)."""
        with self._tx("record status change", write=True) as conn:
            before = self._swap_status(conn, change)
            if before is None:
                return _recorded_before(conn, change) if again else None
            if _first_reading(change, before):
                return None
            change_id = conn.execute(_RECORD, values).scalar_one()
        return replace(change, id=change_id)

    def _swap_status(self, conn: Connection, change: StatusChange) -> int | None:
        """Move the indicator's state from the change's old status to its new one (compare and
        set); returns the state's version before, or None when the old status did not hold."""
        row = conn.execute(_STATE, {"indicator": change.indicator_id}).first()
        values: dict[str, Any] = {
            "status": change.new_status,
            "since": change.at,
            "definition_hash": change.definition_hash,
        }
        if row is None:
            if change.old_status != INITIAL:
                return None
            statement = (
                self._insert(state_table)
                .values(indicator_id=change.indicator_id, version=1, started_at=change.at, **values)
                .on_conflict_do_nothing(index_elements=["indicator_id"])
                .returning(state_table.c.version)
            )
            return 0 if conn.execute(statement).first() is not None else None
        if row.status != change.old_status:
            return None
        if _first_reading(change, row.version):  # no row says when the initial unknown ended
            values["read_at"] = change.at
        held = {"indicator": change.indicator_id, "held": row.status, "held_version": row.version}
        swapped = conn.execute(_SWAP, held | values | {"version": row.version + 1})
        return int(row.version) if swapped.rowcount == 1 else None

    @once_more_if_disconnected
    def history(
        self,
        indicator_id: str,
        *,
        since: datetime | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[StatusChange]:
        """Status changes of one indicator, newest first; page with `before_id`.

        One range of the index (indicator, id), read backwards: with `since`, it starts at the
        first change at or after it (found in the index (indicator, at)), so neither a page nor
        the timeline reads or sorts older changes."""
        mine = change_table.c.indicator_id == indicator_id
        query = select(change_table).where(mine)
        if since is not None:
            first = select(func.min(change_table.c.id)).where(mine, change_table.c.at >= since)
            query = query.where(change_table.c.id >= first.scalar_subquery())
            query = query.where(change_table.c.at >= since)
        if before_id is not None:
            query = query.where(change_table.c.id < before_id)
        query = query.order_by(change_table.c.id.desc()).limit(limit)
        with self._tx("read history") as conn:
            return [_change_of(row) for row in conn.execute(query)]

    @once_more_if_disconnected
    def changes_between(self, start: datetime, end: datetime) -> list[StatusChange]:
        """Changes with start <= at < end, oldest first (for the digest); the unrecorded ones
        (`with_unrecorded`) up to `end` itself, however early: no digest has listed them."""
        query = (
            select(change_table)
            .where(change_table.c.at >= start, change_table.c.at < end)
            .order_by(change_table.c.at, change_table.c.id)
        )
        with self._tx("read changes") as conn:
            found = [_change_of(row) for row in conn.execute(query)]
        more = [c for c in self._unrecorded_rows if c.at <= end]
        return sorted(found + more, key=lambda c: c.at)  # stable: recorded ones first at a tie

    @once_more_if_disconnected
    def changes_recorded(
        self, indicator_id: str, start: datetime, end: datetime
    ) -> list[StatusChange]:
        """The changes of one indicator recorded at start <= recorded_at < end, oldest first
        (what a silence in force then held), and the unrecorded ones (`with_unrecorded`) that
        would be. Read on the index (indicator, at) up to `end`: a change is dated at or
        before it is recorded, and may be dated before `start`."""
        c = change_table.c
        query = (
            select(change_table)
            .where(c.indicator_id == indicator_id, c.at < end)
            .where(c.recorded_at >= start, c.recorded_at < end)
            .order_by(c.at, c.id)
        )
        with self._tx("read changes") as conn:
            found = [_change_of(row) for row in conn.execute(query)]
        more = [
            c
            for c in self._unrecorded_rows
            if c.indicator_id == indicator_id and start <= c.recorded < end
        ]
        return found + more

    @once_more_if_disconnected
    def changes_around(self, moment: datetime) -> dict[str, Around]:
        """indicator id -> its latest change before `moment` and its first one from `moment`
        on (either None): what the status it held at `moment` is worked out from (a past day's
        digest, `standing.indicator_views_at`). Two index lookups per indicator (indicator,
        at), so a long history is not read. As in `changes_between`, the unrecorded changes
        (`with_unrecorded`) count up to `moment` itself."""
        before = _nearest(moment, before=True)
        after = _nearest(moment, before=False)
        ids = select(state_table.c.indicator_id, before, after)
        with self._tx("read changes") as conn:
            wanted = [(row[1], row[2]) for row in conn.execute(ids)]
            found = {i for pair in wanted for i in pair if i is not None}
            rows = [
                _change_of(row)
                for chunk in chunks(sorted(found))
                for row in conn.execute(select(change_table).where(change_table.c.id.in_(chunk)))
            ]
        around: dict[str, Around] = {}
        for change in sorted(rows, key=lambda c: c.id or 0):
            last, first = around.get(change.indicator_id, Around())
            if change.at < moment:
                around[change.indicator_id] = Around(change, first)
            else:
                around[change.indicator_id] = Around(last, change)
        for change in self._unrecorded_rows:  # pending on top of the recorded ones
            last, first = around.get(change.indicator_id, Around())
            if change.at <= moment:
                around[change.indicator_id] = Around(change, None)
            elif first is None:
                around[change.indicator_id] = Around(last, change)
        return around

    # ------------------------------------------------------------ the alert outbox

    @once_more_if_disconnected
    def claim_alerts(
        self, now: datetime, *, owner: str, lease: timedelta, limit: int = 50
    ) -> list[AlertClaim]:
        """Claim recorded changes whose alert is due for `owner` until `now + lease`, oldest
        first: pending, not backing off, not claimed by another daemon whose claim holds.

        Compare-and-set, like `due_feeds` (row locks skipped on PostgreSQL), so each change is
        in one daemon's hands at a time. Safe to run again (`once_more_if_disconnected`): the
        changes a try whose answer was lost claimed are `owner`'s, claimed again."""
        free = or_(
            change_table.c.notify_until.is_(None),
            change_table.c.notify_until <= now,
            change_table.c.notify_owner == owner,
        )
        due = or_(change_table.c.notify_after.is_(None), change_table.c.notify_after <= now)
        query = (
            select(change_table)
            .where(change_table.c.notified_at.is_(None), due, free, ~held_now(now))
            .order_by(change_table.c.id)
            .limit(limit)
        )
        until = now + lease
        pending = change_table.c.notified_at.is_(None)
        with self._tx("claim alerts", write=True) as conn:
            rows = self._claim(
                conn, query, change_table, [free, pending], notify_owner=owner, notify_until=until
            )
        return [
            AlertClaim(_change_of(row), row.notify_attempts, tuple(row.notify_done), until)
            for row in rows
        ]

    def alert_sent(self, change_id: int, *, owner: str, now: datetime, done: Sequence[str]) -> bool:
        """Mark a claimed change alerted; False when `owner` no longer held its claim.

        Run again when its connection is lost (`after_a_lost_connection`), and then a
        change marked alerted at `now` was marked by this call: the lost try had committed,
        only its answer was lost (not a claim that ran out: said at INFO, True)."""
        values = {"notified_at": now, "notify_done": list(done), "notify_error": ""}
        return after_a_lost_connection(
            lambda: self._release_alert(change_id, owner, values),
            lambda: self._release_alert(change_id, owner, values) or self._marked(change_id, now),
        )

    def _marked(self, change_id: int, now: datetime) -> bool:
        """Whether the change is marked alerted at `now` (by a try whose answer was lost)."""
        c = change_table.c
        query = select(c.id).where(c.id == change_id, c.notified_at == now)
        with self._tx("read an alert") as conn:
            if conn.execute(query.where(c.notify_owner.is_(None))).first() is None:
                return False
        log.info("store: change %d was marked alerted before the connection was lost", change_id)
        return True

    @once_more_if_disconnected
    def alert_failed(
        self,
        change_id: int,
        *,
        owner: str,
        error: str,
        retry_at: datetime,
        done: Sequence[str],
    ) -> bool:
        """Count a failed try of a claimed change, keep the channels that accepted it, and
        release it until `retry_at`; False when `owner` no longer held its claim."""
        values = {
            "notify_attempts": change_table.c.notify_attempts + 1,
            "notify_after": retry_at,
            "notify_error": error,
            "notify_done": list(done),
        }
        return self._release_alert(change_id, owner, values)

    def _release_alert(self, change_id: int, owner: str, values: dict[str, Any]) -> bool:
        statement = (
            update(change_table)
            .where(change_table.c.id == change_id, change_table.c.notify_owner == owner)
            .where(change_table.c.notified_at.is_(None))
            .values(notify_owner=None, notify_until=None, **values)
        )
        with self._tx("record an alert", write=True) as conn:
            return conn.execute(statement).rowcount == 1

    @once_more_if_disconnected
    def pending_alerts(self, now: datetime | None = None) -> int:
        """How many recorded changes still wait for their alert; with `now`, those a silence
        holds at `now` are not counted (`held_alerts` counts them)."""
        query = select(func.count()).where(change_table.c.notified_at.is_(None))
        if now is not None:
            query = query.where(~held_now(now))
        with self._tx("count pending alerts") as conn:
            return int(conn.execute(query).scalar_one())

    @once_more_if_disconnected
    def failing_alerts(self, now: datetime) -> FailingAlerts | None:
        """The changes still waiting for their alert after a failed try (not those a silence
        holds at `now`), or None: what /healthz and /metrics report until a retry sends them."""
        c = change_table.c
        failing = (c.notified_at.is_(None), c.notify_attempts > 0, ~held_now(now))
        count = select(func.count()).where(*failing)
        oldest = select(c.at, c.notify_error).where(*failing).order_by(c.id).limit(1)
        with self._tx("count failing alerts") as conn:
            n = int(conn.execute(count).scalar_one())
            row = conn.execute(oldest).first() if n else None
        if row is None:
            return None
        return FailingAlerts(n, row.at, row.notify_error)

    @once_more_if_disconnected
    def held_alerts(self, now: datetime) -> int:
        """How many recorded changes wait for their alert because a silence holds them at `now`
        (it goes out when the silence ends)."""
        query = select(func.count()).where(change_table.c.notified_at.is_(None), held_now(now))
        with self._tx("count held alerts") as conn:
            return int(conn.execute(query).scalar_one())


def _first_reading(change: StatusChange, version_before: int) -> bool:
    """Whether a change only ends the initial unknown of an indicator because its feeds were
    read and nothing matched."""
    return version_before == 0 and change.old_status == INITIAL and change.new_status == QUIET


EVIDENCE_KEPT = 20  # evidence items a recorded change keeps: its top ones (the newest stories)


def _change_values(change: StatusChange) -> dict[str, Any]:
    return {
        "indicator_id": change.indicator_id,
        "at": change.at,
        "recorded_at": change.recorded,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "evidence": [_evidence_json(e) for e in change.evidence[:EVIDENCE_KEPT]],
        "evidence_total": change.evidence_count,
        "definition_hash": change.definition_hash,
        "replayed": change.replayed,
        "reason": change.reason or None,
        "indicator_title": change.title or None,
        "indicator_group": change.group or None,
        "outcome_labels": [list(pair) for pair in change.labels] or None,
        "unread_feeds": None if change.unread is None else [_unread_json(u) for u in change.unread],
        "notify_attempts": 0,
        "notify_error": "",
        "notify_done": [],
    }


def _evidence_json(e: Evidence) -> dict[str, Any]:
    return {
        "entry_id": e.entry_id,
        "outcome": e.outcome_id,
        "title": e.title,
        "link": e.link,
        "publisher": e.publisher,
        "time": e.time.astimezone(UTC).isoformat(),
        "terms": list(e.terms),
        "snippet": e.snippet,
        **({"judged": e.judged} if e.judged else {}),
    }


def _unread_json(u: UnreadFeed) -> dict[str, Any]:
    since = None if u.since is None else u.since.astimezone(UTC).isoformat()
    return {"feed": u.feed_id, "why": u.why, "since": since, "error": u.error}


def _unread_of(items: list[dict[str, Any]] | None) -> tuple[UnreadFeed, ...] | None:
    """The unread feeds a change kept; None for one recorded before 0034 (not known)."""
    if items is None:
        return None
    return tuple(
        UnreadFeed(
            item["feed"],
            item["why"],
            None if item["since"] is None else datetime.fromisoformat(item["since"]),
            item["error"],
        )
        for item in items
    )


def _change_of(row: Any) -> StatusChange:
    evidence = tuple(
        Evidence(
            entry_id=item["entry_id"],
            indicator_id=row.indicator_id,
            outcome_id=item["outcome"],
            title=item["title"],
            link=item["link"],
            publisher=item["publisher"],
            time=datetime.fromisoformat(item["time"]),
            terms=tuple(item["terms"]),
            snippet=item["snippet"],
            judged=item.get("judged", ""),
        )
        for item in row.evidence
    )
    return StatusChange(
        indicator_id=row.indicator_id,
        at=row.at,
        old_status=row.old_status,
        new_status=row.new_status,
        evidence=evidence,
        definition_hash=row.definition_hash,
        replayed=row.replayed,
        id=row.id,
        reason=row.reason or "",
        evidence_total=row.evidence_total,
        # kept before definitions dropped bidi and control characters (0023): dropped as they are
        title=without_controls(row.indicator_title or ""),
        group=without_controls(row.indicator_group or ""),
        labels=tuple((o, without_controls(label)) for o, label in row.outcome_labels or ()),
        recorded_at=row.recorded_at,
        unread=_unread_of(row.unread_feeds),
    )
