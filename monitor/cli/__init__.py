"""The `monitor` command: thin commands over the stages. Settings are read once, here.

One module per family of commands; `common` holds what they share (the Runtime, the error
table every command goes through, the `--json` option):

    definitions  validate, test, init, new       daemon  run, serve
    watch        check, replay                   digest  digest
    reading      match, status, history, search  db      db upgrade, db current
    verdicts     verdict add, list, export      exports  export
    silences     silence                        explaining  explain

Examples:
  monitor validate                      check indicators/ and config/feeds.yaml
  monitor test                          run every indicator's examples
  monitor check                         one check cycle now
  monitor status --json                 every indicator's status as JSON
  monitor match tests/data/feeds/rss2.xml --json
  monitor run                           the daemon: checks, digest, HTTP page on :8000
  monitor serve                         the HTTP endpoint alone
  monitor digest --preview              today's digest, not sent
  monitor db upgrade                    migrate the database
  monitor search "visa-free"            find stored entries (their ids) to judge
  monitor verdict 123 visa-easing:eased no --note "about Japan"
  monitor explain visa-easing:eased --entry 456   why the rule did or did not fire on it
  monitor verdict export -o verdicts.tsv     then: monitor test --labeled verdicts.tsv
  monitor export changes --format csv -o changes.csv      for a spreadsheet
  monitor silence visa-easing --for 7d --reason "state visit"   hold back its alerts
"""

from __future__ import annotations

import sys

import click

from monitor.cli import (
    daemon,
    db,
    definitions,
    digest,
    explaining,
    exports,
    reading,
    silences,
    verdicts,
    watch,
)
from monitor.cli.common import Group, Runtime
from monitor.cli.definitions import LABELED_PARTS


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monitor")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Watch news feeds for the markers of indicators/*.yaml and record every status change.

    Settings come from MONITOR_* environment variables and .env (see README).
    """
    runtime = ctx.ensure_object(Runtime)
    ctx.call_on_close(runtime.close)


families = (
    definitions,
    watch,
    reading,
    explaining,
    verdicts,
    silences,
    exports,
    daemon,
    digest,
    db,
)
for family in families:
    for cmd in family.COMMANDS:
        main.add_command(cmd)

__all__ = ["LABELED_PARTS", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
