"""parsepool: a stream of feed bodies parsed in worker processes (`parse_many`).

Parsing is the costliest stage, and feedparser holds the GIL: bodies are parsed in a pool of
processes, and the results come back in order while the caller keeps fetching, matching and
storing, and what is parsed at once when nothing comes in for a while. The pool lives as long
as the stream, so nothing outlives a cycle; its workers end with this process, however it ends
(`monitor.lifeline`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from monitor.errors import ParseError
from monitor.lifeline import Lifeline, hold
from monitor.parse import Parsed, ParseJob, parse_job

__all__ = ["parse_many", "start_workers"]

T = TypeVar("T")


def parse_many(
    items: Iterable[tuple[T, ParseJob | None] | None],
    *,
    workers: int | None = None,
    ahead: int = 64,
) -> Iterator[tuple[T, Parsed | None] | None]:
    """Each item with the result of its job (None without one), in order.

    Jobs run in `workers` processes (default: one per CPU; 1 parses here), at most `ahead`
    items past the one last yielded, so the caller's work on results overlaps the parsing and
    memory stays bounded. An item None says that nothing came in for a while (a fetch hangs):
    the results parsed by then are yielded, then None, so that the caller can store them
    instead of waiting with them for the next item. The pool starts with the first job and
    ends with the iteration, so nothing outlives a cycle; a worker that dies fails the jobs
    still in the pool. The workers end with this process, however it ends (`monitor.lifeline`).
    """
    workers = workers or os.cpu_count() or 1
    if workers <= 1:
        for given in items:
            if given is None:
                yield None
            else:
                item, job = given
                yield item, None if job is None else parse_job(job)
        return
    pool: ProcessPoolExecutor | None = None
    lifeline: Lifeline | None = None
    pending: deque[tuple[T, Future[Parsed] | None]] = deque()
    try:
        for given in items:
            if given is not None:
                item, job = given
                future = None
                if job is not None:
                    if pool is None:
                        pool, lifeline = _pool(workers)
                    future = pool.submit(parse_job, job)
                pending.append((item, future))
            while pending and (len(pending) >= ahead or _ready(pending[0][1])):
                yield _result(pending.popleft())
            if given is None:  # nothing came in: what is parsed went out, the caller may act
                yield None
        while pending:
            yield _result(pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if lifeline is not None:
            lifeline.close()


def _pool(workers: int) -> tuple[ProcessPoolExecutor, Lifeline]:
    """A pool of `workers` parse processes, which end with this one (`monitor.lifeline`)."""
    lifeline = Lifeline(_context())
    pool = ProcessPoolExecutor(
        workers, mp_context=_context(), initializer=hold, initargs=(lifeline.end,)
    )
    return pool, lifeline


def start_workers(workers: int | None = None) -> None:
    """Start the process that `parse_many`'s workers fork from, when it will use one: it loads
    the parsers (a quarter of a second), and a cycle should not wait for that while it fetches.
    A no-op once it runs, and without workers."""
    if (workers or os.cpu_count() or 1) > 1 and _context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def _ready(future: Future[Parsed] | None) -> bool:
    return future is None or future.done()


def _result(head: tuple[T, Future[Parsed] | None]) -> tuple[T, Parsed | None]:
    item, future = head
    if future is None:
        return item, None
    try:
        return item, future.result()
    except BrokenProcessPool as exc:
        return item, ParseError(f"parse: the parsing process died ({exc})")


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: workers fork from a clean process that loaded the
    parsers once (`monitor.parseworker`), never from the caller's threads; spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", "monitor.parseworker"])
        return context
    return multiprocessing.get_context("spawn")
