"""The daily digest's schedule and exactly-once send: a real SQLite file, a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from monitor import healthz
from monitor.cli import main
from monitor.daily import digest_input, due_day, feed_problems, send_daily_digest
from monitor.definitions import load_definitions
from monitor.digest import render
from monitor.domain import Definitions, Feed, StatusChange
from monitor.errors import DigestError
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import Context, prepare, run_cycle
from monitor.settings import Settings
from monitor.statuses import judge
from monitor.store import Cycle, FeedState, Store, open_store
from monitor.store.schema import digest_table
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer, running_smtp_server

SEOUL = ZoneInfo("Asia/Seoul")
SEVEN = time(7, 0)
DAY = date(2026, 1, 6)
ALL_TAGS = ("korea", "china", "japan", "international", "search-dialogue", "search-travel",
            "search-culture", "search-northkorea", "search-business")  # fmt: skip


@pytest.mark.parametrize(
    ("local_now", "last_sent", "expected"),
    [
        (datetime(2026, 1, 6, 6, 59), date(2026, 1, 5), None),  # before time, yesterday's sent
        (datetime(2026, 1, 6, 7, 0), date(2026, 1, 5), date(2026, 1, 6)),  # time has come
        (datetime(2026, 1, 6, 23, 0), None, date(2026, 1, 6)),  # first ever, after time
        (datetime(2026, 1, 6, 6, 0), None, None),  # first ever, before time: nothing missed
        (datetime(2026, 1, 6, 6, 0), date(2026, 1, 4), date(2026, 1, 5)),  # yesterday's missed
        (datetime(2026, 1, 6, 6, 0), date(2025, 12, 1), date(2026, 1, 5)),  # a month down: once
        (datetime(2026, 1, 6, 9, 0), date(2025, 12, 1), date(2026, 1, 6)),  # ...today's only
    ],
)
def test_due_day(local_now: datetime, last_sent: date | None, expected: date | None) -> None:
    now = local_now.replace(tzinfo=SEOUL).astimezone(UTC)
    assert due_day(now, digest_time=SEVEN, zone=SEOUL, last_sent=last_sent) == expected


@pytest.mark.parametrize(
    ("began", "last_sent", "expected"),
    [
        (datetime(2026, 1, 6, 9, 0), None, None),  # new today after 07:00: nothing was missed
        (datetime(2026, 1, 6, 6, 0), None, date(2026, 1, 6)),  # monitored at 07:00: missed it
        (datetime(2026, 1, 5, 9, 0), None, date(2026, 1, 6)),  # new yesterday: today's is due
        (datetime(2026, 1, 6, 9, 0), date(2026, 1, 5), date(2026, 1, 6)),  # sent before
    ],
)
def test_due_day_of_a_new_database(
    began: datetime, last_sent: date | None, expected: date | None
) -> None:
    now = datetime(2026, 1, 6, 23, 0, tzinfo=SEOUL)
    begun = began.replace(tzinfo=SEOUL)
    assert due_day(now, digest_time=SEVEN, zone=SEOUL, last_sent=last_sent, began=begun) == expected


def feed_state(**changes: object) -> FeedState:
    base: dict[str, object] = dict(
        id="f", url="https://example.org/rss", moved_to=None, title="", tags=(),
        interval=timedelta(minutes=15), last_checked_at=None, last_success_at=None,
        http_status=200, not_modified=False, error_count=0, last_error="", next_check_at=None,
        dead=False, failing_since=None, active=True,
    )  # fmt: skip
    return FeedState(**(base | changes))  # type: ignore[arg-type]


def test_feed_problems_name_dead_failing_stale_and_warned_feeds() -> None:
    now = datetime(2026, 1, 6, 12, tzinfo=UTC)
    feeds = [
        feed_state(id="ok", last_success_at=now - timedelta(minutes=20)),
        feed_state(id="new"),  # never checked yet: not a problem
        feed_state(id="dead", dead=True, http_status=410, failing_since=now),
        feed_state(id="down", failing_since=now - timedelta(hours=1), last_error="fetch: HTTP 503"),
        feed_state(id="stale", last_success_at=now - timedelta(hours=2)),
        feed_state(id="cms", last_success_at=now, warning="2 item(s) left out: …"),
        feed_state(id="gone", dead=True, http_status=410, warning="ill-formed"),  # gone first
    ]
    problems = {p.feed_id: p.problem for p in feed_problems(feeds, now=now)}
    assert problems == {
        "dead": "dead: HTTP 410",
        "down": "failing: fetch: HTTP 503",
        "stale": "no successful fetch for 2h",
        "cms": "read with a warning: 2 item(s) left out: …",
        "gone": "dead: HTTP 410",
    }


# ---------------------------------------------------------------- with a store and news


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as s:
        yield s


@pytest.fixture
def definitions(feed_server: FeedServer) -> Definitions:
    published = datetime.now(UTC) - timedelta(hours=3)
    feed_server.route("/yonhap.xml", body=news.yonhap(published))
    feed_server.route("/herald.xml", body=news.herald(published))
    shipped = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    feeds = (
        Feed("yonhap", feed_server.url("/yonhap.xml"), ALL_TAGS),
        Feed("herald", feed_server.url("/herald.xml"), ALL_TAGS),
    )
    return Definitions(shipped.indicators, feeds, shipped.hash)


def check(definitions: Definitions, store: Store, now: datetime) -> None:
    ctx = Context(definitions, Matcher(definitions.indicators), store, FetchLimits(timeout=30))
    prepare(ctx, now=now)
    run_cycle(ctx, now=now)


def settings(smtp: SMTPServer, tmp_path: Path) -> Settings:
    return Settings(
        smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
        digest_to=["reader@example.org"], digest_time=SEVEN, timezone="UTC",
        outbox_dir=tmp_path / "outbox",
    )  # fmt: skip


READ_BEFORE = timedelta(minutes=10)  # the daemon's last check before the digest went out


def at(hour: int, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def test_the_digest_carries_the_changes_since_the_previous_one(
    definitions: Definitions, store: Store
) -> None:
    check(definitions, store, at(7) - READ_BEFORE)
    data = digest_input(definitions, store, day=DAY, now=at(7), timezone="UTC", digest_time=SEVEN)

    assert {c.indicator_id for c in data.changes} == {"visa-easing", "flight-routes"}
    lines = {line.id: line for line in data.indicators}
    assert lines["visa-easing"].status == "eased:confirmed" and lines["visa-easing"].evidence
    assert set(lines) == {i.id for i in definitions.indicators}

    store.claim_digest(DAY, owner="t", now=at(7))
    store.mark_digest_sent(DAY, at(7))
    tomorrow = DAY + timedelta(days=1)
    later = digest_input(
        definitions, store, day=tomorrow, now=at(7, tomorrow), timezone="UTC", digest_time=SEVEN
    )
    assert later.changes == ()  # nothing changed since the digest of DAY went out


def test_a_change_recorded_while_the_digest_is_sent_is_in_the_next_one(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """The server refuses the first try; during the back-off a check records a change. The
    message was built before it, so the next digest lists it (it started from `sent_at`, and
    the change was in no digest)."""
    check(definitions, store, at(7) - READ_BEFORE)
    clock = [at(7)]
    during = at(7) + timedelta(seconds=3)

    def back_off(_seconds: float) -> None:
        [status] = [s for i, (s, _) in store.current_statuses().items() if i == "visa-easing"]
        store.record_changes([StatusChange("visa-easing", during, status, "quiet", (), "h")])
        clock[0] = at(7) + timedelta(seconds=5)

    with running_smtp_server(fail_first=1) as smtp:
        s = settings(smtp, tmp_path)
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a",
                                 sleep=back_off, clock=lambda: clock[0]).sent  # fmt: skip
    sent = smtp.messages[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    tomorrow = DAY + timedelta(days=1)
    later = digest_input(
        definitions, store, day=tomorrow, now=at(7, tomorrow), timezone="UTC", digest_time=SEVEN
    )

    assert "quiet" not in sent.split("What changed")[1].split("\n\n")[0]
    assert [(c.indicator_id, c.at) for c in later.changes] == [("visa-easing", during)]


@pytest.mark.parametrize("sender", ["this version", "a version before 0011"])
def test_a_past_day_s_digest_leaves_the_later_changes_to_the_next_one(
    definitions: Definitions, store: Store, tmp_path: Path, sender: str
) -> None:
    """Sent in the evening, the digest of the day before lists the changes up to this
    morning's digest time; those of today are in today's digest, not in none (also when a
    version that kept no `covered_until` sent it, before an upgrade)."""
    check(definitions, store, at(9))  # today, after the digest time
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        past = send_daily_digest(definitions, store, s, day=DAY - timedelta(days=1), now=at(18),
                                 owner="a")  # fmt: skip
    if sender != "this version":
        with store._tx("forget the coverage", write=True) as conn:
            conn.execute(update(digest_table).values(covered_until=None))
    today = digest_input(definitions, store, day=DAY, now=at(19), timezone="UTC",
                         digest_time=SEVEN)  # fmt: skip

    assert past.sent
    assert {c.indicator_id for c in today.changes} == {"visa-easing", "flight-routes"}


def test_a_past_day_s_digest_shows_the_statuses_as_they_stood_at_its_end(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """The digest of a day sent two days later (it was missed) shows where things stood at the
    end of what it covers — the next day's digest time — not today's picture: an analyst's
    verdict since took visa-easing down to reported. Today's digest shows it reported."""
    check(definitions, store, at(7) - READ_BEFORE)
    then = digest_input(definitions, store, day=DAY, now=at(7), timezone="UTC", digest_time=SEVEN)
    [confirmed] = [v for v in then.indicators if v.id == "visa-easing"]
    two_days_on = DAY + timedelta(days=2)
    check(definitions, store, at(9, two_days_on) - READ_BEFORE)  # the daemon runs again
    later = at(9, two_days_on) + READ_BEFORE
    judge(definitions, store, entry_id=confirmed.evidence[0].entry_id,
          target=("visa-easing", "eased"), verdict="no", who="analyst",
          now=at(9, two_days_on))  # fmt: skip
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        past = send_daily_digest(definitions, store, s, day=DAY, now=later, owner="a")
    today = digest_input(definitions, store, day=two_days_on, now=later, timezone="UTC",
                         digest_time=SEVEN)  # fmt: skip
    past_view = digest_input(definitions, store, day=DAY, now=later, timezone="UTC",
                             digest_time=SEVEN)  # fmt: skip

    assert past.sent
    text = smtp.messages[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    standing = text.split("STANDING STATUS")[1].split("FEED HEALTH")[0]
    visa = standing.split("Visa")[1].split("\n* ")[0]
    assert "eased — confirmed   (since 2026-01-06 06:50 UTC)" in visa
    assert "eased — reported" not in standing
    assert "As they stood at 2026-01-07 07:00 UTC, where the changes above end." in standing
    lines = {v.id: v for v in past_view.indicators}
    assert set(lines) == {i.id for i in definitions.indicators}
    assert lines["visa-easing"].status == "eased:confirmed"
    assert lines["visa-easing"].since == at(7) - READ_BEFORE
    assert [e.entry_id for e in lines["visa-easing"].evidence] == [
        e.entry_id for e in confirmed.evidence
    ]
    assert {v.id: v.status for v in today.indicators}["visa-easing"] == "eased:reported"
    assert today.standing_at is None and past_view.standing_at == at(7, DAY + timedelta(days=1))


def test_a_past_day_s_digest_from_before_monitoring_began_says_none_was_monitored(
    definitions: Definitions, store: Store
) -> None:
    """`--preview --date` of a day before the first reading leaves every indicator out (none
    had a status then): it says so, not that no indicator is defined."""
    check(definitions, store, at(9))
    past = digest_input(definitions, store, day=DAY - timedelta(days=3), now=at(10),
                        timezone="UTC", digest_time=SEVEN)  # fmt: skip
    today = digest_input(definitions, store, day=DAY, now=at(10), timezone="UTC",
                         digest_time=SEVEN)  # fmt: skip

    text, html = render(past)

    assert not past.indicators
    standing = text.split("STANDING STATUS")[1].split("FEED HEALTH")[0]
    assert "No indicator was monitored then." in standing
    assert "No indicator was monitored then." in html
    assert "No indicators are defined." not in text + html
    assert "No indicator was monitored then." not in render(today)[0]


def test_a_sent_day_s_digest_seen_again_is_the_one_that_went_out(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """The digest of a day sent at its time covered the changes up to then: previewed (or sent
    with --force) days later it lists those and the statuses as they stood then, not the next
    day's changes (they are the next digest's) under statuses of the next day's digest time."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        sent = send_daily_digest(definitions, store, settings(smtp, tmp_path), day=DAY,
                                 now=at(7), owner="a")  # fmt: skip
    then = digest_input(definitions, store, day=DAY, now=at(7), timezone="UTC", digest_time=SEVEN)
    [confirmed] = [v for v in then.indicators if v.id == "visa-easing"]
    # After the digest went out, before the next one: the next digest's change.
    judge(
        definitions,
        store,
        entry_id=confirmed.evidence[0].entry_id,
        target=("visa-easing", "eased"),
        verdict="no",
        who="analyst",
        now=at(12),
    )
    two_days_on = DAY + timedelta(days=2)
    again = digest_input(definitions, store, day=DAY, now=at(9, two_days_on), timezone="UTC",
                         digest_time=SEVEN)  # fmt: skip
    following = digest_input(definitions, store, day=DAY + timedelta(days=1),
                             now=at(9, two_days_on), timezone="UTC", digest_time=SEVEN)  # fmt: skip

    assert sent.sent
    assert [c.indicator_id for c in again.changes] == [c.indicator_id for c in then.changes]
    assert {v.id: v.status for v in again.indicators}["visa-easing"] == "eased:confirmed"
    assert again.standing_at == at(7)
    assert [c.indicator_id for c in following.changes] == ["visa-easing"]  # the verdict's


def test_a_day_left_unsent_lists_none_of_what_a_later_sent_digest_listed(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Today's digest went out listing this morning's changes; the digest of yesterday, never
    sent, seen or sent afterwards (`--date`) ends where today's began: nothing twice."""
    check(definitions, store, at(6))
    with running_smtp_server() as smtp:
        today = send_daily_digest(definitions, store, settings(smtp, tmp_path), day=DAY,
                                  now=at(7), owner="a")  # fmt: skip
    yesterday = digest_input(definitions, store, day=DAY - timedelta(days=1), now=at(8),
                             timezone="UTC", digest_time=SEVEN)  # fmt: skip
    sent = digest_input(definitions, store, day=DAY, now=at(8), timezone="UTC", digest_time=SEVEN)

    assert today.sent
    assert {c.indicator_id for c in sent.changes} == {"visa-easing", "flight-routes"}
    assert yesterday.changes == ()


def test_a_past_day_s_digest_leaves_out_what_was_not_monitored_yet(
    definitions: Definitions, store: Store
) -> None:
    """An indicator added after the day had no status then: it is left out of that day's
    standing statuses; one quiet since its first reading (which records no change) is quiet
    since monitoring it began."""
    added = "north-korea-stance"
    first = Definitions(tuple(i for i in definitions.indicators if i.id != added),
                        definitions.feeds, definitions.hash)  # fmt: skip
    check(first, store, at(7) - READ_BEFORE)
    two_days_on = DAY + timedelta(days=2)
    check(definitions, store, at(9, two_days_on) - READ_BEFORE)
    past = digest_input(definitions, store, day=DAY, now=at(9, two_days_on), timezone="UTC",
                        digest_time=SEVEN)  # fmt: skip

    lines = {v.id: v for v in past.indicators}
    assert set(lines) == {i.id for i in first.indicators}
    assert store.history("dialogue-mechanisms") == []
    assert lines["dialogue-mechanisms"].status == "quiet"
    assert lines["dialogue-mechanisms"].since == at(7) - READ_BEFORE
    assert lines["dialogue-mechanisms"].evidence == ()


def test_a_day_s_digest_is_sent_exactly_once(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        first = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        again = send_daily_digest(definitions, store, s, day=DAY, now=at(8), owner="b")
        forced = send_daily_digest(definitions, store, s, day=DAY, now=at(9), owner="b",
                                   force=True)  # fmt: skip

    assert first.sent and not again.sent and forced.sent
    assert "already sent" in again.reason
    assert len(smtp.messages) == 2
    message = smtp.messages[0].message
    assert message["Subject"] == "monitor digest 2026-01-06: 2 indicators changed"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://en.yna.co.kr/view/AEN1" in text and "eased — confirmed" in text
    assert store.digest_state(DAY).sent_at == at(9)  # type: ignore[union-attr]


def test_with_a_public_url_the_digest_links_each_indicator_to_its_page(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """MONITOR_PUBLIC_URL: what changed and every standing status link to the indicator's page
    there, in both parts of the mail the SMTP server receives."""
    check(definitions, store, at(6))
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path).model_copy(update={"public_url": "https://m.example.org/"})
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a").sent
    message = smtp.messages[0].message
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    visa = "https://m.example.org/indicators/visa-easing/page"
    assert text.count(f"  Page: {visa}") == 2  # what changed, and its standing status
    for indicator in definitions.indicators:
        page = f"https://m.example.org/indicators/{indicator.id}/page"
        assert f"  Page: {page}" in text and f'href="{page}"' in html


def test_without_a_public_url_the_digest_names_no_page(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    check(definitions, store, at(6))
    with running_smtp_server() as smtp:
        assert send_daily_digest(
            definitions, store, settings(smtp, tmp_path), day=DAY, now=at(7), owner="a"
        ).sent
    text = smtp.messages[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Page:" not in text and "/indicators/" not in text


def test_a_failed_send_releases_the_claim_and_a_later_run_sends_it(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    check(definitions, store, at(6))
    sleeps: list[float] = []
    with running_smtp_server(fail_first=5) as smtp:
        s = settings(smtp, tmp_path)
        with pytest.raises(DigestError, match="451"):
            send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a",
                              sleep=sleeps.append)  # fmt: skip
        failed = store.digest_state(DAY)
        read = at(6) + timedelta(minutes=1)  # the feeds were read a minute ago
        told = healthz.health(store, now=read, started=at(6), max_age=timedelta(hours=1))
        retried = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="b",
                                    sleep=sleeps.append)  # fmt: skip
        healed = healthz.health(store, now=read, started=at(6), max_age=timedelta(hours=1))

    assert failed is not None and failed.sent_at is None and "451" in failed.last_error
    assert failed.claimed_by is None  # released at once: no need to wait for it to go stale
    assert retried.sent and len(smtp.messages) == 1
    assert sleeps == [5.0, 10.0, 20.0, 40.0]  # the first call's back-off, then one good send
    # /healthz says so until the retry sends it: the digest is what most readers see.
    reason = f"the digest of {DAY} is not sent: {failed.last_error}"
    assert told.status == "degraded" and told.code == 200 and reason in told.reasons
    assert healed.status == "ok" and healed.reasons == []


def test_healthz_forgets_a_digest_that_failed_days_ago(store: Store) -> None:
    """Only the latest digest of a recent day counts (DIGEST_FAILURE_DAYS: today or the two days
    before in any time zone): one that failed before that, or before a later day's was sent,
    says nothing of the digests now."""
    store.claim_digest(DAY, owner="a", now=at(7))
    store.mark_digest_failed(DAY, "smtp 127.0.0.1:25: connection refused", at(7))
    limits = {"started": at(6), "max_age": timedelta(days=9)}
    store.record_cycle(Cycle(at(7), at(7)))
    then = healthz.health(store, now=at(23) + timedelta(days=2), **limits)  # local: D+3 east
    later = healthz.health(store, now=at(7) + timedelta(days=4), **limits)
    store.claim_digest(DAY + timedelta(days=1), owner="a", now=at(7))
    store.mark_digest_sent(DAY + timedelta(days=1), at(7) + timedelta(days=1))
    after = healthz.health(store, now=at(7) + timedelta(days=1), **limits)

    assert f"the digest of {DAY} is not sent: smtp 127.0.0.1:25: connection refused" in (
        then.reasons
    )
    assert not any("digest" in reason for reason in later.reasons + after.reasons)


GONE = "550 5.1.1 <gone@example.org>: no such user"


def test_recipients_the_server_refuses_are_recorded_with_the_sent_digest(
    definitions: Definitions, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Taken for one recipient, refused for the other: the digest is sent (the one has it),
    and the refusal is kept with it and told whenever that day's digest is asked for again,
    not only logged."""
    check(definitions, store, at(6))
    with running_smtp_server(refuse={"gone@example.org": GONE}) as smtp:
        s = settings(smtp, tmp_path).model_copy(
            update={"digest_to": ["reader@example.org", "gone@example.org"]}
        )
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        again = send_daily_digest(definitions, store, s, day=DAY, now=at(8), owner="b")

    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",)]
    assert sent.sent and sent.refused == (("gone@example.org", GONE),)
    state = store.digest_state(DAY)
    assert state is not None and state.sent_at == at(7)
    assert state.refused == (("gone@example.org", GONE),)
    assert not again.sent and again.refused == state.refused
    told = f"the server refused gone@example.org ({GONE})"
    assert again.reason == f"already sent at {at(7):%Y-%m-%d} 07:00:00 UTC; {told}"
    assert f"but it refused gone@example.org ({GONE})" in caplog.text


def test_a_digest_every_recipient_refuses_is_not_marked_sent(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    check(definitions, store, at(6))
    with running_smtp_server(refuse={"gone@example.org": GONE}) as smtp:
        s = settings(smtp, tmp_path).model_copy(update={"digest_to": ["gone@example.org"]})
        with pytest.raises(DigestError, match="every recipient refused"):
            send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        failed = store.digest_state(DAY)
        smtp.handler.refuse.clear()  # the address is fixed; the next run sends it
        retried = send_daily_digest(definitions, store, s, day=DAY, now=at(8), owner="a")

    assert failed is not None and failed.sent_at is None and failed.claimed_by is None
    assert f"gone@example.org ({GONE})" in failed.last_error
    assert retried.sent and retried.refused == ()
    assert [m.rcpt_tos for m in smtp.messages] == [("gone@example.org",)]


def test_healthz_says_a_digest_every_recipient_refused_failed_without_the_addresses(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """/healthz answers without a token: it says the digest is not sent, and why, but not to
    whom (the error names each refused address; README: "Not on /healthz")."""
    check(definitions, store, at(6))
    with running_smtp_server(refuse={"gone@example.org": GONE}) as smtp:
        s = settings(smtp, tmp_path).model_copy(update={"digest_to": ["gone@example.org"]})
        with pytest.raises(DigestError, match="every recipient refused"):
            send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
    read = at(6) + timedelta(minutes=1)  # the feeds were read a minute ago
    told = healthz.health(store, now=read, started=at(6), max_age=timedelta(hours=1))

    assert told.status == "degraded"
    assert any(f"the digest of {DAY} is not sent: " in reason for reason in told.reasons)
    assert any("every recipient refused" in reason for reason in told.reasons)
    assert "gone@example.org" not in told.model_dump_json()


def test_a_claim_left_by_a_crashed_sender_goes_stale_and_is_retaken(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    assert store.claim_digest(DAY, owner="crashed", now=at(7))
    with running_smtp_server() as smtp:
        s = settings(smtp, tmp_path)
        fresh = send_daily_digest(definitions, store, s, day=DAY, now=at(7) + timedelta(minutes=1),
                                  owner="b")  # fmt: skip
        stale = send_daily_digest(definitions, store, s, day=DAY, now=at(8), owner="b")

    assert not fresh.sent and fresh.reason == "claimed by another sender"
    assert stale.sent and len(smtp.messages) == 1


def test_digest_command_previews_without_sending_and_sends_once(
    definitions: Definitions, tmp_path: Path, database_url: str
) -> None:
    with open_store(database_url) as s:
        check(definitions, s, datetime.now(UTC))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(
        f"  - {{id: {f.id}, url: '{f.url}', tags: [{', '.join(ALL_TAGS)}]}}\n"
        for f in definitions.feeds
    ))  # fmt: skip
    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_FEEDS_FILE": str(feeds),
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_SMTP_HOST": "",
    }
    runner = CliRunner()
    eml = tmp_path / "preview.eml"

    preview = runner.invoke(main, ["digest", "--preview"], env=env)
    written = runner.invoke(main, ["digest", "--preview", "--out", str(eml)], env=env)
    sent = runner.invoke(main, ["digest", "--send"], env=env)
    again = runner.invoke(main, ["digest", "--send"], env=env)
    forced = runner.invoke(main, ["digest", "--send", "--force"], env=env)
    neither = runner.invoke(main, ["digest"], env=env)
    future = runner.invoke(main, ["digest", "--send", "--date", "2999-06-01"], env=env)
    nowhere = runner.invoke(main, ["digest", "--preview", "--out", str(tmp_path / "no/x.eml")],
                            env=env)  # fmt: skip
    out_with_send = runner.invoke(main, ["digest", "--send", "--out", str(eml)], env=env)
    both = runner.invoke(main, ["digest", "--send", "--preview"], env=env)
    forced_preview = runner.invoke(main, ["digest", "--preview", "--force"], env=env)

    assert preview.exit_code == 0, preview.output
    assert "2 indicators changed" in preview.stdout and "WHAT CHANGED" in preview.stdout
    assert written.exit_code == 0 and eml.read_bytes().startswith(b"Subject: ")
    assert not (tmp_path / "outbox").exists() or sent.exit_code == 0
    assert sent.exit_code == 0 and "sent to" in sent.stdout
    assert again.exit_code == 1 and "already sent" in again.output
    assert forced.exit_code == 0
    assert len(list((tmp_path / "outbox").glob("digest-*.eml"))) == 1
    assert neither.exit_code == 2
    # A day to come would be marked sent, and its digest never go out; the day is left alone.
    assert future.exit_code == 2 and "a day still to come" in future.output
    with open_store(database_url) as s:
        assert s.digest_state(date(2999, 6, 1)) is None
    assert nowhere.exit_code == 1 and "No such file or directory" in nowhere.output
    assert "Traceback" not in nowhere.output
    assert out_with_send.exit_code == 2 and "--out goes with --preview" in out_with_send.output
    # --force with --preview was ignored: the sent day's message, not one built anew.
    assert forced_preview.exit_code == 2 and forced_preview.stdout == ""
    assert "--force goes with --send" in forced_preview.stderr
    # Both flags once previewed without a word: the user meant to send, or did not.
    assert both.exit_code == 2 and "not both" in both.output
