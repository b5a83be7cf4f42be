"""A day with the `monitor` command: bad settings in one line, commands that say what they did."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor.cli import main
from tests import news, webdata
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.smtpserver import running_smtp_server
from tests.test_pipeline import ALL_TAGS

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures


@pytest.fixture(autouse=True)
def no_monitor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test gives: a MONITOR_* variable of the developer's (e.g.
    MONITOR_TEST_POSTGRES) would add an "unknown setting" warning to stderr."""
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, with only these MONITOR_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=clean | {"PYTHONPATH": str(ROOT)} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def shipped(tmp_path: Path) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'monitor.db'}",
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_FEEDS_FILE": str(ROOT / "config" / "feeds.yaml"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
    }


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def make_database(env: dict[str, str]) -> None:
    """`monitor db upgrade` on `env`'s database, which `digest --send` does not make."""
    assert invoke(["db", "upgrade"], env).exit_code == 0


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("MONITOR_CHECK_INTERVAL", "abc", "'abc' is not a duration (e.g. 15m, 1h)"),
        ("MONITOR_CYCLE_DEADLINE", "600000w", "too long: '600000w' (at most 3650d, ten years)"),
        ("MONITOR_CYCLE_DEADLINE", "0s", "'0s' is no time at all (e.g. 10m)"),  # fetches nothing
        ("MONITOR_FETCH_TIMEOUT", "0m", "'0m' is no time at all (e.g. 20s)"),  # every fetch fails
        ("MONITOR_FETCH_TOTAL_TIMEOUT", "0h", "'0h' is no time at all (e.g. 1m)"),
        ("MONITOR_PARSE_TIMEOUT", "0s", "'0s' is no time at all (e.g. 1m)"),  # every parse fails
        ("MONITOR_FEED_LEASE", "0s", "'0s' is no time at all (e.g. 5m)"),
        ("MONITOR_HTTP_HEADER_TIMEOUT", "0s", "'0s' is no time at all (e.g. 10s)"),
        ("MONITOR_HEALTH_MAX_AGE", "0s", "'0s' is no time at all (e.g. 45m)"),  # always 503
        ("MONITOR_RETENTION", "0d", "'0d' is no time at all (e.g. 365d)"),  # not 'for ever'
        ("MONITOR_DATABASE_URL", "sqlite:///:memory:", "'sqlite:///:memory:' is a database in "
         "memory, forgotten when the command ends: name a file (e.g. sqlite:///data/monitor.db)"),
        ("MONITOR_DATABASE_URL", "mysql://db/monitor", "'mysql://db/monitor' is neither SQLite "
         "nor PostgreSQL (e.g. sqlite:///data/monitor.db, postgresql+psycopg://monitor@db/monitor)"),
        ("MONITOR_DATABASE_URL", "mysql://monitor:hunter2@db/monitor", "'mysql://monitor:***@db/"
         "monitor' is neither SQLite nor PostgreSQL (e.g. sqlite:///data/monitor.db, "
         "postgresql+psycopg://monitor@db/monitor)"),  # its password in no log, as the store's
        ("MONITOR_DATABASE_URL", "postgres://monitor:hunter2@db/monitor", "'postgres://monitor:"
         "***@db/monitor' is PostgreSQL written as libpq and Heroku write it: write "
         "postgresql+psycopg://monitor:***@db/monitor"),  # SQLAlchemy reads no postgres://
        ("MONITOR_TIMEZONE", "Mars/Olympus", "'Mars/Olympus' is not a time zone (e.g. UTC, "
                                              "Asia/Seoul)"),
        ("MONITOR_DIGEST_TIME", "25:00", "'25:00' is not a time of day (e.g. 07:00)"),
        ("MONITOR_DIGEST_TIME", "07:00+09:00", "'07:00+09:00' has an offset, and the digest time "
         "is one of MONITOR_TIMEZONE (e.g. 07:00 with MONITOR_TIMEZONE=Asia/Seoul)"),
        ("MONITOR_DIGEST_TIME", "07:00Z", "'07:00Z' has an offset, and the digest time is one of "
         "MONITOR_TIMEZONE (e.g. 07:00 with MONITOR_TIMEZONE=Asia/Seoul)"),  # it was ignored
        ("MONITOR_LOG_LEVEL", "LOUD", "'LOUD' is not a log level (DEBUG, INFO, WARNING, ERROR, "
                                      "CRITICAL)"),
        ("MONITOR_LOG_FORMAT", "xml", "'xml': input should be 'text' or 'json'"),
        ("MONITOR_SMTP_PORT", "smtp", "'smtp' is not a whole number"),
        ("MONITOR_SMTP_PORT", "-1", "'-1': input should be greater than or equal to 1"),
        ("MONITOR_SMTP_PORT", "65536", "'65536': input should be less than or equal to 65535"),
        ("MONITOR_FETCH_CONCURRENCY", "0", "'0': input should be greater than or equal to 1"),
        ("MONITOR_DIGEST_TO", "ops@example.com, not-an-address",
         "'not-an-address' is not an email address (e.g. ops@example.com)"),
        ("MONITOR_DIGEST_TO", '["ops@example.com", 3]',
         '\'["ops@example.com", 3]\' is not a JSON list of strings'),
        ("MONITOR_DIGEST_FROM", "monitor at example", "'monitor at example' is not an email "
                                                      "address (e.g. ops@example.com)"),
        ("MONITOR_PUBLIC_URL", "monitor.example.org", "'monitor.example.org' is not an http(s) "
                                                      "address (e.g. https://monitor.example.org/)"),
        ("MONITOR_API_TOKENS", "alice", "item 1 is not name:token with a name of letters, digits, "
                                        '_.@- (expected name:token,… or a JSON object {"name": '
                                        '"token"})'),
        ("MONITOR_NOTIFY_URLS", "json://127.0.0.1:9/alerts, nosuch://ops:hunter2@hooks/x",
         "item 2 (nosuch://...) is not a URL Apprise knows (e.g. ntfy://ntfy.sh/TOPIC, "
         "json://hooks.example.org/alerts)"),  # its alerts would be retried for ever
        ("MONITOR_NOTIFY_URLS", "json://ops:hunter2@127.0.0.1:99999/alerts",
         "item 1 (json://...) names port 99999, which no server listens on (1-65535)"),
        ("MONITOR_NOTIFY_URLS", "mailto://ops:hunter2@mail.example.org?to=a@example.org,"
         "b@example.org", "item 2 is not a URL: a comma inside a URL (several targets, "
         '?to=a@x,b@y) cuts it in two; give the list as JSON (["mailto://…?to=a@x,b@y"])'),
        ("MONITOR_SESSION_SECRET", "short", "shorter than 32 characters (e.g. the output of "
                                            "python3 -c 'import secrets; print(secrets."
                                            "token_urlsafe(32))')"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_one_line_naming_it_exit_2_and_nothing_written(
    tmp_path: Path, name: str, value: str, line: str
) -> None:
    result = run(["check"], tmp_path, shipped(tmp_path) | {name: value})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"Error: settings: {name}: {line}"]
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["digest", "--preview", "--date", "0001-01-01"],
         "Invalid value for '--date': 0001-01-01 is out of range (1900-01-01 to 9000-12-31)"),
        (["digest", "--preview", "--date", "9999-12-31"],
         "Invalid value for '--date': 9999-12-31 is out of range (1900-01-01 to 9000-12-31)"),
        (["replay", "--since", "0001-01-01"],
         "Invalid value for '--since': 0001-01-01 is out of range"),
        (["export", "changes", "--since", "9999-12-31T23:59:59-05:00"],
         "Invalid value for '--since': 9999-12-31 is out of range"),
        (["history", "visa-easing", "--limit", "99999999999999999999999"],
         "Invalid value for '--limit': 99999999999999999999999 is not in the range 1<=x<=10000."),
        (["verdict", "99999999999999999999999", "visa-easing:eased", "no"],
         "Invalid value for 'ENTRY': 99999999999999999999999 is not in the range"),
        (["silence", "--end", "99999999999999999999999"],
         "Invalid value for '--end': 99999999999999999999999 is not in the range"),
    ],
)  # fmt: skip
def test_a_date_or_number_no_store_can_hold_is_a_usage_error(
    tmp_path: Path, args: list[str], error: str
) -> None:
    """Dates whose day before or after Python cannot represent, and ids and limits beyond the
    databases' 64-bit integers, are refused before anything runs (they were tracebacks)."""
    result = invoke(args, shipped(tmp_path))

    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {error}"), result.output
    assert not (tmp_path / "data").exists()


