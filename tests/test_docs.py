"""The README documents every command, setting, YAML key and endpoint, with the right defaults."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import click
import pytest

from monitor import definitions
from monitor.cli import main
from monitor.domain import format_duration
from monitor.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def commands(group: click.Group, prefix: str = "monitor") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


def documented_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list | dict):
        return "empty"
    return str(value)


@pytest.mark.parametrize("command", commands(main))
def test_every_command_is_documented(command: str) -> None:
    assert re.search(rf"^\| `{re.escape(command)}[ `]", README, re.M), command


def options(group: click.Group, prefix: str = "monitor") -> list[tuple[str, str]]:
    """(command, option) for every option of every command, by its first long name."""
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += options(command, f"{prefix} {name}")
            continue
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                found.append((f"{prefix} {name}", param.opts[0]))
    return found


@pytest.mark.parametrize(("command", "option"), options(main))
def test_every_option_is_in_its_commands_row(command: str, option: str) -> None:
    """Each option, long or short, is named in the README's row for its command."""
    row = " ".join(re.findall(rf"^\| `{re.escape(command)}[ `].*$", README, re.M))
    param = next(
        p for p in main_command(command).params if isinstance(p, click.Option) and option in p.opts
    )
    assert any(name in row for name in param.opts), (command, option)


def command_rows() -> list[str]:
    """The first cell of each row of the README's Commands table."""
    section = README.split("\n## Commands\n")[1].split("\n## ")[0]
    return re.findall(r"^\| `(monitor [^`]*)` \|", section, re.M)


@pytest.mark.parametrize("cell", command_rows())
def test_every_option_a_commands_row_shows_exists(cell: str) -> None:
    """`monitor test [-v] [--labeled FILE]`: each option the row writes is one the command
    takes (the reverse of the test above), so a user copying it gets no 'no such option'."""
    path = "monitor"
    for word in cell.split()[1:]:
        group = main_command(path)
        if not isinstance(group, click.Group) or word not in group.commands:
            break
        path = f"{path} {word}"
    command = main_command(path)
    taken = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    shown = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", cell))

    assert shown <= taken, (path, shown - taken)


