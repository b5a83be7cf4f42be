"""Links and hosts in the one form they are compared in. Pure: imports only the standard library.

A URL's scheme and host do not depend on case, a Unicode host is its IDNA (`xn--`) form, and a
scheme's default port is no port: `HTTPS://Wire.Example.COM:443/a`, `https://wire.example.com/a`
and `https://wire.example.com:443/a` are one link. Its path, query and fragment are compared as
written (case counts there). Entries are keyed by it (`identity.entry_key`), stories by it less
its fragment (`stories`), publishers by `host_key` (`parse.publisher_of`).

A URL may carry a password (`http://reader:hunter2@host/feed.xml`: a private feed read with
HTTP basic auth, a database URL): `without_password` is how every text for people shows it
(`http://reader:***@host/feed.xml`), and `without_userinfo` is the URL that carries none.
"""

from __future__ import annotations

import re

__all__ = ["host_key", "link_identity", "without_password", "without_userinfo"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# A link whose scheme and host are as `link_identity` gives them: in lower case ASCII, no port.
_PLAIN = re.compile(r"[a-z][a-z0-9+.-]*://[a-z0-9._~!$&'()*+,;=%@-]*(?:[/?#]|\Z)")
_AUTHORITY_END = re.compile(r"[/?#]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# `scheme://user:password@`, anywhere in a text: the password runs to the authority's last "@"
_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*):[^/?#\s]*@")
_USERINFO = re.compile(r"\A([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
HIDDEN = "***"


def without_password(text: str) -> str:
    """`text` with the password of every URL in it as `***` (`http://reader:***@host/`): a
    URL, or an error or a log line that names one. What is shown to people, logged or stored
    as a message; the URL with its password is only for fetching (or connecting)."""
    if "@" not in text:
        return text  # what nearly every text is
    return _PASSWORD.sub(rf"\1:{HIDDEN}@", text)


def without_userinfo(url: str) -> str:
    """`url` without `user:password@`: a base to resolve a feed's links against, so that no
    article link carries the feed's credentials."""
    return _USERINFO.sub(r"\1", url) if "@" in url else url


def link_identity(link: str) -> str:
    """`link` with its scheme and host in lower case (a Unicode host in its IDNA form) and
    without the scheme's default port; the rest as written. A text that is no `scheme://` URL
    is returned as it is."""
    if _PLAIN.match(link):
        return link  # what nearly every link is: one match, no split
    scheme, sep, rest = link.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return link
    end = _AUTHORITY_END.search(rest)
    cut = end.start() if end else len(rest)
    scheme = scheme.lower()
    return f"{scheme}://{_authority_key(rest[:cut], _DEFAULT_PORTS.get(scheme))}{rest[cut:]}"


def _authority_key(authority: str, default_port: int | None) -> str:
    userinfo, at, hostport = authority.rpartition("@")  # user info is as case-sensitive as paths
    host, colon, port = hostport.rpartition(":")
    if not colon or "]" in port or (port and not port.isdigit()):  # no port (or IPv6 colons)
        host, port = hostport, ""
    elif not port or int(port) == default_port:
        port = ""
    return f"{userinfo}{at}{host_key(host)}{':' if port else ''}{port}"


def host_key(host: str) -> str:
    """A host name in lower case, a Unicode one in its IDNA form (`bücher.de` is
    `xn--bcher-kva.de`); one IDNA has no form for (a label too long, a character IDNA 2003
    refuses) in lower case only."""
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()
