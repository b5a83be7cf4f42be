"""A server left running while another version migrates the database under it (`monitor db
upgrade` of a newer monitor): it must stop writing, say so on /healthz, and `monitor serve`
stops with exit 1 as `monitor run` does. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from monitor import migrate
from monitor.domain import Definitions
from monitor.store import Store
from monitor.web import create_app
from monitor.webschema import CHECK_EVERY
from tests import webdata
from tests.test_web_live import monitor_serve
from tests.webdata import NOW, settings

db_url, defs, store = webdata.db_url, webdata.defs, webdata.store  # fixtures

FOREIGN = (
    "store: the database schema is at revision 9999, unknown to this monitor (whose latest is"
    f" {migrate.head()}): it was migrated by a newer version; upgrade monitor"
)


def _run(url: str, statement: str) -> None:
    """Run one statement on the database, as another version's migration would."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def migrate_under(url: str) -> None:
    """What `monitor db upgrade` of a newer version leaves: a revision this code does not know."""
    _run(url, "UPDATE alembic_version SET version_num = '9999'")


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> object:
        return self.now


def test_healthz_fails_with_the_reason_once_another_version_migrated_the_database(
    db_url: str, store: Store, defs: Definitions
) -> None:
    """The revision is read at most once every CHECK_EVERY for reads (no query per request),
    so /healthz says it at the first request after that."""
    clock, found = _Clock(), []
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=clock, on_schema_change=found.append)  # type: ignore[arg-type]  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/healthz").json()["status"] != "incompatible"

    migrate_under(db_url)
    clock.now += CHECK_EVERY - timedelta(milliseconds=1)
    assert client.get("/healthz").json()["status"] != "incompatible"  # not read again yet
    assert found == []
    clock.now += timedelta(milliseconds=1)
    answer = client.get("/healthz")

    assert answer.status_code == 503
    assert answer.json()["status"] == "incompatible"
    assert answer.json()["reasons"] == [FOREIGN]
    assert found == [FOREIGN]
    client.get("/healthz")
    assert found == [FOREIGN]  # told once


def test_writes_are_refused_at_once_after_another_version_migrated_the_database(
    db_url: str, store: Store, defs: Definitions
) -> None:
    """A write reads the revision itself, however recently a read did: nothing slips in."""
    clock, found = _Clock(), []
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=clock, on_schema_change=found.append)  # type: ignore[arg-type]  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/healthz").status_code == 200
    (entry,) = [s.id for s in store.search_entries(webdata.FLIGHTS)]
    before = (store.silences(), store.verdicts())

    migrate_under(db_url)
    silence = client.post(
        "/silences", json={"indicator": "visa-easing", "for": "1d", "reason": "trip"}
    )
    verdict = client.post(
        f"/indicators/flight-routes/evidence/{entry}/verdict",
        json={"outcome": "expanded", "verdict": "no", "note": ""},
    )

    for answer in (silence, verdict):
        assert answer.status_code == 503
        assert answer.json()["detail"] == f"{FOREIGN}; this server takes no writes"
    assert (store.silences(), store.verdicts()) == before
    assert found == [FOREIGN]
    assert client.get("/healthz").json()["status"] == "incompatible"  # without waiting
    assert client.get("/indicators").status_code == 200  # reads are answered while it stops


