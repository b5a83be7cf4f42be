"""An indicator whose file is removed: the status changes recorded while it was defined stay
what happened. A past day's digest lists them, titled as the change kept the indicator (title,
group, outcome labels) and marked "no longer defined", and its standing status on the days it
was monitored; `monitor history` and GET /indicators/{id}/history show them; the current views
(`monitor status`, GET /indicators) no longer list it; the Atom feed of changes marks them as
the digest does and links to their history, not to the page that is gone. Feeds and the web
server on 127.0.0.1, real cycles at a controlled clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser
import httpx2 as httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from monitor import migrate
from monitor.cli import main
from monitor.daily import digest_input
from monitor.definitions import load_definitions
from monitor.digest import render
from monitor.domain import Definitions, Judgement, Verdict
from monitor.pipeline import Context, prepare, run_cycle
from monitor.statuses import begin_silence
from monitor.store import Store, metadata, open_store, schema_differences, upgrade
from monitor.store.schema import change_table
from monitor.web import WebServer, create_app
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.twofeeds import LOCAL_LINK
from tests.webdata import settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DAY = date(2026, 1, 6)
CHECKED = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)  # 10:00 in Seoul, that day
LATER = CHECKED + timedelta(days=3)
SEOUL = "Asia/Seoul"


@dataclass(frozen=True)
class Removed:
    """reads-a changed on DAY, then its file was removed."""

    folder: Path
    database_url: str
    before: Definitions  # as on DAY
    after: Definitions  # without reads-a


@pytest.fixture
def removed(tmp_path: Path, feed_server: FeedServer, database_url: str) -> Removed:
    before = twofeeds.definitions(tmp_path, feed_server.url("/a.xml"), feed_server.url("/b.xml"))
    feed_server.route(
        "/a.xml", body=news.rss("/a.xml", [twofeeds.local(CHECKED - timedelta(hours=1))])
    )
    feed_server.route("/b.xml", body=news.rss("/b.xml", []))
    with open_store(database_url) as store:
        changes = run_cycle(twofeeds.context(before, store, now=CHECKED), now=CHECKED).changes
    assert {(c.indicator_id, c.new_status) for c in changes} == {
        ("reads-a", "waived:reported"),
        ("reads-both", "waived:reported"),
    }
    (tmp_path / "indicators" / "reads-a.yaml").unlink()
    after = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")
    return Removed(tmp_path, database_url, before, after)


def digest_text(definitions: Definitions, database_url: str, *, day: date = DAY) -> tuple[str, str]:
    with open_store(database_url) as store:
        data = digest_input(
            definitions, store, day=day, now=LATER, timezone=SEOUL,
            public_url="https://monitor.example.org/",
        )  # fmt: skip
    return render(data)


def test_a_past_days_digest_lists_a_removed_indicators_change_marked_so(removed: Removed) -> None:
    text, html = digest_text(removed.after, removed.database_url)
    changed = text.split("WHAT CHANGED")[1].split("STANDING STATUS")[0]
    assert "* Visas, as read in a (no longer defined)\n  ⚠ unknown → waived — reported" in changed
    assert LOCAL_LINK in changed  # the evidence it kept
    assert "https://monitor.example.org/indicators/reads-a" not in text  # its page is gone
    assert "Visas, as read in a</strong> <span" in html and "(no longer defined)" in html

    while_defined, _ = digest_text(removed.before, removed.database_url)
    assert "no longer defined" not in while_defined
    assert "* Visas, as read in a\n" in while_defined


def standing(text: str) -> str:
    return text.split("STANDING STATUS")[1].split("FEED HEALTH")[0]


def test_a_past_days_standing_statuses_still_list_a_removed_indicator_as_it_stood(
    removed: Removed,
) -> None:
    """A past day's "Standing status" was built from today's definitions: an indicator whose
    file was removed since was left out of the day it stood in, and its change was titled by
    its bare id. The change keeps its title, group and outcome labels (migration 0023)."""
    text, html = digest_text(removed.after, removed.database_url)

    stood = standing(text)
    assert "Tests\n" in stood  # the group it was in
    assert "* Visas, as read in a (no longer defined)\n  waived — reported   (since" in stood
    assert "* Visas, as read in a, b\n  waived — reported" in stood  # still defined
    assert "Visas, as read in a</strong> <span" in html.split("Standing status")[1]
    assert "https://monitor.example.org/indicators/reads-a" not in text  # its page is gone

    while_defined, _ = digest_text(removed.before, removed.database_url)
    assert "* Visas, as read in a\n  waived — reported   (since" in standing(while_defined)


def test_a_digest_of_a_day_after_its_removal_no_longer_lists_it(removed: Removed) -> None:
    """The first check without its file ends its monitoring: a day's digest after that has
    no standing status for it, one of the days before still has."""
    ended = CHECKED + timedelta(days=1, hours=12)
    with open_store(removed.database_url) as store:
        prepare(twofeeds.context(removed.after, store, now=ended), now=ended)
        assert store.monitoring_ended() == {"reads-a": ended}

    after, _ = digest_text(removed.after, removed.database_url, day=DAY + timedelta(days=2))
    assert "Visas, as read in a, b\n" in standing(after) and "reads-a" not in after
    assert "Visas, as read in a\n" not in after
    on_the_day, _ = digest_text(removed.after, removed.database_url)
    assert "* Visas, as read in a (no longer defined)\n" in standing(on_the_day)

    with open_store(removed.database_url) as store:  # its file comes back: monitored again
        prepare(twofeeds.context(removed.before, store, now=LATER), now=LATER)
        assert store.monitoring_ended() == {}


def env(removed: Removed) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": removed.database_url,
        "MONITOR_INDICATORS_DIR": str(removed.folder / "indicators"),
        "MONITOR_FEEDS_FILE": str(removed.folder / "feeds.yaml"),
    }


def test_history_shows_the_changes_of_an_indicator_no_longer_defined(removed: Removed) -> None:
    runner = CliRunner()
    history = runner.invoke(main, ["history", "reads-a"], env=env(removed))
    assert history.exit_code == 0, history.output
    assert "monitor: history: reads-a is no longer defined" in history.stderr
    assert "unknown -> waived:reported" in history.stdout and LOCAL_LINK in history.stdout
    as_json = runner.invoke(main, ["history", "reads-a", "--json"], env=env(removed))
    assert [json.loads(line)["new_status"] for line in as_json.stdout.splitlines()] == [
        "waived:reported"
    ]
    status = runner.invoke(main, ["status", "--json"], env=env(removed))
    assert "reads-a" not in {item["id"] for item in json.loads(status.stdout)}
    unknown = runner.invoke(main, ["history", "reads-c"], env=env(removed))
    assert unknown.exit_code == 1 and "no indicator 'reads-c'" in unknown.output


def test_verdict_list_shows_the_verdicts_on_an_indicator_no_longer_defined(
    removed: Removed,
) -> None:
    """`monitor verdict list` listed them, `monitor verdict list reads-a` said `no indicator
    'reads-a'` (exit 1), where `monitor history reads-a` shows its changes."""
    runner = CliRunner()
    history = runner.invoke(main, ["history", "reads-a", "--json"], env=env(removed))
    judged = json.loads(history.stdout.splitlines()[0])["evidence"][0]["entry_id"]
    with open_store(removed.database_url) as store:
        store.add_verdict(Verdict(judged, "reads-a", "waived", Judgement.NO, "ana", CHECKED))

    listed = runner.invoke(main, ["verdict", "list", "reads-a", "--json"], env=env(removed))
    every = runner.invoke(main, ["verdict", "list", "--json"], env=env(removed))
    unknown = runner.invoke(main, ["verdict", "list", "reads-c"], env=env(removed))

    assert listed.exit_code == 0, listed.output
    assert listed.stderr == "monitor: verdict list: reads-a is no longer defined\n"
    assert [json.loads(line)["entry_id"] for line in listed.stdout.splitlines()] == [judged]
    assert listed.stdout == every.stdout
    assert unknown.exit_code == 1
    # reads-c, never defined, is a letter off reads-b, which is
    assert unknown.stderr == (
        "Error: verdict list: no indicator 'reads-c'; did you mean 'reads-b'?\n"
    )


def test_silence_list_shows_the_silences_of_an_indicator_no_longer_defined(
    removed: Removed,
) -> None:
    """`monitor silence --list` listed them, `monitor silence --list reads-a` said `silence: no
    indicator 'reads-a'` (exit 1)."""
    with open_store(removed.database_url) as store:
        begin_silence(removed.before, store, target=("reads-a", None), duration="1d",
                      reason="state visit", who="ana", now=CHECKED)  # fmt: skip
    runner = CliRunner()

    listed = runner.invoke(main, ["silence", "--list", "reads-a", "--json"], env=env(removed))
    every = runner.invoke(main, ["silence", "--list", "--json"], env=env(removed))
    unknown = runner.invoke(main, ["silence", "--list", "reads-c"], env=env(removed))

    assert listed.exit_code == 0, listed.output
    assert listed.stderr == "monitor: silence: reads-a is no longer defined\n"
    assert [json.loads(line)["reason"] for line in listed.stdout.splitlines()] == ["state visit"]
    assert listed.stdout == every.stdout
    assert (unknown.exit_code, unknown.stderr) == (
        1, "Error: silence: no indicator 'reads-c'; did you mean 'reads-b'?\n"
    )  # fmt: skip
    with open_store(removed.database_url) as store:  # GET /silences answers as the command
        app = create_app(store=store, definitions=lambda: removed.after, settings=settings(),
                         clock=lambda: LATER)  # fmt: skip
        with TestClient(app) as client:
            served = client.get("/silences", params={"indicator": "reads-a"})
            in_force = client.get("/silences", params={"indicator": "reads-a", "active": "true"})
            none = client.get("/silences", params={"indicator": "reads-c"})
    assert served.status_code == 200
    assert [item["reason"] for item in served.json()] == ["state visit"]
    assert (in_force.status_code, in_force.json()) == (200, [])  # 1 day from CHECKED: over at LATER
    assert none.status_code == 404


@pytest.fixture
def client(removed: Removed) -> Iterator[TestClient]:
    with open_store(removed.database_url) as store:
        app = create_app(store=store, definitions=lambda: removed.after, settings=settings(),
                         clock=lambda: LATER)  # fmt: skip
        with TestClient(app) as c:
            yield c


def test_the_api_serves_the_history_of_an_indicator_no_longer_defined(client: TestClient) -> None:
    history = client.get("/indicators/reads-a/history")
    assert history.status_code == 200
    [change] = history.json()["items"]
    assert change["new_status"] == "waived:reported"
    assert (change["title"], change["outcome_label"]) == ("Visas, as read in a", "A visa waiver")
    assert [e["link"] for e in change["evidence"]] == [LOCAL_LINK]
    assert client.get("/indicators/reads-a").status_code == 404  # no current status
    assert "reads-a" not in {item["id"] for item in client.get("/indicators").json()}
    assert client.get("/indicators/reads-c/history").status_code == 404


def test_the_changes_feed_marks_a_removed_indicators_change_and_links_to_what_exists(
    removed: Removed,
) -> None:
    public = "https://monitor.example.org/"
    with open_store(removed.database_url) as store:
        app = create_app(store=store, definitions=lambda: removed.after,
                         settings=settings(public_url=public), clock=lambda: LATER)  # fmt: skip
        with WebServer(app, host="127.0.0.1", port=0) as server:
            answer = httpx.get(f"{server.url}/changes.atom", timeout=60)
            assert answer.status_code == 200
            parsed = feedparser.parse(answer.content)
            assert not parsed.bozo, parsed.get("bozo_exception")
            titles = {e.tags[0].term: e for e in parsed.entries}
            gone, kept = titles["reads-a"], titles["reads-both"]
            assert (
                gone.title == "Visas, as read in a (no longer defined): unknown → waived:reported"
            )
            assert kept.title == "Visas, as read in a, b: unknown → waived:reported"
            assert kept.link == f"{public}indicators/reads-both/page"
            assert "no longer defined" in gone.content[0].value
            local = f"{server.url}/"
            page = httpx.get(f"{local}indicators/reads-a/page", timeout=60)
            assert page.status_code == 404  # its page is gone with its file
            links = [link.href.replace(public, local) for link in gone.links]
            assert links == [f"{local}indicators/reads-a/history"]
            history = httpx.get(links[0], timeout=60)  # where the reader's click goes
            assert history.status_code == 200
            assert history.json()["items"][0]["new_status"] == "waived:reported"


def test_its_own_feed_of_changes_is_still_served_marked_and_linking_to_its_history(
    removed: Removed,
) -> None:
    """/indicators/reads-a/changes.atom, the feed its page named, answered 404 once the file
    was gone, while its history is served: a reader subscribed to it lost the changes
    recorded. It is served as its history is, marked, linking to that history."""
    with open_store(removed.database_url) as store:
        app = create_app(store=store, definitions=lambda: removed.after, settings=settings(),
                         clock=lambda: LATER)  # fmt: skip
        with WebServer(app, host="127.0.0.1", port=0) as server:
            answer = httpx.get(f"{server.url}/indicators/reads-a/changes.atom", timeout=60)
            assert answer.status_code == 200
            parsed = feedparser.parse(answer.content)
            assert not parsed.bozo, parsed.get("bozo_exception")
            assert parsed.feed.title == "monitor: Visas, as read in a (no longer defined)"
            [alternate] = [link.href for link in parsed.feed.links if link.rel == "alternate"]
            assert alternate == f"{server.url}/indicators/reads-a/history"
            assert httpx.get(alternate, timeout=60).status_code == 200
            [entry] = parsed.entries
            assert (
                entry.title == "Visas, as read in a (no longer defined): unknown → waived:reported"
            )
            never = httpx.get(f"{server.url}/indicators/reads-c/changes.atom", timeout=60)
            assert never.status_code == 404


def test_a_change_recorded_before_0023_is_shown_by_its_id(removed: Removed) -> None:
    """A change recorded before the store kept titles has none: the digest names the removed
    indicator by its id, under no group, as before; an upgraded store loses no change."""
    engine = create_engine(removed.database_url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, metadata, "0022")
        columns = {c["name"] for c in inspect(engine).get_columns("status_change")}
        assert "indicator_title" not in columns
    finally:
        engine.dispose()

    assert upgrade(removed.database_url) == ("0022", migrate.head())

    assert schema_differences(removed.database_url) == []
    text, _ = digest_text(removed.after, removed.database_url)
    changed = text.split("WHAT CHANGED")[1].split("STANDING STATUS")[0]
    assert "* reads-a (no longer defined)\n  ⚠ unknown → waived — reported" in changed
    assert "Other\n* reads-a (no longer defined)\n  waived — reported   (since" in standing(text)


def daemon(definitions: Definitions, store: Store, owner: str, *, now: datetime) -> Context:
    """A daemon's context (`owner` names it, as `monitor.owners` does a process), started."""
    ctx = replace(twofeeds.context(definitions, store, now=now), owner=owner)
    prepare(ctx, now=now)
    return ctx


