"""Store writes and reads that only tests make, done as monitor does them (the store keeps no
method for them: monitor itself stores entries with their matches in one `add_news`, reads
evidence with its version, and records fetches in batches)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, select, text

from monitor.domain import Entry, Evidence, Match
from monitor.store import Cycle, FetchRecord, Store
from monitor.store.entries import match_rows
from monitor.store.schema import cycle_table, feed_table, match_table


def add_entries(
    store: Store, entries: Sequence[Entry], *, now: datetime
) -> list[tuple[int, Entry]]:
    """Store entries not seen before (by key, also within the batch); return those new."""
    return store.add_news(entries, now=now, match=lambda _new: [], definition_hashes={}).entries


def add_matches(
    store: Store, items: Sequence[tuple[int, Match]], definition_hashes: Mapping[str, str]
) -> int:
    """Store matches; returns how many were new or now carry a different definition hash."""
    rows = match_rows(items, definition_hashes)
    if not rows:
        return 0
    with store._tx("add matches", write=True) as conn:
        written = store._upsert_matches(conn, rows)
        store._mark_seq(conn, [row["entry_id"] for row in rows], store._matches_written(conn))
        return written


def evidence(
    store: Store,
    indicator_ids: Sequence[str] | None,
    since: datetime | Mapping[str, datetime],
    *,
    definition_hashes: Mapping[str, str] | None = None,
) -> dict[str, list[Evidence]]:
    """`Store.evidence_read(...).found`; with `definition_hashes`, only the matches made by
    those definitions."""
    found = store.evidence_read(indicator_ids, since).found
    if definition_hashes is None:
        return found
    query = select(
        match_table.c.entry_id,
        match_table.c.indicator_id,
        match_table.c.outcome_id,
        match_table.c.definition_hash,
    )
    with store._tx("read matches") as conn:
        made = {
            (row.entry_id, row.indicator_id, row.outcome_id)
            for row in conn.execute(query)
            if definition_hashes.get(row.indicator_id) == row.definition_hash
        }
    return {
        indicator_id: [e for e in items if (e.entry_id, e.indicator_id, e.outcome_id) in made]
        for indicator_id, items in found.items()
    }


def prune(
    store: Store,
    before: datetime,
    *,
    matched_before: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """`Store.prune` at `now` (default: `before`) of what is older than `before`, matched
    entries only before `matched_before` (default: none); returns how many entries went."""
    never = datetime.min.replace(tzinfo=UTC)
    return store.prune(
        now=now or before, before=before, matched_before=matched_before or never, buckets=()
    ).entries


def last_cycle(store: Store) -> Cycle | None:
    with store._tx("read cycles") as conn:
        query = select(cycle_table).order_by(cycle_table.c.id.desc()).limit(1)
        row = conn.execute(query).first()
    return None if row is None else Cycle(**row._asdict())


def record_fetch(store: Store, feed_id: str, **what: Any) -> None:
    """Store what one fetch found and release the lease (see `FetchRecord`)."""
    store.record_fetches([FetchRecord(feed_id, **what)])


def lease_until(store: Store, feed_id: str) -> datetime | None:
    """When the lease on a feed runs out (None: not leased); no daemon needs to read it."""
    query = select(feed_table.c.lease_until).where(feed_table.c.id == feed_id)
    with store._tx("read a lease") as conn:
        until: datetime | None = conn.execute(query).scalar_one()
        return until


@contextmanager
def plans(store: Store) -> Iterator[list[str]]:
    """The query plans of the SELECTs the store runs inside the block (one string each, filled
    in at its end): each statement is explained as it was run, with its parameters. SQLite's
    EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans off, so that a small test
    table is read as a big one would be (an index it can use, it uses)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = store._engine
    event.listen(engine, "before_cursor_execute", record)
    found: list[str] = []
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", record)
    with store._tx("explain") as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
        for statement, parameters in seen:
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            found.append("\n".join(str(row[-1]) for row in rows))


def before(store: Store, statement: str, action: Callable[[], object]) -> None:
    """Run `action` once, just before `store` first executes a statement holding `statement`
    (another writer's work put at the worst moment of this one's)."""
    done: list[bool] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def hook(*args: Any) -> None:
        if statement in args[2] and not done:
            done.append(True)
            action()


_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


def started_until_done_or_waiting(
    watcher: Engine, target: Callable[[], object]
) -> threading.Thread:
    """`target` started in a thread, returned once it is done or waits for a lock in the
    PostgreSQL database `watcher` connects to (a condition waited on, not a sleep)."""
    thread = threading.Thread(target=target)
    thread.start()
    with watcher.connect() as conn:
        while thread.is_alive() and not conn.execute(_WAITING).scalar_one():
            thread.join(0.01)
    return thread


def monitored_since_yesterday(store: Store, now: datetime) -> None:
    """A check cycle a day before `now`: monitoring began before today's digest time, so a
    daemon started now sends today's digest after its first check, as one that was down at the
    digest time does (on a database new today it waits for the next digest time)."""
    began = now - timedelta(days=1)
    store.record_cycle(Cycle(started_at=began, finished_at=began))
