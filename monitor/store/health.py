"""Check cycles and what /healthz and /metrics read: the cycles recorded, their totals, counts
of changes, and the data version that moves when anything a page shows moves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import BigInteger, Dialect, Integer, cast, func, select

from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.replays import ReplayHold
from monitor.store.schema import (
    UTCDateTime,
    change_summary_table,
    change_table,
    cycle_summary_table,
    cycle_table,
)

_DATA_VERSION = (
    "SELECT (SELECT max(id) FROM cycle), (SELECT max(id) FROM status_change), "
    "(SELECT max(entry_id) FROM entry_match), (SELECT max(id) FROM verdict), "
    "(SELECT max(id) FROM silence), (SELECT count(*) FROM silence_end)"
)
# and a replay's hold, in the same round trip (`version_and_hold`): the one row of `replay`
_VERSION_AND_HOLD = (
    f"{_DATA_VERSION}, (SELECT since FROM replay WHERE id = 1), "
    "(SELECT owner FROM replay WHERE id = 1), (SELECT lease_until FROM replay WHERE id = 1)"
)
_VERSION_FIELDS = 6
_MICROS = 1_000_000


@dataclass(frozen=True)
class Cycle:
    """The counts of one check cycle."""

    started_at: datetime
    finished_at: datetime
    feeds_checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: int = 0
    regex_timeouts: int = 0  # regex term runs out of their time budget
    dropped: int = 0  # reads left out (`Dropped`): neither counted above nor stored
    ok: bool = True
    id: int | None = None


CYCLE_COUNTS = (
    "feeds_checked",
    "not_modified",
    "failed",
    "new_entries",
    "matches",
    "changes",
    "regex_timeouts",
    "dropped",
)


@dataclass(frozen=True)
class CycleTotals:
    """Sums over every recorded cycle, for /metrics."""

    cycles: int = 0
    feeds_checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: int = 0
    regex_timeouts: int = 0
    dropped: int = 0
    seconds: float = 0.0  # their total duration
    within: tuple[int, ...] = ()  # how many lasted at most each asked bound


def cycle_duration(dialect: str, columns: Any = cycle_table.c) -> Any:
    """A cycle's duration in whole microseconds (the times' precision), as SQL over `columns`
    (the cycle table's or those of rows it returned). Whole numbers add up the same in any
    order and grouping, so the duration sum of /metrics does not move by a rounding error when
    retention folds cycles into the summary (a sum gone down is a counter reset to
    Prometheus). SQLite subtracts the seconds and the microseconds of the stored text apart
    ("YYYY-MM-DD HH:MM:SS.ffffff"): julianday()'s difference is microseconds off."""
    started, finished = columns.started_at, columns.finished_at
    if dialect == "postgresql":
        seconds = func.date_part("epoch", finished - started)
        return cast(func.round(seconds * _MICROS), BigInteger)
    return _sqlite_micros(finished) - _sqlite_micros(started)


_TIME = UTCDateTime()


def _time(value: Any, dialect: Dialect) -> datetime:
    """A time of a NOT NULL column read by plain SQL (SQLite's text, PostgreSQL's datetime)
    as the table's type reads it."""
    found = _TIME.process_result_value(value, dialect)
    assert found is not None
    return found


def _sqlite_micros(when: Any) -> Any:
    """A time stored on SQLite ("YYYY-MM-DD HH:MM:SS.ffffff") in whole microseconds since
    1970, as SQL."""
    seconds = cast(func.strftime("%s", when), BigInteger)
    return seconds * _MICROS + cast(func.substr(when, 21, 6), Integer)


def cycle_sums(dialect: str, buckets: Sequence[float], columns: Any = cycle_table.c) -> Any:
    """SQL for the sums over cycles (`columns`: the cycle table's or those of rows it
    returned) that `summed` reads: the one place both /metrics and retention count them, so a
    cycle retention folds away lands in the same duration buckets it was counted in before."""
    micros = cycle_duration(dialect, columns)
    sums = [func.coalesce(func.sum(columns[name]), 0) for name in CYCLE_COUNTS]
    lasted = [func.count().filter(micros <= round(bound * _MICROS)) for bound in buckets]
    return select(func.count(), *sums, func.coalesce(func.sum(micros), 0), *lasted)


def summed(row: Sequence[Any]) -> CycleTotals:
    """The totals of a `cycle_sums` row."""
    values = tuple(row)
    counts = dict(zip(CYCLE_COUNTS, map(int, values[1 : 1 + len(CYCLE_COUNTS)]), strict=True))
    within = tuple(int(n) for n in values[2 + len(CYCLE_COUNTS) :])
    seconds = int(values[1 + len(CYCLE_COUNTS)]) / _MICROS
    return CycleTotals(cycles=int(values[0]), seconds=seconds, within=within, **counts)


def added_seconds(one: float, other: float) -> float:
    """The sum of two durations, added as whole microseconds (see `cycle_duration`)."""
    return (round(one * _MICROS) + round(other * _MICROS)) / _MICROS


class HealthMixin(StoreBase):
    """Cycles, and the counts /healthz and /metrics read."""

    @once_more_if_disconnected
    def data_version(self) -> tuple[int, ...]:
        """(latest cycle, latest status change, latest matched entry, latest verdict, latest
        silence, silences ended early): what moves when a cycle ends, a status is recorded, a
        new entry is matched, an analyst judges one or a silence begins or is ended. Index
        lookups and a count of a small table, cheap enough for every request; a replay that
        rewrites old matches moves none of them."""
        with self._tx("read the data version") as conn:
            row = conn.exec_driver_sql(_DATA_VERSION).one()  # plain SQL: ~0.15 ms less
        return tuple(int(n or 0) for n in row)

    @once_more_if_disconnected
    def version_and_hold(self) -> tuple[tuple[int, ...], ReplayHold | None]:
        """`data_version()` and `replay_hold()` in one query: what every request for the
        statuses reads (a hold moves no data version, yet every answer says it: `held`)."""
        with self._tx("read the data version") as conn:
            row = tuple(conn.exec_driver_sql(_VERSION_AND_HOLD).one())
        version = tuple(int(n or 0) for n in row[:_VERSION_FIELDS])
        since, owner, lease_until = row[_VERSION_FIELDS:]
        if owner is None:
            return version, None
        dialect = self._engine.dialect
        return version, ReplayHold(_time(since, dialect), owner, _time(lease_until, dialect))

    @once_more_if_disconnected
    def record_cycle(self, cycle: Cycle) -> int:
        values = {k: v for k, v in cycle.__dict__.items() if k != "id"}
        with self._tx("record cycle", write=True) as conn:
            return int(
                conn.execute(
                    cycle_table.insert().values(**values).returning(cycle_table.c.id)
                ).scalar_one()
            )

    @once_more_if_disconnected
    def last_successful_cycle(self) -> datetime | None:
        """When the latest cycle that went well finished, whether or not it checked a feed:
        the daemon's cycles run (/healthz's liveness)."""
        query = select(func.max(cycle_table.c.finished_at)).where(cycle_table.c.ok)
        with self._tx("read cycles") as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    @once_more_if_disconnected
    def first_cycle_started(self) -> datetime | None:
        """When the earliest cycle recorded began: when monitoring began, for a database whose
        first digest is still to come (`daily.due_day`)."""
        query = select(func.min(cycle_table.c.started_at))
        with self._tx("read cycles") as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    @once_more_if_disconnected
    def reads_between(
        self, start: datetime, end: datetime
    ) -> tuple[int, int, int, datetime | None, int]:
        """(cycles that checked a feed, feed checks, new entries, when the latest of those
        cycles finished, feed checks that failed) of the cycles that finished in [start, end):
        what the digest of those changes read."""
        c = cycle_table.c
        query = select(
            func.count(),
            func.coalesce(func.sum(c.feeds_checked), 0),
            func.coalesce(func.sum(c.new_entries), 0),
            func.max(c.finished_at),
            func.coalesce(func.sum(c.failed), 0),
        ).where(c.finished_at >= start, c.finished_at < end, c.feeds_checked > 0)
        with self._tx("read cycles") as conn:
            cycles, checks, new, last, failed = conn.execute(query).one()
        return int(cycles), int(checks), int(new), last, int(failed)

    @once_more_if_disconnected
    def longest_unchecked(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """The longest time between two cycles that checked a feed, the second finished in
        [start, end) (the first perhaps before `start`): when the daemon was down, say. None
        without two such cycles."""
        c = cycle_table.c
        reading = c.feeds_checked > 0
        before = select(func.max(c.finished_at)).where(reading, c.finished_at < start)
        inside = select(c.finished_at).where(reading, c.finished_at >= start, c.finished_at < end)
        with self._tx("read cycles") as conn:
            first = conn.execute(before).scalar_one_or_none()
            times = [first, *conn.execute(inside.order_by(c.finished_at)).scalars()]
        finished = [t for t in times if t is not None]
        pairs = pairwise(finished)
        return max(pairs, key=lambda pair: pair[1] - pair[0], default=None)

    @once_more_if_disconnected
    def last_reading_cycle(self) -> datetime | None:
        """When the latest cycle that went well *and checked a feed* finished: the "last check"
        of the page and /healthz. A cycle can check none: every due feed was leased by another
        daemon (or by one that is gone, until its lease runs out)."""
        query = select(func.max(cycle_table.c.finished_at)).where(
            cycle_table.c.ok, cycle_table.c.feeds_checked > 0
        )
        with self._tx("read cycles") as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    # ------------------------------------------------------------ metrics

    @once_more_if_disconnected
    def cycle_totals(self, buckets: Sequence[float] = ()) -> CycleTotals:
        """Sums over every recorded cycle, and how many lasted at most each of `buckets` s:
        those stored, and those retention deleted (`cycle_summary`; in the buckets it kept).
        Both are read in one snapshot: on PostgreSQL a clean-up committed between the two reads
        would count its cycles twice, and the next scrape would see the counters go down."""
        with self._tx("read cycle totals", snapshot=True) as conn:
            t = summed(conn.execute(cycle_sums(self.dialect, buckets)).one())
            summary = conn.execute(select(cycle_summary_table)).first()
        if summary is None:
            return t
        counts = {name: getattr(t, name) + summary.counts.get(name, 0) for name in CYCLE_COUNTS}
        kept = summary.within
        within = tuple(
            n + kept.get(str(float(b)), 0) for n, b in zip(t.within, buckets, strict=True)
        )
        return CycleTotals(
            cycles=t.cycles + summary.cycles,
            seconds=added_seconds(t.seconds, summary.seconds),
            within=within,
            **counts,
        )

    @once_more_if_disconnected
    def change_counts(self) -> dict[str, int]:
        """indicator id -> how many status changes were recorded (replays included): those
        stored and those retention deleted (`change_summary`), read in one snapshot."""
        query = select(change_table.c.indicator_id, func.count()).group_by(
            change_table.c.indicator_id
        )
        counts: Counter[str] = Counter()
        with self._tx("count status changes", snapshot=True) as conn:
            for indicator_id, n in conn.execute(query):
                counts[indicator_id] += int(n)
            for indicator_id, n in conn.execute(select(change_summary_table)):
                counts[indicator_id] += int(n)
        return dict(counts)
