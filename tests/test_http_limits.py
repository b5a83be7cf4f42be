"""The HTTP server's limits, against `monitor serve` as a subprocess on 127.0.0.1 through raw
sockets: idle sockets cannot take every descriptor, a huge header is refused without the
server holding it, a slow header trickle and a silent connection are closed after
MONITOR_HTTP_HEADER_TIMEOUT, and a foreign Host is refused by the real server too.

Nothing here sleeps for a margin: each test waits on what it expects (a socket closed, a
count reached); the deadlines only turn a hang into a failure."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from monitor.store import open_store
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

MB = 1024 * 1024
FAIL_AFTER = 60.0  # seconds: only a broken server takes this long


@dataclass
class Served:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=FAIL_AFTER)
        return sock


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + FAIL_AFTER
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(**settings: str) -> Served:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"sqlite:///{tmp_path / 'monitor.db'}"
        open_store(url).close()  # `monitor serve` makes no database: `monitor run` does
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
            "MONITOR_DATABASE_URL": url,
            "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
            "MONITOR_FEEDS_FILE": str(ROOT / "config" / "feeds.yaml"),
            "MONITOR_HTTP_PORT": str(port),
            "PYTHONPATH": str(ROOT),
            **settings,
        }
        log = (tmp_path / f"serve-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--host", "127.0.0.1"],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        served = Served(port, proc)
        started.append(served)
        wait_until(lambda: proc.poll() is not None or listening(port), "monitor serve listening")
        assert proc.poll() is None, (tmp_path / "serve-0.log").read_text()
        return served

    yield start
    for served in started:
        served.proc.terminate()
        try:
            served.proc.wait(15)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as closed)."""
    sock.settimeout(FAIL_AFTER)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def get(served: Served, path: str = "/healthz", host: str = "127.0.0.1") -> bytes:
    with served.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return read_until_closed(sock)


def closed_by_server(sock: socket.socket) -> bool:
    """Blocks until the server closes `sock` (or FAIL_AFTER passes: False)."""
    sock.settimeout(FAIL_AFTER)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), so no moment of growth is missed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def test_300_idle_sockets_leave_room_for_a_request(serve: Callable[..., Served]) -> None:
    served = serve(MONITOR_HTTP_MAX_CONNECTIONS="50", MONITOR_HTTP_HEADER_TIMEOUT="10m")
    assert get(served).startswith(b"HTTP/1.1 200 ")
    baseline = served.process.num_fds()
    idle = [served.connect() for _ in range(300)]
    try:
        answer = get(served)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        # the oldest idle sockets made room; the server holds at most its cap
        assert closed_by_server(idle[0])
        wait_until(lambda: served.process.num_fds() <= baseline + 50, "at most 50 connections")
        assert not closed_by_server_now(idle[-1])  # the newest ones still wait
    finally:
        for sock in idle:
            sock.close()


def closed_by_server_now(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""


def test_a_huge_header_gets_431_and_the_server_never_holds_it(
    serve: Callable[..., Served],
) -> None:
    served = serve()
    assert get(served).startswith(b"HTTP/1.1 200 ")
    # just over the 32 KiB cap: the answer is read whole
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 40_000)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"x-content-type-options: nosniff" in answer.lower()

    # 128 MB of one header: the server stops reading at the cap and closes
    before = peak_rss(served.proc.pid)
    sent = 0
    chunk = b"b" * (1 * MB)
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
        try:
            while sent < 128 * MB:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        read_until_closed(sock)
    assert sent < 128 * MB, "the server read the whole 128 MB header"
    assert get(served).startswith(b"HTTP/1.1 200 ")
    grew = peak_rss(served.proc.pid) - before
    assert grew < 16 * MB, f"the server's peak memory grew by {grew / MB:.1f} MB"


def test_too_many_header_lines_get_431(serve: Callable[..., Served]) -> None:
    served = serve(MONITOR_HTTP_MAX_HEADERS="20")
    lines = "".join(f"X-{n}: {n}\r\n" for n in range(30))
    with served.connect() as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    lines = "".join(f"X-{n}: {n}\r\n" for n in range(10))
    with served.connect() as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 200 ")


def test_a_header_trickle_and_a_silent_socket_are_closed_after_the_header_timeout(
    serve: Callable[..., Served],
) -> None:
    served = serve(MONITOR_HTTP_HEADER_TIMEOUT="1s")
    silent = served.connect()
    with served.connect() as slow, silent:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        trickled, closed = 0, False
        while not closed and trickled < 240:  # 240 bytes at one per 0.25 s: a minute
            try:
                slow.sendall(b"X-Slow: 1\r\n"[trickled % 11 : trickled % 11 + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            trickled += 1
            readable, _, _ = select.select([slow], [], [], 0.25)
            if readable:
                closed = closed_by_server(slow)
        assert closed, "the trickle was never cut"
        assert closed_by_server(silent)
    # a connection that keeps to the limits is answered as ever
    assert get(served).startswith(b"HTTP/1.1 200 ")


def test_the_real_server_refuses_a_foreign_host_and_answers_head(
    serve: Callable[..., Served],
) -> None:
    served = serve()
    refused = get(served, host="evil.example")
    assert refused.startswith(b"HTTP/1.1 400 ")
    assert b"x-content-type-options: nosniff" in refused.lower()
    assert get(served, host=f"localhost:{served.port}").startswith(b"HTTP/1.1 200 ")
    with served.connect() as sock:
        sock.sendall(b"HEAD /indicators HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        head = read_until_closed(sock)
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert b"content-length: " in head.lower()


def test_pipelined_and_kept_alive_requests_are_all_answered(serve: Callable[..., Served]) -> None:
    served = serve(MONITOR_HTTP_MAX_HEADER_BYTES="1024")
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with served.connect() as sock:
        sock.sendall(request * 30 + last)  # 1.3 KB in one write: each request has its own cap
        answers = read_until_closed(sock)
    assert answers.count(b"HTTP/1.1 200 ") == 31, answers[-300:]
