"""9. Search: `monitor search` over the history scenario's two stores (no store of its own).

What is timed is what `monitor search TEXT` and `GET /entries?q=TEXT` call, `views.entries`
with their default page of 20, on a store opened read-only in a fresh process, as the command
opens it. The stores' entries are English headlines and texts of about 45 words (see
`benchmarks.history`), so each query without a hit reads every row:

    ascii_miss       ASCII: SQLite's LIKE, in C, and a test of each row's bytes for a
                     full-width letter; PostgreSQL's LIKE on lower(), and a regular expression
    korean_miss      Hangul: SQLite folds every row in Python; PostgreSQL as for ASCII
    chinese_miss     Han with Traditional forms: SQLite looks for some form of each character
                     (`instr`, in C) before folding; PostgreSQL a regular expression per row
    hit_first_page   a word of one headline in eight: a page of the newest 20 (the median of
                     `HIT_CALLS` calls), read from the time index, newest first, until found.
                     PostgreSQL's planner prefers that only on a large table: at 10,000 entries
                     it reads every row and sorts the hits, as a miss reads them

Beside them, `ascii_miss_like_only` is the ASCII query without the full-width test (the query
`monitor search` ran before it read full-width letters as ASCII, commit d244943): its ratio to
`ascii_miss` is what that test costs. A query without a hit reads every row, so the long
store's costs what its rows do (about 100 times the short one's at 1,000,000 against 10,000):
the ratios are reported, with no target. The first page of a query with hits is bounded by the
hits, not the history: its target is a ratio of the two stores.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from benchmarks import history
from monitor import views
from monitor.store import Store, open_store
from monitor.store.schema import entry_table

LIMIT = 20  # a page of `monitor search` and of GET /entries, by default
QUERIES = {
    "ascii_miss": "visa waiver",
    "korean_miss": "비자 면제",
    "chinese_miss": "签证",  # 簽證 and 籤証 too
    "hit_first_page": "pyongyang",
}
# The two ASCII scans one after the other, the one compared with the other.
ORDER = ("ascii_miss", "ascii_miss_like_only", "korean_miss", "chinese_miss", "hit_first_page")
HIT_CALLS = 9  # a few milliseconds where the time index serves it: the median of these


def measure(root: Path, name: str, server: str = "") -> dict[str, Any]:
    """Each query's time and hits on the store `name` as built, in a fresh process."""
    found: dict[str, Any] = {}
    with open_store(history.store_url(root, name, server), read_only=True) as store:
        # Connected, the schema checked and the code paths taken once before anything is
        # timed: the first query of a process paid 10-30 ms more, whichever it was.
        _search(store, QUERIES["hit_first_page"])
        runs = {key: partial(_search, store, text) for key, text in QUERIES.items()}
        runs["ascii_miss_like_only"] = partial(_like_only, store, QUERIES["ascii_miss"])
        for key in ORDER:
            calls = HIT_CALLS if key == "hit_first_page" else 1
            found[key + "_hits"], found[key + "_ms"] = _timed(runs[key], calls)
    return found


def ratios(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    """Large / small per query, and within the long store: each miss over the ASCII one's
    LIKE alone."""
    found = {f"{key}_large_small": _ratio(large[key + "_ms"], small[key + "_ms"]) for key in ORDER}
    plain = large["ascii_miss_like_only_ms"]
    for key in ("ascii_miss", "korean_miss", "chinese_miss"):
        found[f"{key}_over_like_only_large"] = _ratio(large[key + "_ms"], plain)
    return found


def _search(store: Store, text: str) -> int:
    """What `monitor search TEXT` and GET /entries do: a page and whether there is a next."""
    page, _next = views.entries(store, text, limit=LIMIT)
    return len(page)


def _like_only(store: Store, text: str) -> int:
    """The ASCII search as it was before full-width letters were read as ASCII (d244943)."""
    columns = (entry_table.c.title, entry_table.c.text)
    test: Callable[[Any], ColumnElement[bool]]
    if store.dialect == "sqlite":  # LIKE ignores the case of ASCII letters
        test = lambda column: column.contains(text, autoescape=True)  # noqa: E731
    else:
        test = lambda column: func.lower(column).contains(text.lower(), autoescape=True)  # noqa: E731
    query = (
        select(entry_table.c.id)
        .where(or_(*(test(column) for column in columns)))
        .order_by(entry_table.c.time.desc(), entry_table.c.id.desc())
        .limit(LIMIT + 1)
    )
    with store._tx("search entries, LIKE only") as conn:
        return min(len(conn.execute(query).all()), LIMIT)


def _timed(run: Callable[[], int], calls: int = 1) -> tuple[int, float]:
    """What `run` returns, and the median time of `calls` calls in milliseconds (a page read
    from an index takes one or two: seconds rounded to the millisecond would say 1 or 2)."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return result, round(statistics.median(times) * 1000, 3)


def _ratio(a: float, b: float) -> float:
    return round(a / max(b, 1e-3), 2)
