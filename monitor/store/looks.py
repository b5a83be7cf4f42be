"""An indicator's look at the stored news (`pipeline.first_look`): its matches inside its window
made what its rule gives, in one transaction, for an indicator new in the definitions (its first
look) or edited since its last evaluation (a rule narrowed, broadened, an outcome renamed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, select, update

from monitor.domain import Match
from monitor.store.base import StoreBase, chunks, once_more_if_disconnected
from monitor.store.entries import match_rows
from monitor.store.forgetting import KEPT, hold_evaluations
from monitor.store.replays import replay_hold
from monitor.store.schema import entry_table, match_table

__all__ = ["Looked", "LooksMixin"]

_Key = tuple[int, str, str]  # (entry id, indicator id, outcome id): one match row


@dataclass(frozen=True)
class Looked:
    """What a look found and wrote, per indicator id."""

    given: Counter[str] = field(default_factory=Counter)  # matches its rule gives in its window
    added: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)  # the rule gives them no more
    rewritten: Counter[str] = field(default_factory=Counter)  # other terms or snippet

    def written(self) -> int:
        """Match rows added, deleted or rewritten."""
        return sum((self.added + self.deleted + self.rewritten).values())


class LooksMixin(StoreBase):
    """Indicators' looks at the stored news."""

    @once_more_if_disconnected
    def look(
        self,
        entry_ids: Sequence[int],
        items: Sequence[tuple[int, Match]],
        windows: Mapping[str, datetime],
        definition_hashes: Mapping[str, str],
    ) -> Looked | None:
        """Make `items` the matches, on the entries of `entry_ids`, of the indicators of
        `windows` (id -> the start of its window) inside their windows, in one transaction:
        those not stored are added, those stored with other terms or snippet rewritten, the
        others stored deleted (one the rule gives as it was stored keeps the definition hash it
        was made with). Of these indicators' matches the others are left as they are: outside
        the window (old status changes keep their evidence), and of the entries not among
        `entry_ids` (stored since they were read: matched as they came). Analysts' verdicts
        stand as they are. The rows written carry a new match version, and an indicator whose
        matches changed has its kept stories forgotten: the next evaluation works it out anew
        from its matches. Safe to run twice: the second finds nothing to write. None, and
        nothing done, while a replay holds the matches (it rewrites them)."""
        with self._tx("look at the stored news", write=True) as conn:
            # First, as an evaluation and a replay's rewrite take it: one of them waits for the
            # other's commit, never each for the other (the match rows, the match version).
            hold_evaluations(conn, self._insert)
            if replay_hold(conn) is not None:
                return None
            scope = set(entry_ids)
            stored = {k: v for k, v in _stored(conn, windows).items() if k[0] in scope}
            rows = {
                (row["entry_id"], row["indicator_id"], row["outcome_id"]): row
                for row in match_rows([(i, m) for i, m in items if i in scope], definition_hashes)
                if row["indicator_id"] in windows
            }
            # The entries of matches not stored yet: inside the window? (A stored one is.)
            held = self._rehearsing is None  # a dry run's entries are shared (`rehearsals.py`)
            times = _times(conn, {k[0] for k in rows if k not in stored}, hold=held)
            given = {
                k: row
                for k, row in rows.items()
                if k in stored or (k[0] in times and times[k[0]] >= windows[k[1]])
            }
            gone = [k for k in stored if k not in given]
            new = [row for k, row in given.items() if k not in stored]
            other = [row for k, row in given.items() if k in stored and stored[k] != _kept(row)]
            found = Looked(
                given=Counter(k[1] for k in given),
                added=Counter(row["indicator_id"] for row in new),
                deleted=Counter(k[1] for k in gone),
                rewritten=Counter(row["indicator_id"] for row in other),
            )
            if found.written():
                self._write(conn, gone, new, other, times)
                _forget(conn, {*found.added, *found.deleted, *found.rewritten})
            return found

    def _write(
        self,
        conn: Connection,
        gone: Sequence[_Key],
        new: Sequence[dict[str, Any]],
        other: Sequence[dict[str, Any]],
        times: Mapping[int, datetime],
    ) -> None:
        """Delete the rows `gone`, then add the `new` ones and rewrite the `other` ones at a new
        match version."""
        m = match_table.c
        one = and_(
            m.entry_id == bindparam("key_entry"),
            m.indicator_id == bindparam("key_indicator"),
            m.outcome_id == bindparam("key_outcome"),
        )
        if gone:
            keys = [_key_values(*key) for key in gone]
            conn.execute(delete(match_table).where(one), keys)
        seq = self._matches_written(conn)
        if new:
            rows = [row | {"time": times[row["entry_id"]], "seq": seq} for row in new]
            conn.execute(match_table.insert(), rows)
        if other:
            values = {
                "terms": bindparam("new_terms", type_=m.terms.type),
                "snippet": bindparam("new_snippet"),
                "definition_hash": bindparam("new_hash"),
                "seq": seq,
            }
            rows = [_rewrite_values(row) for row in other]
            conn.execute(update(match_table).where(one).values(values), rows)


def _rewrite_values(row: Mapping[str, Any]) -> dict[str, Any]:
    key = _key_values(row["entry_id"], row["indicator_id"], row["outcome_id"])
    new = {"new_terms": row["terms"], "new_snippet": row["snippet"]}
    return key | new | {"new_hash": row["definition_hash"]}


def _key_values(entry_id: int, indicator_id: str, outcome_id: str) -> dict[str, Any]:
    return {"key_entry": entry_id, "key_indicator": indicator_id, "key_outcome": outcome_id}


def _stored(conn: Connection, windows: Mapping[str, datetime]) -> dict[_Key, tuple[Any, ...]]:
    """The stored matches of each indicator of `windows` inside its window (one range of the
    index on indicator and time each), with what a look compares."""
    m = match_table.c
    found: dict[_Key, tuple[Any, ...]] = {}
    for indicator_id, since in windows.items():
        query = select(m.entry_id, m.indicator_id, m.outcome_id, m.terms, m.snippet).where(
            m.indicator_id == indicator_id, m.time >= since
        )
        for row in conn.execute(query):
            key = (row.entry_id, row.indicator_id, row.outcome_id)
            found[key] = (list(row.terms), row.snippet)
    return found


def _kept(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a look compares of a match row with the stored one."""
    return (list(row["terms"]), row["snippet"])


def _times(conn: Connection, entry_ids: set[int], *, hold: bool) -> dict[int, datetime]:
    """entry id -> its time, of those of `entry_ids` that are stored; with `hold`, each held
    against deletion until the transaction ends, so that its matches can be added (on
    PostgreSQL; SQLite's writer holds the write lock anyway)."""
    found: dict[int, datetime] = {}
    for chunk in chunks(sorted(entry_ids)):
        query = select(entry_table.c.id, entry_table.c.time).where(entry_table.c.id.in_(chunk))
        if hold and conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True, key_share=True)
        found.update((row.id, row.time) for row in conn.execute(query))
    return found


def _forget(conn: Connection, indicator_ids: set[str]) -> None:
    """Every kept row of these indicators' outcomes: worked out anew from their matches."""
    for table in KEPT:
        conn.execute(delete(table).where(table.c.indicator_id.in_(sorted(indicator_ids))))
