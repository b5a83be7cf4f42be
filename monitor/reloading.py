"""Reloading the definitions while serving: `Reloader` loads them again when a file changed (or
when asked: SIGHUP), keeps the last valid set while the files on disk are invalid, and says so
in its `validity`, the one model of that state that /healthz, /metrics and the page read.

Used by the daemon's check job (`monitor.daemon`) and by `monitor serve` on its requests.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.counts import count
from monitor.definitions import VOCAB_DIR, load_definitions, problem_parts, shown_per_file
from monitor.domain import Definitions
from monitor.errors import DefinitionError

__all__ = [
    "Reloader",
    "Validity",
    "changed_files",
    "fingerprint",
    "log_invalid",
    "log_reloaded",
    "what_changed",
]

log = logging.getLogger("monitor.daemon")

# A definition file modified less than this long ago may still be being written (an editor or
# `cp` truncates it, then writes): its reading waits for a later poll, so that half a file that
# happens to be valid YAML (an outcome or the examples cut off) is never taken for the new set.
SETTLE_SECONDS = 1.0


def log_invalid(exc: DefinitionError, in_force: Definitions, held: str = "") -> None:
    """One ERROR record of an invalid edit: its file:line problems (20 per file) and the set that
    stays in force, from before which edits (`Validity.held`). The daemon's and `monitor
    serve`'s words, in the log's format (JSON too)."""
    log.error(
        "definitions: %s; keeping the last valid set (%s, %s%s):\n  %s",
        count(len(exc.problems), "problem"),
        count(len(in_force.indicators), "indicator"),
        count(len(in_force.feeds), "feed"),
        f", from before these edits: {held}" if held else "",
        "\n  ".join(shown_per_file(exc.problems)),
        extra={"problems": exc.problems},
    )


def log_reloaded(definitions: Definitions, changed: str, **extra: object) -> None:
    """The INFO record of a new set put in force, naming the files whose edit brought it
    (`Reloader.changed`). The daemon's and `monitor serve`'s words."""
    log.info(
        "definitions reloaded: %s, %s (%s)",
        count(len(definitions.indicators), "indicator"),
        count(len(definitions.feeds), "feed"),
        changed,
        extra={"definitions_hash": definitions.hash, **extra},
    )


@dataclass(frozen=True)
class Validity:
    """Whether the definition files on disk are valid: their problems (`file:line: what`) when
    they are not, and the last valid set stays in force; () when they are."""

    problems: tuple[str, ...] = ()
    held: str = ""  # the edits the set in force is from before (`changed_files`'s phrase)

    @property
    def invalid(self) -> bool:
        return bool(self.problems)

    def files(self) -> list[str]:
        """The files the problems are in, in their order."""
        return list(self.per_file())

    def per_file(self) -> dict[str, int]:
        """How many problems each file has, the files in their order ("" for a problem that
        names no file)."""
        found: dict[str, int] = {}
        for problem in self.problems:
            path = problem_parts(problem)[0]
            found[path] = found.get(path, 0) + 1
        return found

    def reason(self) -> str:
        """One line for /healthz and the page: how many problems, in which files (with the
        line of the first problem in each), not what they are (/healthz is open: a problem can
        quote the file). "" when valid."""
        if not self.problems:
            return ""
        places: dict[str, str] = {}
        for problem in self.problems:
            path, line, _ = problem_parts(problem)
            places.setdefault(path, f"{path}:{line}" if line is not None else path)
        held = f", from before these edits: {self.held}" if self.held else ""
        return (
            f"definitions: {count(len(self.problems), 'problem')} in {', '.join(places.values())}; "
            f"the last valid set is in force{held}"
        )


def fingerprint(indicators_dir: Path, feeds_file: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of every definition file (the vocabularies of `indicators/vocab/`
    too): a change in any of them means reload."""
    paths = []
    for directory in (indicators_dir, indicators_dir / VOCAB_DIR):
        with contextlib.suppress(OSError):  # no folder: no files
            paths += sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    found = []
    for path in [*paths, feeds_file]:
        try:
            stat = path.stat()
        except OSError:  # gone, or a link to nothing or to itself: loading says so
            found.append((str(path), -1, -1))
            continue
        found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


Seen = tuple[tuple[str, int, int], ...]  # `fingerprint`'s


def changed_files(before: Seen, after: Seen) -> str:
    """Which files differ between two fingerprints, in one phrase for the log:
    `changed: config/feeds.yaml; new: indicators/b.yaml; removed: indicators/a.yaml`; on a
    reload asked (SIGHUP) with no file changed, `no file changed: reloaded on request`."""
    old, new = {name: rest for name, *rest in before}, {name: rest for name, *rest in after}
    kinds = {
        "changed": [n for n in new if n in old and new[n] != old[n]],
        "new": [n for n in new if n not in old],
        "removed": [n for n in old if n not in new],
    }
    said = [f"{kind}: {', '.join(names)}" for kind, names in kinds.items() if names]
    return "; ".join(said) or "no file changed: reloaded on request"


def what_changed(old: Definitions, new: Definitions) -> str:
    """The indicators and feeds a new set adds, removes and changes, in one phrase for the log:
    `indicators added: ferry-routes; indicators changed: visa-easing; feeds removed: extra`;
    "no indicator or feed changed" when none did."""
    said = []
    for noun, before, after in (
        (
            "indicators",
            {i.id: i.hash for i in old.indicators},
            {i.id: i.hash for i in new.indicators},
        ),
        ("feeds", {f.id: f for f in old.feeds}, {f.id: f for f in new.feeds}),
    ):
        kinds = {
            "added": [n for n in after if n not in before],
            "removed": [n for n in before if n not in after],
            "changed": [n for n in after if n in before and after[n] != before[n]],
        }
        said += [f"{noun} {kind}: {', '.join(ids)}" for kind, ids in kinds.items() if ids]
    return "; ".join(said) or "no indicator or feed changed"


class Reloader:
    """The one reload mechanism (the daemon's check job, `monitor serve`): the definitions are
    loaded again when a file's name, mtime or size changed, or when asked (SIGHUP)."""

    def __init__(
        self,
        indicators_dir: Path,
        feeds_file: Path,
        definitions: Definitions,
        *,
        settle: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dir, self._file = indicators_dir, feeds_file
        self._settle, self._clock = settle, clock  # the clock of file modification times
        self._seen = fingerprint(indicators_dir, feeds_file)
        self._base = self._previous = self._seen  # the files of the set in force (and before)
        self.changed = ""  # the files whose edit brought the set `poll` last returned
        self._asked = threading.Event()
        self.definitions = definitions  # the last valid set
        self.validity = Validity()  # of the files as last read

    def request(self) -> None:
        self._asked.set()

    def poll(self) -> Definitions | None:
        """The new definitions when a file changed (or a reload was asked) and they differ from
        the last valid set; else None. An invalid edit raises DefinitionError once (not at every
        poll), the last valid set stays, and `validity` says so until the files are valid again
        (then logged at INFO, a new set or the one in force)."""
        current = fingerprint(self._dir, self._file)
        asked = self._asked.is_set()
        if (current == self._seen and not asked) or self._being_written(current):
            return None
        try:
            definitions = load_definitions(self._dir, self._file)
        except DefinitionError as exc:
            if self._being_written(current):
                return None
            self._asked.clear()
            self._seen = current
            edits = changed_files(self._base, current)
            held = "" if edits.startswith("no file changed") else edits
            self.validity = Validity(tuple(exc.problems), held)
            raise
        if self._being_written(current):
            return None
        self._asked.clear()
        self._seen = current
        same = definitions.hash == self.definitions.hash
        if self.validity.invalid:
            self._valid_again(definitions, current, same)
        elif same and asked:
            log.info("definitions unchanged")
        if same:
            self._base = current
            return None
        self.changed = (
            f"{changed_files(self._base, current)}; {what_changed(self.definitions, definitions)}"
        )
        self._previous, self._base = self._base, current
        self.definitions = definitions
        return definitions

    def _valid_again(self, definitions: Definitions, current: Seen, same: bool) -> None:
        """The INFO record of files valid again: which held the problems, whether the set read is
        the one in force or a new one, and its edits since the set in force (files, then the
        indicators and feeds they add, remove or change)."""
        fixed = ", ".join(self.validity.files())
        edits = changed_files(self._base, current)  # none: restored with their sizes and times
        edits = "no file differs" if edits.startswith("no file changed") else edits
        self.validity = Validity()
        log.info(
            "definitions valid again (the problems were in %s): %s, %s, %s (%s; %s)",
            fixed,
            count(len(definitions.indicators), "indicator"),
            count(len(definitions.feeds), "feed"),
            "the set in force" if same else "a new set",
            edits,
            what_changed(self.definitions, definitions),
        )

    def retry(self, in_force: Definitions) -> None:
        """The set `poll` last returned was not put in force (storing it failed): `in_force`
        is the last valid set again, and the next poll loads the files again."""
        self.definitions = in_force
        self._base = self._previous  # the next set names the files changed since `in_force`
        self._asked.set()

    def _being_written(self, seen: Seen) -> bool:
        """Whether a file may still be being written: one was modified less than the settle
        time ago, or changed since `seen` (while it was read). The next poll looks again."""
        if fingerprint(self._dir, self._file) != seen:
            return True
        newest = max((mtime for _, mtime, _ in seen), default=-1)
        return newest >= 0 and 0 <= self._clock() - newest / 1e9 < self._settle
