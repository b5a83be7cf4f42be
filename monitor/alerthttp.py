"""The HTTP under the alert channels: which redirects a channel follows, and what its last answer
said (its status, its Retry-After).

    with exchange(safe_redirects=True) as seen:   # around one Apprise notify() call
        ...
    seen.status, seen.retry_after, seen.refused, seen.location

Apprise's plugins post with `requests.post(..., allow_redirects=...)`, a new Session each time,
so there is no session to configure and no transport to swap. Inside `exchange` (a context
variable, which Apprise copies into the worker thread it sends from), requests' redirect hook —
`SessionRedirectMixin.get_redirect_target`, the method requests names for a subclass to
override — notes every answer, and with `safe_redirects` follows only a 307 or 308 to the same
origin (same host and port, or http to https on the default ports: where requests would keep the
Authorization header). A 307 or 308 keeps the method and the body by definition, so following
it loses nothing; a 301, 302 or 303 turns the POST into a GET without the alert; and another
host would get the channel's secrets (requests drops only `Authorization` on a host change,
not a plugin's own key headers nor a body that carries a token, as Pushover's does). Outside an
exchange, requests behaves as it always does for whoever else uses it.

requests is imported here and nowhere else.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from requests.sessions import SessionRedirectMixin

SAFE_REDIRECTS = frozenset({307, 308})  # the method and the body are kept


@dataclass
class Exchange:
    """What one notify call's requests saw: the last answer's status and Retry-After, where
    the last redirect pointed (its Location made absolute, '' when none), and why a redirect
    was not followed ('' when none was refused)."""

    safe_redirects: bool
    status: int = 0
    retry_after: str | None = None
    location: str = ""
    refused: str = ""


_CURRENT: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar(
    "monitor_alert_exchange", default=None
)


@contextlib.contextmanager
def exchange(*, safe_redirects: bool) -> Iterator[Exchange]:
    """The requests made inside (by Apprise) are noted in the Exchange yielded; with
    `safe_redirects`, only a 307 or 308 to the same origin is followed."""
    seen = Exchange(safe_redirects)
    token = _CURRENT.set(seen)
    try:
        yield seen
    finally:
        _CURRENT.reset(token)


_REQUESTS = SessionRedirectMixin()  # holds no state: its methods are requests' rules


def same_origin(old_url: str, new_url: str) -> bool:
    """True when `new_url` is where requests would still send `old_url`'s Authorization."""
    return not _REQUESTS.should_strip_auth(old_url, new_url)


_requests_target = SessionRedirectMixin.get_redirect_target


def _redirect_target(self: SessionRedirectMixin, resp: Any) -> str | None:
    """requests calls this on every answer (and again on each redirect's): the address to go to
    next, or None to stop there and hand the answer to the plugin."""
    target = _requests_target(self, resp)
    seen = _CURRENT.get()
    if seen is None:
        return target
    seen.status, seen.retry_after = resp.status_code, resp.headers.get("Retry-After")
    if target is not None:
        seen.location = urljoin(resp.url, target)
    if target is None or not seen.safe_redirects:
        return target
    if resp.status_code not in SAFE_REDIRECTS:
        seen.refused = f"a {resp.status_code} turns the alert's POST into a GET without it"
        return None
    if not same_origin(resp.url, seen.location):
        seen.refused = f"a {resp.status_code} to another host, which would get its secrets"
        return None
    return target


SessionRedirectMixin.get_redirect_target = _redirect_target  # type: ignore[method-assign]

__all__ = ["SAFE_REDIRECTS", "Exchange", "exchange", "same_origin"]
