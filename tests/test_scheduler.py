"""The daemon's jobs in-process: a real SQLite file, feeds on 127.0.0.1, real SMTP and webhook."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import migrate
from monitor.counts import count
from monitor.daemon import Daemon, Stopping
from monitor.definitions import load_definitions
from monitor.logs import JsonFormatter
from monitor.reloading import Reloader
from monitor.ruletree import iter_terms
from monitor.scheduler import _guarded, _log_start, build_scheduler
from monitor.settings import Settings
from monitor.shutdown import release_claims
from monitor.store import Store, TakenOver, open_store
from tests import news, storeops
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.processes import ended_process_owner
from tests.smtpserver import running_smtp_server
from tests.webhook import closed_port, running_webhook

ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip


def write_feeds(path: Path, feeds: dict[str, str]) -> None:
    tags = ", ".join(ALL_TAGS)
    path.write_text(
        "feeds:\n"
        + "".join(f"  - {{id: {i}, url: '{u}', tags: [{tags}]}}\n" for i, u in feeds.items())
    )


@pytest.fixture
def home(tmp_path: Path, feed_server: FeedServer) -> Path:
    """indicators/ (a copy of the shipped ones) and feeds.yaml serving the news on 127.0.0.1."""
    shutil.copytree(ROOT / "indicators", tmp_path / "indicators")
    published = datetime.now(UTC) - timedelta(hours=1)
    feed_server.route("/yonhap.xml", body=news.yonhap(published), etag='"y"')
    feed_server.route("/herald.xml", body=news.herald(published), etag='"h"')
    write_feeds(
        tmp_path / "feeds.yaml",
        {"yonhap": feed_server.url("/yonhap.xml"), "herald": feed_server.url("/herald.xml")},
    )
    return tmp_path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{home / 'monitor.db'}") as s:
        yield s


def make_daemon(home: Path, store: Store, **overrides: object) -> Daemon:
    values: dict[str, object] = {
        "indicators_dir": home / "indicators",
        "feeds_file": home / "feeds.yaml",
        "outbox_dir": home / "outbox",
        "check_jitter": 0,
        "fetch_timeout": "30s",  # waited for only by a hang: 127.0.0.1 answers well within it
    }
    settings = Settings(**(values | overrides))  # type: ignore[arg-type]
    definitions = load_definitions(settings.indicators_dir, settings.feeds_file)
    daemon = Daemon(settings, store, definitions, owner="test")
    # These tests reload at once after an edit: a file is not left to settle first (how a file
    # caught half written waits is tested in test_definition_files).
    daemon.reloader = Reloader(settings.indicators_dir, settings.feeds_file, definitions, settle=0)
    daemon.start()
    return daemon


@pytest.mark.parametrize(
    ("intervals", "said"),
    [((None, None), "checked every 15m"), (("1m", "1m"), "checked every 1m"),
     (("1m", None), "checked every 1m to 15m"), (("2h", "30m"), "checked every 30m to 2h")],
)  # fmt: skip
def test_the_first_line_of_the_log_says_how_often_the_feeds_are_checked(
    home: Path,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    intervals: tuple[str | None, str | None],
    said: str,
) -> None:
    """Each feed's own `interval`: with every feed at 1m it said "checked every 15m"."""
    feeds = (home / "feeds.yaml").read_text().splitlines()
    for n, interval in enumerate(intervals, 1):
        if interval is not None:
            feeds[n] = feeds[n].replace("}", f", interval: {interval}}}")
    (home / "feeds.yaml").write_text("\n".join(feeds) + "\n")
    daemon = make_daemon(home, store)

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        _log_start(daemon)

    (line,) = [m for m in caplog.messages if m.startswith("running:")]
    assert f"{said}; digest at 07:00 UTC" in line, line


