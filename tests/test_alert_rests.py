"""A channel's Retry-After holds every process on the database, on SQLite and PostgreSQL, with a
real webhook receiver on 127.0.0.1 answering 429: a daemon that was told to wait keeps every
other daemon (and `monitor check` or `monitor verdict` beside it, and itself after a restart)
from trying the channel before then; the alerts held back wait in the outbox and go out after;
a hostile Retry-After is capped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor.alerts import Outbox, send_pending
from monitor.cli import main
from monitor.domain import Definitions, utcnow
from monitor.notify import RETRY_AFTER_MAX, Notifier, channel_key
from monitor.store import Store, open_store
from tests import webdata
from tests.test_alerts import TITLES, change, four_changes, titles
from tests.test_cli_verdicts import entry_id
from tests.webdata import VISA_HERALD
from tests.webhook import Webhook, running_webhook

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
WAIT = timedelta(seconds=600)

defs = webdata.defs  # fixture


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Store, Store]]:
    """Two handles on one database, as two daemons (or a daemon and a command) hold."""
    with open_store(database_url) as one, open_store(database_url) as two:
        one.ensure_indicators(TITLES, now=NOW)
        yield one, two


def daemon(store: Store, hook: Webhook, owner: str) -> Outbox:
    """A daemon's outbox: a Notifier of its own, so what it learned is in its memory alone."""
    notifier = Notifier([hook.apprise_url("/alerts")], attempts=1, timeout=5)
    return Outbox(store, notifier, TITLES, owner)


def test_a_retry_after_one_daemon_got_holds_the_others_and_the_alerts_wait(
    stores: tuple[Store, Store],
) -> None:
    """Daemon A's alert got 429 with `Retry-After: 600`; daemon B, which had not tried the
    channel, sent its own change's alert there a minute later, into the rate limit (services
    punish that with longer bans and dropped messages). Now B does not try it before the time
    A was given either; both alerts wait in the outbox and go out then, once each."""
    a, b = stores
    a.record_changes([change("nk", "pressure:reported")], alert=True)
    with running_webhook(fail_first=1, fail_status=429, retry_after="600") as hook:
        one, two = daemon(a, hook, "a"), daemon(b, hook, "b")
        assert send_pending(one, now=NOW) == 1
        b.record_changes([change("tw", "mixed", at=NOW + timedelta(minutes=1))], alert=True)
        send_pending(two, now=NOW + timedelta(minutes=1))
        send_pending(two, now=NOW + WAIT - timedelta(seconds=1))
        send_pending(one, now=NOW + WAIT - timedelta(seconds=1))
        held = (len(hook.requests), b.pending_alerts())
        sent = send_pending(two, now=NOW + WAIT)

    assert held == (1, 2)  # only A's try reached it; neither alert is lost
    assert sent == 2 and sorted(titles(hook)) == [
        "monitor: How Beijing talks about North Korea: pressure — reported",
        "monitor: Taiwan Strait patrols: mixed",
    ]
    assert (len(hook.requests), a.pending_alerts()) == (3, 0)


def test_a_restarted_daemon_keeps_to_the_retry_after_its_last_run_got(
    stores: tuple[Store, Store],
) -> None:
    """The Notifier's memory went with the process: a daemon restarted a minute after a 429
    tried the channel again at once. Now the wait is read back from the database."""
    store, _ = stores
    four_changes(store)
    with running_webhook(fail_first=1, fail_status=429, retry_after="600") as hook:
        send_pending(daemon(store, hook, "before"), now=NOW)
        restarted = daemon(store, hook, "after")
        store.record_changes([change("tw", "mixed", at=NOW + timedelta(minutes=1))], alert=True)
        send_pending(restarted, now=NOW + timedelta(minutes=1))
        held = len(hook.requests)
        sent = send_pending(restarted, now=NOW + WAIT)

    assert (held, sent, len(hook.received), store.pending_alerts()) == (1, 5, 5, 0)


def test_a_hostile_retry_after_is_capped_for_every_daemon(stores: tuple[Store, Store]) -> None:
    """`Retry-After: 31536000` (a year) holds the channel for RETRY_AFTER_MAX (1 h) at most,
    for the daemon told and the others; the alert waiting for it goes out then."""
    a, b = stores
    a.record_changes([change("nk", "pressure:reported")], alert=True)
    with running_webhook(fail_first=1, fail_status=429, retry_after="31536000") as hook:
        one, two = daemon(a, hook, "a"), daemon(b, hook, "b")
        send_pending(one, now=NOW)
        b.record_changes([change("tw", "mixed", at=NOW + timedelta(minutes=1))], alert=True)
        before = send_pending(two, now=NOW + RETRY_AFTER_MAX - timedelta(seconds=1))
        held = len(hook.requests)
        after = send_pending(two, now=NOW + RETRY_AFTER_MAX)

    assert (held, after, len(hook.received), a.pending_alerts()) == (1, 2, 2, 0)
    assert before == 1  # B's own change: claimed, held back by the channel's wait, kept


