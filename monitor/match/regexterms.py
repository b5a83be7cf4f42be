"""Regex terms: folded and compiled, read for the literals every match must contain (a cheap
prefilter, in `prefilter`), and run under a CPU-time budget. Pure: no I/O."""

from __future__ import annotations

import time

import regex

from monitor.fold import fold

REGEX_TIMEOUT = 0.05  # seconds of CPU time per regex term per entry
REGEX_WALL_FACTOR = 10  # and at most this many times that on the clock, on a busy machine
MAX_HITS_PER_TERM = 200
# An escape (kept whole, so `\\[` opens no class) or a character class, `]` first being literal.
_REGEX_CLASS = regex.compile(r"\\.|\[\^?\]?(?:\\.|\[:\w+:\]|[^\]\\])*\]", regex.DOTALL)


def compile_regex(source: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(source, regex.IGNORECASE)
    except (regex.error, ValueError, OverflowError, RecursionError):
        return None  # definitions reject it; a matcher built anyway never matches it


def fold_regex(source: str) -> str:
    """A regex with its literal characters folded like texts, but not inside `[...]`: folding
    an end of a range (`[丟-龜]`) would change or break the range."""
    if source.isascii():
        return source
    out: list[str] = []
    start = 0
    for found in _REGEX_CLASS.finditer(source):
        out += [fold(source[start : found.start()]), found.group()]
        start = found.end()
    out.append(fold(source[start:]))
    return "".join(out)


# Syntax of the `regex` module that the standard library's parser reads differently or not at all.
def regex_hits(pattern: regex.Pattern[str], text: str, timeout: float) -> list[tuple[int, int]]:
    """Spans of a regex in text; raises TimeoutError when it spends more than `timeout` seconds
    of this thread's CPU time in all, or REGEX_WALL_FACTOR times that on the clock.

    `regex` times out on the clock, so a search that a busy machine merely kept waiting is
    tried again while the CPU budget lasts: a match is not lost to load, and a backtracking
    pattern still stops."""
    cpu_deadline = time.thread_time() + timeout
    wall_deadline = time.monotonic() + timeout * REGEX_WALL_FACTOR
    hits: list[tuple[int, int]] = []
    pos = 0
    remaining = timeout  # the first search has the whole budget: no second clock reading
    while len(hits) < MAX_HITS_PER_TERM and pos <= len(text):
        if remaining <= 0:
            raise TimeoutError
        try:
            found = pattern.search(text, pos, timeout=remaining)
        except TimeoutError:
            pass  # over the budget (raised below), or kept waiting: search again
        else:
            if found is None:
                break
            start, end = found.span()
            hits.append((start, max(end, start + 1)))
            pos = end if end > start else end + 1
        remaining = min(cpu_deadline - time.thread_time(), wall_deadline - time.monotonic())
    return hits
