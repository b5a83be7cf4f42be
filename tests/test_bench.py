"""A tiny run of the benchmark harness (`make bench`), so that it keeps working.

It checks that every measurement is in the JSON and every target has its line; the targets
themselves are not asserted: timings on a shared machine are not tests.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

from benchmarks.report import TARGETS
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

TINY = [
    "--feeds",
    "4",
    "--entries",
    "5",
    "--memory-cycles",
    "2",
    "--sample",
    "20",
    "--http-seconds",
    "1",
    "--http-entries",
    "500",
    "--history-small",
    "300",
    "--history-large",
    "600",
    "--history-repeats",
    "2",
    "--cycle-repeats",
    "2",
    "--startup-repeats",
    "1",
    "--no-fail",
]


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m module args`, which must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_tiny_run_reports_every_measurement_and_target() -> None:
    done = _run("benchmarks", *TINY)
    document, _, lines = done.stdout.rpartition("}\n")
    results = json.loads(document + "}")

    floor = results["parse_floor"]
    assert floor["product_settings"]["entries"] == 20
    assert floor["feedparser_defaults"]["entries_per_s"] > 0
    cycles = results["cycles"]
    assert cycles["cold"]["new_entries"] == 20
    assert cycles["cold"]["entries_per_s"] > 0 and cycles["cold"]["cpu_s"] > 0
    turns = cycles["cold_turns"]  # each cold cycle beside a parse floor of its own
    assert len(turns) == 2 and turns[0]["cold_entries_per_s"] == cycles["cold"]["entries_per_s"]
    assert all(
        t["ratio"] == round(t["cold_entries_per_s"] / t["floor_entries_per_s"], 3) for t in turns
    )
    assert cycles["cold_vs_floor"] == statistics.median(t["ratio"] for t in turns)
    # The bound the cycle's CPU sets: cores x feedparser's CPU per entry / the cycle's own.
    cores, first = results["config"]["cpus"], turns[0]
    per_entry = floor["product_settings"]["seconds"] / floor["product_settings"]["entries"]
    expected = cores * per_entry / (first["cold_cpu_s"] / cycles["cold"]["new_entries"])
    assert first["cpu_bound"] == round(expected, 3)
    assert cycles["cpu_bound"] == statistics.median(t["cpu_bound"] for t in turns)
    assert cycles["warm"]["not_modified"] == cycles["warm"]["feeds"] == 4
    assert cycles["unchanged"]["not_modified"] == 4
    assert cycles["memory"]["warm_cycles"] == 2
    match = results["match"]  # each size's figure: the median of its rounds, taken in turns
    for size in ("10", "100", "1000"):
        rounds = match[size]["round_entries_per_s"]
        assert len(rounds) == match["rounds"] and match[size]["matches"] > 0
        assert match[size]["entries_per_s"] == statistics.median(rounds)
    assert results["store"]["new"] == 20 and results["store"]["duplicates_skipped"] == 20
    http = results["http"]
    if "skipped" not in http:
        assert http["indicators_endpoint"]["requests"] > 0
        assert http["history_endpoint"]["requests"] > 0
        assert http["indicators_endpoint"]["errors"] == 0
    history = results["history"]
    if "skipped" not in history:
        assert (history["small"]["entries"], history["large"]["entries"]) == (300, 600)
        assert history["large"]["first_cycle_s"] > 0 and history["large"]["status_s"] > 0
        for size in ("small", "large"):  # measured twice each, on the store as built
            samples = history[size]["samples"]
            assert len(samples["status_s"]) == len(samples["warm_cycle_s"]) == 2
            assert len(set(samples["first_cycle_changes"])) == 1  # the same store each time
            assert len(set(samples["evidence_in_windows"])) == 1
        wanted = {"first_cycle", "warm_cycle", "status", "first_get_indicators", "match_version"}
        assert wanted <= set(history["ratios"])
    search = results["search"]  # over the history's stores, as built
    assert (search["small"]["entries"], search["large"]["entries"]) == (300, 600)
    for size in ("small", "large"):
        found = search[size]
        for query in ("ascii_miss", "korean_miss", "chinese_miss", "ascii_miss_like_only"):
            assert found[f"{query}_hits"] == 0 and found[f"{query}_ms"] > 0, query
        assert found["hit_first_page_hits"] == 20  # a full page, as `monitor search` shows
        assert len(found["samples"]["korean_miss_ms"]) == 2
    assert search["ratios"]["hit_first_page_large_small"] == round(
        search["large"]["hit_first_page_ms"] / search["small"]["hit_first_page_ms"], 2
    )
    startup = results["startup"]  # each command over a store a real `monitor check` wrote
    assert startup["repeats"] == 1 and len(startup["status_json"]["samples_cpu_s"]) == 1
    assert startup["help"]["least_cpu_s"] > 0
    assert startup["over_help"]["status_json"] == round(
        startup["status_json"]["least_cpu_s"] / startup["help"]["least_cpu_s"], 2
    )

    printed = lines.strip().splitlines()
    assert [line.split(":")[0] for line in printed] == [t.name.split(":")[0] for t in TARGETS]
    for line in printed:
        assert line.endswith(("PASS", "FAIL")) or ": skipped: " in line, line


def test_quick_and_sizes_are_flags() -> None:
    from benchmarks.__main__ import arguments

    quick = arguments(["--quick"])
    assert (quick.feeds, quick.entries, quick.http_seconds) == (40, 20, 2.0)
    sized = arguments(["--feeds", "7", "--entries", "3", "--http-seconds", "0"])
    assert (sized.feeds, sized.entries, sized.http_seconds) == (7, 3, 0.0)


def test_the_phases_of_a_cold_cycle_are_timed() -> None:
    """`python -m benchmarks.phases` (where a cold cycle's time goes) keeps working."""
    done = _run("benchmarks.phases", "--feeds", "4", "--entries", "5")
    figures = dict(line.split(": ") for line in done.stdout.splitlines())
    assert figures["entries"] == "20"
    for phase in ("parse_phase", "evaluation"):
        assert float(figures[f"{phase}_wall_s"]) >= 0
        assert float(figures[f"{phase}_main_cpu_s"]) >= 0


def test_what_a_parse_worker_spends_beside_feedparser_is_timed() -> None:
    """`python -m benchmarks.parsecost` keeps working: feedparser's CPU inside `parse_job` is
    part of `parse_job`'s."""
    done = _run("benchmarks.parsecost", "--feeds", "4", "--entries", "5", "--turns", "2")
    turns = done.stdout.splitlines()
    assert [line.split(":")[0] for line in turns] == ["turn 0", "turn 1"]
    for line in turns:
        figures = dict(pair.rsplit(" ", 1) for pair in line.split(": ", 1)[1].split(", "))
        assert 0 < float(figures["feedparser_in_parse_job_s"]) <= float(figures["parse_job_s"])
        assert 0 < float(figures["feedparser_share"]) <= 1


class _Clock(datetime):
    """A `datetime` whose clock reads `at`: generating the corpus must not depend on it."""

    at = datetime(2026, 1, 1, tzinfo=UTC)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Clock:
        return cls.fromtimestamp(cls.at.timestamp(), tz)


def test_the_generated_corpus_and_its_matches_are_the_same_whatever_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two corpora written on clocks a day, a month and a year apart (midnight, New Year) are
    byte for byte the same, parse into the same entries and give the same match counts: every
    date is `feeds.NOW` or before it, and the measurements evaluate at that moment."""
    from benchmarks import feeds, measure, webload
    from monitor.match import Matcher

    for module in (feeds, measure, webload):
        monkeypatch.setattr(module, "datetime", _Clock)
    written = []
    for n, at in enumerate(("2026-12-31T23:59:30+00:00", "2027-01-01T00:10:00+00:00")):
        _Clock.at = datetime.fromisoformat(at)
        root = tmp_path / str(n)
        corpus = feeds.write(root, 6, 10)
        bodies = [path.read_bytes() for path in corpus.files]
        written.append((corpus, bodies, measure.sample_entries(root, 60)))
    (first, first_bodies, entries), (second, second_bodies, again) = written
    assert first_bodies == second_bodies and first.now == second.now == feeds.NOW
    assert (first.planted, first.bytes, first.entries) == (second.planted, second.bytes, 60)
    assert entries == again and len(entries) == 60
    # The newest entry bears the corpus's `now`; all of them lie inside a 30-day window of it.
    assert max(e.published for e in entries if e.published) == feeds.NOW
    assert all(e.published and feeds.NOW - e.published < timedelta(days=1) for e in entries)
    matcher = Matcher(feeds.indicators(100))
    counts = [sum(len(matcher.match(e)) for e in found) for found in (entries, again)]
    assert counts[0] == counts[1] > 0
