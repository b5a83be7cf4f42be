"""The alert outbox on SQLite and PostgreSQL, with real webhook receivers on 127.0.0.1: a change
is marked alerted only once every channel accepted it, failures back off and are retried on
the channels that missed it, several daemons send each alert once, and a daemon killed between
recording a change and sending it sends it after its restart, once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Barrier

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from monitor import healthz, metrics, migrate, owners, views
from monitor.alerts import ALERT_RETRY, Outbox, retry_delay, send_pending
from monitor.domain import Evidence, StatusChange
from monitor.errors import StoreError
from monitor.notify import Notifier
from monitor.store import Cycle, Store, TakenOver, metadata, open_store, upgrade
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.processes import ended_process_owner, running_process
from tests.test_outages import ended_while_waiting
from tests.webhook import Webhook, closed_port, running_webhook

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
TITLES = {"nk": "How Beijing talks about North Korea", "tw": "Taiwan Strait patrols"}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        s.ensure_indicators(TITLES, now=NOW)
        yield s


def change(indicator: str, new: str, old: str = "unknown", at: datetime = NOW) -> StatusChange:
    evidence = Evidence(1, indicator, "pressure", "Xi urges restraint", "https://a.example/1",
                        "a.example", at, ("Xi",), "Xi urges restraint")  # fmt: skip
    return StatusChange(indicator, at, old, new, (evidence,) if ":" in new else (), "hash")


def outbox(store: Store, *hooks: Webhook, owner: str = "test") -> Outbox:
    notifier = Notifier([h.apprise_url("/alerts") for h in hooks], attempts=1, timeout=5)
    return Outbox(store, notifier, TITLES, owner)


def titles(hook: Webhook) -> list[str]:
    return [r.json["title"] for r in hook.received]


def test_a_recorded_change_is_alerted_once_and_then_marked(store: Store) -> None:
    store.record_changes([change("nk", "pressure:reported"), change("tw", "mixed")], alert=True)
    assert store.pending_alerts() == 2
    with running_webhook() as hook:
        box = outbox(store, hook)
        assert send_pending(box, now=NOW) == 2
        assert send_pending(box, now=NOW + timedelta(hours=1)) == 0

    assert titles(hook) == [
        "monitor: How Beijing talks about North Korea: pressure — reported",
        "monitor: Taiwan Strait patrols: mixed",
    ]
    assert "https://a.example/1" in hook.received[0].json["message"]
    assert store.pending_alerts() == 0


def test_changes_recorded_without_alerts_or_replayed_wait_for_none(store: Store) -> None:
    store.record_changes([change("nk", "pressure:reported")])  # no MONITOR_NOTIFY_URLS
    replayed = StatusChange("tw", NOW, "unknown", "quiet", (), "hash", replayed=True)
    store.record_changes([replayed], alert=True)
    assert store.pending_alerts() == 0


def test_a_failed_alert_backs_off_and_is_retried_only_where_it_failed(store: Store) -> None:
    store.record_changes([change("nk", "pressure:reported")], alert=True)
    with running_webhook() as good, running_webhook(fail_first=1) as flaky:
        box = outbox(store, good, flaky)
        assert send_pending(box, now=NOW) == 1  # good takes it, flaky answers 500
        assert store.pending_alerts() == 1
        assert send_pending(box, now=NOW + ALERT_RETRY - timedelta(seconds=1)) == 0  # backing off
        assert send_pending(box, now=NOW + ALERT_RETRY) == 1

    assert len(good.received) == 1  # not sent to it again
    assert (len(flaky.requests), len(flaky.received)) == (2, 1)
    assert store.pending_alerts() == 0


def test_a_channel_that_stays_down_never_blocks_and_backs_off_more(store: Store) -> None:
    store.record_changes([change("nk", "pressure:reported")], alert=True)
    notifier = Notifier([f"json://127.0.0.1:{closed_port()}/alerts"], attempts=1, timeout=5)
    box = Outbox(store, notifier, TITLES, "test")
    at = NOW
    for attempt in range(1, 5):
        assert send_pending(box, now=at) == 1
        at += retry_delay(attempt)
        assert send_pending(box, now=at - timedelta(seconds=1)) == 0
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]
    assert store.pending_alerts() == 1  # kept for when it comes back


def four_changes(store: Store) -> None:
    flips = [("unknown", "pressure:reported"), ("pressure:reported", "unknown")] * 2
    changes = [change("nk", n, o, NOW + timedelta(minutes=m)) for m, (o, n) in enumerate(flips)]
    store.record_changes(changes, alert=True)


def test_a_failing_channel_is_not_tried_for_every_alert_of_a_run(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Many changes in one cycle and a channel answering 429 (or hanging to its timeout): each
    alert tried it again, a flood into its rate limit, and the healthy channel's last alert
    waited for every try of the failing one. Now a channel that failed on two alerts in a row
    is not tried again in the run: the rest go to the others at once, and count a failed try
    (their back-off as before) for the next run to send it."""
    four_changes(store)
    limits = running_webhook(fail_first=2, fail_status=429, retry_after=None)  # no wait named
    with running_webhook() as good, limits as limited:
        box = outbox(store, good, limited)
        assert send_pending(box, now=NOW) == 4
        assert (len(good.received), len(limited.requests)) == (4, 2)
        assert store.pending_alerts() == 4  # each waits for the limited channel
        later = NOW + ALERT_RETRY
        assert send_pending(box, now=later - timedelta(seconds=1)) == 0  # backing off
        assert send_pending(box, now=later) == 4

    assert len(good.received) == 4  # not sent to it again
    assert (len(limited.requests), len(limited.received)) == (6, 4)
    assert store.pending_alerts() == 0
    skipped = f"alerts: json://127.0.0.1:{limited.port}: not tried for 2 more alerts"
    assert [m for m in caplog.messages if m.startswith(skipped)] != []


