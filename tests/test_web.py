"""The JSON API through FastAPI's TestClient, over a real SQLite file filled by the pipeline."""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from monitor import answers, views
from monitor.domain import Definitions, Feed, StatusChange
from monitor.pipeline import evaluate_and_record, prepare, store_entries
from monitor.reloading import Validity
from monitor.statuses import pending_changes
from monitor.store import Cycle, Store, open_store
from monitor.web import create_app
from tests import storeops, webdata
from tests.conftest import ROOT
from tests.webdata import DAY, HOSTILE_LINK, HOSTILE_TITLE, NOW, settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "s3cret-token"
db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def make_client(store: Store, defs: Definitions, **options: object) -> TestClient:
    clock = options.pop("clock", lambda: NOW)
    validity = options.pop("validity", Validity())
    app = create_app(store=store, definitions=lambda: defs, settings=settings(**options),
                     clock=clock, validity=lambda: validity)  # type: ignore[arg-type]  # fmt: skip
    return TestClient(app, raise_server_exceptions=False)


# ---------------------------------------------------------------- indicators


def test_indicators_lists_every_indicator_with_status_and_levels(
    client: TestClient, defs: Definitions
) -> None:
    response = client.get("/indicators")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    items = {item["id"]: item for item in response.json()}
    assert list(items) == [i.id for i in defs.indicators]
    visa = items["visa-easing"]
    assert visa["status"] == "eased:confirmed"
    assert visa["since"] == (NOW - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert visa["group"] == "Travel and cultural exchange"
    assert visa["question"].startswith("Is there movement")
    assert visa["outcomes"] == [
        {
            "id": "eased",
            "label": "Visas are waived or extended",
            "level": "confirmed",
            "sources": ["koreaherald.com", "example.org"],
            "evidence_count": 2,
        }
    ]
    assert visa["evidence_count"] == 2
    assert "evidence" not in visa
    assert items["flight-routes"]["status"] == "expanded:reported"
    assert items["north-korea-stance"]["status"] == "quiet"


def test_one_indicator_carries_the_evidence_behind_its_status(client: TestClient) -> None:
    data = client.get("/indicators/visa-easing").json()

    assert [e["publisher"] for e in data["evidence"]] == ["koreaherald.com", "example.org"]
    hostile = data["evidence"][1]
    assert hostile["title"] == HOSTILE_TITLE  # data, served as JSON: the page escapes it
    assert hostile["link"] == HOSTILE_LINK
    assert "visa-free" in hostile["terms"]
    assert hostile["snippet"]


@pytest.mark.parametrize(
    "path",
    [
        "/indicators/nope",
        "/indicators/nope/history",
        "/indicators/nope/page",
        "/indicators/%3Cb%3E",
    ],
)
def test_an_unknown_indicator_is_a_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith("no indicator")


# ---------------------------------------------------------------- history


def test_history_is_newest_first_and_pages_with_before(client: TestClient) -> None:
    first = client.get("/indicators/visa-easing/history", params={"limit": 1}).json()

    assert [c["new_status"] for c in first["items"]] == ["eased:confirmed"]
    assert first["items"][0]["old_status"] == "eased:reported"
    assert first["next_before"] == first["items"][0]["id"]
    second = client.get(
        "/indicators/visa-easing/history", params={"limit": 1, "before": first["next_before"]}
    ).json()
    assert [(c["old_status"], c["new_status"]) for c in second["items"]] == [
        ("quiet", "eased:reported")
    ]
    assert second["next_before"] is None
    assert second["items"][0]["evidence"][0]["title"] == HOSTILE_TITLE


def test_history_since_keeps_later_changes(client: TestClient) -> None:
    since = (NOW - timedelta(days=5)).isoformat()
    data = client.get("/indicators/visa-easing/history", params={"since": since}).json()
    assert [c["new_status"] for c in data["items"]] == ["eased:confirmed"]
    naive = (NOW - timedelta(days=30)).replace(tzinfo=None).isoformat()
    data = client.get("/indicators/visa-easing/history", params={"since": naive}).json()
    assert len(data["items"]) == 2
    assert data["next_before"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "ten"},
        {"before": 0},
        {"before": 2**63},
        {"since": "yesterday"},
        {"since": "2026-13-45"},
    ],
)
def test_bad_query_values_are_a_json_422(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/indicators/visa-easing/history", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "key"),
    [("/indicators/visa-easing/history", "items"), ("/export/history", None)],
)
def test_a_since_at_the_edge_of_time_means_from_the_first_or_after_the_last(
    client: TestClient, path: str, key: str | None
) -> None:
    """A moment UTC cannot hold (year 1 east of Greenwich, 9999 west of it) is a valid
    ISO 8601 time: it answers like the earliest or latest moment there is, not with an error."""

    def rows(since: str | None) -> list[object]:
        params = {"format": "json"} if path.startswith("/export") else {}
        response = client.get(path, params={**params, **({"since": since} if since else {})})
        assert response.status_code == 200, response.text
        found = response.json()
        return list(found[key] if key else found)

    everything = rows(None)
    assert everything
    assert rows("0001-01-01T00:00:00+01:00") == rows("0001-01-01T00:00:00Z") == everything
    assert rows("9999-12-31T23:00:00-05:00") == rows("9999-12-31T23:59:59.999999Z")


