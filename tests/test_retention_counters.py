"""The counters of /metrics across retention, on SQLite and PostgreSQL: what a clean-up deletes
stays counted, so no counter goes down (Prometheus takes a drop for a counter reset, and
`rate()` and `increase()` show a spike that never happened) and each equals the count of
everything ever recorded; on PostgreSQL the clean-ups of several daemons at once, and a scrape
during one, count each cycle and each status change once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from monitor.domain import StatusChange
from monitor.metrics import CYCLE_BUCKETS, render
from monitor.store import Cycle, Store, open_store
from tests.storeops import before
from tests.test_store import DAY, HOUR, NOW

START = NOW - 500 * DAY
STEP = 25 * DAY
RETENTION = 100 * DAY
Sample = tuple[str, tuple[tuple[str, str], ...]]


def cycle(n: int, at: datetime) -> Cycle:
    """The n-th cycle: counts and a duration (in exact binary fractions of a second) that
    differ from one cycle to the next."""
    lasted = timedelta(seconds=(n % 7) * 0.75 + 0.25 * (n % 3))
    return Cycle(
        at,
        at + lasted,
        feeds_checked=n + 2,
        not_modified=n % 2,
        failed=int(n % 3 == 0),
        new_entries=n,
        matches=n // 2,
        regex_timeouts=n % 2,
        dropped=int(n % 4 == 1),
    )


class History:
    """What was recorded so far: every cycle and every status change, never forgotten."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cycles: list[Cycle] = []
        self.changes: Counter[str] = Counter()
        self.status = {"nk": "unknown", "tw": "unknown"}
        store.ensure_indicators(self.status, now=START)

    def record(self, n: int, at: datetime) -> None:
        """A cycle at `at`, and a change of nk (every time) and of tw (every other time)."""
        self.cycles.append(cycle(n, at))
        self.store.record_cycle(self.cycles[-1])
        for indicator in ("nk", "tw")[: 1 + n % 2]:
            old = self.status[indicator]
            new = "quiet" if old == "pressure:reported" else "pressure:reported"
            [_] = self.store.record_changes([StatusChange(indicator, at, old, new, (), "hash")])
            self.status[indicator] = new
            self.changes[indicator] += 1

    def counters(self) -> dict[Sample, float]:
        """What /metrics must say of all that was recorded."""
        c = self.cycles
        fetches = "monitor_fetches_total"
        modified = sum(x.feeds_checked - x.not_modified - x.failed for x in c)
        want: dict[Sample, float] = {
            (fetches, (("result", "modified"),)): modified,
            (fetches, (("result", "not_modified"),)): sum(x.not_modified for x in c),
            (fetches, (("result", "failed"),)): sum(x.failed for x in c),
            (fetches, (("result", "dropped"),)): sum(x.dropped for x in c),
            ("monitor_entries_total", ()): sum(x.new_entries for x in c),
            ("monitor_matches_total", ()): sum(x.matches for x in c),
            ("monitor_cycles_total", ()): len(c),
            ("monitor_regex_timeouts_total", ()): sum(x.regex_timeouts for x in c),
            ("monitor_cycle_duration_seconds_count", ()): len(c),
            ("monitor_cycle_duration_seconds_sum", ()): sum(lasted(x) for x in c),
            ("monitor_cycle_duration_seconds_bucket", (("le", "+Inf"),)): len(c),
        }
        for bound in CYCLE_BUCKETS:
            within = sum(lasted(x) <= bound for x in c)
            want["monitor_cycle_duration_seconds_bucket", (("le", repr(bound)),)] = within
        for indicator, n in self.changes.items():
            want["monitor_status_changes_total", (("indicator", indicator),)] = n
        return want


def lasted(c: Cycle) -> float:
    return (c.finished_at - c.started_at).total_seconds()


def scrape(store: Store, now: datetime) -> dict[Sample, float]:
    """Every counter and histogram sample of /metrics at `now`."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(render(store, now).decode())
        if family.type in ("counter", "histogram")
        for s in family.samples
    }


def prune(store: Store, now: datetime, before: datetime) -> None:
    store.prune(now=now, before=before, matched_before=before, buckets=CYCLE_BUCKETS)


def test_counters_never_go_down_across_retention(database_url: str) -> None:
    with open_store(database_url) as store:
        history = History(store)
        seen = scrape(store, START)
        for n in range(21):  # 500 days of a cycle and changes every 25 days, a clean-up each
            now = START + n * STEP
            history.record(n, now)
            prune(store, now, now - RETENTION)
            counted = scrape(store, now)
            assert counted == history.counters()
            assert all(counted[sample] >= value for sample, value in seen.items())
            seen = counted
        prune(store, NOW, NOW + DAY)  # every cycle, and every change but the latest two
        assert store.history("nk")[0].at == NOW and len(store.history("tw")) == 1
        assert scrape(store, NOW) == seen == history.counters()


def test_clean_ups_of_several_daemons_at_once_count_each_cycle_and_change_once(
    postgres_url: str,
) -> None:
    with open_store(postgres_url) as one, open_store(postgres_url) as other:
        history = History(one)
        for n in range(21):
            history.record(n, START + n * STEP)
        wanted = history.counters()
        # The other daemon's clean-up runs whole while this one's is between its reads and
        # its writes: just before it deletes old changes, and before it folds old cycles.
        before(one, "DELETE FROM status_change", lambda: prune(other, NOW, NOW - 300 * DAY))
        before(one, "cycle_summary", lambda: prune(other, NOW, NOW - 200 * DAY))
        prune(one, NOW, NOW - RETENTION)
        assert scrape(other, NOW) == wanted
        prune(other, NOW, NOW + DAY)
        assert scrape(one, NOW) == wanted


def test_a_scrape_during_a_clean_up_counts_each_cycle_and_change_once(postgres_url: str) -> None:
    with open_store(postgres_url) as daemon, open_store(postgres_url) as server:
        history = History(daemon)
        for n in range(21):
            history.record(n, START + n * STEP)
        cycles, changes = server.cycle_totals(CYCLE_BUCKETS), server.change_counts()
        # The clean-up commits after the scrape read the stored rows, before it reads what
        # earlier clean-ups kept.
        before(server, "cycle_summary", lambda: prune(daemon, NOW, NOW - 300 * DAY))
        assert server.cycle_totals(CYCLE_BUCKETS) == cycles
        before(server, "change_summary", lambda: prune(daemon, NOW, NOW - RETENTION))
        assert server.change_counts() == changes
        assert scrape(server, NOW) == history.counters()


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
