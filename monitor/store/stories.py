"""Stories kept between evaluations (`monitor.incremental`): per outcome, the first copy of
each story inside its window (`story`), the keys it is found under (`story_key`), the shingles
keyed last (`story_frequent`), and what they were worked out over with its stories per source
(`outcome_state`); and which matches and verdicts came since (the `seq` they were written at,
above the `evaluated` counter).

An evaluation works out what to write in a `StoryReading`, one snapshot that holds no lock, and
writes it in `StorySession`s, transactions that hold the write lock (SQLite) or the `evaluated`
counter's row (PostgreSQL) from their start, each once it finds the kept stories and the
matches as the reading did (`Basis`): evaluations of several daemons take turns at writing,
and each writes what it found among what the one before it kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import chain, repeat
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, select, update

from monitor.domain import Evidence
from monitor.store.base import StoreBase, chunks, insert_rows, once_more_if_disconnected
from monitor.store.evidence import evidence_of, matches_query, read_windows, rejection_tests
from monitor.store.forgetting import EVALUATED, KEPT, hold_evaluations
from monitor.store.replays import replay_hold
from monitor.store.schema import (
    aware,
    counter_table,
    match_table,
    outcome_state_table,
    sqlite_utc,
    story_frequent_table,
    story_key_table,
    story_table,
    verdict_table,
)

Outcome = tuple[str, str]  # (indicator id, outcome id)

_ONE = (story_table.c.indicator_id == bindparam("i"), story_table.c.outcome_id == bindparam("o"))
_NEWEST = (  # an outcome's newest stories since a time: a range of ix_story_outcome_time
    select(story_table)
    .where(*_ONE, story_table.c.time >= bindparam("since"))
    .order_by(story_table.c.time.desc(), story_table.c.entry_id.desc())
    .limit(bindparam("n"))
)
_OLDER = (  # how many of an outcome's stories are older than a time: the range's other side
    select(func.count())
    .select_from(story_table)
    .where(*_ONE, story_table.c.time < bindparam("since"))
)


def _by_outcome(table: Any) -> tuple[Any, Any]:
    """One outcome's rows of `table`, by the parameters `i` and `o`."""
    return (table.c.indicator_id == bindparam("i"), table.c.outcome_id == bindparam("o"))


_KEYED = story_key_table.c
# An outcome's stories kept under some keys, in two steps that each read a range of a primary
# key: the entries keyed so (story_key), then their stories. One join let PostgreSQL's planner,
# which guesses an outcome has a few stories, read all of the outcome's stories and look each
# one's keys up: 1 ms an outcome on the 1,000,000-entry store, where the two steps take the
# keys' ranges alone.
_KEYED_ENTRIES = select(_KEYED.entry_id).where(
    _KEYED.indicator_id == bindparam("i"),
    _KEYED.outcome_id == bindparam("o"),
    _KEYED.key.in_(bindparam("keys", expanding=True)),
)
_STORIES_OF = select(story_table).where(
    *_ONE, story_table.c.entry_id.in_(bindparam("entries", expanding=True))
)
_COPIED = (
    update(story_table)
    .where(
        *_ONE,
        story_table.c.entry_id == bindparam("e"),
        story_table.c.copies_until.is_(None) | (story_table.c.copies_until < bindparam("until")),
    )
    .values(copies_until=bindparam("until"))
)

_EVALUATED = EVALUATED  # the counter: the match version the kept stories are at
_ROWS_PER_IN = 400  # tuples per IN (...) list


class SourceKept(NamedTuple):
    """A publisher's stories in an outcome's window (a named tuple: readers make one per
    publisher of every outcome, 8,000 on the long history bench's store)."""

    publisher: str
    stories: int
    newest: tuple[datetime, int]  # (time, entry id) of its newest story


@dataclass(frozen=True)
class OutcomeKept:
    """An outcome's `outcome_state` row."""

    definition_hash: str
    cutoff: datetime
    last: tuple[datetime, int] | None  # the latest item taken, by (time, entry id)
    stories: int
    sources: tuple[SourceKept, ...]  # the one with the newest story first


