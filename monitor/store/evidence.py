"""Evidence: stored matches inside a window with the standing verdicts applied (a `no` drops a
match and the matches of its copies, a `yes` adds its entry if no rule matched it), kept while
the match version holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from monitor.domain import LEDE_CHARS, Evidence, Judgement, Verdict
from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.schema import entry_table, match_table, verdict_table
from monitor.store.verdicts import latest_verdicts, verdict_of
from monitor.stories import copy_test

_stores = itertools.count(1)  # tells apart the stores of one process in evidence versions


@dataclass(frozen=True)
class EvidenceRead:
    """An evidence read (`Store.evidence_read`) and the version it was read at: equal versions
    mean equal evidence, whatever objects hold it, so caches over evidence key on it."""

    version: Hashable  # (this store, the match version of its database)
    found: dict[str, list[Evidence]]  # indicator id -> evidence, newest first


Since = datetime | Mapping[str, datetime]  # one start for all, or each indicator's own


@dataclass(frozen=True)
class JudgedRead:
    """What marks the evidence of recorded changes an analyst judged `no` since
    (`Store.judged_after`, `match.judged.judged_since`): standing verdicts, each with its entry
    as evidence, and the ledes of the entries listed (a change keeps no lede; one deleted since
    has none here)."""

    verdicts: list[tuple[Verdict, Evidence]]
    ledes: dict[int, str]


class EvidenceMixin(StoreBase):
    """Evidence reads, kept while the match version holds."""

    _evidence_kept: _KeptEvidence | None = None  # the last `evidence_read`
    _evidence_store: int = 0  # this store's number in evidence versions, given on first read

    @once_more_if_disconnected
    def evidence_read(self, indicator_ids: Sequence[str] | None, since: Since) -> EvidenceRead:
        """Matches of entries with time >= since, per indicator (every asked id is a key),
        newest first, with the version they were read at. `since` is one start for all, or
        each indicator's own (its window): each reads its own range of the matches' index
        (indicator, time), never older matches. `indicator_ids` None: every indicator that has
        matches or verdicts (a scan: for tests and tools, not for cycles).

        The answer is kept, and given again while the matches it was read from have not moved:
        one cheap `_match_version` query instead of reading every match, so a check cycle that
        stored no match reads no evidence. Any process writing through a `Store` moves that
        version (entries themselves are never rewritten). The kept answer may have been read at
        an earlier `since`, so it holds a superset of a later call's; `_KeptEvidence.within`
        cuts it, and every answer is what a fresh read would give.
        """
        if not self._evidence_store:
            self._evidence_store = next(_stores)
        ids = None if indicator_ids is None else tuple(indicator_ids)
        starts = _starts(ids, since)
        kept = self._evidence_kept
        with self._tx("read evidence", snapshot=True) as conn:
            # One snapshot: the matches read are those of the version, which keys caches.
            version = self._match_version(conn)
            if not (kept and kept.answers(ids, starts, version)):
                found = read_windows(conn, ids, starts)
                kept = _KeptEvidence(ids, starts, version, found)
        self._evidence_kept = kept
        return EvidenceRead((self._evidence_store, version), kept.within(starts))

    @once_more_if_disconnected
    def judged_after(
        self,
        indicator_ids: Sequence[str],
        entry_ids: Sequence[int],
        *,
        after: datetime,
        until: datetime | None = None,
    ) -> JudgedRead:
        """The verdicts standing on `indicator_ids` (as of `until`, when given: a past day's
        digest) that are a `no` given after `after` (the oldest change asked about), or are on
        one of `entry_ids` (the pieces those changes list: a copy's own verdict stands over its
        story's), each with its entry as evidence (its match's snippet, as `rejected` reads
        it); and the ledes of `entry_ids`. One read for the marks of a page of changes."""
        v, m = verdict_table.c, match_table.c
        if not indicator_ids:
            return JudgedRead([], {})
        latest = latest_verdicts().where(v.indicator_id.in_(list(indicator_ids)))
        if until is not None:
            latest = latest.where(v.at < until)
        joined = and_(m.entry_id == v.entry_id, m.indicator_id == v.indicator_id)
        verdicts = (v.id, v.entry_id, v.indicator_id, v.outcome_id, v.verdict, v.who, v.at, v.note)
        entries = (entry_table.c[name] for name in ("title", "link", "publisher", "time", "text"))
        query = (
            select(*verdicts, m.snippet, *entries)
            .join(entry_table, entry_table.c.id == v.entry_id)
            .outerjoin(match_table, and_(joined, m.outcome_id == v.outcome_id))
            .where(v.id.in_(latest.scalar_subquery()))
        )
        ids = sorted(set(entry_ids))
        chunks = [ids[n : n + _IDS_PER_READ] for n in range(0, len(ids), _IDS_PER_READ)]
        noes = and_(v.verdict == Judgement.NO.value, v.at > after)
        found: dict[int, tuple[Verdict, Evidence]] = {}
        ledes: dict[int, str] = {}
        with self._tx("read verdicts") as conn:
            for where in [noes, *(v.entry_id.in_(chunk) for chunk in chunks)]:
                for row in conn.execute(query.where(where)):
                    found[row.id] = (verdict_of(row), _judged_entry(row))
            for chunk in chunks:
                lede = select(entry_table.c.id, lede_column()).where(entry_table.c.id.in_(chunk))
                ledes.update((row.id, row.lede) for row in conn.execute(lede))
        return JudgedRead([found[n] for n in sorted(found)], ledes)


def _judged_entry(row: Any) -> Evidence:
    """A judged entry as evidence, with its match's snippet when a rule matched it."""
    item = _confirmed(row)
    return item if row.snippet is None else replace(item, snippet=row.snippet, judged="")


