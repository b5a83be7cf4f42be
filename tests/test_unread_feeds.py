"""An indicator's unread feeds, whole and structured, wherever its status is given to a tool:
`monitor status --json`, `GET /indicators` and `GET /indicators/{id}` list every feed it reads
that supports no status now (`unread_feeds`), as `GET /feeds` has them, while `reason` stays
the short line for people (`…; and 22 more`). A real cycle against feeds served on 127.0.0.1,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.daily import digest_input
from monitor.definitions import load_definitions
from monitor.digest import build_digest
from monitor.domain import UNKNOWN, Definitions
from monitor.pipeline import run_cycle
from monitor.store import Store, open_store
from monitor.web import create_app
from tests import news, twofeeds
from tests.feedserver import FeedServer
from tests.test_digest import parts
from tests.webdata import settings

DEAD = 25  # feeds failing: more than the reason names (three) by 22

INDICATOR = """\
id: {id}
group: Tests
title: Visas, as read in {tags}
question: Is there a visa waiver?
feeds: {{tags: [{tags}]}}
window: 30d
outcomes:
  - id: waived
    label: A visa waiver
    rule: {{any: [visa waiver]}}
"""
READING = {"reads-dead": "dead", "reads-all": "ok, dead", "reads-ok": "ok"}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def _definitions(folder: Path, feed_server: FeedServer) -> Definitions:
    indicators = folder / "indicators"
    indicators.mkdir()
    for indicator_id, tags in READING.items():
        (indicators / f"{indicator_id}.yaml").write_text(
            INDICATOR.format(id=indicator_id, tags=tags)
        )
    lines = [f"  - {{id: ok, url: '{feed_server.url('/ok.xml')}', tags: [ok]}}\n"]
    for n in range(1, DEAD + 1):  # 404 from the server, never routed
        lines.append(f"  - {{id: dead{n:02d}, url: '{feed_server.url(f'/gone{n}.xml')}', "
                     f"tags: [dead]}}\n")  # fmt: skip
    (folder / "feeds.yaml").write_text("feeds:\n" + "".join(lines))
    return load_definitions(indicators, folder / "feeds.yaml")


def test_every_unread_feed_is_listed_whole_where_the_reason_names_three(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path
) -> None:
    """Before, a tool read `feeds not read: dead01: …; dead02: …; dead03: …; and 22 more` and
    had to ask `/feeds` and work out which feeds the indicator reads to learn the 22; and an
    indicator still read through one feed said nothing of the 25 it could not read."""
    now = datetime.now(UTC).replace(microsecond=0)  # `monitor status` reads the clock
    published = now - timedelta(hours=2)
    feed_server.route("/ok.xml", body=news.rss("ok", [twofeeds.wire(published)]))
    defs = _definitions(tmp_path, feed_server)
    report = run_cycle(twofeeds.context(defs, store, now=now), now=now)
    assert report.failed == DEAD

    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
           "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}  # fmt: skip
    result = CliRunner().invoke(main, ["status", "--json"], env=env, catch_exceptions=False)
    cli = {i["id"]: i for i in json.loads(result.stdout)}
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    with TestClient(app) as client:
        api = {i["id"]: i for i in client.get("/indicators").json()}
        one = {i: client.get(f"/indicators/{i}").json() for i in READING}
        feeds = {f["id"]: f for f in client.get("/feeds").json()}

    failing = [f for f, feed in feeds.items() if feed["state"] == "failing"]
    assert len(failing) == DEAD
    listed = [{"feed": f, "why": "never_read", "since": None, "error": feeds[f]["last_error"]}
              for f in failing]  # fmt: skip
    assert feeds["dead01"]["last_error"] == "fetch: HTTP 404 Not Found"
    dead = cli["reads-dead"]
    assert dead["status"] == UNKNOWN
    assert dead["reason"].endswith("; and 22 more")  # for people, as before
    assert dead["unread_feeds"] == listed  # for tools: all 25
    assert cli["reads-all"]["status"] == "waived:reported"  # the ok feed supports it…
    assert cli["reads-all"]["unread_feeds"] == listed  # …and the others are named
    assert cli["reads-ok"]["unread_feeds"] == []
    for indicator_id in READING:  # one model: the CLI, the list and the indicator's own
        assert api[indicator_id] == cli[indicator_id]
        assert {k: v for k, v in one[indicator_id].items() if k != "evidence"} == cli[indicator_id]


def test_a_status_some_feeds_do_not_support_says_so_where_people_read_it(
    feed_server: FeedServer, store: Store, database_url: str, tmp_path: Path
) -> None:
    """Before, `reads-all` showed `quiet` on the page, in `monitor status` and in the digest
    with no word that 25 of its 26 feeds were not read: only the feed health, far below, told."""
    now = datetime.now(UTC).replace(microsecond=0)
    feed_server.route("/ok.xml", body=news.rss("ok", []))  # read, nothing in it: quiet
    defs = _definitions(tmp_path, feed_server)
    run_cycle(twofeeds.context(defs, store, now=now), now=now)
    env = {"MONITOR_DATABASE_URL": database_url,
           "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
           "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}  # fmt: skip
    status = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False).stdout
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    with TestClient(app) as client:
        page = client.get("/", headers={"Accept": "text/html"}).text
        own = client.get("/indicators/reads-all/page", headers={"Accept": "text/html"}).text

    words = (
        "25 of its feeds not read (dead01, dead02, dead03 and 22 more): "
        "the status stands on the others"
    )
    lines = status.splitlines()
    (at,) = [n for n, line in enumerate(lines) if line.startswith("reads-all ")]
    assert lines[at].split()[1] == "quiet"
    assert lines[at + 1] == f"  {words}"
    cards = dict(re.findall(r'data-indicator="([^"]+)">(.*?)</article>', page, re.S))
    assert f"⚠ {words} — see" in cards["reads-all"]
    assert "data-unread" not in cards["reads-ok"]  # every feed read
    assert "data-unread" not in cards["reads-dead"]  # unknown: its reason says it
    assert f"⚠ {words} — see" in own
    data = digest_input(defs, store, day=now.date(), now=now, timezone="UTC")
    text, html = parts(build_digest(data, sender="m@example.org", recipients=["r@example.org"]))
    standing = text.split("STANDING STATUS", 1)[1]
    (block,) = re.findall(r"^\* Visas, as read in ok, dead\n(?:  .*\n)*", standing, re.M)
    assert " ".join(block.split()).count(f"⚠ {words}") == 1  # wrapped at 76
    assert html.count(f"⚠ {words}") == 1
    assert text.count("of its feeds not read") == 1  # reads-all alone
