"""Schema migrations on SQLite and PostgreSQL: an empty database is brought to the models, an
older one is refused until `monitor db upgrade`, and concurrent start-ups upgrade once."""

from __future__ import annotations

import fnmatch
import shutil
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

import monitor.stories as stories_module
from monitor import migrate
from monitor.cli import main
from monitor.domain import (
    INITIAL,
    QUIET,
    UNKNOWN,
    Entry,
    Feed,
    Match,
    Status,
    StatusChange,
    UnreadFeed,
    digest_of,
)
from monitor.errors import StoreError
from monitor.identity import entry_key
from monitor.pipeline import run_cycle
from monitor.statuses import evaluate_all, kept_statuses
from monitor.store import (
    metadata,
    open_store,
    schema_differences,
    schema_status,
    upgrade,
)
from monitor.store.changes import _change_values
from monitor.store.schema import change_table
from monitor.webmodels import ChangeOut
from tests import news, storeops, twofeeds
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_entry_identity import TOUR, TOUR_A, TOUR_B

NEXT = '''"""A column for the test of an older schema."""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("note", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("note")
'''


@pytest.fixture
def newer_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    """Switches to the migrations of a later version (today's and one more); returns its head."""

    def switch() -> str:
        today = migrate.head()
        later = f"{int(today) + 1:04d}"
        migrations = tmp_path / "migrations"
        shutil.copytree(
            migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__")
        )
        note = NEXT.format(revision=later, down=today)
        (migrations / "versions" / f"{later}_note.py").write_text(note)
        monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
        migrate.head.cache_clear()
        return migrate.head()

    yield switch
    monkeypatch.undo()
    migrate.head.cache_clear()


def _sql(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def rewound(url: str, revision: str) -> None:
    """The database as at the revision before `revision`, for a test of `revision` (one that
    only rewrites rows) to run it again: the later revisions downgraded first (their tables and
    columns go, so the upgrade can add them again), then marked as before `revision`, whose
    tables are the same. The test writes its rows as the older code did in between or after."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, revision)
    finally:
        engine.dispose()
    before = f"{int(revision) - 1:04d}"
    _sql(url, f"UPDATE alembic_version SET version_num = '{before}'")


def test_an_empty_database_upgrades_to_the_models(empty_database_url: str) -> None:
    head = migrate.head()
    assert schema_status(empty_database_url) == (None, head)
    assert upgrade(empty_database_url) == (None, head)
    assert schema_differences(empty_database_url) == []
    assert schema_status(empty_database_url) == (head, head)
    assert upgrade(empty_database_url) == (head, head)  # safe to run twice


def test_of_two_upgrades_at_once_one_upgrades_and_the_other_finds_it_done(
    empty_database_url: str,
) -> None:
    """The second waits for the first's lock, then reads the revision it left (both said they
    had upgraded from no revision)."""
    head = migrate.head()
    with ThreadPoolExecutor(2) as pool:
        found = sorted(pool.map(upgrade, [empty_database_url] * 2), key=lambda r: r[0] or "")

    assert found == [(None, head), (head, head)]


def test_the_comparison_sees_a_difference(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    _sql(empty_database_url, "DROP INDEX ix_entry_time")
    assert [diff[0] for diff in schema_differences(empty_database_url)] == ["add_index"]


def test_open_store_creates_an_empty_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with open_store(url) as store:
        assert store.feeds() == []
    assert schema_status(url) == (migrate.head(), migrate.head())
    assert schema_differences(url) == []


def test_concurrent_start_ups_on_an_empty_sqlite_database_upgrade_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"

    def start(_: int) -> str:
        with open_store(url) as store:
            return store.dialect

    with ThreadPoolExecutor(4) as pool:
        assert len(list(pool.map(start, range(4)))) == 4
    assert schema_differences(url) == []


def test_an_older_schema_is_refused_until_upgraded(
    database_url: str, newer_code: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    today = migrate.head()
    open_store(database_url).close()  # at today's revision
    later = newer_code()
    assert later > today
    with pytest.raises(StoreError, match=rf"revision {today}, older .* run `monitor db upgrade`"):
        open_store(database_url)

    monkeypatch.setenv("MONITOR_DATABASE_URL", database_url)
    runner = CliRunner()
    refused = runner.invoke(main, ["status"])
    assert refused.exit_code == 1
    assert "run `monitor db upgrade`" in refused.output
    current = runner.invoke(main, ["db", "current"]).output
    assert current == f"database: {today}\ncode:     {later}\n"

    done = runner.invoke(main, ["db", "upgrade"])
    assert done.exit_code == 0, done.output
    assert done.output == f"db: upgraded from revision {today} to {later}\n"
    assert runner.invoke(main, ["db", "upgrade"]).output == f"db: already at revision {later}\n"
    assert runner.invoke(main, ["db", "current"]).exit_code == 0
    with open_store(database_url) as store:
        assert store.feeds() == []


def test_a_database_made_before_migrations_is_stamped_by_upgrade(database_url: str) -> None:
    open_store(database_url).close()
    engine = create_engine(database_url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            # The tables create_all made before migrations: those of revision 0001, unstamped.
            migrate.upgrade(conn, metadata, "0001")
            conn.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"no schema revision.*run `monitor db upgrade`"):
        open_store(database_url)
    assert upgrade(database_url) == (None, migrate.head())
    assert schema_differences(database_url) == []
    open_store(database_url).close()


def test_a_database_of_a_newer_version_is_refused(database_url: str) -> None:
    open_store(database_url).close()
    _sql(database_url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"unknown to this monitor.*upgrade monitor"):
        open_store(database_url)
    # `monitor db upgrade` says the same in one line (it printed Alembic's traceback).
    answer = CliRunner().invoke(main, ["db", "upgrade"], env={"MONITOR_DATABASE_URL": database_url})
    assert answer.exit_code == 1 and "Traceback" not in answer.output
    assert "unknown to this monitor" in answer.output
    assert _rows(database_url, "SELECT version_num FROM alembic_version") == [("9999",)]


def _insert(url: str, values: dict[str, object]) -> None:
    """A status change as a daemon of an older version writes it: its columns only."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(change_table.insert(), values)
    finally:
        engine.dispose()


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def _as_before_0002(url: str) -> None:
    """Give every entry the key of revision 0001 (guid, else link, else title and text, whatever
    the feed) and mark the database as at 0001: the tables of 0001 and 0002 are the same."""
    entries = _rows(url, "SELECT id, guid, link, title, text FROM entry")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0002")  # the later revisions' columns go
            old = [
                {"id": id_, "key": digest_of(guid or link or (title + "\n" + body))}
                for id_, guid, link, title, body in entries
            ]
            conn.execute(text("UPDATE entry SET key = :key WHERE id = :id"), old)
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    finally:
        engine.dispose()