@pytest.mark.slow
def test_monitor_serve_stops_with_exit_1_when_another_version_migrated_the_database(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """As `monitor run` does at its next tick: the start-up error, exit 1, so the orchestrator
    restarts it and the restart (of this version) refuses the database in the same words."""
    with monitor_serve(db_url, tmp_path) as served:
        migrate_under(db_url)
        body = {"indicator": "visa-easing", "for": "1d", "reason": "trip"}
        refused = httpx.post(f"{served.url}/silences", json=body, timeout=60)
        assert refused.status_code == 503
        assert served.proc.wait(timeout=60) == 1
    output = served.output
    assert store.silences() == []
    assert "Traceback" not in output, output
    assert f"{FOREIGN}; the HTTP endpoint refuses writes" in output
    assert f"Error: {FOREIGN}; this server stopped" in output


def metric(client: TestClient, name: str) -> str | None:
    """The sample line of `name` in GET /metrics (200 asserted), or None when it is absent."""
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    lines = [line for line in answer.text.splitlines() if line.startswith(f"{name} ")]
    return lines[0] if lines else None


def test_metrics_say_the_schema_is_incompatible_once_another_version_migrated_the_database(
    db_url: str, store: Store, defs: Definitions
) -> None:
    """Prometheus scrapes /metrics, not /healthz: an alert on the gauge tells that this server
    reads a database a newer version migrated (and is stopping), as /healthz does."""
    clock = _Clock()
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=clock)  # type: ignore[arg-type]  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    assert metric(client, "monitor_schema_incompatible") == "monitor_schema_incompatible 0.0"

    migrate_under(db_url)
    clock.now += CHECK_EVERY

    assert metric(client, "monitor_schema_incompatible") == "monitor_schema_incompatible 1.0"
    assert client.get("/healthz").json()["status"] == "incompatible"
    assert metric(client, "monitor_cycles_total") is not None  # the others as before


def rename_cycle_summary(url: str) -> None:
    """A newer version's change that the cycle counters no longer read through."""
    _run(url, "ALTER TABLE cycle_summary RENAME TO cycle_totals")


@pytest.mark.parametrize("found_before", [True, False], ids=["found", "found-by-the-scrape"])
def test_metrics_answer_what_still_reads_when_a_newer_schema_no_longer_reads_as_this_knows_it(
    db_url: str, store: Store, defs: Definitions, found_before: bool
) -> None:
    """A newer version may rename what /metrics reads. The scrape answered the schema gauge
    alone, every other series gone (feeds, alerts, a replay's hold: an alert on any of them
    went silent, or fired as absent); now it leaves out only the part that does not read and
    says which (`monitor_scrape_collector_success`, as node_exporter does), also at once when
    the revision was not read yet (it was a 503, "the database did not answer")."""
    clock = _Clock()
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=clock)  # type: ignore[arg-type]  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    assert metric(client, "monitor_schema_incompatible") == "monitor_schema_incompatible 0.0"
    before = client.get("/metrics").text

    migrate_under(db_url)
    rename_cycle_summary(db_url)
    if found_before:
        clock.now += CHECK_EVERY
    answer = client.get("/metrics").text

    assert "\nmonitor_schema_incompatible 1.0\n" in answer
    assert "monitor_cycles_total" not in answer
    assert "monitor_cycle_duration_seconds" not in answer
    assert 'monitor_scrape_collector_success{collector="cycles"} 0.0' in answer
    for part in ("changes", "feeds", "alerts", "times", "replay"):
        assert f'monitor_scrape_collector_success{{collector="{part}"}} 1.0' in answer, part
        assert f'monitor_scrape_collector_success{{collector="{part}"}} 1.0' in before, part
    kept = ("monitor_feeds{", "monitor_alerts_pending ", "monitor_replay_held ",
            "monitor_status_changes_total{", "monitor_last_successful_cycle_timestamp_seconds ",
            "monitor_definitions_invalid ")  # fmt: skip
    for name in kept:
        lines = [line for line in before.splitlines() if line.startswith(name)]
        assert lines, name
        assert all(line in answer.splitlines() for line in lines), name
    assert client.get("/healthz").json()["status"] == "incompatible"


def test_a_database_that_does_not_answer_is_still_a_503_at_metrics(
    db_url: str, store: Store, defs: Definitions
) -> None:
    """Only another revision lets a part be left out: a store error at the code's own
    revision is the database not answering, and a scrape that leaves series out would hide it."""
    app = create_app(store=store, definitions=lambda: defs, settings=settings(),
                     clock=_Clock())  # type: ignore[arg-type]  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    rename_cycle_summary(db_url)

    answer = client.get("/metrics")

    assert answer.status_code == 503
    assert answer.json() == {"detail": "the database did not answer"}