def test_the_first_line_of_the_log_names_the_database(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Two daemons moved to PostgreSQL (README, Production) logged nothing that said which
    database each one used: a mistyped MONITOR_DATABASE_URL in one `.env` showed nowhere."""
    daemon = make_daemon(home, store)

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        _log_start(daemon)

    (line,) = [m for m in caplog.messages if m.startswith("running:")]
    assert line.endswith(f"; 0 alert channels; database {(home / 'monitor.db').resolve()}"), line


def test_the_first_line_warns_when_the_digest_has_an_smtp_server_and_no_recipient(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """It said "digest at 07:00 UTC to smtp mail.example.org:587" and logged the failure, "no
    recipients", only at the digest time, hours later; with recipients it warns of nothing."""
    for digest_to, warned in (([], True), (["ops@example.org"], False)):
        daemon = make_daemon(home, store, smtp_host="mail.example.org", digest_to=digest_to)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            _log_start(daemon)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == (
            ["digest: MONITOR_SMTP_HOST is set but MONITOR_DIGEST_TO is empty: no digest can"
             " be sent until it names a recipient"] if warned else []
        )  # fmt: skip


def test_a_check_runs_a_cycle_when_a_feed_is_due_and_logs_one_structured_line(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_daemon(home, store)
    before = datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        first = daemon.check()
        second = daemon.check()  # nothing is due for another CHECK_INTERVAL

    assert first and not second
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"
    (line,) = [r for r in caplog.records if r.getMessage().startswith("cycle:")]
    data = json.loads(JsonFormatter().format(line))
    assert data["message"].startswith("cycle: 2 feeds checked")
    assert {k: data[k] for k in ("feeds_checked", "failed", "new_entries", "changes")} == {
        "feeds_checked": 2, "failed": 0, "new_entries": 5, "changes": 2,
    }  # fmt: skip
    assert data["duration"] >= 0 and data["matches"] >= 3 and data["not_modified"] == 0
    next_checks = [f.next_check_at for f in store.feeds()]
    # a whole interval from the cycle's start, however long the test took since
    assert all(n is not None and n >= before + timedelta(minutes=15) for n in next_checks)


def test_jitter_spreads_the_next_checks(home: Path, store: Store) -> None:
    daemon = make_daemon(home, store, check_jitter=0.5)
    before = datetime.now(UTC)
    daemon.check()
    after = datetime.now(UTC)  # however long the check took
    for feed in store.feeds():
        assert feed.next_check_at is not None
        assert before + timedelta(minutes=15) <= feed.next_check_at
        assert feed.next_check_at <= after + timedelta(minutes=22, seconds=30)


def test_status_changes_are_alerted_off_the_check_path(home: Path, store: Store) -> None:
    with running_webhook() as hook:
        daemon = make_daemon(home, store, notify_urls=hook.apprise_url("/alerts"))
        daemon.check()
        assert hook.requests == [] and store.pending_alerts() == 2  # the check sends nothing
        assert daemon.alerts()  # the alerts job
        assert not daemon.alerts()  # each once
        daemon.close()

    titles = sorted(r.json["title"] for r in hook.received)
    assert titles == [
        "monitor: Flight routes between Chinese and Korean cities: expanded — reported",
        "monitor: Visa easing between China and South Korea: eased — confirmed",
    ]
    assert "https://en.yna.co.kr/view/AEN1" in hook.received[1].json["message"]
    assert store.pending_alerts() == 0


def test_a_stop_keeps_the_claim_of_an_alert_being_sent_and_releases_the_rest(
    home: Path, store: Store
) -> None:
    """SIGTERM (or the watchdog) while an alert is being sent: its claim is left to that send,
    which marks it sent; the daemon's other claims (a digest it had claimed) are released."""
    with running_webhook(hold=True) as hook:
        daemon = make_daemon(home, store, notify_urls=hook.apprise_url("/alerts"))
        daemon.check()
        assert store.pending_alerts() == 2
        day = datetime.now(UTC).date() - timedelta(days=3)
        assert store.claim_digest(day, owner=daemon.owner, now=datetime.now(UTC))
        sending = threading.Thread(target=daemon.alerts)
        sending.start()
        assert hook.arrived.acquire(timeout=60)  # the first alert is on its way
        daemon.stop()
        released = release_claims(daemon, timeout=60)
        other = store.claim_alerts(datetime.now(UTC), owner="other", lease=timedelta(minutes=1))
        hook.release.set()
        sending.join(60)

    assert released == TakenOver(digests=(day,))
    assert len(other) == 1  # the alert not being sent; the one in flight stays claimed
    assert len(hook.received) == 1  # and was sent, by the send that had claimed it
    assert store.pending_alerts() == 1  # "other"'s, claimed and not sent


def test_between_cycles_a_status_that_time_alone_changes_is_recorded(
    home: Path, store: Store, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_daemon(home, store, check_interval="15m")
    now = [datetime.now(UTC)]
    daemon.clock = lambda: now[0]
    assert daemon.check()  # read: visa-easing is eased:confirmed
    feed_server.route("/yonhap.xml", status=503, body=b"")
    feed_server.route("/herald.xml", status=503, body=b"")
    for _ in range(2):  # both fail, at 15 and 30 minutes: the next check is at 60
        now[0] += timedelta(minutes=15)
        assert daemon.check()
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"
    now[0] += timedelta(minutes=16)  # failing for over two intervals; no feed is due yet

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert not daemon.check()
    assert store.current_statuses()["visa-easing"][0] == "unknown"
    reason = store.history("visa-easing")[0].reason
    assert reason.startswith("feeds not read: yonhap: failing")
    assert f"visa-easing: eased:confirmed -> unknown because {reason}" in caplog.messages


def test_a_generated_file_of_bad_terms_is_logged_20_problems_at_a_time(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A file of 500 bad regexes was logged as one record of 500 lines; the first 20 by line
    now, then how many more (the record's `problems` keeps every one)."""
    daemon = make_daemon(home, store)
    generated = home / "indicators" / "generated.yaml"
    rule = "outcomes:\n  - id: yes\n    label: l\n    rule:\n      any:\n"
    terms = "".join("        - '/[/'\n" for _ in range(500))
    generated.write_text(f"id: generated\ngroup: g\ntitle: t\nquestion: q\n{rule}{terms}")

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert not daemon.reload_if_changed()

    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    lines = error.getMessage().splitlines()
    assert lines[0].startswith("definitions: 500 problems; keeping the last valid set")
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == f"  {generated}: … and 480 more (monitor validate --json lists every one)"
    assert len(error.problems) == 500  # type: ignore[attr-defined]


def test_an_invalid_edit_is_reported_and_the_last_valid_set_stays(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_daemon(home, store)
    before = daemon.definitions
    visa = home / "indicators" / "visa-easing.yaml"
    visa.write_text(visa.read_text().replace("outcomes:", "outcomes:\n  - nonsense: [1", 1))

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert not daemon.reload_if_changed()
        assert not daemon.reload_if_changed()  # reported once, not at every tick
    assert daemon.definitions is before
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "keeping the last valid set (7 indicators" in error.getMessage()
    assert f"{visa}:" in error.getMessage()
    assert all(p.startswith(f"{visa}:") for p in error.problems)  # type: ignore[attr-defined]

    visa.unlink()  # a valid edit: one indicator fewer
    assert daemon.reload_if_changed()
    assert len(daemon.definitions.indicators) == 6
    daemon.check()
    assert store.current_statuses()["flight-routes"][0] == "expanded:reported"


def test_an_invalid_edit_is_shown_until_the_files_are_valid_again(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon's `validity` (read by /healthz, /metrics and the page) says the files on disk
    are invalid until they are valid again, which is logged, also when the set is the one in
    force (the file restored)."""
    daemon = make_daemon(home, store)
    visa = home / "indicators" / "visa-easing.yaml"
    good = visa.read_text()
    visa.write_text(good.replace("outcomes:", "outcomes:\n  - nonsense: [1", 1))
    assert not daemon.reload_if_changed()
    validity = daemon.reloader.validity
    assert validity.invalid and all(p.startswith(f"{visa}:") for p in validity.problems)
    n = len(validity.problems)
    assert validity.reason().startswith(f"definitions: {count(n, 'problem')} in {visa}:")
    assert validity.reason().endswith(
        f"; the last valid set is in force, from before these edits: changed: {visa}"
    )

    visa.write_text(good)  # restored: the set in force
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert not daemon.reload_if_changed()
    assert not daemon.reloader.validity.invalid
    (line,) = [r for r in caplog.records if r.getMessage().startswith("definitions valid again")]
    assert line.levelno == logging.INFO
    assert line.getMessage() == (
        f"definitions valid again (the problems were in {visa}): 7 indicators, 2 feeds, the set in"
        f" force (changed: {visa}; no indicator or feed changed)"
    )


def test_an_edited_vocabulary_is_reloaded(home: Path, store: Store) -> None:
    """indicators/vocab/*.yaml are definition files too: editing a list while the daemon runs
    reloads the indicators that use it, as editing an indicator does."""
    daemon = make_daemon(home, store)
    assert not daemon.reload_if_changed()
    actors = home / "indicators" / "vocab" / "actors.yaml"
    actors.write_text(actors.read_text().replace("  - PRC\n", "  - PRC\n  - Zhongnanhai\n", 1))

    assert daemon.reload_if_changed()
    indicators = daemon.definitions.indicators
    raws = {t.raw for i in indicators for o in i.outcomes for t in iter_terms(o.rule.node)}
    assert "Zhongnanhai" in raws


def test_a_reload_asked_by_sighup_with_nothing_changed_keeps_the_set(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_daemon(home, store)
    before = daemon.definitions
    daemon.request_reload()
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert not daemon.reload_if_changed()
    assert daemon.definitions is before
    assert "definitions unchanged" in caplog.text


def test_stopping_abandons_a_slow_fetch_at_once(
    home: Path, store: Store, feed_server: FeedServer
) -> None:
    """The feed answers after 30 s and the fetch would wait 60: a check that ends long before
    either was stopped, not timed out (no wall-clock margin the machine's pace could break)."""
    feed_server.route("/slow.xml", body=news.yonhap(datetime.now(UTC)), delay=30)
    write_feeds(home / "feeds.yaml", {"slow": feed_server.url("/slow.xml")})
    daemon = make_daemon(home, store, fetch_timeout="60s", fetch_total_timeout="60s")
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            daemon.check()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert feed_server.wait_until(lambda s: s.hits("/slow.xml") == 1)  # the fetch is under way
    daemon.stop()
    worker.join(20)

    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Stopping)
    (feed,) = store.feeds()
    assert feed.last_checked_at is None and feed.error_count == 0  # nothing half-written


def test_the_digest_job_sends_the_due_digest_once(home: Path, store: Store) -> None:
    storeops.monitored_since_yesterday(store, datetime.now(UTC))
    with running_smtp_server() as smtp:
        daemon = make_daemon(
            home, store, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
            digest_to="a@example.org,b@example.org", digest_time="00:00",
        )  # fmt: skip
        daemon.check()
        sent = daemon.digest()
        again = daemon.digest()
    assert sent and not again
    (received,) = smtp.messages
    assert received.rcpt_tos == ("a@example.org", "b@example.org")
    assert "2 indicators changed" in received.message["Subject"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_restart_sends_at_once_the_alerts_and_digest_a_killed_daemon_had_claimed(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A daemon of this host killed while sending held the alerts' claims and the day's digest
    claim (an hour and 15 minutes): the restarted daemon sees it is gone, takes them over at
    start-up and sends both in its first ticks, and says so in one line."""
    dead = ended_process_owner()
    storeops.monitored_since_yesterday(store, datetime.now(UTC))
    with running_webhook() as hook, running_smtp_server() as smtp:
        options = {
            "notify_urls": hook.apprise_url("/alerts"), "smtp_host": smtp.host,
            "smtp_port": smtp.port, "smtp_starttls": False, "digest_to": "a@example.org",
            "digest_time": "00:00", "timezone": "UTC",
        }  # fmt: skip
        make_daemon(home, store, **options).check()  # records two changes to alert
        now = datetime.now(UTC)
        assert len(store.claim_alerts(now, owner=dead, lease=timedelta(hours=1))) == 2
        assert store.claim_digest(now.date(), owner=dead, now=now)
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            restarted = make_daemon(home, store, **options)
        restarted.check()  # nothing due: the digest may go out after this first check
        alerted, sent = restarted.alerts(), restarted.digest()
        restarted.close()

    assert alerted and sent
    assert len(hook.received) == 2 and store.pending_alerts() == 0
    (received,) = smtp.messages
    assert received.rcpt_tos == ("a@example.org",)
    took = f"claims: took over 2 alerts and the digest of {now.date()} from {dead}, a process"
    assert [m for m in caplog.messages if m.startswith("claims:")] == [
        f"{took} of this host that is gone"
    ]


def test_a_failing_digest_is_released_and_backed_off(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    storeops.monitored_since_yesterday(store, datetime.now(UTC))
    daemon = make_daemon(
        home, store, smtp_host="127.0.0.1", smtp_port=closed_port(), smtp_starttls=False,
        digest_to="a@example.org", digest_time="00:00",
    )  # fmt: skip
    daemon._sleep = lambda _seconds: None  # type: ignore[method-assign]
    assert not daemon.digest()  # not before the first check since start-up
    assert store.digest_state(datetime.now(UTC).date()) is None
    daemon.check()
    assert not daemon.digest()
    assert not daemon.digest()  # backing off: not even tried
    today = datetime.now(UTC).date()
    state = store.digest_state(today)
    assert state is not None and state.sent_at is None and state.claimed_by is None
    assert state.attempts == 1 and "smtp 127.0.0.1" in state.last_error
    assert "trying again in 0:05:00" in caplog.text


def test_a_job_that_raises_is_logged_and_the_scheduler_goes_on(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    _guarded("broken", broken)()
    assert "broken: failed; the daemon goes on" in caplog.text and "boom" in caplog.text

    scheduler = build_scheduler(make_daemon(home, store))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"check", "digest", "cleanup", "alerts", "checkpoint"}
    assert all(j.max_instances == 1 and j.coalesce for j in jobs.values())


def test_a_job_failing_alike_at_every_tick_logs_its_traceback_once_then_at_2_4_8_in_a_row(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure that lasts (a full disk, a database refusing writes) fails the check at every
    tick: each failure logged its whole traceback (some 60 lines on a full disk, for the check
    and the checkpoint every tick), which buried the log, and the disk with it. The traceback
    is logged once; a repeat of the same error is one line that counts it, another error has
    its traceback, and the first run that works says so."""
    daemon = make_daemon(home, store)
    now = [datetime.now(UTC)]
    daemon.clock = lambda: now[0]
    job = build_scheduler(daemon).get_job("check").func

    def check() -> None:  # at a tick an hour on: after a failure, checks back off for less
        now[0] += timedelta(hours=1)
        job()

    refuse = "CREATE TRIGGER refuse BEFORE UPDATE ON feed BEGIN SELECT RAISE(ABORT, '{}'); END"
    with sqlite3.connect(home / "monitor.db") as db:
        db.execute(refuse.format("no writes today"))
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        for _tick in range(8):
            check()
        with sqlite3.connect(home / "monitor.db") as db:
            db.execute("DROP TRIGGER refuse")
            db.execute(refuse.format("nor tomorrow"))
        check()
        with sqlite3.connect(home / "monitor.db") as db:
            db.execute("DROP TRIGGER refuse")
        check()
    logged = [
        (r.levelname, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name == "monitor.daemon" and "check:" in r.getMessage()
    ]

    error = "StoreError: store: unable to claim due feeds: IntegrityError: no writes today"
    assert logged == [
        ("ERROR", "check: failed; the daemon goes on", True),
        ("ERROR", f"check: failed again (2 in a row; traceback above): {error}; the daemon goes on",
         False),
        ("ERROR", f"check: failed again (4 in a row; traceback above): {error}; the daemon goes on",
         False),  # not at the 3rd, 5th, 6th, 7th: at every tick, an outage fills the log
        ("ERROR", f"check: failed again (8 in a row; traceback above): {error}; the daemon goes on",
         False),
        ("ERROR", "check: failed; the daemon goes on", True),  # another error: its traceback
        ("INFO", "check: works again after 9 failures in a row", False),
    ]  # fmt: skip
    assert "no writes today" in caplog.text and "nor tomorrow" in caplog.text
    assert all(f.last_success_at is not None for f in store.feeds())  # the last check read them


def test_cleanup_deletes_old_entries_nothing_matched_and_old_digests_and_says_so(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_daemon(home, store, retention="30d")
    long_ago = datetime.now(UTC) - timedelta(days=60)
    daemon.context.store.sync_feeds(daemon.definitions.feeds, now=long_ago)
    from monitor.parse import parse_feed

    entries = parse_feed(
        news.yonhap(long_ago), feed_id="yonhap", url="https://en.yna.co.kr/"
    ).entries
    storeops.add_entries(store, entries, now=long_ago)  # stored without matches: all three may go
    latest = long_ago + timedelta(days=1)
    for sent in (long_ago, latest):  # the latest digest sent stays, whatever its age
        store.claim_digest(sent.date(), owner="test", now=sent)
        store.mark_digest_sent(sent.date(), sent, message=b"an e-mail")

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert daemon.cleanup() == 3
        assert daemon.cleanup() == 0

    (line,) = [r for r in caplog.records if r.getMessage().startswith("retention:")]
    data = json.loads(JsonFormatter().format(line))
    said = "retention: 3 old entries (0 matched), 0 changes, 0 cycles, 1 digest deleted"
    assert data["message"] == said
    assert {k: data[k] for k in ("deleted", "changes", "digests")} == {
        "deleted": 3, "changes": 0, "digests": 1,
    }  # fmt: skip
    assert store.last_digest() == (latest.date(), latest)


def test_the_checkpoint_job_copies_what_a_cycle_left_in_the_log(home: Path) -> None:
    from tests.test_checkpoint import in_file

    path = home / "daemon.db"
    with open_store(f"sqlite:///{path}", checkpoints=False) as store:
        daemon = make_daemon(home, store)
        assert daemon.check()  # a cycle: entries, matches, statuses written to the log
        stored = len(store.entries_since(datetime.min.replace(tzinfo=UTC)))
        assert stored and in_file(path) < stored
        assert daemon.checkpoint()
        assert in_file(path) == stored


def test_a_daemon_stops_when_another_version_migrates_the_database_under_it(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """`monitor db upgrade` of a newer monitor on another machine, this daemon still running:
    it went on checking, writing rows as it knows them into tables it does not (a new column
    left empty where its migration had filled it)."""
    daemon = make_daemon(home, store)
    now = [datetime.now(UTC)]
    daemon.clock = lambda: now[0]
    assert daemon.check()
    checked = {f.id: f.last_checked_at for f in store.feeds()}
    with sqlite3.connect(home / "monitor.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    now[0] += timedelta(hours=1)  # every feed is due

    with caplog.at_level(logging.INFO, logger="monitor.daemon"), pytest.raises(Stopping):
        daemon.check()
    assert daemon.stopping.is_set()
    assert {f.id: f.last_checked_at for f in store.feeds()} == checked  # nothing was fetched
    message = (
        "store: the database schema is at revision 9999, unknown to this monitor (whose latest is"
        f" {migrate.head()}): it was migrated by a newer version; upgrade monitor"
    )
    assert daemon.fatal == message
    assert f"{message}; this daemon stops" in [
        r.getMessage() for r in caplog.records if r.levelno == logging.ERROR
    ]


def test_every_status_change_the_daemon_records_is_logged_one_line_each(
    home: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the re-evaluation between cycles logged its changes (`visa-easing: eased:confirmed
    -> unknown because …`): a cycle's were only counted (`cycle: … 7 status changes`), so the log
    said a status went unknown and never that it came back, and the change an indicator added
    to the watch list records at the reload (its first look) was in no line at all. Each change
    is one line now, whichever step records it."""

    def logged() -> set[str]:
        return {m for m in caplog.messages if " -> " in m}

    def recorded(ids: list[str]) -> set[str]:
        return {
            f"{c.indicator_id}: {c.old_status} -> {c.new_status}"
            for i in ids
            for c in store.history(i)
        }

    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        daemon = make_daemon(home, store)
        assert daemon.check()
        ids = [i.id for i in daemon.definitions.indicators]
        assert any("eased:confirmed" in line for line in recorded(ids))
        assert recorded(ids) == logged()
        added = home / "indicators" / "visa-copy.yaml"
        source = (home / "indicators" / "visa-easing.yaml").read_text()
        added.write_text(source.replace("id: visa-easing", "id: visa-copy"))
        assert daemon.reload_if_changed()
    assert recorded(["visa-copy"]) == {"visa-copy: unknown -> eased:confirmed"}
    assert recorded([*ids, "visa-copy"]) == logged()
