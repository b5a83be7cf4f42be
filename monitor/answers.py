"""The web's rendered answers, kept while the data version they were rendered at is current
(`AnswerCache`): the page, the API's bodies and history pages. Pure: no I/O."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


@dataclass(frozen=True)
class Answer:
    """A rendered page: its body and ETag."""

    body: bytes
    etag: str

    @property
    def size(self) -> int:
        return len(self.body)


class Sized(Protocol):
    @property
    def size(self) -> int:
        """Bytes it holds, about."""
        ...


A = TypeVar("A", bound=Sized)


class AnswerCache(Generic[A]):
    """Rendered answers, each kept while the version it was rendered at is current: the
    most recently used ones, at most `max_bytes` in all (by their `size`). Thread-safe;
    concurrent misses of one key render it once."""

    STRIPES = 16  # locks for rendering: misses of keys in different stripes render at once

    def __init__(self, *, max_bytes: int = 8 << 20) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._rendering = [threading.Lock() for _ in range(self.STRIPES)]
        self._kept: OrderedDict[Hashable, tuple[Hashable, A]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, version: Hashable, render: Callable[[], A]) -> A:
        kept = self._kept_at(key, version)
        if kept is not None:
            return kept
        with self._rendering[hash(key) % self.STRIPES]:
            kept = self._kept_at(key, version)  # rendered while this thread waited
            if kept is not None:
                return kept
            answer = render()
            if answer.size <= self._max_bytes // 8:
                self._keep(key, version, answer)
            return answer

    def _kept_at(self, key: Hashable, version: Hashable) -> A | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != version:
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def _keep(self, key: Hashable, version: Hashable, answer: A) -> None:
        with self._lock:
            old = self._kept.pop(key, None)
            self._bytes -= old[1].size if old else 0
            self._kept[key] = (version, answer)
            self._bytes += answer.size
            while self._bytes > self._max_bytes:
                _key, (_version, dropped) = self._kept.popitem(last=False)
                self._bytes -= dropped.size
