"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), collecting what it receives.

    with running_smtp_server() as server:              # plain, no auth
        ... send to server.host, server.port ...
        server.messages[0].message["Subject"]          # parsed with email.policy.default
        server.messages[0].rcpt_tos                    # the envelope

Options: `fail_first=N` answers the first N DATA commands with "451 try later"; `slow_data=S`
answers DATA after S seconds; `drop_first=N`
takes the first N messages and hangs up without answering; `refuse={"a@x": "550 5.1.1 no such
user"}` answers RCPT TO of those addresses so (and takes the others), with `refuse_times={"a@x":
N}` only the first N times (greylisting: "450 4.2.0 try again later", then taken);
`users={"name": "password"}` offers AUTH (also without TLS) and requires it, by PLAIN and LOGIN, or
by the `mechanisms` named (CRAM-MD5 among them);
`smtputf8=True` offers SMTPUTF8 (RFC 6531: addresses and headers in UTF-8), and each message
says whether its MAIL FROM asked for it (`Received.smtputf8`);
`tls=(certfile, keyfile)` offers STARTTLS; `implicit_tls=(certfile, keyfile)` speaks TLS from the
first byte (port 465 style). `self_signed_cert(dir)` makes a certificate for
127.0.0.1 with the openssl command (None when openssl is missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    login: str | None  # the user that authenticated the session, if any
    smtputf8: bool = False  # MAIL FROM … SMTPUTF8


@dataclass
class Handler:
    fail_first: int = 0
    drop_first: int = 0  # take the message, then hang up without answering
    slow_data: float = 0.0  # seconds before answering DATA
    refuse: dict[str, str] = field(default_factory=dict)  # address -> the RCPT TO answer
    refuse_times: dict[str, int] = field(default_factory=dict)  # address -> refused N times
    refusals: dict[str, int] = field(default_factory=dict)  # address -> how often refused
    messages: list[Received] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: dict[str, str] = field(default_factory=dict)  # who may log in (`running_smtp_server`)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            times = self.refuse_times.get(address)
            if times is None or self.refusals.get(address, 0) < times:
                self.refusals[address] = self.refusals.get(address, 0) + 1
                return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.slow_data:
            await asyncio.sleep(self.slow_data)
        with self.lock:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return "451 4.3.0 try later"
            raw = envelope.original_content or b""
            if isinstance(envelope.content, bytes):
                raw = envelope.content
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            auth = session.auth_data
            login = auth.login.decode() if isinstance(auth, LoginPassword) else None
            self.messages.append(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=raw,
                    message=parsed,
                    login=login,
                    smtputf8=bool(envelope.smtp_utf8),
                )
            )
            if len(self.messages) <= self.drop_first and server.transport is not None:
                server.transport.close()
        return "250 2.0.0 OK"


@dataclass
class _CramMD5Handler(Handler):
    """A handler that also offers AUTH CRAM-MD5 (RFC 2195), which aiosmtpd does not itself."""

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        challenge = b"<1896.697170952@smtp.test>"
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(answer, bytes)
        user, _, digest = answer.decode().rpartition(" ")
        password = self.users.get(user)
        expected = hmac.HMAC(password.encode(), challenge, "md5").hexdigest() if password else ""
        ok = bool(expected) and hmac.compare_digest(digest, expected)
        login = LoginPassword(user.encode(), b"")
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


@dataclass
class SMTPServer:
    host: str
    port: int
    handler: Handler

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def attempts(self) -> int:
        return self.handler.attempts


class _Authenticator:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        # handled=False: let aiosmtpd answer 535 itself on failure
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_smtp_server(
    *,
    fail_first: int = 0,
    drop_first: int = 0,
    slow_data: float = 0.0,
    refuse: dict[str, str] | None = None,
    refuse_times: dict[str, int] | None = None,
    users: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
    implicit_tls: tuple[Path, Path] | None = None,
    port: int | None = None,
    mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN"),
    handler: Handler | None = None,
    smtputf8: bool = False,
) -> Iterator[SMTPServer]:
    """`port`: listen there (a server that comes back), else on a free one. `handler`: one of
    the test's own (the options above are its own then)."""
    handler = handler or (_CramMD5Handler if "CRAM-MD5" in mechanisms else Handler)(
        fail_first=fail_first,
        drop_first=drop_first,
        slow_data=slow_data,
        refuse=refuse or {},
        refuse_times=refuse_times or {},
        users=users or {},
    )
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
    if users is not None:
        kwargs.update(
            authenticator=_Authenticator(users),
            auth_required=True,
            auth_require_tls=tls is not None,
            auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m not in mechanisms],
        )
    if tls is not None:
        kwargs.update(tls_context=_server_context(tls))
    if implicit_tls is not None:
        kwargs.update(ssl_context=_server_context(implicit_tls))
    controller = Controller(
        handler, hostname=HOST, port=port or free_port(), server_hostname="smtp.test", **kwargs
    )
    controller.start()
    try:
        yield SMTPServer(HOST, controller.port, handler)
    finally:
        controller.stop()


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """A certificate and key for 127.0.0.1, or None when the openssl command is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
