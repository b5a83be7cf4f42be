"""Start-up's objects are frozen out of the garbage collector's walks; a reload lets the old
ones go (`monitor.heap`)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from monitor import heap
from monitor.cli.common import Runtime
from monitor.settings import Settings


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_a_commands_runtime_freezes_what_start_up_loaded(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'm.db'}")  # type: ignore[call-arg]
    runtime = Runtime(settings)
    loaded = _Node()
    assert any(o is loaded for o in gc.get_objects())  # in a generation collections walk
    runtime.store  # noqa: B018 (built on first use)
    try:
        assert gc.get_freeze_count() > 0
        assert not any(o is loaded for o in gc.get_objects())  # frozen: no collection walks it
    finally:
        runtime.close()


def test_refreeze_lets_go_of_what_nothing_holds_any_more() -> None:
    old = _Node()
    gone = weakref.ref(old)
    heap.freeze()
    del old
    gc.collect()
    assert gone() is not None  # frozen: a collection does not free the cycle
    heap.refreeze()
    assert gone() is None
    assert gc.get_freeze_count() > 0


def test_collections_pause_for_a_block_and_resume_after_it_even_when_it_fails() -> None:
    assert gc.isenabled()
    with heap.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with heap.paused():
            raise ValueError("the block failed")
    except ValueError:
        pass
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_that_was_off_off() -> None:
    gc.disable()
    try:
        with heap.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
