"""The targets: each reads one figure of the results and compares it with its goal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]


@dataclass(frozen=True)
class Target:
    name: str
    unit: str
    goal: float
    at_least: bool  # True: measured >= goal; False: measured <= goal
    section: str  # the results key it needs
    figure: Callable[[Results], float]

    def check(self, results: Results) -> tuple[str, str]:
        """(line, verdict) with verdict PASS, FAIL or SKIP."""
        part = results.get(self.section)
        if not isinstance(part, dict) or "skipped" in part:
            reason = (
                part.get("skipped", "not measured") if isinstance(part, dict) else "not measured"
            )
            return f"{self.name}: skipped: {reason}", "SKIP"
        value = self.figure(results)
        ok = value >= self.goal if self.at_least else value <= self.goal
        sign = ">=" if self.at_least else "<="
        verdict = "PASS" if ok else "FAIL"
        line = (
            f"{self.name}: {_fmt(value)}{self.unit} ({sign} {_fmt(self.goal)}{self.unit}) {verdict}"
        )
        return line, verdict


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def _cold_vs_floor(r: Results) -> float:
    """The median ratio of the cold cycles taken in turns with a parse floor each."""
    if "cold_vs_floor" in r["cycles"]:
        return float(r["cycles"]["cold_vs_floor"])
    floor = r["parse_floor"]["product_settings"]["entries_per_s"]
    return float(r["cycles"]["cold"]["entries_per_s"] / floor) if floor else 0.0


def _share(name: str) -> Callable[[Results], float]:
    return lambda r: float(r["cycles"][name]["wall_s"] / r["cycles"]["cold"]["wall_s"] * 100)


def _match_ratio(r: Results) -> float:
    m = r["match"]
    return float(m["1000"]["us_per_entry"] / m["10"]["us_per_entry"])


TARGETS: tuple[Target, ...] = (
    Target("cold cycle throughput / parse floor", "x", 1.0, True, "cycles", _cold_vs_floor),
    Target("warm cycle (304) wall / cold wall", "%", 6.0, False, "cycles", _share("warm")),
    Target(
        "unchanged-body cycle wall / cold wall", "%", 10.0, False, "cycles", _share("unchanged")
    ),
    Target(
        "match at 100 indicators",
        " entries/s",
        10_000,
        True,
        "match",
        lambda r: float(r["match"]["100"]["entries_per_s"]),
    ),
    Target("match cost at 1,000 / at 10 indicators", "x", 10.0, False, "match", _match_ratio),
    Target(
        "store new entries on SQLite",
        " entries/s",
        20_000,
        True,
        "store",
        lambda r: float(r["store"]["new_entries_per_s"]),
    ),
    Target(
        "cold cycle peak RSS (with parse workers)",
        " MB",
        250,
        False,
        "cycles",
        lambda r: float(r["cycles"]["cold"]["peak_rss_with_workers_mb"]),
    ),
    Target(
        "RSS growth over warm cycles",
        " MB",
        10,
        False,
        "cycles",
        lambda r: float(r["cycles"]["memory"]["growth_mb"]),
    ),
    Target(
        "GET /indicators",
        " req/s",
        300,
        True,
        "http",
        lambda r: float(r["http"]["indicators_endpoint"]["requests_per_s"]),
    ),
    Target(
        "GET /indicators p99",
        " ms",
        50,
        False,
        "http",
        lambda r: float(r["http"]["indicators_endpoint"]["p99_ms"]),
    ),
    Target(
        "GET /indicators/{id}/history",
        " req/s",
        150,
        True,
        "http",
        lambda r: float(r["http"]["history_endpoint"]["requests_per_s"]),
    ),
    Target(
        "GET /indicators/{id}/history p99",
        " ms",
        100,
        False,
        "http",
        lambda r: float(r["http"]["history_endpoint"]["p99_ms"]),
    ),
)


def _history(key: str) -> Callable[[Results], float]:
    return lambda r: float(r["history"]["ratios"][key])


# Issue 15: the cost of a cycle and of reads follows the news, not the history.
TARGETS += (
    Target(
        "history: first cycle, long / short", "x", 1.5, False, "history", _history("first_cycle")
    ),
    Target("history: warm cycle, long / short", "x", 1.5, False, "history", _history("warm_cycle")),
    Target("history: status, long / short", "x", 2.0, False, "history", _history("status")),
    Target(
        "history: first GET /indicators, long / short",
        "x",
        2.0,
        False,
        "history",
        _history("first_get_indicators"),
    ),
    Target(
        "history: cycle peak RSS, long history",
        " MB",
        300,
        False,
        "history",
        lambda r: float(r["history"]["large"]["first_cycle_peak_rss_mb"]),
    ),
)


# A search's first page with hits is read newest first until it is full: its cost follows how
# often the query's word occurs, not the history. A search without a hit reads every row (100x
# at 1,000,000 against 10,000, by design): no target holds that.
TARGETS += (
    Target(
        "search: first page with hits, long / short",
        "x",
        2.0,
        False,
        "search",
        lambda r: float(r["search"]["ratios"]["hit_first_page_large_small"]),
    ),
)


def verdicts(results: Results) -> list[tuple[str, str]]:
    return [target.check(results) for target in TARGETS]
