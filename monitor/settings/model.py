"""Every setting: its field on `Settings`, its default, the form its value is written in and
what a wrong one is told; each field's description is the README's text for it. Built once, by
`startup.load_settings` at the edge (the CLI), and its values passed down.
"""

from __future__ import annotations

import json
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from monitor.domain import TooLong, format_duration, parse_duration
from monitor.links import without_password
from monitor.mailaddress import email_address

CommaList = Annotated[list[str], NoDecode]
TokenMap = Annotated[dict[str, SecretStr], NoDecode]
API_TOKEN_NAME = "api"  # the name MONITOR_API_TOKEN's verdicts record
SESSION_SECRET_MIN = 32
SMTP_TLS_PORT = 465  # submission over implicit TLS (RFC 8314)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        "sqlite:///data/monitor.db",
        description="Database URL: a SQLite file, or `postgresql+psycopg://user@host/db` for "
        "PostgreSQL (nothing else, and no database in memory).",
    )
    indicators_dir: Path = Field(Path("indicators"), description="Folder of indicator YAML files.")
    feeds_file: Path = Field(Path("config/feeds.yaml"), description="The feeds file.")
    check_interval: timedelta = Field(
        timedelta(minutes=15), description="How often a feed is checked unless it sets `interval`."
    )
    check_jitter: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Each next check is pushed back by a random part of the interval up to "
        "this fraction, so feeds are not all fetched in one burst.",
    )
    tick_interval: timedelta = Field(
        timedelta(seconds=10),
        description="How often `monitor run` looks for due feeds, a due digest and changed "
        "definitions.",
    )
    fetch_concurrency: int = Field(
        16, ge=1, le=256, description="Feeds fetched at once, and so connections open at once."
    )
    fetch_keepalive: int = Field(
        16,
        ge=0,
        le=256,
        description="Idle connections kept for reuse (at most FETCH_CONCURRENCY); the others "
        "are closed as soon as their answer is read.",
    )
    fetch_keepalive_expiry: timedelta = Field(
        timedelta(seconds=5), description="How long an idle connection is kept for reuse."
    )
    cycle_deadline: timedelta = Field(
        timedelta(minutes=10),
        description="Longest time one check cycle may fetch; feeds not fetched by then are "
        "released and checked at the next tick.",
    )
    fetch_timeout: timedelta = Field(
        timedelta(seconds=20), description="Connect and read timeout of one request."
    )
    fetch_total_timeout: timedelta = Field(
        timedelta(seconds=60), description="Longest time one feed's fetch may take in all."
    )
    parse_timeout: timedelta = Field(
        timedelta(seconds=60), description="Most CPU time one feed body's parse may take."
    )
    parse_max_memory: int = Field(
        1_000_000_000, ge=200_000_000, description="Most address space of a parse worker, bytes."
    )
    max_body_bytes: int = Field(
        10_000_000, ge=1024, description="Largest feed body accepted, after decompression."
    )
    max_backoff: timedelta = Field(
        timedelta(hours=6), description="Longest wait between checks of a failing feed."
    )
    feed_lease: timedelta = Field(
        timedelta(minutes=5),
        description="How long a daemon's claim on due feeds lasts; renewed three times per "
        "lease while it works on them, so the feeds of a daemon that dies are checked by the "
        "others once it runs out.",
    )
    feed_silent_after: timedelta = Field(
        timedelta(days=14),
        description="A feed that brings no new entry for longer than this (14 days) is shown "
        "as silent, unless it sets `silent_after`; `0`: never. It changes no status.",
    )
    user_agent: str = Field(
        "monitor/0.1 (news indicator monitor)",
        description="User-Agent header sent with every request.",
    )
    http_host: str = Field("127.0.0.1", description="Address the HTTP endpoint binds to.")
    http_port: int = Field(8000, ge=0, le=65535, description="Port of the HTTP endpoint.")
    http_allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Host header values the HTTP endpoint answers, comma-separated, each a name "
        "or address with or without `:port` (`*.example.org` for its subdomains, `*` for any); "
        "other hosts get 400, a defence against DNS rebinding. Unset: the bind address, on any "
        "port; `localhost`, `127.0.0.1`, `[::1]` and PUBLIC_URL's host are allowed either way.",
    )
    http_max_connections: int = Field(
        100,
        ge=1,
        description="Open HTTP connections at most; a new one closes the connection that has "
        "waited longest without a request in progress.",
    )
    http_max_header_bytes: int = Field(
        32768,
        ge=1024,
        description="Largest request line and headers accepted, in bytes; larger gets 431.",
    )
    http_max_headers: int = Field(
        100, ge=1, description="Most header lines accepted in one request; more gets 431."
    )
    http_max_body_bytes: int = Field(
        65536,
        ge=1024,
        description="Largest request body accepted, in bytes (verdicts and the page's forms); "
        "larger gets 413 before any endpoint reads it.",
    )
    http_header_timeout: timedelta = Field(
        timedelta(seconds=10),
        description="A connection that has not sent a request's complete headers this long "
        "after it opened or began the request is closed (slow or idle clients).",
    )
    http_keepalive_timeout: timedelta = Field(
        timedelta(seconds=5),
        description="An idle connection is closed this long after its last answer.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="A token named `api`: with it (or API_TOKENS) set, every endpoint but "
        "/healthz needs `Authorization: Bearer <token>` or a browser signed in at /signin.",
    )
    api_tokens: TokenMap = Field(
        default_factory=dict,
        description='Named tokens, `name:token,…` or a JSON object (`{"alice": "…"}`) '
        'or list (`["alice:…"]`); each works as API_TOKEN does, and a verdict records the '
        "name of the token that made it.",
    )
    session_ttl: timedelta = Field(
        timedelta(hours=12),
        description="How long a browser stays signed in after /signin (the cookie's expiry).",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="The key that signs session cookies, at least 32 characters; unset: derived "
        "from the tokens, so sessions survive a restart and end when a token changes.",
    )
    health_max_age: timedelta | None = Field(
        None,
        description="/healthz answers 503 when the last successful check cycle is older than "
        "this; unset: three times the shortest feed interval (a feed's `interval`, else "
        "CHECK_INTERVAL), or TICK_INTERVAL if longer.",
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for the digest; unset: digests go to OUTBOX_DIR."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP login user; unset: no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP login password.")
    smtp_starttls: bool = Field(
        True,
        description="Upgrade the SMTP connection with STARTTLS when the server offers it; with "
        "SMTP_USERNAME set, a server that does not is refused rather than sent the password in "
        "clear.",
    )
    smtp_ssl: bool | None = Field(
        None,
        description="Connect with implicit TLS, TLS from the first byte (set SMTP_PORT too); "
        "unset: on when SMTP_PORT is 465, the port of implicit TLS, off otherwise.",
    )
    digest_from: str = Field("monitor@localhost", description="From address of the digest.")
    public_url: str | None = Field(
        None,
        description="Where readers reach the page (e.g. https://monitor.example.org/): the "
        "digest, change alerts and Atom feeds link each indicator to its page there; unset, "
        "the digest and alerts do not.",
    )
    digest_to: CommaList = Field(
        default_factory=list,
        description="Digest recipients, comma-separated or a JSON list; each one is named in "
        "the digest's `To:` header. Empty while SMTP_HOST is set, no digest can be sent.",
    )
    digest_time: time = Field(time(7, 0), description="Local time of day the digest is sent.")
    timezone: str = Field("UTC", description="IANA time zone of DIGEST_TIME and digest dates.")
    outbox_dir: Path = Field(
        Path("data/outbox"), description="Where digests go as .eml files when SMTP_HOST is unset."
    )
    notify_urls: CommaList = Field(
        default_factory=list,
        description="Apprise URLs notified of each status change at once, comma-separated.",
    )
    retention: timedelta = Field(
        timedelta(days=365),
        description="How long entries, matches outside every window, status changes, check "
        'cycles and daily digests are kept (see "Retention").',
    )
    log_format: Literal["text", "json"] = Field("text", description="`text` or `json` logs.")
    log_level: str = Field(
        "INFO", description="Logging level: `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`."
    )

    @field_validator(
        "check_interval",
        "fetch_keepalive_expiry",
        "max_backoff",
        "tick_interval",
        "http_keepalive_timeout",
        "session_ttl",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        return _as_duration(value)

    @field_validator(
        "fetch_timeout",
        "fetch_total_timeout",
        "parse_timeout",
        "cycle_deadline",
        "feed_lease",
        "http_header_timeout",
        "retention",
        mode="before",
    )
    @classmethod
    def _some_time(cls, value: object, info: ValidationInfo) -> timedelta:
        """A duration above zero: with none, every fetch times out, a cycle fetches nothing, a
        claim on feeds ends as it is made, a connection is closed before its request, and each
        clean-up deletes the history (where `0` means never for FEED_SILENT_AFTER)."""
        duration = _as_duration(value)
        if duration <= timedelta(0):
            default = cls.model_fields[str(info.field_name)].default
            raise ValueError(f"{value!r} is no time at all (e.g. {format_duration(default)})")
        return duration

    @field_validator("feed_silent_after", mode="before")
    @classmethod
    def _duration_or_off(cls, value: object) -> timedelta:
        """A duration, or `0`: off."""
        if (isinstance(value, str) and value.strip() == "0") or value == 0:
            return timedelta(0)
        try:
            return _as_duration(value)
        except TooLong:
            raise
        except ValueError:
            raise ValueError(f"{value!r} is not a duration (e.g. 14d, 3w; 0: off)") from None

    @field_validator(
        "api_token",
        "session_secret",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "smtp_ssl",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`MONITOR_X=` (as `monitor init`'s .env has it, uncommented) is the same as unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def smtp_implicit_tls(self) -> bool:
        """SMTP_SSL as set, else whether SMTP_PORT is 465 (RFC 8314): a plain client there
        waits for a greeting the server, waiting for a TLS hello, never sends, until it times
        out with "Connection unexpectedly closed"."""
        return self.smtp_ssl if self.smtp_ssl is not None else self.smtp_port == SMTP_TLS_PORT

    @field_validator("session_ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("a session lasts at least 1m (e.g. 12h)")
        return value

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _token_map(cls, value: object, info: ValidationInfo) -> dict[str, SecretStr]:
        single = info.data.get("api_token")
        return _named_tokens(value, single.get_secret_value() if single else None)

    @field_validator("session_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < SESSION_SECRET_MIN:
            raise ValueError(
                f"shorter than {SESSION_SECRET_MIN} characters (e.g. the output of "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("health_max_age", mode="before")
    @classmethod
    def _optional_duration(cls, value: object) -> timedelta | None:
        """Unset, or a duration above zero (with none, /healthz would always answer 503)."""
        if value is None or value == "":
            return None
        duration = _as_duration(value)
        if duration <= timedelta(0):
            raise ValueError(f"{value!r} is no time at all (e.g. 45m)")
        return duration

    @field_validator("digest_to", "notify_urls", "http_allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> list[str]:
        """A JSON list (pydantic-settings' convention for lists) or comma-separated values."""
        if isinstance(value, str) and value.lstrip().startswith("["):
            raw = value
            try:
                value = json.loads(raw)
            except ValueError:
                raise ValueError(f"{raw!r} is not a JSON list of strings") from None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{raw!r} is not a JSON list of strings")
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError(f"{value!r} is not a list")
        return [str(part).strip() for part in value if str(part).strip()]

    @field_validator("digest_to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [email_address(address) for address in value]

    @field_validator("digest_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        return email_address(value)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme, sep, rest = value.strip().partition("://")
        backend = scheme.partition("+")[0].lower()
        if sep and backend == "postgres":  # SQLAlchemy reads no postgres://
            shown = without_password(value).partition("://")[2]
            raise ValueError(
                f"{without_password(value)!r} is PostgreSQL written as libpq and Heroku write it: "
                f"write postgresql+psycopg://{shown}"
            )
        if not sep or backend not in ("sqlite", "postgresql"):
            raise ValueError(
                f"{without_password(value)!r} is neither SQLite nor PostgreSQL (e.g. "
                "sqlite:///data/monitor.db, "
                "postgresql+psycopg://monitor@db/monitor)"
            )
        if backend == "sqlite" and rest.partition("?")[0] in ("", "/", "/:memory:"):
            raise ValueError(
                f"{value!r} is a database in memory, forgotten when the command ends: name a "
                "file (e.g. sqlite:///data/monitor.db)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        text = value.strip()
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"{value!r} is not an http(s) address (e.g. https://monitor.example.org/)"
            )
        # The scheme in lower case (urlsplit's): HTTPS:// is https://, and what tells whether
        # the session cookie is Secure reads it so.
        return parts.scheme + text[len(parts.scheme) :].rstrip("/") + "/"

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level ({', '.join(LOG_LEVELS)})")
        return value.upper()

    @field_validator("digest_time", mode="wrap")
    @classmethod
    def _local_time(cls, value: object, parse: ValidatorFunctionWrapHandler) -> time:
        """A time of day in MONITOR_TIMEZONE: an offset given with it would be ignored."""
        found: time = parse(value)
        if found.tzinfo is not None:
            raise ValueError(
                f"{value!r} has an offset, and the digest time is one of MONITOR_TIMEZONE "
                "(e.g. 07:00 with MONITOR_TIMEZONE=Asia/Seoul)"
            )
        return found

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a time zone (e.g. UTC, Asia/Seoul)") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def named_tokens(self) -> dict[str, str]:
        """Every token by its name: API_TOKEN as `api`, then API_TOKENS; empty: no auth."""
        single = {API_TOKEN_NAME: self.api_token} if self.api_token else {}
        return {name: t.get_secret_value() for name, t in (single | self.api_tokens).items()}


# ---------------------------------------------------------------- the forms values take

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _as_duration(value: object) -> timedelta:
    try:
        return parse_duration(value)  # type: ignore[arg-type]
    except TooLong:
        raise
    except ValueError:
        raise ValueError(f"{value!r} is not a duration (e.g. 15m, 1h)") from None


_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_TOKENS_FORM = 'name:token,… or a JSON object {"name": "token"}'


def _named_tokens(value: object, single: str | None) -> dict[str, SecretStr]:
    """MONITOR_API_TOKENS as {name: token}. Messages name items by position, never a token."""
    pairs = _token_pairs(value)
    found: dict[str, str] = {}
    for n, (name, token) in enumerate(pairs, 1):
        name, token = name.strip(), token.strip()
        if not _TOKEN_NAME.fullmatch(name) or not token:
            raise ValueError(
                f"item {n} is not name:token with a name of letters, digits, _.@- "
                f"(expected {_TOKENS_FORM})"
            )
        if name in found or (name == API_TOKEN_NAME and single is not None):
            by = "MONITOR_API_TOKEN" if name not in found else "an earlier item"
            raise ValueError(f"item {n}: the name {name!r} is taken by {by}")
        same = [other for other, t in found.items() if t == token]
        if same or token == single:
            other = same[0] if same else API_TOKEN_NAME
            raise ValueError(f"item {n} ({name!r}) has the same token as {other!r}")
        found[name] = token
    return {name: SecretStr(token) for name, token in found.items()}


def _token_pairs(value: object) -> list[tuple[str, str]]:
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"not valid JSON (expected {_TOKENS_FORM})") from None
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if isinstance(value, dict):
        items = list(value.items())
        if all(isinstance(k, str) and isinstance(v, str | SecretStr) for k, v in items):
            return [(k, v if isinstance(v, str) else v.get_secret_value()) for k, v in items]
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [(part.partition(":")[0], part.partition(":")[2]) for part in value]
    raise ValueError(f"not {_TOKENS_FORM} (every name and token a string)")
