"""What the news says now: every indicator's status from the stored evidence and the health of
the feeds it reads (`evaluate_all`), the changes a check would record (`pending_changes`, for
read-only commands), an analyst's verdict with the re-evaluation it causes (`judge`), and a
silence checked against the definitions and recorded (`begin_silence`).
Who reads what — which feeds each indicator reads, which indicators each feed feeds — is worked
out here once per definitions and shared with the cycle."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import PurePath

from monitor import incremental
from monitor.domain import (
    INITIAL,
    QUIET,
    UNKNOWN,
    Definitions,
    FeedHealth,
    FeedSelector,
    Indicator,
    Judgement,
    Status,
    StatusChange,
    Verdict,
    format_duration,
    parse_duration,
)
from monitor.errors import SilenceError, VerdictError
from monitor.evaluate import EVIDENCE_SHOWN, down_since, evaluate, feeds_down, overdue, untried
from monitor.evaluate import changes as find_changes
from monitor.silences import Silence
from monitor.store import OutcomeKept, Store, StoredEntry


def pending_changes(definitions: Definitions, store: Store, *, now: datetime) -> list[StatusChange]:
    """The changes `prepare` would record at `now`, worked out without writing (for read-only
    commands: `Store.with_unrecorded` shows them), recorded at `now`. One to `unknown`
    because the feeds went unread happened when they stopped supporting the status
    (`unread_since`), as the page shows it. None of an indicator edited since its last
    evaluation: what the check records depends on the stored news matched against it again
    (`pipeline.first_look`)."""
    recorded = store.current_statuses()
    current = {i: status for i, (status, _since) in recorded.items()}
    counted = kept_statuses(definitions, store, now=now, evidence=False)
    moved = {
        s.indicator_id
        for s in counted
        if s.status != current.get(s.indicator_id, INITIAL) and s.reason != NOT_LOOKED_AGAIN
    }
    if not moved:
        return []
    statuses = kept_statuses(definitions, store, now=now, only=moved)  # with their evidence
    found = edited(
        definitions,
        store.evaluated_with(),
        find_changes(statuses, current, now=now, definitions=definitions),
    )
    changes = dated(definitions, store, found, recorded, now=now, unread=True)
    return [replace(c, recorded_at=now) for c in changes]  # as a check now would record them


def edited(
    definitions: Definitions, evaluated: Mapping[str, str], found: Sequence[StatusChange]
) -> list[StatusChange]:
    """`found`, each change of an indicator whose definition file was edited since a writer last
    worked its status out (`evaluated`: indicator id -> the hash then, "" before the first)
    saying so as its reason, unless it has one (unknown's: feeds not read). The edit moved
    it, not the news: a window made shorter or longer, an outcome renamed or taken out (the
    stored matches keep the outcome ids they were made with until `monitor replay`), other
    feeds read. Without it such a change read as news, with no evidence or old evidence."""
    marked = []
    for change in found:
        indicator = definitions.indicator(change.indicator_id)
        before = evaluated.get(indicator.id, "")
        if before and before != indicator.hash and not change.reason:
            file = PurePath(indicator.source).name or f"{indicator.id}.yaml"
            change = replace(change, reason=f"{EDITED} ({file})")
        marked.append(change)
    return marked


EDITED = "definition edited"


def dated(
    definitions: Definitions,
    store: Store,
    found: Sequence[StatusChange],
    recorded: Mapping[str, tuple[str, datetime]],
    *,
    now: datetime,
    unread: bool = False,
    floor: datetime | None = None,
    overdue: bool = False,
) -> list[StatusChange]:
    """The changes `found` at `now`, each to ``unknown`` dated when the feeds stopped
    supporting the status it leaves (`unread_since`: a failing feed two intervals after its
    first failure), as the readers show it before it is recorded — but not before that status
    began (`recorded`: indicator id -> (status, since)) nor before `floor` (a writer's: where
    the latest digest sent listed changes up to, so none is dated into what it covered).
    `unread`: the readers' feed health, which counts feeds nobody read (`_health`); else the
    writers', with `overdue` feeds as the readers see them (see `advance_all`)."""
    unknown = {c.indicator_id for c in found if c.new_status == UNKNOWN}
    unread_at = unread_since(definitions, store, unknown, now=now, unread=unread, overdue=overdue)
    dated_found = []
    for change in found:
        stopped = unread_at.get(change.indicator_id)
        if stopped is not None and change.indicator_id in recorded:
            began = recorded[change.indicator_id][1]
            moment = max(stopped, began, floor or stopped)
            change = replace(change, at=min(now, moment))
        dated_found.append(change)
    return dated_found


def advance_all(
    definitions: Definitions,
    store: Store,
    *,
    now: datetime,
    current: Mapping[str, str],
    only: str | None = None,
    overdue: bool = False,
) -> list[Status] | None:
    """The status at `now` of every indicator (or `only` that one) whose status differs from
    `current` (absent: INITIAL), the kept stories brought up to date first (for the writers: a
    check, a verdict; `monitor.incremental`). Only these have their evidence read: the others
    record nothing. The feeds are as the writers see them (`_health`): all as read at the next
    check, or with `overdue` (right after a check that got through its due feeds, not for a
    replay) those due for two intervals that no check tried as unread, as the readers see them.
    None while a replay holds the matches (`incremental.advance`): no status moves meanwhile."""
    if not definitions.indicators:
        return []
    states = incremental.advance(definitions.indicators, store, now=now)
    if states is None:
        return None
    reads = _reads(definitions, store, unread=False, now=now if overdue else None)
    strings = incremental.status_strings(definitions.indicators, states, reads, now=now)
    moved = [
        i
        for i in definitions.indicators
        if strings[i.id] != current.get(i.id, INITIAL) and only in (None, i.id)
    ]
    return _from_kept(moved, store, states, reads, now=now)


def kept_statuses(
    definitions: Definitions,
    store: Store,
    *,
    now: datetime,
    evidence: bool = True,
    only: AbstractSet[str] | None = None,
) -> list[Status]:
    """Every indicator's status as the last evaluation kept it (matches stored since count from
    the next one, as they do for the recorded status), with its feeds' health at `now`: for the
    readers, none of which evaluates. Before any evaluation kept stories for the definitions
    (a new database, definitions changed since the last check) they are evaluated from the
    evidence instead. Without `evidence` the stories are only counted; `only`: the statuses of
    these indicators only."""
    indicators = [i for i in definitions.indicators if only is None or i.id in only]
    if not indicators:
        return []
    ids = {i.id for i in indicators}
    shown = EVIDENCE_SHOWN if evidence else 0
    states = store.kept_outcomes()
    current = all(
        (k := states.get((i.id, o.id))) is not None and k.definition_hash == i.hash
        for i in indicators
        for o in i.outcomes
    )
    if not current:
        statuses = evaluate_all(definitions, store, now=now, unread=True)
        return _looked_at([s for s in statuses if s.indicator_id in ids], store)
    reads = _reads(definitions, store, unread=True)
    return _from_kept(indicators, store, states, reads, now=now, shown=shown)


NOT_LOOKED_AT = (
    "not checked yet: new in the definitions; the next check (or the daemon's reload) "
    "matches the stored news against it"
)
NOT_LOOKED_AGAIN = (
    "not checked yet: its definition was edited; the next check (or the daemon's reload) "
    "matches the stored news against it again"
)


def _looked_at(statuses: list[Status], store: Store) -> list[Status]:
    """The statuses with `unknown` where no writer has evaluated the indicator with its
    definition as it is (`pipeline.first_look` has not matched the stored news against it):
    for a `quiet` of one new in the definitions, which would claim that the stored news was
    matched and none matched; for any status of one edited since (but an `unknown` of its own),
    worked out from the matches its old rule made — the evidence of a false positive the
    edit rules out, or none for an article the rule now matches."""
    evaluated = store.evaluated_with()
    looked = []
    for status in statuses:
        before = evaluated.get(status.indicator_id)
        if not before and status.status == QUIET:
            status = replace(status, status=UNKNOWN, reason=NOT_LOOKED_AT)
        elif before and before != status.definition_hash and status.status != UNKNOWN:
            status = replace(status, status=UNKNOWN, reason=NOT_LOOKED_AGAIN)
        looked.append(status)
    return looked


def unread_since(
    definitions: Definitions,
    store: Store,
    indicator_ids: AbstractSet[str],
    *,
    now: datetime,
    unread: bool = True,
    overdue: bool = False,
) -> dict[str, datetime]:
    """Of the indicators in `indicator_ids` that are `unknown` at `now` because their feeds went
    unread or failing: since when (`evaluate.down_since`), where it can be told. `unread`: as
    the readers see the feeds (`_health`); without, as the writers do (`overdue`: see
    `advance_all`)."""
    if not indicator_ids:
        return {}
    reads = _reads(definitions, store, unread=unread, now=now if overdue else None)
    found = {i: down_since(reads[i], now) for i in indicator_ids if i in reads}
    return {i: moment for i, moment in found.items() if moment is not None}


def held(
    definitions: Definitions,
    store: Store,
    found: Sequence[StatusChange],
    *,
    now: datetime,
    checked: bool = False,
) -> tuple[list[StatusChange], set[str]]:
    """`found` without the changes a writer cannot claim yet, and the ids of their indicators:

    - a change to ``quiet`` of an indicator none of whose feeds was read for two intervals
      (the readers' ``unknown``, `_health`: a daemon that was down). ``quiet`` says the feeds
      were read and nothing matched: the check that reads them records it. Recorded before
      (evidence that left its window while nobody read the feeds), it claimed a reading nobody
      made, while the readers said ``unknown``. Nor does it wait for ever: once the feeds were
      due for two intervals with no check trying them (`evaluate.overdue`), the writers see
      them unread as the readers do and work out ``unknown`` themselves;
    - a change to ``unknown`` of an indicator one of whose feeds was never tried (given another
      URL in the feeds file, or put back in it: it starts afresh, due at once). Nothing was
      learnt: the check that tries it records what it finds, ``unknown`` with the fetch's error
      or no change at all. Recorded at the reload, a feed moved to a working address made each
      of its indicators change twice within seconds (``quiet -> unknown -> quiet``), each change
      alerted. Held until a check (`checked`) finds the feed due for two intervals and still
      untried: its lease held by a process that does not get to it, say. Then it is recorded,
      saying so (``a: never read (not tried since …)``);

    A replay (`replayed`) re-reads what is stored: none held."""
    claims = {c.indicator_id for c in found if c.new_status == QUIET and not c.replayed}
    waits = {c.indicator_id for c in found if c.new_status == UNKNOWN and not c.replayed}
    if not claims and not waits:
        return list(found), set()
    reads = _reads(definitions, store, unread=True)
    unread = {i for i in claims if i in reads and feeds_down(reads[i], now)}

    def waiting(health: FeedHealth) -> bool:
        return untried(health) and not (checked and overdue(health, now))

    untried_ids = {i for i in waits if i in reads and any(map(waiting, reads[i]))}
    kept_back = unread | untried_ids
    return [c for c in found if c.indicator_id not in kept_back], kept_back


def _reads(
    definitions: Definitions, store: Store, *, unread: bool, now: datetime | None = None
) -> dict[str, list[FeedHealth]]:
    """indicator id -> the health of each feed it reads (`_health`)."""
    health = _health(store, unread=unread, now=now)
    feeds = reading_of(definitions).feeds
    return {
        i.id: [health.get(f) or _never_read(f) for f in feeds[i.id]] for i in definitions.indicators
    }


def _from_kept(
    indicators: Sequence[Indicator],
    store: Store,
    states: Mapping[tuple[str, str], OutcomeKept],
    reads: Mapping[str, Sequence[FeedHealth]],
    *,
    now: datetime,
    shown: int = EVIDENCE_SHOWN,
) -> list[Status]:
    since = {(i.id, o.id): now - i.window for i in indicators for o in i.outcomes}
    kept = store.kept_stories(since, shown=shown)
    return incremental.statuses(indicators, states, reads, now=now, kept=kept)


def evaluate_all(
    definitions: Definitions, store: Store, *, now: datetime, unread: bool = False
) -> list[Status]:
    """Every indicator's status from the stored evidence and feed health, worked out from all
    of it (replay, tests, and readers before any evaluation kept its stories: with `unread`,
    see `_health`)."""
    indicators = definitions.indicators
    if not indicators:
        return []
    read = store.evidence_read(
        [i.id for i in indicators], {i.id: now - i.window for i in indicators}
    )
    health = _health(store, unread=unread, now=now)
    feeds = reading_of(definitions).feeds
    statuses = []
    for indicator in indicators:
        reads = [health.get(f) or _never_read(f) for f in feeds[indicator.id]]
        evidence = read.found.get(indicator.id, [])
        statuses.append(evaluate(indicator, evidence, reads, now=now, version=read.version))
    return statuses


def _health(store: Store, *, unread: bool, now: datetime | None = None) -> dict[str, FeedHealth]:
    """feed id -> its health. With `unread`, for the readers (the page, the API, `monitor
    status`, the digest): a feed nobody has read for two of its check intervals, as while no
    daemon runs, supports no status (`evaluate.feeds_down`). Without, for the writers (a
    check, the daemon): they read the feeds themselves — but not one `overdue` at `now` (due
    for two intervals and no check tried it), which they see as the readers do. A daemon
    starting after a day down holds back what that changes until its first check (`held`)."""
    found = store.feed_health()
    if not unread:
        found = [
            h if now is not None and overdue(h, now) else replace(h, last_read=None) for h in found
        ]
    return {h.feed_id: h for h in found}


def _never_read(feed_id: str) -> FeedHealth:
    """A configured feed the store does not know yet (`prepare` adds it as never read; a
    read-only command evaluates without it having run)."""
    return FeedHealth(feed_id, failing_since=None, interval=timedelta(0), never_read=True)


@dataclass(frozen=True)
class Judged:
    """A recorded verdict, its indicator's status after it, and the change it caused."""

    verdict: Verdict
    status: str
    change: StatusChange | None


JUDGE_ATTEMPTS = 3  # re-evaluations when another writer records a change of that indicator
NOTE_MAX_CHARS = 2000  # a verdict's note, as the JSON endpoint and the page's form take it
SUPERSEDED = "superseded by a later verdict"  # what `standing` says of one a later one replaced


def judge(
    definitions: Definitions,
    store: Store,
    *,
    entry_id: int,
    target: tuple[str, str],
    verdict: str,
    who: str,
    note: str = "",
    now: datetime,
    alert: bool = False,
) -> Judged:
    """Record an analyst's verdict on an entry as evidence of `target` (indicator, outcome) and
    re-evaluate that indicator at once; a status change it causes names it as its reason, and
    with `alert` (MONITOR_NOTIFY_URLS set) waits for its alert like a check's.

    Only that indicator is recorded: what time alone changed elsewhere is the next check's.
    Raises VerdictError (nothing written) for an unknown indicator, outcome or entry, or a note
    over NOTE_MAX_CHARS."""
    indicator_id, outcome_id = target
    _check_target(definitions, indicator_id, outcome_id)
    try:
        judgement = Judgement(verdict)
    except ValueError:
        raise VerdictError(
            f"verdict: {verdict!r} is neither yes nor no", unknown="verdict"
        ) from None
    written = _one_line(note)
    if len(written) > NOTE_MAX_CHARS:  # the CLI's --note: over HTTP a longer one is a 422
        raise VerdictError(
            f"verdict: a note is at most {NOTE_MAX_CHARS} characters (this one has {len(written)})",
            unknown="note",
        )
    recorded = store.add_verdict(
        Verdict(entry_id, indicator_id, outcome_id, judgement, who, now, written)
    )
    for _attempt in range(JUDGE_ATTEMPTS):
        # The status first, then the evidence: a verdict another writer stores in between is
        # then either in this evidence, or its change moves the status and ours is refused.
        current = store.current_statuses().get(indicator_id, (QUIET, now))[0]
        status = _status_of(definitions, store, indicator_id, now=now, current=current)
        if status is None:
            return Judged(recorded, current, None)
        found = find_changes(
            [status], {indicator_id: current}, now=now, reason=recorded.reason,
            definitions=definitions,
        )  # fmt: skip
        done = store.record_changes(found, alert=alert, now=now)
        if done:  # else another writer changed the status first: evaluate again
            return Judged(recorded, status.status, done[0])
    return Judged(recorded, store.current_statuses().get(indicator_id, (QUIET, now))[0], None)


def beyond_window(verdict: Verdict, time: datetime, window: timedelta, *, now: datetime) -> str:
    """Why a `yes` adds no evidence at `now`: its entry's `time` is older than the indicator's
    `window` (`older than its 30d window: the yes adds no evidence now`), so an analyst who
    confirmed it is told why the evidence did not move; "" for a `no`, or inside the window."""
    if verdict.verdict != Judgement.YES or time >= now - window:
        return ""
    return f"older than its {format_duration(window)} window: the yes adds no evidence now"


def standing_on(
    store: Store, stored: StoredEntry, indicator: Indicator, *, now: datetime
) -> list[tuple[Verdict, str]]:
    """The verdicts that stand on a stored entry as evidence of the indicator's outcomes, each
    with `beyond_window` (what `monitor explain --entry` and the explain endpoint say)."""
    return [
        (verdict, beyond_window(verdict, stored.time, indicator.window, now=now))
        for verdict in store.standing_on(stored.id, indicator.id)
    ]


def standing(
    verdicts: Sequence[tuple[Verdict, StoredEntry]], definitions: Definitions, *, now: datetime
) -> list[tuple[Verdict, StoredEntry, str]]:
    """Each verdict, newest first as `Store.verdicts` lists them, with what it does now (the
    page and `monitor verdict list` say it): `superseded by a later verdict` when a later one
    on its entry, indicator and outcome stands instead, `beyond_window` for a `yes` that
    stands (of an indicator defined); "" else."""
    windows = {i.id: i.window for i in definitions.indicators}
    seen: set[tuple[int, str, str]] = set()
    shown = []
    for verdict, stored in verdicts:
        key = (verdict.entry_id, verdict.indicator_id, verdict.outcome_id)
        window = windows.get(verdict.indicator_id)
        note = "" if window is None else beyond_window(verdict, stored.time, window, now=now)
        shown.append((verdict, stored, SUPERSEDED if key in seen else note))
        seen.add(key)
    return shown


def begin_silence(
    definitions: Definitions,
    store: Store,
    *,
    target: tuple[str, str | None],
    duration: str,
    reason: str,
    who: str,
    now: datetime,
) -> Silence:
    """Record a silence of an indicator (or one outcome) from `now` for `duration` (as the
    settings write durations: `7d`); a SilenceError names what is wrong with it."""
    indicator_id, outcome_id = target
    try:
        indicator = definitions.indicator(indicator_id)
    except KeyError:
        raise SilenceError(
            f"silence: {definitions.no_indicator(indicator_id)}", problem="unknown"
        ) from None
    if outcome_id is not None and outcome_id not in {o.id for o in indicator.outcomes}:
        raise SilenceError(f"silence: {indicator.no_outcome(outcome_id)}", problem="invalid")
    try:
        length = parse_duration(duration.strip())
    except ValueError as exc:
        raise SilenceError(str(exc), problem="invalid", field="for") from None
    if length <= timedelta(0):
        raise SilenceError(f"{duration!r} is no time at all", problem="invalid", field="for")
    written = _one_line(reason)[:2000]
    if not written:  # nothing, or only control characters
        raise SilenceError(
            "a reason is required (why, in a few words)", problem="invalid", field="reason"
        )
    silence = Silence(indicator_id, outcome_id, written, who, now, now + length)
    return store.add_silence(silence)


def _one_line(note: str) -> str:
    """The note on one line, without control characters (or lone surrogates)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in note).split())


def _check_target(definitions: Definitions, indicator_id: str, outcome_id: str) -> None:
    try:
        indicator = definitions.indicator(indicator_id)
    except KeyError:
        raise VerdictError(
            f"verdict: {definitions.no_indicator(indicator_id)}", unknown="indicator"
        ) from None
    try:
        indicator.outcome(outcome_id)
    except KeyError:
        message = f"verdict: {indicator.no_outcome(outcome_id)}"
        raise VerdictError(message, unknown="outcome") from None


def _status_of(
    definitions: Definitions, store: Store, indicator_id: str, *, now: datetime, current: str
) -> Status | None:
    """One indicator's status now when it differs from `current`, else None (every
    indicator's kept stories are brought up to date; none while a replay holds the matches:
    its own evaluation records the change)."""
    moved = advance_all(
        definitions, store, now=now, current={indicator_id: current}, only=indicator_id
    )
    return next(iter(moved or ()), None)


# ---------------------------------------------------------------- who reads what


def readers_of(definitions: Definitions) -> Mapping[str, frozenset[str]]:
    """feed id -> ids of the indicators that read it (worked out once per definitions)."""
    return reading_of(definitions).readers


@dataclass(frozen=True)
class Reading:
    feeds: Mapping[str, tuple[str, ...]]  # indicator id -> ids of the feeds it reads
    readers: Mapping[str, frozenset[str]]  # feed id -> ids of the indicators that read it


def reading_of(definitions: Definitions) -> Reading:
    """Who reads what, kept per what it is worked out from: each feed's id and tags and each
    indicator's feed selection (equal definitions loaded again hit; a few hashes of small
    tuples, where hashing whole definitions would cost as much as working it out)."""
    feeds = tuple((f.id, f.tags) for f in definitions.feeds)
    selections = tuple((i.id, i.feeds) for i in definitions.indicators)
    return _kept_reading(_Selection(feeds, selections, definitions))


@dataclass(frozen=True)
class _Selection:
    feeds: tuple[tuple[str, tuple[str, ...]], ...]
    selections: tuple[tuple[str, FeedSelector], ...]
    definitions: Definitions = field(compare=False, hash=False)  # what it was worked out from


@functools.lru_cache(maxsize=4)  # the daemon's definitions, and those it is reloading
def _kept_reading(key: _Selection) -> Reading:
    return _reading(key.definitions)


def _reading(definitions: Definitions) -> Reading:
    feeds = {indicator.id: definitions.feeds_for(indicator) for indicator in definitions.indicators}
    readers: dict[str, set[str]] = {}
    for indicator_id, feed_ids in feeds.items():
        for feed_id in feed_ids:
            readers.setdefault(feed_id, set()).add(indicator_id)
    return Reading(feeds, {feed_id: frozenset(ids) for feed_id, ids in readers.items()})
