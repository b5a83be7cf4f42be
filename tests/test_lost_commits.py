"""A daemon's connection to PostgreSQL lost right after a write committed, before the daemon
reads the answer (a restart of the server, or a network cut, between the two; here a proxy on
127.0.0.1 closes the connection instead of passing the answer on: `tests.pgproxy`). The write
is run again on a new connection (`store.base.once_more_if_disconnected`; up to 3 tries in
all), finds its own work done, and the daemon goes on as if the answer had come:

- the note of the definitions an evaluation used: the check does not fail;
- the mark of a change alerted: no WARNING that the claim ran out (it did not);
- the digest's claim of its day: the digest is sent by that same run, not 15 min later once
  the claim went stale;
- the record of a cycle's changes: every change it recorded is returned, logged and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.alerts import send_pending
from monitor.errors import StoreError
from monitor.store import Store, open_store
from tests.pgproxy import LosesACommit
from tests.smtpserver import running_smtp_server
from tests.storeops import monitored_since_yesterday
from tests.test_alerts import NOW, TITLES, change, outbox
from tests.test_outages import Clock, home, make_daemon
from tests.webhook import running_webhook

pytestmark = pytest.mark.postgres

__all__ = ["home"]  # a fixture


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_note_of_the_definitions_evaluated_is_run_once_more_and_the_check_goes_on(
    home: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An indicator evaluated with another definition (its file edited since) is noted as
    evaluated with this one by the check; the answer to that note's commit is lost. The check
    fails without the retry ("check: failed", an ERROR with a traceback in the daemon, /healthz
    degraded, the cycle's changes neither logged nor its row recorded), and the next check
    looked at the indicator's stored news again and noted it once more."""
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        daemon = make_daemon(home, store, Clock())
        with store._tx("edit", write=True) as conn:  # as after an edit of the file
            conn.exec_driver_sql(
                "UPDATE indicator_state SET definition_hash = 'old' "
                "WHERE indicator_id = 'visa-easing'"
            )
        proxy.arm(b"UPDATE indicator_state SET definition_hash=")
        with caplog.at_level(logging.WARNING):
            assert daemon.check()
        assert proxy.lost.is_set()
        hashes = store.evaluated_with()
    wanted = next(i.hash for i in daemon.definitions.indicators if i.id == "visa-easing")
    assert hashes["visa-easing"] == wanted
    assert daemon.check_failure() is None
    said = warnings(caplog)
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


