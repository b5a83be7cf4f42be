"""A recorded status change keeps every feed that supported no status then, whole
(`StatusChange.unread`, the column `status_change.unread_feeds` of revision 0034), and shows it
wherever the change is shown: `monitor history` (and `--json`), `GET /indicators/{id}/history`,
the page's history, alerts, the Atom feeds, `/export/changes` and the digest, while `reason`
stays the short line (`…; and 22 more`). A real cycle against feeds served on 127.0.0.1, on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.alerttext import build_alert
from monitor.cli import main
from monitor.daily import digest_input
from monitor.definitions import load_definitions
from monitor.digest import build_digest
from monitor.domain import INITIAL, UNKNOWN, Definitions, StatusChange, UnreadFeed
from monitor.evaluate import unread_text
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from monitor.web import create_app
from monitor.webmodels import ChangeOut
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.test_digest import parts
from tests.test_unread_feeds import DEAD, _definitions
from tests.webdata import WEB, settings

NOT_A_FEED = b"<html><body><p>Service moved</p>" + b"<p>x</p>" * 9


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def _went_unknown(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> tuple[datetime, Definitions, StatusChange]:
    """`reads-dead` read, then its 25 feeds failing (404 each; dead02 not a feed, an error of
    over 80 characters) for two intervals: its change to unknown recorded. Returns the moment,
    the definitions, the change."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    feed_server.route("/ok.xml", body=news.rss("ok", [twofeeds.wire(start - timedelta(hours=1))]))
    for n in range(1, DEAD + 1):
        feed_server.route(f"/gone{n}.xml", body=news.rss("dead", []))
    defs = _definitions(tmp_path, feed_server)
    ctx = twofeeds.context(defs, store, now=start)
    run_cycle(ctx, now=start)  # read: reads-dead quiet
    for n in range(1, DEAD + 1):
        del feed_server.routes[f"/gone{n}.xml"]  # 404 from now on
    feed_server.route("/gone2.xml", body=NOT_A_FEED)  # an error over 80 characters
    failing = start + timedelta(hours=1)
    run_cycle(ctx, now=failing)
    now = failing + 2 * twofeeds.INTERVAL + timedelta(minutes=1)
    report = run_cycle(ctx, now=now)
    [change] = [c for c in report.changes if c.indicator_id == "reads-dead"]
    assert change.new_status == UNKNOWN
    return now, defs, change