def main_command(path: str) -> click.Command:
    command: click.Command = main
    for name in path.split()[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented_with_its_default(name: str) -> None:
    field = Settings.model_fields[name]
    default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    row = re.search(rf"^\| `MONITOR_{name.upper()}` \| `([^`]*)` \|", README, re.M)
    assert row, f"MONITOR_{name.upper()} is not in the README's settings table"
    assert row.group(1) == documented_default(default)


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_written_as_its_documented_default_is_that_default(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user who copies the README's default into the environment (`unset` and `empty`: as an
    empty value) gets the default, so the form the table writes it in is one the setting takes."""
    row = re.search(rf"^\| `MONITOR_{name.upper()}` \| `([^`]*)` \|", README, re.M)
    assert row
    written = "" if row.group(1) in ("unset", "empty") else row.group(1)
    for other in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(other)
    monkeypatch.setenv(f"MONITOR_{name.upper()}", written)

    assert getattr(Settings(_env_file=None), name) == _default(name)  # type: ignore[call-arg]


def _default(name: str) -> object:
    field = Settings.model_fields[name]
    return field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]


YAML_KEYS = sorted(
    set(definitions.INDICATOR_KEYS)
    | set(definitions.OUTCOME_KEYS)
    | set(definitions.EXAMPLE_KEYS)
    | set(definitions.SELECTOR_KEYS)
    | set(definitions.RULE_KEYS)
    | set(definitions.NEAR_KEYS)
    | set(definitions.FEED_KEYS)
)


@pytest.mark.parametrize("key", YAML_KEYS)
def test_every_yaml_key_is_documented(key: str) -> None:
    assert f"| `{key}` |" in README


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make run " in README and "make test " in README
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert ci.strip().splitlines()[-1] == "make test"


def test_the_everyday_subset_is_documented_and_leaves_out_the_slow_tests() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "make test-fast " in README
    target = re.search(r"^test-fast: .*\n\t(.*)$", makefile, re.M)
    assert target is not None
    assert '-m "not slow and not postgres and not browser"' in target.group(1)


def routes() -> list[str]:
    from monitor.web import create_app

    app = create_app(store=None, definitions=lambda: None, settings=Settings())  # type: ignore[arg-type]
    paths = app.openapi()["paths"]  # every route is in it (app.routes nests the routers)
    found = sorted(
        f"GET {path.replace('{indicator_id}', '{id}')}"
        for path, ops in paths.items()
        if "get" in ops
    )
    assert found, "no GET route found"
    return found


@pytest.mark.parametrize("endpoint", routes())
def test_every_endpoint_is_documented(endpoint: str) -> None:
    assert f"| `{endpoint}` |" in README


def metric_names() -> list[str]:
    """Every metric /metrics can answer, as Prometheus reads it: a counter with `_total`."""
    source = (ROOT / "monitor" / "metrics.py").read_text()
    counters = set(re.findall(r'CounterMetricFamily\(\s*"(monitor_\w+)"', source))
    names = set(re.findall(r'"(monitor_\w+)"', source))
    return sorted(f"{n}_total" if n in counters else n for n in names)


@pytest.mark.parametrize("name", metric_names())
def test_every_metric_is_documented(name: str) -> None:
    """A scrape is read by name: one the README does not give is one nobody alerts on."""
    section = README.split("| `GET /metrics` |")[1].split("\n")[0]
    assert re.search(rf"`{name}[`{{]", section), name


def limits_constants() -> list[str]:
    section = README.split("## Limits and safety")[1].split("\n## ")[0]
    return sorted(set(re.findall(r"`([a-z]+\.[A-Za-z_.]+)`", section)))


@pytest.mark.parametrize("name", limits_constants())
def test_every_limit_named_in_the_readme_exists(name: str) -> None:
    import importlib

    module, *attributes = name.split(".")
    value: object = importlib.import_module(f"monitor.{module}")
    for attribute in attributes:
        value = getattr(value, attribute)


def headings() -> list[tuple[int, str]]:
    """(level, text) of every Markdown heading of the README, those inside code blocks left out
    (a YAML comment there starts with '#' too)."""
    found, fenced = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"(#{1,6}) (.+)$", line)):
            found.append((len(heading.group(1)), heading.group(2).strip()))
    return found


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, its punctuation dropped but for '-' and
    '_', each space a '-' (`Feeds (`config/feeds.yaml`)` -> `feeds-configfeedsyaml`)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors() -> set[str]:
    """Every heading's anchor, a repeated one's with GitHub's suffix (-1, -2, …) too."""
    seen: dict[str, int] = {}
    for _, text in headings():
        slug = anchor(text)
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\]\(#([^)\s]*)\)", README))))
def test_every_link_inside_the_readme_goes_to_a_heading(target: str) -> None:
    """`[Feeds](#feeds-configfeedsyaml)`: a heading renamed leaves no link that goes nowhere."""
    assert target in anchors(), f"#{target} is no heading's anchor"


def test_the_contents_list_every_top_level_section() -> None:
    """The Contents list after the intro links to every `##` section, in order, so a section
    added is listed (each link's target is checked above)."""
    contents = README.split("\n**Contents**\n")[1].split("\n## ")[0]
    listed = re.findall(r"^- \[[^]]+\]\(#([^)]+)\)", contents, re.M)
    assert listed == [anchor(text) for level, text in headings() if level == 2]


@pytest.mark.parametrize(
    "module", sorted(p.name for p in (ROOT / "monitor" / "store").glob("*.py"))
)
def test_every_store_module_is_in_the_readmes_layout(module: str) -> None:
    """The README's `monitor/store/` block names each module of the store with its job."""
    layout = README.split("\nmonitor/store/\n")[1].split("\n```")[0]
    assert re.search(rf"^  {re.escape(module)} ", layout, re.M), module


def test_the_readmes_examples_of_this_versions_revision_name_its_head() -> None:
    """What `monitor db upgrade` and the first command on a new SQLite file print name this
    version's revision; the README's examples of those lines said 0033 after 0034 was added, so
    a reader comparing them with the terminal saw another version."""
    from monitor.migrate import head

    said = re.findall(r"(?:schema revision|schema \(revision|this monitor's) (\d{4})", README)
    assert said and set(said) == {head()}


def test_every_metric_the_readme_names_is_one_metrics_serves(tmp_path: Path) -> None:
    """A query written from the README finds its series: /metrics row named
    `monitor_regex_timeouts`, a series /metrics never served (its counter is
    `monitor_regex_timeouts_total`)."""
    from monitor.metrics import render
    from monitor.store import Cycle, open_store

    now = datetime.now(UTC)
    with open_store(f"sqlite:///{tmp_path / 'monitor.db'}") as store:
        assert store.claim_digest(now.date(), owner="t", now=now)  # its gauges come with one
        store.mark_digest_sent(now.date(), now)
        store.record_cycle(Cycle(now, now))  # and the last successful cycle's with one
        text = render(store, now).decode()
    served = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    named = set(re.findall(r"`(monitor_[a-z_]+)[`{]", README))
    assert named and named <= served, sorted(named - served)
