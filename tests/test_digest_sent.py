"""A day's digest that went out is kept with the day (the whole message as sent): a resend to
recipients refused with a 4xx answer, and `monitor digest --preview --date D`, give that
message, not one built again. Real SMTP server, SQLite and PostgreSQL, time given to every
call (no sleeps)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

import monitor.domain
from monitor.cli import main
from monitor.daily import resend_refused, send_daily_digest, sent_digest
from monitor.domain import Definitions
from monitor.mail import as_file
from monitor.store import Store
from monitor.store.schema import digest_table
from tests import test_daily, test_digest_resend
from tests.conftest import ROOT
from tests.smtpserver import Received, running_smtp_server
from tests.test_daily import ALL_TAGS, DAY, READ_BEFORE, at, check
from tests.test_digest_resend import GREY, MINUTE, text, to
from tests.test_outages import fill, tmpfs

store, definitions = test_daily.store, test_daily.definitions  # fixtures
_no_monitor_variables = test_digest_resend._no_monitor_variables  # autouse fixture

TWO = {"grey@example.org": GREY}


def test_the_resend_is_the_message_that_went_out_though_statuses_moved_meanwhile(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Refused at 07:00, 07:05 and 07:15, taken at 07:35: by then no check has read the feeds
    for 45 minutes, so built again the digest would show every indicator `unknown` and the
    feeds stale (worked out live, never recorded as a change). The resend is the stored
    message: the same Message-ID, the same bytes of every part."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse=TWO, refuse_times={"grey@example.org": 3}) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        tries = [resend_refused(definitions, store, s, now=at(7) + m * MINUTE) for m in (5, 15, 35)]

    assert [t.taken if t else None for t in tries] == [(), (), ("grey@example.org",)]
    first, again = smtp.messages
    assert again.rcpt_tos == ("grey@example.org",)
    assert again.message["Message-ID"] == first.message["Message-ID"]
    assert _parts(again) == _parts(first)
    assert "no successful fetch" not in text(again) and "unknown" not in again.message["Subject"]
    kept = sent_digest(store, DAY)
    assert kept is not None
    assert _parts(again) == _parts_of(kept.raw)


def test_the_resend_is_byte_for_byte_the_message_the_server_got_first(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """The message is kept as the email package writes it, each line ended by LF; what leaves
    the database is the message as sent, CRLF and all: smtplib writes a resend with CRLF from
    the message parsed back, as `--out` (`mail.as_file`) does (`test_digest_eml`)."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse=TWO, refuse_times={"grey@example.org": 1}) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        resent = resend_refused(definitions, store, s, now=at(7) + 5 * MINUTE)

    assert resent is not None and resent.taken == ("grey@example.org",)
    first, again = smtp.messages
    assert again.raw == first.raw
    kept = sent_digest(store, DAY)
    assert kept is not None and as_file(kept.raw) == first.raw