def test_a_change_to_unknown_keeps_every_unread_feed_whole_where_it_is_shown(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path
) -> None:
    """Before, the change said `feeds not read: dead01: …; dead02: …; dead03: …; and 22 more`
    wherever it was shown: a week later nobody could tell which the 22 were, nor what the
    errors cut at 80 characters said."""
    now, defs, _change = _went_unknown(feed_server, store, tmp_path)
    [recorded] = store.history("reads-dead", limit=1)
    assert recorded.unread is not None and len(recorded.unread) == DEAD
    assert recorded.reason.endswith("; and 22 more")  # for people, as before
    [long] = [u.error for u in recorded.unread if u.feed_id == "dead02"]
    assert len(long) > 80 and long.endswith(": not a feed (line 1, column 104: no element found)")
    assert long not in recorded.reason and long[:70] in recorded.reason  # cut there, whole here

    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    with TestClient(app) as client:
        live = client.get("/indicators/reads-dead").json()
        api = client.get("/indicators/reads-dead/history").json()["items"][0]
        page = client.get("/indicators/reads-dead/page", headers={"Accept": "text/html"}).text
        exported = client.get("/export/changes?format=csv").text
        atom = client.get("/indicators/reads-dead/changes.atom").text
    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
           "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}  # fmt: skip
    runner = CliRunner()
    cli = json.loads(runner.invoke(main, ["history", "reads-dead", "--json"], env=env).stdout)
    text = runner.invoke(main, ["history", "reads-dead"], env=env, catch_exceptions=False).stdout

    # One model: what the indicator said of its feeds when it went unknown is what it says now.
    assert len(api["unread_feeds"]) == DEAD
    assert api["unread_feeds"] == live["unread_feeds"] == cli["unread_feeds"]
    assert api["reason"] == live["reason"]
    lines = [unread_text(u, whole=True) for u in recorded.unread]
    assert "  feeds not read then (25):\n" in text
    for line in lines:
        assert f"    {line}\n" in text
        assert line.split(": ", 1)[1] in page  # its times as the page writes them
    assert 'data-unread-then="25"' in page
    assert long in page and long in atom
    rows = {r["indicator"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert rows["reads-dead"]["unread_feeds_count"] == "25"
    assert rows["reads-all"]["unread_feeds_count"] == "0"  # recorded with every feed read

    alert = build_alert(recorded, "Visas").body
    assert alert.count("\n- dead") == DEAD and long in alert

    data = digest_input(defs, store, day=now.date(), now=now, timezone="UTC")
    mail_text, html = parts(build_digest(data, sender="m@example.org", recipients=["r@x.org"]))
    said = "25 feeds not read then: `monitor history reads-dead` lists each with its whole error"
    assert said in " ".join(mail_text.split())  # the text part: the command in backticks
    assert (
        said.replace("`monitor history reads-dead`", "<code>monitor history reads-dead</code>")
        in html
    )
    assert "`" not in html  # the HTML part shows the command as code, not its backticks
    assert long not in mail_text  # a pointer, not the list: the digest's budget


def test_a_change_recorded_with_no_unread_feed_list_says_so_and_shows_no_list(
    store: Store,
) -> None:
    """A change whose reason names its feeds whole (three at most, no error cut) lists nothing
    more; one that kept none (recorded before 0034: `unread` None) shows `null` and its
    reason alone, no invented detail."""
    at = datetime(2026, 2, 1, tzinfo=UTC)
    few = (UnreadFeed("a", "failing", at - timedelta(hours=1), "fetch: HTTP 404 Not Found"),)
    reason = "feeds not read: " + unread_text(few[0])
    known = StatusChange("nk", at, "x:reported", UNKNOWN, (), "h", reason=reason, unread=few)
    old = StatusChange("ok", at, "x:reported", UNKNOWN, (), "h", reason="feeds not read: b: gone")
    first = [StatusChange(i, at - timedelta(days=1), INITIAL, "x:reported", (), "h", unread=())
             for i in ("nk", "ok")]  # fmt: skip
    store.record_changes([*first, known, old], now=at)
    kept, _first = store.history("nk")
    before, _first = store.history("ok")
    assert _first.unread == ()  # every feed read: kept as none, not as not known
    assert kept.unread == few and before.unread is None
    assert ChangeOut.of(before).model_dump(mode="json")["unread_feeds"] is None
    listed = ChangeOut.of(kept).model_dump(mode="json")["unread_feeds"]
    assert listed == [{"feed": "a", "why": "failing", "since": "2026-01-31T23:00:00Z",
                       "error": "fetch: HTTP 404 Not Found"}]  # fmt: skip
    for change in (kept, before):
        assert "Feeds not read then" not in build_alert(change, "x").body


def test_the_page_counts_one_feed_not_read_then_as_one_feed(store: Store) -> None:
    """A change recorded while one of the indicator's feeds failed folds that feed under it on
    the page; its summary said `1 feeds not read then, each with its whole error`, and the digest
    `1 feed not read then: … lists each with its whole error`: a count names its noun as the
    number asks (README, Commands)."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    one = (UnreadFeed("herald", "never_read", None, "fetch: HTTP 404 Not Found"),)
    change = StatusChange("visa-easing", at, INITIAL, "eased:reported", (), "h", unread=one)
    store.record_changes([change], now=at)
    defs = load_definitions(WEB / "indicators", WEB / "feeds.yaml")
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: at + timedelta(minutes=1))  # fmt: skip
    with TestClient(app) as client:
        page = client.get("/indicators/visa-easing/page", headers={"Accept": "text/html"}).text
    assert 'data-unread-then="1"' in page
    assert "1 feed not read then, with its whole error" in page
    assert "1 feeds" not in page
    data = digest_input(defs, store, day=at.date(), now=at + timedelta(minutes=1), timezone="UTC")
    mail_text, html = parts(build_digest(data, sender="m@example.org", recipients=["r@x.org"]))
    said = "1 feed not read then: `monitor history visa-easing` lists it with its whole error"
    assert said in " ".join(mail_text.split())
    assert (
        said.replace("`monitor history visa-easing`", "<code>monitor history visa-easing</code>")
        in html
    )


def test_history_lists_the_feeds_not_read_then_under_a_change_with_no_reason_too(
    store: Store, database_url: str
) -> None:
    """A change a feed's failure did not cause (no `because` line) still lists the feeds not read
    when it was recorded, right under its line; the README said the list comes under the
    `because` line only, so a first reader took the list for a misplaced one."""
    at = datetime(2026, 2, 1, 9, tzinfo=UTC)
    one = (UnreadFeed("herald", "never_read", None, "fetch: HTTP 404 Not Found"),)
    store.record_changes([StatusChange("visa-easing", at, INITIAL, "eased:reported", (), "h",
                                       unread=one)], now=at)  # fmt: skip
    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(WEB / "indicators"),
           "MONITOR_FEEDS_FILE": str(WEB / "feeds.yaml")}  # fmt: skip
    result = CliRunner().invoke(main, ["history", "visa-easing"], env=env, catch_exceptions=False)

    assert result.stdout.splitlines() == [
        "2026-02-01 09:00 UTC  unknown -> eased:reported",
        "  feeds not read then (1):",
        "    herald: never read (fetch: HTTP 404 Not Found)",
    ]
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    [row] = [line for line in readme.splitlines() if line.startswith("| `monitor history ID")]
    assert "under a change's line (after its `because` line when it has one:" in row
