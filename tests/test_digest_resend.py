"""Recipients refused with a temporary (4xx) answer get the day's digest later: a real SMTP
server that greylists, on SQLite and PostgreSQL, time given to every call (no sleeps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import owners
from monitor.cli import main
from monitor.daemon import Daemon
from monitor.daily import RESENDS, resend_refused, send_daily_digest
from monitor.definitions import load_definitions
from monitor.digest import DAY_HEADER
from monitor.domain import Definitions
from monitor.settings import Settings
from monitor.store import Store, TakenOver, open_store, upgrade
from tests import test_daily, test_scheduler
from tests.processes import ended_process_owner
from tests.smtpserver import Received, SMTPServer, running_smtp_server
from tests.test_daily import DAY, READ_BEFORE, at, check, settings

store, definitions = test_daily.store, test_daily.definitions  # fixtures
home = test_scheduler.home  # fixture: the shipped indicators, feeds on 127.0.0.1

GREY = "450 4.2.0 <grey@example.org>: greylisted, try again later"
FULL = "452 4.2.2 <grey@example.org>: mailbox full"
GONE = "550 5.1.1 <gone@example.org>: no such user"
MINUTE = timedelta(minutes=1)


def to(smtp: SMTPServer, tmp_path: Path, *recipients: str) -> Settings:
    return settings(smtp, tmp_path).model_copy(update={"digest_to": list(recipients)})


def text(received: Received) -> str:
    body = received.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_greylisted_recipient_gets_the_digest_on_the_resend_and_is_refused_no_more(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """450 at 07:00, taken at 07:05 (the first resend, DIGEST_RETRY after the send): the
    same digest (its day, its changes, its Message-ID scheme) to that recipient alone."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse={"grey@example.org": GREY},
                             refuse_times={"grey@example.org": 1}) as smtp:  # fmt: skip
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        pending = store.digest_state(DAY)
        early = resend_refused(definitions, store, s, now=at(7) + 5 * MINUTE - timedelta(seconds=1))
        resent = resend_refused(definitions, store, s, now=at(7) + 5 * MINUTE)
        later = resend_refused(definitions, store, s, now=at(9))

    assert sent.sent and sent.refused == (("grey@example.org", GREY),)
    assert sent.again_at == at(7) + 5 * MINUTE
    assert pending is not None and pending.resend_at == at(7) + 5 * MINUTE
    assert early is None and later is None
    assert resent is not None and resent.day == DAY
    assert resent.taken == ("grey@example.org",) and resent.refused == ()
    assert resent.again_at is None
    first, again = smtp.messages
    assert first.rcpt_tos == ("reader@example.org",) and again.rcpt_tos == ("grey@example.org",)
    for name in ("Subject", "To", DAY_HEADER):
        assert again.message[name] == first.message[name], name
    assert str(again.message["Message-ID"]).startswith(f"<digest-{DAY}.")
    changed = [text(m).split("STANDING STATUS")[0] for m in (first, again)]
    assert changed[0] == changed[1] and "Visa easing" in changed[0]
    state = store.digest_state(DAY)
    assert state is not None and state.refused == () and state.resend_at is None
    assert state.sent_at == at(7) and state.resends == 1


def test_a_550_is_not_retried_and_stays_recorded(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse={"gone@example.org": GONE, "grey@example.org": GREY},
                             refuse_times={"grey@example.org": 1}) as smtp:  # fmt: skip
        s = to(smtp, tmp_path, "reader@example.org", "gone@example.org", "grey@example.org")
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        resent = resend_refused(definitions, store, s, now=at(7) + 5 * MINUTE)
        none = [resend_refused(definitions, store, s, now=at(h)) for h in (8, 12, 23)]

    assert sent.refused == (("gone@example.org", GONE), ("grey@example.org", GREY))
    assert resent is not None and resent.taken == ("grey@example.org",)
    assert resent.refused == (("gone@example.org", GONE),) and resent.again_at is None
    assert none == [None, None, None]
    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",), ("grey@example.org",)]
    assert smtp.handler.refusals["gone@example.org"] == 1
    state = store.digest_state(DAY)
    assert state is not None and state.refused == (("gone@example.org", GONE),)


def test_only_permanent_refusals_leave_nothing_to_resend(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse={"gone@example.org": GONE}) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", "gone@example.org")
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        resent = resend_refused(definitions, store, s, now=at(8))

    state = store.digest_state(DAY)
    assert sent.again_at is None and resent is None
    assert state is not None and state.resend_at is None and len(smtp.messages) == 1


