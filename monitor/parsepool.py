"""parsepool: a stream of feed bodies parsed in worker processes (`parse_many`).

Parsing is the costliest stage, and feedparser holds the GIL: bodies are parsed in a pool of
processes, and the results come back in order while the caller keeps fetching, matching and
storing, and what is parsed at once when nothing comes in for a while. The pool lives as long
as the stream, so nothing outlives a cycle; its workers end with this process, however it ends
(`monitor.lifeline`).

A worker that dies (the OOM killer, a segfault in a C parser) breaks its pool: every job still
in it is lost, and the pool takes no more. The stream goes on in a new pool, where the jobs
lost are parsed again one at a time, so that a body that kills its worker is found: the one
alone in a pool that breaks fails with `parse: the parsing process died (…)`, and every other
is parsed as usual. A pool is started again at most RESTARTS times in one stream; past that
the bodies left fail with `parse: not parsed: …` rather than being parsed in this process,
where what killed a worker would kill the cycle, and then each cycle that reads that body.
A job lost alone is the one its worker died of only when it was parsed alone on purpose (a
suspect): otherwise the worker that died may have been an idle one, and it is a suspect too.
A job has `timeout` seconds of CPU time (`parse_within`): past them the kernel ends its worker,
which breaks the pool as any death does, and the body fails with `parse: gave up after 60s
of CPU time (parse timeout)`. Such a break costs no restart, and the body is its culprit at
once: each worker notes on the pool's board which job it parses (`_Board`), so each one ended
is found with its job (two that ran out together: both fail at once), and the jobs lost with
them are parsed again as they came, not alone one by one (where a hostile body timed out a
second time).

A worker that cannot be started (its fork fails for want of memory or processes, or the
forkserver it forks from died: OSError, EOFError), or that ends before its first body (its
program cannot be loaded: the file of the daemon's main module is gone), or a pool whose own
threads in this process cannot be started (a limit on processes or threads: RuntimeError,
"can't start new thread", when the pool starts its manager, or when the manager starts the
thread that feeds the workers, which would leave every job waiting), ends the pool, and
parsing, for the rest of the stream: the jobs its workers hold are finished, and every other
job fails with `parse: could not start a parsing process (…); read whole at the next check`.
That is no break and costs no restart: no body is to blame, and starting again seconds later,
while memory is short, would mostly fail again, after adding a forkserver (an interpreter
loading the parsers) to the pressure. The next stream starts a new pool, and the forkserver
again if it died.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Generic, TypeVar

from monitor.errors import ParseError
from monitor.lifeline import Lifeline, hold
from monitor.links import without_password
from monitor.parse import OUT_OF_MEMORY, Parsed, ParseJob, parse_job

__all__ = ["RESTARTS", "parse_many", "parse_within", "start_workers"]

log = logging.getLogger("monitor.parse")

T = TypeVar("T")

# New pools started in one stream (one cycle) after a parsing process died: one body that
# kills its worker costs two (the pool it broke, with others in it or not, then the one it
# broke alone as a suspect), so two such bodies are found, and the cycle goes on without them.
# A worker that cannot be started counts no restart: parsing stops there for the stream.
RESTARTS = 4
# Seconds between looks, while a job is waited for, at whether the pool's manager thread lives:
# it settles every future, and one that died (it could not start the thread that feeds the
# workers) settles none. The wait ends at once when the job does.
MANAGER_CHECK = 1.0
MANAGER_DIED = "the pool's manager thread died: its traceback is on standard error"


def parse_many(
    items: Iterable[tuple[T, ParseJob | None] | None],
    *,
    workers: int | None = None,
    ahead: int = 64,
    timeout: float | None = None,
    memory: int | None = None,
) -> Iterator[tuple[T, Parsed | None] | None]:
    """Each item with the result of its job (None without one), in order.

    Jobs run in `workers` processes (default: one per CPU, one on a machine of one CPU, where a
    body that kills its parser would kill this process; 1 parses here), at most `ahead` items
    past the one last yielded, each within `timeout` seconds of CPU time and `memory` bytes of
    address space (`parse_within`; not in this process), so the caller's work on results
    overlaps the parsing and memory stays bounded. An item None says that nothing came in for a
    while (a fetch hangs): the results parsed by then are yielded, then None, so that the caller
    can store them instead of waiting with them for the next item. The pool starts with the
    first job and ends with the iteration, so nothing outlives a cycle. A worker that dies costs
    the job it was parsing (a ParseError), never the stream; one that cannot be started costs
    the jobs left (see the module's docstring).
    """
    if workers == 1:
        for given in items:
            if given is None:
                yield None
            else:
                item, job = given
                yield item, None if job is None else parse_job(job)
        return
    pool: _Pool[T] = _Pool(workers or os.cpu_count() or 1, timeout, memory)  # one CPU: one
    pending: deque[_Slot[T]] = deque()
    try:
        for given in items:
            if given is not None:
                pending.append(pool.add(*given))
            while pending and (len(pending) >= ahead or pool.ready(pending[0])):
                yield pool.take(pending.popleft())
            if given is None:  # nothing came in: what is parsed went out, the caller may act
                yield None
        while pending:
            yield pool.take(pending.popleft())
    finally:
        pool.close()


def start_workers(workers: int | None = None) -> None:
    """Start the process that `parse_many`'s workers fork from, when it will use one: it loads
    the parsers (a quarter of a second), and a cycle should not wait for that while it fetches.
    A no-op once it runs, and without workers."""
    if workers != 1 and _context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


@dataclass(eq=False)
class _Slot(Generic[T]):
    """One item of the stream: its job, the future of its job in the current pool (None while
    it waits for one), or its result when that did not come from a future."""

    item: T
    job: ParseJob | None
    future: Future[Parsed] | None = None
    result: Parsed | None = None
    token: int = 0  # its job's number in the current pool (`_Board`)


class _Pool(Generic[T]):
    """The stream's pool of workers, started again when a worker dies (`_broke`).

    After a break the jobs lost are `suspects`, parsed one at a time (the first one is the
    only job in the pool), and the jobs that come in meanwhile are `waiting` for them."""

    def __init__(
        self, workers: int, timeout: float | None = None, memory: int | None = None
    ) -> None:
        self.workers = workers
        self.timeout = timeout  # CPU seconds one job may take (`parse_within`)
        self.memory = memory  # bytes of address space a worker may take (`parse_within`)
        self.executor: ProcessPoolExecutor | None = None
        self.lifeline: Lifeline | None = None
        self.running: dict[int, _Slot[T]] = {}  # submitted to this pool, not taken yet
        self.suspects: deque[_Slot[T]] = deque()
        self.waiting: deque[_Slot[T]] = deque()
        self.breaks = 0
        self.started: Event | None = None  # set by the first worker of the pool that starts
        self.board: _Board | None = None  # which job each worker of the pool parses
        self.tokens = 0  # jobs numbered in the stream, for the board
        self.given_up = ""  # the error of every job once the pool broke too often

    def add(self, item: T, job: ParseJob | None) -> _Slot[T]:
        slot = _Slot(item, job)
        if job is not None:
            self._place(slot)
        return slot

    def ready(self, slot: _Slot[T]) -> bool:
        self._check(slot)
        future = slot.future
        return slot.job is None or slot.result is not None or bool(future and future.done())

    def take(self, slot: _Slot[T]) -> tuple[T, Parsed | None]:
        """The slot's item and result, once it has one."""
        while not self.ready(slot):
            decides = slot.future or self.suspects[0].future  # its own, or the suspect's first
            if decides is not None:
                wait_for([decides], timeout=MANAGER_CHECK)
                if not decides.done() and _manager_died(self.executor):
                    self._end()
                    self._not_started(MANAGER_DIED)
        self.running.pop(id(slot), None)
        if slot.job is None:
            return slot.item, None
        if slot.result is not None:
            return slot.item, slot.result
        assert slot.future is not None  # ready: a job has a result or a future done
        return slot.item, slot.future.result()

    def close(self) -> None:
        self._end(cancel=True)

    def _end(self, *, cancel: bool = False) -> None:
        """End the pool once its workers are done with what they hold (or `cancel` it)."""
        executor, lifeline = self.executor, self.lifeline
        self.executor = self.lifeline = None
        if executor is not None:
            manager = getattr(executor, "_executor_manager_thread", None)
            if manager is not None and not manager.is_alive():  # not started, or it ended
                self._end_unmanaged(executor, lifeline)
            else:
                executor.shutdown(wait=True, cancel_futures=cancel)
        if lifeline is not None:
            lifeline.close()

    @staticmethod
    def _end_unmanaged(executor: ProcessPoolExecutor, lifeline: Lifeline | None) -> None:
        """End a pool without its manager thread (it could not be started, or it died, or it
        ended the pool's workers when one died): the workers left end with the lifeline. They
        are waited for while the executor (and the locks they load from it) is still there."""
        workers = list((getattr(executor, "_processes", None) or {}).values())
        if lifeline is not None:
            lifeline.close()
        for worker in workers:
            worker.join()
        executor.shutdown(wait=False, cancel_futures=True)

    def _place(self, slot: _Slot[T]) -> None:
        """Give the job of a slot to the pool, or have it wait for the suspects."""
        if self.given_up:
            slot.result = ParseError(self.given_up)
        elif self.suspects:
            self.waiting.append(slot)
        else:
            self._submit(slot)

    def _submit(self, slot: _Slot[T]) -> None:
        assert slot.job is not None
        try:
            if self.executor is None:
                self.lifeline = Lifeline(_context())
                self.started = _context().Event()
                self.board = _Board(self.workers) if self.timeout is not None else None
                self.running = {}
                self.executor = ProcessPoolExecutor(
                    self.workers, mp_context=_context(), initializer=_begin,
                    initargs=(self.lifeline.end, self.started, self.board),
                )  # fmt: skip
            # starts a worker if none is idle
            self.tokens += 1
            slot.token = self.tokens
            limits = (self.timeout, self.memory, self.tokens)
            slot.future = self.executor.submit(parse_within, parse_job, slot.job, *limits)
        except BrokenProcessPool:  # a worker died since the last look: the job waits for a pool
            self._broke()
            if slot in self.suspects:
                return  # the first suspect, to be submitted to the next pool (`_next`)
            self._place(slot)
            return
        except (OSError, EOFError, RuntimeError) as exc:
            # A fork failed, or the forkserver died in it; or the pool's manager thread could
            # not be started (any other RuntimeError is no failure to start: not handled here).
            if isinstance(exc, RuntimeError) and "thread" not in str(exc):
                raise
            why = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, EOFError | ConnectionError):  # it did not answer, or is not there
                why = f"the forkserver died: {why}"
            processes = dict(getattr(self.executor, "_processes", None) or {})
            self._end()  # its futures settle: parsed, or lost if the pool broke
            closed = isinstance(exc, OSError) and not isinstance(exc, ConnectionError)
            how = _death(processes) if closed else ""
            if how and self.started is not None and not self.started.is_set():
                # A worker ended before its first body, and the pool's pipes with it, as the job
                # went in (`OSError: handle is closed`, at times): that is the cause to give.
                why = f"it ended before its first body: {how}"
            self._not_started(why, slot)
            return
        self.running[id(slot)] = slot

    def _not_started(self, why: str, *failed: _Slot[T]) -> None:
        """No worker could be started (the pool is ended): parsing stops for this stream. The
        jobs parsed keep their results; `failed` and every other job fail, now and when they
        come in."""
        self.given_up = (
            f"parse: could not start a parsing process ({why}); read whole at the next check"
        )
        lost = [s for s in self.running.values() if s.future and not _settled(s.future)]
        for each in (*failed, *lost, *self.suspects, *self.waiting):
            each.future, each.result = None, ParseError(self.given_up)
        self.running, self.suspects, self.waiting = {}, deque(), deque()
        log.warning(
            "parse: could not start a parsing process (%s): the bodies left in this cycle are "
            "not parsed (the next cycle starts a new pool)", why,
        )  # fmt: skip

    def _check(self, slot: _Slot[T]) -> None:
        """Notice a break (on `slot`'s future, or the first suspect's), and move on to the next
        suspect once the first is parsed."""
        while True:
            if slot.future is not None and _lost(slot.future):
                self._broke()
                continue
            if not self.suspects:
                return
            first = self.suspects[0].future
            if first is None or not first.done():
                return
            if _lost(first):
                self._broke()
                continue
            self.suspects.popleft()  # parsed alone, and its worker lived
            self._next()

    def _next(self) -> None:
        """Submit the first suspect or, without one, every job that waited for them."""
        if self.suspects:
            if self.suspects[0].future is None:
                self._submit(self.suspects[0])
            return
        while self.waiting and not self.suspects:
            self._submit(self.waiting.popleft())

    def _broke(self) -> None:
        """The pool broke: end it, find the jobs lost, and go on in a new one (or give up)."""
        assert self.executor is not None and self.lifeline is not None
        processes = dict(getattr(self.executor, "_processes", None) or {})  # for their exit codes
        self._end()  # every future settled, every worker ended
        how = _death(processes)
        if self.started is not None and not self.started.is_set():  # none began: no body's fault
            self._not_started(f"it ended before its first body: {how or 'no exit code known'}")
            return
        # A worker out of CPU time (`parse_within`) died of its own body, and costs no restart:
        # the bodies after it must not go unparsed because three feeds time out.
        timed_out = self.timeout is not None and _timed_out(processes)
        if not timed_out:
            self.breaks += 1
        died = f"parse: the parsing process died{f' ({how})' if how else ''}"
        if timed_out:
            died = f"parse: gave up after {self.timeout:g}s of CPU time (parse timeout)"
        lost = [s for s in self.running.values() if s.future and not _settled(s.future)]
        self.running = {}
        for slot in lost:
            slot.future = None
        # Alone in its pool on purpose, as a suspect: the job its worker died of. Lost alone by
        # chance, it may have been another's: an idle worker that died (the OOM killer).
        # A worker is out of CPU time only while it parses, and the board says which job: that
        # one is the culprit at once, and the others lost with it are parsed again as they came
        # (parsed alone, each suspect, it timed out a second time, its CPU time spent twice).
        # Every worker out of CPU time is found so: two that timed out together fail at once.
        alone = len(lost) == 1 and (lost[0] in self.suspects or timed_out)
        culprits = lost if alone else []
        if not culprits and timed_out and self.board is not None:
            tokens = self.board.parsing(pid for pid, p in processes.items() if _out_of_time(p))
            culprits = [s for s in lost if s.token in tokens]
        for culprit in culprits:
            culprit.result = ParseError(died)
            if culprit in self.suspects:  # not when a timeout found it at once
                self.suspects.remove(culprit)
        if culprits:
            again = [s for s in lost if s not in culprits and s not in self.suspects]
            self.waiting = deque([*again, *self.waiting])  # parsed again as they came
        else:
            self.suspects = deque([*lost, *(s for s in self.suspects if s not in lost)])
        if self.breaks > RESTARTS:
            self.given_up = (
                f"parse: not parsed: the parsing process died {self.breaks} times in this cycle "
                f"(the last time: {how or 'no exit code known'}); read whole at the next check"
            )
            for slot in (*self.suspects, *self.waiting):
                slot.result = ParseError(self.given_up)
            self.suspects, self.waiting = deque(), deque()
        log.warning("%s", _said(died, lost, culprits, self.breaks, self.given_up, timed_out))
        if not self.given_up:
            self._next()


