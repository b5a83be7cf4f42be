"""The feed server: a separate process serving a directory of feed files on 127.0.0.1.

    python -m benchmarks.server DIR        prints its port on the first line of stdout

An asyncio HTTP/1.1 server with keep-alive. Every file `DIR/<name>` is served at `/<name>`
with an ETag and a Last-Modified. The mode, set with `GET /_mode?set=<mode>`, decides the
answers: `200` always sends the body; `304` honours If-None-Match / If-Modified-Since;
`ignore` ignores validators and sends none, so each body comes again, identical.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MODES = ("200", "304", "ignore")
LAST_MODIFIED = "Mon, 05 Jan 2026 08:00:00 GMT"


@dataclass(frozen=True)
class _Doc:
    body: bytes
    etag: str


class _Server:
    def __init__(self, root: Path) -> None:
        self.mode = "200"
        self.docs = {
            "/" + p.name: _Doc(p.read_bytes(), '"' + hashlib.sha1(p.read_bytes()).hexdigest() + '"')
            for p in sorted(root.iterdir())
            if p.is_file()
        }

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                writer.write(self.answer(head))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def answer(self, head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        _method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if target.startswith("/_mode"):
            mode = target.partition("set=")[2]
            if mode in MODES:
                self.mode = mode
            return _response(200, b"mode " + self.mode.encode(), {})
        doc = self.docs.get(target)
        if doc is None:
            return _response(404, b"not found", {})
        if self.mode == "ignore":
            return _response(200, doc.body, {"Content-Type": "application/rss+xml"})
        validators = {"ETag": doc.etag, "Last-Modified": LAST_MODIFIED}
        if self.mode == "304" and (
            headers.get("if-none-match") == doc.etag
            or headers.get("if-modified-since") == LAST_MODIFIED
        ):
            return _response(304, b"", validators)
        return _response(200, doc.body, {"Content-Type": "application/rss+xml", **validators})


def _response(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if status != 304:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _serve(root: Path) -> None:
    server = _Server(root)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, limit=1 << 20)
    port = listener.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with listener:
        await listener.serve_forever()


class FeedServer:
    """Runs `python -m benchmarks.server DIR` and stops it on exit."""

    def __init__(self, root: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", str(root)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.pid = self._process.pid

    def set_mode(self, mode: str) -> None:
        with urllib.request.urlopen(f"{self.base_url}/_mode?set={mode}") as answer:
            assert answer.read() == f"mode {mode}".encode()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1])))
