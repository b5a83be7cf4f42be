"""What people and tools are shown: one payload per indicator, for the CLI, the API and the page.

Built from the store and the definitions; JSON and HTML render the same objects.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from monitor.domain import (
    INITIAL,
    MIXED,
    QUIET,
    UNKNOWN,
    Definitions,
    Evidence,
    Status,
    StatusChange,
    Verdict,
    iso_time,
)
from monitor.pipeline import evaluate_all
from monitor.store import Store, StoredEntry

NOT_READ_YET = "feeds not read yet"  # the reason of an unknown the next cycle will look into
UNKNOWN_GLYPH = "⚠"  # drawn before `unknown` everywhere, so it never reads as a grey `quiet`


@dataclass(frozen=True)
class Colour:
    """How a status is drawn, the same on the page and in the digest."""

    background: str
    text: str
    fill: str  # of its stretch of the page's timeline


PALETTE: dict[str, Colour] = {
    QUIET: Colour("#ecece7", "#46463f", "#dcdcd6"),  # grey: read, nothing matched
    # charcoal with a yellow word: no outcome's hue, nothing like quiet's grey
    UNKNOWN: Colour("#3f3f46", "#fde047", "#3f3f46"),
    MIXED: Colour("#efe7ff", "#4b2a99", "#8b5cf6"),
}


def status_words(status: str, reason: str = "") -> str:
    """What a person reads for a status word: `⚠ unknown — feeds not read: …` for unknown."""
    if status != UNKNOWN:
        return status
    return f"{UNKNOWN_GLYPH} {UNKNOWN}" + (f" — {reason}" if reason else "")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text: str) -> str:
    """Feed-derived text on one line: control characters dropped, whitespace collapsed."""
    return " ".join(_CONTROL.sub("", text).split())


def web_url(link: str) -> str | None:
    """The link when it is an absolute http(s) URL, else None (javascript:, data:, relative).

    The page and the digest make a link of feed-derived URLs only through this."""
    link = link.strip()
    if not link or any(ch.isspace() or ord(ch) < 32 for ch in link):
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return link


@dataclass(frozen=True)
class OutcomeView:
    id: str
    label: str
    level: str  # none | reported | confirmed
    sources: tuple[str, ...]
    evidence_count: int  # stories inside the window, copies counted once


@dataclass(frozen=True)
class IndicatorView:
    id: str
    group: str
    title: str
    question: str
    status: str
    since: datetime
    reason: str  # why the status is unknown ("feeds not read: …"); "" for any other status
    started: datetime  # when monitoring it began
    window_days: float
    outcomes: tuple[OutcomeView, ...]
    evidence: tuple[Evidence, ...]  # of the outcome(s) behind the status, newest first


def indicator_views(
    definitions: Definitions, store: Store, *, now: datetime
) -> list[IndicatorView]:
    """Every indicator with its recorded status and the evidence that stands behind it now."""
    recorded = store.current_statuses()
    started = store.monitoring_started()
    statuses = {s.indicator_id: s for s in evaluate_all(definitions, store, now=now)}
    views = []
    for indicator in definitions.indicators:
        status, since = recorded.get(indicator.id, (INITIAL, now))
        view = _view(indicator.id, definitions, statuses[indicator.id], status, since)
        views.append(replace(view, started=started.get(indicator.id, since)))
    return views


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The views of one set of definitions at one data version, computed at `now`.

    Equal only to itself: answers rendered from it are kept while it is the current one."""

    definitions: Definitions
    version: tuple[int, ...]
    now: datetime
    views: tuple[IndicatorView, ...]

    def view(self, indicator_id: str) -> IndicatorView:
        return next(v for v in self.views if v.id == indicator_id)

    def fresh(
        self, definitions: Definitions, version: tuple[int, ...], now: datetime, max_age: timedelta
    ) -> bool:
        """Still right at `now`: same definitions object, same version, not too old."""
        same = self.definitions is definitions and self.version == version
        return same and timedelta(0) <= now - self.now < max_age


class ViewCache:
    """`indicator_views`, computed again only when the data version moved, the definitions
    were reloaded, or `max_age` passed (statuses move as evidence leaves its window).

    A request costs one cheap `store.data_version()`; concurrent requests that miss wait for
    one computation instead of each making their own. Thread-safe."""

    def __init__(self, store: Store, *, max_age: timedelta = timedelta(seconds=60)) -> None:
        self._store = store
        self._max_age = max_age
        self._lock = threading.Lock()
        self._last: Snapshot | None = None

    def get(self, definitions: Definitions, *, now: datetime) -> Snapshot:
        hit = self._hit(definitions, self._store.data_version(), now)
        if hit is not None:
            return hit
        with self._lock:
            version = self._store.data_version()  # perhaps moved while this thread waited
            hit = self._hit(definitions, version, now)
            if hit is None:
                views = tuple(indicator_views(definitions, self._store, now=now))
                hit = self._last = Snapshot(definitions, version, now, views)
            return hit

    def _hit(
        self, definitions: Definitions, version: tuple[int, ...], now: datetime
    ) -> Snapshot | None:
        last = self._last
        return last if last and last.fresh(definitions, version, now, self._max_age) else None


