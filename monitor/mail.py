"""Delivering the daily digest (I/O): over SMTP, or as an .eml file in the outbox.

    deliver(message, settings, to=None) -> Delivery  SMTP, or an .eml file in OUTBOX_DIR
    send_with_retry(message, settings) -> Delivery  deliver, retrying transient failures
    as_sent(message) -> bytes / sent_message(raw) -> EmailMessage   the message kept as it went out
    as_file(raw) -> bytes                            an .eml file's bytes: CRLF, as SMTP carries it

An address whose local part is not ASCII (`김@example.kr`; a Unicode domain is in A-labels by
then, `monitor.mailaddress`) goes out with SMTPUTF8 (RFC 6531), in a message whose headers are
UTF-8 (RFC 6532), when the server offers it; when it does not, that recipient is refused here
(NOT_SMTPUTF8, a 5xx answer of our own: the server cannot take it however often it is tried),
left out of the To header, and the others get the digest. `Delivery.raw` is what went out.

smtplib is imported here and nowhere else. Deciding *whether* today's digest is due and
claiming it in the database is the caller's job (see `send_with_retry`).
"""

from __future__ import annotations

import errno
import hmac
import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from monitor.digest import DAY_HEADER
from monitor.errors import DigestError
from monitor.mailaddress import needs_smtputf8
from monitor.settings import SMTP_TLS_PORT, Settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0
GREETING_TIMEOUT = 10.0  # for the server's first words ("220 …") over a plain connection

Refused = tuple[tuple[str, str], ...]
"""Recipients an SMTP server refused (RCPT TO): (address, its answer: "550 5.1.1 no such
user") each, in address order."""


NOT_SMTPUTF8 = (
    "553 5.6.7 not sent: the server does not offer SMTPUTF8, which an address whose part "
    "before @ is not ASCII needs (RFC 6531)"
)
"""The answer a recipient is refused with, by us, when it needs SMTPUTF8 and the server does
not offer it (5.6.7: "non-ASCII addresses not permitted for that recipient", RFC 6531)."""

ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc")
_UTF8_HEADERS = policy.default.clone(utf8=True)  # RFC 6532, as smtplib writes for SMTPUTF8


@dataclass(frozen=True)
class Delivery:
    """Where the digest went ("smtp:host:port", or the .eml file's path), the recipients
    the SMTP server refused while it took the message for the others, and the message as it
    went out (`as_sent`'s form: each line ended by LF)."""

    where: str
    refused: Refused = ()
    raw: bytes = field(default=b"", compare=False, repr=False)


def is_temporary(answer: str) -> bool:
    """A refusal worth trying again later: a 4xx answer ("450 4.2.0 greylisted"), not a 5xx."""
    return answer[:1] == "4"


def refused_in(error: DigestError) -> Refused:
    """The recipients of a digest the server refused for every recipient (else none)."""
    cause = error.__cause__
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        return _refused(cause.recipients)
    return ()


def refused_words(refused: Refused) -> str:
    """'a@example.org (550 5.1.1 no such user), b@…': how the refused recipients are shown."""
    return ", ".join(f"{address} ({answer})" for address, answer in refused)


def _refused(found: Mapping[str, tuple[int, bytes | str]]) -> Refused:
    """smtplib's refused recipients ({address: (code, answer)}) as `Refused`."""
    return tuple(sorted((address, _answer(code, text)) for address, (code, text) in found.items()))


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return " ".join(f"{code} {words}".split())


def recipients_of(message: EmailMessage) -> list[str]:
    """The addresses of its To, Cc and Bcc: who `deliver` sends it to."""
    return addresses([str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])])


def addresses(fields: Sequence[str]) -> list[str]:
    """The bare addresses of address fields ("Ops <ops@x>, a@y" -> ["ops@x", "a@y"])."""
    return [addr for _, addr in getaddresses(list(fields)) if addr]


def is_international(message: EmailMessage) -> bool:
    """Whether an address of its From, To, Cc or Bcc needs SMTPUTF8 (`needs_smtputf8`): then
    it is written with UTF-8 headers (RFC 6532), which only SMTPUTF8 carries."""
    fields = [str(v) for name in ADDRESS_HEADERS for v in message.get_all(name, [])]
    return any(needs_smtputf8(address) for address in addresses(fields))


def as_sent(message: EmailMessage) -> bytes:
    """The whole message (RFC 5322) as it goes out, to keep with the day's digest: each line
    ended by LF, where SMTP ends it with CRLF; its headers in UTF-8 (RFC 6532, as smtplib
    writes them for SMTPUTF8) when it `is_international`, else in RFC 2047 encoded words.
    Nothing shows these bytes as they are: a resend (sent as kept, with CRLF) and an .eml file
    (`as_file`) are the message the server got, byte for byte."""
    if is_international(message):
        return message.as_bytes(policy=_UTF8_HEADERS)
    return message.as_bytes()


