"""The database: db upgrade, db current, db copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from monitor.cli.common import Runtime, group, pass_runtime
from monitor.cli.stops import stopped_by_signals
from monitor.counts import plural

if TYPE_CHECKING:
    from monitor.store import Upgrade


@group("db")
def db_group() -> None:
    """The database: its schema revision, migrating it to this version's, copying it whole.

    Example: monitor db upgrade

    Example: monitor db copy --to postgresql+psycopg://monitor@db.example.org/monitor
    """


@db_group.command("upgrade", stopped="before it began; the schema is as it was")
@pass_runtime
def db_upgrade_cmd(rt: Runtime) -> None:
    """Migrate the database (MONITOR_DATABASE_URL) to this version's schema; safe to run twice.

    In an empty database it creates the schema (on PostgreSQL the only command that does).
    It names each revision it ran that changes what users see (statuses, evidence), and when.
    It migrates in one transaction: stopped (an error, Ctrl-C, SIGTERM) before that commits,
    the schema is as it was. Ctrl-C or SIGTERM: one line saying which; exit 130 or 143.

    Example: monitor db upgrade
    """
    from monitor.store import upgrade_database

    with stopped_by_signals(lambda why: f"db upgrade: {why} {UPGRADE_STOPPED}"):
        done = upgrade_database(rt.settings.database_url)
    after = f"once its one transaction committed: the schema is at revision {done.after}"
    with stopped_by_signals(lambda why: f"db upgrade: {why} {after}"):
        _said(done)


# The upgrade runs in one transaction (`store.engine._upgrade`): stopped before it committed,
# the transaction is rolled back (the connection is dropped with it), nothing of it stays.
UPGRADE_STOPPED = (
    "before its one transaction committed: nothing of it stays, the schema is as it was; run "
    "`monitor db upgrade` again"
)


def _said(done: Upgrade) -> None:
    """What an upgrade did, on stdout."""
    if done.created is not None:
        click.echo(f"db: created monitor's schema (revision {done.after}) in {done.created}")
    elif done.before == done.after:
        click.echo(f"db: already at revision {done.after}")
    else:
        click.echo(f"db: upgraded from revision {done.before or '(none)'} to {done.after}")
    if done.notices:
        click.echo("db: what users will see change:")
        for revision, notice in done.notices:
            click.echo(f"  {revision}: {notice}")
        click.echo(f"db: {AFTER_NOTICES}")


AFTER_NOTICES = (
    "the first check after the upgrade (the daemon's, or `monitor check`) records each status "
    "that moves; `monitor status` shows now what it will record from the news stored"
)


@db_group.command("current", stopped="while reading the schema revision; nothing written")
@pass_runtime
def db_current_cmd(rt: Runtime) -> None:
    """Print the database's schema revision and this version's; exit 1 when they differ.

    Example: monitor db current
    """
    from monitor.store import schema_status

    current, head = schema_status(rt.settings.database_url)
    click.echo(f"database: {current or '(none)'}\ncode:     {head}")
    if current != head:
        raise SystemExit(1)


@db_group.command(
    "copy", stopped="before the copy began (nothing copied) or once it was done (all of it copied)"
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The database to copy into (a SQLAlchemy URL, as MONITOR_DATABASE_URL); it must hold "
    "no rows. Its schema is made or migrated first.",
)
@pass_runtime
def db_copy_cmd(rt: Runtime, target: str) -> None:
    """Copy the whole database (MONITOR_DATABASE_URL) into another, ids and all: entries,
    matches, status changes and their evidence, verdicts, silences, digests and alerts sent,
    counters, feed state. Any backend to any; SQLite to PostgreSQL is moving to PostgreSQL.

    The source is read in one transaction (one moment of it, even while a daemon writes to it);
    the target is written in one: stopped half way (an error, Ctrl-C, SIGTERM), it keeps no row,
    and a SQLite file the copy made is removed. A target that holds rows already is refused.
    Progress goes to stderr a batch at a time. Ctrl-C or SIGTERM: one line; exit 130 or 143.

    Example: monitor db copy --to postgresql+psycopg://monitor@db.example.org/monitor
    """
    from monitor.store import copy_database

    def progress(table: str, done: int, total: int) -> None:
        click.echo(f"monitor: db copy: copying {table}: {done:,} of {count_rows(total)}", err=True)

    with stopped_by_signals(lambda why: f"db copy: {why}; {INTERRUPTED}"):
        copied = copy_database(rt.settings.database_url, target, progress=progress)
    rows = sum(n for _, n in copied.rows)
    tables = ", ".join(f"{table} {n:,}" for table, n in copied.rows if n)
    click.echo(
        f"db: copied {count_rows(rows)} from {copied.source} into {copied.target}"
        + (f" ({tables})" if tables else "")
    )


INTERRUPTED = (
    "the target keeps no row of it (its schema only; a SQLite file the copy made is removed): "
    "run the copy again"
)


def count_rows(n: int) -> str:
    return f"{n:,} {plural('row', n)}"


COMMANDS = (db_group,)