def test_a_digest_sent_before_messages_were_kept_is_built_again_for_the_resend(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """A row without the message (sent by a version before revision 0017): as before."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(refuse=TWO, refuse_times={"grey@example.org": 1}) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", "grey@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        _forget_message(store)
        resent = resend_refused(definitions, store, s, now=at(7) + 5 * MINUTE)

    assert resent is not None and resent.taken == ("grey@example.org",)
    first, again = smtp.messages
    assert str(again.message["Message-ID"]).startswith(f"<digest-{DAY}.")
    changed = [text(m).split("STANDING STATUS")[0] for m in (first, again)]
    assert changed[0] == changed[1] and "Visa easing" in changed[0]


def test_preview_of_a_sent_day_shows_the_digest_that_went_out(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    """Previewed months later (now), feed health would be that of now: the preview is the
    stored message, and says when it was sent; `--out` writes it as it went out. A row
    without the message is built again, as before."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = to(smtp, tmp_path, "reader@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
    [sent] = smtp.messages
    env = _env(definitions, database_url, tmp_path)
    runner, eml = CliRunner(), tmp_path / "sent.eml"

    shown = runner.invoke(main, ["digest", "--preview", "--date", str(DAY)], env=env)
    written = runner.invoke(main, ["digest", "--preview", "--date", str(DAY), "--out", str(eml)],
                            env=env)  # fmt: skip
    _forget_message(store)
    rebuilt = runner.invoke(main, ["digest", "--preview", "--date", str(DAY)], env=env)

    assert shown.exit_code == 0, shown.output
    body = text(sent).replace("\r\n", "\n")  # as the server got it, line endings aside
    assert shown.stdout == f"Subject: {sent.message['Subject']}\n\n{body}\n"
    assert f"digest {DAY}: the digest sent at 2026-01-06 07:00:00 UTC" in shown.stderr
    assert written.exit_code == 0, written.output
    assert _parts_of(eml.read_bytes()) == _parts(sent)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "the digest sent at" not in rebuilt.stderr
    assert "no successful fetch" in rebuilt.stdout and "no successful fetch" not in text(sent)


def _parts(received: Received) -> list[bytes]:
    return _parts_of(received.raw)


def _parts_of(raw: bytes) -> list[bytes]:
    """Each part's payload as encoded, line endings aside, and the Message-ID."""
    from email import message_from_bytes, policy

    message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    bodies = [str(p.get_payload()).encode() for p in message.walk() if not p.is_multipart()]
    return [str(message["Message-ID"]).encode(), *bodies]


def _forget_message(store: Store) -> None:
    with store._tx("forget the message", write=True) as conn:
        conn.execute(update(digest_table).where(digest_table.c.day == DAY).values(message=None))


def test_a_preview_out_that_fails_half_way_leaves_the_file_as_it_was(
    definitions: Definitions,
    store: Store,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`digest --preview --out FILE` on a disk that fills while it writes: FILE was emptied,
    then left half-written, the digest kept there before lost. It is written beside FILE and
    renamed over it once whole: a one-line error, FILE as it was, no stray file."""
    check(definitions, store, at(7) - READ_BEFORE)
    # The commands' clock, fixed: a preview built now says when ("Generated … by monitor", to
    # the minute), so two previews a minute boundary apart would differ for that alone.
    monkeypatch.setattr(monitor.domain, "utcnow", lambda: at(7) + timedelta(days=30))
    env = _env(definitions, database_url, tmp_path)
    runner = CliRunner()
    whole = runner.invoke(main, ["digest", "--preview", "--date", str(DAY), "--out",
                                 str(tmp_path / "whole.eml")], env=env)  # fmt: skip
    assert whole.exit_code == 0, whole.output
    assert (tmp_path / "whole.eml").stat().st_size > 4096  # more than FILE gives back
    with tmpfs(tmp_path / "disk", "64k") as disk:
        eml = disk / "digest.eml"
        eml.write_bytes(b"Subject: the digest of last week\r\n\r\nkept\r\n")
        before = eml.read_bytes()
        filler = fill(disk)

        full = runner.invoke(main, ["digest", "--preview", "--date", str(DAY), "--out",
                                    str(eml)], env=env)  # fmt: skip

        assert eml.read_bytes() == before
        assert sorted(p.name for p in disk.iterdir()) == ["digest.eml", "filler"]
        assert full.exit_code == 1
        assert full.stderr.splitlines()[-1] == (
            f"Error: digest --out: {eml}: No space left on device"
        )

        filler.unlink()
        written = runner.invoke(main, ["digest", "--preview", "--date", str(DAY), "--out",
                                       str(eml)], env=env)  # fmt: skip

        assert written.exit_code == 0, written.output
        assert _parts_of(eml.read_bytes()) == _parts_of((tmp_path / "whole.eml").read_bytes())
        assert sorted(p.name for p in disk.iterdir()) == ["digest.eml"]


def _env(definitions: Definitions, database_url: str, tmp_path: Path) -> dict[str, str]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(
        f"  - {{id: {f.id}, url: '{f.url}', tags: [{', '.join(ALL_TAGS)}]}}\n"
        for f in definitions.feeds
    ))  # fmt: skip
    return {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_FEEDS_FILE": str(feeds),
        "MONITOR_INDICATORS_DIR": str(ROOT / "indicators"),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_DIGEST_TO": "reader@example.org",
        "MONITOR_DIGEST_TIME": "07:00",
        "MONITOR_TIMEZONE": "UTC",
        "MONITOR_SMTP_HOST": "",
    }


def test_a_forced_send_builds_the_digest_anew_and_keeps_that_one(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """`--send --force` is a request to send it again: built as of then (here the feeds have
    gone unread, so statuses and feed health differ), and what is kept from then on."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = to(smtp, tmp_path, "reader@example.org")
        send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        send_daily_digest(definitions, store, s, day=DAY, now=at(9), owner="b", force=True)

    first, forced = smtp.messages
    assert forced.message["Message-ID"] != first.message["Message-ID"]
    assert "no successful fetch" in text(forced) and "no successful fetch" not in text(first)
    kept = sent_digest(store, DAY)
    assert kept is not None and _parts_of(kept.raw) == _parts(forced)