def _without(message: EmailMessage, left_out: Sequence[str]) -> EmailMessage:
    """A copy of `message` whose To and Cc name none of `left_out` (a header naming nobody
    then is dropped): an address no ASCII header can carry, for a server without SMTPUTF8."""
    copy = deepcopy(message)
    for name in ("To", "Cc"):
        header = message[name]
        if header is None:
            continue
        kept = [a for a in header.addresses if a.addr_spec not in left_out]
        if kept:
            copy.replace_header(name, kept)
        else:
            del copy[name]
    return copy


def as_file(raw: bytes) -> bytes:
    """A message's bytes (`as_sent`, or `as_bytes`: each line ends in LF) as an .eml file holds
    them: each line ended by CRLF, as RFC 5322 writes a message and SMTP carries it, so the file
    is the message the server got, byte for byte. Thunderbird, Apple Mail and Outlook save a
    message so; Outlook shows one with bare LF line ends garbled; Python's email parser reads
    either the same."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def sent_message(raw: bytes) -> EmailMessage:
    """A message kept by `as_sent`, to send again as it is (its Message-ID, its parts)."""
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class _LostAfterData(smtplib.SMTPServerDisconnected):
    """The connection ended after the message was handed over, before the server answered: it
    may have been delivered, so it is not sent again at once (a later run retries)."""


class _NoTLS(smtplib.SMTPException):
    """An implicit-TLS connection (SMTP_SSL) whose server answered in plain SMTP: a setting to
    change, not network trouble to wait out."""


class _NoGreeting(smtplib.SMTPServerDisconnected):
    """A plain connection whose server said nothing in GREETING_TIMEOUT seconds: a server of
    implicit TLS (port 465) waits for the client's TLS hello and never greets in plain. On 465,
    a setting to change (not retried); elsewhere perhaps a slow server (retried)."""

    def __init__(self, port: int, seconds: float) -> None:
        self.tls_port = port == SMTP_TLS_PORT
        if self.tls_port:
            hint = f"port {port} expects TLS: set MONITOR_SMTP_SSL=true or unset it"
        else:
            hint = (
                "a server of implicit TLS says nothing until the client starts TLS: if the one "
                f"on port {port} does, set MONITOR_SMTP_SSL=true"
            )
        super().__init__(f"no greeting from the server in {seconds:g} s: {hint}")


class _UTF8(str):
    """An AUTH answer that smtplib's `.encode("ascii")` encodes as UTF-8 (RFC 4616)."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str(self).encode("utf-8", errors)


class _SMTP(smtplib.SMTP):
    handed_over = False  # the message itself was sent (DATA)
    greeting_timeout: float | None = None  # for the connection and the greeting, when set

    def __init__(self, host: str, port: int, *, timeout: float, greeting_timeout: float) -> None:
        self.greeting_timeout = greeting_timeout
        super().__init__(host, port, timeout=timeout)

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        """smtplib's, but the connection and the server's greeting ("220 …") wait
        `greeting_timeout` seconds at most (then `_NoGreeting`), the commands after it the
        whole timeout."""
        if self.greeting_timeout is None:
            return super().connect(host, port, source_address)
        whole, self.timeout = self.timeout, self.greeting_timeout
        try:
            answer = super().connect(host, port, source_address)
        except smtplib.SMTPServerDisconnected as exc:
            if not isinstance(exc.__context__, TimeoutError):
                raise
            raise _NoGreeting(port, self.greeting_timeout) from exc
        finally:
            self.timeout = whole
        if self.sock is not None:
            self.sock.settimeout(whole)
        return answer

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.handed_over = True
        return super().data(msg)

    def auth(self, mechanism: str, authobject: Any, **kwargs: Any) -> tuple[int, bytes]:
        """smtplib's, but a user name or password that is not ASCII goes out as UTF-8: smtplib
        raised UnicodeEncodeError, quoting the password's character (CPython issue 73936)."""

        def utf8(challenge: Any = None) -> Any:
            answer = authobject(challenge)
            return None if answer is None else _UTF8(answer)

        return super().auth(mechanism, utf8, **kwargs)

    def auth_cram_md5(self, challenge: Any = None) -> Any:
        """smtplib's, the password as UTF-8 too."""
        if challenge is None:  # no initial response, as smtplib's
            return None
        digest = hmac.HMAC(str(self.password).encode("utf-8"), challenge, "md5").hexdigest()
        return f"{self.user} {digest}"


