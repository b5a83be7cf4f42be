"""The real server: uvicorn on an ephemeral port of 127.0.0.1, schemathesis against the OpenAPI
description, and Debian's headless Chromium reading the page."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx2 as httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from monitor.domain import Definitions
from monitor.errors import MonitorError
from monitor.store import Store
from monitor.web import WebServer, create_app, serve
from tests import webdata
from tests.conftest import ROOT
from tests.webdata import NOW

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "live-token"


@pytest.fixture
def server(app: FastAPI) -> Iterator[WebServer]:
    with WebServer(app, host="127.0.0.1", port=0) as running:
        yield running


# ---------------------------------------------------------------- the server


def test_the_server_listens_on_an_ephemeral_port_and_stops(app: FastAPI) -> None:
    server = WebServer(app, host="127.0.0.1", port=0)
    server.start()
    port = server.port
    try:
        assert port > 0
        assert server.url == f"http://127.0.0.1:{port}"
        health = httpx.get(f"{server.url}/healthz", timeout=60)
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"  # the test data has a gone feed
        indicators = httpx.get(f"{server.url}/indicators", timeout=60).json()
        assert {i["id"] for i in indicators} >= {"visa-easing", "flight-routes"}
        assert "server" not in health.headers
    finally:
        server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    server.stop()  # twice is harmless


def test_the_token_holds_over_the_wire(store: Store, defs: Definitions) -> None:
    guarded = create_app(
        store=store,
        definitions=lambda: defs,
        settings=webdata.settings(api_token=TOKEN),
        clock=lambda: NOW,
    )
    with WebServer(guarded, port=0) as server:
        assert httpx.get(f"{server.url}/indicators", timeout=60).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{server.url}/indicators", headers=auth, timeout=60).status_code == 200
        assert httpx.get(f"{server.url}/healthz", timeout=60).status_code == 200


def test_a_taken_port_is_an_error_not_a_hang(app: FastAPI) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = WebServer(app, port=taken.getsockname()[1])
        with pytest.raises(MonitorError, match="web: unable to listen"):
            server.start(timeout=5)


def test_monitor_serve_on_a_taken_port_is_an_error_as_for_monitor_run(app: FastAPI) -> None:
    """`monitor serve` ended with uvicorn's exit code 3 and no `Error:` line, where `monitor
    run` says `web: unable to listen on …` with exit 1 (a MonitorError)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MonitorError, match=f"^web: unable to listen on 127.0.0.1:{port}$"):
            serve(app, host="127.0.0.1", port=port)


def test_stop_waits_for_a_request_in_flight(store: Store, defs: Definitions) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow() -> Definitions:
        entered.set()
        release.wait(60)
        return defs

    slow_app = create_app(store=store, definitions=slow, settings=webdata.settings())
    server = WebServer(slow_app, port=0)
    server.start()
    answers: list[int] = []
    fetch = threading.Thread(
        target=lambda: answers.append(httpx.get(f"{server.url}/indicators", timeout=60).status_code)
    )
    fetch.start()
    assert entered.wait(60)  # a hang guard: no loaded machine takes this long
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    release.set()
    stopper.join(60)
    fetch.join(60)
    assert answers == [200]
    assert not stopper.is_alive()


@dataclass
class Served:
    """A real `monitor serve` (`monitor_serve`): its address, its process, the copy of the
    indicators it reads, its log while it runs, and all it wrote once it has ended."""

    url: str
    proc: subprocess.Popen[bytes]
    indicators: Path
    log: IO[str]
    output: str = ""


@contextmanager
def monitor_serve(db_url: str, tmp_path: Path, **settings: str) -> Iterator[Served]:
    """`monitor serve` in a process of its own on a free port of 127.0.0.1, over `db_url` with a
    copy of the web tests' indicators (and `settings`, MONITOR_* without the prefix), once it
    answers; killed at the end if still running."""
    indicators = tmp_path / "indicators"
    shutil.copytree(webdata.WEB / "indicators", indicators)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_INDICATORS_DIR": str(indicators),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
        "MONITOR_HTTP_PORT": str(port),
        **{f"MONITOR_{name.upper()}": value for name, value in settings.items()},
    }
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "--host", "127.0.0.1"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}", proc, indicators, log)
    try:
        wait_for(f"{served.url}/healthz", proc)
        yield served
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.seek(0)
        served.output = log.read()
        log.close()


@pytest.mark.slow
def test_monitor_serve_reads_the_database_and_reloads_definitions(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    with monitor_serve(db_url, tmp_path) as served:
        url, proc = served.url, served.proc
        assert len(httpx.get(f"{url}/indicators", timeout=60).json()) == 4
        assert "Visa easing" in httpx.get(f"{url}/", timeout=60).text
        (served.indicators / "flight-routes.yaml").unlink()
        assert len(httpx.get(f"{url}/indicators", timeout=60).json()) == 3
        proc.send_signal(signal.SIGHUP)  # a reload, as for `monitor run`: not the end
        assert len(httpx.get(f"{url}/indicators", timeout=60).json()) == 3
        served.log.flush()
        assert "definitions unchanged" in Path(served.log.name).read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert "Traceback" not in served.output, served.output


@pytest.mark.slow
def test_monitor_serve_logs_an_invalid_edit_as_its_log_is_written(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """An invalid edit was written to stderr as a bare line (`monitor serve: keeping the last good
    definitions: …`): no time, no level, and not JSON in a log a collector parses as JSON. It is
    one ERROR record, in the words `monitor run` logs it with."""
    with monitor_serve(db_url, tmp_path, log_format="json") as served:
        path = served.indicators / "flight-routes.yaml"
        path.write_text(path.read_text() + "window: soon\n")
        deadline = time.monotonic() + 60
        while not any(
            reason.startswith("definitions:")
            for reason in httpx.get(f"{served.url}/healthz", timeout=60).json()["reasons"]
        ):
            assert time.monotonic() < deadline, "the invalid edit was never read"
            time.sleep(0.1)
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=60) == 0
    records = [json.loads(line) for line in served.output.splitlines() if line.strip()]
    errors = [r for r in records if r["level"] == "error"]
    assert len(errors) == 1, served.output
    assert errors[0]["message"].startswith("definitions: 1 problem; keeping the last valid set")
    assert f"{path}:" in errors[0]["message"] and "window" in errors[0]["message"]


@pytest.mark.slow
def test_monitor_serve_json_log_carries_no_terminal_colours(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """uvicorn's records (`Started server process`, `Uvicorn running on …`) carry a copy of their
    message with terminal colour codes for its own console, `color_message`, which the JSON log
    wrote as one more field: `"\\u001b[36m%d\\u001b[0m"` in every start and stop."""
    with monitor_serve(db_url, tmp_path, log_format="json") as served:
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=60) == 0
    records = [json.loads(line) for line in served.output.splitlines() if line.strip()]
    started = [r for r in records if r["message"].startswith("Started server process")]
    assert len(started) == 1
    assert all("color_message" not in r for r in records)
    assert "\\u001b" not in served.output and "\x1b" not in served.output


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "monitor serve exited"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


# ---------------------------------------------------------------- the OpenAPI contract


def test_the_api_keeps_its_openapi_contract(app: FastAPI) -> None:
    """Every operation of /openapi.json, fuzzed: no 5xx, and every answer matches the status
    codes, content types, headers and schemas declared. Derandomized: the same cases on every
    run, so a failure is reproduced by running the test again, never found by luck in CI."""
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 19
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=25, deadline=None, database=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )  # fmt: skip
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate()

        check()


# ---------------------------------------------------------------- a browser


def chromium(url: str, profile: Path, *extra: str) -> str:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars", *extra, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.browser
def test_chromium_shows_every_indicator_and_its_status(
    server: WebServer, defs: Definitions, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "web-index.png"
    screenshot.unlink(missing_ok=True)
    chromium(f"{server.url}/", tmp_path / "shot", f"--screenshot={screenshot}",
             "--window-size=1280,2000")  # fmt: skip
    dom = chromium(f"{server.url}/", tmp_path / "dom", "--dump-dom")

    assert screenshot.stat().st_size > 10_000
    statuses = {i["id"]: i["status"] for i in httpx.get(f"{server.url}/indicators").json()}
    for indicator in defs.indicators:
        card = re.search(rf'<article [^>]*id="{indicator.id}".*?</article>', dom, re.S)
        assert card, f"{indicator.id} is not on the page"
        assert indicator.title in card.group(0)
        badge = re.search(r'<span class="badge [^"]*"[^>]*>([^<]+)</span>', card.group(0))
        assert badge and badge.group(1) == statuses[indicator.id]
    assert "<script" not in dom  # the hostile headline stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


@pytest.mark.browser
def test_chromium_reads_an_indicator_page(server: WebServer, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "web-indicator.png"
    url = f"{server.url}/indicators/visa-easing/page"
    chromium(url, tmp_path / "shot", f"--screenshot={screenshot}", "--window-size=1280,1400")
    dom = chromium(url, tmp_path / "dom", "--dump-dom")

    assert "Visa easing between China and South Korea" in dom
    assert dom.count('class="change"') == 2
    assert screenshot.stat().st_size > 10_000
