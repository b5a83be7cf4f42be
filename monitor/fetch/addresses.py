"""Where a redirect may lead: a feed's redirect must not reach into the operator's network.

An address is public (`ipaddress`'s `is_global`) or internal, of a kind named in errors:
loopback, private, link-local, unique-local, shared (CGNAT), unspecified, multicast,
reserved. A feed whose own URL is public may be redirected only to public addresses; a feed
on an internal address (the operator's own LAN service) may also be redirected to internal
ones, but to a link-local one (169.254.0.0/16, fe80::/10: the cloud metadata service) only
when its own address is link-local too.

A host is judged by every address `getaddrinfo` gives for it, the call the connection makes
itself, so every spelling of an IP literal (`2130706433`, `0x7f.1`, `127.1`) is judged as what
it connects to; an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) and a 6to4 one
(`2002:7f00:1::`) as the IPv4 address inside it. One internal address among them refuses the
hop. A target that does not resolve is left to fail as its connection would; an own URL that
does not resolve is judged public (the stricter).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence

from monitor.fetch.model import Failure

# The addresses a host resolves to (as text, "127.0.0.1", "::1"); [] when it resolves to none.
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PUBLIC = "public"
LINK_LOCAL = "link-local"
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


async def system_resolve(host: str, port: int) -> Sequence[str]:
    """The addresses the connection would try, from the system's resolver, off the event loop;
    [] when the name does not resolve."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        return []
    return [str(info[4][0]) for info in infos]


def kind(address: str) -> str:
    """'public', or the kind of internal address: 'loopback', 'private', 'link-local'…"""
    ip: IPAddress = ipaddress.ip_address(address.partition("%")[0])  # fe80::1%eth0
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 connects to 127.0.0.1; a 6to4 address (2002:7f00:1::) is judged by
        # the IPv4 address inside it, where a relay delivers it
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "unspecified"),  # 0.0.0.0 and :: reach this host
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, LINK_LOCAL),
        (ip.is_multicast, "multicast"),
        (ip in _SHARED, "shared"),
        (ip in _UNIQUE_LOCAL, "unique-local"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "special-purpose"),
    )
    return next((name for hit, name in checks if hit), PUBLIC)


async def kinds(host: str, port: int, resolve: Resolve) -> list[tuple[str, str]]:
    """(address, kind) of every address `host` resolves to, without repeats; an IP address in
    its usual spelling is its own (any other spelling goes to the resolver, as it does on
    connecting)."""
    addresses = [host] if _literal(host) else dict.fromkeys(await resolve(host, port))
    return [(address, kind(address)) for address in addresses]


async def check_redirect(
    target: str, host: str, port: int, origin: Sequence[tuple[str, str]], resolve: Resolve
) -> None:
    """Raise a Failure when the redirect to `target` (its `host` and `port`, as the connection
    will use them) reaches an address the feed's own addresses, `origin` (from `kinds`), do
    not allow."""
    own = {name for _address, name in origin}
    public_origin = not own or PUBLIC in own
    for address, name in await kinds(host, port, resolve):
        if name == PUBLIC:
            continue
        if public_origin or (name == LINK_LOCAL and LINK_LOCAL not in own):
            raise Failure(
                f"fetch: redirect to an internal address refused: {target} "
                f"({address}, {name}; the feed's own address is {_own(origin)})"
            )


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


def _own(origin: Sequence[tuple[str, str]]) -> str:
    if not origin:
        return "unknown, so judged public"
    names = [name for _address, name in origin]
    return PUBLIC if PUBLIC in names else names[0]
