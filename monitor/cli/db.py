"""The database schema: db upgrade, db current."""

from __future__ import annotations

import click

from monitor.cli.common import Runtime, group, pass_runtime


@group("db")
def db_group() -> None:
    """The database schema: its revision, and migrating it to this version's.

    Example: monitor db upgrade
    """


@db_group.command("upgrade")
@pass_runtime
def db_upgrade_cmd(rt: Runtime) -> None:
    """Migrate the database (MONITOR_DATABASE_URL) to this version's schema; safe to run twice.

    In an empty database it creates the schema (on PostgreSQL the only command that does).
    It names each revision it ran that changes what users see (statuses, evidence), and when.

    Example: monitor db upgrade
    """
    from monitor.store import upgrade_database

    done = upgrade_database(rt.settings.database_url)
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


@db_group.command("current")
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


COMMANDS = (db_group,)
