"""`python -m tests.startpause PLACE MARKER monitor-args…`: the `monitor` command, held at one
point of its start-up until the test lets it go, so that a signal lands exactly there.

PLACE is `module:qualname`: a function (`monitor.settings:load_settings`), a method
(`monitor.daemon:Daemon.__init__`) or `<module>` for the module's import itself
(`monitor.scheduler:<module>`), replaced by a wrapper as soon as its module has run, before
anything imports the name from it. `…:upgrade@FILE.py:upgrade` holds instead, while that
function runs, in a function of that name in that file (one migration among them all, found
by a call-profile that is on only meanwhile). When the process gets there, it writes MARKER
(its pid) and waits until `MARKER.go` exists, then goes on as usual: nothing of the command's
behaviour is changed but the pause. Only the standard library is imported before the hook.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any


def pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    go = marker.with_name(marker.name + ".go")
    while not go.exists():  # a condition, not a duration: the test creates the file
        time.sleep(0.01)


def within(function: Callable[..., Any], place: str, marker: Path) -> Callable[..., Any]:
    """`function`, holding when it calls what `place` (`file.py:qualname`) names."""
    filename, qualname = place.split(":", 1)

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        code = frame.f_code
        if event != "call" or code.co_qualname != qualname:
            return
        if code.co_filename.endswith(os.sep + filename):
            sys.setprofile(None)
            pause(marker)

    @functools.wraps(function)
    def held(*args: Any, **kwargs: Any) -> Any:
        sys.setprofile(profile)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setprofile(None)

    return held


def holding(function: Callable[..., Any], marker: Path) -> Callable[..., Any]:
    @functools.wraps(function)
    def held(*args: Any, **kwargs: Any) -> Any:
        pause(marker)
        return function(*args, **kwargs)

    return held


class Hold(importlib.abc.MetaPathFinder):
    """Finds the module as the other finders do, and wraps its loading."""

    def __init__(self, place: str, marker: Path) -> None:
        where, _, self.inner = place.partition("@")
        self.module, self.qualname = where.split(":", 1)
        self.marker = marker

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        assert spec is not None and spec.loader is not None, name
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            if self.qualname == "<module>":
                pause(self.marker)
            run(module)
            if self.qualname != "<module>":
                self.wrap(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def wrap(self, module: ModuleType) -> None:
        *owners, name = self.qualname.split(".")
        owner: Any = module
        for part in owners:
            owner = getattr(owner, part)
        function = getattr(owner, name)
        wrapped = within(function, self.inner, self.marker) if self.inner else None
        setattr(owner, name, wrapped or holding(function, self.marker))


def main() -> None:
    place, marker, *args = sys.argv[1:]
    sys.meta_path.insert(0, Hold(place, Path(marker)))
    from monitor.cli import main as monitor

    monitor(args=args, prog_name="monitor")


if __name__ == "__main__":
    main()
