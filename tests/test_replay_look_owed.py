"""An indicator's rule edited while a replay holds the matches: the preparation's look at the
stored news is refused (the replay rewrites them), and so is its evaluation. The evaluation
after the hold (the daemon's next check, or its re-evaluation a minute on) looks first: else it
noted the indicator evaluated with the edited rule, no preparation looked again, and the status
rested for as long as the window lasts on the matches the old rule made. Feed on 127.0.0.1,
SQLite and PostgreSQL, at a fixed clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from monitor.domain import Match
from monitor.pipeline import Context, evaluate_and_record, prepare, run_cycle
from monitor.store import Looked, Store
from tests.feedserver import FeedServer
from tests.news import Item
from tests.test_edited_look import (
    BROADENED,
    EASED,
    EDITED,
    EDITED_AT,
    NARROWED,
    NOW,
    SCAM,
    WIRE,
    edited,
    history,
    shown,
    store,
    stored,
)

__all__ = ["store"]  # the fixture

HOLDER = "replay of another process"
SINCE = NOW - timedelta(hours=12)  # the other replay's date: after every stored entry
LATER = EDITED_AT + timedelta(minutes=1)


def cycle(ctx: Context, now: datetime) -> None:
    run_cycle(ctx, now=now)  # the daemon's next check


def reevaluation(ctx: Context, now: datetime) -> None:
    evaluate_and_record(ctx, now=now)  # the daemon's between cycles


@pytest.mark.parametrize("next_one", [cycle, reevaluation])
@pytest.mark.parametrize(
    ("rule", "item", "before", "status", "evidence"),
    [
        (NARROWED, SCAM, "waived:confirmed", "waived:reported", {WIRE.link}),  # ruled out
        (BROADENED, EASED, "waived:reported", "waived:confirmed", {WIRE.link, EASED.link}),
    ],
)
def test_the_evaluation_after_a_replay_refused_the_look_looks_first(
    tmp_path: Path,
    feed_server: FeedServer,
    store: Store,
    next_one: Any,
    rule: str,
    item: Item,
    before: str,
    status: str,
    evidence: set[str],
) -> None:
    """The statuses after are those a full evaluation of the edited rule gives, saying the
    edit moved them; the reload's look and evaluation, held, recorded nothing."""
    ctx = stored(tmp_path, feed_server, store, WIRE, item)
    assert shown(ctx, store, NOW)[0] == before
    changed = edited(ctx, tmp_path, rule)
    store.begin_replay(SINCE, owner=HOLDER, now=EDITED_AT, lease=timedelta(minutes=2))
    assert prepare(changed, now=EDITED_AT) == []  # the daemon reloads: look refused, held
    store.end_replay(owner=HOLDER)

    next_one(changed, LATER)

    assert history(store)[1:] == [(before, status, EDITED)]
    assert shown(changed, store, LATER) == (status, evidence, "")
    assert prepare(changed, now=LATER + timedelta(minutes=1)) == []  # as a full evaluation


class _LetGoAfterRefusing:
    """The store, whose replay lets go of the matches right after it refused the look: the
    evaluation then reads the statuses, not held."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def look(
        self,
        entry_ids: Sequence[int],
        items: Sequence[tuple[int, Match]],
        windows: Mapping[str, datetime],
        definition_hashes: Mapping[str, str],
    ) -> Looked | None:
        done = self._store.look(entry_ids, items, windows, definition_hashes)
        if done is None and self._store.replay_hold() is not None:
            self._store.end_replay(owner=HOLDER)
        return done


def test_an_indicator_whose_look_was_refused_is_not_noted_evaluated(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """The hold ends between the refused look and the reading of the statuses: the evaluation
    records no change of the edited indicator (worked out from the old rule's matches) and
    does not note it evaluated, so the next evaluation looks."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM)
    narrowed = edited(ctx, tmp_path, NARROWED)
    store.begin_replay(SINCE, owner=HOLDER, now=EDITED_AT, lease=timedelta(minutes=2))
    racing = replace(narrowed, store=cast(Store, _LetGoAfterRefusing(store)))

    assert evaluate_and_record(racing, now=EDITED_AT) == []
    assert store.replay_hold() is None
    assert store.evaluated_with()["visa"] != narrowed.definitions.indicator("visa").hash

    evaluate_and_record(narrowed, now=LATER)
    assert history(store)[1:] == [("waived:confirmed", "waived:reported", EDITED)]
    assert shown(narrowed, store, LATER) == ("waived:reported", {WIRE.link}, "")
