"""Exports and Atom feeds of status changes: `monitor export` and GET /export/… give the same rows
(CSV a spreadsheet cannot run, JSON the API's models), streamed a page at a time; /changes.atom
reads back through feedparser with the right entries; a hostile headline stays harmless in each.
On the web test database (tests/webdata.py) plus one change whose evidence is hostile."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from monitor import atom, export, views
from monitor.cli import main
from monitor.domain import Definitions, Evidence, StatusChange
from monitor.domain import iso_time as iso
from monitor.silences import Silence
from monitor.store import Store, open_store
from monitor.web import create_app
from monitor.webmodels import ChangeOut, PeriodOut
from tests import webdata
from tests.webdata import NOW, settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HEADLINE = "=cmd|' /C calc'!A0 <script>alert(1)</script>\x07 Pyongyang \x1b[31m\u2028sanctions"
SHOWN = "'=cmd|' /C calc'!A0 <script>alert(1)</script> Pyongyang [31msanctions"  # in CSV
PUBLIC = "https://monitor.example.org/"
KINDS = ("history", "changes", "evidence")
ATOM = "{http://www.w3.org/2005/Atom}"


def hostile_change(store: Store) -> StatusChange:
    """A change of north-korea-stance whose one piece of evidence is hostile in every field."""
    evidence = Evidence(
        entry_id=99, indicator_id="north-korea-stance", outcome_id="pressure", title=HEADLINE,
        link="https://evil.example/a?x=<b>&y=\"1\"", publisher="+evil.example",
        time=NOW - timedelta(hours=2), terms=("@SUM(1+1)", "sanction*"), snippet="-2+3 \x00",
    )  # fmt: skip
    change = StatusChange(
        indicator_id="north-korea-stance", at=NOW - timedelta(hours=1), old_status="quiet",
        new_status="pressure:reported", evidence=(evidence,), definition_hash="h",
        reason="verdict: yes <i>by</i> =HYPERLINK(\"x\")",
    )  # fmt: skip
    [recorded] = store.record_changes([change])
    return recorded


def calm_down(store: Store) -> None:
    """north-korea-stance goes quiet again: one more change."""
    change = StatusChange("north-korea-stance", NOW, "pressure:reported", "quiet", (), "h")
    assert store.record_changes([change])


def seed(url: str, defs: Definitions) -> Store:
    store = open_store(url)
    webdata.populate(store, defs)
    hostile_change(store)
    return store


@pytest.fixture
def defs() -> Definitions:
    return webdata.definitions()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"


@pytest.fixture
def store(sqlite_url: str, defs: Definitions) -> Iterator[Store]:
    with seed(sqlite_url, defs) as opened:
        yield opened


@pytest.fixture
def url(sqlite_url: str, store: Store) -> str:
    """The SQLite database, seeded."""
    return sqlite_url


def client_of(
    store: Store, defs: Definitions, clock: Callable[[], datetime] = lambda: NOW, **options: Any
) -> TestClient:
    app = create_app(
        store=store, definitions=lambda: defs, settings=settings(**options), clock=clock
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(store: Store, defs: Definitions) -> Iterator[TestClient]:
    with client_of(store, defs, public_url=PUBLIC) as c:
        yield c


def cli(url: str, *args: str) -> Result:
    env = {
        "MONITOR_DATABASE_URL": url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def exported(url: str, *args: str) -> str:
    result = cli(url, "export", *args)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8")


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------- the CLI and the API agree


@pytest.mark.parametrize("kind", KINDS)
def test_cli_and_http_give_the_same_csv_and_json(url: str, client: TestClient, kind: str) -> None:
    for fmt in ("csv", "json"):
        printed = exported(url, kind, "--format", fmt)
        served = client.get(f"/export/{kind}", params={"format": fmt})
        assert served.status_code == 200
        assert served.text == printed, (kind, fmt)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        assert served.headers["content-type"] == media
        disposition = f'attachment; filename="monitor-{kind}.{fmt}"'
        assert served.headers["content-disposition"] == disposition
    assert len(rows(client.get(f"/export/{kind}").text)) == len(json.loads(printed)) > 0


def test_changes_are_the_api_models_in_the_order_recorded(url: str, client: TestClient) -> None:
    items = json.loads(exported(url, "changes", "--format", "json"))
    history = client.get("/indicators/visa-easing/history").json()["items"]

    assert [i["id"] for i in items] == [1, 2, 3, 4]
    assert [i for i in items if i["indicator"] == "visa-easing"] == history[::-1]
    table = rows(exported(url, "changes"))
    # evidence_count: how many it had (its model's own count), not the top ones it keeps; the
    # unread feeds (a list of models, or null) as their count
    fields = [n for n in ChangeOut.model_fields if n != "evidence"]
    assert list(table[0]) == [f"{n}_count" if n == "unread_feeds" else n for n in fields]
    assert [(r["id"], r["indicator"], r["new_status"], r["evidence_count"]) for r in table] == [
        ("1", "visa-easing", "eased:reported", "1"),
        ("2", "flight-routes", "expanded:reported", "1"),
        ("3", "visa-easing", "eased:confirmed", "2"),
        ("4", "north-korea-stance", "pressure:reported", "1"),
    ]
    assert table[0]["at"] == iso(NOW - 20 * webdata.DAY)
    assert table[0]["replayed"] == "false" and table[0]["reason"] == ""


def test_a_change_shows_when_it_was_recorded_beside_when_it_is_dated(
    url: str, store: Store, client: TestClient
) -> None:
    """A change to unknown is dated when the feeds stopped supporting the status, and recorded
    later (by a check after a while without one): every surface a machine reads gives both,
    from the one model (`ChangeOut`)."""
    dated, recorded = NOW - timedelta(hours=7), NOW - timedelta(minutes=1)
    change = StatusChange(
        "north-korea-stance", dated, "pressure:reported", "unknown", (), "h",
        reason="feeds not read: yonhap since 6 hours",
    )  # fmt: skip
    [kept] = store.record_changes([change], now=recorded)

    served = client.get("/indicators/north-korea-stance/history").json()["items"][0]
    printed = json.loads(cli(url, "history", "north-korea-stance", "--json").stdout.split("\n")[0])
    as_json = json.loads(exported(url, "changes", "--format", "json"))[-1]
    as_csv = rows(exported(url, "changes"))[-1]

    assert served["id"] == kept.id
    assert (served["at"], served["recorded_at"]) == (iso(dated), iso(recorded))
    assert printed == served == as_json
    assert (as_csv["at"], as_csv["recorded_at"]) == (iso(dated), iso(recorded))
    # a change recorded when it is dated (every change before revision 0032) says so
    first = rows(exported(url, "changes"))[0]
    assert first["recorded_at"] == first["at"]


def test_evidence_has_a_row_per_piece_with_its_change(url: str) -> None:
    table = rows(exported(url, "evidence"))

    assert [(r["change_id"], r["entry_id"], r["indicator"]) for r in table] == [
        ("1", "1", "visa-easing"),
        ("2", "4", "flight-routes"),
        ("3", "3", "visa-easing"),
        ("3", "1", "visa-easing"),
        ("4", "99", "north-korea-stance"),
    ]
    assert table[2]["title"] == webdata.VISA_HERALD
    assert table[2]["link"] == "https://www.koreaherald.com/article/1"


def test_history_has_a_row_per_stretch_of_each_status(url: str) -> None:
    table = rows(exported(url, "history", "--indicator", "visa-easing"))
    started = iso(NOW - 30 * webdata.DAY)
    eased, confirmed = iso(NOW - 20 * webdata.DAY), iso(NOW - 2 * webdata.DAY)

    assert list(table[0]) == list(PeriodOut.model_fields)
    assert [tuple(r.values()) for r in table] == [
        ("visa-easing", "quiet", started, eased, ""),
        ("visa-easing", "eased:reported", eased, confirmed, "1"),
        ("visa-easing", "eased:confirmed", confirmed, "", "3"),
    ]
    everyone = rows(exported(url, "history"))
    quiet = [r for r in everyone if r["indicator"] == "business-investment"]
    assert [(r["status"], r["until"], r["change_id"]) for r in quiet] == [("quiet", "", "")]


def test_history_claims_nothing_before_the_changes_retention_keeps(
    store: Store, defs: Definitions
) -> None:
    """Retention deletes changes older than MONITOR_RETENTION: what held before the oldest kept
    change is known only from then on, not from when monitoring began."""
    with client_of(store, defs, retention=timedelta(days=25)) as client:
        served = client.get(
            "/export/history", params={"indicator": "visa-easing", "format": "json"}
        )
        unchanged = client.get(
            "/export/history", params={"indicator": "business-investment", "format": "json"}
        )

    assert [(r["status"], r["since"], r["change_id"]) for r in served.json()] == [
        ("quiet", iso(NOW - 25 * webdata.DAY), None),  # not from 30 days ago
        ("eased:reported", iso(NOW - 20 * webdata.DAY), 1),
        ("eased:confirmed", iso(NOW - 2 * webdata.DAY), 3),
    ]
    # An indicator that never changed lost nothing to retention (its latest change is always
    # kept): its status holds from when monitoring began.
    [(status, since)] = [(r["status"], r["since"]) for r in unchanged.json()]
    assert status == "quiet"
    assert since == iso(store.monitoring_started()["business-investment"])
    assert datetime.fromisoformat(since) < NOW - 25 * webdata.DAY


def test_since_and_indicator_narrow_every_export(url: str, client: TestClient) -> None:
    since = (NOW - 3 * webdata.DAY).date().isoformat()
    changes = rows(exported(url, "changes", "--since", since))
    assert [r["id"] for r in changes] == ["2", "3", "4"]
    only = rows(exported(url, "evidence", "--since", since, "--indicator", "visa-easing"))
    assert [(r["change_id"], r["entry_id"]) for r in only] == [("3", "3"), ("3", "1")]
    history = rows(exported(url, "history", "--since", since, "--indicator", "visa-easing"))
    assert [r["status"] for r in history] == ["eased:reported", "eased:confirmed"]
    served = client.get("/export/changes", params={"since": since, "format": "json"}).json()
    assert [c["id"] for c in served] == [2, 3, 4]
    moment = iso(NOW - 90 * timedelta(minutes=1))
    assert [r["id"] for r in rows(exported(url, "changes", "--since", moment))] == ["4"]


def test_output_writes_a_file_and_bad_input_is_one_line(url: str, tmp_path: Path) -> None:
    target = tmp_path / "changes.csv"
    result = cli(url, "export", "changes", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert rows(target.read_text(encoding="utf-8"))[0]["id"] == "1"
    assert result.stderr == f"monitor: export: changes to {target}\n"

    bad = ["-o", str(tmp_path / "bad.csv")]
    for args, code, message in [
        (["changes", "--indicator", "nope", *bad], 1, "Error: export: no indicator 'nope'"),
        (["changes", "--since", "last week", *bad], 2, "'last week' is not a date (YYYY-MM-DD)"),
        (["changes", "--format", "xlsx", *bad], 2, "Invalid value for '--format'"),
        (["table", *bad], 2, "Invalid value for '{history|changes|evidence}'"),
        (["changes", "-o", str(tmp_path / "no" / "x.csv")], 1, "No such file or directory"),
    ]:
        result = cli(url, "export", *args)
        assert result.exit_code == code, (args, result.output)
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
        assert not (tmp_path / "bad.csv").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "data", target]  # no temporary file left


def test_bad_http_input_is_a_clear_error(client: TestClient) -> None:
    assert client.get("/export/changes?indicator=nope").json() == {"detail": "no indicator 'nope'"}
    assert client.get("/export/changes?indicator=nope").status_code == 404
    assert client.get("/export/changes?format=xlsx").status_code == 422
    assert client.get("/export/changes?since=yesterday").status_code == 422
    assert client.get("/export/tables").status_code == 404
    assert client.get("/indicators/nope/changes.atom").status_code == 404


def test_a_database_error_is_a_503_or_one_line_and_writes_nothing(
    url: str, sqlite_url: str, client: TestClient, tmp_path: Path
) -> None:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("ALTER TABLE status_change RENAME TO gone")

    for path in ("/export/changes", "/export/evidence?format=json", "/changes.atom"):
        answer = client.get(path)
        assert answer.status_code == 503, path
        assert answer.json() == {"detail": "the database did not answer"}
    result = cli(url, "export", "changes", "-o", str(tmp_path / "changes.csv"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: store: unable to read changes: ")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "changes.csv").exists()


def test_exports_and_feeds_are_behind_the_token(store: Store, defs: Definitions) -> None:
    with client_of(store, defs, api_token="t0ken") as guarded:
        for path in ("/export/changes", "/export/history?format=json", "/changes.atom",
                     "/indicators/visa-easing/changes.atom"):  # fmt: skip
            assert guarded.get(path).status_code == 401, path
            ok = guarded.get(path, headers={"Authorization": "Bearer t0ken"})
            assert ok.status_code == 200, path


# ---------------------------------------------------------------- a hostile headline


def test_a_hostile_headline_is_inert_in_csv_and_whole_in_json(url: str, client: TestClient) -> None:
    [row] = [r for r in rows(exported(url, "evidence")) if r["entry_id"] == "99"]
    assert row["title"] == SHOWN
    assert row["publisher"] == "'+evil.example"
    assert row["terms"] == "'@SUM(1+1); sanction*"
    assert row["snippet"] == "'-2+3"
    for text in rows(exported(url, "changes"))[-1].values():
        assert not text.startswith(("=", "+", "-", "@")), text
    assert rows(exported(url, "changes"))[-1]["reason"].startswith("verdict: yes <i>")
    for table in (exported(url, kind) for kind in KINDS):
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028]", table)

    [item] = [e for e in json.loads(exported(url, "evidence", "--format", "json"))
              if e["entry_id"] == 99]  # fmt: skip
    assert item["title"] == HEADLINE  # JSON carries any text: escaped, exactly
    served = client.get("/export/evidence?format=json&indicator=north-korea-stance").json()
    assert served == [item]


def test_a_hostile_headline_makes_a_well_formed_feed_that_shows_it_as_text(
    client: TestClient,
) -> None:
    body = client.get("/indicators/north-korea-stance/changes.atom").content

    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", body)
    root = ET.fromstring(body)  # well-formed, or this raises
    content = root.find(f"{ATOM}entry/{ATOM}content")
    assert content is not None and content.get("type") == "html"
    html = content.text or ""
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert '<a href="https://evil.example/a?x=&lt;b&gt;&amp;y=&quot;1&quot;">' in html
    assert "Why: verdict: yes &lt;i&gt;by&lt;/i&gt;" in html
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    value = parsed.entries[0].content[0].value
    assert "&lt;script&gt;" in value and "<script" not in value
    assert parsed.entries[0].links[0].href == f"{PUBLIC}indicators/north-korea-stance/page"


# ---------------------------------------------------------------- Atom


def test_feedparser_reads_the_changes_feed_back(client: TestClient, store: Store) -> None:
    response = client.get("/changes.atom")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == "tag:monitor.example.org,2026:changes"
    assert parsed.feed.link == PUBLIC
    changes = store.latest_changes(limit=10)
    assert [e.id for e in parsed.entries] == [
        f"tag:monitor.example.org,{c.at.date().isoformat()}:{c.indicator_id}/change/{c.id}"
        for c in changes
    ]
    visa = parsed.entries[1]
    assert (
        visa.title == "Visa easing between China and South Korea: eased:reported → eased:confirmed"
    )
    assert visa.link == f"{PUBLIC}indicators/visa-easing/page"
    assert visa.updated == iso(NOW - 2 * webdata.DAY)
    assert visa.tags[0].term == "visa-easing"
    html = visa.content[0].value
    assert "<strong>eased:confirmed</strong>" in html
    assert f'<a href="https://www.koreaherald.com/article/1">{webdata.VISA_HERALD}</a>' in html
    assert 'href="javascript:' not in html  # a link that is not http(s) is shown without one
    assert "&lt;a href=&quot;javascript:" in html  # and a snippet's markup as text
    assert parsed.feed.updated == iso(changes[0].at)


def test_one_indicators_feed_and_its_ids_stay_the_same(store: Store, defs: Definitions) -> None:
    with client_of(store, defs) as local, client_of(store, defs, public_url=PUBLIC) as public:
        here = feedparser.parse(local.get("/indicators/visa-easing/changes.atom").content)
        there = feedparser.parse(public.get("/indicators/visa-easing/changes.atom").content)

    assert [e.title.split(": ")[1] for e in here.entries] == [
        "eased:reported → eased:confirmed",
        "quiet → eased:reported",
    ]
    assert here.entries[0].id.startswith("tag:localhost,")
    assert here.entries[0].link == "http://testserver/indicators/visa-easing/page"
    assert here.feed.title == "monitor: Visa easing between China and South Korea"
    assert [e.id.split(":", 2)[2] for e in here.entries] == [
        e.id.split(":", 2)[2] for e in there.entries
    ]


def test_a_feed_reader_polling_gets_304_until_a_change(client: TestClient, store: Store) -> None:
    first = client.get("/changes.atom")
    etag = first.headers["etag"]
    assert client.get("/changes.atom", headers={"If-None-Match": etag}).status_code == 304
    calm_down(store)  # another change: the feed moves
    again = client.get("/changes.atom", headers={"If-None-Match": etag})
    assert again.status_code == 200 and len(feedparser.parse(again.content).entries) == 5


def test_the_pages_name_their_feeds_for_feed_readers_to_find(client: TestClient) -> None:
    link = '<link rel="alternate" type="application/atom+xml" title="monitor: {}" href="{}">'
    index = client.get("/", headers={"Accept": "text/html"}).text
    assert link.format("status changes", "/changes.atom") in index
    page = client.get("/indicators/visa-easing/page").text
    title = "Visa easing between China and South Korea"
    assert link.format(title, "/indicators/visa-easing/changes.atom") in page
    assert client.get("/indicators/visa-easing/changes.atom").status_code == 200


def test_an_empty_feed_is_valid(tmp_path: Path, defs: Definitions) -> None:
    body = atom.changes_feed(
        [], titles={}, base_url=PUBLIC, self_url=f"{PUBLIC}changes.atom",
        authority="monitor.example.org", now=NOW,
    )  # fmt: skip
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.entries == []
    assert parsed.feed.updated == iso(NOW)


# ---------------------------------------------------------------- Atom and silences

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
REASON = "state visit: every outlet repeats it"


@pytest.fixture
def seeded(database_url: str, defs: Definitions) -> Iterator[Store]:
    """The web test database with its hostile change, on SQLite, then PostgreSQL."""
    with seed(database_url, defs) as opened:
        yield opened


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def read_feed(client: TestClient, path: str) -> dict[str, Any]:
    """The feed at `path` as a feed reader reads it: change id -> its entry; `feed`: the feed."""
    parsed = feedparser.parse(client.get(path).content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    entries = {int(e.id.rsplit("/", 1)[1]): e for e in parsed.entries}
    return {"feed": parsed.feed, "order": list(entries), **{str(k): v for k, v in entries.items()}}


def record(store: Store, indicator: str, at: datetime, old: str, new: str) -> int:
    [recorded] = store.record_changes([StatusChange(indicator, at, old, new, (), "h")])
    assert recorded.id is not None
    return recorded.id


def test_a_change_a_silence_holds_is_left_out_of_the_feeds_until_it_ends(
    seeded: Store, defs: Definitions
) -> None:
    clock = Clock()
    seeded.add_silence(Silence("visa-easing", None, REASON, "ana", NOW - 30 * MINUTE, NOW + HOUR))
    held = record(seeded, "visa-easing", NOW - 10 * MINUTE, "eased:confirmed", "quiet")
    free = record(seeded, "north-korea-stance", NOW - 5 * MINUTE, "pressure:reported", "quiet")
    paths = ("/changes.atom", "/indicators/visa-easing/changes.atom")

    with client_of(seeded, defs, clock=clock) as client:
        during = [read_feed(client, path) for path in paths]
        etag = client.get("/changes.atom").headers["etag"]
        clock.now = NOW + 2 * HOUR  # the silence expired at NOW + 1 h: nothing was written
        polled = client.get("/changes.atom", headers={"If-None-Match": etag})
        after = [read_feed(client, path) for path in paths]

    assert all(str(held) not in feed for feed in during)
    assert during[0]["order"][0] == free and during[0]["feed"].updated == iso(NOW - 5 * MINUTE)
    assert during[1]["order"] and during[1]["feed"].updated == iso(NOW - 2 * webdata.DAY)
    assert polled.status_code == 200  # the silence's end is news to a feed reader
    for feed in after:
        entry = feed[str(held)]
        assert feed["order"][0] == held and feed["feed"].updated == iso(NOW + HOUR)
        assert entry.updated == iso(NOW + HOUR) and entry.published == iso(NOW - 10 * MINUTE)
        assert entry.title.endswith("eased:confirmed → quiet")
        assert entry.id.endswith(f":visa-easing/change/{held}")  # its id, as ever
        note = f"Held back by a silence until it expired {iso(NOW + HOUR)} (by ana: {REASON})"
        assert f"<p>{note}</p>" in entry.content[0].value
    unheld = after[0][str(free)]  # a change no silence held is as it was
    assert unheld.updated == unheld.published == iso(NOW - 5 * MINUTE)
    assert "Held back" not in unheld.content[0].value
    assert after[0]["order"][1:] == during[0]["order"]


def test_a_silence_of_one_outcome_holds_only_the_changes_to_or_from_it(
    seeded: Store, defs: Definitions
) -> None:
    clock = Clock()
    silence = seeded.add_silence(Silence(
        "north-korea-stance", "balance", "one wire story", "bo", NOW - 30 * MINUTE, NOW + HOUR
    ))  # fmt: skip
    assert silence.id is not None
    free = record(seeded, "north-korea-stance", NOW - 20 * MINUTE, "pressure:reported", "quiet")
    to = record(seeded, "north-korea-stance", NOW - 10 * MINUTE, "quiet", "balance:reported")
    off = record(seeded, "north-korea-stance", NOW - 5 * MINUTE, "balance:reported", "mixed")
    path = "/indicators/north-korea-stance/changes.atom"

    with client_of(seeded, defs, clock=clock) as client:
        during = read_feed(client, path)
        seeded.end_silence(silence.id, who="ana", now=NOW + 10 * MINUTE)
        clock.now = NOW + 15 * MINUTE
        after = read_feed(client, path)

    assert during["order"][0] == free and to not in during["order"] and off not in during["order"]
    assert after["order"][:3] == [off, to, free]  # released at its end, newest recorded first
    for held in (to, off):
        assert after[str(held)].updated == iso(NOW + 10 * MINUTE)
        note = f"Held back by a silence until it ended {iso(NOW + 10 * MINUTE)} (by bo: one wire"
        assert note in after[str(held)].content[0].value
    assert after[str(free)].updated == iso(NOW - 20 * MINUTE)
    assert "Held back" not in after[str(free)].content[0].value
    assert after["feed"].updated == iso(NOW + 10 * MINUTE)


def test_a_released_change_tops_the_latest_50_however_many_came_after_it(
    seeded: Store, defs: Definitions
) -> None:
    clock = Clock()
    seeded.add_silence(Silence("visa-easing", None, REASON, "ana", NOW - 3 * HOUR, NOW + HOUR))
    held = record(seeded, "visa-easing", NOW - 2 * HOUR, "eased:confirmed", "quiet")
    later, status = [], "pressure:reported"  # north-korea-stance flaps, never silenced
    for n in range(atom.FEED_LIMIT + 10):
        new = "quiet" if status != "quiet" else "pressure:reported"
        later.append(record(seeded, "north-korea-stance", NOW - HOUR + n * MINUTE, status, new))
        status = new

    with client_of(seeded, defs, clock=clock) as client:
        during = read_feed(client, "/changes.atom")
        clock.now = NOW + 2 * HOUR
        after = read_feed(client, "/changes.atom")

    newest = later[::-1][: atom.FEED_LIMIT]
    assert during["order"] == newest
    assert after["order"] == [held, *newest[:-1]]
    assert after["feed"].updated == iso(NOW + HOUR)


# ---------------------------------------------------------------- streaming


def test_the_store_reads_changes_a_page_at_a_time(store: Store) -> None:
    assert [c.id for c in store.iter_changes(page=2)] == [1, 2, 3, 4]
    assert [c.id for c in store.iter_changes(page=4)] == [1, 2, 3, 4]
    assert [c.id for c in store.iter_changes(indicator_id="visa-easing", page=1)] == [1, 3]
    pages = store.iter_changes(page=2)
    next(pages)  # one page read: the next one is not
    calm_down(store)
    assert [c.id for c in pages] == [2, 3, 4, 5]


def test_csv_and_json_are_written_as_the_rows_come(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK", 1000)
    taken = 0

    def periods() -> Iterator[PeriodOut]:
        nonlocal taken
        for n in range(1000):
            taken += 1
            yield PeriodOut(indicator=f"i{n}", status="quiet", since=NOW, until=None,
                            change_id=None)  # fmt: skip

    for chunks in (export.csv_text(PeriodOut, periods()), export.json_text(periods())):
        taken = 0
        first = next(chunks)
        assert 0 < taken < 100 and len(first) >= 1000
        rest = "".join(chunks)
        assert taken == 1000 and len(first + rest) > 30_000
    assert len(json.loads(first + rest)) == 1000


def test_periods_of_an_indicator(defs: Definitions) -> None:
    start = NOW - 10 * webdata.DAY

    def change(days: int, old: str, new: str, n: int) -> StatusChange:
        return StatusChange("x", NOW - days * webdata.DAY, old, new, (), "h", id=n)

    found = list(views.periods("x", [change(5, "quiet", "a:reported", 7),
                                     change(1, "a:reported", "quiet", 9)],
                               started=start, current=("quiet", NOW)))  # fmt: skip
    assert [(p.status, p.since, p.until, p.change_id) for p in found] == [
        ("quiet", start, NOW - 5 * webdata.DAY, None),
        ("a:reported", NOW - 5 * webdata.DAY, NOW - webdata.DAY, 7),
        ("quiet", NOW - webdata.DAY, None, 9),
    ]
    none = list(views.periods("x", [], started=start, current=("unknown", NOW)))
    assert [(p.status, p.since, p.until) for p in none] == [("unknown", start, None)]


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_exports_and_feeds_on_postgresql(postgres_url: str, defs: Definitions) -> None:
    with seed(postgres_url, defs) as pg:
        for kind in KINDS:
            table = rows(exported(postgres_url, kind))
            assert table, kind
            items = json.loads(exported(postgres_url, kind, "--format", "json"))
            assert len(items) == len(table)
        evidence = rows(exported(postgres_url, "evidence", "--indicator", "north-korea-stance"))
        assert [r["title"] for r in evidence] == [SHOWN]
        with client_of(pg, defs, public_url=PUBLIC) as c:
            assert c.get("/export/changes?format=json").json() == json.loads(
                exported(postgres_url, "changes", "--format", "json")
            )
            parsed = feedparser.parse(c.get("/changes.atom").content)
        assert not parsed.bozo and len(parsed.entries) == 4


def test_feeds_and_exports_show_terms_as_words_and_the_snippet_beyond_the_headline(
    url: str, client: TestClient, store: Store
) -> None:
    item = Evidence(
        entry_id=98, indicator_id="visa-easing", outcome_id="eased",
        title="China eases visa rules", link="https://example.org/visa", publisher="Herald",
        time=NOW - timedelta(minutes=30), terms=("/eas\\w+ visa/",),
        snippet="China eases visa rules. Seoul welcomes the move.",
    )  # fmt: skip
    change = StatusChange(
        "visa-easing", NOW - timedelta(minutes=20), "eased:confirmed", "eased:reported",
        (item,), "h",
    )  # fmt: skip
    assert store.record_changes([change])

    row = rows(exported(url, "evidence"))[-1]
    assert (row["matched"], row["lede"]) == ("eases visa", "Seoul welcomes the move.")
    [entry] = json.loads(exported(url, "evidence", "--format", "json"))[-1:]
    assert (entry["matched"], entry["lede"]) == (["eases visa"], "Seoul welcomes the move.")
    html = feedparser.parse(client.get("/changes.atom").content).entries[0].content[0].value
    assert "“Seoul welcomes the move.”" in html and "matched: eases visa" in html
    assert "eas\\w" not in html and "China eases visa rules. Seoul" not in html
