"""The counters of /metrics across retention, on SQLite and PostgreSQL: what a clean-up deletes
stays counted, so no counter goes down (Prometheus takes a drop for a counter reset, and
`rate()` and `increase()` show a spike that never happened) and each equals the count of
everything ever recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.metrics import CYCLE_BUCKETS
from monitor.store import Cycle, Store, open_store
from tests.test_store import DAY, HOUR, NOW

START = NOW - 500 * DAY


def prune(store: Store, now: datetime, before: datetime) -> None:
    store.prune(now=now, before=before, matched_before=before, buckets=CYCLE_BUCKETS)


def test_the_duration_sum_never_goes_down_by_a_rounding_error(database_url: str) -> None:
    """Durations of any microseconds: added up as floats, the cycles still stored and the
    summary's sum came out an ulp lower after some folds than before them (on PostgreSQL:
    4.5e-13 s less), and Prometheus takes any drop of a histogram's sum for a reset; SQLite's
    julianday() also put the sum of these 40 durations 6 ms off."""
    lasting = [timedelta(microseconds=100_003 + 7_919_993 * n % 99_000_017) for n in range(40)]
    with open_store(database_url) as store:
        for n, lasted in enumerate(lasting):
            store.record_cycle(Cycle(START + n * DAY, START + n * DAY + lasted))
        seen = store.cycle_totals(CYCLE_BUCKETS).seconds
        for n in range(len(lasting)):  # a clean-up after each cycle, every one folding it
            prune(store, NOW, START + n * DAY + HOUR)
            seconds = store.cycle_totals(CYCLE_BUCKETS).seconds
            assert seconds >= seen
            seen = seconds
        assert seen == sum(lasting, timedelta()) / timedelta(microseconds=1) / 1_000_000
