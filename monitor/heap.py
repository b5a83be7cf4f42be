"""What a process keeps for its whole life stays out of the garbage collector's way.

CPython's full collection walks every object the collector tracks, and most of a command's or
the daemon's are what start-up loaded: modules, settings, definitions, the store's engine and
the web app. `freeze` moves those to a generation no collection walks (`gc.freeze`), so a full
collection costs what the work allocates, not what was loaded. On a 1,000,000-entry store,
`monitor status` allocates enough (the kept state of 200 outcomes) to set one off, which took
90 of its 240 ms before this (`python -m benchmarks --only history`).

Objects frozen are never collected as cycles, so after a reload `refreeze` lets what the old
definitions held go first.

`paused` holds collections off while a burst of work runs that makes many objects and next to
no cycles: a cold cycle's evaluation (25,000 entries, 4,871 matches) set off about 200 of them,
which took a tenth of its time and found 70 objects.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze() -> None:
    """Keep every object alive now out of later collections (start-up, once it is done)."""
    gc.freeze()


def refreeze() -> None:
    """After a reload: collect what is no longer referenced (the old definitions), then freeze
    what is left. One full collection; reloads are rare."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@contextmanager
def paused() -> Iterator[None]:
    """No collection while the block runs (unless the collector was off already, then it stays
    so); what the block left is collected afterwards, as usual."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
