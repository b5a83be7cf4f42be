"""Email addresses as the digest sends them: checked once, at start-up (settings).

    email_address(value) -> str     one address, bare or named; an IDN domain in its ASCII form
    needs_smtputf8(address) -> bool  whether only a server offering SMTPUTF8 can carry it

A domain of Unicode labels (`ana@예시.kr`) is written in its IDNA 2008 A-labels
(`ana@xn--vv4b11d.kr`, RFC 5890): the same domain, and an address with an ASCII local part is
then plain ASCII, which any SMTP server takes (RFC 5321) and any header carries. A local part
that is not ASCII (`김@example.kr`) has no ASCII form: it needs a server that offers SMTPUTF8
(RFC 6531) and a message whose headers are UTF-8 (RFC 6532). The `idna` package is imported
here and nowhere else.
"""

from __future__ import annotations

import re
from email.utils import formataddr, getaddresses

import idna

LOCAL_PART_MAX = 64  # octets (RFC 5321 4.5.3.1.1), UTF-8 ones for a non-ASCII local part
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")


def email_address(value: str) -> str:
    """One email address, bare (`ops@example.com`) or named (`Ops <ops@example.com>`), as
    written but for a Unicode domain, written in A-labels; ValueError, one line, if not."""
    parsed = getaddresses([value])
    address = parsed[0][1] if len(parsed) == 1 else ""
    local, _, domain = address.rpartition("@")
    if not local or any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in address):
        raise ValueError(f"{value!r} is not an email address (e.g. ops@example.com)")
    if len(local.encode()) > LOCAL_PART_MAX:
        raise ValueError(
            f"{value!r} is not an email address: its part before @ is longer than "
            f"{LOCAL_PART_MAX} bytes"
        )
    ascii_domain = _a_labels(value, domain)
    if not _DOMAIN.fullmatch(ascii_domain):
        raise ValueError(f"{value!r} is not an email address (e.g. ops@example.com)")
    if ascii_domain == domain:
        return value
    head, at, tail = value.rpartition("@" + domain)
    if not at:  # written otherwise than getaddresses reads it (a comment, folding): rewritten
        return formataddr((parsed[0][0], f"{local}@{ascii_domain}"))
    return f"{head}@{ascii_domain}{tail}"


def _a_labels(value: str, domain: str) -> str:
    """`domain` in A-labels (IDNA 2008 after UTS 46 mapping, as browsers read a host name)."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(
            f"{value!r} is not an email address: its domain {domain} is not a domain name "
            f"(IDNA: {exc})"
        ) from None


def needs_smtputf8(address: str) -> bool:
    """Whether `address` (bare, as `email_address` leaves it) can only go out with SMTPUTF8:
    its local part is not ASCII (a domain is in A-labels by then)."""
    return not address.isascii()


__all__ = ["LOCAL_PART_MAX", "email_address", "needs_smtputf8"]