def test_a_fetch_error_names_what_went_wrong_not_its_wrapper(tmp_path: Path) -> None:
    result = invoke(["match", "http://127.0.0.1:99999/feed.xml"], shipped(tmp_path))

    assert result.exit_code == 1
    assert "http://127.0.0.1:99999/feed.xml: fetch: OverflowError: " in result.output
    assert "port must be 0-65535" in result.output
    assert "ExceptionGroup" not in result.output


def test_a_data_directory_under_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file, not a folder")
    env = shipped(tmp_path) | {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/data/db/m.db"}

    result = run(["status"], tmp_path, env)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"Error: settings: MONITOR_DATABASE_URL: cannot create the data directory "
        f"{tmp_path}/data/db: {tmp_path}/data is not a directory"
    ]
    assert (tmp_path / "data").read_text() == "a file, not a folder"


def test_an_unwritable_data_directory_is_named_before_anything_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.settings import startup

    # The tests run as root, for whom every folder is writable: the folder's answer is given.
    monkeypatch.setattr(startup.os, "access", lambda path, mode: Path(path) != tmp_path)
    url = f"sqlite:///{tmp_path}/data/monitor.db"

    problem = startup.database_dir_problem(url)

    assert problem == (
        f"settings: MONITOR_DATABASE_URL: cannot create the data directory {tmp_path}/data: "
        f"{tmp_path} is not writable"
    )
    assert startup.database_dir_problem("sqlite:///:memory:") is None
    assert startup.database_dir_problem("postgresql+psycopg://u@h/db") is None
    assert not (tmp_path / "data").exists()


def test_a_data_directory_that_exists_but_is_not_writable_is_not_said_to_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is there (a read-only mount, another user's): nothing is to be created, and
    the line says what is wrong with it."""
    from monitor.settings import startup

    monkeypatch.setattr(startup.os, "access", lambda path, mode: Path(path) != tmp_path)

    problem = startup.database_dir_problem(f"sqlite:///{tmp_path}/monitor.db")

    assert problem == (
        f"settings: MONITOR_DATABASE_URL: the data directory {tmp_path} is not writable"
        " (SQLite keeps its write-ahead log beside the database)"
    )


def _warned(stderr: str) -> list[str]:
    """The lines of stderr but validate's note that, out of the checkout, no term was checked
    against general news."""
    return [
        line for line in stderr.splitlines() if not line.startswith("monitor: validate: no general")
    ]


def test_an_unknown_setting_is_warned_about_once_with_the_closest_name(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MONITOR_DIGEST_TOO=ops@example.com\nPOSTGRES_PASSWORD=x\n")
    env = shipped(tmp_path) | {"MONITOR_CHECK_INTERVALL": "5m", "MONITOR_FROBNICATE": "1"}

    result = run(["validate"], tmp_path, env)

    assert result.returncode == 0
    warnings = [line.split("monitor.settings: ")[1] for line in _warned(result.stderr)]
    assert warnings == [
        "MONITOR_CHECK_INTERVALL: unknown setting; did you mean MONITOR_CHECK_INTERVAL?",
        "MONITOR_FROBNICATE: unknown setting",
        f"{tmp_path / '.env'}:1: MONITOR_DIGEST_TOO: unknown setting; did you mean "
        "MONITOR_DIGEST_TO?",
    ]


def test_a_bad_setting_also_names_the_dotenv_lines_ignored(tmp_path: Path) -> None:
    """A value cut by a line python-dotenv cannot parse: the error says that line too."""
    (tmp_path / ".env").write_text("MONITOR_HTTP_PORT=eighty\nthis is no setting\n")

    result = run(["validate"], tmp_path, shipped(tmp_path))

    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        f"; {tmp_path / '.env'}:2: not NAME=value; the line is ignored"
    )
    assert "python-dotenv" not in result.stderr


@pytest.mark.parametrize(
    ("content", "said"),
    [
        # a line python-dotenv cannot parse: its own warning named no file, printed twice
        ("MONITOR_CHECK_INTERVAL=5m\nthis is no setting\n", [
            "{env}:2: not NAME=value; the line is ignored"]),
        ("# ops\n\nexport MONITOR_CHEK_INTERVAL = 5m\n", [
            "{env}:3: MONITOR_CHEK_INTERVAL: unknown setting; did you mean "
            "MONITOR_CHECK_INTERVAL?"]),
    ],
)  # fmt: skip
def test_a_dotenv_problem_names_the_file_by_its_path_and_line_once(
    tmp_path: Path, content: str, said: list[str]
) -> None:
    """With several .env files, or a working directory not the one meant, a warning that
    says only `.env`, or python-dotenv's `could not parse statement starting at line 2`,
    left the user guessing which file."""
    (tmp_path / ".env").write_text(content, encoding="utf-8")

    result = run(["validate"], tmp_path, shipped(tmp_path))

    assert result.returncode == 0
    assert "python-dotenv" not in result.stderr
    warnings = [line.split("monitor.settings: ")[1] for line in _warned(result.stderr)]
    assert warnings == [line.format(env=tmp_path / ".env") for line in said]


@pytest.mark.parametrize(
    ("command", "verb"),
    [(["status"], "open"), (["search", "visa"], "open"), (["db", "current"], "read"),
     (["check"], "open")],
)  # fmt: skip
def test_a_file_that_is_no_database_is_named_by_its_path(
    tmp_path: Path, command: list[str], verb: str
) -> None:
    """The commands that only read named it by the URL of their read-only engine,
    `sqlite:///file%3A/…/monitor.db?mode=ro&uri=true`, which no user wrote."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "monitor.db").write_text("my notes, not a database\n")

    result = invoke_failing(command, shipped(tmp_path))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: store: unable to {verb} {tmp_path / 'data' / 'monitor.db'}: DatabaseError: "
        "file is not a database"
    ]