# ---------------------------------------------------------------- feeds, metrics


def test_feeds_report_health(client: TestClient) -> None:
    feeds = {f["id"]: f for f in client.get("/feeds").json()}

    assert set(feeds) == {"yonhap", "herald", "gone"}
    assert feeds["yonhap"]["http_status"] == 200
    assert feeds["yonhap"]["not_modified"] is False
    assert feeds["yonhap"]["next_check_at"] is not None
    assert [feeds["yonhap"][k] for k in ("due", "held_by", "held_until")] == [False, None, None]
    assert feeds["herald"]["not_modified"] is True
    gone = feeds["gone"]
    assert (gone["dead"], gone["http_status"], gone["error_count"]) == (True, 410, 1)
    assert gone["last_error"] == "fetch: HTTP 410 Gone <b>bold</b>"
    assert gone["moved_to"] is None
    assert {f["warning"] for f in feeds.values()} == {""}
    assert gone["failing_since"] is not None
    assert gone["last_checked_at"] == (NOW - timedelta(minutes=5)).isoformat().replace(
        "+00:00", "Z"
    )


def test_metrics_are_read_from_the_database(client: TestClient) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("monitor_fetches_total", (("result", "modified"),))] == 2
    assert samples[("monitor_fetches_total", (("result", "not_modified"),))] == 2
    assert samples[("monitor_fetches_total", (("result", "failed"),))] == 2
    assert samples[("monitor_entries_total", ())] == 4
    assert samples[("monitor_matches_total", ())] == 2
    assert samples[("monitor_status_changes_total", (("indicator", "visa-easing"),))] == 2
    assert samples[("monitor_status_changes_total", (("indicator", "flight-routes"),))] == 1
    assert samples[("monitor_cycle_duration_seconds_count", ())] == 2
    assert samples[("monitor_cycle_duration_seconds_bucket", (("le", "1.0"),))] == 0
    assert samples[("monitor_cycle_duration_seconds_bucket", (("le", "2.5"),))] == 1
    assert samples[("monitor_cycle_duration_seconds_bucket", (("le", "+Inf"),))] == 2
    assert samples[("monitor_cycle_duration_seconds_sum", ())] == pytest.approx(4.6, abs=0.01)
    last = (NOW - timedelta(minutes=5) + timedelta(seconds=3.4)).timestamp()
    assert samples[("monitor_last_successful_cycle_timestamp_seconds", ())] == pytest.approx(last)
    sent = (NOW - timedelta(days=1)).timestamp()
    assert samples[("monitor_digest_sent_timestamp_seconds", ())] == pytest.approx(sent)
    assert samples[("monitor_digest_refused_recipients", ())] == 0
    assert samples[("monitor_feeds", (("state", "dead"),))] == 1
    assert samples[("monitor_feeds", (("state", "ok"),))] == 2
    assert samples[("monitor_feeds_with_warning", ())] == 0
    assert samples[("monitor_alerts_pending", ())] == 0  # recorded without alert URLs


def test_metrics_of_an_empty_database(tmp_path: Path, defs: Definitions) -> None:
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as empty:
        text = make_client(empty, defs).get("/metrics").text
    assert "monitor_cycle_duration_seconds_count 0.0" in text
    assert "monitor_last_successful_cycle_timestamp_seconds" not in text
    assert "monitor_digest_sent_timestamp_seconds" not in text
    assert "monitor_digest_refused_recipients" not in text


def test_metrics_count_the_recipients_the_server_refused_the_latest_digest(
    store: Store, defs: Definitions
) -> None:
    day = NOW.date()
    assert store.claim_digest(day, owner="test", now=NOW)
    refused = [("a@example.org", "550 5.1.1 no such user"), ("b@example.org", "552 full")]
    store.mark_digest_sent(day, NOW, refused=refused)

    text = make_client(store, defs).get("/metrics").text

    assert "\nmonitor_digest_refused_recipients 2.0\n" in text


# ---------------------------------------------------------------- health


def test_healthz_is_degraded_with_counts_when_a_feed_fails(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["database"]) == ("degraded", True)
    assert data["feeds"] == {
        "total": 3, "failing": 1, "never_read": 0, "read_recently": 2, "with_warning": 0,
        "silent": 0,
        "moved": 0,
        "rate_limited": 0,
        "stale": 0,
    }  # fmt: skip
    assert data["reasons"] == ["1 of 3 feeds failing: gone"]
    assert data["age_seconds"] == pytest.approx(5 * 60 - 3.4, abs=0.01)
    assert data["max_age_seconds"] == 3 * 15 * 60