def test_a_change_marked_alerted_by_the_lost_commit_is_not_said_to_be_sent_late(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The channel took the alert and the change was marked alerted, but the answer to that
    commit was lost: the mark run once more finds the change alerted as it would have marked
    it. It said, after the retry's WARNING, a second one: "alerts: change 1 was sent after its
    claim ran out", though the claim held and nothing was lost."""
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        store.ensure_indicators(TITLES, now=NOW)
        store.record_changes([change("nk", "pressure:reported")], alert=True)
        with running_webhook() as hook:
            proxy.arm(b"notified_at=")
            with caplog.at_level(logging.INFO):
                assert send_pending(outbox(store, hook), now=NOW) == 1
        assert proxy.lost.is_set()
        assert store.pending_alerts() == 0
    assert len(hook.received) == 1
    said = warnings(caplog)
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said
    assert "store: change 1 was marked alerted before the connection was lost" in caplog.text


def test_a_digest_claimed_by_the_lost_commit_is_sent_by_that_run_not_15_min_later(
    home: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon claims the day's digest and the answer to that commit is lost: the claim run
    once more finds the day claimed by this very claim (this daemon, at this moment) and sends
    it. The digest job failed (an ERROR with a traceback), and each later run found the day
    claimed (by itself) and sent nothing until the claim went stale, 15 min on."""
    clock = Clock()
    day = clock.now.date()
    with (
        LosesACommit(postgres_url) as proxy,
        open_store(proxy.url) as store,
        running_smtp_server() as smtp,
    ):
        monitored_since_yesterday(store, clock.now)
        daemon = make_daemon(
            home, store, clock, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False
        )
        assert daemon.check()
        proxy.arm(b"INSERT INTO digest ")
        with caplog.at_level(logging.WARNING):
            assert daemon.digest()
        assert proxy.lost.is_set()
        clock.advance(timedelta(minutes=20))  # past a claim's 15 min
        assert not daemon.digest()
        sent = store.digest_state(day)
    assert len(smtp.messages) == 1
    assert sent is not None and sent.sent_at is not None and sent.attempts == 1
    said = warnings(caplog)
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


def _note_defined(store: Store) -> object:
    store.note_defined(["nk", "tw"], owner="d1", now=NOW, until=NOW + timedelta(hours=1))
    return store.monitoring_ended()


def _claim_alerts(store: Store) -> object:
    store.record_changes([change("nk", "pressure:reported")], alert=True)
    claimed = store.claim_alerts(NOW, owner="d1", lease=timedelta(minutes=1))
    return [c.change.indicator_id for c in claimed]


def _ensure_indicators(store: Store) -> object:
    store.ensure_indicators(["new"], now=NOW)
    return sorted(store.current_statuses())


def _look(store: Store) -> object:
    return store.look([], [], {"nk": NOW - timedelta(days=30)}, {"nk": "h"}) is not None


@pytest.mark.parametrize(
    ("marker", "write", "done"),
    [
        (b"INSERT INTO definer ", _note_defined, {}),
        (b"notify_until=", _claim_alerts, ["nk"]),
        (b"INSERT INTO indicator_state ", _ensure_indicators, ["new", "nk", "tw"]),
        (b"FROM replay", _look, True),
    ],
    ids=["note_defined", "claim_alerts", "ensure_indicators", "look"],
)
def test_a_cycle_s_write_whose_commit_is_lost_is_run_once_more(
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
    marker: bytes,
    write: Callable[[Store], object],
    done: object,
) -> None:
    """A write of a check cycle (a note of the indicators defined, a look at the stored news,
    both waiting for other daemons' locks at each cycle) or of the alert job whose commit's
    answer is lost is run once more, safely: it failed the cycle (the news stored, its changes
    recorded only by the next), or the alert run, with an ERROR and a traceback."""
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        store.ensure_indicators(TITLES, now=NOW)
        proxy.arm(marker)
        with caplog.at_level(logging.WARNING):
            assert write(store) == done
        assert proxy.lost.is_set()
    said = warnings(caplog)
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


def test_a_resend_claimed_by_the_lost_commit_is_this_call_s(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A sent digest a recipient refused (4xx) is due to be sent again; the answer to the
    commit of its claim is lost. The claim run once more finds the resend claimed by this
    daemon at this moment, and sends it. It found it taken, and nobody resent it until the
    claim went stale, 15 min on."""
    day = NOW.date()
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        assert store.claim_digest(day, owner="d1", now=NOW)
        refused = [("b@example.org", "450 mailbox busy")]
        store.mark_digest_sent(day, NOW, refused=refused, resend_at=NOW + timedelta(minutes=5))
        proxy.arm(b"resends=(digest.resends")
        later = NOW + timedelta(minutes=5)
        with caplog.at_level(logging.WARNING):
            claimed = store.claim_resend(now=later, most=3, owner="d1")
        assert proxy.lost.is_set()
        again = store.claim_resend(now=later + timedelta(minutes=1), most=3, owner="d2")
    assert claimed == (day, 1)
    assert again is None  # still claimed: by the first
    said = warnings(caplog)
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


@pytest.mark.parametrize("losses", [2, 3])
def test_a_write_whose_connection_is_lost_again_is_tried_three_times_in_all(
    postgres_url: str, caplog: pytest.LogCaptureFixture, losses: int
) -> None:
    """The answer to a write's commit is lost, and so is its retry's: a third try on a new
    connection does it, after a WARNING before each retry. Lost at each of the three tries,
    the write fails with one error that says so (the unit of work fails, as at any database
    error). The second loss failed it, as a database error without a word of the tries."""
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        store.ensure_indicators(TITLES, now=NOW)
        proxy.arm(b"INSERT INTO indicator_state ", times=losses)
        with caplog.at_level(logging.WARNING):
            if losses < 3:
                store.ensure_indicators(["new"], now=NOW)
            else:
                with pytest.raises(StoreError) as failed:
                    store.ensure_indicators(["new"], now=NOW)
        assert proxy.losses == losses
        assert "new" in store.current_statuses()  # each try committed: once is enough
    said = warnings(caplog)
    assert [s.rsplit("; ", 1)[1] for s in said] == [
        "reconnecting for try 2 of 3",
        "reconnecting for try 3 of 3",
    ]
    if losses == 3:
        message = str(failed.value)
        assert message.startswith("store: unable to add indicators: ")
        assert message.endswith("(the connection was lost at each of 3 tries: giving up)")
        assert not failed.value.disconnected


def test_changes_recorded_before_and_by_the_lost_commit_are_all_returned(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two changes, each its own transaction; the answer to the second's commit is lost. The
    second is run again, finds its row (recorded at this call's moment) and returns it with
    the first. The retry ran both again, found neither old status, and returned none."""
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        store.ensure_indicators(TITLES, now=NOW)
        proxy.arm(b"INSERT INTO status_change", skip=1)
        found = [change("nk", "pressure:reported"), change("tw", "patrols:reported")]
        with caplog.at_level(logging.WARNING):
            done = store.record_changes(found, alert=True, now=NOW)
        assert proxy.losses == 1
        history = [store.history(i)[0].id for i in ("nk", "tw")]
        assert store.pending_alerts() == 2
    assert [(c.indicator_id, c.new_status) for c in done] == [
        ("nk", "pressure:reported"),
        ("tw", "patrols:reported"),
    ]
    assert [c.id for c in done] == history
    said = warnings(caplog)
    assert len(said) == 1 and said[0].endswith("; reconnecting for try 2 of 3"), said


def test_a_cycle_whose_last_change_s_commit_is_lost_logs_and_counts_every_change(
    home: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The first check records two changes; the answer to the second's commit is lost. The
    cycle logs both and counts both on its row (the cycle summary).
    It logged `0 status changes` and neither change, and counted none."""
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        daemon = make_daemon(home, store, Clock())
        proxy.arm(b"INSERT INTO status_change", skip=1)
        with caplog.at_level(logging.INFO):
            assert daemon.check()
        assert proxy.losses == 1
        counted = store.cycle_totals().changes
    said = [r.getMessage() for r in caplog.records]
    cycle = next(s for s in said if s.startswith("cycle: "))
    assert ", 2 status changes in " in cycle
    assert "flight-routes: unknown -> expanded:reported" in said
    assert "visa-easing: unknown -> eased:confirmed" in said
    assert counted == 2