@pytest.mark.parametrize("command", [["status"], ["check"], ["db", "upgrade"]])
def test_a_folder_named_as_the_database_says_so(tmp_path: Path, command: list[str]) -> None:
    """`status` said `no database at …; run monitor check or monitor run first`, and `check`
    then said `unable to open …: OperationalError: unable to open database file`."""
    (tmp_path / "data" / "monitor.db").mkdir(parents=True)

    result = invoke_failing(command, shipped(tmp_path))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: store: {tmp_path / 'data' / 'monitor.db'} is a folder, not a database file"
    ]


@pytest.mark.parametrize("command", [["status"], ["db", "upgrade"]])
def test_a_sqlite_url_argument_the_driver_would_ignore_is_one_line_and_nothing_is_made(
    tmp_path: Path, command: list[str]
) -> None:
    """SQLAlchemy warned (a `SAWarning` and its source line on stderr) and went ahead without
    the argument; `db upgrade` made the file."""
    env = shipped(tmp_path)
    if command == ["status"]:
        assert run(["db", "upgrade"], tmp_path, env).returncode == 0
    file = tmp_path / "data" / "monitor.db"
    existed = file.exists()
    env["MONITOR_DATABASE_URL"] += "?foo=bar"

    result = run(command, tmp_path, env)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: store: unable to open {file}: bad URL argument: Query string argument(s) 'foo' "
        "are not accepted by the pysqlite driver; SQLite URI arguments require that 'uri=true' "
        "also be present in the URL."
    ]
    assert result.stdout == "" and file.exists() == existed


def invoke_failing(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, args, env=env, prog_name="monitor")


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("# the café's feeds\nMONITOR_CHECK_INTERVAL=5m\n".encode("latin-1"), ".env:1: "
         "not UTF-8 text (bad byte at offset 9)"),  # an editor's latin-1
        ("MONITOR_CHECK_INTERVAL=5m\n".encode("utf-16"), ".env:1: not UTF-8 text (bad byte "
         "at offset 0)"),  # Notepad's "Unicode"
    ],
)  # fmt: skip
def test_a_dotenv_file_not_in_utf8_is_one_line_naming_it_exit_2_and_nothing_written(
    tmp_path: Path, content: bytes, where: str
) -> None:
    (tmp_path / ".env").write_bytes(content)

    result = run(["check"], tmp_path, shipped(tmp_path))

    assert result.returncode == 2
    said = f"Error: settings: {tmp_path / where}; save it as UTF-8"  # the file by its path
    assert result.stderr.splitlines() == [said]
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "value",
    ['["ops@example.com", "Desk <desk@example.org>"]', "ops@example.com, Desk <desk@example.org>"],
)
def test_the_outbox_digest_is_addressed_to_the_recipients_json_list_or_commas(
    tmp_path: Path, value: str
) -> None:
    env = shipped(tmp_path) | {"MONITOR_DIGEST_TO": value}
    make_database(env)

    result = invoke(["digest", "--send", "--date", "2026-01-06"], env)

    assert result.exit_code == 0, result.output
    eml = tmp_path / "outbox" / "digest-2026-01-06.eml"
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert [a.addr_spec for a in message["To"].addresses] == [
        "ops@example.com",
        "desk@example.org",
    ]


def test_the_smtp_digest_goes_to_every_recipient_of_a_json_list(tmp_path: Path) -> None:
    with running_smtp_server() as smtp:
        env = shipped(tmp_path) | {
            "MONITOR_DIGEST_TO": json.dumps(["ops@example.com", "desk@example.org"]),
            "MONITOR_SMTP_HOST": smtp.host,
            "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false",
        }
        make_database(env)
        result = invoke(["digest", "--send", "--date", "2026-01-06"], env)

    assert result.exit_code == 0, result.output
    (received,) = smtp.messages
    assert received.rcpt_tos == ("ops@example.com", "desk@example.org")
    assert received.message["To"] == "ops@example.com, desk@example.org"


def test_digest_send_and_preview_name_the_recipients_the_server_refused(tmp_path: Path) -> None:
    """Sent, but refused for one recipient: `digest --send` says so on stderr (exit 0: the
    others have it, and it is marked sent), and so do a second `--send` and `--preview` of that
    day, from what the database kept."""
    gone = "550 5.1.1 <gone@example.org>: no such user"
    with running_smtp_server(refuse={"gone@example.org": gone}) as smtp:
        env = shipped(tmp_path) | {
            "MONITOR_DIGEST_TO": json.dumps(["ops@example.com", "gone@example.org"]),
            "MONITOR_SMTP_HOST": smtp.host,
            "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false",
        }
        make_database(env)
        sent = invoke(["digest", "--send", "--date", "2026-01-06"], env)
        again = invoke(["digest", "--send", "--date", "2026-01-06"], env)
        preview = invoke(["digest", "--preview", "--date", "2026-01-06"], env)

    def said(result: Result) -> list[str]:  # but the logs (the SMTP server's, in-process)
        return [line for line in result.stderr.splitlines() if "digest 2026-01-06: " in line]

    assert [m.rcpt_tos for m in smtp.messages] == [("ops@example.com",)]
    assert sent.exit_code == 0, sent.output
    assert sent.stdout == f"digest 2026-01-06: sent to smtp:127.0.0.1:{smtp.port}\n"
    refused = f"the server refused gone@example.org ({gone})"
    assert said(sent) == [f"monitor: digest 2026-01-06: {refused}"]
    assert again.exit_code == 1
    [not_again] = said(again)
    assert re.fullmatch(rf"Error: digest 2026-01-06: not sent: already sent at [-\d]+ [:\d]+ UTC; "
                        rf"{re.escape(refused)} \(--force sends\)", not_again)  # fmt: skip
    assert preview.exit_code == 0 and preview.stdout.startswith("Subject: monitor digest")
    [previewed] = said(preview)
    assert re.fullmatch(rf"monitor: digest 2026-01-06: the digest sent at [-\d]+ [:\d]+ UTC, as "
                        rf"it went out; {re.escape(refused)}", previewed)  # fmt: skip


