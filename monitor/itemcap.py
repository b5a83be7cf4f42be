"""How many items one read of a feed takes (`parse.parse_feed`): at most MAX_ITEMS, the newest,
and the warning that says which were taken and, once their copies are known, kept.
"""

from __future__ import annotations

from monitor.counts import count
from monitor.domain import Entry

__all__ = ["MAX_ITEMS", "newest", "over_cap"]

# The most items taken from one read of a feed: the largest real feed seen carries 60 (a CMS's
# archive feed a few hundred), while 9 MB under the body cap holds 170,000 tiny items, each of
# them a row stored and matched in the cycle, again at every read of a feed that renews guids.
MAX_ITEMS = 1_000


def newest(entries: list[Entry]) -> tuple[list[Entry], str]:
    """At most MAX_ITEMS of `entries`, in their order: the newest by date, then the first of
    those without one; and which those are, for the feed's warning ("" when all)."""
    if len(entries) <= MAX_ITEMS:
        return entries, ""
    dated = [(e.published, n) for n, e in enumerate(entries) if e.published is not None]
    dated.sort(key=lambda pair: pair[0], reverse=True)  # stable: the first of one date first
    undated = (n for n, e in enumerate(entries) if e.published is None)
    kept = sorted([*(n for _, n in dated), *undated][:MAX_ITEMS])
    which = (
        f"the first {MAX_ITEMS:,}"
        if not dated
        else f"the {MAX_ITEMS:,} newest by date"
        if len(dated) >= MAX_ITEMS
        else f"the newest by date, then the first without one: {MAX_ITEMS:,}"
    )
    return [entries[n] for n in kept], which


def over_cap(total: int, which: str, kept: int, taken: int) -> str:
    """The warning of a read over MAX_ITEMS: `which` items were `taken`, `kept` once copies of
    an earlier one went (`parse._unique`: counted in those taken, not in all `total`)."""
    said = f"{total:,} items, more than one read takes: {which}"
    if kept == taken:
        return f"{said} kept, {total - taken:,} left out"
    copies = f"{count(kept, 'item')} kept, {taken - kept:,} the same as an earlier one"
    return f"{said} read, {total - taken:,} left out; of those, {copies}"
