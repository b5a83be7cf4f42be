"""Memory and CPU of this process and its descendants (the parse workers), sampled on a thread."""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType

import psutil

MB = 1024 * 1024
LIST_EVERY = 0.2  # seconds between walks of the process tree: a walk reads all of /proc (~1 ms)


def rss_mb() -> float:
    """This process's resident set size now, in MB."""
    return float(psutil.Process().memory_info().rss) / MB


class TreeSampler:
    """Peak RSS (this process alone, and summed with its descendants) and the CPU seconds used
    by all of them while the block runs. Descendants' CPU is read at each sample, so a worker
    that ends between two samples loses at most one interval. The descendants are listed anew
    every LIST_EVERY seconds only: at every sample, the walk cost the measured process about 5 %
    of a core (and the GIL while it ran)."""

    def __init__(self, interval: float = 0.02, exclude: frozenset[int] = frozenset()) -> None:
        self.interval = interval
        self.exclude = exclude
        self.peak_self_mb = 0.0
        self.peak_tree_mb = 0.0
        self.cpu_seconds = 0.0
        self._me = psutil.Process(os.getpid())
        self._children: list[psutil.Process] = []
        self._listed_at = -LIST_EVERY
        self._cpu: dict[int, float] = {}
        self._start: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._start = self._cpu_by_pid()
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.cpu_seconds = sum(used - self._start.get(pid, 0.0) for pid, used in self._cpu.items())

    def _processes(self) -> list[psutil.Process]:
        now = time.monotonic()
        if now - self._listed_at >= LIST_EVERY:
            self._listed_at = now
            self._children = [
                p for p in self._me.children(recursive=True) if p.pid not in self.exclude
            ]
        return [self._me, *self._children]

    def _cpu_by_pid(self) -> dict[int, float]:
        found = {}
        for process in self._processes():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            found[process.pid] = times.user + times.system
        return found

    def _sample(self) -> None:
        total = 0.0
        for process in self._processes():
            try:
                rss = process.memory_info().rss / MB
                times = process.cpu_times()
            except psutil.Error:
                continue
            self._cpu[process.pid] = times.user + times.system
            total += rss
            if process.pid == self._me.pid:
                self.peak_self_mb = max(self.peak_self_mb, rss)
        self.peak_tree_mb = max(self.peak_tree_mb, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()


def timed() -> float:
    return time.perf_counter()
