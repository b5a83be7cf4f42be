"""`monitor` whose replay stops after its first batch of rewritten matches and waits there for
a signal: a deterministic point for a test to interrupt a replay half way, in a real process.

    python -m tests.pausedreplay replay --since 2026-01-01

rewrites the first batch, reads and matches the second, then, before it rewrites that one (no
transaction open, as between any two batches), prints PAUSED on stderr and waits until a
signal's handler raises: Ctrl-C's KeyboardInterrupt, or what `monitor replay` makes of SIGTERM.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from monitor.cli import main
from monitor.store import Store

PAUSED = "test: the replay rewrote a batch and waits for a signal"


def _wait_before_the_second(self: Store, *args: Any, **kwargs: Any) -> int:
    if _batches:
        print(PAUSED, file=sys.stderr, flush=True)
        while True:
            signal.pause()
    _batches.append(1)
    return _replace(self, *args, **kwargs)


_replace = Store.replace_matches
_batches: list[int] = []

if __name__ == "__main__":
    Store.replace_matches = _wait_before_the_second  # type: ignore[method-assign,assignment]
    main(sys.argv[1:], prog_name="monitor")