def test_healthz_with_every_feed_due_each_tick_follows_the_tick(
    store: Store, defs: Definitions
) -> None:
    """MONITOR_CHECK_INTERVAL=0s checks every feed at each tick: a last cycle 5 minutes ago is
    fresh with 5-minute ticks, where three times 0s made /healthz answer 503 at all times."""
    client = make_client(
        store, defs, check_interval=timedelta(0), tick_interval=timedelta(minutes=5)
    )

    data = client.get("/healthz").json()

    assert data["max_age_seconds"] == 3 * 5 * 60
    assert data["status"] == "degraded" and data["age_seconds"] < data["max_age_seconds"]


def _checked(database_url: str, defs: Definitions, *fetches: tuple[str, bool, datetime]) -> Store:
    """A store of the web definitions after one cycle that fetched as told (feed, ok, when)."""
    store = open_store(database_url)
    prepare(webdata.context(store, defs), now=NOW - timedelta(days=1))
    for feed_id, ok, at in fetches:
        error = "" if ok else "fetch: connection refused"
        storeops.record_fetch(store, feed_id, now=at, ok=ok, error=error)
    store.record_cycle(Cycle(NOW - timedelta(minutes=1), NOW - timedelta(minutes=1)))
    return store


def test_healthz_is_ok_when_every_feed_was_read(database_url: str, defs: Definitions) -> None:
    """A feed read with a warning was read: it is counted, and changes no status."""
    recent = NOW - timedelta(minutes=5)
    with _checked(database_url, defs, *((f.id, True, recent) for f in defs.feeds)) as store:
        shared = (
            "1 item shares the guid of an earlier one: stored as stories of their own, told "
            "apart by headline"
        )
        storeops.record_fetch(store, "herald", now=recent, ok=True, warning=shared)
        client = make_client(store, defs)
        response = client.get("/healthz")
        metrics = client.get("/metrics").text
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["reasons"]) == ("ok", [])
    assert data["feeds"] == {
        "total": 3, "failing": 0, "never_read": 0, "read_recently": 3, "with_warning": 1,
        "silent": 0,
        "moved": 0,
        "rate_limited": 0,
        "stale": 0,
    }  # fmt: skip
    assert "\nmonitor_feeds_with_warning 1.0\n" in metrics
    assert '\nmonitor_feeds{state="ok"} 3.0\n' in metrics


def test_healthz_metrics_and_page_say_when_the_definition_files_are_invalid(
    database_url: str, defs: Definitions
) -> None:
    """One `Validity` (the daemon's reloader's) for /healthz, /metrics and the page."""
    recent = NOW - timedelta(minutes=5)
    invalid = Validity(("indicators/visa-easing.yaml:8: window: not a duration: '30days'",
                        "indicators/visa-easing.yaml:12: outcomes: empty"))  # fmt: skip
    reason = ("definitions: 2 problems in indicators/visa-easing.yaml:8; "
              "the last valid set is in force")  # fmt: skip
    with _checked(database_url, defs, *((f.id, True, recent) for f in defs.feeds)) as store:
        valid, broken = make_client(store, defs), make_client(store, defs, validity=invalid)
        assert valid.get("/healthz").json()["status"] == "ok"
        assert "\nmonitor_definitions_invalid 0.0\n" in valid.get("/metrics").text
        assert "2 problems" not in valid.get("/").text
        health = broken.get("/healthz")
        metrics, page = broken.get("/metrics").text, broken.get("/").text
    assert health.status_code == 200
    assert (health.json()["status"], health.json()["reasons"]) == ("degraded", [reason])
    assert "'30days'" not in health.text  # open without a token: where, not what
    assert "\nmonitor_definitions_invalid 2.0\n" in metrics
    assert reason in page


def test_metrics_count_the_definition_problems_of_each_file_of_the_first_twenty(
    database_url: str, defs: Definitions
) -> None:
    """An alert can say which file to fix, as `/healthz` names them (only a count was given):
    a label per file, at most 20 of them (a generated folder can break hundreds at once), the
    others summed as one."""
    problems = ["feeds.yaml: no feeds"]  # a problem naming no line
    for n in range(25):
        problems += [
            f"indicators/i{n:02}.yaml:{line}: outcomes: empty" for line in range(n % 3 + 1)
        ]
    invalid = Validity((*problems, "a problem naming no file"))
    recent = NOW - timedelta(minutes=5)
    with _checked(database_url, defs, *((f.id, True, recent) for f in defs.feeds)) as store:
        valid = make_client(store, defs).get("/metrics").text
        broken = make_client(store, defs, validity=invalid).get("/metrics").text

    def per_file(text: str) -> dict[str, float]:
        (family,) = [f for f in text_string_to_metric_families(text)
                     if f.name == "monitor_definitions_problems"]  # fmt: skip
        return {sample.labels["file"]: sample.value for sample in family.samples}

    assert per_file(valid) == {}
    found = per_file(broken)
    assert len(found) == 21
    assert found["feeds.yaml"] == 1
    assert [found[f"indicators/i{n:02}.yaml"] for n in range(19)] == [n % 3 + 1 for n in range(19)]
    rest = sum(n % 3 + 1 for n in range(19, 25)) + 1  # and the one naming no file
    assert found["(other files)"] == rest
    assert sum(found.values()) == len(problems) + 1
    assert f"\nmonitor_definitions_invalid {len(problems) + 1}.0\n" in broken