def test_a_wait_written_far_ahead_is_read_as_at_most_the_cap(stores: tuple[Store, Store]) -> None:
    """A wait another host wrote (its clock hours ahead, or a version with another cap) holds
    this daemon's tries RETRY_AFTER_MAX from its own clock at most."""
    store, _ = stores
    store.record_changes([change("nk", "pressure:reported")], alert=True)
    with running_webhook() as hook:
        box = daemon(store, hook, "a")
        key = channel_key(hook.apprise_url("/alerts"))
        store.rest_channels({key: NOW + timedelta(days=365)}, now=NOW)
        send_pending(box, now=NOW)
        held = len(hook.requests)
        sent = send_pending(box, now=NOW + RETRY_AFTER_MAX)

    assert (held, sent, len(hook.received), store.pending_alerts()) == (0, 1, 1, 0)


def test_waits_keep_the_later_time_and_the_ended_ones_are_deleted(store_url: Store) -> None:
    store, longest = store_url, timedelta(days=1)
    store.rest_channels({"k1": NOW + WAIT, "k2": NOW + timedelta(seconds=5)}, now=NOW)
    store.rest_channels({"k1": NOW + timedelta(seconds=60)}, now=NOW)  # shorter: k1 keeps 600
    assert store.channel_rests(NOW, longest=longest) == {
        "k1": NOW + WAIT,
        "k2": NOW + timedelta(seconds=5),
    }
    assert store.channel_rests(NOW + timedelta(seconds=5), longest=longest) == {"k1": NOW + WAIT}
    store.rest_channels({"k3": NOW + 2 * WAIT}, now=NOW + timedelta(seconds=5))  # k2 ended
    assert set(store.channel_rests(NOW, longest=longest)) == {"k1", "k3"}  # k2's row is gone
    store.rest_channels({"k1": NOW + 2 * WAIT}, now=NOW)  # longer: k1 takes it
    assert store.channel_rests(NOW, longest=longest) == {"k1": NOW + 2 * WAIT, "k3": NOW + 2 * WAIT}


def test_a_wait_too_far_ahead_is_cut_in_the_database(store_url: Store) -> None:
    """Cut for every reader, once: a process starting afresh an hour later (`monitor check`)
    does not hold the channel for another hour from its own clock."""
    store, hour = store_url, timedelta(hours=1)
    store.rest_channels({"k1": NOW + timedelta(days=365), "k2": NOW + WAIT}, now=NOW)
    assert store.channel_rests(NOW, longest=hour) == {"k1": NOW + hour, "k2": NOW + WAIT}
    assert store.channel_rests(NOW + hour - timedelta(seconds=1), longest=hour) == {
        "k1": NOW + hour
    }
    assert store.channel_rests(NOW + hour, longest=hour) == {}


@pytest.fixture
def store_url(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as store:
        yield store


def test_a_channel_resting_for_another_daemon_is_logged_once_per_run(
    stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    """Four alerts held back by a wait daemon A was told: B says once that the channel waits
    and why, not a warning per alert."""
    a, b = stores
    a.record_changes([change("tw", "mixed")], alert=True)
    with running_webhook(fail_first=1, fail_status=429, retry_after="600") as hook:
        send_pending(daemon(a, hook, "a"), now=NOW)
        four_changes(b)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert send_pending(daemon(b, hook, "b"), now=NOW + timedelta(minutes=1)) == 4

    name = f"json://127.0.0.1:{hook.port}"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert name in warnings[0] and "2026-02-01 12:10:00 UTC" in warnings[0]
    assert "4 alerts" in warnings[0]
    assert len(hook.requests) == 1 and b.pending_alerts() == 5


def test_a_command_beside_the_daemon_keeps_to_the_daemons_retry_after(
    database_url: str, defs: Definitions
) -> None:
    """`monitor verdict` (and `monitor check`, which sends the same way) beside a daemon that
    was told to wait: the command's alert went to the channel at once, into the rate limit. Now
    it waits in the outbox for the daemon to send it after the wait."""
    with open_store(database_url) as store:
        webdata.populate(store, defs)
    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    herald = entry_id(env, VISA_HERALD)
    now = utcnow()  # the command reads the real clock: the wait (600 s) outlasts the test
    with running_webhook(fail_first=1, fail_status=429, retry_after="600") as hook:
        env["MONITOR_NOTIFY_URLS"] = hook.apprise_url("/alerts")
        with open_store(database_url) as store:
            store.ensure_indicators(["nk"], now=now)
            store.record_changes([change("nk", "pressure:reported", at=now)], alert=True)
            send_pending(daemon(store, hook, "daemon"), now=now)
            verdict = ["verdict", str(herald), "visa-easing:eased", "no"]
            result = CliRunner().invoke(main, verdict, env=env)
            pending = store.pending_alerts()

    assert result.exit_code == 0, result.output
    assert (len(hook.requests), pending) == (1, 2)