@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, "600"), (503, "Sun, 01 Feb 2026 12:10:00 GMT")]
)
def test_a_channel_that_asks_to_wait_is_left_alone_until_its_retry_after(
    store: Store, status: int, retry_after: str
) -> None:
    """A channel answering 429 (or 503) with `Retry-After: 600` (or the HTTP-date ten minutes
    on) got its next try on the fixed back-off, 30 s later, and every other alert of the run
    went to it too: into its rate limit again, which can get the webhook disabled. Now it is
    not tried, for any alert, before the time it names; the other channels get every alert."""
    four_changes(store)
    limits = running_webhook(fail_first=1, fail_status=status, retry_after=retry_after)
    with running_webhook() as good, limits as limited:
        box = outbox(store, good, limited)
        assert send_pending(box, now=NOW) == 4
        assert (len(good.received), len(limited.requests)) == (4, 1)
        assert store.pending_alerts() == 4
        assert send_pending(box, now=NOW + ALERT_RETRY) == 0
        assert send_pending(box, now=NOW + timedelta(seconds=599)) == 0
        assert len(limited.requests) == 1
        assert send_pending(box, now=NOW + timedelta(seconds=600)) == 4

    assert (len(good.received), len(limited.requests), len(limited.received)) == (4, 5, 4)
    assert store.pending_alerts() == 0


def test_one_alert_failing_does_not_hold_back_the_others_on_its_channel(store: Store) -> None:
    four_changes(store)
    with running_webhook(fail_first=1) as flaky:
        assert send_pending(outbox(store, flaky), now=NOW) == 4
    assert (len(flaky.requests), len(flaky.received)) == (4, 3)
    assert store.pending_alerts() == 1


def failing_alerts_metric(store: Store, now: datetime) -> float:
    text = metrics.render(store, now).decode()
    families = text_string_to_metric_families(text)
    [value] = [s.value for f in families for s in f.samples if s.name == "monitor_alerts_failing"]
    return value