def test_healthz_is_degraded_while_the_day_s_digest_is_not_sent(
    database_url: str, defs: Definitions
) -> None:
    """Every feed reads, but the digest's last try failed: readers get no digest until a retry
    sends it, and /healthz says so (200: monitoring itself works)."""
    recent = NOW - timedelta(minutes=5)
    with _checked(database_url, defs, *((f.id, True, recent) for f in defs.feeds)) as store:
        store.claim_digest(NOW.date(), owner="daemon", now=recent)
        store.mark_digest_failed(NOW.date(), "smtp mail.example.org:587: timed out", recent)
        failing = make_client(store, defs).get("/healthz")
        store.claim_digest(NOW.date(), owner="daemon", now=NOW)
        store.mark_digest_sent(NOW.date(), NOW)
        sent = make_client(store, defs).get("/healthz")

    assert failing.status_code == 200
    assert (failing.json()["status"], failing.json()["reasons"]) == (
        "degraded",
        [f"the digest of {NOW.date()} is not sent: smtp mail.example.org:587: timed out"],
    )
    assert (sent.json()["status"], sent.json()["reasons"]) == ("ok", [])


def test_healthz_is_unhealthy_when_no_feed_was_ever_read(
    database_url: str, defs: Definitions
) -> None:
    failed = NOW - timedelta(minutes=1)  # a cycle finished, every feed failed within seconds
    with _checked(database_url, defs, *((f.id, False, failed) for f in defs.feeds)) as store:
        response = make_client(store, defs).get("/healthz")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "unhealthy"
    assert data["feeds"] == {
        "total": 3, "failing": 3, "never_read": 3, "read_recently": 0, "with_warning": 0,
        "silent": 0,
        "moved": 0,
        "rate_limited": 0,
        "stale": 0,
    }  # fmt: skip
    assert data["reasons"] == [
        "no feed was ever read successfully",
        "3 of 3 feeds failing: gone, herald, yonhap",
    ]


def test_healthz_is_unhealthy_when_no_feed_was_read_within_two_intervals(
    database_url: str, defs: Definitions
) -> None:
    long_ago, since = NOW - timedelta(hours=2), NOW - timedelta(minutes=31)
    fetches = [(f.id, True, long_ago) for f in defs.feeds] + [
        (f.id, False, since) for f in defs.feeds
    ]
    with _checked(database_url, defs, *fetches) as store:
        unhealthy = make_client(store, defs).get("/healthz")
        storeops.record_fetch(store, "yonhap", now=NOW - timedelta(minutes=2), ok=True)
        degraded = make_client(store, defs).get("/healthz")

    assert unhealthy.status_code == 503
    assert unhealthy.json()["status"] == "unhealthy"
    assert unhealthy.json()["reasons"][0] == "no feed read successfully within two check intervals"
    assert (degraded.status_code, degraded.json()["status"]) == (200, "degraded")
    assert degraded.json()["reasons"] == ["2 of 3 feeds failing: gone, herald"]


def test_healthz_is_503_when_the_last_cycle_is_too_old(store: Store, defs: Definitions) -> None:
    client = make_client(store, defs, health_max_age="2m")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "stale"


def test_healthz_before_any_cycle_is_starting_then_stale(tmp_path: Path, defs: Definitions) -> None:
    now = [NOW]
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as empty:
        client = make_client(empty, defs, clock=lambda: now[0])
        first = client.get("/healthz")
        now[0] = NOW + timedelta(minutes=46)
        later = client.get("/healthz")
    assert (first.status_code, first.json()["status"]) == (200, "starting")
    assert first.json()["last_successful_cycle"] is None
    assert (later.status_code, later.json()["status"]) == (503, "stale")


