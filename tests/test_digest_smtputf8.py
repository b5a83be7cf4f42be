"""The digest to addresses that are not ASCII: a local part (`김@example.kr`) goes out with
SMTPUTF8 when the server offers it and is refused (by us, with the reason) when it does not, the
others still getting it; a Unicode domain with an ASCII local part (`ana@예시.kr`) goes out in
IDNA A-labels and needs no SMTPUTF8. The message kept with the day is the one the server got,
and a resend sends it byte for byte. A real SMTP server (aiosmtpd), SQLite and PostgreSQL, time
given to every call (no sleeps)."""

from __future__ import annotations

from email import message_from_string, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.daily import resend_refused, send_daily_digest, sent_digest
from monitor.domain import Definitions
from monitor.errors import DigestError
from monitor.mail import NOT_SMTPUTF8, as_file, is_transient
from monitor.settings import Settings
from monitor.store import Store
from tests import test_daily, test_digest_resend, test_digest_sent
from tests.smtpserver import Received, SMTPServer, running_smtp_server
from tests.test_cli_ops import run, shipped
from tests.test_daily import DAY, READ_BEFORE, SEVEN, at, check
from tests.test_digest_resend import GREY, MINUTE, text

store, definitions = test_daily.store, test_daily.definitions  # fixtures
_no_monitor_variables = test_digest_resend._no_monitor_variables  # autouse fixture

KIM = "김@example.kr"
ANA = "ana@예시.kr"
ANA_SENT = "ana@xn--vv4b11d.kr"  # its domain in A-labels (IDNA 2008, RFC 5890)


def to(smtp: SMTPServer, tmp_path: Path, *recipients: str) -> Settings:
    """Settings read as at start-up (validated: a Unicode domain in A-labels)."""
    return Settings(
        smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
        digest_to=list(recipients), digest_time=SEVEN, timezone="UTC",
        outbox_dir=tmp_path / "outbox",
    )  # fmt: skip


def kept_is_sent(store: Store, received: Received) -> None:
    kept = sent_digest(store, DAY)
    assert kept is not None and as_file(kept.raw) == received.raw


