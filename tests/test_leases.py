"""The claims of a daemon that is gone are taken over at once when it ran on this host: a
restarted daemon (or another one beside it) checks the feeds a `kill -9` left leased in its
first cycle, sends the alerts it had claimed and the digest it was sending at its next try, not
when the claims run out. Owners of this host that still run, a pid given to a new process, and
owners elsewhere are told apart. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from threading import Barrier

import pytest
from click.testing import CliRunner

from monitor import owners
from monitor.cli import main
from monitor.domain import Feed, StatusChange
from monitor.store import Store, TakenOver, open_store
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer, Route, _RequestHandler
from tests.processes import ended_process_owner, running_process

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a process's start is read from Linux's /proc"
)

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
FEEDS = [Feed(f"feed{n}", f"http://127.0.0.1/{n}.xml") for n in range(6)]
SOON = NOW + timedelta(seconds=1)  # long before the leases run out
DAY = NOW.date()
YESTERDAY = DAY - timedelta(days=1)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.sync_feeds(FEEDS, now=NOW)
        yield opened


def lease(store: Store, owner: str, count: int) -> list[str]:
    """`owner` claims `count` due feeds at NOW, as a cycle does, and never records them."""
    return [f.id for f in store.due_feeds(NOW, owner=owner, lease=LEASE, limit=count)]


def claimable(store: Store) -> list[str]:
    """What a daemon starting now may claim."""
    return [f.id for f in store.due_feeds(SOON, owner="restarted", lease=LEASE)]


def claim_alert(store: Store, owner: str, indicator: str) -> int:
    """A change of `indicator` is recorded to be alerted, and `owner` claims its alert."""
    store.ensure_indicators([indicator], now=NOW)
    store.record_changes([StatusChange(indicator, NOW, "unknown", "mixed", (), "h")], alert=True)
    (claim,) = store.claim_alerts(NOW, owner=owner, lease=LEASE, limit=1)
    assert claim.change.id is not None
    return claim.change.id


def alerts_claimable(store: Store) -> list[str]:
    return [c.change.indicator_id for c in store.claim_alerts(SOON, owner="restarted", lease=LEASE)]


def claim_resend(store: Store, owner: str, day: date) -> None:
    """The digest of `day` was sent, refused for one recipient with a 4xx answer, and `owner`
    claims its resend, due at NOW."""
    assert store.claim_digest(day, owner="sender", now=NOW - timedelta(hours=1))
    refused = [("grey@example.org", "450 4.2.0 try again later")]
    store.mark_digest_sent(day, NOW - timedelta(hours=1), refused=refused, resend_at=NOW)
    assert store.claim_resend(now=NOW, most=5, owner=owner) == (day, 1)


def test_a_gone_owner_of_this_host_is_taken_over_at_once(store: Store) -> None:
    dead = ended_process_owner()
    held = lease(store, dead, 3)
    assert claimable(store) == ["feed3", "feed4", "feed5"]  # its leases run for 5 minutes

    assert store.take_over_claims(SOON, ended=owners.ended) == {dead: TakenOver(feeds=3)}
    assert sorted(claimable(store)) == [*held, "feed3", "feed4", "feed5"]
    assert store.take_over_claims(SOON, ended=owners.ended) == {}  # nothing twice


def test_a_pid_given_to_another_process_is_not_its_old_owner(store: Store) -> None:
    """This process's pid with another start: the daemon that had the pid before is gone."""
    this = owners.owner_of()
    host, pid, identity = this.split(":")
    start, place = identity.split("@")
    before = f"{host}:{pid}:{int(start) - 1}@{place}"
    held = lease(store, before, 2)

    assert store.take_over_claims(SOON, ended=owners.ended) == {before: TakenOver(feeds=2)}
    assert sorted(claimable(store)) == sorted([*held, "feed2", "feed3", "feed4", "feed5"])