def test_an_unreachable_database_is_503_never_a_trace(
    tmp_path: Path, store: Store, defs: Definitions
) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite only: the database goes away by deleting its file")
    client = make_client(store, defs)
    shutil.rmtree(tmp_path / "data")
    store.close()  # drop pooled connections to the deleted file

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.json()["database"] is False
    for path in ("/indicators", "/feeds", "/metrics", "/"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.json() == {"detail": "the database did not answer"}
    # A person opening the page gets it as a page, as every other error, not bare JSON.
    for path in ("/", "/indicators/visa-easing/page"):
        page = client.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 503, path
        assert page.headers["content-type"].startswith("text/html")
        assert "503 Service Unavailable" in page.text
        assert "the database did not answer" in page.text


def test_an_unexpected_error_is_a_json_500_without_internals(store: Store) -> None:
    def broken() -> Definitions:
        raise RuntimeError("secret internals at /etc/passwd")

    app = create_app(store=store, definitions=broken, settings=settings())
    response = TestClient(app, raise_server_exceptions=False).get("/indicators")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert "secret" not in response.text


# ---------------------------------------------------------------- token


@pytest.mark.parametrize(
    "path",
    ["/indicators", "/indicators/visa-easing", "/indicators/visa-easing/history", "/feeds",
     "/metrics", "/", "/indicators/visa-easing/page"],
)  # fmt: skip
def test_a_token_guards_every_endpoint_but_healthz(
    store: Store, defs: Definitions, path: str
) -> None:
    client = make_client(store, defs, api_token=TOKEN)

    missing = client.get(path)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "a valid bearer token is required"}
    assert missing.headers["www-authenticate"] == "Bearer"
    for wrong in (
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
        "Bearer é".encode("latin-1"),
    ):
        assert client.get(path, headers={"Authorization": wrong}).status_code == 401, wrong
    assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_there_is_no_docs_page_that_needs_the_internet(store: Store, defs: Definitions) -> None:
    """FastAPI's /docs loads Swagger UI from a CDN: offline it was a blank page."""
    client = make_client(store, defs)
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").json()["paths"]["/indicators"]


def test_openapi_declares_the_token_when_one_is_set(store: Store, defs: Definitions) -> None:
    client = make_client(store, defs, api_token=TOKEN)
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 404
    spec = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert spec["paths"]["/indicators"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "401" in spec["paths"]["/feeds"]["get"]["responses"]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]

    assert set(paths) == {
        "/healthz", "/indicators", "/indicators/{indicator_id}",
        "/indicators/{indicator_id}/history", "/indicators/{indicator_id}/page", "/feeds",
        "/metrics", "/", "/entries", "/indicators/{indicator_id}/evidence/{entry_id}/verdict",
        "/export/history", "/export/changes", "/export/evidence", "/changes.atom",
        "/indicators/{indicator_id}/changes.atom",
        "/silences", "/silences/{silence_id}/end", "/indicators/{indicator_id}/explain/{entry}",
    }  # fmt: skip
    history = paths["/indicators/{indicator_id}/history"]["get"]
    assert {p["name"] for p in history["parameters"]} == {
        "indicator_id",
        "since",
        "limit",
        "before",
    }
    assert {"200", "304", "404", "422", "503"} <= set(history["responses"])
    assert "503" in paths["/healthz"]["get"]["responses"]
    assert "401" not in paths["/indicators"]["get"]["responses"]  # no token set
    assert "text/html" in paths["/"]["get"]["responses"]["200"]["content"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]


# ---------------------------------------------------------------- conditional requests


@pytest.mark.parametrize(
    "path",
    ["/indicators", "/indicators/visa-easing", "/indicators/visa-easing/history", "/feeds", "/"],
)
def test_etag_and_if_none_match(client: TestClient, path: str) -> None:
    first = client.get(path)
    etag = first.headers["etag"]

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def _etag_sentence() -> str:
    section = (ROOT / "README.md").read_text().split("## HTTP endpoint and page")[1]
    return section.split("carry an `ETag`")[0].split("\n- ")[-1]


def test_the_answers_the_readme_says_carry_an_etag_are_the_ones_that_do(
    client: TestClient,
) -> None:
    """The README names the GET endpoints whose answers carry an ETag; every other GET answer
    (a 200 here) carries none, so a tool does not wait for a 304 that never comes."""
    with_etag = set(re.findall(r"`GET (/[^`]*)`", _etag_sentence()))
    app: FastAPI = client.app  # type: ignore[assignment]
    paths = [p for p, ops in app.openapi()["paths"].items() if "get" in ops]
    seen = {}
    for path in paths:
        documented = path.replace("{indicator_id}", "{id}")
        query = "?q=visa" if path == "/entries" else ""
        concrete = path.replace("{indicator_id}", "visa-easing").replace("{entry}", "1")
        answer = client.get(concrete + query)
        assert answer.status_code == 200, path
        seen[documented] = "etag" in answer.headers

    assert with_etag and with_etag <= set(seen)
    assert {path for path, etag in seen.items() if etag} == with_etag


def test_history_has_last_modified_and_honours_if_modified_since(client: TestClient) -> None:
    first = client.get("/indicators/visa-easing/history")
    modified = first.headers["last-modified"]
    assert modified.endswith(" GMT")

    assert (
        client.get("/indicators/visa-easing/history", headers={"If-Modified-Since": modified})
    ).status_code == 304
    older = "Mon, 01 Jan 2024 00:00:00 GMT"
    response = client.get("/indicators/visa-easing/history", headers={"If-Modified-Since": older})
    assert response.status_code == 200
    bad = client.get("/indicators/visa-easing/history", headers={"If-Modified-Since": "garbage"})
    assert bad.status_code == 200