def test_a_rolling_update_does_not_end_and_resume_an_indicator_the_old_files_have(
    removed: Removed,
) -> None:
    """Daemon A still has reads-a's file, daemon B (started with the new files) has not, both
    on one database. Any check without the file ended reads-a's monitoring and any check with
    it took that back: it flapped at each of their checks while A still recorded its changes
    (a past day's digest listed it or not by which daemon had checked last). It is monitored
    while a daemon checking has it, and ends once A has stopped for two check intervals and a
    cycle's deadline, dated by A's last check."""
    start = CHECKED + timedelta(days=1)
    with open_store(removed.database_url) as one, open_store(removed.database_url) as other:
        a = daemon(removed.before, one, "host-a:1", now=start)
        b = daemon(removed.after, other, "host-b:2", now=start + timedelta(minutes=1))
        assert other.monitoring_ended() == {}
        for turn in range(1, 5):  # their checks, 15 minutes apart each
            at = start + turn * twofeeds.INTERVAL
            run_cycle(a, now=at)
            assert one.monitoring_ended() == {}, f"after A's check {turn}"
            run_cycle(b, now=at + timedelta(minutes=1))
            assert other.monitoring_ended() == {}, f"after B's check {turn}"
        last_a = start + 4 * twofeeds.INTERVAL  # A stops: the update is done

        in_force = last_a + 2 * twofeeds.INTERVAL + b.cycle_deadline
        at = last_a
        while at + twofeeds.INTERVAL <= in_force:
            at += twofeeds.INTERVAL
            run_cycle(b, now=at)
            assert other.monitoring_ended() == {}, at
        run_cycle(b, now=in_force + timedelta(seconds=1))
        assert other.monitoring_ended() == {"reads-a": last_a}

        run_cycle(b, now=in_force + twofeeds.INTERVAL)  # stays ended, its date too
        assert other.monitoring_ended() == {"reads-a": last_a}
        daemon(removed.before, one, "host-a:3", now=in_force + 2 * twofeeds.INTERVAL)
        assert one.monitoring_ended() == {}  # the old files back in a daemon: monitored again