def test_owners_that_still_run_or_live_elsewhere_keep_their_leases(store: Store) -> None:
    this = owners.owner_of()
    host, pid, identity = this.split(":")
    start, place = identity.split("@")
    with running_process() as child:
        live = owners.owner_of(child.pid)
        kept = [
            live,  # another daemon of this host, running
            this,  # this one
            f"elsewhere:{pid}:{int(start) - 1}@{place}",  # another host name
            f"{host}:{pid}:{int(start) - 1}@{'0' * 12}",  # a container of its own, a boot before
            f"{host}:{pid}",  # an older version's name, without the start
            "cli",  # `monitor check` of an older version
        ]
        for owner in kept:
            lease(store, owner, 1)
        taken = store.take_over_claims(SOON, ended=owners.ended)
        left = claimable(store)
    assert taken == {}
    assert left == []  # every feed still leased


def test_every_claim_of_a_gone_owner_is_released_in_one_take_over(store: Store) -> None:
    """Its feed leases, its alerts' claims (the channels' timeout plus a minute each) and its
    claim on a digest not sent yet and on a sent one's resend (15 minutes): the next try of any
    daemon takes them."""
    dead = ended_process_owner()
    lease(store, dead, 2)
    claim_alert(store, dead, "nk")
    assert store.claim_digest(DAY, owner=dead, now=NOW)
    claim_resend(store, dead, YESTERDAY)
    assert alerts_claimable(store) == []
    assert not store.claim_digest(DAY, owner="restarted", now=SOON)
    assert store.claim_resend(now=SOON, most=5, owner="restarted") is None

    taken = store.take_over_claims(SOON, ended=owners.ended)
    assert taken == {dead: TakenOver(feeds=2, alerts=1, digests=(DAY,), resends=(YESTERDAY,))}
    assert alerts_claimable(store) == ["nk"]
    assert store.claim_digest(DAY, owner="restarted", now=SOON)
    assert store.claim_resend(now=SOON, most=5, owner="restarted") == (YESTERDAY, 2)
    assert store.take_over_claims(SOON, ended=owners.ended) == {}


def test_a_live_owner_keeps_its_claims_and_what_a_gone_one_finished_is_left(
    store: Store,
) -> None:
    """Another daemon of this host that runs keeps its alert, digest and resend claims; a gone
    one's alert it marked sent and digest it marked sent are no claims and stay as they are."""
    dead = ended_process_owner()
    sent = claim_alert(store, dead, "tw")
    assert store.alert_sent(sent, owner=dead, now=NOW, done=["hook"])
    before = DAY - timedelta(days=2)
    assert store.claim_digest(before, owner=dead, now=NOW)
    store.mark_digest_sent(before, NOW)
    with running_process() as child:
        live = owners.owner_of(child.pid)
        claim_alert(store, live, "nk")
        assert store.claim_digest(DAY, owner=live, now=NOW)
        claim_resend(store, live, YESTERDAY)
        taken = store.take_over_claims(SOON, ended=owners.ended)
    assert taken == {}
    assert alerts_claimable(store) == [] and store.pending_alerts() == 1
    assert not store.claim_digest(DAY, owner="restarted", now=SOON)
    assert store.claim_resend(now=SOON, most=5, owner="restarted") is None
    state = store.digest_state(before)
    assert state is not None and state.sent_at == NOW and state.claimed_by is None