def test_json_answers_are_not_sniffed_as_html(client: TestClient) -> None:
    response = client.get("/indicators/visa-easing")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "application/json"


def test_definitions_are_read_per_request(store: Store, defs: Definitions) -> None:
    current = [defs]
    app = create_app(store=store, definitions=lambda: current[0], settings=settings(),
                     clock=lambda: NOW)  # fmt: skip
    client = TestClient(app)
    assert len(client.get("/indicators").json()) == len(defs.indicators)

    current[0] = Definitions(defs.indicators[:1], defs.feeds, defs.hash)
    assert len(client.get("/indicators").json()) == 1
    assert client.get("/indicators/visa-easing").status_code == 404


def test_a_future_clock_moves_evidence_out_of_the_window(store: Store, defs: Definitions) -> None:
    """Without a check to record it (`monitor serve` alone), the API still shows the status
    the evidence supports now, as `monitor status` does: never confirmed with no evidence."""
    later = NOW + timedelta(days=60)
    webdata.record_fetches(store, later - timedelta(minutes=5))  # the feeds are still read
    client = make_client(store, defs, clock=lambda: later)

    data = client.get("/indicators/visa-easing").json()
    listed = {i["id"]: i for i in client.get("/indicators").json()}

    assert (data["evidence"], data["status"], data["reason"]) == ([], "quiet", "")
    assert datetime.fromisoformat(data["since"]) == later  # worked out, not recorded yet
    assert [o["level"] for o in data["outcomes"]] == ["none"]
    assert listed["visa-easing"]["status"] == "quiet"
    assert 'data-status="quiet">quiet<' in client.get("/indicators/visa-easing/page").text
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"  # nothing written


def test_the_timeline_draws_the_shown_unknown_from_when_the_feeds_went_unread(
    store: Store, defs: Definitions
) -> None:
    """No daemon ran for two days (`monitor serve` alone): the badge says `unknown` since the
    feeds went unread. Before, the timeline under it drew the recorded `confirmed` up to today,
    as if the news had been read all along."""
    later = NOW + 2 * DAY
    client = make_client(store, defs, clock=lambda: later)

    page = client.get("/indicators/visa-easing/page").text

    assert 'data-status="unknown"' in page  # the badge
    label = re.search(r'aria-label="(Status over the last 90 days[^"]*)"', page)
    assert label is not None
    went = (NOW - timedelta(minutes=5) + 2 * timedelta(minutes=15)).date()  # unread from then
    stretches = html.unescape(label.group(1)).partition(": ")[2].split("; ")
    assert stretches[-1] == f"⚠ unknown: {went} – {later.date()}"
    assert "(confirmed): " in stretches[-2] and stretches[-2].endswith(f" – {went}")
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"  # nothing written


def test_feeds_nobody_reads_make_the_shown_status_unknown(store: Store, defs: Definitions) -> None:
    """No daemon has read the feeds for over two check intervals: the evidence is still in its
    window, but nobody can tell whether the news moved on, so the status shown is unknown."""
    later = NOW + timedelta(minutes=40)  # the feeds were last read at NOW - 5 minutes
    client = make_client(store, defs, clock=lambda: later)

    data = client.get("/indicators/visa-easing").json()

    assert data["status"] == "unknown"
    read = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    assert f"herald: not read since {read} UTC" in data["reason"]
    assert f"yonhap: not read since {read} UTC" in data["reason"]
    assert len(data["evidence"]) == 2  # still shown: the evidence is still in its window
    assert store.current_statuses()["visa-easing"][0] == "eased:confirmed"  # nothing written
    # Since the feeds stopped supporting a status: two of their 15-minute intervals after they
    # were last read (not since the moment it was asked: the timeline would draw the old
    # status until then).
    assert datetime.fromisoformat(data["since"]) == NOW - timedelta(minutes=5) + 2 * timedelta(
        minutes=15
    )
    fresh = make_client(store, defs, clock=lambda: NOW + timedelta(minutes=20))
    assert fresh.get("/indicators/visa-easing").json()["status"] == "eased:confirmed"
    # `monitor status` and `digest --preview` read the change a check would record: the same
    # moment, and listed under "What changed" even after the previous digest.
    pending = [
        c for c in pending_changes(defs, store, now=later) if c.indicator_id == "visa-easing"
    ]
    assert [c.at for c in pending] == [datetime.fromisoformat(data["since"])]
    listed = store.with_unrecorded(pending).changes_between(later - timedelta(minutes=1), later)
    assert [c.new_status for c in listed] == ["unknown"]