def test_a_daemon_stopped_cleanly_no_longer_holds_the_indicators_of_its_files(
    removed: Removed,
) -> None:
    """The end of a rolling update: daemon A (the old files) stops cleanly. Its files held
    reads-a for two check intervals and a cycle's deadline after its last check, about 40
    minutes with the defaults, though nothing checked it any more; now B's next check ends it,
    dated by A's last check."""
    start = CHECKED + timedelta(days=1)
    with open_store(removed.database_url) as one, open_store(removed.database_url) as other:
        a = daemon(removed.before, one, "host-a:1", now=start)
        b = daemon(removed.after, other, "host-b:2", now=start + timedelta(minutes=1))
        last_a = start + twofeeds.INTERVAL
        run_cycle(a, now=last_a)
        one.release_claims("host-a:1", last_a + timedelta(minutes=2))  # `shutdown.release_claims`
        assert one.monitoring_ended() == {}  # nothing noted since

        run_cycle(b, now=last_a + timedelta(minutes=3))

        assert other.monitoring_ended() == {"reads-a": last_a}


def test_a_daemon_reloaded_without_the_file_ends_it_at_once_unless_another_has_it(
    removed: Removed,
) -> None:
    """A process's own earlier definitions do not hold an indicator it no longer has: its
    reload ends the monitoring then, unless another daemon's definitions in force have it."""
    start = CHECKED + timedelta(days=1)
    with open_store(removed.database_url) as one, open_store(removed.database_url) as other:
        daemon(removed.before, one, "host-a:1", now=start)
        daemon(removed.before, other, "host-b:2", now=start)
        reload = start + timedelta(minutes=5)
        daemon(removed.after, one, "host-a:1", now=reload)
        assert one.monitoring_ended() == {}  # host-b still checks it
        daemon(removed.after, other, "host-b:2", now=reload + timedelta(minutes=1))
        assert other.monitoring_ended() == {"reads-a": reload + timedelta(minutes=1)}