# ---------------------------------------------------------------- start-up time


HEAVY = ("sqlalchemy", "fastapi", "feedparser", "httpx", "httpx2", "apscheduler", "uvicorn", "yaml",
         "jinja2", "apprise", "alembic", "pydantic")  # fmt: skip


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["check", "--help"]])
def test_version_and_help_import_none_of_the_stages(args: list[str]) -> None:
    probe = (
        "import sys\n"
        "from monitor.cli import main\n"
        f"try: main({args!r}, prog_name='monitor')\n"
        "except SystemExit as exc: code = exc.code\n"
        f"print(code, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


# ---------------------------------------------------------------- commands that say what they did


def test_match_tells_no_matches_from_nothing_parsed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                     "</channel></rss>")  # fmt: skip
    local = tmp_path / "local.xml"
    items = "".join(
        f"<item><title>{title}</title><link>https://example.org/{n}</link></item>"
        for n, title in enumerate(["Bakery wins regional bread award", "Rain expected on Sunday",
                                   "Library extends opening hours"])
    )  # fmt: skip
    local.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
                     "</channel></rss>")  # fmt: skip

    result = CliRunner().invoke(main, ["match", str(local), str(empty), "--json"])

    assert result.exit_code == 0
    assert result.stdout == ""  # --json output stays machine-readable: no summary in it
    assert result.stderr.splitlines() == [
        f"monitor: match: {local}: 3 entries read, 0 matches",
        f"monitor: match: {empty}: 0 entries read, 0 matches",
        "monitor: match: in all: 3 entries read from 2 of 2 sources, 0 matches",
    ]


@pytest.mark.parametrize("limit", ["-3", "0"])
def test_history_rejects_a_limit_below_one_in_one_line(limit: str) -> None:
    result = CliRunner().invoke(
        main, ["history", "north-korea-stance", "--limit", limit], prog_name="monitor"
    )

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: Invalid value for '--limit': {limit} is not in the range 1<=x<=10000. "
        "(see 'monitor history --help')"
    ]


@pytest.mark.parametrize("family", ["db", "verdict"])
def test_a_family_without_its_subcommand_shows_its_help_as_written(family: str) -> None:
    """`monitor db` alone shows the help of `monitor db`, as `monitor` alone shows its own,
    with its list of subcommands one per line (it was pressed into one usage-error line)."""
    result = CliRunner().invoke(main, [family], prog_name="monitor")
    helped = CliRunner().invoke(main, [family, "--help"], prog_name="monitor")

    assert result.exit_code == 2
    assert result.stderr == helped.stdout


def three_feeds(tmp_path: Path, feed_server: FeedServer) -> dict[str, str]:
    lines = ["feeds:"]
    for name in ("a", "b", "c"):
        feed_server.route(f"/{name}.xml", body=news.yonhap(datetime.now(UTC)))
        url = feed_server.url(f"/{name}.xml")
        lines.append(f"  - {{id: {name}, url: '{url}', tags: [{', '.join(ALL_TAGS)}]}}")
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n")
    return shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml")}


def checked(stderr: str) -> int:
    found = re.search(r"^monitor: check: (\d+) feeds checked", stderr, re.M)
    assert found, stderr
    return int(found.group(1))


def test_check_force_checks_every_feed_whatever_its_schedule(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = three_feeds(tmp_path, feed_server)

    first = invoke(["check"], env)
    again = invoke(["check"], env)
    forced = invoke(["check", "--force"], env)

    assert (checked(first.stderr), checked(again.stderr), checked(forced.stderr)) == (3, 0, 3)
    assert all(feed_server.hits(f"/{name}.xml") == 2 for name in "abc")
    assert checked(invoke(["check"], env).stderr) == 0  # forcing did not move the schedule back


def test_check_shows_progress_on_a_terminal(tmp_path: Path, feed_server: FeedServer) -> None:
    env = three_feeds(tmp_path, feed_server)
    feed_server.route("/gone.xml", status=404)  # a failure is logged between progress lines
    with (tmp_path / "feeds.yaml").open("a") as feeds:
        feeds.write(f"  - {{id: gone, url: '{feed_server.url('/gone.xml')}'}}\n")
    master, slave = os.openpty()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "check"],
        cwd=tmp_path,
        env=clean | {"PYTHONPATH": str(ROOT)} | env,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.wait(timeout=120) == 0
    assert process.stdout is not None
    process.stdout.close()

    terminal = shown.decode()
    assert "\rmonitor: checked 1/4 feeds" in terminal
    assert "\rmonitor: checked 4/4 feeds\r\x1b[K" in terminal  # erased before the summary
    lines = terminal.replace("\r\x1b[K", "\n").splitlines()
    failed = [line for line in lines if "feed gone failed" in line]
    assert failed and all(" WARNING monitor.pipeline: " in line for line in failed)
    assert not [line for line in lines if "feeds" in line and "WARNING" in line]  # apart
    assert checked("\n".join(lines)) == 4


def test_check_piped_prints_no_progress(tmp_path: Path, feed_server: FeedServer) -> None:
    result = run(["check"], tmp_path, three_feeds(tmp_path, feed_server))

    assert result.returncode == 0
    assert "\r" not in result.stderr and "checked 1/3" not in result.stderr
    assert checked(result.stderr) == 3


