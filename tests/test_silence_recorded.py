"""A silence holds back what is recorded while it is in force, whatever moment a change is dated.

A change to `unknown` is dated when the feeds stopped supporting the status, which can be before
a silence began although it is recorded after (a `monitor check` after a while without checks);
a check's changes are dated when its cycle began, and recorded when it ends. Either way its
alert waits in the outbox (sent by another daemon sharing the database), the digest's "what
changed" holds it and lists it after the silence ends, and so do the Atom feeds. Whole cycles
over feeds served on 127.0.0.1, the store on SQLite and PostgreSQL, alerts to a real webhook,
digests through a real SMTP server (aiosmtpd), the time controlled."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from monitor.alerts import Outbox, send_pending
from monitor.daily import send_daily_digest
from monitor.domain import Definitions
from monitor.notify import Notifier
from monitor.pipeline import Context, prepare, run_cycle
from monitor.settings import Settings
from monitor.statuses import begin_silence
from monitor.store import Store, open_store
from monitor.web import create_app
from tests import twofeeds
from tests.feedserver import FeedServer
from tests.news import Item, rss
from tests.smtpserver import running_smtp_server
from tests.webdata import settings
from tests.webhook import running_webhook

store, two_feeds = twofeeds.store, twofeeds.two_feeds  # fixtures

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTERVAL = twofeeds.INTERVAL
MINUTE = timedelta(minutes=1)
NOTHING = rss("A", [Item("Seoul stocks close higher on chip rally", "https://a.example.com/1")])
TITLE = "Visas, as read in a"  # the indicator reads-a, reading feed a alone


def context(definitions: Definitions, store: Store) -> Context:
    """A check's context: alerts recorded in the outbox, bodies parsed in this process."""
    ctx = twofeeds.context(definitions, store, now=NOW)
    return replace(ctx, alerts=True, parse_workers=1)


def outbox(store: Store, url: str) -> Outbox:
    titles = {i: i for i in twofeeds.READING} | {"reads-a": TITLE}
    return Outbox(store, Notifier([url], attempts=1, timeout=5), titles, "other-daemon")


def reads_a(store: Store) -> list[tuple[str, str, datetime]]:
    return [(c.old_status, c.new_status, c.at) for c in reversed(store.history("reads-a"))]


def atom(store: Store, definitions: Definitions, now: datetime) -> str:
    app = create_app(store=store, definitions=lambda: definitions, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    return TestClient(app).get("/changes.atom").text


def test_a_change_dated_before_a_silence_but_recorded_in_it_is_held_with_the_recovery(
    feed_server: FeedServer, two_feeds: Definitions, store: Store, database_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Feed a fails for longer than two intervals with no check meanwhile; an analyst silences
    its indicator; a `monitor check` then records `quiet -> unknown` (dated when the feed
    stopped supporting `quiet`, before the silence) and, its feed read again, `unknown ->
    quiet`: both recorded while the silence is in force, both held, both go out at its end."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    ctx = context(two_feeds, store)
    run_cycle(ctx, now=NOW)  # read: reads-a is quiet
    feed_server.route("/a.xml", status=503)
    failed = NOW + INTERVAL
    run_cycle(ctx, now=failed)
    stopped = failed + 2 * INTERVAL  # when the readers began to say `unknown`
    begin_silence(two_feeds, store, target=("reads-a", None), duration="2h",
                  reason="state visit", who="ana", now=NOW + 60 * MINUTE)  # fmt: skip
    until = NOW + 180 * MINUTE
    feed_server.route("/a.xml", body=NOTHING)
    check = NOW + 65 * MINUTE  # `monitor check --force`: prepare, then one cycle
    check_ctx = replace(ctx, force=True)
    prepare(check_ctx, now=check)
    run_cycle(check_ctx, now=check)

    assert reads_a(store) == [("quiet", "unknown", stopped), ("unknown", "quiet", check)]
    assert stopped < NOW + 60 * MINUTE  # dated before the silence began
    with running_webhook() as hook, open_store(database_url) as other:
        box = outbox(other, hook.apprise_url("/alerts"))  # another daemon on the database
        assert send_pending(box, now=check) == 0
        assert store.held_alerts(check) == 2 and store.pending_alerts(check) == 0
        assert send_pending(box, now=until - MINUTE) == 0
        assert send_pending(box, now=until) == 2
    messages = [r.json["message"] for r in hook.received]
    assert [r.json["title"] for r in hook.received] == [
        f"monitor: {TITLE}: ⚠ unknown",
        f"monitor: {TITLE}: quiet",
    ]  # oldest first
    assert all("Held back by a silence until it expired" in m for m in messages), messages

    shown = atom(store, two_feeds, check)
    assert TITLE not in shown
    released = atom(store, two_feeds, until)
    assert f"{TITLE}: quiet → unknown" in released and f"{TITLE}: unknown → quiet" in released

    texts = []
    with running_smtp_server() as smtp:
        s = Settings(
            _env_file=None, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
            digest_to=["reader@example.org"], digest_time=time(7, 0), timezone="UTC",
            outbox_dir=tmp_path / "outbox",
        )  # type: ignore[call-arg]  # fmt: skip
        for day, at in ((date(2026, 12, 1), check + 5 * MINUTE),
                        (date(2026, 12, 2), datetime(2026, 12, 2, 7, 0, tzinfo=UTC))):  # fmt: skip
            assert send_daily_digest(two_feeds, store, s, day=day, now=at, owner="t").sent
        for received in smtp.messages:
            texts.append(received.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    changed = [
        t.split("WHAT CHANGED")[1].split("STANDING STATUS")[0].split("SILENCED")[0] for t in texts
    ]
    assert TITLE not in changed[0], changed[0]
    assert "2 changes held back by the silences below" in changed[0], changed[0]
    assert changed[1].count(TITLE) == 2, changed[1]  # each, once, after the silence ended


def test_a_change_of_a_cycle_begun_before_a_silence_and_recorded_after_it_began_is_held(
    feed_server: FeedServer, two_feeds: Definitions, store: Store
) -> None:
    """A check's changes are dated when its cycle began; one recorded after a silence began
    (the silence begun while the cycle fetched) is held like any recorded in it."""
    feed_server.route("/a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    ctx = context(two_feeds, store)
    run_cycle(ctx, now=NOW)
    news = Item(twofeeds.WIRE, twofeeds.WIRE_LINK, NOW)
    feed_server.route("/a.xml", body=rss("A", [news]))
    begun = NOW + INTERVAL
    begin_silence(two_feeds, store, target=("reads-a", None), duration="1h",
                  reason="wire copy", who="ana", now=begun + 2 * MINUTE)  # fmt: skip
    run_cycle(ctx, now=begun, clock=lambda: begun + 4 * MINUTE)  # recorded at its end

    assert reads_a(store) == [("quiet", "waived:reported", begun)]
    with running_webhook() as hook:
        box = outbox(store, hook.apprise_url("/alerts"))
        assert send_pending(box, now=begun + 4 * MINUTE) == 1  # reads-both's: not silenced
        assert send_pending(box, now=begun + 62 * MINUTE) == 1
    sent = [(r.json["title"], "Held back by a silence" in r.json["message"]) for r in hook.received]
    assert sent == [
        ("monitor: reads-both: waived — reported", False),
        (f"monitor: {TITLE}: waived — reported", True),
    ]