def test_healthz_and_metrics_say_an_alert_failed_until_a_retry_sends_it(store: Store) -> None:
    """A channel refusing every alert (a revoked token, a moved webhook) left /healthz `ok`
    for as long as it lasted: only the log said so, and a reader relying on alerts heard of
    nothing. /healthz is `degraded` now and says why (the channel by its host, no secret), and
    monitor_alerts_failing counts them, until a retry sends them."""
    store.record_changes([change("nk", "pressure:reported")], alert=True)
    store.record_cycle(Cycle(NOW, NOW))

    def health(at: datetime) -> views.HealthOut:
        return healthz.health(store, now=at, started=NOW, max_age=timedelta(hours=1))

    assert health(NOW).status == "ok" and failing_alerts_metric(store, NOW) == 0
    with running_webhook(fail_first=1, fail_status=401) as hook:
        url = f"json://watcher:hunter2@{hook.host}:{hook.port}/alerts/Tok3nS3cret"
        box = Outbox(store, Notifier([url], attempts=1, timeout=5), TITLES, "test")
        assert send_pending(box, now=NOW) == 1
        told, counted = health(NOW), failing_alerts_metric(store, NOW)
        assert send_pending(box, now=NOW + ALERT_RETRY) == 1
        healed = health(NOW + ALERT_RETRY)

    assert (told.status, told.code, counted) == ("degraded", 200, 1)
    [reason] = told.reasons
    assert reason.startswith(
        "1 change alert not delivered after a failed try, the oldest recorded"
        f" 2026-02-01 12:00 UTC: json://127.0.0.1:{hook.port}: "
    )
    assert "401" in reason and "hunter2" not in reason and "Tok3nS3cret" not in reason
    assert (healed.status, healed.reasons) == ("ok", [])
    assert failing_alerts_metric(store, NOW + ALERT_RETRY) == 0


def test_several_daemons_send_each_alert_once(database_url: str, store: Store) -> None:
    for minute in range(10):
        old, new = (
            ("unknown", "pressure:reported")
            if minute % 2 == 0
            else ("pressure:reported", "unknown")
        )
        store.record_changes([change("nk", new, old, NOW + timedelta(minutes=minute))], alert=True)
    assert store.pending_alerts() == 10
    daemons = 4
    barrier = Barrier(daemons)
    with running_webhook(delay=0.05) as hook:

        def daemon(n: int) -> int:
            with open_store(database_url) as own:
                barrier.wait()
                return send_pending(outbox(own, hook, owner=f"d{n}"), now=NOW + timedelta(hours=1))

        with ThreadPoolExecutor(daemons) as pool:
            sent = list(pool.map(daemon, range(daemons)))

    assert sum(sent) == 10
    assert len(hook.received) == 10  # each once
    assert store.pending_alerts() == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_an_alert_a_killed_daemon_of_this_host_claimed_goes_out_at_the_next_send(
    store: Store,
) -> None:
    """Its claim would hold for the channels' timeout plus a minute; taken over at once, the
    next send sends it. The claim of a daemon of this host that still runs is its own."""
    store.record_changes([change("nk", "pressure:reported"), change("tw", "mixed")], alert=True)
    soon = NOW + timedelta(seconds=1)
    dead = ended_process_owner()
    with running_webhook() as hook, running_process() as child:
        box = outbox(store, hook)
        (killed,) = store.claim_alerts(NOW, owner=dead, lease=box.lease, limit=1)
        (running,) = store.claim_alerts(NOW, owner=owners.owner_of(child.pid), lease=box.lease)
        before = send_pending(box, now=soon)
        taken = store.take_over_claims(soon, ended=owners.ended)
        after = send_pending(box, now=soon)

    assert (killed.change.indicator_id, running.change.indicator_id) == ("nk", "tw")
    assert before == 0 and taken == {dead: TakenOver(alerts=1)} and after == 1
    assert titles(hook) == ["monitor: How Beijing talks about North Korea: pressure — reported"]
    assert store.pending_alerts() == 1  # the running daemon's, for it to send


