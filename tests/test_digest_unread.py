"""`monitor digest --send` on a day no check read the feeds (no daemon, a cron job that stopped):
the changes to `unknown` dated before it are in it, as its preview shows them, not left out of
every digest. Real feeds on 127.0.0.1, a real SMTP server, the commands' clock given."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import monitor.domain
from monitor.daily import send_daily_digest
from monitor.domain import Definitions
from monitor.store import Store
from tests.smtpserver import running_smtp_server
from tests.test_cli_ops import invoke
from tests.test_daily import DAY, READ_BEFORE, at, check, definitions, settings, store
from tests.test_digest_sent import _env

__all__ = ["definitions", "store"]  # fixtures


def test_a_digest_sent_after_a_day_unread_lists_the_changes_its_preview_shows(
    definitions: Definitions,
    store: Store,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, the preview said `3 indicators changed` (each to unknown, its feeds not read
    since yesterday) and the digest sent a moment later `no changes`: `digest --send` recorded
    none of them, and once sent no later digest listed them."""
    check(definitions, store, at(7) - READ_BEFORE)
    next_day = DAY + timedelta(days=1)
    with running_smtp_server() as smtp:
        send_daily_digest(definitions, store, settings(smtp, tmp_path), day=DAY, now=at(7),
                          owner="test")  # fmt: skip
        env = _env(definitions, database_url, tmp_path) | {
            "MONITOR_SMTP_HOST": smtp.host, "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false",
        }  # fmt: skip
        monkeypatch.setattr(monitor.domain, "utcnow", lambda: at(7, next_day))
        preview = invoke(["digest", "--preview"], env)
        sent = invoke(["digest", "--send"], env)
    assert preview.exit_code == 0 and sent.exit_code == 0, sent.output
    received = smtp.messages[-1].message
    assert received["X-Monitor-Digest"] == next_day.isoformat()
    subject, _, previewed = preview.stdout.partition("\n\n")
    assert subject == f"Subject: {received['Subject']}"
    assert "indicators changed" in received["Subject"]
    body = received.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == previewed.removesuffix("\n")
    assert "→ ⚠ unknown" in previewed