@dataclass(frozen=True)
class Answer:
    """A rendered answer: its body, ETag and Last-Modified."""

    body: bytes
    etag: str
    last_modified: datetime | None = None


class AnswerCache:
    """Rendered answers, each kept while the version it was rendered at is current: the
    most recently used ones, at most `max_bytes` of bodies in all. Thread-safe; concurrent
    misses of one key render it once."""

    STRIPES = 16  # locks for rendering: misses of keys in different stripes render at once

    def __init__(self, *, max_bytes: int = 8 << 20) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._rendering = [threading.Lock() for _ in range(self.STRIPES)]
        self._kept: OrderedDict[Hashable, tuple[Hashable, Answer]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, version: Hashable, render: Callable[[], Answer]) -> Answer:
        kept = self._kept_at(key, version)
        if kept is not None:
            return kept
        with self._rendering[hash(key) % self.STRIPES]:
            kept = self._kept_at(key, version)  # rendered while this thread waited
            if kept is not None:
                return kept
            answer = render()
            if len(answer.body) <= self._max_bytes // 8:
                self._keep(key, version, answer)
            return answer

    def _kept_at(self, key: Hashable, version: Hashable) -> Answer | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != version:
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def _keep(self, key: Hashable, version: Hashable, answer: Answer) -> None:
        with self._lock:
            old = self._kept.pop(key, None)
            self._bytes -= len(old[1].body) if old else 0
            self._kept[key] = (version, answer)
            self._bytes += len(answer.body)
            while self._bytes > self._max_bytes:
                _key, (_version, dropped) = self._kept.popitem(last=False)
                self._bytes -= len(dropped.body)


def _view(
    indicator_id: str, definitions: Definitions, status: Status, recorded: str, since: datetime
) -> IndicatorView:
    indicator = definitions.indicator(indicator_id)
    outcomes = tuple(
        OutcomeView(
            id=state.outcome_id,
            label=indicator.outcome(state.outcome_id).label,
            level=state.level.label,
            sources=state.sources,
            evidence_count=len(state.evidence),
        )
        for state in status.outcomes
    )
    return IndicatorView(
        id=indicator.id,
        group=indicator.group,
        title=indicator.title,
        question=indicator.question,
        status=recorded,
        since=since,
        reason=(status.reason or NOT_READ_YET) if recorded == UNKNOWN else "",
        started=since,
        window_days=indicator.window.total_seconds() / 86400,
        outcomes=outcomes,
        evidence=status.evidence,
    )


def evidence_json(item: Evidence) -> dict[str, Any]:
    return {
        "entry_id": item.entry_id,
        "outcome": item.outcome_id,
        "title": item.title,
        "link": item.link,
        "publisher": item.publisher,
        "time": iso_time(item.time),
        "terms": list(item.terms),
        "snippet": item.snippet,
        "judged": item.judged or None,
    }


def indicator_json(view: IndicatorView, *, with_evidence: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": view.id,
        "group": view.group,
        "title": view.title,
        "question": view.question,
        "status": view.status,
        "since": iso_time(view.since),
        "reason": view.reason,
        "outcomes": [
            {
                "id": o.id,
                "label": o.label,
                "level": o.level,
                "sources": list(o.sources),
                "evidence_count": o.evidence_count,
            }
            for o in view.outcomes
        ],
        "evidence_count": len(view.evidence),
    }
    if with_evidence:
        data["evidence"] = [evidence_json(e) for e in view.evidence]
    return data


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "id": verdict.id,
        "entry_id": verdict.entry_id,
        "indicator": verdict.indicator_id,
        "outcome": verdict.outcome_id,
        "verdict": str(verdict.verdict),
        "who": verdict.who,
        "at": iso_time(verdict.at),
        "note": verdict.note,
    }


def entry_json(found: StoredEntry) -> dict[str, Any]:
    e = found.entry
    return {
        "id": found.id,
        "time": iso_time(found.time),
        "feed": e.feed_id,
        "publisher": e.publisher,
        "title": e.title,
        "link": e.link,
    }


def change_json(change: StatusChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "indicator": change.indicator_id,
        "at": iso_time(change.at),
        "old_status": change.old_status,
        "new_status": change.new_status,
        "replayed": change.replayed,
        "reason": change.reason or None,
        "definition_hash": change.definition_hash,
        "evidence": [evidence_json(e) for e in change.evidence],
    }
