"""Evaluation that follows the news, not the history (`advance`): each outcome's stories are kept
in the store between evaluations (the first copy of each story inside the window, the keys it
is found under, stories per source), and an evaluation only

- takes the matches written since the last one: each joins the stories through their keys
  (`stories.story_keys`: it is compared with the stories sharing one, nothing else), or starts
  one;
- lets the stories older than the window's start leave it, by time, without reading the rest;
- works an outcome out anew from its matches (`stories.clustering`, as a full evaluation does)
  only when the shortcut could differ from that: its definition changed, its window grew, an
  analyst judged one of its items (or a new item is a copy of one they said no to: the
  window's evidence leaves such copies out), a new item is older than the latest one taken
  and could be a copy of one or have copies, or a story that leaves the window has copies
  still inside it (one of them starts the story then).

So the stories, and with them every status, are the ones `evaluate.evaluate` finds in the same
matches (a property test compares the two on random histories), at a cost that grows with what
came since, not with what is stored. The statuses themselves are read from the kept stories
(`statuses`): their levels from two counts, their evidence from the newest few.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic

from monitor.domain import Evidence, FeedHealth, Indicator, Level, OutcomeState, Status
from monitor.evaluate import (
    EVIDENCE_SHOWN,
    down_reason,
    feeds_down,
    level_of,
    status_string,
    unread_feeds,
)
from monitor.store import (
    Basis,
    Changes,
    KeptStories,
    OutcomeKept,
    SourceKept,
    Store,
    StoryReading,
    after_a_lost_connection,
)
from monitor.stories import clustering, extend, frequent_keys, same_story, story_keys

Outcome = tuple[str, str]  # (indicator id, outcome id)


ATTEMPTS = 3  # tries at working an evaluation out beside the writers, then under the lock
STORIES_PER_WRITE = 2_000  # new stories of outcomes worked out anew, written per transaction
# How long a run of those transactions holds the evaluations' lock before it pauses for a waiting
# process (`Store.give_way`): twice the pause, so that pauses are a third of a long run at most.
HOLD_BEFORE_GIVING_WAY = timedelta(milliseconds=300)


def advance(
    indicators: Sequence[Indicator], store: Store, *, now: datetime
) -> dict[Outcome, OutcomeKept] | None:
    """Bring every outcome's kept stories to the matches stored now and the windows at `now`;
    returns every outcome's state, or None while a replay holds the matches (half rewritten:
    nothing is taken from them until it is done, `Store.begin_replay`).

    The work (what came since, and for an outcome worked out anew the matches of its window
    clustered into stories, with their keys) is done in a snapshot that holds no lock
    (`Store.story_reading`), and the writing in the evaluations' transactions
    (`Store.story_session`), STORIES_PER_WRITE new stories each (`Changes.parts`), each once it
    finds the kept stories and the matches as the work found them (`StoryReading.basis`). So a
    daemon's writes and evaluations wait for one such transaction at most, not for the whole
    evaluation (every outcome of a long history worked out anew after a replay: seconds). When
    another evaluation, news or a clean-up came in between, it is worked out again; after
    ATTEMPTS tries, in one transaction, as one evaluation at a time.

    A connection lost under a try (PostgreSQL restarted, or the backend ended, while it waited
    for the evaluations' lock) is as if the stories moved: the try is worked out again on a new
    connection (`store.after_a_lost_connection`, as for the other statements of a cycle: the
    parts a lost transaction wrote were rolled back; those committed before it are read as the
    kept stories). So is the last, under the lock: one whose commit went through finds its
    stories kept, and writes nothing."""

    def one_try() -> dict[Outcome, OutcomeKept] | None:
        with store.story_reading() as reading:
            worked = _work(reading, indicators, now=now)
        if worked is None:
            return None
        if worked.basis.evaluated == worked.basis.version and worked.changes.empty():
            return worked.states  # nothing came, nothing left: nothing to write
        return _write(store, worked)

    for _attempt in range(ATTEMPTS):
        try:
            return after_a_lost_connection(one_try, one_try)
        except _Moved:
            continue

    def under_the_lock() -> dict[Outcome, OutcomeKept] | None:
        with store.story_session() as session:
            worked = _work(session, indicators, now=now)
            if worked is None:
                return None
            session.write(worked.changes)
            session.set_evaluated(worked.basis.version)
            return worked.states

    return after_a_lost_connection(under_the_lock, under_the_lock)


@dataclass(frozen=True)
class _Worked:
    """An evaluation worked out: what it writes, every outcome's state after, and what it
    followed from (`StoryReading.basis`)."""

    basis: Basis
    changes: Changes
    states: dict[Outcome, OutcomeKept]


class _Moved(Exception):
    """The kept stories or the matches moved since the evaluation was worked out."""


def _write(store: Store, worked: _Worked) -> dict[Outcome, OutcomeKept] | None:
    """Write `worked` part by part, each part once the basis is as the parts before left it
    (their outcomes without a state), the last with every state and the version the kept
    stories are at; returns the states. None when a replay began to hold the matches
    meanwhile; _Moved when something else moved them (parts written before are left to the
    next evaluation, which works their outcomes, without a state, out anew).

    The run pauses for a waiting process once it has held the lock for HOLD_BEFORE_GIVING_WAY
    since it began or last paused, not after every part: a cycle's first evaluation of a new
    database writes a few parts in a fraction of a second (three, 0.3 s, in the benchmark's cold
    cycle, where a pause after each cost as much again), a replay's of a long history tens of
    parts of a third of a second each, paused after every one."""
    parts, last = worked.changes.parts(STORIES_PER_WRITE)
    basis = worked.basis
    held_since = monotonic()
    for part in parts:
        if not _write_part(store, basis, part):
            return None
        basis = basis.without(part.forgotten)
        if monotonic() - held_since >= HOLD_BEFORE_GIVING_WAY.total_seconds():
            store.give_way()
            held_since = monotonic()
    if not _write_part(store, basis, last, evaluated=basis.version):
        return None
    return worked.states


def _write_part(store: Store, basis: Basis, part: Changes, *, evaluated: int = -1) -> bool:
    """Write `part` (and the version the kept stories are at, when given) if the basis is
    still `basis`; False when a replay holds the matches."""
    with store.story_session() as session:
        if session.replay_held():
            return False
        if session.basis() != basis:
            raise _Moved
        session.write(part)
        if evaluated >= 0:
            session.set_evaluated(evaluated)
    return True


def _work(
    reading: StoryReading, indicators: Sequence[Indicator], *, now: datetime
) -> _Worked | None:
    """What an evaluation at `now` writes, from what `reading` reads; None while a replay holds
    the matches."""
    if reading.replay_held():
        return None
    basis = reading.basis()
    after, upto, kept = basis.evaluated, basis.version, reading.states()
    new = reading.new_matches(after, upto) if upto > after else []
    judged = reading.judged(after, upto) if upto > after else set()
    judged |= reading.ever_judged(new)
    judged |= reading.copying_rejected(new, upto)  # leaves them out of its window: anew
    cutoffs = {i.id: now - i.window for i in indicators}
    arrived: dict[Outcome, list[Evidence]] = {}
    for item in new:
        if item.indicator_id in cutoffs and item.time >= cutoffs[item.indicator_id]:
            arrived.setdefault((item.indicator_id, item.outcome_id), []).append(item)
    anew: set[Outcome] = set()
    for indicator in indicators:
        for outcome in indicator.outcomes:
            key = (indicator.id, outcome.id)
            state = kept.get(key)
            if (
                state is None
                or state.definition_hash != indicator.hash
                or cutoffs[indicator.id] < state.cutoff
                or key in judged
            ):
                anew.add(key)
    leaving = _leaving(reading, indicators, kept, cutoffs, anew)
    moved = sorted((set(arrived) | set(leaving)) - anew)
    frequent = reading.frequent(moved)
    keys = {  # to look up the stories they could be copies of: an outcome keeping none has none
        k: {e.entry_id: story_keys(e, frequent[k]) for e in arrived.get(k, ())}
        for k in moved
        if kept[k].stories
    }
    candidates = reading.candidates(
        {k: {x for ks in found.values() for x in ks} for k, found in keys.items()}
    )
    changes = Changes()
    states = dict(kept)
    known: dict[Outcome, list[Evidence]] = {}
    for key in moved:
        found = candidates.get(key, [])
        step = _Step(key, kept[key], cutoffs[key[0]], found, frequent[key], keys.get(key, {}))
        if step.take(arrived.get(key, ()), leaving.get(key, ()), changes):
            states[key] = step.state
        else:
            anew.add(key)
            if not kept[key].stories:  # its window holds only what arrived
                known[key] = arrived.get(key, [])
    _anew(reading, indicators, anew, cutoffs, upto, states, changes, known)
    return _Worked(basis, changes, states)


def _leaving(
    reading: StoryReading,
    indicators: Sequence[Indicator],
    kept: Mapping[Outcome, OutcomeKept],
    cutoffs: Mapping[str, datetime],
    anew: set[Outcome],
) -> dict[Outcome, list[_Left]]:
    """The kept stories leaving their window, per outcome."""
    by_cutoff: dict[datetime, list[str]] = {}
    for indicator in indicators:
        keys = [(indicator.id, o.id) for o in indicator.outcomes]
        if any(k not in anew and kept[k].cutoff < cutoffs[indicator.id] for k in keys):
            by_cutoff.setdefault(cutoffs[indicator.id], []).append(indicator.id)
    found: dict[Outcome, list[_Left]] = {}
    for cutoff, ids in by_cutoff.items():
        for story in reading.leaving(ids, cutoff):
            key = (story.indicator_id, story.outcome_id)
            if key not in anew:
                found.setdefault(key, []).append(
                    _Left(story.entry_id, story.publisher, story.copies_until)
                )
    return found


@dataclass(frozen=True)
class _Left:
    entry_id: int
    publisher: str
    copies_until: datetime | None  # the newest copy found of it


CANDIDATES_PER_ITEM = 4  # stories sharing a key with the new items, per item, beyond which…
CANDIDATES_SLACK = 32  # …(and this many) an outcome's frequent shingles are worked out anew


class _Step:
    """One outcome moved on by the items that arrived and the stories that leave."""

    def __init__(
        self,
        key: Outcome,
        state: OutcomeKept,
        cutoff: datetime,
        candidates: Sequence[Evidence],
        frequent: frozenset[int],  # its frequent shingles (`stories.frequent_keys`)
        keys: Mapping[int, Sequence[int]],  # the items' keys, by entry id, if worked out yet
    ) -> None:
        self.key = key
        self.state = state
        self.cutoff = cutoff
        self.candidates = candidates
        self.frequent = frequent
        self.keys = keys

    def take(self, items: Sequence[Evidence], leaving: Sequence[_Left], changes: Changes) -> bool:
        """Add what the step changes to `changes`, or False when the shortcut could differ
        from working the outcome out anew (see the module's docstring)."""
        if any(s.copies_until is not None and s.copies_until >= self.cutoff for s in leaving):
            return False  # a copy inside the window would start that story now
        if len(items) > max(CANDIDATES_SLACK, self.state.stories):
            return False  # as much news as the outcome kept: as cheap to work out anew
        if len(self.candidates) > CANDIDATES_PER_ITEM * len(items) + CANDIDATES_SLACK:
            return False  # phrases many stories share now are keyed early: key them anew
        last = self.state.last
        after = [last is None or (e.time, e.entry_id) > last for e in items]  # the last taken
        later = [e for e, a in zip(items, after, strict=True) if a]
        gone = {s.entry_id for s in leaving}
        stories = [c for c in self.candidates if c.entry_id not in gone]
        placed = _earlier([e for e, a in zip(items, after, strict=True) if not a], stories)
        if placed is None:
            return False
        earlier, copies = placed
        found = extend([*stories, *earlier], later)
        until = dict(found.copies_until)
        for item, entry_id in copies:
            until[entry_id] = max(until.get(entry_id, item.time), item.time)
        starts = [*earlier, *found.starts]
        arrived = {e.entry_id for e in items}
        indicator_id, outcome_id = self.key
        changes.left.extend((indicator_id, outcome_id, s.entry_id) for s in leaving)
        changes.started.extend((e, self._keys(e), until.get(e.entry_id)) for e in starts)
        changes.copied.extend(
            (indicator_id, outcome_id, entry_id, newest)
            for entry_id, newest in until.items()
            if entry_id not in arrived
        )
        sources = _sources(self.state.sources, starts, [s.publisher for s in leaving])
        newest = max(((e.time, e.entry_id) for e in items), default=None)
        self.state = OutcomeKept(
            definition_hash=self.state.definition_hash,
            cutoff=self.cutoff,
            last=max(filter(None, (last, newest)), default=None),
            stories=self.state.stories + len(starts) - len(leaving),
            sources=sources,
        )
        changes.states[self.key] = self.state
        return True

    def _keys(self, item: Evidence) -> Sequence[int]:
        found = self.keys.get(item.entry_id)
        return story_keys(item, self.frequent) if found is None else found


def _earlier(
    items: Sequence[Evidence], stories: Sequence[Evidence]
) -> tuple[list[Evidence], list[tuple[Evidence, int]]] | None:
    """Where the items older than the latest one taken fall among the kept `stories`: those
    that start a story, oldest first, and those that are copies (each with the entry id of
    the story it copies), as clustering all items at once finds them; None when one that
    starts a story is like a kept story begun after it, which would then be its copy (the
    outcome is worked out anew).

    Taken in order, each item is compared with the stories begun before it, kept or started
    here: a copy starts nothing, so no later item is compared with it, and one that starts a
    story like no later story changes no other. (Clustering all items at once could count a
    copy to another story begun before it; which one only decides when a story leaving the
    window has a copy inside it, and then the outcome is worked out anew.)"""
    starts: list[Evidence] = []
    copies: list[tuple[Evidence, int]] = []
    for item in sorted(items, key=lambda e: (e.time, e.entry_id)):
        at = (item.time, item.entry_id)
        before = [s for s in stories if (s.time, s.entry_id) < at]
        original = next((s for s in [*before, *starts] if same_story(s, item)), None)
        if original is not None:
            copies.append((item, original.entry_id))
        elif any(same_story(s, item) for s in stories if (s.time, s.entry_id) > at):
            return None
        else:
            starts.append(item)
    return starts, copies


def _sources(
    kept: Sequence[SourceKept], starts: Sequence[Evidence], gone: Sequence[str]
) -> tuple[SourceKept, ...]:
    """An outcome's sources after stories `starts` began and stories of `gone` publishers left
    (the oldest ones: a publisher's newest story leaves only with the last of them)."""
    by_publisher = {s.publisher: s for s in kept}
    for publisher in gone:
        source = by_publisher[publisher]
        by_publisher[publisher] = source._replace(stories=source.stories - 1)
    for item in starts:
        newest = (item.time, item.entry_id)
        known = by_publisher.get(item.publisher)
        if known is None or known.stories <= 0:
            by_publisher[item.publisher] = SourceKept(item.publisher, 1, newest)
        else:
            by_publisher[item.publisher] = SourceKept(
                item.publisher, known.stories + 1, max(known.newest, newest)
            )
    found = [s for s in by_publisher.values() if s.stories > 0]
    return tuple(sorted(found, key=lambda s: s.newest, reverse=True))


def _anew(
    reading: StoryReading,
    indicators: Sequence[Indicator],
    anew: set[Outcome],
    cutoffs: Mapping[str, datetime],
    upto: int,
    states: dict[Outcome, OutcomeKept],
    changes: Changes,
    known: Mapping[Outcome, Sequence[Evidence]],
) -> None:
    """Work the `anew` outcomes out from the matches in their windows, read from the store
    but for those `known` already: outcomes of the current definitions that kept no story,
    whose windows hold only the matches that arrived since (any other would be a story)."""
    hashes = {i.id: i.hash for i in indicators}
    ids = sorted({indicator_id for indicator_id, o in anew if (indicator_id, o) not in known})
    windows = reading.windows({i: cutoffs[i] for i in ids}, upto) if ids else {}
    for key in sorted(anew):
        if key in known:
            items = list(known[key])
        else:
            items = [e for e in windows.get(key[0], ()) if e.outcome_id == key[1]]
        found = clustering(items)
        changes.forgotten.add(key)  # a step that gave up added nothing of it
        frequent = changes.frequent[key] = frequent_keys(found.starts)
        changes.started.extend(
            (e, story_keys(e, frequent), found.copies_until.get(e.entry_id)) for e in found.starts
        )
        sources = _sources((), found.starts, ())
        state = OutcomeKept(
            definition_hash=hashes[key[0]],
            cutoff=cutoffs[key[0]],
            last=max(((e.time, e.entry_id) for e in items), default=None),
            stories=len(found.starts),
            sources=sources,
        )
        changes.states[key] = state
        states[key] = state


def status_strings(
    indicators: Sequence[Indicator],
    states: Mapping[Outcome, OutcomeKept],
    health: Mapping[str, Sequence[FeedHealth]],
    *,
    now: datetime,
) -> dict[str, str]:
    """Each indicator's status from its outcomes' kept counts and its feeds' `health`."""
    return {
        indicator.id: status_string(
            _levels(indicator, states), feeds_down(health[indicator.id], now)
        )
        for indicator in indicators
    }


def statuses(
    indicators: Sequence[Indicator],
    states: Mapping[Outcome, OutcomeKept],
    health: Mapping[str, Sequence[FeedHealth]],
    *,
    now: datetime,
    kept: Mapping[Outcome, KeptStories],
) -> list[Status]:
    """Each indicator's status at `now` from its outcomes' kept states, its feeds' `health` and
    the stories kept (`Store.kept_stories` from each window's start at `now`). Stories that
    left the window since the last evaluation no longer count; the rest is as that evaluation
    found it (a copy of a story that left starts it again only at the next one)."""
    found = []
    for indicator in indicators:
        outcomes = []
        for outcome in indicator.outcomes:
            key = (indicator.id, outcome.id)
            stories, state = kept[key], states[key]
            count = state.stories - stories.left
            since = now - indicator.window
            sources = [s for s in state.sources if s.newest[0] >= since]  # a story since then
            level = level_of(outcome, count, len(sources))
            publishers = tuple(s.publisher for s in sources)
            shown = tuple(stories.newest[:EVIDENCE_SHOWN])
            outcomes.append(OutcomeState(outcome.id, level, publishers, shown, stories=count))
        unread = unread_feeds(health[indicator.id], now)
        down = down_reason(unread, len(health[indicator.id]))
        status = status_string([(o.outcome_id, o.level) for o in outcomes], down)
        found.append(Status(indicator.id, status, tuple(outcomes), indicator.hash, down, unread))
    return found


def _levels(indicator: Indicator, states: Mapping[Outcome, OutcomeKept]) -> list[tuple[str, Level]]:
    levels = []
    for outcome in indicator.outcomes:
        state = states[(indicator.id, outcome.id)]
        levels.append((outcome.id, level_of(outcome, state.stories, len(state.sources))))
    return levels