class StoriesMixin(StoreBase):
    """Stories kept between evaluations."""

    @contextmanager
    def story_reading(self) -> Iterator[StoryReading]:
        """One snapshot of the kept stories and the matches, holding no lock: a daemon's writes
        and evaluations go on meanwhile."""
        with self._tx("read the stories to evaluate", snapshot=True) as conn:
            yield StoryReading(conn)

    @contextmanager
    def story_session(self) -> Iterator[StorySession]:
        """One transaction over the kept stories, holding them against other evaluations."""
        with self._tx("evaluate the stories", write=True) as conn:
            session = StorySession(conn, self._insert)
            session.lock()
            yield session

    @once_more_if_disconnected
    def kept_outcomes(self) -> dict[Outcome, OutcomeKept]:
        """Every outcome's kept state, for readers that show the kept stories."""
        with self._tx("read the kept stories") as conn:
            return StoryReading(conn).states()

    @once_more_if_disconnected
    def kept_stories(
        self, since: Mapping[Outcome, datetime], *, shown: int
    ) -> dict[Outcome, KeptStories]:
        """Each outcome's kept stories from `since` on (its window now): the newest `shown`
        (none: only counted), and how many older ones are still kept (they left the window
        after the last evaluation)."""
        with self._tx("read the kept stories", snapshot=True) as conn:
            found = {}
            for (i, o), start in since.items():
                at = {"i": i, "o": o, "since": start}
                newest = (
                    [_story(row) for row in conn.execute(_NEWEST, at | {"n": shown})]
                    if shown
                    else []
                )
                older = int(conn.execute(_OLDER, at).scalar_one())
                found[(i, o)] = KeptStories(newest, older)
        return found


@dataclass(frozen=True)
class KeptStories:
    """An outcome's kept stories as a reader sees them at some time (`kept_stories`)."""

    newest: list[Evidence]  # inside the window then, newest first
    left: int  # kept stories that left the window since the last evaluation


# A new story: its first copy, its keys, and the time of its newest copy (None: it has none).
Started = tuple[Evidence, Sequence[int], datetime | None]


@dataclass
class Changes:
    """What one evaluation writes, for all outcomes at once."""

    forgotten: set[Outcome] = field(default_factory=set)  # every kept row of these goes first
    left: list[tuple[str, str, int]] = field(default_factory=list)  # stories leaving
    started: list[Started] = field(default_factory=list)  # new stories
    copied: list[tuple[str, str, int, datetime]] = field(default_factory=list)  # copies found
    frequent: dict[Outcome, frozenset[int]] = field(default_factory=dict)  # of forgotten ones
    states: dict[Outcome, OutcomeKept] = field(default_factory=dict)  # replaced

    def empty(self) -> bool:
        return not any(
            (self.forgotten, self.left, self.started, self.copied, self.frequent, self.states)
        )

    def parts(self, stories: int) -> tuple[list[Changes], Changes]:
        """These changes as writes of at most `stories` new stories each of the outcomes
        worked out anew (`forgotten`: each one's kept rows, its state among them, deleted in
        the first part that has its stories, with its frequent shingles written), and the rest
        to write last, every state among it; ([], self) when those stories are no more.

        Written between the parts, an outcome has stories and no state: taken as one to work
        out anew by any evaluation (whose write deletes its kept rows first) and as not kept
        by the readers, until the last part writes its state."""
        by_outcome: dict[Outcome, list[Started]] = {o: [] for o in sorted(self.forgotten)}
        rest: list[Started] = []
        for started in self.started:
            item = started[0]
            by_outcome.get((item.indicator_id, item.outcome_id), rest).append(started)
        if sum(map(len, by_outcome.values())) <= stories:
            return [], self
        parts = [Changes()]
        for outcome, found in by_outcome.items():
            parts[-1].forgotten.add(outcome)
            if outcome in self.frequent:
                parts[-1].frequent[outcome] = self.frequent[outcome]
            for started in found:
                if len(parts[-1].started) >= stories:
                    parts.append(Changes())
                parts[-1].started.append(started)
        last = Changes(left=self.left, started=rest, copied=self.copied, states=self.states)
        return parts, last