# ---------------------------------------------------------------- times

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def times(value: object) -> list[str]:
    """Every string in a JSON value that is an ISO 8601 date and time."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in times(v)]
    if isinstance(value, list):
        return [t for v in value for t in times(v)]
    return [value] if isinstance(value, str) and ISO.match(value) else []


def test_the_api_writes_every_time_in_utc_with_z(app: FastAPI) -> None:
    with TestClient(app) as client:
        answers = [
            client.get(path).json()
            for path in ("/indicators", "/indicators/visa-easing",
                         "/indicators/visa-easing/history", "/feeds", "/healthz")
        ]  # fmt: skip

    assert all("detail" not in answer for answer in answers)
    found = times(answers)
    assert len(found) > 10
    assert all(t.endswith("Z") for t in found), found


def test_cli_json_writes_every_time_in_utc_with_z(tmp_path: Path, feed_server: FeedServer) -> None:
    env = three_feeds(tmp_path, feed_server)
    check = invoke(["check", "--json"], env).stdout
    status = invoke(["status", "--json"], env).stdout
    history = invoke(["history", "visa-easing", "--json"], env).stdout

    found = times([json.loads(line) for line in (check + history).splitlines()])
    found += times(json.loads(status))
    assert len(found) > 10
    assert all(t.endswith("Z") for t in found), found


def test_a_terminal_that_cannot_write_the_news_gets_escapes_and_json_stays_utf8(
    tmp_path: Path,
) -> None:
    """In a latin-1 locale a Chinese headline ended the command in a UnicodeEncodeError
    traceback: text for people shows it as \\uXXXX (as Python's stderr does), --json is UTF-8
    JSON whatever the locale."""
    headline = "中国对韩国公民实施免签政策 🎉"  # an emoji: \\U0001f389 in no JSON
    feed = tmp_path / "zh.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{headline}</title><link>https://example.cn/1</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    env = shipped(tmp_path) | {"PYTHONIOENCODING": "latin-1"}

    people = run(["test", "-v", "visa-easing"], tmp_path, env)
    machines = run(["match", str(feed), "--json"], tmp_path, env)

    assert people.returncode == 0, people.stderr
    assert "\\u4e2d\\u56fd" in people.stdout  # 中国
    assert people.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    assert machines.returncode == 0, machines.stderr
    found = [json.loads(line) for line in machines.stdout.splitlines()]
    assert found and {m["title"] for m in found} == {headline}


# ---------------------------------------------------------------- a new watch list


def test_init_lays_out_a_watch_list_that_validate_and_test_pass(tmp_path: Path) -> None:
    target = tmp_path / "watch"
    made = invoke(["init", str(target)], {})
    env = {
        "MONITOR_INDICATORS_DIR": str(target / "indicators"),
        "MONITOR_FEEDS_FILE": str(target / "config" / "feeds.yaml"),
    }
    validate = invoke(["validate"], env)
    examples = invoke(["test"], env)

    assert made.exit_code == 0
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        ".env",
        "config/feeds.yaml",
        "indicators/example.yaml",
    ]
    assert validate.exit_code == 0
    assert validate.stdout == "ok: 1 indicator, 1 feed\n"  # and no warning about its terms
    assert examples.exit_code == 0 and "4 passed, 0 failed" in examples.stdout


def test_init_says_what_to_run_next_as_a_line_a_shell_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaced = tmp_path / "my watch"
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)

    elsewhere = invoke(["init", str(spaced)], {}).stdout.splitlines()[-1]
    in_place = invoke(["init", "."], {}).stdout.splitlines()[-1]

    assert elsewhere == (
        f"next: cd '{spaced}' && monitor validate && monitor test && monitor check"
    )
    assert in_place == "next: monitor validate && monitor test && monitor check"


def test_the_env_of_init_lists_every_setting_at_its_default(tmp_path: Path) -> None:
    from monitor.settings import Settings

    invoke(["init", str(tmp_path)], {})
    dotenv = (tmp_path / ".env").read_text()

    for name in Settings.model_fields:
        assert f"\n# MONITOR_{name.upper()}=" in dotenv
    assert "# MONITOR_CHECK_INTERVAL=15m\n" in dotenv
    assert not [line for line in dotenv.splitlines() if line and not line.startswith("#")]


def test_the_env_of_init_uncommented_is_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`The values shown are the defaults`: a user who uncomments every line gets the defaults
    (an empty MONITOR_SESSION_SECRET= was refused as a secret shorter than 32 characters)."""
    from monitor.settings import Settings

    invoke(["init", str(tmp_path)], {})
    dotenv = tmp_path / ".env"
    dotenv.write_text(re.sub(r"^# (MONITOR_)", r"\1", dotenv.read_text(), flags=re.M))
    monkeypatch.chdir(tmp_path)

    validate = invoke(["validate"], {})
    uncommented = Settings(_env_file=dotenv)  # type: ignore[call-arg]

    assert validate.exit_code == 0, validate.output
    assert validate.stdout == "ok: 1 indicator, 1 feed\n"
    assert uncommented == Settings(_env_file=None)  # type: ignore[call-arg]


def test_init_overwrites_nothing(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "feeds.yaml").write_text("feeds: []  # mine\n")

    result = CliRunner().invoke(main, ["init", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: init: already there: {tmp_path}/config/feeds.yaml; nothing was written"
    ]
    assert (tmp_path / "config" / "feeds.yaml").read_text() == "feeds: []  # mine\n"
    assert not (tmp_path / "indicators").exists() and not (tmp_path / ".env").exists()


@pytest.mark.parametrize("name", ["", " "])
def test_init_refuses_an_empty_directory_name_writing_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """`monitor init "$DIR"` with DIR unset laid the watch list out in the working directory
    (a home folder, say), .env and all."""
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, ["init", name], prog_name="monitor")

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: Invalid value for 'DIRECTORY': an empty name is no folder (`monitor init .` "
        "lays it out here) (see 'monitor init --help')"
    ]
    assert list(tmp_path.iterdir()) == []


def test_new_adds_a_valid_skeleton_and_rejects_a_bad_or_taken_id(tmp_path: Path) -> None:
    invoke(["init", str(tmp_path)], {})
    env = {
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "config" / "feeds.yaml"),
    }
    added = invoke(["new", "ferry-routes"], env)
    again = CliRunner().invoke(main, ["new", "ferry-routes"], env=env)
    bad = CliRunner().invoke(main, ["new", "Ferry routes!"], env=env)
    validate = invoke(["validate"], env)
    examples = invoke(["test"], env)

    skeleton = tmp_path / "indicators" / "ferry-routes.yaml"
    assert added.stdout == f"wrote {skeleton}\n"
    assert 'id: "ferry-routes"\n' in skeleton.read_text()
    assert again.exit_code == 1
    assert again.stderr == f"Error: new: indicator 'ferry-routes' exists: {skeleton}\n"
    assert bad.exit_code == 1 and len(bad.stderr.splitlines()) == 1
    assert "'Ferry routes!' is not an indicator id" in bad.stderr
    assert validate.stdout.splitlines()[-1] == "ok: 2 indicators, 1 feed"
    assert examples.exit_code == 0 and "6 passed, 0 failed" in examples.stdout