def test_a_daemon_stopping_releases_its_own_claims_but_those_of_a_send_in_flight(
    store: Store,
) -> None:
    """At a clean stop a daemon releases every claim it holds in one call, as a take-over
    would; an alert or digest it is still sending keeps its claim, and so does every other
    owner's."""
    me = owners.owner_of()
    lease(store, me, 2)
    claim_alert(store, me, "nk")
    assert store.claim_digest(DAY, owner=me, now=NOW)
    claim_resend(store, me, YESTERDAY)
    with running_process() as child:
        other = owners.owner_of(child.pid)
        lease(store, other, 1)
        claim_alert(store, other, "tw")

        in_flight = store.release_claims(me, SOON, alerts=False, digests=False)
        assert alerts_claimable(store) == []
        assert not store.claim_digest(DAY, owner="restarted", now=SOON)
        released = store.release_claims(me, SOON)

    assert in_flight == TakenOver(feeds=2)
    assert released == TakenOver(alerts=1, digests=(DAY,), resends=(YESTERDAY,))
    assert str(released) == (
        f"1 alert, the digest of {DAY} and the resend of the digest of {YESTERDAY}"
    )
    assert sorted(claimable(store)) == ["feed0", "feed1", "feed3", "feed4", "feed5"]
    assert alerts_claimable(store) == ["nk"]  # the other owner's "tw" stays claimed
    assert store.claim_digest(DAY, owner="restarted", now=SOON)
    assert store.claim_resend(now=SOON, most=5, owner="restarted") == (YESTERDAY, 2)
    assert store.release_claims(me, SOON) == TakenOver()  # nothing twice


def test_an_owner_names_its_host_pid_and_start() -> None:
    name = owners.owner_of()
    assert name.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert owners.shown(name) == f"{socket.gethostname()}:{os.getpid()}"
    assert owners.shown("cli") == "cli"
    assert not owners.ended(name)
    assert owners.ended(ended_process_owner())


@pytest.mark.postgres
def test_daemons_taking_over_at_once_release_each_claim_once(postgres_url: str) -> None:
    """Several daemons of this host see the same gone owner in one tick: each of its claims
    is released once, and a live daemon's claims are left alone by all of them."""
    workers = 6
    dead = ended_process_owner()
    with open_store(postgres_url) as store, running_process() as child:
        store.sync_feeds(FEEDS, now=NOW)
        live = owners.owner_of(child.pid)
        lease(store, dead, 4)
        kept = lease(store, live, 2)
        claim_alert(store, dead, "nk")
        claim_alert(store, live, "tw")
        assert store.claim_digest(DAY, owner=dead, now=NOW)
        barrier = Barrier(workers)

        def one(_n: int) -> dict[str, TakenOver]:
            with open_store(postgres_url) as own:
                own.current_statuses()  # connect before the start
                barrier.wait()
                return own.take_over_claims(SOON, ended=owners.ended)

        with ThreadPoolExecutor(workers) as pool:
            taken = list(pool.map(one, range(workers)))
        left = claimable(store)
        alerts = alerts_claimable(store)
    released = [t[dead] for t in taken if dead in t]
    assert sum(r.feeds for r in released) == 4 and sum(r.alerts for r in released) == 1
    assert [r.digests for r in released if r.digests] == [(DAY,)]
    assert all(set(t) <= {dead} for t in taken)
    assert len(left) == 4 and not set(left) & set(kept)
    assert alerts == ["nk"]


# ---------------------------------------------------------------- monitor check


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait until `condition()` holds; the timeout only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def held_feeds(feed_server: FeedServer, names: list[str]) -> threading.Event:
    """Serve `names` as feeds that answer only once the returned event is set."""
    answer = threading.Event()
    body = news.yonhap(datetime.now(UTC) - timedelta(hours=2))

    def held(h: _RequestHandler) -> None:
        if answer.wait(60) and not feed_server.stopping.is_set():
            h.answer(Route(body=body))

    for name in names:
        feed_server.route(f"/{name}.xml", held)
    return answer


def check_env(
    tmp_path: Path, database_url: str, feed_server: FeedServer, names: list[str]
) -> dict[str, str]:
    (tmp_path / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{id: {n}, url: '{feed_server.url(f'/{n}.xml')}'}}\n" for n in names))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return env | {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_FEED_LEASE": "1h",  # a lease left behind holds for an hour
        "PYTHONPATH": str(ROOT),
    }


