"""New watch lists and new indicators from templates: `monitor init DIR`, `monitor new ID`.

What they write passes `monitor validate` and `monitor test` as it is, so a new user starts
from something that works and edits it. Nothing existing is ever overwritten: when any target
exists, nothing is written at all.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path

from monitor.domain import format_duration
from monitor.errors import ConfigError
from monitor.settings import Settings

# As the slugs of definitions: the id is the file's stem.
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

EXAMPLE_INDICATOR = """\
# One indicator: a question about the news and the outcomes that answer it. `monitor test`
# runs the examples at the bottom; `monitor validate` checks the file. See README
# "Indicator files" for every key.
id: example
group: Examples                        # the "what to watch" marker it belongs to
title: New flights between Seoul and Beijing or Shanghai
question: >
  Do airlines announce new or resumed flights between Seoul and Beijing or Shanghai?
feeds: {tags: [news]}                  # feed ids or tags of config/feeds.yaml; default: all
window: 30d                            # evidence older than this stops counting
outcomes:
  - id: announced
    label: New or resumed flights are announced
    corroborate: 2                     # distinct publishers for "confirmed"
    rule:
      scope: sentence                  # the terms must meet in one sentence
      all:
        - any: [flight*, "air route", "air routes"]
        - any: [Seoul, Incheon, Gimpo]
        - any: [Beijing, Shanghai]
        - any: [launch*, resum*, start*, open*]
      none: [cancel*, suspend*, halt*]
examples:
  - text: "Korean Air to launch new Incheon-Shanghai flights in March"
    expect: announced
  - text: "Airlines resume Seoul-Beijing flights after three years"
    expect: announced
  - text: "Airline suspends new Seoul-Beijing flights over weak demand"
    expect: none
  - text: "Beijing hosts trade fair"
    expect: none
"""

FEEDS = """\
# The feeds monitor reads. Each: id (a unique slug), url (RSS, Atom or RDF), tags (indicators
# pick feeds by tag or id), interval (optional; default MONITOR_CHECK_INTERVAL), title,
# silent_after (optional; default MONITOR_FEED_SILENT_AFTER; 0: never shown silent).
feeds:
  - id: bbc-asia
    title: BBC News — Asia
    url: https://feeds.bbci.co.uk/news/world/asia/rss.xml
    tags: [news]
"""

# The id is quoted: a slug such as `null` or `NULL`, written plain, is read by YAML as
# nothing, and the skeleton would fail `monitor validate` ("id must be text").
NEW_INDICATOR = """\
# A new indicator: replace every "edit me" and the placeholder terms, then run
# `monitor validate` and `monitor test`. See README "Indicator files" for every key.
id: "{id}"
group: My watch list                   # the "what to watch" marker it belongs to (edit me)
title: {id} (edit me)
question: >
  What should the news show for this to count? (edit me)
# feeds: {{tags: [news]}}                # feed ids or tags; default: all feeds
window: 30d
outcomes:
  - id: shown
    label: The news shows it (edit me)
    corroborate: 2
    rule:
      all:
        - any: [placeholder]           # terms: "a phrase", prefix*, /regex/, title:term
        # - any: ["@actors.china"]     # a shared vocabulary's terms: quote it ("@…"), as YAML
        #                              # reads a bare @ as an error; the list china of
        #                              # indicators/vocab/actors.yaml (README "Shared vocabularies")
examples:
  - text: "A headline with the placeholder term"
    expect: shown
  - text: "A headline about something else"
    expect: none
"""


def env_template() -> str:
    """A `.env` listing every setting, commented out at its default, with what it means."""
    lines = [
        "# monitor settings. Uncomment a line to change it; the values shown are the defaults.",
        "# Environment variables with the same names win over this file. See README 'Settings'.",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        lines += ["", f"# {field.description}", f"# MONITOR_{name.upper()}={_env_value(default)}"]
    return "\n".join(lines) + "\n"


def _env_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def init(directory: Path) -> list[Path]:
    """Lay out a fresh watch list in `directory`; returns the files written.

    Raises ConfigError, writing nothing, when any of them exists."""
    files = {
        directory / "indicators" / "example.yaml": EXAMPLE_INDICATOR,
        directory / "config" / "feeds.yaml": FEEDS,
        directory / ".env": env_template(),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ConfigError(f"init: already there: {', '.join(existing)}; nothing was written")
    _write(files)
    return list(files)


def new_indicator(indicators_dir: Path, indicator_id: str) -> Path:
    """Write the skeleton of indicator `indicator_id` into `indicators_dir`.

    Raises ConfigError for an id that is not a slug or is taken, and for a folder that does
    not exist (made, it would hold the one indicator, beside the watch list meant)."""
    stem, dot, suffix = indicator_id.rpartition(".")
    if dot and suffix in ("yaml", "yml") and IDENT.fullmatch(stem):
        raise ConfigError(
            f"new: {indicator_id!r} is a file name; the id is its stem: monitor new {stem}"
        )
    if not IDENT.fullmatch(indicator_id):
        raise ConfigError(
            f"new: {indicator_id!r} is not an indicator id: letters, digits, '-', '_' or '.', "
            "starting with a letter or digit (e.g. visa-easing)"
        )
    if not indicators_dir.exists():  # a mistyped MONITOR_INDICATORS_DIR, or the wrong folder
        raise ConfigError(
            f"new: no folder {indicators_dir}: run monitor in a watch list's folder (monitor "
            "init DIR lays one out), or set MONITOR_INDICATORS_DIR"
        )
    taken = [indicators_dir / f"{indicator_id}{suffix}" for suffix in (".yaml", ".yml")]
    for path in taken:
        if path.exists():
            raise ConfigError(f"new: indicator {indicator_id!r} exists: {path}")
    path = taken[0]
    _write({path: NEW_INDICATOR.format(id=indicator_id)})
    return path


def _write(files: dict[Path, str]) -> None:
    try:
        for path, text in files.items():
            _folder(path.parent)
            with path.open("x", encoding="utf-8") as fh:  # never over a file made meanwhile
                fh.write(text)
    except OSError as exc:
        raise ConfigError(f"scaffold: cannot write {exc.filename}: {exc.strerror or exc}") from exc


def _folder(folder: Path) -> None:
    """mkdir says only "File exists" of a file where the folder goes: this says which."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        exc.strerror = "a file is there, where a folder goes"
        raise
