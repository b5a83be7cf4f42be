"""What a parse worker spends beside feedparser: `python -m benchmarks.parsecost [--feeds N]`.

The bodies of `make bench`'s corpus, parsed in this process (one core) in turns: feedparser
alone with the product's settings (the parse floor's work), then `parse.parse_job` (what a
worker runs: feedparser, then its result turned into entries), timing feedparser inside it
too, then the pickling of its results as a worker sends them and their unpickling as the
main process receives them. Prints, for each turn, the CPU seconds of each and feedparser's
share of `parse_job`. A profiling aid, not a target.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import feedparser

from benchmarks import feeds
from benchmarks.measure import PRODUCT_PARSE, feedparser_alone
from monitor import parse


def turns(bodies: list[bytes], count: int) -> list[dict[str, float]]:
    inside = [0.0]
    real = feedparser.parse

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] += time.process_time() - started

    found = []
    for _ in range(count):
        started = time.process_time()
        feedparser_alone(bodies, **PRODUCT_PARSE)
        alone = time.process_time() - started
        inside[0] = 0.0
        feedparser.parse = timed
        try:
            started = time.process_time()
            results = [
                parse.parse_job(parse.ParseJob(body, f"f{n}", f"http://f{n}/", "application/xml"))
                for n, body in enumerate(bodies)
            ]
            job = time.process_time() - started
        finally:
            feedparser.parse = real
        started = time.process_time()
        sent = [bytes(ForkingPickler.dumps(result)) for result in results]  # as a worker does
        pickled = time.process_time() - started
        started = time.process_time()
        for each in sent:
            pickle.loads(each)
        unpickled = time.process_time() - started
        found.append(
            {
                "feedparser_alone_s": round(alone, 3),
                "parse_job_s": round(job, 3),
                "feedparser_in_parse_job_s": round(inside[0], 3),
                "feedparser_share": round(inside[0] / job, 3) if job else 0.0,
                "pickle_s": round(pickled, 3),
                "unpickle_s": round(unpickled, 3),
            }
        )
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parsecost", description=__doc__)
    parser.add_argument("--feeds", type=int, default=200, help="feeds parsed (default 200)")
    parser.add_argument("--entries", type=int, default=50, help="entries per feed (default 50)")
    parser.add_argument("--turns", type=int, default=3, help="turns of each (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="monitor-parsecost-") as tmp:
        corpus = feeds.write(Path(tmp), args.feeds, args.entries)
        bodies = [f.read_bytes() for f in corpus.files]
    for n, turn in enumerate(turns(bodies, args.turns)):
        print(f"turn {n}: " + ", ".join(f"{k} {v}" for k, v in turn.items()))


if __name__ == "__main__":
    main()