def test_the_page_shows_a_removed_outcomes_changes_by_the_label_they_kept(
    removed: Removed,
) -> None:
    """reads-a's file now names its outcome `exempted`: its page showed the changes to
    `waived` by the bare id (history and timeline), though each change kept the label."""
    text = twofeeds.INDICATOR.format(id="reads-a", feeds="a").replace(
        "id: waived\n    label: A visa waiver", "id: exempted\n    label: An exemption"
    )
    (removed.folder / "indicators" / "reads-a.yaml").write_text(text)
    edited = load_definitions(removed.folder / "indicators", removed.folder / "feeds.yaml")
    with open_store(removed.database_url) as store:
        app = create_app(store=store, definitions=lambda: edited, settings=settings(),
                         clock=lambda: LATER)  # fmt: skip
        with TestClient(app) as client:
            page = client.get("/indicators/reads-a/page")
    assert page.status_code == 200
    history = page.text.split('id="history"')[-1]
    assert '<strong dir="auto">A visa waiver (reported)</strong>' in history
    assert "<title>A visa waiver (reported): 2026-01-06 – " in page.text  # the timeline


def test_a_change_of_an_indicator_ended_that_day_keeps_its_outcomes_colour(
    removed: Removed,
) -> None:
    """Its monitoring ended the day of its change, so the day's standing statuses leave it
    out: "what changed" coloured its `waived:reported` grey, as a status of no outcome it
    knew, where the same move of reads-both has the first outcome's colour."""
    with open_store(removed.database_url) as store:
        twofeeds.context(removed.after, store, now=CHECKED + timedelta(hours=1))  # ends it
    _, html = digest_text(removed.after, removed.database_url)
    assert "Visas, as read in a</strong> <span" not in html.split("Standing status")[1]
    badges = re.findall(r'<span data-status="waived:reported" style="([^"]*)"', html)
    assert len(badges) == 3 and len(set(badges)) == 1, badges  # both changes, reads-both's line