def test_upgrading_to_0004_sends_no_history(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            migrate.upgrade(conn, metadata, "0002")
            conn.execute(
                text(
                    "INSERT INTO status_change (indicator_id, at, old_status, new_status, "
                    "evidence, definition_hash, replayed) VALUES "
                    "('nk', '2026-01-01 00:00:00', 'quiet', 'mixed', '[]', 'h', false)"
                )
            )
    finally:
        engine.dispose()

    assert upgrade(empty_database_url) == ("0002", migrate.head())

    with open_store(empty_database_url) as store:
        assert store.pending_alerts() == 0
        [old] = store.history("nk")
        assert (old.new_status, old.reason) == ("mixed", "")


# ---------------------------------------------------------------- a real kill


def _pending(url: str) -> int:
    with open_store(url) as store:
        return store.pending_alerts()


def _wait_for(condition: object, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(f"monitor run exited with {proc.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_daemon_killed_before_sending_sends_after_its_restart_once(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    published = datetime.now(UTC) - timedelta(hours=1)
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    feed_server.route("/herald.xml", body=news.herald(published))
    tags = ", ".join(("korea", "china", "japan", "international", "search-dialogue",
                      "search-travel", "search-culture", "search-northkorea",
                      "search-business"))  # fmt: skip
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        + "".join(
            f"  - {{id: {n}, url: '{feed_server.url(f'/{n}.xml')}', tags: [{tags}]}}\n"
            for n in ("yonhap", "herald")
        )
    )
    with running_webhook() as hook:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
            "MONITOR_DATABASE_URL": database_url,
            "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
            "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
            "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
            "MONITOR_HTTP_PORT": "0",
            "MONITOR_NOTIFY_URLS": hook.apprise_url("/alerts"),
            "MONITOR_DIGEST_TIME": "00:00",
            # The alerts job first runs one tick after start-up: the kill comes long before
            # (the check runs at start-up; no pace of a loaded machine reaches an hour).
            "MONITOR_TICK_INTERVAL": "1h",
        }
        log = (tmp_path / "run.log").open("ab")
        first = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, cwd=tmp_path,
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            _wait_for(lambda: _pending(database_url) == 2, 60, "the changes to be recorded", first)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert hook.requests == []

        env["MONITOR_TICK_INTERVAL"] = "0.2s"
        second = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, cwd=tmp_path,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            _wait_for(lambda: len(hook.received) >= 2 and _pending(database_url) == 0, 60,
                      "the alerts after the restart", second)  # fmt: skip
            time.sleep(0.6)  # three more ticks of the alerts job: nothing more is sent
        finally:
            second.send_signal(signal.SIGTERM)
            code = second.wait(timeout=15)
        log.close()

    assert code == 0
    assert sorted(titles(hook)) == [
        "monitor: Flight routes between Chinese and Korean cities: expanded — reported",
        "monitor: Visa easing between China and South Korea: eased — confirmed",
    ]


@pytest.mark.postgres
def test_a_connection_ended_as_a_sent_alert_is_marked_is_retried_once(postgres_url: str) -> None:
    """The channel took the alert, and the daemon's connection ends while it marks the change
    alerted (PostgreSQL restarted; here: its backend ended while it waits for the change's row,
    which the test holds from the moment the channel answered). The change is marked on a new
    connection. It was left under the daemon's claim, and alerted a second time once the
    claim ran out."""
    raw = postgres_url.replace("+psycopg", "")
    with open_store(postgres_url) as store, psycopg.connect(raw) as locker:
        store.ensure_indicators(TITLES, now=NOW)
        store.record_changes([change("nk", "pressure:reported")], alert=True)
        failed: list[BaseException] = []
        with running_webhook(hold=True) as hook:
            box = outbox(store, hook)

            def send() -> None:
                try:
                    send_pending(box, now=NOW)
                except BaseException as exc:  # reported by the assertion below
                    failed.append(exc)

            worker = threading.Thread(target=send)
            worker.start()
            assert hook.arrived.acquire(timeout=60)  # the channel holds the alert
            locker.execute("SELECT id FROM status_change FOR UPDATE")
            hook.release.set()
            assert ended_while_waiting(raw, locker, worker), failed
            locker.commit()
            worker.join(timeout=60)
            with contextlib.suppress(StoreError):
                send_pending(box, now=NOW + timedelta(hours=1))  # its claim ran out
        assert len(hook.received) == 1
        assert failed == []
        assert store.pending_alerts() == 0