class _Board:
    """Which job each worker of a pool parses: (its pid, the job's token) per worker, in memory
    the pool's processes share, written by the worker as it begins a job (`parse_within`). A
    worker ended by a parse timeout is so found with its job, however many were in the pool."""

    def __init__(self, workers: int) -> None:
        self.cells = _context().Array("q", 2 * workers, lock=False)
        self.taken = _context().Value("i", 0)  # workers that have a cell

    def sign_in(self) -> None:
        """In a worker, as it starts: take the next cell."""
        global _MY_CELL
        with self.taken.get_lock():
            _MY_CELL = (self, self.taken.value)
            self.taken.value += 1

    def parsing(self, pids: Iterable[int]) -> set[int]:
        """The tokens of the jobs the workers of `pids` began last."""
        wanted = set(pids)
        cells = list(self.cells)
        return {cells[i + 1] for i in range(0, len(cells), 2) if cells[i] in wanted}


_MY_CELL: tuple[_Board, int] | None = None  # in a worker: its pool's board and its cell


def _begin(end: Connection, started: Event, board: _Board | None = None) -> None:
    """A worker's initializer: it ends with this process (`hold`), ignores SIGINT (Ctrl-C at a
    terminal reaches every process of the foreground group: this process decides how to stop,
    and a worker's KeyboardInterrupt only printed a traceback under its words), is ended by
    SIGPROF (`parse_within`), signs in on the pool's board, and says it has started, so that a
    worker dying before its first body (its program cannot be loaded) is not taken for one
    killed by a body."""
    hold(end)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    if board is not None:
        board.sign_in()
    started.set()


