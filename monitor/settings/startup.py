"""Reading the settings at start-up: `load_settings` builds the one `Settings` from the
environment and `.env`, with a warning for each line or MONITOR_* name it could not use, and
says every bad value on one line (`explain`); `database_dir_problem` says why a SQLite
database's folder cannot be made or written, before anything is created.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import ValidationError

from monitor import envfile
from monitor.errors import ConfigError
from monitor.settings.model import Settings

PREFIX = "MONITOR_"


def load_settings(env_file: Path = Path(".env")) -> tuple[Settings, list[str]]:
    """The settings, with a warning for each line of `env_file` that is no `NAME=value` and
    each unknown MONITOR_* variable (environment or `env_file`), a line of the file named by
    its path (`envfile.shown`) and number. Every bad value raises one ConfigError, its message
    one line naming the variables and the form they expect."""
    with envfile.caught() as unparsed:  # python-dotenv's warnings name no file: said here
        try:
            settings = Settings(_env_file=env_file)
        except ValidationError as exc:  # with the lines ignored, which may be why
            said = envfile.warnings(env_file, unparsed, {}, {}, prefix=PREFIX, known=())
            raise ConfigError("; ".join([explain(exc), *said])) from None
        except UnicodeDecodeError as exc:  # python-dotenv reads the file as UTF-8
            raise ConfigError(_not_utf8(env_file, exc)) from None
        dotenv = _dotenv(env_file)
    known = [PREFIX + name.upper() for name in Settings.model_fields]
    return settings, envfile.warnings(
        env_file, unparsed, os.environ, dotenv, prefix=PREFIX, known=known
    )


def _not_utf8(env_file: Path, error: UnicodeDecodeError) -> str:
    """The file and line of its first byte that is not UTF-8 (saved as latin-1 or UTF-16)."""
    line = bytes(error.object[: error.start]).count(b"\n") + 1  # a .env is read in one chunk
    where = f"{envfile.shown(env_file)}:{line}"
    return f"settings: {where}: not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8"


def explain(error: ValidationError) -> str:
    """pydantic's errors on one line: `MONITOR_X: 'value' is not ... (e.g. ...)`; ...."""
    return "settings: " + "; ".join(_problem(e) for e in error.errors())


def _problem(error: Mapping[str, Any]) -> str:
    loc = error.get("loc") or ("?",)
    name = PREFIX + str(loc[0]).upper()
    if error["type"] == "value_error":  # our validators say what they expected
        return f"{name}: {error['ctx']['error']}"
    value = error.get("input")
    field = Settings.model_fields.get(str(loc[0]))
    expected = _EXPECTED.get(field.annotation, "") if field else ""
    if expected and error["type"].endswith(("_parsing", "_type")):
        return f"{name}: {value!r} is not {expected}"
    message = str(error["msg"])
    return f"{name}: {value!r}: {message[:1].lower()}{message[1:]}"


_EXPECTED: dict[Any, str] = {
    int: "a whole number",
    float: "a number (e.g. 0.1)",
    bool: "true or false",
    time: "a time of day (e.g. 07:00)",
}


def _dotenv(path: Path) -> dict[str, str | None]:
    try:
        return dict(dotenv_values(path)) if path.is_file() else {}
    except (OSError, UnicodeDecodeError):
        return {}


def database_dir_problem(url: str) -> str | None:
    """Why the folder of a SQLite database file cannot be made or written, else None.

    Nothing is created: this looks for the nearest existing folder on the way."""
    if not url.startswith("sqlite:///"):
        return None
    database = url.removeprefix("sqlite:///").partition("?")[0]
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    folder = Path(database).parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    if problem is None:
        return None
    if existing == folder and existing.is_dir():  # there already: nothing to create
        why = "(SQLite keeps its write-ahead log beside the database)"
        return f"settings: MONITOR_DATABASE_URL: the data directory {problem} {why}"
    return f"settings: MONITOR_DATABASE_URL: cannot create the data directory {folder}: {problem}"
