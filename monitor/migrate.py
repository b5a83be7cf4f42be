"""The schema's revisions: Alembic over monitor/migrations/. The only module importing Alembic.

The store opens the connection and its transaction (and, on PostgreSQL, the lock that makes
concurrent upgrades queue) and hands them here; see `store.upgrade` and `store.schema_status`.

Alembic is imported only when a revision is run, stamped, compared or listed: the check every
command makes when it opens the store (`head`, `current`) reads the revision files' two lines
and the version table itself, so that `monitor status` does not load Alembic and every revision
module to find both at the code's revision (about 0.15 CPU-seconds a command).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection, MetaData

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines mean nothing to users

__all__ = [
    "MIGRATIONS",
    "current",
    "differences",
    "downgrade",
    "head",
    "new_revision",
    "notices",
    "revisions",
    "stamp",
    "upgrade",
]


def _config(connection: Connection | None = None, metadata: MetaData | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes.update(connection=connection, metadata=metadata)
    return config


@cache
def head() -> str:
    """The revision the code's models are at: the one no other revision revises, read from
    the revision files' `revision` and `down_revision` lines (`_written_head`), else, when
    those do not say (a file written otherwise), Alembic's answer."""
    found = _written_head(MIGRATIONS / "versions") or alembic_head()
    if found is None:  # pragma: no cover - the package ships its revisions
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return found


def alembic_head() -> str | None:
    """The head as Alembic finds it, loading every revision module (what `head` agrees with)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


# `revision: str = "0033"`, `down_revision = None`: each a line of its own at the module's top
_ASSIGNED = re.compile(
    r"^(down_revision|revision)\s*(?::[^=\n]*)?=\s*"
    r"""(?:"([^"\n]*)"|'([^'\n]*)'|(None))\s*(?:\#.*)?$""",
    re.MULTILINE,
)


def _written_head(versions: Path) -> str | None:
    """The head of the revision files in `versions` (Alembic's: `*.py` but `__init__.py` and
    editors' `.#` lock files) as their lines say, or None when a file does not say its two
    plainly, once each, or the revisions are not one line of history with one head."""
    revises: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        if path.name.startswith(("__init__", ".#")):
            continue
        said: dict[str, list[str | None]] = {"revision": [], "down_revision": []}
        for name, double, single, none in _ASSIGNED.findall(path.read_text(encoding="utf-8")):
            said[name].append(None if none else double or single)
        if [len(values) for values in said.values()] != [1, 1]:
            return None
        [revision], [down] = said["revision"], said["down_revision"]
        if not revision or revision in revises:
            return None
        revises[revision] = down
    heads = set(revises) - set(revises.values())
    return heads.pop() if len(heads) == 1 else None


def current(connection: Connection) -> str | None:
    """The database's revision; None when it has none (empty, or made before migrations):
    its version table read with one query (Alembic's own answer when it holds several)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(found) <= 1:
        return found[0] if found else None
    from alembic.runtime.migration import MigrationContext  # its error for several heads

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, metadata: MetaData, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(connection, metadata), revision)


def downgrade(connection: Connection, metadata: MetaData, revision: str) -> None:
    """Take the schema back to `revision` (for tests of a revision's upgrade over old data)."""
    from alembic import command

    command.downgrade(_config(connection, metadata), revision)


def stamp(connection: Connection, metadata: MetaData, revision: str) -> None:
    """Record `revision` as the database's without running anything."""
    from alembic import command

    command.stamp(_config(connection, metadata), revision)


def differences(connection: Connection, metadata: MetaData) -> list[Any]:
    """How the database differs from the models (Alembic's autogenerate diffs); [] when equal."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def new_revision(connection: Connection, metadata: MetaData, message: str) -> None:
    """Write a revision autogenerated from the models' difference to the database (for
    developers; the file needs reading and making portable by hand)."""
    from alembic import command

    command.revision(_config(connection, metadata), message=message, autogenerate=True)


def revisions() -> set[str]:
    """Every revision this code knows."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def notices(start: str, end: str) -> list[tuple[str, str]]:
    """(revision, what users see change after it) of each revision after `start` up to `end`,
    oldest first, whose module says so in `NOTICE`: those that rework stored statuses or
    evidence (or what they are worked out from), which an operator is told of at the upgrade."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config())
    found = []
    for script in scripts.iterate_revisions(end, start):  # from `end` down, `start` left out
        notice = getattr(script.module, "NOTICE", "")
        if notice:
            found.append((script.revision, " ".join(notice.split())))
    return found[::-1]