def parse_within(
    parse: Callable[[ParseJob], Parsed],
    job: ParseJob,
    seconds: float | None,
    memory: int | None = None,
    token: int = 0,
) -> Parsed:
    """`parse(job)` (`parse_job`) in a worker, which the kernel ends (SIGPROF, by default a
    process's end) once the job has used `seconds` of CPU time: a body can make a parser take
    hours (nested elements: lexbor's tree building and feedparser's XHTML content are quadratic
    in their depth), in C code that holds the interpreter lock, so only a signal left to the
    kernel stops it. The pool breaks as for any worker that dies, and the body, parsed again
    alone, is found and fails its feed's check (`_Pool._broke`). CPU time, not the clock's: a
    busy machine does not make a body time out.

    The worker may take `memory` bytes of address space (RLIMIT_AS): a body of a million empty
    items took 1.1 GB to parse, in each worker at once. Past it an allocation fails, and the
    MemoryError is the body's failure (`parse_job`); the worker goes on. The limit holds while
    the job is parsed only: the heap such a parse grew is not given back at once, and under a
    limit kept the worker's next allocation outside a parse (taking its next body) failed, so
    that it died with a traceback on stderr and broke the pool, costing a restart. Whatever else
    the parse raises is the body's failure too, said with the exception: raised, it would end
    the cycle that waits for the body's result. `token`: the job's, written on the pool's board
    (`_Board`) before the timer starts."""
    if _MY_CELL is not None and _MY_CELL[1] < len(_MY_CELL[0].cells) // 2:
        board, cell = _MY_CELL
        board.cells[2 * cell], board.cells[2 * cell + 1] = os.getpid(), token
    kept = resource.getrlimit(resource.RLIMIT_AS)
    if memory is not None:
        hard = kept[1]
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    if seconds is not None:
        signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        return parse(job)
    except Exception as exc:  # any, so that it fails this body, not the cycle waiting for it
        failed = f"{type(exc).__name__}: {exc}"
    finally:
        if seconds is not None:
            signal.setitimer(signal.ITIMER_PROF, 0)
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, kept)
    # Under the memory limit an allocation that fails in a library's C code is not always a
    # MemoryError (hashlib: "ValueError: [digital envelope routines] not able to copy ctx")
    why = f"failed, likely {OUT_OF_MEMORY}" if memory is not None else "failed"
    return ParseError(f"parse: {without_password(job.url)}: {why} ({failed})")