def test_new_skeleton_validates_cleanly_and_its_vocabulary_line_says_to_quote_it(
    tmp_path: Path,
) -> None:
    """The skeleton never said that a vocabulary reference is quoted in YAML: a first rule
    written `any: [@actors.china]` was "invalid YAML: found character '@' that cannot start any
    token". Its commented line, uncommented as it is, validates beside a vocabulary file."""
    invoke(["init", str(tmp_path)], {})
    (tmp_path / "indicators" / "example.yaml").unlink()
    env = {
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "config" / "feeds.yaml"),
    }
    invoke(["new", "ferry-routes"], env)
    skeleton = tmp_path / "indicators" / "ferry-routes.yaml"
    validate = invoke(["validate"], env)
    examples = invoke(["test"], env)

    assert validate.exit_code == 0 and validate.stdout == "ok: 1 indicator, 1 feed\n"
    assert examples.exit_code == 0 and examples.stdout.splitlines()[-1] == "2 passed, 0 failed"
    text = skeleton.read_text()
    # the comments beside the keys, the commented-out `# feeds:` too, in one column
    lines = [(line, len(line) - len(line.lstrip()) + 1) for line in text.splitlines()]
    columns = {line.index(" # ", start) for line, start in lines if " # " in line[start:]}
    assert len(columns) == 1, text
    (line,) = [line for line in text.splitlines() if "@actors.china" in line]
    assert "quote it" in line
    skeleton.write_text(text.replace(line, line.replace("# - any", "- any", 1)))
    (tmp_path / "indicators" / "vocab").mkdir()
    (tmp_path / "indicators" / "vocab" / "actors.yaml").write_text("china: [China, 中国]\n")
    uncommented = invoke(["validate"], env)  # its terms may be warned of as common: valid
    assert uncommented.exit_code == 0, uncommented.stdout
    assert uncommented.stdout.splitlines()[-1] == "ok: 1 indicator, 1 feed"


@pytest.mark.parametrize("name", ["null", "NULL", "Null", "true", "no", "off", "1e3", "0x1f"])
def test_new_writes_a_valid_skeleton_for_an_id_yaml_reads_as_no_text(
    tmp_path: Path, name: str
) -> None:
    """`monitor new null` wrote `id: null`, which YAML reads as nothing: the file it had just
    written failed `monitor validate` ("id must be text"). The id is quoted in the skeleton."""
    invoke(["init", str(tmp_path)], {})
    env = {
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "config" / "feeds.yaml"),
    }
    added = invoke(["new", name], env)
    validate = CliRunner().invoke(main, ["validate"], env=env)
    examples = CliRunner().invoke(main, ["test", name], env=env)

    assert added.stdout == f"wrote {tmp_path / 'indicators' / name}.yaml\n"
    assert validate.exit_code == 0, validate.output
    assert validate.stdout.splitlines()[-1] == "ok: 2 indicators, 1 feed"
    assert examples.exit_code == 0 and "2 passed, 0 failed" in examples.stdout


def test_new_refuses_a_tilde_writing_nothing(tmp_path: Path) -> None:
    """`~` is YAML's null too; it is no slug, so it is refused before anything is written."""
    env = {"MONITOR_INDICATORS_DIR": str(tmp_path)}

    result = CliRunner().invoke(main, ["new", "~"], env=env)

    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "'~' is not an indicator id" in result.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the examples in --help

DAEMONS = {"monitor run", "monitor serve"}  # they serve until stopped: parsed, not run
RUN = {"monitor validate", "monitor test", "monitor init", "monitor new", "monitor check",
       "monitor match", "monitor status", "monitor history", "monitor replay",
       "monitor digest", "monitor db upgrade", "monitor db current",
       "monitor export", "monitor silence"}  # fmt: skip
BEFORE = {  # what a user has done before an example makes sense
    "monitor db current": ["db", "upgrade"],  # exit 1 says the database is not at the code's
    "monitor history": ["check"],
    "monitor replay": ["check"],
    "monitor silence": ["check"],
    # commands that only read open the database read-only: it has to exist
    "monitor status": ["check"],
    "monitor search": ["check"],
    "monitor verdict list": ["check"],
    "monitor verdict export": ["check"],
    "monitor export": ["check"],
    "monitor digest": ["check"],
}


def help_examples(group: click.Group = main, prefix: str = "monitor") -> list[tuple[str, str]]:
    """(command, example line) for every `Example: ...` in the help of every command."""
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        for example in re.findall(r"^\s*Example: (.+)$", command.help or "", re.M):
            found.append((path, example.strip()))
        if isinstance(command, click.Group):
            found += help_examples(command, path)
    return found


def parse(args: list[str]) -> tuple[str, dict[str, object]]:
    """The command an argument list names and its parameters, by click's own parser."""
    ctx = main.make_context("monitor", list(args))
    command: click.Command = main
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        name, found, rest = command.resolve_command(ctx, rest)
        assert found is not None and name is not None
        command, ctx = found, found.make_context(name, rest, parent=ctx)
    return ctx.command_path, ctx.params


EXAMPLES = help_examples()


def test_the_db_familys_summary_names_each_of_its_commands_jobs() -> None:
    """`monitor --help` summed db up as 'The database schema: its revision, and migrating it to
    this version's', with no word of `db copy`, added to the family later."""
    db = main.commands["db"]
    assert isinstance(db, click.Group) and set(db.commands) == {"current", "upgrade", "copy"}

    summary = db.get_short_help_str(limit=200)

    assert all(job in summary for job in ("revision", "migrating", "copying"))


def test_every_command_has_an_example_and_each_is_checked() -> None:
    commands = {command for command, _ in EXAMPLES}
    assert commands >= RUN | DAEMONS


@pytest.mark.parametrize(("command", "example"), EXAMPLES)
def test_every_help_example_parses(command: str, example: str) -> None:
    words = shlex.split(example)
    while "=" in words[0]:  # VAR=value before the command
        words.pop(0)
    assert words[0] == "monitor"

    path, _params = parse(words[1:])

    assert path.startswith(command)


