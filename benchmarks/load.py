"""The HTTP load generator: a separate process, `concurrency` keep-alive connections.

    python -m benchmarks.load --seconds 10 --concurrency 4 URL [URL ...]

Each connection asks for the URLs in turn, as fast as answers come, for `seconds`; prints
JSON: requests, errors, requests/s, p50 and p99 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def _worker(
    urls: list[str], offset: int, until: float, latencies: list[float], errors: list[int]
) -> None:
    parts = urlsplit(urls[0])
    host = parts.hostname
    if host is None:
        raise ValueError(f"load: {urls[0]!r} names no host")
    connection = http.client.HTTPConnection(host, parts.port, timeout=30)
    paths = [
        urlsplit(u).path + (f"?{urlsplit(u).query}" if urlsplit(u).query else "") for u in urls
    ]
    n = offset
    while time.perf_counter() < until:
        path = paths[n % len(paths)]
        n += 1
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            ok = answer.status == 200
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection(host, parts.port, timeout=30)
            ok = False
        latencies.append(time.perf_counter() - started)
        if not ok:
            errors.append(1)
    connection.close()


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(urls: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    threads = [
        threading.Thread(target=_worker, args=(urls, k, until, latencies, errors))
        for k in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        "concurrency": concurrency,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    print(json.dumps(run(args.urls, args.seconds, args.concurrency)))


if __name__ == "__main__":
    main()