def _said(
    died: str,
    lost: list[_Slot[T]],
    culprits: list[_Slot[T]],
    breaks: int,
    given_up: str,
    timed_out: bool = False,
) -> str:
    """The warning of one break."""
    named = [
        f"{c.job.feed_id} ({without_password(c.job.url)})" for c in culprits if c.job is not None
    ]
    if len(named) == 1:
        what = f"{died}, parsing the body of feed {named[0]}: that feed fails this check"
    elif named:
        what = f"{died}, parsing the bodies of feeds {', '.join(named)}: each fails this check"
    elif len(lost) == 1:
        what = f"{died} with 1 body in its pool: it is parsed again alone"
    elif lost:
        what = f"{died} with {len(lost)} bodies in its pool: each is parsed again alone"
    else:
        what = f"{died} between two bodies"
    if given_up:
        return f"{what}; that is {breaks} times in this cycle: the bodies left are not parsed"
    if timed_out:
        return f"{what}; a new pool goes on (a parse timeout costs none of the {RESTARTS} restarts)"
    return f"{what}; a new pool goes on ({breaks} of {RESTARTS} restarts in this cycle)"


def _manager_died(executor: ProcessPoolExecutor | None) -> bool:
    """The executor's manager thread, which feeds its workers and settles its futures, ended
    (an exception ended it: a thread it starts could not be started) while the pool is open."""
    manager = getattr(executor, "_executor_manager_thread", None)
    return manager is not None and manager.ident is not None and not manager.is_alive()


