"""A digest sent in plain SMTP to a server of implicit TLS (port 465 with MONITOR_SMTP_SSL=false):
the server waits for the client's TLS hello and never greets in plain. The client waited the
whole 30 s timeout, then said "Connection unexpectedly closed: timed out" (retried, five times).
Now the greeting has a short timeout of its own and the error names the setting. Real servers on
127.0.0.1 (aiosmtpd, TLS from the first byte); the timeouts are made short, not waited out."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from monitor import mail
from monitor.errors import DigestError
from monitor.mail import deliver, send_with_retry
from monitor.settings import Settings
from tests.smtpserver import free_port, running_smtp_server, self_signed_cert


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail, "GREETING_TIMEOUT", 0.2, raising=False)
    # The whole timeout (30 s), shorter too: without a greeting timeout of its own, the client
    # waits this long for the greeting and the tests fail after it, not after half a minute.
    monkeypatch.setattr(mail, "SMTP_TIMEOUT", 5.0)


@pytest.fixture
def cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    made = self_signed_cert(tmp_path)
    if made is None:
        pytest.skip("needs the openssl command")
    monkeypatch.setenv("SSL_CERT_FILE", str(made[0]))  # trust our self-signed certificate
    return made


def message() -> EmailMessage:
    sent = EmailMessage()
    sent["From"], sent["To"], sent["Subject"] = "monitor@example.org", "ops@example.org", "digest"
    sent.set_content("what changed")
    return sent


def settings(port: int, **values: Any) -> Settings:
    base: dict[str, Any] = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    return Settings(_env_file=None, **(base | values))  # type: ignore[call-arg]


def test_port_465_with_smtp_ssl_false_fails_at_once_naming_the_setting(
    cert: tuple[Path, Path],
) -> None:
    with socket.socket() as probe:  # listening on 465 needs root
        try:
            probe.bind(("127.0.0.1", 465))
        except OSError as exc:
            pytest.skip(f"cannot listen on 127.0.0.1:465: {exc.strerror}")
    sleeps: list[float] = []
    with (
        running_smtp_server(implicit_tls=cert, port=465) as server,
        pytest.raises(DigestError) as raised,
    ):
        send_with_retry(message(), settings(465, smtp_ssl=False), sleep=sleeps.append)

    assert str(raised.value) == (
        "digest: smtp 127.0.0.1:465: no greeting from the server in 0.2 s: "
        "port 465 expects TLS: set MONITOR_SMTP_SSL=true or unset it"
    )
    assert sleeps == [] and server.messages == []  # a setting to change: not retried


def test_implicit_tls_on_another_port_without_smtp_ssl_says_which_setting(
    cert: tuple[Path, Path],
) -> None:
    """On a port other than 465 a silent server may be a slow one: the hint, and a retry."""
    sleeps: list[float] = []
    with running_smtp_server(implicit_tls=cert) as server, pytest.raises(DigestError) as raised:
        send_with_retry(message(), settings(server.port), attempts=2, sleep=sleeps.append)

    assert str(raised.value) == (
        f"digest: smtp 127.0.0.1:{server.port}: no greeting from the server in 0.2 s: a server "
        "of implicit TLS says nothing until the client starts TLS: if the one on port "
        f"{server.port} does, set MONITOR_SMTP_SSL=true"
    )
    assert sleeps == [5.0] and server.messages == []


def test_after_the_greeting_the_server_has_the_whole_timeout() -> None:
    """A server slow to take the message (1 s here, longer than the greeting's 0.2 s) is not
    cut off: the greeting's timeout stops at the greeting."""
    with running_smtp_server(slow_data=1.0) as server:
        delivery = deliver(message(), settings(server.port))

    assert delivery.where == f"smtp:127.0.0.1:{server.port}" and len(server.messages) == 1


def test_implicit_tls_still_connects(cert: tuple[Path, Path]) -> None:
    with running_smtp_server(implicit_tls=cert) as server:
        deliver(message(), settings(server.port, smtp_ssl=True))

    assert len(server.messages) == 1


def test_nothing_listening_is_still_a_plain_network_error() -> None:
    port = free_port()
    with pytest.raises(DigestError, match=rf"^digest: smtp 127.0.0.1:{port}: .*[Rr]efused"):
        deliver(message(), settings(port))