def _starts(ids: tuple[str, ...] | None, since: Since) -> dict[str | None, datetime]:
    """indicator id -> the start of its read; the key None holds the start of the others."""
    if isinstance(since, datetime):
        return {None: since}
    if ids is None:
        return {i: start for i, start in since.items()}
    missing = [i for i in ids if i not in since]
    if missing:
        raise ValueError(f"store: no start of the evidence read of {', '.join(missing)}")
    return {i: since[i] for i in ids}


def _start_of(starts: Mapping[str | None, datetime], indicator_id: str) -> datetime:
    return starts[indicator_id] if indicator_id in starts else starts[None]


def read_windows(
    conn: Connection,
    indicator_ids: Sequence[str] | None,
    starts: Mapping[str | None, datetime],
    *,
    upto: int | None = None,
) -> dict[str, list[Evidence]]:
    """The evidence of `indicator_ids` inside their windows (`starts`: see `_starts`), newest
    first; `upto`: only of matches and verdicts written at that match version or before."""
    found: dict[str, list[Evidence]] = {i: [] for i in indicator_ids or ()}
    if indicator_ids is None:
        indicator_ids = _judged_or_matched(conn)
    groups: dict[datetime, list[str]] = {}
    for indicator_id in indicator_ids:
        groups.setdefault(_start_of(starts, indicator_id), []).append(indicator_id)
    copies = rejection_tests(conn, list(indicator_ids), upto)
    for since, group in groups.items():
        for start in range(0, len(group), _IDS_PER_READ):
            _read_window(conn, group[start : start + _IDS_PER_READ], since, found, copies, upto)
    for items in found.values():
        items.sort(key=lambda e: (e.time, e.entry_id), reverse=True)
    return found


_IDS_PER_READ = 500  # indicator ids per IN (...) list


def _judged_or_matched(conn: Connection) -> list[str]:
    matched = select(match_table.c.indicator_id).distinct()
    judged = select(verdict_table.c.indicator_id).distinct()
    return sorted(set(conn.execute(matched).scalars()) | set(conn.execute(judged).scalars()))


def matches_query() -> Any:
    """Matches with what evidence shows of their entries (`evidence_of` reads its rows)."""
    return select(
        match_table,
        entry_table.c.title,
        entry_table.c.link,
        entry_table.c.publisher,
        lede_column(),
    ).join(entry_table, entry_table.c.id == match_table.c.entry_id)


def lede_column() -> Any:
    """The first LEDE_CHARS characters of an entry's text, as `lede`."""
    return func.substr(entry_table.c.text, 1, LEDE_CHARS).label("lede")


def evidence_of(row: Any, judged: str = "") -> Evidence:
    """Evidence from a row with a match's columns and its entry's title, link and publisher
    (`matches_query`, or a kept story's row)."""
    return Evidence(
        entry_id=row.entry_id,
        indicator_id=row.indicator_id,
        outcome_id=row.outcome_id,
        title=row.title,
        link=row.link,
        publisher=row.publisher,
        time=row.time,
        terms=tuple(row.terms),
        snippet=row.snippet,
        judged=judged,
        lede=row.lede,
    )


def window_query(indicator_ids: Sequence[str], since: datetime) -> Any:
    """The matches of `indicator_ids` with time >= since, with what evidence shows of their
    entries: a range of ix_entry_match_indicator_time per indicator."""
    return matches_query().where(
        match_table.c.indicator_id.in_(list(indicator_ids)), match_table.c.time >= since
    )


def _read_window(
    conn: Connection,
    indicator_ids: Sequence[str],
    since: datetime,
    found: dict[str, list[Evidence]],
    copies: Mapping[tuple[str, str], Callable[[Evidence], bool]],
    upto: int | None = None,
) -> None:
    """Add the evidence of `indicator_ids` from `since` on to `found` (unordered), but for the
    copies of what an analyst rejected (`copies`: the test of each outcome that has any)."""
    standing = {
        (row.entry_id, row.indicator_id, row.outcome_id): row
        for row in conn.execute(_standing_verdicts(indicator_ids, since, upto))
    }
    matched = set()
    window = window_query(indicator_ids, since)
    if upto is not None:
        window = window.where(match_table.c.seq <= upto)
    for row in conn.execute(window):
        key = (row.entry_id, row.indicator_id, row.outcome_id)
        verdict = standing.get(key)
        if verdict is not None and verdict.verdict == Judgement.NO:
            continue  # an analyst said it is not evidence
        item = evidence_of(row, "yes" if verdict is not None else "")
        if verdict is None and (test := copies.get(key[1:])) and test(item):
            continue  # nor is a copy of what they said so of: the same story
        matched.add(key)
        found.setdefault(row.indicator_id, []).append(item)
    added = [v for k, v in standing.items() if v.verdict == Judgement.YES and k not in matched]
    for row in added:  # entries the rules missed and an analyst confirmed
        found.setdefault(row.indicator_id, []).append(_confirmed(row))