@pytest.mark.parametrize(("command", "example"), [(c, e) for c, e in EXAMPLES if c in RUN])
def test_every_help_example_works_in_a_fresh_clone(
    command: str,
    example: str,
    tmp_path: Path,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a folder laid out like the repository (tests/ and indicators/ from it), with a local
    feed server in place of the Internet: URLs become its URL, the developers' shared corpus
    becomes the labeled file in tests/data."""
    for name in ("tests", "indicators"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = three_feeds(tmp_path, feed_server) | {
        "MONITOR_INDICATORS_DIR": "indicators",
        "MONITOR_DATABASE_URL": "sqlite:///data/monitor.db",
    }
    if command == "monitor new":  # a copy of the indicators, so the new one lands there
        (tmp_path / "indicators").unlink()
        shutil.copytree(ROOT / "indicators", tmp_path / "indicators")
    words = [_local(word, feed_server) for word in shlex.split(example)]
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    monkeypatch.chdir(tmp_path)
    if command in BEFORE:
        assert CliRunner().invoke(main, BEFORE[command], env=env).exit_code == 0

    result = CliRunner().invoke(main, words[1:], env=env, prog_name="monitor")

    assert result.exit_code == 0, (example, result.output, result.exception)


def _local(word: str, feed_server: FeedServer) -> str:
    if word.startswith(("http://", "https://")):
        return feed_server.url("/a.xml")
    if word.startswith("../shared/") and word.endswith(".tsv"):
        return "tests/data/labeled/basic.tsv"
    return word


def test_validate_warns_about_an_indicator_an_empty_feeds_file_leaves_unread(
    tmp_path: Path,
) -> None:
    """No tag is missing (the indicator names none: it reads every feed), yet there is no feed:
    it would stay `unknown`, which validate says (it said only "ok")."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    indicators = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators" / "vocab", indicators / "vocab")
    (indicators / "mine.yaml").write_text(
        re.sub(r"(?m)^feeds: .*\n", "", (ROOT / "indicators" / "visa-easing.yaml").read_text())
        .replace("id: visa-easing", "id: mine")
    )  # fmt: skip
    env = shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(feeds),
                               "MONITOR_INDICATORS_DIR": str(indicators)}  # fmt: skip

    validate = invoke(["validate"], env)

    assert validate.exit_code == 0
    assert validate.stdout.splitlines()[-1] == "ok: 1 indicator, 0 feeds"
    (warning,) = [line for line in validate.stderr.splitlines() if "warning:" in line]
    assert warning.endswith(
        f"{indicators / 'mine.yaml'}: warning: it reads no feed (the feeds file has 0 feeds)"
    )


def own_indicator(indicators: Path, feeds: str) -> None:
    """An indicator `mine` of one's own in `indicators`: the shipped visa-easing reading `feeds`."""
    (indicators / "mine.yaml").write_text(
        (ROOT / "indicators" / "visa-easing.yaml").read_text()
        .replace("id: visa-easing", "id: mine")
        .replace("feeds: {tags: [korea, china, japan, international, search-travel]}",
                 f"feeds: {feeds}")
    )  # fmt: skip


def test_validate_json_lists_the_warning_of_an_indicator_that_reads_no_feed(
    tmp_path: Path,
) -> None:
    """`--json` lists every warning: also that an indicator reads no feed (its tag is in no
    feed), which stays `unknown` for ever; it said `"warnings": []` (the text form logs it)."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: mine, url: 'http://127.0.0.1:9/feed.xml', tags: [news]}\n")
    indicators = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators" / "vocab", indicators / "vocab")
    own_indicator(indicators, "{tags: [travel]}")
    env = shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(feeds),
                               "MONITOR_INDICATORS_DIR": str(indicators)}  # fmt: skip

    result = invoke(["validate", "--json"], env)

    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert {
        "file": str(indicators / "mine.yaml"),
        "line": None,
        "message": "no feed has the tag 'travel'; it reads no feed (known tags: news)",
    } in report["warnings"]


def test_a_feeds_file_without_the_shipped_tags_warns_and_works(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/mine.xml", body=news.yonhap(datetime.now(UTC)))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - {{id: mine, url: '{feed_server.url('/mine.xml')}'}}\n")
    indicators = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators", indicators)
    own_indicator(indicators, "{ids: [mine]}")
    env = shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(feeds),
                               "MONITOR_INDICATORS_DIR": str(indicators)}  # fmt: skip

    validate = invoke(["validate"], env)
    check = invoke(["check"], env)

    assert validate.exit_code == 0
    assert validate.stdout.splitlines()[-1] == "ok: 8 indicators, 1 feed"
    warnings = [line for line in validate.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 7  # each shipped indicator, once
    assert any(
        f"{indicators / 'visa-easing.yaml'}: warning: no feed has the tags 'korea', 'china', "
        "'japan', 'international', 'search-travel'; it reads no feed (known tags: (none))" in w
        for w in warnings
    ), warnings
    assert check.exit_code == 0
    assert "mine: unknown -> eased:reported" in check.stdout
    # The shipped indicators read no feed here: nothing was read, so none of them is quiet.
    status = {s["id"]: s for s in json.loads(invoke(["status", "--json"], env).stdout)}
    assert status["mine"]["status"] == "eased:reported"
    assert {s["status"] for i, s in status.items() if i != "mine"} == {"unknown"}
    assert status["visa-easing"]["reason"] == (
        "feeds not read: none selected (no feed in the feeds file has its tags or ids)"
    )
    text = invoke(["status"], env).stdout.splitlines()
    visa = next(i for i, line in enumerate(text) if line.startswith("visa-easing "))
    assert text[visa].split()[1] == "unknown"
    assert text[visa + 1] == f"  because {status['visa-easing']['reason']}"
    mine = next(i for i, line in enumerate(text) if line.startswith("mine "))
    assert text[mine].split()[1] == "eased:reported"
    assert mine + 1 == len(text) or not text[mine + 1].startswith("  because")


def test_status_lines_up_an_id_longer_than_its_column(tmp_path: Path) -> None:
    """`korea-china-japan-summit` (24 characters) pushed its status two columns right of the
    others' in a column 22 wide."""
    indicators = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators", indicators)
    long_id = "korea-china-japan-summit-x"
    (indicators / f"{long_id}.yaml").write_text(
        (ROOT / "indicators" / "visa-easing.yaml").read_text()
        .replace("id: visa-easing", f"id: {long_id}")
    )  # fmt: skip
    env = shipped(tmp_path) | {"MONITOR_INDICATORS_DIR": str(indicators)}
    make_database(env)

    lines = [line for line in invoke(["status"], env).stdout.splitlines() if line[:1] != " "]

    assert len(lines) == 8 and any(line.startswith(f"{long_id} unknown ") for line in lines)
    assert {line.index(" unknown ") for line in lines} == {len(long_id)}


