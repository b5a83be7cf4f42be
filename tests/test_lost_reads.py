"""Reads whose connection to PostgreSQL is lost while they run (a restart of the server, a
failover, a proxy's timeout; here `tests.pgproxy` closes the connection instead of passing the
answer to a statement on): each is run again on a new connection, after one WARNING, as the
writes are (`store.base.once_more_if_disconnected`), so a command, an endpoint and the page
answer as if nothing was lost. They failed with one line (`Error: store: unable to read …`,
exit 1; 503 on the web). So are the reads of `store.engine` (tests/test_lost_schema_reads.py).
Also: a dry run whose one connection is lost starts again on a new
one, and a clean-up whose commit's answer is lost counts what it deleted.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select

from monitor.domain import Definitions
from monitor.store import Cycle, Pruned, Store, open_store
from monitor.store.schema import cycle_table, entry_table, match_table
from monitor.web import create_app
from tests import webdata
from tests.pgproxy import LosesACommit
from tests.test_lost_commits_again import env_of, proxy
from tests.test_outages import Clock, home, make_daemon
from tests.webdata import NOW
from tests.webdata import run_cli as run

pytestmark = pytest.mark.postgres

defs = webdata.defs  # fixture
__all__ = ["home", "proxy"]  # fixtures

STORE = Path(__file__).parent.parent / "monitor" / "store"
DAY = timedelta(days=1)

# The methods that open a transaction and are not retried themselves, each with the unit of
# work that is: run again whole, they are run again with it.
PART_OF_A_RETRIED_UNIT = {
    "_record_change": "record_changes",
    "_marked": "alert_sent",
    "_release_alert": "alert_sent, alert_failed",
    "_claim_digest": "claim_digest",
    "_claim_resend": "claim_resend",
    "_end_replay": "end_replay",
    "_add_silence": "add_silence",
    "_end_silence": "end_silence",
    "_add_verdict": "add_verdict",
    "_committed": "_counted",
    "story_reading": "incremental.advance",
    "story_session": "incremental.advance",
}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _retried(function: ast.FunctionDef) -> bool:
    decorators = {ast.unparse(d) for d in function.decorator_list}
    called = {ast.unparse(n.func) for n in ast.walk(function) if isinstance(n, ast.Call)}
    return "once_more_if_disconnected" in decorators or "after_a_lost_connection" in called


def _transactions() -> Iterator[tuple[str, ast.FunctionDef]]:
    """Every method of the store's modules that opens a transaction (`self._tx(…)`)."""
    for module in sorted(STORE.glob("*.py")):
        tree = ast.parse(module.read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for function in cls.body:
                if isinstance(function, ast.FunctionDef) and any(
                    isinstance(n, ast.Call) and ast.unparse(n.func) == "self._tx"
                    for n in ast.walk(function)
                ):
                    yield f"{module.name}: {cls.name}.{function.name}", function


def test_every_transaction_of_the_store_is_run_again_when_its_connection_is_lost() -> None:
    """Each of the store's methods that opens a transaction, a read or a write, is run again
    on a new connection when that is lost, or is part of a unit of work that is. Many reads
    were not: history, changes_between, the data version every request reads, the digest's."""
    found = dict(_transactions())
    assert len(found) > 70  # the grep found them
    not_retried = [
        where
        for where, function in found.items()
        if not _retried(function) and function.name not in PART_OF_A_RETRIED_UNIT
    ]
    assert not_retried == []
    assert {f.name for f in found.values()} >= set(PART_OF_A_RETRIED_UNIT)


ENGINE = STORE / "engine.py"
# engine.py's functions that open a connection (`engine.connect()`) with no function that runs
# them again between, each with why: the ones that do are the others' public door.
NOT_RETRIED_IN_ENGINE = {
    "revision_problem": "Store.schema_problem",  # run again there (held below)
    "new_revision": "a developer's: it writes a revision file, which a second run writes again",
}


def _unretried_connection(functions: dict[str, ast.FunctionDef], name: str) -> bool:
    """Whether `name` opens a connection, itself or through the module's functions it calls,
    without a function that is run again when that is lost on the way."""
    function = functions[name]
    if _retried(function):
        return False
    called = {ast.unparse(n.func) for n in ast.walk(function) if isinstance(n, ast.Call)}
    return "engine.connect" in called or any(
        _unretried_connection(functions, c) for c in called & functions.keys() if c != name
    )


def test_every_read_of_the_engine_module_is_run_again_when_its_connection_is_lost() -> None:
    """Every public function of engine.py that opens a connection (the check each command makes
    as it opens the store, `monitor db current`'s and `monitor db upgrade`'s reads, the schema
    comparison) is run again on a new connection when it is lost, or is called only by one that
    is. None was: `monitor db …` failed with one line, and so did any command whose check of the
    schema's revision lost its connection."""
    tree = ast.parse(ENGINE.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    opening = [
        name
        for name, function in functions.items()
        if any(
            isinstance(n, ast.Call) and ast.unparse(n.func) == "engine.connect"
            for n in ast.walk(function)
        )
    ]
    assert len(opening) >= 4  # the grep found them
    public = [name for name in functions if not name.startswith("_")]
    not_retried = sorted(n for n in public if _unretried_connection(functions, n))
    assert not_retried == sorted(NOT_RETRIED_IN_ENGINE)
    store = ast.parse((STORE / "__init__.py").read_text())
    (problem,) = [
        n for n in ast.walk(store) if isinstance(n, ast.FunctionDef) and n.name == "schema_problem"
    ]
    assert _retried(problem)


READS: dict[str, tuple[bytes, Callable[[Store], object]]] = {
    "history": (b"FROM status_change", lambda s: s.history("visa-easing")),
    "changes_between": (
        b"FROM status_change",
        lambda s: s.changes_between(NOW - 90 * DAY, NOW + DAY),
    ),
    "pending_alerts": (b"FROM status_change", lambda s: s.pending_alerts()),
    "version_and_hold": (b"FROM replay", lambda s: s.version_and_hold()),
    "data_version": (b"FROM cycle", lambda s: s.data_version()),
    "last_successful_cycle": (b"FROM cycle", lambda s: s.last_successful_cycle()),
    "cycle_totals": (b"FROM cycle", lambda s: s.cycle_totals()),
    "feeds": (b"FROM feed", lambda s: s.feeds()),
    "feed_counts": (b"FROM feed", lambda s: s.feed_counts(NOW)),
    "search_entries": (b"FROM entry", lambda s: s.search_entries("visa")),
    "verdicts": (b"FROM verdict", lambda s: s.verdicts()),
    "silences": (b"FROM silence", lambda s: s.silences()),
    "digest_state": (b"FROM digest", lambda s: s.digest_state(NOW.date())),
    "replay_hold": (b"FROM replay", lambda s: s.replay_hold()),
    "kept_outcomes": (b"FROM outcome_state", lambda s: s.kept_outcomes()),
    "schema_problem": (b"alembic_version", lambda s: s.schema_problem()),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_read_whose_connection_is_lost_is_run_again(
    proxy: LosesACommit, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """The read is lost as it runs: it is run again on a new connection and answers as it
    does without the loss, after one WARNING. It failed (`store: unable to read …`)."""
    marker, read = READS[name]
    with open_store(proxy.url) as store:
        wanted = read(store)
        proxy.arm(marker, statement=True)
        with caplog.at_level(logging.WARNING):
            assert read(store) == wanted
        assert proxy.losses == 1
    said = warnings(caplog)
    assert len(said) == 1, said
    assert said[0].startswith("store: unable to ")
    assert said[0].endswith("; reconnecting for try 2 of 3")


@pytest.mark.parametrize(
    ("args", "marker"),
    [
        (("status",), b"FROM silence"),
        (("status", "--json"), b"FROM replay"),
        (("history", "visa-easing"), b"FROM status_change"),
        (("digest", "--preview"), b"FROM digest"),
    ],
    ids=["status", "status-json", "history", "digest-preview"],
)
def test_a_command_whose_read_is_lost_answers(
    proxy: LosesACommit, args: tuple[str, ...], marker: bytes
) -> None:
    """`monitor status` and `monitor history`, and the digest's reads, lose their connection
    once: they answer as without the loss, exit 0. They said `Error: store: unable to read …`
    and exited 1."""
    env = env_of(proxy)
    wanted = run(env, *args)
    assert wanted.exit_code == 0, wanted.output
    proxy.arm(marker, statement=True)

    result = run(env, *args)

    assert proxy.losses == 1
    assert result.exit_code == 0, result.output
    assert result.stdout == wanted.stdout


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/indicators", b"FROM replay"),
        ("/indicators/visa-easing/history", b"FROM status_change"),
        ("/healthz", b"FROM cycle"),
        ("/", b"FROM replay"),
    ],
    ids=["indicators", "history", "healthz", "page"],
)
def test_a_request_whose_read_is_lost_is_answered(
    proxy: LosesACommit, defs: Definitions, path: str, marker: bytes
) -> None:
    """An API GET, /healthz and the page lose their connection once as they read: they answer
    200, as without the loss. They answered 503 (`the database did not answer`)."""
    with open_store(proxy.url) as store:
        app = create_app(
            store=store, definitions=lambda: defs, settings=webdata.settings(), clock=lambda: NOW
        )
        with TestClient(app) as client:
            wanted = client.get(path)
            assert wanted.status_code == 200, wanted.text
            store.record_cycle(Cycle(started_at=NOW, finished_at=NOW))  # no kept answer
            proxy.arm(marker, statement=True)
            answer = client.get(path)
            assert proxy.losses == 1
    assert answer.status_code == 200, answer.text
    if path == "/healthz":
        assert answer.json()["status"] == wanted.json()["status"]
    elif path != "/":
        assert answer.json() == wanted.json()


@pytest.mark.parametrize("losses", [1, 3])
def test_a_dry_run_whose_connection_is_lost_starts_again_on_a_new_one(
    proxy: LosesACommit, caplog: pytest.LogCaptureFixture, losses: int
) -> None:
    """`monitor replay --dry-run` runs in one transaction on one connection, which is lost as
    it rewrites the matches (in its copies of the tables). All it did went with it: it starts
    again on a new connection, after a WARNING, and prints what it would record, as without
    the loss; lost at each of 3 tries, it fails with one line that says so. It was 'retried'
    on the dead connection: `Error: store: unable to …: Can't reconnect until invalid
    transaction is rolled back`, after a WARNING that it was reconnecting."""
    env = env_of(proxy)
    args = ("replay", "--since", f"{NOW - timedelta(days=40):%Y-%m-%d}", "--dry-run")
    wanted = run(env, *args)
    assert wanted.exit_code == 0, wanted.output
    matches = _count(proxy, match_table)
    proxy.arm(b"DELETE FROM entry_match ", statement=True, times=losses)

    result = run(env, *args)

    assert proxy.losses == losses
    said = [line for line in result.stderr.splitlines() if " WARNING " in line]
    tries = ["try 2 of 3"] if losses == 1 else ["try 2 of 3", "try 3 of 3"]
    assert [s.split(" monitor.store: ")[1] for s in said] == [
        "store: unable to replace matches: OperationalError: consuming input failed: server "
        "closed the connection unexpectedly This probably means the server terminated "
        f"abnormally before or while processing the request.; reconnecting to start the dry "
        f"run again, {t}"
        for t in tries
    ]
    if losses == 1:
        assert result.exit_code == 0, result.output
        assert result.stdout == wanted.stdout
        assert result.stderr.splitlines()[-1] == wanted.stderr.splitlines()[-1]
    else:
        assert result.exit_code == 1
        last = result.stderr.splitlines()[-1]
        assert last.startswith("Error: store: unable to replace matches: ")
        assert last.endswith("(the connection was lost at each of 3 tries: giving up)")
    assert _count(proxy, match_table) == matches  # a dry run: nothing written
    with open_store(proxy.url) as store:
        assert store.replay_hold() is None


def _count(proxy: LosesACommit, table: Table) -> int:
    with open_store(proxy.url) as store, store._tx("count") as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    "marker",
    [None, b"DELETE FROM entry ", b"DELETE FROM status_change ", b"DELETE FROM cycle "],
    ids=["none", "entries", "changes", "cycles"],
)
def test_a_clean_up_whose_commit_is_lost_counts_what_it_deleted(
    proxy: LosesACommit, caplog: pytest.LogCaptureFixture, marker: bytes | None
) -> None:
    """The clean-up deletes old entries, changes and cycles, a transaction each; the answer to
    one's commit is lost. Run again, that one finds its rows gone, and it is taken as done
    (PostgreSQL says its transaction committed) with what it counted, so the clean-up counts
    what was deleted as without the loss. It counted 0 for what the lost try deleted."""
    later = NOW + timedelta(days=400)
    with open_store(proxy.url) as store:
        entries, cycles = (_count(proxy, t) for t in (entry_table, cycle_table))
        if marker is not None:
            proxy.arm(marker)
        with caplog.at_level(logging.INFO):
            pruned = store.prune(now=later, before=later, matched_before=later, buckets=())
        assert proxy.losses == (marker is not None)
    assert pruned == Pruned(entries, pruned.matched, pruned.changes, cycles, 0)
    assert pruned.matched > 0 and pruned.changes > 0
    if marker is not None:
        assert len(warnings(caplog)) == 1
        assert ": done before the connection was lost" in caplog.text


def test_the_clean_up_s_log_line_says_what_a_lost_commit_deleted(
    home: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon's clean-up deletes an old cycle, and the answer to that commit is lost: its
    line says the cycle was deleted. It said nothing (nothing counted), as if none had been."""
    clock = Clock()
    old = clock.now - timedelta(days=400)
    with LosesACommit(postgres_url) as proxy, open_store(proxy.url) as store:
        store.record_cycle(Cycle(started_at=old, finished_at=old, feeds_checked=5))
        daemon = make_daemon(home, store, clock)
        proxy.arm(b"DELETE FROM cycle ")
        with caplog.at_level(logging.INFO):
            daemon.cleanup()
        assert proxy.losses == 1
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retention: ")]
    assert said == ["retention: 0 old entries (0 matched), 0 changes, 1 cycle, 0 digests deleted"]
