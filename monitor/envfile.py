"""Where in a `.env` file a problem is: its path as the user can find it, and the line.

`settings` reads the file (through pydantic-settings and python-dotenv); this module says
where. python-dotenv's own warning about a line it cannot parse ("could not parse statement
starting at line N") names no file, and is printed before logging is set up, once per read:
`caught` takes it off its logger and gives the line numbers, for `settings` to warn about as
`/srv/monitor/.env:3: …`, once. Imports nothing of monitor.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["caught", "line_of", "shown", "warnings"]

_DOTENV_LOGGER = "dotenv.main"
_UNPARSED = "python-dotenv could not parse statement starting at line %s"


def shown(path: Path) -> str:
    """The file as a warning names it: absolute, so that a working directory the user did not
    expect (or one of several .env files) is plain."""
    return str(path.absolute())


@contextmanager
def caught() -> Iterator[list[int]]:
    """The lines python-dotenv could not parse while inside, in the order it said so (once per
    read: a file read twice gives each twice), its warnings not printed."""
    lines: list[int] = []

    def keep(record: logging.LogRecord) -> bool:
        if record.msg == _UNPARSED and isinstance(record.args, tuple) and record.args:
            lines.append(int(str(record.args[0])))
            return False
        return True

    logger = logging.getLogger(_DOTENV_LOGGER)
    logger.addFilter(keep)
    try:
        yield lines
    finally:
        logger.removeFilter(keep)


def line_of(path: Path, name: str) -> int | None:
    """The line (from 1) that sets `name` (`NAME=`, `export NAME =`), None when not found."""
    sets = re.compile(rf"\s*(?:export\s+)?['\"]?{re.escape(name)}['\"]?\s*=")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return next((n for n, line in enumerate(text.splitlines(), 1) if sets.match(line)), None)


def warnings(
    env_file: Path,
    unparsed: Sequence[int],
    environ: Mapping[str, str],
    dotenv: Mapping[str, str | None],
    *,
    prefix: str,
    known: Sequence[str],
) -> list[str]:
    """A warning per line of `env_file` python-dotenv could not parse (`caught`), once; then
    per name with `prefix` (MONITOR_) in the environment or the file (read as `dotenv`) that
    is not `known`, with the closest known one when there is: one of the file names its path
    and line."""
    where = shown(env_file)
    said = [f"{where}:{n}: not NAME=value; the line is ignored" for n in dict.fromkeys(unparsed)]
    for names, in_file in ((environ, False), (dotenv, True)):
        for name in sorted(n for n in names if n.upper().startswith(prefix)):
            if name.upper() in known:
                continue
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]}?" if close else ""
            line = line_of(env_file, name) if in_file else None
            place = f"{where}:{line}: " if line else f"{where}: " if in_file else ""
            said.append(f"{place}{name}: unknown setting{hint}")
    return said
