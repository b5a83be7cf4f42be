"""A private feed read with HTTP basic auth written in its URL (`http://reader:hunter2@host/`):
the credentials are sent, and the password is shown nowhere: `reader:***@` in logs, `monitor
status`, the digest, the page, /feeds and /healthz."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.definitions import load_definitions
from monitor.fetch import FeedRequest, FetchStatus
from monitor.links import without_password
from monitor.parse import parse_feed
from monitor.store import open_store
from monitor.web import create_app
from tests import news
from tests.feedserver import FeedServer
from tests.test_cli_ops import invoke, no_monitor_variables
from tests.test_fetch import fetch_one
from tests.webdata import settings

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives
PASSWORD = "hunter2"
AUTHORIZATION = "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
NOT_A_FEED = b"<html><body>sign in</body></html>"
INDICATOR = """\
id: {feed}-news
group: News
title: {feed}
question: Is there news?
feeds: {{ids: [{feed}]}}
outcomes:
  - id: news
    label: News
    rule: {{any: [visa]}}
"""


def private_feed(feed_server: FeedServer, path: str, body: list[bytes]) -> None:
    """`path` answers 401 without the reader's credentials, else the body `body[0]` holds."""

    def handler(h):  # type: ignore[no-untyped-def]
        if h.headers.get("Authorization") != AUTHORIZATION:
            h.send_response(401)
            h.send_header("WWW-Authenticate", 'Basic realm="feeds"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(body[0])))
        h.end_headers()
        h.wfile.write(body[0])

    feed_server.route(path, handler)


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://reader:{PASSWORD}@", 1)


def setup(tmp_path: Path, feed_server: FeedServer) -> tuple[dict[str, str], list[bytes]]:
    """Two feeds with credentials in their URL: `private` (not a feed at first), and
    `broken` (never a feed); an indicator reads each."""
    body = [NOT_A_FEED]
    private_feed(feed_server, "/private.xml", body)
    private_feed(feed_server, "/broken.xml", [NOT_A_FEED])
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        + "".join(
            f"  - {{id: {name}, url: '{with_credentials(feed_server.url(f'/{name}.xml'))}'}}\n"
            for name in ("private", "broken")
        )
    )
    indicators = tmp_path / "indicators"
    indicators.mkdir()
    for name in ("private", "broken"):
        (indicators / f"{name}-news.yaml").write_text(INDICATOR.format(feed=name))
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'monitor.db'}",
        "MONITOR_INDICATORS_DIR": str(indicators),
        "MONITOR_FEEDS_FILE": str(feeds),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    return env, body


