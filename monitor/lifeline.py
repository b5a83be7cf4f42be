"""A worker process that ends with the process it works for, however that one ended (SIGKILL,
the OOM killer): `parse_many`'s workers would otherwise wait for their next job for ever.

Such a worker waits on its job queue, whose pipe it holds both ends of (it never reads an end
of file); it holds the forkserver's `alive` pipe, so the forkserver it was forked from does not
exit either; and both hold CPython's resource tracker open. The parent holds the only write end
of a `Lifeline`'s pipe (not inheritable: no other child gets it) and hands the read end to each
worker, whose `hold` thread waits on it: when the parent ends, the kernel closes the write end,
the read end reads end of file and the worker exits. The forkserver then exits by itself (its
`alive` pipe has no writer left), and so does the resource tracker. Standard library only, on
every start method; no signal, thread or pid of the parent to get wrong.
"""

from __future__ import annotations

import contextlib
import os
import threading
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext

__all__ = ["Lifeline", "hold"]


class Lifeline:
    """A pipe of which only this process writes: its read end reads end of file once this
    process ends, or `close` was called. Keep it open while workers may still start."""

    def __init__(self, context: BaseContext) -> None:
        self.end, self._writer = context.Pipe(duplex=False)

    def close(self) -> None:
        self.end.close()
        self._writer.close()


def hold(end: Connection) -> None:
    """In a worker (a pool's initializer): exit as soon as `end` reads end of file."""
    watch = threading.Thread(target=_exit_when_cut, args=(end,), name="monitor-lifeline")
    watch.daemon = True
    watch.start()


def _exit_when_cut(end: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        end.recv_bytes()  # nothing is ever sent: it returns by raising at end of file
    os._exit(1)  # the parent is gone: nobody waits for what this worker would do