def rejected(
    conn: Connection, indicator_ids: Sequence[str], upto: int | None = None
) -> dict[tuple[str, str], list[Evidence]]:
    """Per (indicator, outcome), the entries an analyst's standing `no` rejects, of any age (a
    copy may be read long after), as evidence: with their match's snippet, or the start of
    their text when no rule matched them (`upto`: standing at that match version)."""
    v, m = verdict_table.c, match_table.c
    if not indicator_ids:
        return {}
    latest = latest_verdicts().where(v.indicator_id.in_(list(indicator_ids)))
    joined = and_(m.entry_id == v.entry_id, m.indicator_id == v.indicator_id)
    joined = and_(joined, m.outcome_id == v.outcome_id)
    if upto is not None:
        latest = latest.where(v.seq <= upto)
        joined = and_(joined, m.seq <= upto)
    query = (
        select(
            v.entry_id,
            v.indicator_id,
            v.outcome_id,
            m.snippet,
            *(entry_table.c[name] for name in ("title", "link", "publisher", "time", "text")),
        )
        .join(entry_table, entry_table.c.id == v.entry_id)
        .outerjoin(match_table, joined)
        .where(v.id.in_(latest.scalar_subquery()), v.verdict == Judgement.NO.value)
    )
    found: dict[tuple[str, str], list[Evidence]] = {}
    for row in conn.execute(query):
        item = _judged_entry(row)  # with its match's snippet, as the window's evidence reads it
        found.setdefault((row.indicator_id, row.outcome_id), []).append(item)
    return found


def rejection_tests(
    conn: Connection, indicator_ids: Sequence[str], upto: int | None = None
) -> dict[tuple[str, str], Callable[[Evidence], bool]]:
    """Per (indicator, outcome) with a standing `no`, whether an item is a copy of an entry it
    rejects (`rejected`, `stories.copy_test`)."""
    return {o: copy_test(items) for o, items in rejected(conn, indicator_ids, upto).items()}


def _standing_verdicts(indicator_ids: Sequence[str], since: datetime, upto: int | None) -> Any:
    """Standing verdicts on entries with time >= since, with what evidence shows of them
    (`upto`: standing at that match version)."""
    latest = latest_verdicts().where(verdict_table.c.indicator_id.in_(list(indicator_ids)))
    if upto is not None:
        latest = latest.where(verdict_table.c.seq <= upto)
    columns = (
        entry_table.c.title,
        entry_table.c.link,
        entry_table.c.publisher,
        entry_table.c.time,
        entry_table.c.text,
    )
    return (
        select(verdict_table, *columns)
        .join(entry_table, entry_table.c.id == verdict_table.c.entry_id)
        .where(verdict_table.c.id.in_(latest.scalar_subquery()), entry_table.c.time >= since)
    )


SNIPPET_CHARS = 240  # of an analyst-confirmed entry's text, shown as its snippet


def _confirmed(row: Any) -> Evidence:
    """Evidence of an entry no rule matched, by an analyst's `yes`: no terms fired."""
    text = " ".join(row.text.split())
    snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
    return Evidence(
        entry_id=row.entry_id,
        indicator_id=row.indicator_id,
        outcome_id=row.outcome_id,
        title=row.title,
        link=row.link,
        publisher=row.publisher,
        time=row.time,
        terms=(),
        snippet=snippet,
        judged="yes",
        lede=row.text[:LEDE_CHARS],
    )


@dataclass(frozen=True)
class _KeptEvidence:
    """An evidence read (`Store.evidence_read`): what it asked, and the match version it saw."""

    ids: tuple[str, ...] | None
    starts: dict[str | None, datetime]  # see `_starts`
    version: tuple[int, ...]
    found: dict[str, list[Evidence]]  # newest first; never handed out, only copies of it

    def answers(
        self,
        ids: tuple[str, ...] | None,
        starts: Mapping[str | None, datetime],
        version: tuple[int, ...],
    ) -> bool:
        """Whether this read answers a read of `ids` from `starts` on, the matches being at
        `version` now: the same indicators, none of them starting earlier than here."""
        return (
            self.ids == ids
            and version == self.version
            and self.starts.keys() == starts.keys()
            and all(self.starts[k] <= since for k, since in starts.items())
        )

    def within(self, starts: Mapping[str | None, datetime]) -> dict[str, list[Evidence]]:
        """New lists of the items inside `starts` (none earlier than this read's, so they are
        all here; the older ones are at the end of each list)."""
        cut = {}
        for indicator_id, items in self.found.items():
            since = _start_of(starts, indicator_id)
            end = len(items)
            while end and items[end - 1].time < since:
                end -= 1
            cut[indicator_id] = items[:end]
        return cut