def test_0002_gives_stored_entries_per_feed_keys_and_keeps_their_matches(
    database_url: str, feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    hour = timedelta(hours=1)
    definitions = twofeeds.definitions(
        tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml")
    )
    wire, local = twofeeds.wire(now - hour), twofeeds.local(now - hour)
    feed_server.route("/a.xml", body=news.rss("a", [wire, local]))
    feed_server.route("/b.xml", body=news.rss("b", []))
    with open_store(database_url) as store:
        ctx = twofeeds.context(definitions, store, now=now)
        assert run_cycle(ctx, now=now).new_entries == 2
        # more entries than the migration rewrites at a time
        filler = [
            Entry("a", f"old-{n}", "", f"Old {n}", "", None, "a.example") for n in range(4500)
        ]
        assert len(storeops.add_entries(store, filler, now=now)) == 4500
    matches = "SELECT entry_id, indicator_id, outcome_id FROM entry_match ORDER BY 1, 2, 3"
    before = _rows(database_url, matches)
    assert len(before) == 4  # wire and local, each for reads-a and reads-both
    _as_before_0002(database_url)
    with pytest.raises(StoreError, match=r"revision 0001, older"):
        open_store(database_url)

    assert upgrade(database_url) == ("0001", migrate.head())

    assert schema_differences(database_url) == []
    assert _rows(database_url, matches) == before
    entries = _rows(database_url, "SELECT key, feed_id, guid, link, title, text FROM entry")
    assert len(entries) == 4502
    assert all(key == entry_key(*map(str, rest)) for key, *rest in entries)
    validators = "SELECT etag, last_modified, body_hash FROM feed"
    assert _rows(database_url, validators) == [(None, None, None)] * 2
    # The feeds again, fetched whole: a (the same body) brings nothing new; b now carries the
    # wire story too, a new entry that the indicator reading only b gets as evidence.
    feed_server.route("/b.xml", body=news.rss("b", [wire]))
    with open_store(database_url) as store:
        ctx = twofeeds.context(definitions, store, now=now)
        report = run_cycle(ctx, now=now + twofeeds.INTERVAL)
        assert (report.feeds_checked, report.not_modified, report.new_entries) == (2, 0, 1)
        assert [(c.indicator_id, c.new_status) for c in report.changes] == [
            ("reads-b", "waived:reported")
        ]
        evidence = storeops.evidence(store, ["reads-b"], now - 24 * hour)["reads-b"]
        assert [e.link for e in evidence] == [twofeeds.WIRE_LINK]
    assert len(_rows(database_url, matches)) == 6  # and b's copy, for reads-b and reads-both


def test_the_migrations_are_packaged() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["monitor"]
    package = ROOT / "monitor"
    files = [
        p.relative_to(package).as_posix()
        for p in (package / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "migrations/env.py" in files
    assert "migrations/versions/0001_initial.py" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_0005_adds_the_silence_tables_and_goes_back_without_them(empty_database_url: str) -> None:
    from monitor.silences import Silence

    url = empty_database_url
    at = datetime(2026, 2, 1, tzinfo=UTC)
    upgrade(url)
    with open_store(url) as store:
        store.add_silence(Silence("nk", None, "noise", "ana", at, at + timedelta(days=1)))
        store.end_silence(1, who="bo", now=at + timedelta(hours=1))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0004")
    finally:
        engine.dispose()
    assert schema_status(url) == ("0004", migrate.head())
    assert upgrade(url) == ("0004", migrate.head())
    assert schema_differences(url) == []
    with open_store(url) as store:
        assert store.silences() == []  # the rows went with the tables


def test_0033_indexes_the_changes_by_when_recorded_and_goes_back_without_them(
    database_url: str,
) -> None:
    """Indexes only: the changes stay, and the feeds read them through the new indexes."""
    at = datetime(2026, 2, 1, tzinfo=UTC)
    late = StatusChange("nk", at - timedelta(hours=2), UNKNOWN, "pressure:reported", (), "h")
    with open_store(database_url) as store:
        store.ensure_indicators(["nk"], now=at)
        [recorded] = store.record_changes([late], now=at)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0032")
        names = {i["name"] for i in inspect(engine).get_indexes("status_change")}
    finally:
        engine.dispose()
    assert not names & {"ix_status_change_recorded_at", "ix_status_change_indicator_recorded"}
    assert schema_status(database_url) == ("0032", migrate.head())

    assert upgrade(database_url) == ("0032", migrate.head())

    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        assert store.latest_changes(limit=1) == [recorded]
        assert store.latest_changes(limit=1)[0].recorded == at


def test_0034_keeps_the_unread_feeds_of_a_change_and_leaves_older_changes_their_reason_alone(
    database_url: str,
) -> None:
    """Down, the column goes and a change keeps its reason; up again, the changes recorded
    before show their reason and no unread feed (`null`, not an empty list: not known), and a
    daemon of the version before, still running, records its changes without them."""
    at = datetime(2026, 2, 1, tzinfo=UTC)
    unread = (UnreadFeed("a", "failing", at - timedelta(hours=1), "fetch: HTTP 404 Not Found"),)
    reason = "feeds not read: a: failing since 2026-01-31 23:00 UTC (fetch: HTTP 404 Not Found)"
    first = StatusChange("nk", at - timedelta(days=1), INITIAL, "x:reported", (), "h", unread=())
    gone = StatusChange("nk", at, "x:reported", UNKNOWN, (), "h", reason=reason, unread=unread)
    with open_store(database_url) as store:
        store.record_changes([first, gone], now=at)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0033")
        assert "unread_feeds" not in {
            c["name"] for c in inspect(engine).get_columns("status_change")
        }
    finally:
        engine.dispose()
    assert upgrade(database_url) == ("0033", migrate.head())
    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        older = store.history("nk")
    assert [(c.reason, c.unread) for c in older] == [(reason, None), ("", None)]
    assert [ChangeOut.of(c).model_dump(mode="json")["unread_feeds"] for c in older] == [None, None]

    # A daemon at 0033 still running inserts the columns it knows (until it reads the revision
    # and stops): its change reads as one recorded before, with its reason alone.
    back = StatusChange("nk", at + timedelta(hours=1), UNKNOWN, QUIET, (), "h", unread=())
    values = _change_values(back) | {"notified_at": back.at}
    del values["unread_feeds"]
    _insert(database_url, values)
    again = StatusChange(
        "nk", at + timedelta(hours=2), UNKNOWN, "x:reported", (), "h", unread=unread
    )
    with open_store(database_url) as store:
        [its] = store.history("nk", limit=1)
        store.record_changes([again], now=again.at)  # this version's: kept
        [kept] = store.history("nk", limit=1)
    assert (its.new_status, its.unread) == (QUIET, None)
    assert kept.unread == unread


def test_0007_gives_stored_matches_their_entry_time_and_a_match_version(database_url: str) -> None:
    now = datetime(2026, 2, 1, 12, tzinfo=UTC)
    day = timedelta(days=1)
    with open_store(database_url) as store:
        entries = [
            Entry("a", f"g{n}", f"https://a.example/{n}", f"T{n}", "", now - n * day, "a.example")
            for n in range(1, 4)
        ]
        new = storeops.add_entries(store, entries, now=now)
        items = [(i, Match(e.key, "nk", "pressure", ("x",), "")) for i, e in new]
        storeops.add_matches(store, items, {"nk": "h"})
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0006")
    finally:
        engine.dispose()
    assert upgrade(database_url) == ("0006", migrate.head())
    assert schema_differences(database_url) == []
    times = "SELECT m.time = e.time FROM entry_match m JOIN entry e ON e.id = m.entry_id"
    assert [bool(same) for (same,) in _rows(database_url, times)] == [True] * 3
    assert _rows(database_url, "SELECT name, value FROM counter") == [("matches", 0)]
    with open_store(database_url) as store:
        found = storeops.evidence(store, ["nk"], {"nk": now - 2 * day - timedelta(hours=1)})
        assert [e.title for e in found["nk"]] == ["T1", "T2"]


def test_0013_keys_forgotten_before_it_leave_out_whatever_is_offered_under_them(
    database_url: str,
) -> None:
    at = datetime(2026, 2, 1, tzinfo=UTC)
    day = timedelta(days=1)

    def item(n: int, title: str) -> Entry:
        return Entry("a", f"g{n}", f"https://a.example/{n}", title, "", None, "a.example")

    with open_store(database_url) as store:
        storeops.add_entries(store, [item(1, "Old story")], now=at)
        assert store.prune(now=at + day, before=at + day, matched_before=at, buckets=()).entries
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0012")
    finally:
        engine.dispose()
    assert upgrade(database_url) == ("0012", migrate.head())
    assert schema_differences(database_url) == []
    # g1's key and its item key (revision 0021), both without a headline
    assert _rows(database_url, "SELECT headline FROM forgotten_entry") == [(None,), (None,)]
    with open_store(database_url) as store:
        # g1 was forgotten without its headline: another story under it is left out, as before.
        assert storeops.add_entries(store, [item(1, "New story")], now=at + 2 * day) == []
        # A key forgotten from now on keeps its headline: another story under it is news.
        storeops.add_entries(store, [item(2, "Old story")], now=at + 2 * day)
        store.prune(now=at + 3 * day, before=at + 3 * day, matched_before=at, buckets=())
        new = storeops.add_entries(store, [item(2, "New story")], now=at + 4 * day)
        assert [e.title for _, e in new] == ["New story"]


def test_0014_gives_digests_sent_before_no_refused_recipients(database_url: str) -> None:
    day = date(2026, 1, 6)
    at = datetime(2026, 1, 6, 7, tzinfo=UTC)
    with open_store(database_url) as store:
        store.claim_digest(day, owner="a", now=at)
        store.mark_digest_sent(day, at, refused=[("gone@example.org", "550 5.1.1 no such user")])
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0013")
    finally:
        engine.dispose()
    assert upgrade(database_url) == ("0013", migrate.head())
    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        state = store.digest_state(day)
    assert state is not None and state.sent_at == at and state.refused == ()


def test_0015_gives_feeds_a_warning_and_their_next_check_reads_them_whole(
    database_url: str,
) -> None:
    """A body not read since (a 304, an unchanged body) would keep a feed without its warning:
    the validators go, so its next check reads it."""
    now = datetime(2026, 2, 1, 12, tzinfo=UTC)
    feeds = [Feed("a", "https://a.example/rss"), Feed("b", "https://b.example/rss")]
    with open_store(database_url) as store:
        store.sync_feeds(feeds, now=now)
        storeops.record_fetch(store, "a", now=now, ok=True, etag='"a1"', body_hash="h", warning="x")
        storeops.record_fetch(store, "b", now=now, ok=True, last_modified="Sun, 01 Feb 2026")
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0014")
    finally:
        engine.dispose()
    engine = create_engine(database_url)
    try:
        assert "warning" not in {c["name"] for c in inspect(engine).get_columns("feed")}
    finally:
        engine.dispose()

    assert upgrade(database_url) == ("0014", migrate.head())

    assert schema_differences(database_url) == []
    validators = "SELECT id, etag, last_modified, body_hash, warning FROM feed ORDER BY id"
    assert _rows(database_url, validators) == [
        ("a", None, None, None, ""),
        ("b", None, None, None, ""),
    ]
    with open_store(database_url) as store:
        assert [(f.id, f.warning, f.last_success_at) for f in store.feeds()] == [
            ("a", "", now),
            ("b", "", now),
        ]
        due = store.due_feeds(now + timedelta(days=1), owner="x", lease=timedelta(minutes=5))
        assert [(f.id, f.etag, f.last_modified, f.body_hash) for f in due] == [
            ("a", None, None, None),
            ("b", None, None, None),
        ]


def test_0016_leaves_refusals_recorded_before_it_not_retried(database_url: str) -> None:
    """A digest sent before 0016 kept its 4xx refusals, with nothing that says when to resend:
    they stay recorded, and no resend is due."""
    day = date(2026, 1, 6)
    at = datetime(2026, 1, 6, 7, tzinfo=UTC)
    grey = ("grey@example.org", "450 4.2.0 try again later")
    with open_store(database_url) as store:
        store.claim_digest(day, owner="a", now=at)
        store.mark_digest_sent(day, at, refused=[grey], resend_at=at + timedelta(minutes=5))
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0015")
    finally:
        engine.dispose()
    assert upgrade(database_url) == ("0015", migrate.head())
    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        state = store.digest_state(day)
        due = store.claim_resend(now=at + timedelta(days=1), most=5)
    assert state is not None and state.refused == (grey,)
    assert state.resend_at is None and state.resends == 0 and due is None


def test_0017_keeps_the_digest_message_and_leaves_those_sent_before_it_without(
    database_url: str,
) -> None:
    """A digest sent before 0017 has no message kept (it is built again when seen); down, the
    column goes, and one kept is lost with it."""
    day = date(2026, 1, 6)
    at = datetime(2026, 1, 6, 7, tzinfo=UTC)
    with open_store(database_url) as store:
        store.claim_digest(day, owner="a", now=at)
        store.mark_digest_sent(day, at, message=b"Subject: x\r\n\r\nsent\r\n")
        kept = store.kept_digest(day)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0016")
        assert "message" not in {c["name"] for c in inspect(engine).get_columns("digest")}
    finally:
        engine.dispose()
    assert upgrade(database_url) == ("0016", migrate.head())
    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        before, message = store.digest_state(day), store.kept_digest(day)
    assert kept == (at, b"Subject: x\r\n\r\nsent\r\n")
    assert before is not None and before.sent_at == at and message is None


def test_0018_gives_each_feed_the_newest_first_seen_of_its_entries_as_its_last_new_entry(
    database_url: str,
) -> None:
    """A feed with stored entries last brought one when the newest was first seen; one with
    none has no `last_new_at` (NULL) until its next successful read starts the count."""
    now = datetime(2026, 2, 1, 12, tzinfo=UTC)
    day = timedelta(days=1)
    feeds = [Feed(i, f"https://{i}.example/rss") for i in ("a", "b", "c")]

    def item(feed_id: str, n: int) -> Entry:
        return Entry(feed_id, f"g{n}", f"https://{feed_id}.example/{n}", f"T{n}", "", None, "x")

    with open_store(database_url) as store:
        store.sync_feeds(feeds, now=now - 40 * day, default_silent_after=timedelta(days=3))
        for feed_id in ("a", "b"):  # c was never read
            storeops.record_fetch(store, feed_id, now=now - 40 * day, ok=True)
        storeops.add_entries(store, [item("a", 1), item("a", 2)], now=now - 30 * day)
        storeops.add_entries(store, [item("a", 3)], now=now - 20 * day)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0017")
        columns = {c["name"] for c in inspect(engine).get_columns("feed")}
        assert not columns & {"last_new_at", "silent_after_seconds"}
    finally:
        engine.dispose()

    assert upgrade(database_url) == ("0017", migrate.head())

    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        shown = {f.id: (f.last_new_at, f.silent_after) for f in store.feeds()}
        assert shown == {
            "a": (now - 20 * day, timedelta(days=14)),  # until the next start syncs the file
            "b": (None, timedelta(days=14)),
            "c": (None, timedelta(days=14)),
        }
        assert [f.id for f in store.feeds() if f.silent_since(now)] == ["a"]
        assert store.feed_counts(now).silent == 1
        storeops.record_fetch(store, "b", now=now, ok=True)  # nothing new: counted from here
        storeops.record_fetch(store, "a", now=now, ok=True)
        after = {f.id: f.last_new_at for f in store.feeds()}
    assert after == {"a": now - 20 * day, "b": now, "c": None}


def test_0019_keeps_the_first_reading_where_the_rows_tell_it(database_url: str) -> None:
    """An indicator quiet with no change at all was first read at its `since`; one whose first
    reading is lost among later changes stays unknown to the migration (NULL): nothing claimed."""
    started = datetime(2026, 2, 1, 12, tzinfo=UTC)
    read, later = started + timedelta(minutes=4), started + timedelta(minutes=20)
    with open_store(database_url) as store:
        store.ensure_indicators(["only-quiet", "moved-later", "read-at-once"], now=started)
        first = [StatusChange(i, read, INITIAL, QUIET, (), "h")
                 for i in ("only-quiet", "moved-later")]  # fmt: skip
        store.record_changes(
            [*first, StatusChange("read-at-once", started, INITIAL, QUIET, (), "h")]
        )
        store.record_changes([StatusChange("moved-later", later, QUIET, UNKNOWN, (), "h")])
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0018")
        assert "read_at" not in {c["name"] for c in inspect(engine).get_columns("indicator_state")}
    finally:
        engine.dispose()

    assert upgrade(database_url) == ("0018", migrate.head())

    assert schema_differences(database_url) == []
    with open_store(database_url) as store:
        assert store.first_readings() == {"only-quiet": read}


def _old_link_key(link: str) -> str:
    """`stories._link_key` before 0021: the link as written, without fragment and end slashes."""
    return link.strip().split("#", 1)[0].rstrip("/")


def _stories(statuses: list[Status], indicator_id: str) -> int:
    [status] = [s for s in statuses if s.indicator_id == indicator_id]
    return status.outcomes[0].stories


def test_0021_leaves_a_story_kept_under_a_link_in_upper_case_one_story(
    database_url: str, feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The older code kept a story under its link as written: a copy under the same link,
    keyed in lower case now, would find no story and count as a second one. The outcomes
    keeping such a link work their stories out again; the others keep theirs."""
    now = datetime.now(UTC).replace(microsecond=0)
    hour = timedelta(hours=1)
    later = now + twofeeds.INTERVAL
    definitions = twofeeds.definitions(
        tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml")
    )
    link = "HTTPS://Wire.Example.COM/visa-1"
    tour_a, tour_b = (news.Item(TOUR, link, now - hour, text) for text in (TOUR_A, TOUR_B))
    feed_server.route("/a.xml", body=news.rss("a", [tour_a]))
    feed_server.route("/b.xml", body=news.rss("b", [twofeeds.local(now - hour)]))
    with monkeypatch.context() as older, open_store(database_url) as store:
        older.setattr(stories_module, "_link_key", _old_link_key)
        stories_module._fingerprint_of.cache_clear()
        run_cycle(twofeeds.context(definitions, store, now=now), now=now)
    stories_module._fingerprint_of.cache_clear()
    stories_module._stories_of.cache_clear()
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0021")  # the later revisions' columns go
    finally:
        engine.dispose()
    _sql(database_url, "UPDATE alembic_version SET version_num = '0020'")  # the same tables

    assert upgrade(database_url) == ("0020", migrate.head())

    assert _rows(database_url, "SELECT indicator_id FROM outcome_state") == [("reads-b",)]
    feed_server.route("/b.xml", body=news.rss("b", [twofeeds.local(now - hour), tour_b]))
    with open_store(database_url) as store:
        run_cycle(twofeeds.context(definitions, store, now=later), now=later)
        kept = kept_statuses(definitions, store, now=later)
        assert _stories(kept, "reads-both") == 2  # the tour deal once, the local story
        assert shown_stories(kept) == shown_stories(evaluate_all(definitions, store, now=later))


def shown_stories(statuses: list[Status]) -> list[tuple[str, str, int]]:
    return [(s.indicator_id, s.status, s.outcomes[0].stories) for s in statuses]
