"""A feed that answers 301 Moved Permanently is read at its new address, which is remembered
(`moved_to`); every place that shows feed health says so in the same words, so the operator
learns to update the feeds file: `monitor status`, the digest's feed health, the page (and
`GET /feeds`'s `moved_to`). Feeds served on 127.0.0.1, the store on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.domain import Definitions
from monitor.pipeline import run_cycle
from monitor.store import Store
from monitor.web import create_app
from tests import twofeeds
from tests.feedserver import FeedServer
from tests.news import Item, rss
from tests.webdata import settings

store, two_feeds = twofeeds.store, twofeeds.two_feeds  # fixtures

NOTHING = rss("A", [Item("Seoul stocks close higher on chip rally", "https://a.example.com/1")])


def test_a_feed_moved_permanently_says_so_wherever_feed_health_is_shown(
    feed_server: FeedServer, two_feeds: Definitions, store: Store, database_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    now = datetime.now(UTC)  # `monitor status` and the preview read the feeds as of now
    feed_server.redirect("/a.xml", "/new-a.xml", status=301)
    feed_server.route("/new-a.xml", body=NOTHING)
    feed_server.route("/b.xml", body=NOTHING)
    ctx = replace(twofeeds.context(two_feeds, store, now=now), parse_workers=1)
    run_cycle(ctx, now=now)
    new = feed_server.url("/new-a.xml")
    words = f"moved permanently to {new}: update its url in the feeds file"

    env = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    status = CliRunner().invoke(main, ["status"], env=env)
    preview = CliRunner().invoke(main, ["digest", "--preview"], env=env)
    app = create_app(store=store, definitions=lambda: two_feeds, settings=settings(),
                     clock=lambda: now)  # fmt: skip
    client = TestClient(app)
    page = client.get("/").text
    feeds = {f["id"]: f for f in client.get("/feeds").json()}
    healthz = client.get("/healthz").json()
    metrics = client.get("/metrics").text

    assert status.exit_code == 0, status.output
    assert f"feed a: {words}" in status.stdout.splitlines(), status.stdout
    assert "feed b" not in status.stdout  # read where the feeds file says: nothing to say
    assert preview.exit_code == 0, preview.output
    health = " ".join(preview.stdout.split("FEED HEALTH")[1].split())  # unwrapped
    assert f"* a: {words}" in health, health
    assert words in " ".join(page.split()), page
    assert "1 feed moved permanently" in page
    assert (feeds["a"]["moved_to"], feeds["b"]["moved_to"]) == (new, None)
    assert (healthz["status"], healthz["feeds"]["moved"], healthz["feeds"]["failing"]) == (
        "ok", 1, 0,
    )  # fmt: skip
    assert "\nmonitor_feeds_moved 1.0\n" in metrics
    assert '\nmonitor_feeds{state="failing"} 0.0\n' in metrics
    for surface in (status.stdout, health, page):
        assert surface.count("moved permanently") == 1 + (surface is page)  # and the top line