def test_a_feed_never_read_does_not_move_since_to_the_moment_asked(
    store: Store, defs: Definitions
) -> None:
    """A feed added to the feeds file after the daemon stopped (never read: it never supported
    any status) does not hide when the feeds that were read stopped supporting it: the API,
    the page and the changes `monitor status` reads all say then, however late one asks."""
    added = Feed("added", "https://added.example/rss.xml", ("korea",))
    more = Definitions(defs.indicators, (*defs.feeds, added), defs.hash)
    stopped = NOW - timedelta(minutes=5) + 2 * timedelta(minutes=15)  # read at NOW - 5 minutes
    for later in (NOW + timedelta(minutes=40), NOW + timedelta(minutes=41, seconds=13)):
        data = (
            make_client(store, more, clock=lambda at=later: at)
            .get("/indicators/visa-easing")
            .json()
        )
        assert (data["status"], data["reason"][-10:]) == ("unknown", "and 1 more")
        assert datetime.fromisoformat(data["since"]) == stopped
        pending = [
            c for c in pending_changes(more, store, now=later) if c.indicator_id == "visa-easing"
        ]
        assert [c.at for c in pending] == [stopped]


@pytest.mark.parametrize("digest_after", [None, timedelta(minutes=33)])
def test_the_daemon_records_unknown_when_the_readers_showed_it(
    store: Store, defs: Definitions, digest_after: timedelta | None
) -> None:
    """Feeds failing since `failed`: the readers show `unknown` from two of their 15-minute
    intervals later, before anything records it; the daemon, re-evaluating between cycles a
    little later, records the change at that same moment (the page, the API and the history
    then agree) — but never inside what a digest already sent covered: it would list it no
    more."""
    failed = NOW + timedelta(minutes=5)
    for feed in ("yonhap", "herald"):
        storeops.record_fetch(store, feed, now=failed, ok=False, http_status=503)
    stopped, later = failed + 2 * timedelta(minutes=15), failed + timedelta(minutes=40)
    if digest_after is not None:
        day = later.date()
        assert store.claim_digest(day, owner="test", now=failed + digest_after)
        store.mark_digest_sent(day, failed + digest_after)
    shown = make_client(store, defs, clock=lambda: later).get("/indicators/visa-easing").json()
    assert (shown["status"], datetime.fromisoformat(shown["since"])) == ("unknown", stopped)

    recorded = evaluate_and_record(webdata.context(store, defs), now=later)

    at = {c.indicator_id: c.at for c in recorded}["visa-easing"]
    assert at == (stopped if digest_after is None else failed + digest_after)
    assert store.current_statuses()["visa-easing"] == ("unknown", at)
    after = make_client(store, defs, clock=lambda: later).get("/indicators/visa-easing").json()
    assert datetime.fromisoformat(after["since"]) == at


def test_a_clock_set_back_makes_healthz_stale_and_the_status_unknown(
    store: Store, defs: Definitions
) -> None:
    """The feeds were read and the last cycle finished on a clock that ran a day ahead; the
    clock was then corrected: nothing says anything about now until a cycle runs again."""
    earlier = NOW - timedelta(days=1)
    client = make_client(store, defs, clock=lambda: earlier)

    health = client.get("/healthz")
    shown = client.get("/indicators/visa-easing").json()

    assert (health.status_code, health.json()["status"]) == (503, "stale")
    assert "after now: the clock was set back" in health.json()["reasons"][0]
    assert shown["status"] == "unknown"
    read = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    assert f"yonhap: last read at {read} UTC, after now (clock set back)" in shown["reason"]
    slightly = make_client(store, defs, clock=lambda: NOW - timedelta(minutes=6))
    assert slightly.get("/healthz").json()["status"] != "stale"  # within CLOCK_SLACK of it


# ---------------------------------------------------------------- cached views


def _count_computations(monkeypatch: pytest.MonkeyPatch, *, slow: float = 0.0) -> list[int]:
    calls: list[int] = []
    compute = views.indicator_views

    def counted(*args: Any, **kwargs: Any) -> list[views.IndicatorView]:
        calls.append(1)
        time.sleep(slow)
        return compute(*args, **kwargs)

    monkeypatch.setattr(views, "indicator_views", counted)
    return calls