class _SMTPSSL(smtplib.SMTP_SSL, _SMTP):
    pass


def _connect(settings: Settings, host: str) -> _SMTP:
    context = ssl.create_default_context()
    if settings.smtp_implicit_tls:
        try:
            return _SMTPSSL(host, settings.smtp_port, timeout=SMTP_TIMEOUT, context=context)
        except ssl.SSLError as exc:
            # A plain server's "220 …" greeting read as a TLS record: OpenSSL's "wrong version
            # number". Its subclasses (a certificate refused, the connection cut) are not this.
            if type(exc) is not ssl.SSLError:
                raise
            raise _NoTLS(
                f"no TLS from the server ({exc.reason or exc}): on port {settings.smtp_port} it "
                "speaks plain SMTP first (then STARTTLS): set MONITOR_SMTP_SSL=false, or the "
                "port of implicit TLS (usually 465)"
            ) from exc
    smtp = _SMTP(host, settings.smtp_port, timeout=SMTP_TIMEOUT, greeting_timeout=GREETING_TIMEOUT)
    try:
        smtp.ehlo()
        if settings.smtp_starttls and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        elif settings.smtp_starttls and settings.smtp_username:
            raise smtplib.SMTPNotSupportedError(
                "server does not offer STARTTLS; refusing to log in over plain text "
                "(set MONITOR_SMTP_STARTTLS=false to allow it)"
            )
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send_smtp(
    message: EmailMessage | bytes, settings: Settings, host: str, to: Sequence[str] | None
) -> Delivery:
    parsed = sent_message(message) if isinstance(message, bytes) else message
    recipients = recipients_of(parsed) if to is None else list(to)
    if not recipients:
        raise DigestError("digest: no recipients (set MONITOR_DIGEST_TO)")
    sender = next(iter(addresses(parsed.get_all("From", []))), "")
    smtp = _connect(settings, host)
    try:
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        utf8 = smtp.has_extn("smtputf8")
        left_out = [] if utf8 else [r for r in recipients if needs_smtputf8(r)]
        raw = message if isinstance(message, bytes) else _written(message, utf8)
        if not utf8 and (needs_smtputf8(sender) or not raw.isascii()):
            raise _NoSMTPUTF8(sender if needs_smtputf8(sender) else None)
        ours = {r: (553, NOT_SMTPUTF8[4:].encode()) for r in left_out}
        to_send = [r for r in recipients if r not in ours]
        if not to_send:
            raise smtplib.SMTPRecipientsRefused(ours)
        international = not raw.isascii() or not sender.isascii() or not "".join(to_send).isascii()
        try:
            refused = smtp.sendmail(sender, to_send, as_file(raw), _options(smtp, international))
        except smtplib.SMTPRecipientsRefused as exc:
            exc.recipients.update(ours)  # every one we sent to refused: say who we did not
            raise
        except smtplib.SMTPServerDisconnected as exc:
            if smtp.handed_over:
                lost = f"{exc} after the message was sent: it may have arrived"
                raise _LostAfterData(lost) from exc
            raise
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli.stops): hang up now, not after a QUIT
        smtp.close()  # that a silent server leaves unanswered for SMTP_TIMEOUT
        raise
    finally:
        try:  # the message is accepted: a failing QUIT must not cause a resend
            if smtp.sock is not None:  # not hung up above
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return Delivery(f"smtp:{host}:{settings.smtp_port}", _refused({**refused, **ours}), raw)


def _written(message: EmailMessage, utf8: bool) -> bytes:
    """The bytes `message` goes out as (`as_sent`), without its Bcc (as smtplib sends it), and
    through a server without SMTPUTF8 (not `utf8`) with no address in To or Cc that needs it."""
    if utf8:
        left_out = []
    else:
        fields = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
        left_out = [a for a in addresses(fields) if needs_smtputf8(a)]
    if left_out or "Bcc" in message:
        message = _without(message, left_out)
        del message["Bcc"]
    return as_sent(message)


def _options(smtp: smtplib.SMTP, international: bool) -> list[str]:
    """MAIL FROM's parameters: SMTPUTF8 (with 8BITMIME when offered, as smtplib's) for a
    message with a non-ASCII address or header, none for any other."""
    if not international:
        return []
    return ["SMTPUTF8", "BODY=8BITMIME"] if smtp.has_extn("8bitmime") else ["SMTPUTF8"]


class _NoSMTPUTF8(smtplib.SMTPNotSupportedError):
    """Nothing of the message can go out through a server that does not offer SMTPUTF8: its
    sender's local part is not ASCII, or its headers (kept from a send with SMTPUTF8) are not."""

    def __init__(self, sender: str | None) -> None:
        why = (
            f"the sender {sender} (MONITOR_DIGEST_FROM) has a part before @ that is not ASCII"
            if sender
            else "the digest kept for the day names addresses that are not ASCII"
        )
        super().__init__(f"the server does not offer SMTPUTF8, which this needs: {why}")


