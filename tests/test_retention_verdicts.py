"""Retention and an analyst's verdict at the same moment on PostgreSQL (a daemon's clean-up and
a verdict from the page, `monitor verdict`, or another daemon): the verdict is never deleted
with the entry after it was recorded. A verdict recorded while its entry is being deleted finds
no entry; an entry being judged is not deleted."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine

from monitor.domain import Judgement, Verdict
from monitor.errors import VerdictError
from monitor.metrics import CYCLE_BUCKETS
from monitor.store import Store, open_store
from tests import storeops
from tests.test_store import DAY, NOW, entry, match

YEAR_AGO = NOW - 365 * DAY


def old_matched_entry(store: Store) -> int:
    """An entry matched 400 days ago: outside retention and every window."""
    when = NOW - 400 * DAY
    new = storeops.add_entries(store, [entry(1, published=when)], now=when)
    storeops.add_matches(store, [(i, match(e)) for i, e in new], {"nk": "h"})
    return new[0][0]


def prune(store: Store) -> None:
    store.prune(now=NOW, before=YEAR_AGO, matched_before=YEAR_AGO, buckets=CYCLE_BUCKETS)


def test_a_verdict_recorded_while_retention_deletes_its_entry_is_never_lost(
    postgres_url: str,
) -> None:
    watcher = create_engine(postgres_url)
    answer: list[object] = []
    threads: list[threading.Thread] = []
    with open_store(postgres_url) as store, open_store(postgres_url) as analyst:
        judged = old_matched_entry(store)
        verdict = Verdict(judged, "nk", "pressure", Judgement.YES, "ana", NOW)

        def judge() -> None:
            try:
                answer.append(analyst.add_verdict(verdict))
            except VerdictError as exc:
                answer.append(exc)

        def judge_between_the_batch_and_its_delete() -> None:  # recorded, or waits for the batch
            threads.append(storeops.started_until_done_or_waiting(watcher, judge))

        storeops.before(store, "DELETE FROM entry_match", judge_between_the_batch_and_its_delete)
        prune(store)
        threads[0].join()
        recorded = [v for v, _ in analyst.verdicts()]
    watcher.dispose()
    if isinstance(answer[0], Verdict):  # told it was recorded: it stands, and its entry
        assert recorded == [answer[0]]
    else:
        assert str(answer[0]) == f"verdict: no entry {judged}"
        assert recorded == []


def test_an_entry_being_judged_is_not_deleted_by_retention(postgres_url: str) -> None:
    with open_store(postgres_url) as store, open_store(postgres_url) as analyst:
        judged = old_matched_entry(store)
        storeops.before(analyst, "INSERT INTO verdict", lambda: prune(store))
        verdict = analyst.add_verdict(Verdict(judged, "nk", "pressure", Judgement.NO, "ana", NOW))
        assert store.entry(judged) is not None
        assert [v for v, _ in store.verdicts()] == [verdict]
        prune(store)  # judged now: kept
        assert store.entry(judged) is not None