def test_views_are_computed_again_only_when_the_data_moved(
    store: Store, defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_computations(monkeypatch)
    client = make_client(store, defs)
    first = client.get("/indicators")  # views that count the evidence…
    assert client.get("/indicators/visa-easing").status_code == 200  # …and that show it
    assert client.get("/indicators").headers["etag"] == first.headers["etag"]  # served by those
    assert client.get("/indicators/flight-routes").status_code == 200
    assert len(calls) == 2

    ctx = webdata.context(store, defs)
    title = "Asiana launches a new route from Seoul to Beijing"
    flights = webdata.news("herald", 9, title, "https://www.koreaherald.com/article/9", NOW)
    store_entries(ctx, [flights], now=NOW)
    assert client.get("/indicators").status_code == 200
    assert len(calls) == 3  # the data moved; the new match counts once it is evaluated…
    evaluate_and_record(ctx, now=NOW)  # …which the cycle that stored it does next
    moved = client.get("/indicators")
    assert len(calls) == 4
    assert moved.headers["etag"] != first.headers["etag"]


def test_views_follow_the_clock_after_a_minute(
    store: Store, defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_computations(monkeypatch)
    now = [NOW]
    client = make_client(store, defs, clock=lambda: now[0])
    for seconds in (0, 59, 60, 61, 30):  # the clock going back computes again too
        now[0] = NOW + timedelta(seconds=seconds)
        assert client.get("/indicators").status_code == 200
    assert len(calls) == 3


def test_concurrent_requests_share_one_computation(
    store: Store, defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_computations(monkeypatch, slow=0.2)
    client = make_client(store, defs)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get("/indicators"), range(16)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["etag"] for a in answers}) == 1
    assert len(calls) == 1


def _count_history_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    history = store.history

    def counted(indicator_id: str, **options: Any) -> list[StatusChange]:
        reads.append(indicator_id)
        return history(indicator_id, **options)

    monkeypatch.setattr(store, "history", counted)
    return reads


def test_history_pages_are_rendered_again_once_a_change_is_recorded(
    store: Store, defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_history_reads(store, monkeypatch)
    client = make_client(store, defs)
    path = "/indicators/visa-easing/history"
    first = client.get(path)
    assert client.get(path).json() == first.json()
    assert client.get(path, params={"limit": 1}).status_code == 200
    assert len(reads) == 2  # one per distinct page

    change = StatusChange("visa-easing", NOW, "eased:confirmed", "quiet", (), defs.hash)
    assert store.record_changes([change])
    moved = client.get(path)
    assert len(reads) == 3
    assert moved.json()["items"][0]["new_status"] == "quiet"
    assert moved.headers["etag"] != first.headers["etag"]


def test_the_answer_cache_keeps_the_most_recent_within_its_bytes() -> None:
    cache = answers.AnswerCache(max_bytes=80)  # eight bodies of 10 bytes; none over 10 bytes
    rendered: list[str] = []

    def get(key: str, version: int = 1, size: int = 10) -> None:
        def render() -> answers.Answer:
            rendered.append(key)
            return answers.Answer(b"x" * size, f'"{key}"')

        cache.get(key, version, render)

    for n in range(8):
        get(f"k{n}")
    get("k0")  # kept, and now the most recently used
    get("k8")  # drops k1, the least recently used
    get("k1")  # rendered again (drops k2)
    get("k0")
    get("k0", version=2)  # a new version renders again
    get("big", size=11)
    get("big", size=11)  # too big to keep
    assert rendered == [*(f"k{n}" for n in range(9)), "k1", "k0", "big", "big"]


def test_concurrent_misses_of_one_answer_render_it_once() -> None:
    cache = answers.AnswerCache()
    rendered: list[int] = []

    def render() -> answers.Answer:
        rendered.append(1)
        time.sleep(0.1)
        return answers.Answer(b"page", '"page"')

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: cache.get(("index",), 1, render), range(8)))
    assert len(rendered) == 1
    assert {a.body for a in found} == {b"page"}


def test_the_pages_are_rendered_once_per_snapshot(
    store: Store, defs: Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_history_reads(store, monkeypatch)
    client = make_client(store, defs)
    first = client.get("/")
    assert client.get("/").headers["etag"] == first.headers["etag"]
    assert len(reads) == len(defs.indicators)

    change = StatusChange("visa-easing", NOW, "eased:confirmed", "quiet", (), defs.hash)
    assert store.record_changes([change])
    assert client.get("/").headers["etag"] != first.headers["etag"]
    assert len(reads) == 2 * len(defs.indicators)


def test_healthz_gives_feeds_that_are_checked_less_often_three_of_their_intervals(
    database_url: str, defs: Definitions
) -> None:
    """Every feed checked hourly (`interval: 1h`) under the default CHECK_INTERVAL (15m): the
    daemon's cycles run hourly, so one 50 minutes ago is not stale (as 45 minutes would say)."""
    hourly = replace(defs, feeds=tuple(replace(f, interval=timedelta(hours=1)) for f in defs.feeds))
    read = NOW - timedelta(minutes=50)
    with open_store(database_url) as store:
        prepare(webdata.context(store, hourly), now=NOW - timedelta(days=1))
        for feed in hourly.feeds:
            storeops.record_fetch(store, feed.id, now=read, ok=True)
        store.record_cycle(Cycle(read, read))
        response = make_client(store, hourly).get("/healthz")
    assert (response.status_code, response.json()["status"]) == (200, "ok")
    assert response.json()["max_age_seconds"] == 3 * 3600