def monitor_check(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", "check"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def checked(stderr: str) -> int:
    found = re.search(r"^monitor: check: (\d+) feeds checked", stderr, re.M)
    assert found, stderr
    return int(found.group(1))


@pytest.mark.slow  # `monitor check` processes
def test_a_killed_monitor_check_leaves_leases_the_next_one_takes_over_at_once(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    """`monitor check` leases its feeds as the process it is: killed (`kill -9`) mid-cycle, the
    next `monitor check` on the host sees it is gone and checks those feeds, not in an hour."""
    names = ["held1", "held2"]
    answer = held_feeds(feed_server, names)
    env = check_env(tmp_path, database_url, feed_server, names)

    first = monitor_check(env, tmp_path)
    try:
        wait_for(lambda: len(feed_server.requests) == 2, "both feeds to be asked for")
        killed = owners.owner_of(first.pid)
        first.kill()
        assert first.wait(30) == -signal.SIGKILL
    finally:
        first.kill()
    with open_store(database_url) as store:
        leased = {f.id: f.lease_owner for f in store.feeds()}
    assert leased == {"held1": killed, "held2": killed}

    answer.set()
    second = monitor_check(env, tmp_path)
    _out, err = second.communicate(timeout=120)

    assert second.returncode == 0, err
    assert checked(err) == 2
    assert f"claims: took over 2 feeds from {killed}, a process of this host that is gone" in err
    assert [feed_server.hits(f"/{n}.xml") for n in names] == [2, 2]
    with open_store(database_url) as store:
        assert all(f.last_checked_at and f.lease_owner is None for f in store.feeds())


@pytest.mark.slow  # `monitor check` processes
def test_two_monitor_checks_at_once_never_fetch_one_feed_twice(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    """The second finds every due feed leased by the first, which still runs: it checks none
    (before, both leased as `cli`, the same owner, and fetched every feed twice)."""
    names = [f"feed{n}" for n in range(4)]
    answer = held_feeds(feed_server, names)
    env = check_env(tmp_path, database_url, feed_server, names)

    first = monitor_check(env, tmp_path)
    try:
        wait_for(lambda: len(feed_server.requests) == len(names), "every feed to be asked for")
        second = monitor_check(env, tmp_path)
        try:
            wait_for(lambda: second.poll() is not None or len(feed_server.requests) > len(names),
                     "the second check to end or fetch")  # fmt: skip
        finally:
            answer.set()
            _out, second_err = second.communicate(timeout=120)
        _out, first_err = first.communicate(timeout=120)
    finally:
        first.kill()

    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    assert (checked(first_err), checked(second_err)) == (len(names), 0)
    assert [feed_server.hits(f"/{n}.xml") for n in names] == [1] * len(names)


def test_digest_send_takes_over_the_claim_of_a_killed_one_and_leaves_a_live_ones(
    tmp_path: Path, database_url: str
) -> None:
    """`monitor digest --send` claims the day as the process it is: one killed while sending
    leaves a claim the next `digest --send` (or a daemon) of the host takes over at once, not
    in 15 minutes; the claim of one that still runs is its own."""
    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(ROOT / "config" / "feeds.yaml"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    killed, live = date(2026, 1, 6), date(2026, 1, 7)
    now = datetime.now(UTC)
    with open_store(database_url) as store, running_process() as child:
        assert store.claim_digest(killed, owner=ended_process_owner(), now=now)
        assert store.claim_digest(live, owner=owners.owner_of(child.pid), now=now)
        taken = CliRunner().invoke(main, ["digest", "--send", "--date", f"{killed}"], env=env)
        kept = CliRunner().invoke(main, ["digest", "--send", "--date", f"{live}"], env=env)

    assert taken.exit_code == 0, taken.output
    assert (tmp_path / "outbox" / f"digest-{killed}.eml").exists()
    assert kept.exit_code == 1
    assert f"digest {live}: not sent: claimed by another sender" in kept.stderr