def test_a_server_offering_smtputf8_takes_a_non_ascii_local_part_and_an_idn_domain(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """One message to all three, with SMTPUTF8 and UTF-8 headers (RFC 6532): the To header
    names 김@example.kr as it is, not as an RFC 2047 encoded word (which no address may hold);
    the message kept is the one the server got, byte for byte."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(smtputf8=True) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", KIM, f"Ana <{ANA}>")
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")

    assert sent.sent and sent.refused == ()
    [received] = smtp.messages
    assert received.rcpt_tos == ("reader@example.org", KIM, ANA_SENT)
    assert received.smtputf8
    assert f"To: reader@example.org, {KIM}, Ana <{ANA_SENT}>\r\n".encode() in received.raw
    as_read = message_from_string(received.raw.decode("utf-8"), policy=policy.default)
    assert [a.addr_spec for a in as_read["To"].addresses] == [
        "reader@example.org", KIM, ANA_SENT,
    ]  # fmt: skip
    assert "Visa easing" in text(received)
    kept_is_sent(store, received)


def test_an_idn_domain_with_an_ascii_local_part_needs_no_smtputf8(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """ana@xn--vv4b11d.kr is an ASCII address (RFC 5890, 6531): any server takes it, in an
    ASCII message, without SMTPUTF8."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = to(smtp, tmp_path, "reader@example.org", ANA)
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")

    assert sent.sent and sent.refused == ()
    [received] = smtp.messages
    assert received.rcpt_tos == ("reader@example.org", ANA_SENT)
    assert not received.smtputf8 and received.raw.isascii()
    assert f"To: reader@example.org, {ANA_SENT}\r\n".encode() in received.raw
    kept_is_sent(store, received)


def test_a_non_ascii_local_part_through_a_server_without_smtputf8_is_refused_with_why(
    definitions: Definitions, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The others get the digest, an ASCII message whose To leaves 김@example.kr out (no ASCII
    header can name it); 김@example.kr is recorded as refused, with the reason, told with the
    day's digest and logged; a 5xx: no resend would fare better through that server."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = to(smtp, tmp_path, "reader@example.org", KIM, ANA)
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        again = send_daily_digest(definitions, store, s, day=DAY, now=at(8), owner="b")
        resent = resend_refused(definitions, store, s, now=at(9))

    assert sent.sent and sent.refused == ((KIM, NOT_SMTPUTF8),) and sent.again_at is None
    [received] = smtp.messages
    assert received.rcpt_tos == ("reader@example.org", ANA_SENT)
    assert not received.smtputf8 and received.raw.isascii()
    assert f"To: reader@example.org, {ANA_SENT}\r\n".encode() in received.raw
    kept_is_sent(store, received)
    state = store.digest_state(DAY)
    assert state is not None and state.refused == ((KIM, NOT_SMTPUTF8),)
    told = f"the server refused {KIM} ({NOT_SMTPUTF8})"
    assert told in again.reason and f"refused {KIM} ({NOT_SMTPUTF8})" in caplog.text
    assert "SMTPUTF8" in NOT_SMTPUTF8 and NOT_SMTPUTF8.startswith("553 5.6.7 ")
    assert resent is None


def test_a_digest_to_non_ascii_local_parts_alone_fails_through_a_server_without_smtputf8(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Nobody could have it: a failure that names the recipient and the reason, the claim
    released, and nothing handed to the server."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        s = to(smtp, tmp_path, KIM)
        with pytest.raises(DigestError) as raised:
            send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")

    assert f"every recipient refused: {KIM} ({NOT_SMTPUTF8})" in str(raised.value)
    assert smtp.messages == []
    state = store.digest_state(DAY)
    assert state is not None and state.sent_at is None


@pytest.mark.parametrize("grey", [KIM, "grey@example.org"])
def test_the_resend_through_smtputf8_is_byte_for_byte_the_message_the_server_got_first(
    definitions: Definitions, store: Store, tmp_path: Path, grey: str
) -> None:
    """As `test_digest_sent`'s for ASCII recipients: greylisted at 07:00, taken at 07:05, the
    same bytes; with SMTPUTF8 whether or not the one resent to is ASCII, as the message's
    headers are UTF-8."""
    check(definitions, store, at(7) - READ_BEFORE)
    refusal = GREY.replace("grey@example.org", grey)
    with running_smtp_server(smtputf8=True, refuse={grey: refusal}, refuse_times={grey: 1}) as smtp:
        s = to(smtp, tmp_path, "reader@example.org", KIM, "grey@example.org")
        sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        resent = resend_refused(definitions, store, s, now=at(7) + 5 * MINUTE)

    assert sent.refused == ((grey, refusal),)
    assert resent is not None and resent.taken == (grey,) and resent.refused == ()
    first, again = smtp.messages
    assert again.rcpt_tos == (grey,) and first.smtputf8 and again.smtputf8
    assert again.raw == first.raw
    kept_is_sent(store, first)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("ana@예시..kr", "'ana@예시..kr' is not an email address: its domain 예시..kr is not a "
                        "domain name (IDNA: Empty Label)"),
        ("ana@☃.net", "'ana@☃.net' is not an email address: its domain ☃.net is not a domain "
                      "name (IDNA: Codepoint U+2603 at position 1 of '☃' not allowed)"),
        ("김@", "'김@' is not an email address (e.g. ops@example.com)"),
        ("김 철수@example.kr", "'김 철수@example.kr' is not an email address (e.g. "
                               "ops@example.com)"),
        ("가" * 22 + "@example.kr", f"'{'가' * 22}@example.kr' is not an email address: its part "
                                    "before @ is longer than 64 bytes"),
    ],
)  # fmt: skip
def test_a_malformed_non_ascii_recipient_is_one_line_at_start_up(
    tmp_path: Path, value: str, line: str
) -> None:
    result = run(["check"], tmp_path, shipped(tmp_path) | {"MONITOR_DIGEST_TO": value})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"Error: settings: MONITOR_DIGEST_TO: {line}"]


