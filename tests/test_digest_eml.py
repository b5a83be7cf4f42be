"""A digest written as an .eml file (the outbox without MONITOR_SMTP_HOST, `monitor digest
--preview --out`) holds the message as SMTP carries it: every line ended by CRLF, the bytes a
real SMTP server received, read by Python's email parser as the message built (its text parts
with the file's line ends, as a message read from a server has them). Thunderbird,
Apple Mail and Outlook save an .eml so, and Outlook shows one with bare LF line ends garbled."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main
from monitor.daily import send_daily_digest
from monitor.digest import build_digest
from monitor.domain import Definitions
from monitor.mail import deliver
from monitor.store import Store
from tests import test_daily, test_digest_resend, test_digest_sent
from tests.smtpserver import running_smtp_server
from tests.test_daily import DAY, READ_BEFORE, at, check
from tests.test_digest import RECIPIENTS, SENDER, parts, sample, settings, smtp_settings

store, definitions = test_daily.store, test_daily.definitions  # fixtures
_no_monitor_variables = test_digest_resend._no_monitor_variables  # autouse fixture

BARE_LF = re.compile(rb"(?<!\r)\n")


def test_the_outbox_file_is_the_message_the_smtp_server_got(tmp_path: Path) -> None:
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    deliver(message, settings(outbox_dir=tmp_path / "outbox"))
    with running_smtp_server() as server:
        deliver(message, smtp_settings(server))
        [received] = server.messages

    eml = (tmp_path / "outbox" / "digest-2026-01-06.eml").read_bytes()
    assert BARE_LF.search(eml) is None
    assert eml.count(b"\r\n") > 100
    assert eml == received.raw
    parsed = message_from_bytes(eml, policy=policy.default)
    # the text as built; each line ended as in the file, as in a message read from a server
    read = parts(parsed)  # type: ignore[arg-type]
    assert [part.replace("\r\n", "\n") for part in read] == list(parts(message))


def test_preview_out_writes_the_message_the_smtp_server_got(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    """A day whose digest went out (`--out` writes it as kept) and a day built now."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = test_digest_resend.to(smtp, tmp_path, "reader@example.org")
        assert send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a").sent
    [sent] = smtp.messages
    env = test_digest_sent._env(definitions, database_url, tmp_path)
    runner, kept, built = CliRunner(), tmp_path / "kept.eml", tmp_path / "built.eml"
    later = str(DAY + timedelta(days=1))

    for day, eml in ((str(DAY), kept), (later, built)):
        written = runner.invoke(main, ["digest", "--preview", "--date", day, "--out", str(eml)],
                                env=env)  # fmt: skip
        assert written.exit_code == 0, written.output
        assert BARE_LF.search(eml.read_bytes()) is None, day
    assert kept.read_bytes() == sent.raw
