"""Prometheus metrics, read from the database at scrape time: the only module that imports
prometheus_client.

`monitor serve` may run in another process than the daemon that does the work, so nothing is
counted in memory: a collector sums the cycle, feed, status change and digest tables whenever
/metrics is scraped. Counters count everything ever recorded: the rows the database holds and
what retention deleted (`Store.prune` folds their counts into kept summaries in the transaction
that deletes them), so no counter goes down, which Prometheus would take for a reset.

The metrics are read in parts (`StoreCollector.collect`), each its own queries. Once another
version migrated the database (`monitor_schema_incompatible` 1), a part whose tables no longer
read as this code knows them is left out and `monitor_scrape_collector_success{collector=PART}`
says 0 (as node_exporter says of its collectors), while the others are answered; before, a
store error is the database not answering, and the scrape fails (503).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor.errors import StoreError
from monitor.reloading import Validity
from monitor.store import FeedState, Store

__all__ = ["CONTENT_TYPE", "CYCLE_BUCKETS", "PROBLEM_FILES", "StoreCollector", "render"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
CYCLE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
PROBLEM_FILES = 20  # files named in monitor_definitions_problems; the rest as OTHER_FILES
OTHER_FILES = "(other files)"
NO_FILE = "(no file)"


class StoreCollector(Collector):
    """Every monitor_* metric, computed from the store when collected."""

    def __init__(
        self,
        store: Store,
        now: datetime,
        validity: Validity = Validity(),  # noqa: B008
        schema: str | None = None,
    ) -> None:
        self._store = store
        self._validity = validity
        self._now = now  # when a silence holds an alert back, and which feeds are silent
        self._schema = schema  # why the database is at another revision (`webschema`), or None

    def collect(self) -> Iterator[Metric]:
        yield _schema_gauge(self._schema)
        read = GaugeMetricFamily(
            "monitor_scrape_collector_success",
            "1 when this part of the metrics was read from the database; 0 when its tables no "
            "longer read as this version knows them (monitor_schema_incompatible is 1): its "
            "metrics are left out of this scrape.",
            labels=["collector"],
        )
        parts = {
            "cycles": self._cycles, "changes": self._changes, "feeds": self._feeds,
            "alerts": self._alerts, "times": self._times, "replay": self._replay,
        }  # fmt: skip
        for part, metrics in parts.items():
            try:
                found = list(metrics())
            except StoreError:
                if self._schema is None:  # the database does not answer: the scrape fails
                    raise
                read.add_metric([part], 0)
                continue
            read.add_metric([part], 1)
            yield from found
        yield read
        yield from _definitions(self._validity)

    def _cycles(self) -> Iterator[Metric]:
        t = self._store.cycle_totals(CYCLE_BUCKETS)
        fetches = CounterMetricFamily(
            "monitor_fetches", "Feed fetches by result.", labels=["result"]
        )
        modified = max(t.feeds_checked - t.not_modified - t.failed, 0)
        fetches.add_metric(["modified"], modified)
        fetches.add_metric(["not_modified"], t.not_modified)
        fetches.add_metric(["failed"], t.failed)
        fetches.add_metric(["dropped"], t.dropped)
        yield fetches
        yield CounterMetricFamily("monitor_entries", "New feed entries stored.", t.new_entries)
        yield CounterMetricFamily("monitor_matches", "Entry matches stored.", t.matches)
        yield CounterMetricFamily("monitor_cycles", "Check cycles run.", t.cycles)
        yield CounterMetricFamily(
            "monitor_regex_timeouts",
            "Regex term runs that ran out of their time budget (each counted as no match).",
            t.regex_timeouts,
        )
        buckets = [(_bound(b), n) for b, n in zip(CYCLE_BUCKETS, t.within, strict=True)]
        yield HistogramMetricFamily(
            "monitor_cycle_duration_seconds",
            "How long check cycles took.",
            buckets=[*buckets, ("+Inf", t.cycles)],
            sum_value=t.seconds,
        )

    def _changes(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "monitor_status_changes", "Status changes recorded.", labels=["indicator"]
        )
        for indicator_id, n in sorted(self._store.change_counts().items()):
            family.add_metric([indicator_id], n)
        yield family

    def _feeds(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("monitor_feeds", "Configured feeds by health.", labels=["state"])
        counts = {"ok": 0, "failing": 0, "dead": 0, "stale": 0}
        feeds = self._store.feeds()
        for feed in feeds:
            counts[_feed_state(feed, self._now)] += 1
        for state, n in counts.items():
            family.add_metric([state], n)
        yield family
        yield GaugeMetricFamily(
            "monitor_feeds_never_read",
            "Configured feeds never fetched successfully, as /healthz counts them (never_read): "
            "those not checked yet are counted ok in monitor_feeds, as /feeds calls them new.",
            value=sum(feed.last_success_at is None for feed in feeds),
        )
        yield GaugeMetricFamily(
            "monitor_feeds_with_warning",
            "Configured feeds whose body last read came with a warning (GET /feeds says which).",
            value=sum(bool(feed.warning) for feed in feeds),
        )
        yield GaugeMetricFamily(
            "monitor_feeds_silent",
            "Configured feeds read as usual that brought no new entry for longer than their "
            "silent_after (GET /feeds says which).",
            value=sum(feed.silent_since(self._now) is not None for feed in feeds),
        )
        yield GaugeMetricFamily(
            "monitor_feeds_moved",
            "Configured feeds that moved permanently (301 or 308): read at the new address "
            "until their url in the feeds file is updated (GET /feeds says which).",
            value=sum(bool(feed.moved_to) for feed in feeds),
        )
        yield GaugeMetricFamily(
            "monitor_feeds_rate_limited",
            "Configured feeds whose last answer asked to be read later (429, or 503 with "
            "Retry-After): not failing, counted ok in monitor_feeds (GET /feeds says which).",
            value=sum(feed.rate_limited for feed in feeds),
        )

    def _alerts(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "monitor_alerts_pending",
            "Recorded status changes whose alert has not gone out yet (not those a silence holds).",
            value=self._store.pending_alerts(self._now),
        )
        yield GaugeMetricFamily(
            "monitor_alerts_held",
            "Recorded status changes whose alert a silence holds back until it ends.",
            value=self._store.held_alerts(self._now),
        )
        failing = self._store.failing_alerts(self._now)
        yield GaugeMetricFamily(
            "monitor_alerts_failing",
            "Of the pending alerts, those waiting after a failed try (a channel down or refusing).",
            value=failing.count if failing else 0,
        )

    def _times(self) -> Iterator[Metric]:
        last = self._store.last_successful_cycle()
        if last is not None:
            yield GaugeMetricFamily(
                "monitor_last_successful_cycle_timestamp_seconds",
                "When the latest successful check cycle finished (Unix time).",
                value=last.timestamp(),
            )
        digest = self._store.last_digest()
        if digest is not None:
            yield GaugeMetricFamily(
                "monitor_digest_sent_timestamp_seconds",
                "When the latest daily digest was sent (Unix time).",
                value=digest[1].timestamp(),
            )
            state = self._store.digest_state(digest[0])
            yield GaugeMetricFamily(
                "monitor_digest_refused_recipients",
                "Recipients the SMTP server refused the latest daily digest sent (the others got "
                "it; one refused with a 4xx answer is sent it again, and leaves this count once "
                "taken); `monitor digest --preview --date DAY` names them.",
                value=len(state.refused) if state is not None else 0,
            )

    def _replay(self) -> Iterator[Metric]:
        hold = self._store.replay_hold()
        yield GaugeMetricFamily(
            "monitor_replay_held",
            "1 while a replay holds the statuses (it is rewriting the matches, or stopped half "
            "way): no status change is recorded or alerted; 0 otherwise.",
            value=0 if hold is None else 1,
        )
        yield GaugeMetricFamily(
            "monitor_replay_stalled",
            "1 while a replay that stopped half way holds the statuses (its lease ran out): "
            "they stay held until `monitor replay --since DATE` finishes it (GET /healthz says "
            "which date); 0 otherwise.",
            value=int(hold is not None and hold.stalled(self._now)),
        )


def _bound(value: float) -> str:
    return repr(float(value))


def _feed_state(feed: FeedState, now: datetime) -> str:
    """The feed's `state_at(now)`, as the page and /feeds word it, with a rate-limited feed and
    one never checked yet counted `ok`, as this series always has."""
    state = feed.state_at(now)
    return state if state in ("dead", "failing", "stale") else "ok"


def _schema_gauge(problem: str | None) -> Metric:
    return GaugeMetricFamily(
        "monitor_schema_incompatible",
        "1 once another version migrated the database under this process (GET /healthz says "
        "`incompatible`, with the reason): what it still reads is answered "
        "(monitor_scrape_collector_success); 0: the database is at this version's revision.",
        value=0 if problem is None else 1,
    )


def _definitions(validity: Validity) -> Iterator[Metric]:
    """The problems of the definition files on disk (of the process answering): in all, and
    per file for the first PROBLEM_FILES files with problems, the others summed as one."""
    yield GaugeMetricFamily(
        "monitor_definitions_invalid",
        "Problems in the definition files on disk (the last valid set in force); 0: valid.",
        value=len(validity.problems),
    )
    family = GaugeMetricFamily(
        "monitor_definitions_problems",
        f"Problems per definition file on disk while the last valid set is in force (none when "
        f"valid): the first {PROBLEM_FILES} files with problems, the rest as "
        f"file={OTHER_FILES!r}; `monitor validate` says what they are.",
        labels=["file"],
    )
    files = list(validity.per_file().items())
    for path, n in files[:PROBLEM_FILES]:
        family.add_metric([path or NO_FILE], n)
    if len(files) > PROBLEM_FILES:
        family.add_metric([OTHER_FILES], sum(n for _, n in files[PROBLEM_FILES:]))
    yield family


def render(
    store: Store,
    now: datetime,
    validity: Validity = Validity(),  # noqa: B008
    schema: str | None = None,
) -> bytes:
    """The Prometheus text exposition of every metric at `now`. `schema`: why the database is
    at another revision than this code's, or None: then a StoreError is raised like the
    store's, else the parts that do not read are left out (`StoreCollector`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, now, validity, schema))
    return generate_latest(registry)