def test_non_ascii_recipients_are_taken_and_an_idn_domain_is_kept_in_a_labels() -> None:
    s = Settings(
        _env_file=None,  # type: ignore[call-arg]
        digest_to=f"{KIM}, 김철수 <kim@예시.kr>, {ANA}, ana@EXAMPLE.kr",
        digest_from="모니터 <monitor@예시.kr>",
    )

    assert s.digest_to == [KIM, "김철수 <kim@xn--vv4b11d.kr>", ANA_SENT, "ana@EXAMPLE.kr"]
    assert s.digest_from == "모니터 <monitor@xn--vv4b11d.kr>"


def test_without_smtp_host_the_eml_file_is_the_message_a_server_offering_smtputf8_gets(
    definitions: Definitions, store: Store, tmp_path: Path
) -> None:
    """Its To names 김@example.kr in UTF-8 (RFC 6532), not as an encoded word, and it is the
    message kept with the day."""
    check(definitions, store, at(7) - READ_BEFORE)
    s = Settings(
        digest_to=["reader@example.org", KIM, ANA], digest_time=SEVEN, timezone="UTC",
        outbox_dir=tmp_path / "outbox",
    )  # fmt: skip
    sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")

    eml = (tmp_path / "outbox" / f"digest-{DAY}.eml").read_bytes()
    assert sent.sent and sent.where.endswith(f"digest-{DAY}.eml")
    assert f"To: reader@example.org, {KIM}, {ANA_SENT}\r\n".encode() in eml
    kept = sent_digest(store, DAY)
    assert kept is not None and as_file(kept.raw) == eml


@pytest.mark.parametrize("smtputf8", [True, False])
def test_a_sender_not_ascii_before_its_at_needs_smtputf8_for_every_recipient(
    definitions: Definitions, store: Store, tmp_path: Path, smtputf8: bool
) -> None:
    """Offered: sent, MAIL FROM in UTF-8. Not offered: nobody can have it, and the error says
    it is the sender (not retried: `is_transient`)."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server(smtputf8=smtputf8) as smtp:
        s = to(smtp, tmp_path, "reader@example.org").model_copy(
            update={"digest_from": "감시@example.kr"}
        )
        if smtputf8:
            sent = send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")
        else:
            with pytest.raises(DigestError) as raised:
                send_daily_digest(definitions, store, s, day=DAY, now=at(7), owner="a")

    if smtputf8:
        [received] = smtp.messages
        assert sent.sent and received.mail_from == "감시@example.kr" and received.smtputf8
        kept_is_sent(store, received)
    else:
        assert smtp.messages == [] and not is_transient(raised.value)
        assert str(raised.value).endswith(
            ": the server does not offer SMTPUTF8, which this needs: the sender 감시@example.kr "
            "(MONITOR_DIGEST_FROM) has a part before @ that is not ASCII"
        )


def test_digest_send_names_the_recipient_a_server_without_smtputf8_cannot_take(
    definitions: Definitions, store: Store, database_url: str, tmp_path: Path
) -> None:
    """`monitor digest --send`: sent (exit 0) to the others, and stderr says who has it not,
    and why; `MONITOR_DIGEST_TO` read from the environment as at any start-up."""
    check(definitions, store, at(7) - READ_BEFORE)
    with running_smtp_server() as smtp:
        env = test_digest_sent._env(definitions, database_url, tmp_path) | {
            "MONITOR_SMTP_HOST": smtp.host, "MONITOR_SMTP_PORT": str(smtp.port),
            "MONITOR_SMTP_STARTTLS": "false", "MONITOR_DIGEST_TO": f"reader@example.org, {KIM}",
        }  # fmt: skip
        result = CliRunner().invoke(main, ["digest", "--send", "--date", str(DAY)], env=env)

    assert result.exit_code == 0, result.output
    assert [m.rcpt_tos for m in smtp.messages] == [("reader@example.org",)]
    told = f"monitor: digest {DAY}: the server refused {KIM} ({NOT_SMTPUTF8})"
    assert told in result.stderr.splitlines()  # among the test server's own log lines
