"""Who a request is: named tokens, the signed session cookie of a signed-in browser, its CSRF
token, and the brake on guessing tokens. No HTTP here (monitor.signin is the edge).

The only module that imports itsdangerous. A session is a cookie value signed (HMAC-SHA1 over a
key derived from the secret, itsdangerous' URLSafeTimedSerializer) with the time it was signed:

    {"n": name, "k": fingerprint of the name's token, "c": nonce}.timestamp.signature

It is good while the signature holds, it is younger than the TTL (by the clock given, so tests
move time), its name still has a token and that token is the one it was issued for (changing a
token ends its sessions), and it was not signed out here. The CSRF token of the page's forms is
an HMAC of the nonce: tied to the session, unknown to another site, the same on every page.

The key is MONITOR_SESSION_SECRET, else derived from the tokens (so sessions survive a restart
of every daemon that has the same tokens, and end when one changes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

__all__ = ["Keyring", "Session", "Throttle"]

_SALT = "monitor.session"
_REVOKED_MAX = 10_000  # sessions signed out here and not yet expired, at most


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the token's name, and when its cookie was signed and expires."""

    name: str
    nonce: str
    issued: datetime
    expires: datetime


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer on the app's clock instead of time.time()."""

    def __init__(self, *args: Any, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class Keyring:
    """The tokens by name, and the sessions and CSRF tokens signed with one key."""

    def __init__(
        self,
        tokens: Mapping[str, str],
        *,
        ttl: timedelta,
        secret: str | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self._tokens = {name: hashlib.sha256(t.encode()).digest() for name, t in tokens.items()}
        self.ttl = ttl
        self._clock = clock
        self._key = derive_key(tokens) if secret is None else secret.encode()
        self._cookies = URLSafeTimedSerializer(
            self._key, salt=_SALT, signer=_ClockSigner, signer_kwargs={"clock": clock}
        )
        self._revoked: dict[str, datetime] = {}

    @property
    def names(self) -> list[str]:
        return list(self._tokens)

    def identify(self, token: str) -> str | None:
        """The name of `token`, or None. Every token is compared, each in constant time over
        hashes of equal length, so the time taken tells neither which nor how much matched."""
        given = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for name, expected in self._tokens.items():
            if hmac.compare_digest(given, expected) and found is None:
                found = name
        return found

    def issue(self, name: str) -> tuple[str, Session]:
        """A new session of `name` (a name `identify` gave) and its cookie value."""
        nonce = secrets.token_urlsafe(18)
        cookie = self._cookies.dumps({"n": name, "k": self._fingerprint(name), "c": nonce})
        issued = self._clock().replace(microsecond=0)
        return cookie, Session(name, nonce, issued, issued + self.ttl)

    def read(self, cookie: str) -> Session | None:
        """The session of a cookie value; None when forged, altered, expired, of a name without
        a token or with a changed one, or signed out."""
        try:
            data, signed = self._cookies.loads(
                cookie, max_age=int(self.ttl.total_seconds()), return_timestamp=True
            )
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "nkc"):
            return None
        name, nonce = data["n"], data["c"]
        if name not in self._tokens or data["k"] != self._fingerprint(name):
            return None
        if nonce in self._revoked:
            return None
        issued = signed.astimezone(UTC)
        return Session(name, nonce, issued, issued + self.ttl)

    def csrf(self, session: Session) -> str:
        """The CSRF token of the session's forms."""
        return hmac.new(self._key, b"csrf:" + session.nonce.encode(), "sha256").hexdigest()

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self.csrf(session).encode()
        )

    def revoke(self, session: Session) -> None:
        """Sign the session out in this process, until it would have expired anyway."""
        now = self._clock()
        self._revoked = {n: at for n, at in self._revoked.items() if at > now}
        while len(self._revoked) >= _REVOKED_MAX:
            del self._revoked[min(self._revoked, key=self._revoked.__getitem__)]
        self._revoked[session.nonce] = session.expires

    def _fingerprint(self, name: str) -> str:
        return hmac.new(self._key, b"token:" + self._tokens[name], "sha256").hexdigest()[:16]


def derive_key(tokens: Mapping[str, str]) -> bytes:
    """A signing key from the tokens alone: the same on every daemon that has them."""
    material = "\n".join(f"{name}:{token}" for name, token in sorted(tokens.items()))
    return hmac.new(b"monitor session key v1", material.encode(), "sha256").digest()


class Throttle:
    """At most `failures` wrong tokens from one address within `window`; past that the address
    is refused, right token or wrong, until its oldest failure leaves the window."""

    def __init__(
        self,
        *,
        failures: int,
        window: timedelta,
        clock: Callable[[], datetime],
        addresses: int = 10_000,
    ) -> None:
        self.failures, self.window, self._clock = failures, window, clock
        self._addresses = addresses
        self._seen: dict[str, deque[datetime]] = {}

    def wait(self, address: str) -> timedelta | None:
        """How long `address` must wait before trying again; None: it may try now."""
        times = self._recent(address)
        if len(times) < self.failures:
            return None
        return times[0] + self.window - self._clock()

    def failed(self, address: str) -> None:
        if address not in self._seen and len(self._seen) >= self._addresses:
            for other in list(self._seen):
                if not self._recent(other):
                    del self._seen[other]
            if len(self._seen) >= self._addresses:  # every one recent: forget the first
                del self._seen[next(iter(self._seen))]
        self._seen.setdefault(address, deque(maxlen=self.failures)).append(self._clock())

    def _recent(self, address: str) -> deque[datetime]:
        times = self._seen.get(address, deque())
        while times and times[0] <= self._clock() - self.window:
            times.popleft()
        return times