def test_a_title_group_and_labels_kept_with_bidi_characters_are_shown_without_them(
    removed: Removed,
) -> None:
    """A change recorded before definitions dropped bidi overrides and isolates kept them in its
    title, group and labels: they are dropped as a definition's are, in the digest (whose text
    lines they turned around, and its HTML) and in the history the store reads for the API and
    `monitor history`."""
    turn = "\u202e\u2066"
    engine = create_engine(removed.database_url)
    with engine.begin() as conn:
        conn.execute(
            change_table.update()
            .where(change_table.c.indicator_id == "reads-a")
            .values(
                indicator_title=f"Visas, {turn}as read in a\u2069\u202c",
                indicator_group=f"Te{turn}sts",
                outcome_labels=[["waived", f"A{turn} visa waiver"]],
            )
        )
    engine.dispose()

    text, html = digest_text(removed.after, removed.database_url)
    assert "* Visas, as read in a (no longer defined)\n  ⚠ unknown → waived — reported" in text
    assert "Tests\n" in standing(text)
    with open_store(removed.database_url) as store:
        [change] = store.history("reads-a")
    assert (change.title, change.group, change.labels) == (
        "Visas, as read in a",
        "Tests",
        (("waived", "A visa waiver"),),
    )
    for shown in (text, html):
        assert not set(shown) & set(turn + "\u2069\u202c")
