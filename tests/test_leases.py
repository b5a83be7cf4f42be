"""The leases of a daemon that is gone are taken over at once when it ran on this host: a
restarted daemon (or another one beside it) checks the feeds a `kill -9` left leased in its
first cycle, not when the leases run out. Owners of this host that still run, a pid given to a
new process, and owners elsewhere are told apart. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest

from monitor import owners
from monitor.domain import Feed
from monitor.store import Store, open_store

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a process's start is read from Linux's /proc"
)

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
FEEDS = [Feed(f"feed{n}", f"http://127.0.0.1/{n}.xml") for n in range(6)]
SOON = NOW + timedelta(seconds=1)  # long before the leases run out


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.sync_feeds(FEEDS, now=NOW)
        yield opened


@contextmanager
def running_process() -> Iterator[subprocess.Popen[bytes]]:
    """A child that runs until its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield child
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def ended_process_owner() -> str:
    """The owner name of a process that ran on this host and has ended (and been waited for)."""
    with running_process() as child:
        owner = owners.owner_of(child.pid)
    return owner


def lease(store: Store, owner: str, count: int) -> list[str]:
    """`owner` claims `count` due feeds at NOW, as a cycle does, and never records them."""
    return [f.id for f in store.due_feeds(NOW, owner=owner, lease=LEASE, limit=count)]


def claimable(store: Store) -> list[str]:
    """What a daemon starting now may claim."""
    return [f.id for f in store.due_feeds(SOON, owner="restarted", lease=LEASE)]


def test_a_gone_owner_of_this_host_is_taken_over_at_once(store: Store) -> None:
    dead = ended_process_owner()
    held = lease(store, dead, 3)
    assert claimable(store) == ["feed3", "feed4", "feed5"]  # its leases run for 5 minutes

    assert store.take_over_leases(SOON, ended=owners.ended) == {dead: 3}
    assert sorted(claimable(store)) == [*held, "feed3", "feed4", "feed5"]
    assert store.take_over_leases(SOON, ended=owners.ended) == {}  # nothing twice


def test_a_pid_given_to_another_process_is_not_its_old_owner(store: Store) -> None:
    """This process's pid with another start: the daemon that had the pid before is gone."""
    this = owners.owner_of()
    host, pid, identity = this.split(":")
    start, place = identity.split("@")
    before = f"{host}:{pid}:{int(start) - 1}@{place}"
    held = lease(store, before, 2)

    assert store.take_over_leases(SOON, ended=owners.ended) == {before: 2}
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
            "cli",  # `monitor check`
        ]
        for owner in kept:
            lease(store, owner, 1)
        taken = store.take_over_leases(SOON, ended=owners.ended)
        left = claimable(store)
    assert taken == {}
    assert left == []  # every feed still leased


def test_an_owner_names_its_host_pid_and_start() -> None:
    name = owners.owner_of()
    assert name.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert owners.shown(name) == f"{socket.gethostname()}:{os.getpid()}"
    assert owners.shown("cli") == "cli"
    assert not owners.ended(name)
    assert owners.ended(ended_process_owner())


@pytest.mark.postgres
def test_daemons_taking_over_at_once_release_each_lease_once(postgres_url: str) -> None:
    """Several daemons of this host see the same gone owner in one tick: each lease is
    released once, and a live daemon's leases are left alone by all of them."""
    workers = 6
    dead = ended_process_owner()
    with open_store(postgres_url) as store, running_process() as child:
        store.sync_feeds(FEEDS, now=NOW)
        live = owners.owner_of(child.pid)
        lease(store, dead, 4)
        kept = lease(store, live, 2)
        barrier = Barrier(workers)

        def one(_n: int) -> dict[str, int]:
            with open_store(postgres_url) as own:
                own.current_statuses()  # connect before the start
                barrier.wait()
                return own.take_over_leases(SOON, ended=owners.ended)

        with ThreadPoolExecutor(workers) as pool:
            taken = list(pool.map(one, range(workers)))
        left = claimable(store)
    assert sum(t.get(dead, 0) for t in taken) == 4
    assert all(set(t) <= {dead} for t in taken)
    assert len(left) == 4 and not set(left) & set(kept)