def _settled(future: Future[Parsed]) -> bool:
    """The future has its job's result, or the job's own exception."""
    return future.done() and not _lost(future)


def _lost(future: Future[Parsed]) -> bool:
    """The future's job was lost with its pool (the pool broke before its result came)."""
    return future.done() and (
        future.cancelled() or isinstance(future.exception(), BrokenProcessPool)
    )


def _timed_out(processes: Mapping[int, BaseProcess]) -> bool:
    """A worker of the pool was ended by its job's CPU time running out (`parse_within`)."""
    return any(map(_out_of_time, processes.values()))


def _out_of_time(process: BaseProcess) -> bool:
    return process.exitcode == -signal.SIGPROF


def _death(processes: Mapping[int, BaseProcess]) -> str:
    """How a pool's worker died, from the exit codes of its ended workers ("" when unknown):
    the pool ends the others with SIGTERM, so the one that died is one that did not end so."""
    codes = [p.exitcode for p in processes.values() if p.exitcode is not None]
    died = [code for code in codes if code != -signal.SIGTERM]
    if not died:
        return ""
    code = died[0]
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "an unknown signal"
    oom = ": out of memory, the OOM killer?" if -code == signal.SIGKILL else ""
    return f"killed by signal {-code}, {name}{oom}"


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: workers fork from a clean process that loaded the
    parsers once (`monitor.parseworker`), never from the caller's threads; spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.get_context("forkserver").set_forkserver_preload(
            ["__main__", "monitor.parseworker"]
        )
        return _ForkServer()
    return multiprocessing.get_context("spawn")


if "forkserver" in multiprocessing.get_all_start_methods():

    class _Worker(multiprocessing.context.ForkServerProcess):
        """A worker that is signalled only while it runs. The forkserver, its parent, reaps it
        as it ends, before the pool hears of it; a pool that breaks then ends its workers with
        SIGTERM (`ProcessPoolExecutor`), which went to the dead one's pid too: free by then,
        and soon another process's on a busy host, which it would stop. Its exit code, read
        first, says whether it still runs."""

        def terminate(self) -> None:
            if self.exitcode is None:
                super().terminate()

        def kill(self) -> None:
            if self.exitcode is None:
                super().kill()

    class _ForkServer(multiprocessing.context.ForkServerContext):
        Process = _Worker