@dataclass(frozen=True)
class Basis:
    """What an evaluation's work follows from, besides the matches and verdicts up to
    `version`: the version the kept stories are at and every outcome's kept state, as stored.
    Equal bases, equal work: every write of the kept rows writes or deletes the states of their
    outcomes, and every write of matches or verdicts moves the version."""

    evaluated: int  # the match version the kept stories are at
    version: int  # the match version
    kept: tuple[tuple[Any, ...], ...]  # every `outcome_state` row, as the driver reads it

    def without(self, outcomes: AbstractSet[Outcome]) -> Basis:
        """The basis once the states of `outcomes` are deleted (`Changes.parts`)."""
        kept = tuple(row for row in self.kept if (row[0], row[1]) not in outcomes)
        return replace(self, kept=kept)


# The states as stored (text, numbers, the driver's times: no JSON or time parsed), to compare:
# 1 ms on the long history bench's store, where reading them as `OutcomeKept` takes 10 to 20.
_KEPT_ROWS = (
    "SELECT indicator_id, outcome_id, definition_hash, cutoff, last_time, last_entry, stories, "
    "CAST(sources AS TEXT) FROM outcome_state ORDER BY indicator_id, outcome_id"
)


class StoryReading:
    """The reads of one evaluation, in its transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def basis(self) -> Basis:
        """What the work of an evaluation in this transaction follows from (`Basis`)."""
        kept = tuple(tuple(row) for row in self._conn.exec_driver_sql(_KEPT_ROWS))
        return Basis(self.evaluated(), self.version(), kept)

    def replay_held(self) -> bool:
        """A replay is rewriting the matches (or stopped half way): they are half old, half
        new, and no evaluation may take them (`replays.py`)."""
        return replay_hold(self._conn) is not None

    # ------------------------------------------------------------ what came since

    def version(self) -> int:
        """The match version now (`matches`)."""
        counter = counter_table
        found = self._conn.execute(select(counter.c.value).where(counter.c.name == "matches"))
        return int(found.scalar() or 0)

    def evaluated(self) -> int:
        """The match version the kept stories are at."""
        counter = counter_table
        found = self._conn.execute(select(counter.c.value).where(counter.c.name == _EVALUATED))
        return int(found.scalar() or 0)

    def new_matches(self, after: int, upto: int) -> list[Evidence]:
        """Matches written at a version in (after, upto], as evidence."""
        query = matches_query().where(match_table.c.seq > after, match_table.c.seq <= upto)
        return [evidence_of(row) for row in self._conn.execute(query)]

    def judged(self, after: int, upto: int) -> set[Outcome]:
        """Outcomes with a verdict written at a version in (after, upto]."""
        query = select(verdict_table.c.indicator_id, verdict_table.c.outcome_id).where(
            verdict_table.c.seq > after, verdict_table.c.seq <= upto
        )
        return {(row.indicator_id, row.outcome_id) for row in self._conn.execute(query)}

    def ever_judged(self, items: Sequence[Evidence]) -> set[Outcome]:
        """Outcomes of `items` with a verdict on one of them (of any age)."""
        wanted = {(e.entry_id, e.indicator_id, e.outcome_id) for e in items}
        v = verdict_table.c
        found: set[Outcome] = set()
        for chunk in chunks(sorted({entry_id for entry_id, _i, _o in wanted}), _ROWS_PER_IN):
            query = select(v.entry_id, v.indicator_id, v.outcome_id).where(v.entry_id.in_(chunk))
            for row in self._conn.execute(query):
                if (row.entry_id, row.indicator_id, row.outcome_id) in wanted:
                    found.add((row.indicator_id, row.outcome_id))
        return found

    def copying_rejected(self, items: Sequence[Evidence], upto: int) -> set[Outcome]:
        """Outcomes of `items` with one that is a copy of an entry an analyst's standing `no`
        rejects (as `windows` leaves such copies out), at match version `upto`."""
        tests = rejection_tests(self._conn, sorted({e.indicator_id for e in items}), upto)
        return {
            (e.indicator_id, e.outcome_id)
            for e in items
            if (test := tests.get((e.indicator_id, e.outcome_id))) and test(e)
        }

    def windows(self, starts: Mapping[str, datetime], upto: int) -> dict[str, list[Evidence]]:
        """Every item inside each indicator's window (verdicts applied) at match version
        `upto`, newest first, to work out anew."""
        since: dict[str | None, datetime] = {i: start for i, start in starts.items()}
        return read_windows(self._conn, list(starts), since, upto=upto)

    # ------------------------------------------------------------ what is kept

    def states(self) -> dict[Outcome, OutcomeKept]:
        return {
            (row.indicator_id, row.outcome_id): OutcomeKept(
                row.definition_hash,
                row.cutoff,
                None if row.last_time is None else (row.last_time, row.last_entry),
                row.stories,
                tuple(  # as `_put_states` writes them
                    SourceKept(publisher, stories, (datetime.fromisoformat(when), entry_id))
                    for publisher, stories, when, entry_id in row.sources
                ),
            )
            for row in self._conn.execute(select(outcome_state_table))
        }

    def leaving(self, indicator_ids: Sequence[str], before: datetime) -> list[_Leaving]:
        """The stories of these indicators older than `before` (leaving their window)."""
        columns = (
            story_table.c.indicator_id,
            story_table.c.outcome_id,
            story_table.c.entry_id,
            story_table.c.publisher,
            story_table.c.copies_until,
        )
        query = select(*columns).where(
            story_table.c.indicator_id.in_(list(indicator_ids)), story_table.c.time < before
        )
        return [_Leaving(*row) for row in self._conn.execute(query)]

    def candidates(self, keys: Mapping[Outcome, Iterable[int]]) -> dict[Outcome, list[Evidence]]:
        """Per outcome, its stories kept under any of its `keys`: a query per outcome for the
        entries keyed so (one range of story_key's primary key per key), then one for their
        stories (story's primary key), when there are any."""
        found: dict[Outcome, list[Evidence]] = {}
        for (i, o), wanted in keys.items():
            entries: set[int] = set()
            for chunk in chunks(sorted(set(wanted)), _ROWS_PER_IN):
                rows = self._conn.execute(_KEYED_ENTRIES, {"i": i, "o": o, "keys": chunk})
                entries.update(entry_id for (entry_id,) in rows)
            stories: list[Evidence] = []
            for chunk in chunks(sorted(entries), _ROWS_PER_IN):
                rows = self._conn.execute(_STORIES_OF, {"i": i, "o": o, "entries": chunk})
                stories.extend(_story(row) for row in rows)
            found[(i, o)] = stories
        return found

    def frequent(self, outcomes: Iterable[Outcome]) -> dict[Outcome, frozenset[int]]:
        """Each outcome's frequent shingles (`story_frequent`)."""
        found: dict[Outcome, set[int]] = {o: set() for o in outcomes}
        table = story_frequent_table
        for chunk in chunks(sorted({i for i, _o in found}), _ROWS_PER_IN):
            for row in self._conn.execute(select(table).where(table.c.indicator_id.in_(chunk))):
                keys = found.get((row.indicator_id, row.outcome_id))
                if keys is not None:
                    keys.add(row.key)
        return {o: frozenset(keys) for o, keys in found.items()}


class StorySession(StoryReading):
    """The reads and writes of one evaluation, in its transaction."""

    def __init__(self, conn: Connection, insert: Any) -> None:
        super().__init__(conn)
        self._insert = insert

    def lock(self) -> None:
        """Hold off other evaluations and replays' rewrites until the transaction ends."""
        hold_evaluations(self._conn, self._insert)

    def set_evaluated(self, version: int) -> None:
        counter = counter_table
        self._conn.execute(
            update(counter).where(counter.c.name == _EVALUATED).values(value=version)
        )

    def write(self, changes: Changes) -> None:
        """Write what an evaluation changed (see `Changes`)."""
        conn = self._conn
        # Row by row (executemany): each delete is an index search on both databases, where
        # SQLite scans the table for a row-value IN list.
        forgotten = [{"i": i, "o": o} for i, o in sorted(changes.forgotten)]
        if forgotten:
            for table in KEPT:
                conn.execute(delete(table).where(*_by_outcome(table)), forgotten)
        left = [{"i": i, "o": o, "e": e} for i, o, e in sorted(changes.left)]
        if left:
            for table in (story_table, story_key_table):
                entry = table.c.entry_id == bindparam("e")
                conn.execute(delete(table).where(*_by_outcome(table), entry), left)
        if changes.started:
            when = sqlite_utc if conn.dialect.name == "sqlite" else aware  # as UTCDateTime binds
            stories = (_story_row(e, until, when) for e, _k, until in changes.started)
            insert_rows(conn, story_table, _STORY_COLUMNS, stories)
            keys = chain.from_iterable(  # as insert_rows takes them, made in C (120,000 rows)
                zip(repeat(e.indicator_id), repeat(e.outcome_id), keys, repeat(e.entry_id))
                for e, keys, _u in changes.started
            )
            insert_rows(conn, story_key_table, _KEY_COLUMNS, keys)
        frequent = [
            {"indicator_id": i, "outcome_id": o, "key": key}
            for (i, o), keys in changes.frequent.items()
            for key in keys
        ]
        if frequent:
            conn.execute(story_frequent_table.insert(), frequent)
        if changes.copied:
            rows = [{"i": i, "o": o, "e": e, "until": until} for i, o, e, until in changes.copied]
            conn.execute(_COPIED, rows)
        if changes.states:
            self._put_states(changes.states)

    def _put_states(self, states: Mapping[Outcome, OutcomeKept]) -> None:
        rows = [
            {
                "indicator_id": i,
                "outcome_id": o,
                "definition_hash": state.definition_hash,
                "cutoff": state.cutoff,
                "last_time": (state.last or (None, 0))[0],
                "last_entry": (state.last or (None, 0))[1],
                "stories": state.stories,
                "sources": [
                    [x.publisher, x.stories, x.newest[0].isoformat(), x.newest[1]]
                    for x in state.sources
                ],
            }
            for (i, o), state in states.items()
        ]
        statement = self._insert(outcome_state_table)
        keys = ["indicator_id", "outcome_id"]
        changed = {c: statement.excluded[c] for c in rows[0] if c not in keys}
        self._conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed), rows)


_KEY_COLUMNS = ("indicator_id", "outcome_id", "key", "entry_id")


@dataclass(frozen=True)
class _Leaving:
    indicator_id: str
    outcome_id: str
    entry_id: int
    publisher: str
    copies_until: datetime | None


_STORY_COLUMNS = (
    "indicator_id",
    "outcome_id",
    "entry_id",
    "time",
    "publisher",
    "title",
    "link",
    "snippet",
    "terms",
    "judged",
    "lede",
    "copies_until",
)


def _story_row(
    item: Evidence, until: datetime | None, when: Callable[[datetime], Any]
) -> tuple[Any, ...]:
    """A story's row as insert_rows takes it, its times bound by `when` and its terms as the
    JSON column writes them: through SQLAlchemy, binding a cold cycle's 3,600 rows cost more
    than inserting them."""
    return (
        item.indicator_id,
        item.outcome_id,
        item.entry_id,
        when(item.time),
        item.publisher,
        item.title,
        item.link,
        item.snippet,
        json.dumps(list(item.terms)),
        item.judged,
        item.lede,
        None if until is None else when(until),
    )


def _story(row: Any) -> Evidence:
    return evidence_of(row, row.judged)