def test_a_recipient_refused_every_time_is_tried_resends_times_then_left_refused(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """5, 10, 20, 40 and 60 minutes apart; each resend keeps the server's latest answer; after
    the last one the refusal stays recorded and nothing is due any more."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse={"grey@example.org": GREY}) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        when, tries = at(7), []
        for gap in (5, 10, 20, 40, 60):
            when += gap * MINUTE
            assert resend_refused(definitions, store, s, now=when - MINUTE) is None
            smtp.handler.refuse["grey@example.org"] = FULL if gap >= 20 else GREY
            tries.append(resend_refused(definitions, store, s, now=when))
        after = resend_refused(definitions, store, s, now=at(23))

    assert RESENDS == 5 and after is None
    assert [t.again_at if t else "none" for t in tries] == [
        at(7) + 15 * MINUTE, at(7) + 35 * MINUTE, at(7) + 75 * MINUTE, at(7) + 135 * MINUTE, None
    ]  # fmt: skip
    assert all(t is not None and t.taken == () for t in tries)
    assert smtp.handler.refusals["grey@example.org"] == 1 + RESENDS
    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",)]
    state = store.digest_state(DAY)
    assert state is not None and state.refused == (("grey@example.org", FULL),)
    assert state.resend_at is None and state.resends == RESENDS


def test_two_daemons_on_one_database_resend_once(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    """B looks while A sends again (between A's claim and its mark), and after: one resend.
    A's claim, had A died, is B's once it is stale (store.DIGEST_CLAIM_TIMEOUT)."""
    check(definitions, store, at(7) - READ_BEFORE)
    seen: list[object] = []
    with (
        open_store(database_url) as other,
        running_smtp_server(refuse={"grey@example.org": GREY},
                            refuse_times={"grey@example.org": 1}) as smtp,
    ):  # fmt: skip
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        due = at(7) + 5 * MINUTE

        @contextmanager
        def meanwhile() -> Iterator[None]:
            seen.append(resend_refused(definitions, other, s, now=due))
            yield

        resent = resend_refused(definitions, store, s, now=due, guard=meanwhile())
        seen.append(resend_refused(definitions, other, s, now=due))

    assert resent is not None and resent.taken == ("grey@example.org",)
    assert seen == [None, None]
    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",), ("grey@example.org",)]


def test_a_resend_claimed_by_a_daemon_that_died_is_taken_over_once_stale(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    check(definitions, store, at(7) - READ_BEFORE)
    with (
        open_store(database_url) as other,
        running_smtp_server(refuse={"grey@example.org": GREY},
                            refuse_times={"grey@example.org": 1}) as smtp,
    ):  # fmt: skip
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        died = at(7) + 5 * MINUTE
        assert store.claim_resend(now=died, most=RESENDS) == (DAY, 1)  # and then it died
        fresh = resend_refused(definitions, other, s, now=died + 14 * MINUTE)
        stale = resend_refused(definitions, other, s, now=died + 15 * MINUTE)
        late = store.mark_resent(DAY, 1, refused=[], resend_at=None)  # the dead one's mark

    assert fresh is None
    assert stale is not None and stale.taken == ("grey@example.org",)
    assert not late
    state = store.digest_state(DAY)
    assert state is not None and state.resends == 2 and state.refused == ()
    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",), ("grey@example.org",)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_resend_claimed_by_a_daemon_killed_on_this_host_is_taken_over_at_once(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    """Its claim names the daemon: a daemon of the same host sees it is gone and the resend is
    due at once, not 15 minutes later; it goes out once, and the dead one's mark is refused."""
    check(definitions, store, at(7) - READ_BEFORE)
    dead = ended_process_owner()
    with (
        open_store(database_url) as other,
        running_smtp_server(refuse={"grey@example.org": GREY},
                            refuse_times={"grey@example.org": 1}) as smtp,
    ):  # fmt: skip
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        died = at(7) + 5 * MINUTE
        assert store.claim_resend(now=died, most=RESENDS, owner=dead) == (DAY, 1)  # then killed
        restart = died + MINUTE
        held = resend_refused(definitions, other, s, now=restart, owner="restarted")
        taken = other.take_over_claims(restart, ended=owners.ended)
        resent = resend_refused(definitions, other, s, now=restart, owner="restarted")
        late = store.mark_resent(DAY, 1, refused=[], resend_at=None)  # the dead one's mark

    assert held is None and taken == {dead: TakenOver(resends=(DAY,))}
    assert resent is not None and resent.taken == ("grey@example.org",)
    assert not late
    state = store.digest_state(DAY)
    assert state is not None and state.resends == 2 and state.refused == ()
    assert state.resend_at is None and state.claimed_by is None
    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",), ("grey@example.org",)]


def test_the_last_resend_claimed_by_a_daemon_that_died_is_given_up_once_stale(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    """No resend beyond RESENDS: the last one's claim, left by a daemon that died, is not
    taken over; once stale the day stops reading as to be tried again (`resend_at` cleared,
    so retention may delete it), and the refusal stays recorded."""
    check(definitions, store, at(7) - READ_BEFORE)
    with (
        open_store(database_url) as other,
        running_smtp_server(refuse={"grey@example.org": GREY}) as smtp,
    ):
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        when = at(7)
        for gap in (5, 10, 20, 40):
            when += gap * MINUTE
            assert resend_refused(definitions, store, s, now=when) is not None
        died = when + 60 * MINUTE
        assert store.claim_resend(now=died, most=RESENDS) == (DAY, RESENDS)  # and then it died
        held = store.digest_state(DAY)
        fresh = resend_refused(definitions, other, s, now=died + 14 * MINUTE)
        stale = resend_refused(definitions, other, s, now=died + 15 * MINUTE)

    assert held is not None and held.resend_at == died + 15 * MINUTE
    assert fresh is None and stale is None
    assert smtp.handler.refusals["grey@example.org"] == RESENDS  # the send and four resends
    state = store.digest_state(DAY)
    assert state is not None and state.resend_at is None and state.resends == RESENDS
    assert state.refused == (("grey@example.org", GREY),)
    assert store.claim_resend(now=died + 16 * MINUTE, most=RESENDS) is None


def test_a_resend_left_by_digest_send_is_picked_up_by_the_daemon(
    home: Path, database_url: str
) -> None:
    """`monitor digest --send` says when the 4xx ones are tried again and does not wait; a
    `monitor run` daemon on the same database sends it then."""
    with running_smtp_server(refuse={"grey@example.org": GREY},
                             refuse_times={"grey@example.org": 1}) as smtp:  # fmt: skip
        env = {
            "MONITOR_DATABASE_URL": database_url,
            "MONITOR_INDICATORS_DIR": str(home / "indicators"),
            "MONITOR_FEEDS_FILE": str(home / "feeds.yaml"),
            "MONITOR_OUTBOX_DIR": str(home / "outbox"),
            "MONITOR_DIGEST_TO": json.dumps(["reader@example.org", "grey@example.org"]),
            "MONITOR_DIGEST_TIME": "00:00",
            "MONITOR_SMTP_HOST": smtp.host,
            "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false",
        }
        upgrade(database_url)  # `digest --send` makes no database
        sent = CliRunner().invoke(main, ["digest", "--send"], env=env, catch_exceptions=False)
        with open_store(database_url) as db:
            last = db.last_digest()
            state = db.digest_state(last[0]) if last else None
            assert state is not None and state.resend_at is not None
            s = Settings(
                database_url=database_url, indicators_dir=home / "indicators",
                feeds_file=home / "feeds.yaml", outbox_dir=home / "outbox", check_jitter=0,
                smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
                digest_to=["reader@example.org", "grey@example.org"], digest_time="00:00",
            )  # fmt: skip
            then = state.resend_at
            daemon = Daemon(s, db, load_definitions(s.indicators_dir, s.feeds_file),
                            clock=lambda: then, owner="daemon")  # fmt: skip
            daemon.start()
            daemon.check()
            assert daemon.digest()
            after = db.digest_state(state.day)

    assert sent.exit_code == 0, sent.output
    again = f"`monitor run` tries the 4xx ones again from {then:%Y-%m-%d %H:%M} UTC"
    assert f"the server refused grey@example.org ({GREY}); {again}" in sent.stderr
    # (at 23:55 UTC the daemon's clock is past midnight: it sends that day's digest too)
    that_day = [m.rcpt_tos for m in smtp.messages if m.message[DAY_HEADER] == str(state.day)]
    assert that_day == [("reader@example.org",), ("grey@example.org",)]
    assert after is not None and after.refused == () and after.resend_at is None


@pytest.fixture(autouse=True)
def _no_monitor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test gives (the CLI reads MONITOR_* from the environment)."""
    import os

    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)