def _write_outbox(raw: bytes, day: str, outbox: Path) -> Path:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise DigestError(f"digest: not a digest message (no {DAY_HEADER} day header)")
    target = outbox / f"digest-{day}.eml"
    tmp: str | None = None
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".digest-", suffix=".tmp", dir=outbox)
        with os.fdopen(fd, "wb") as fh:
            fh.write(as_file(raw))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:  # mkdir says only "File exists" of a file where the folder goes
        why = "a file is there, where the outbox folder goes" if outbox.is_file() else exc.strerror
        raise DigestError(f"digest: cannot write {target}: {why or exc}") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return target


def deliver(
    message: EmailMessage | bytes, settings: Settings, *, to: Sequence[str] | None = None
) -> Delivery:
    """Send the digest once. With SMTP_HOST: to every To/Cc/Bcc address over SMTP (implicit TLS
    when SMTP_SSL, or on port 465 with SMTP_SSL unset; STARTTLS when SMTP_STARTTLS and the
    server offers it — if it does not and a username is set, refuse rather than send the
    password in clear); delivered to "smtp:host:port", with the recipients the server refused
    while it took it for the others (every one refused is a DigestError), and those that need
    SMTPUTF8 when it does not offer it (NOT_SMTPUTF8); `to`: the envelope's recipients instead
    (a resend to some). `message` as kept (`as_sent`'s bytes) is sent as it is.
    Without: write OUTBOX_DIR/digest-DAY.eml atomically, its path."""
    host = settings.smtp_host
    if not host:
        raw, parsed = (
            (message, sent_message(message)) if isinstance(message, bytes)
            else (as_sent(message), message)
        )  # fmt: skip
        day = str(parsed.get(DAY_HEADER, ""))
        return Delivery(str(_write_outbox(raw, day, settings.outbox_dir)), raw=raw)
    try:
        return _send_smtp(message, settings, host, to)
    except (smtplib.SMTPException, OSError) as exc:
        raise DigestError(f"digest: smtp {host}:{settings.smtp_port}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"{exc.smtp_code} {detail}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient refused: " + refused_words(_refused(exc.recipients))
    return str(exc) or type(exc).__name__


_PERMANENT_ERRNOS = {
    errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY,
}  # fmt: skip


def is_transient(error: DigestError) -> bool:
    """Worth retrying: network trouble and 4xx answers; not 5xx, refused logins or config."""
    cause = error.__cause__
    if isinstance(cause, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return False
    if isinstance(cause, _LostAfterData | _NoTLS):
        return False
    if isinstance(cause, _NoGreeting):
        return not cause.tls_port
    if isinstance(cause, smtplib.SMTPResponseException):
        return 400 <= cause.smtp_code < 500
    if isinstance(cause, smtplib.SMTPRecipientsRefused):  # the server's answers, not ours
        refused = [r for r in _refused(cause.recipients) if r[1] != NOT_SMTPUTF8]
        return bool(refused) and all(is_temporary(answer) for _, answer in refused)
    if isinstance(cause, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(cause, ssl.SSLCertVerificationError):
        return False
    if isinstance(cause, OSError):  # the network is transient; a misconfigured outbox is not
        return cause.errno not in _PERMANENT_ERRNOS
    return False


def send_with_retry(
    message: EmailMessage,
    settings: Settings,
    *,
    attempts: int = 5,
    backoff: float = 5.0,
    max_delay: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """`deliver`, retrying transient failures after backoff, 2×backoff, 4×backoff… seconds.

    The caller owns exactly-once: claim the day in the store first (`claim_digest`), then call
    this, then `mark_digest_sent`; when it raises, leave the claim unsent so a later run can
    take it over. A message that the server accepted is never sent again by this function."""
    for attempt in range(1, attempts + 1):
        try:
            return deliver(message, settings)
        except DigestError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            delay = min(max_delay, backoff * 2 ** (attempt - 1))
            log.warning("%s (attempt %d of %d; retrying in %.0fs)", exc, attempt, attempts, delay)
            sleep(delay)
    raise AssertionError("unreachable")


__all__ = [
    "NOT_SMTPUTF8",
    "Delivery",
    "Refused",
    "addresses",
    "as_sent",
    "deliver",
    "is_international",
    "is_temporary",
    "is_transient",
    "recipients_of",
    "refused_in",
    "refused_words",
    "send_with_retry",
    "sent_message",
]