def test_a_feed_read_with_credentials_in_its_url_shows_its_password_nowhere(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    env, body = setup(tmp_path, feed_server)
    failed = invoke(["check"], env)  # the private feed answers, with no feed: its error names it
    body[0] = news.yonhap(datetime.now(UTC))
    read = invoke(["check", "--force"], env)

    assert failed.exit_code == 3, failed.output  # 3: both feeds failed, nothing read
    assert read.exit_code == 0, read.output
    assert feed_server.last("/private.xml").headers.get("authorization") == AUTHORIZATION
    logged = failed.stderr + read.stderr + caplog.text
    masked = f"http://reader:***@127.0.0.1:{feed_server.port}/private.xml"
    assert f"feed private failed: parse: {masked}: not a feed" in failed.stderr  # to hide
    with open_store(env["MONITOR_DATABASE_URL"]) as store:
        defs = load_definitions(
            Path(env["MONITOR_INDICATORS_DIR"]), Path(env["MONITOR_FEEDS_FILE"])
        )
        app = create_app(store=store, definitions=lambda: defs, settings=settings())
        with TestClient(app) as client:
            web = {path: client.get(path) for path in ("/", "/feeds", "/healthz")}
    feeds = {f["id"]: f for f in web["/feeds"].json()}
    assert feeds["private"]["failing_since"] is None and feeds["private"]["last_error"] == ""
    assert feeds["broken"]["url"] == f"http://reader:***@127.0.0.1:{feed_server.port}/broken.xml"
    assert "reader:***@" in feeds["broken"]["last_error"]
    shown = {
        "log": logged,
        "status": invoke(["status"], env).stdout,
        "status --json": invoke(["status", "--json"], env).stdout,
        "digest --preview": invoke(["digest", "--preview"], env).stdout,
        "page": web["/"].text,
        "/feeds": web["/feeds"].text,
        "/healthz": web["/healthz"].text,
    }
    json.loads(shown["status --json"])  # the JSON itself, not a message about it

    # Old code showed it in all but /healthz, which names failing feeds by id only.
    assert {where: PASSWORD in text for where, text in shown.items()} == dict.fromkeys(shown, False)
    assert all("reader:***@" in shown[where] for where in ("log", "/feeds", "digest --preview"))


# ---------------------------------------------------------------- fetch


def test_a_redirect_on_the_same_host_keeps_the_credentials_of_the_feed(
    feed_server: FeedServer,
) -> None:
    """An absolute Location without credentials, on the feed's own host and port: they are
    sent there too (as httpx's client keeps Authorization), and a permanent move keeps them."""
    feed_server.redirect("/old.xml", feed_server.url("/new.xml"), 301)
    private_feed(feed_server, "/new.xml", [news.yonhap(datetime.now(UTC))])

    result = fetch_one(FeedRequest("private", with_credentials(feed_server.url("/old.xml"))))

    assert (result.status, result.error) == (FetchStatus.MODIFIED, "")
    assert result.moved_to == with_credentials(feed_server.url("/new.xml"))


def test_a_location_with_a_password_is_shown_masked_in_the_error(
    feed_server: FeedServer,
) -> None:
    looped = with_credentials(feed_server.url("/a.xml"))
    feed_server.redirect("/a.xml", looped, 302)  # to itself, credentials in the Location

    result = fetch_one(FeedRequest("private", feed_server.url("/a.xml")))

    masked = f"http://reader:***@127.0.0.1:{feed_server.port}/a.xml"
    assert result.error == f"fetch: redirect loop at {masked}"


# ---------------------------------------------------------------- parse and definitions


def test_relative_links_of_a_private_feed_do_not_carry_its_credentials() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>/</link>
<item><title>Visa rules eased</title><link>/story/1</link></item></channel></rss>"""

    parsed = parse_feed(body, feed_id="private", url="http://reader:hunter2@host.example/f.xml")

    assert [e.link for e in parsed.entries] == ["http://host.example/story/1"]
    assert parsed.link == "http://host.example/"


def test_a_bad_feed_url_is_named_without_its_password(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {id: x, url: 'ftp://reader:hunter2@h/f'}\n")
    (tmp_path / "indicators").mkdir()
    env = {"MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}

    result = invoke(["validate"], env | {"MONITOR_INDICATORS_DIR": str(tmp_path / "indicators")})

    assert result.exit_code == 1
    assert "'ftp://reader:***@h/f' must be an http:// or https:// URL" in result.output
    assert PASSWORD not in result.output


def test_match_names_a_private_source_without_its_password(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env, _ = setup(tmp_path, feed_server)  # /broken.xml: no feed behind the credentials

    result = invoke(["match", with_credentials(feed_server.url("/broken.xml"))], env)

    assert result.exit_code == 1
    masked = f"http://reader:***@127.0.0.1:{feed_server.port}/broken.xml"
    assert f"monitor: match: {masked}: parse: {masked}: not a feed" in result.stderr
    assert PASSWORD not in result.output


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://reader:hunter2@host/feed.xml", "http://reader:***@host/feed.xml"),
        ("parse: 'https://a:p@ss@h:8/f': x", "parse: 'https://a:***@h:8/f': x"),
        ("postgresql+psycopg://u:pw@db/monitor", "postgresql+psycopg://u:***@db/monitor"),
        ("http://token@host/f and http://host/a@b", "http://token@host/f and http://host/a@b"),
    ],
)
def test_a_password_in_a_url_is_shown_as_stars(text: str, shown: str) -> None:
    assert without_password(text) == shown
