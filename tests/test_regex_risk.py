"""Regex terms that can backtrack for ever: `monitor validate` warns about them (by their source
and by an adversarial probe); at run time a term out of budget is logged once per cycle and
counted in /metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from monitor import metrics
from monitor.cli import main
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Feed
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.match.regexrisk import backtracking, regex_warnings, too_slow
from monitor.pipeline import Context, prepare, run_cycle
from monitor.store import open_store
from tests import news
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_cli_ops import no_monitor_variables

__all__ = ["no_monitor_variables"]  # autouse: only the settings a test gives
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("(a|aa)+$", "a repeat of alternatives"),
        ("(\\w|\\d)+$", "a repeat of alternatives"),
        ("(a+)+$", "nested quantifiers"),
        ("(\\w+\\s?)+$", "nested quantifiers"),
        ("(?:x+x+)+y", "nested quantifiers"),
        ("(a{2,})*b", "nested quantifiers"),
        ("sanction\\w*", ""),
        ("(禁止|暂停)[^。]{0,10}(进口|出口)", ""),
        ("\\b(cut|reduc\\w*) (\\w+ ){0,4}visa", ""),  # a bounded repeat
        ("(new |un |u\\.n\\. )*(sanction|resolution)", ""),  # alternatives that never overlap
        ("[(]+x\\(y+\\)+", ""),  # parentheses in a class or escaped are no groups
    ],
)
def test_backtracking_is_read_from_the_source(source: str, why: str) -> None:
    found = backtracking(source)
    assert found.startswith(why) if why else found == ""


def test_an_adversarial_probe_finds_what_the_source_does_not_show() -> None:
    assert too_slow("(x+x+)+y")
    assert too_slow("(\\w|\\d)+$")
    assert not too_slow("\\b(eas|lift)\\w* (\\w+ ){0,3}sanctions")


INDICATOR = """\
id: risky
group: Test
title: Risky
question: Does it backtrack?
window: 30d
outcomes:
  - id: yes
    label: Yes
    rule:
      all:
        - any: [China]
        - any: ['/{regex}/']
"""


@pytest.mark.parametrize("regex", ["(a|aa)+$", "(x+)+y"])
def test_validate_warns_about_a_regex_that_can_backtrack_for_ever(
    tmp_path: Path, regex: str
) -> None:
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "risky.yaml").write_text(INDICATOR.format(regex=regex))
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {id: f, url: 'https://example.org/rss'}\n")
    env = {
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/m.db",
    }

    (tmp_path / "news").mkdir()  # general news no term fires on: only the regex warnings
    quiet = news.rss("weather", [news.Item("Rain expected in the afternoon", "https://e.org/1")])
    (tmp_path / "news" / "weather.xml").write_bytes(quiet)
    result = CliRunner().invoke(main, ["validate", "--general-news", str(tmp_path / "news")],
                                env=env)  # fmt: skip

    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stdout.splitlines() if "backtrack" in line]
    assert warning.startswith(f"{tmp_path}/indicators/risky.yaml:12: warning: regex term ")
    assert f"'/{regex}/' can backtrack for ever: " in warning
    assert not (tmp_path / "m.db").exists()


def test_every_regex_of_a_line_is_checked(tmp_path: Path) -> None:
    """Several regex terms on one line of YAML: each is checked, not only the first."""
    (tmp_path / "indicators").mkdir()
    risky = tmp_path / "indicators" / "risky.yaml"
    risky.write_text(INDICATOR.format(regex="(a|aa)+$/', '/(x+x+)+y"))
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {id: f, url: 'https://example.org/rss'}\n")
    definitions = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")

    warnings = regex_warnings(definitions.indicators)

    assert [w.split(" can backtrack")[0] for w in warnings] == [
        f"{risky}:12: warning: regex term '/(a|aa)+$/'",
        f"{risky}:12: warning: regex term '/(x+x+)+y/'",
    ]


def test_the_shipped_regexes_raise_no_backtracking_warning() -> None:
    shipped = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    assert regex_warnings(shipped.indicators) == []


def test_a_term_out_of_budget_is_logged_once_per_cycle_and_counted_in_metrics(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "risky.yaml").write_text(INDICATOR.format(regex="(a|aa)+$"))
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {id: risky, url: 'https://x.org/'}\n")
    definitions = load_definitions(tmp_path / "indicators", tmp_path / "feeds.yaml")
    items = [news.Item(f"China {n}", f"https://example.org/{n}", NOW, "a" * 3000 + "!")
             for n in range(3)]  # fmt: skip
    feed_server.route("/risky.xml", body=news.rss("Risky", items))
    feeds = (Feed("risky", feed_server.url("/risky.xml")),)
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        ctx = Context(
            definitions=Definitions(definitions.indicators, feeds, definitions.hash),
            matcher=Matcher(definitions.indicators, regex_timeout=0.005),
            store=store,
            limits=FetchLimits(timeout=30, total_timeout=60),  # waited for only by a hang
            check_interval=timedelta(minutes=15),
        )
        prepare(ctx, now=NOW)
        with caplog.at_level(logging.WARNING, logger="monitor"):
            report = run_cycle(ctx, now=NOW)
        samples = {
            s.name: s.value
            for family in text_string_to_metric_families(metrics.render(store, NOW).decode())
            for s in family.samples
        }

    assert report.new_entries == 3 and report.regex_timeouts >= 3
    (line,) = [r.getMessage() for r in caplog.records if "time budget" in r.getMessage()]
    assert line.startswith(f"match: {report.regex_timeouts} regex runs ran out of their time")
    assert "'/(a|aa)+$/' (" in line
    assert samples["monitor_regex_timeouts_total"] == report.regex_timeouts