def test_status_and_the_digest_name_a_feed_read_with_a_warning(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A Japanese feed in Shift_JIS without a declaration, read in chardet's guess: `status`
    and the digest showed nothing of it (the log did)."""
    body = '<rss version="2.0"><channel><title>T</title><item><title>日本政府は本日、声明を'
    body += "発表した</title><link>https://tokyo.example/1</link></item></channel></rss>"
    feed_server.route("/tokyo.xml", body=body.encode("shift_jis"),
                      headers={"Content-Type": "text/xml"})  # fmt: skip
    feeds = tmp_path / "feeds.yaml"
    tags = ", ".join(ALL_TAGS)
    feeds.write_text(f"feeds:\n  - {{id: tokyo, url: '{feed_server.url('/tokyo.xml')}', "
                     f"tags: [{tags}]}}\n")  # fmt: skip
    env = shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(feeds)}
    warning = "read with a warning: charset guessed: read as shift_jis; the feed names none"

    assert invoke(["check"], env).exit_code == 0
    status = invoke(["status"], env).stdout.splitlines()
    preview = invoke(["digest", "--preview"], env).stdout

    assert status[-1] == f"feed tokyo: {warning}"
    assert not any(line.split()[1] == "unknown" for line in status[:-1])  # it was read
    assert f"* tokyo: {warning}" in " ".join(preview.split())


def test_status_names_a_failing_feed_as_the_digest_does(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """One of two feeds answers 503: the indicators stay `quiet` on the other (it was read),
    and `status` named neither the failing feed nor why, while the digest's feed health, the
    page and /healthz did."""
    body = "<rss version='2.0'><channel><title>T</title><item><title>Weather today</title>"
    body += "<link>https://ok.example/1</link></item></channel></rss>"
    feed_server.route("/ok.xml", body=body.encode(), headers={"Content-Type": "text/xml"})
    feed_server.route("/down.xml", status=503, body=b"down for maintenance")
    tags = ", ".join(ALL_TAGS)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - {{id: ok, url: '{feed_server.url('/ok.xml')}', tags: [{tags}]}}\n"
        f"  - {{id: down, url: '{feed_server.url('/down.xml')}', tags: [{tags}]}}\n"
    )
    env = shipped(tmp_path) | {"MONITOR_FEEDS_FILE": str(feeds)}

    assert invoke(["check"], env).exit_code == 0
    status = invoke(["status"], env).stdout.splitlines()
    preview = " ".join(invoke(["digest", "--preview"], env).stdout.split())

    feed_lines = [line for line in status if line.startswith("feed ")]
    assert len(feed_lines) == 1, status
    assert feed_lines[0].startswith("feed down: failing: fetch: HTTP 503"), feed_lines
    assert feed_lines[0].endswith(" UTC)") and " (since 20" in feed_lines[0]
    problem = feed_lines[0].removeprefix("feed down: ").rsplit(" (since ", 1)[0]
    assert f"* down: {problem} (since " in preview  # the same words as the digest's
    indicators = [line for line in status if not line.startswith(("feed ", "  "))]
    assert {line.split()[1] for line in indicators} == {"quiet"}
    notes = {line for line in status if line.startswith("  ")}  # under each: not read, and why
    assert notes == {"  1 of its feeds not read (down): the status stands on the others"}
    assert len(status) == 2 * len(indicators) + 1


def test_the_labeled_parts_offered_are_labeleds_own() -> None:
    from monitor import cli, labeled

    assert cli.LABELED_PARTS == labeled.PARTS


def test_every_command_goes_through_the_one_error_table() -> None:
    """A MonitorError in any command is one line on stderr (monitor.cli.common.click_error),
    never a traceback: every command is a Command, every group a Group."""
    from monitor.cli import main
    from monitor.cli.common import Command, Group

    def walk(group: click.Group) -> list[click.Command]:
        found: list[click.Command] = [group]
        for command in group.commands.values():
            found += walk(command) if isinstance(command, click.Group) else [command]
        return found

    commands = walk(main)
    assert len(commands) > 15
    assert all(isinstance(c, Group if isinstance(c, click.Group) else Command) for c in commands)


def test_new_into_an_indicators_folder_that_is_a_file_says_so(tmp_path: Path) -> None:
    """MONITOR_INDICATORS_DIR naming a file: mkdir's own words were `File exists`."""
    folder = tmp_path / "indicators"
    folder.write_text("not a folder\n")

    result = CliRunner().invoke(main, ["new", "ferry"], env={"MONITOR_INDICATORS_DIR": str(folder)})

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: scaffold: cannot write {folder}: a file is there, where a folder goes"
    ]
    assert folder.read_text() == "not a folder\n"


def test_new_into_an_indicators_folder_that_does_not_exist_makes_none(tmp_path: Path) -> None:
    """`monitor new ferry` outside a watch list (or with MONITOR_INDICATORS_DIR mistyped) made
    the folder and wrote the skeleton there, exit 0, where no `monitor validate` or daemon of
    the watch list meant reads it: it says so, as `monitor validate` does, and writes nothing."""
    folder = tmp_path / "indicatrs"

    result = CliRunner().invoke(main, ["new", "ferry"], env={"MONITOR_INDICATORS_DIR": str(folder)})

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: new: no folder {folder}: run monitor in a watch list's folder (monitor init DIR "
        "lays one out), or set MONITOR_INDICATORS_DIR"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("given", "stem"), [("ferry.yaml", "ferry"), ("ferry.v2.yml", "ferry.v2")])
def test_new_given_a_file_name_names_the_id_to_give(tmp_path: Path, given: str, stem: str) -> None:
    """`monitor new ferry.yaml` was told `'ferry.yaml' is not an indicator id: letters, digits,
    '-', '_' or '.'`: all of which it is made of."""
    result = CliRunner().invoke(main, ["new", given], env={"MONITOR_INDICATORS_DIR": str(tmp_path)})

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: new: {given!r} is a file name; the id is its stem: monitor new {stem}"
    ]
    assert list(tmp_path.iterdir()) == []
