"""Immediate alerts of status changes through Apprise (Slack, Telegram, ntfy, Matrix, e-mail,
JSON webhooks…), to the URLs in MONITOR_NOTIFY_URLS.

    build_alert(change, indicator_title) -> Alert          pure, in `monitor.alerttext`
    Notifier(urls).notify(alerts) -> list[NotifyFailure]   retries each channel; never raises
    Notifier(urls).deliver(alert, skip) -> Delivery        one alert, channel by channel (keys)

A channel that answers 429 or 503 with Retry-After is not tried again (by this Notifier, for
any alert) before the time it names, at most RETRY_AFTER_MAX ahead; `Delivery.not_before` says
when, for the outbox to schedule the alert's next try no earlier, and `Delivery.rests` what this
delivery was told, for the outbox to share with every process on the database; `heed` takes
in what the others were told.

The daemon's alerts go through the outbox in the database (`monitor.alerts`), which calls
`deliver`: a channel that accepted an alert is remembered by its `channel_key`, so a retry
sends only to the channels that did not.

Apprise is imported here and nowhere else. Channels are named by scheme://host[:port] in
failures and logs, never by their full URL (it usually carries a token).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import base64mime, quoprimime
from typing import Any
from urllib.parse import unquote, urlsplit

import apprise

from monitor.alerthttp import exchange
from monitor.alerttext import Alert
from monitor.chattext import for_chat, sent_as_markdown, title_for_chat
from monitor.counts import count
from monitor.domain import utcnow
from monitor.fetch import parse_retry_after

log = logging.getLogger(__name__)

RETRY_AFTER_MAX = timedelta(hours=1)  # a channel's Retry-After is honoured up to this
RESTING = "resting: "  # how the failure of an alert not sent to a resting channel begins
SUBJECT_LINE_MAX = 998  # RFC 5322 2.1.1: the longest line of a message, without its CRLF
SUBJECT_MAX = 250  # characters of a title Apprise's e-mail keeps (its cut, at the end)


@dataclass(frozen=True)
class NotifyFailure:
    channel: str  # scheme://host[:port]; no credentials
    alert: str  # the alert's title
    attempts: int  # 0 when the channel was not tried (bad URL, or it failed earlier in the batch)
    error: str


def _subject_line(subject: str) -> int:
    """How long Apprise's e-mail writes the line `Subject: …`: unfolded (it flattens the
    message with no header folding), and when not ASCII one RFC 2047 encoded-word of UTF-8,
    quoted-printable (9 bytes a Chinese, Japanese or Korean character; counted as base64 when
    that is longer)."""
    raw = subject.encode()
    if raw.isascii():
        return len("Subject: ") + len(raw)
    encoded = max(quoprimime.header_length(raw), base64mime.header_length(raw))
    return len("Subject: =?utf-8?q??=") + encoded


def fitted_subject(title: str) -> str:
    """An alert's title as an e-mail subject: as written when it fits, else its indicator's
    title cut with "…" and the status after it kept, so that the Subject line stays within
    SUBJECT_LINE_MAX (a longer one was refused, `500 Line too long`, at every retry) and
    SUBJECT_MAX characters (Apprise's own cut took the status)."""

    def fits(text: str) -> bool:
        return len(text) <= SUBJECT_MAX and _subject_line(text) <= SUBJECT_LINE_MAX

    if fits(title):
        return title
    head, sep, status = title.rpartition(": ")
    head, status = (head, sep + status) if sep else (title, "")
    shortest, longest = 0, len(head)  # the longest head[:n] that fits, found by halving
    while shortest < longest:
        middle = (shortest + longest + 1) // 2
        if fits(head[:middle].rstrip() + "…" + status):
            shortest = middle
        else:
            longest = middle - 1
    fitted = head[:shortest].rstrip() + "…" + status
    while not fits(fitted):  # a status that long alone: cut at its end
        fitted = fitted[:-1]
    return fitted


# ---------------------------------------------------------------- channels


def channel_name(url: str) -> str:
    """A name for a channel that is safe to log: scheme://host[:port] when the host looks like a
    host name or address ('json://hooks.example.org:8080'), else the scheme alone
    ('tgram://...'): many Apprise URLs put their token where the host goes."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,30}", scheme):
        return "unknown://..."
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:  # 'tgram://123456:ABC-token/...' has no numeric port
        return f"{scheme}://..."
    if host == "localhost" or "." in host or ":" in host:
        return f"{scheme}://{host}" + (f":{port}" if port else "")
    return f"{scheme}://..."


_PORT = re.compile(r"^[^:/?#]+://(?:[^@/?#]*@)?(?:\[[^\]/?#]*\]|[^:/?#@]*):(\d+)(?:[/?#]|$)")


def unknown_urls(urls: Sequence[str]) -> str | None:
    """Why MONITOR_NOTIFY_URLS cannot work, naming each URL Apprise does not know by its
    position and `channel_name` (never a secret), else None: alerts to it would never go out.
    A port no server can listen on (Apprise takes `:99999`) is one too, and an item that is
    no URL at all is most often the tail of one cut at a comma it holds (`?to=a@x,b@y`)."""
    apprise_log = logging.getLogger("apprise")
    level, apprise_log.level = apprise_log.level, logging.CRITICAL + 1  # its own error line
    try:
        unknown = [
            (n, url) for n, url in enumerate(urls, 1) if apprise.Apprise.instantiate(url) is None
        ]
    finally:
        apprise_log.level = level
    setting = "settings: MONITOR_NOTIFY_URLS"
    if cut := [n for n, url in unknown if "://" not in url]:
        return (
            f"{setting}: item {cut[0]} is not a URL: a comma inside a URL (several targets, "
            '?to=a@x,b@y) cuts it in two; give the list as JSON (["mailto://…?to=a@x,b@y"])'
        )
    if unknown:
        names = ", ".join(f"item {n} ({channel_name(url)})" for n, url in unknown)
        return (
            f"{setting}: {names} is not a URL Apprise knows "
            "(e.g. ntfy://ntfy.sh/TOPIC, json://hooks.example.org/alerts)"
        )
    for n, url in enumerate(urls, 1):
        if (port := _PORT.match(url)) and not 0 < int(port.group(1)) < 65536:
            return (
                f"{setting}: item {n} ({channel_name(url)}) names port {port.group(1)}, "
                "which no server listens on (1-65535)"
            )
    return None


def _secrets(url: str) -> list[str]:
    """Pieces of a URL that may be credentials: user info, path segments, query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = [parts.username or "", parts.password or "", *parts.path.split("/")]
    pieces += [pair.partition("=")[2] for pair in parts.query.split("&")]
    if channel_name(url).endswith("://..."):  # the host is a token
        pieces += [parts.netloc, *parts.netloc.split(":")]
    found = {unquote(p) for p in pieces if len(p) >= 4} | {p for p in pieces if len(p) >= 4}
    return sorted(found, key=len, reverse=True)


def _shown(location: str, most: int = 120) -> str:
    """A redirect's Location in a failure, cut to leave room for the rest (`_scrub` keeps 300)."""
    return location if len(location) <= most else location[: most - 1] + "…"


def _scrub(text: str, url: str) -> str:
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text[:300]


class _SecretFilter(logging.Filter):
    """Scrubs the secrets of every channel made in this process from the records the libraries
    under Apprise write: at DEBUG, Apprise logs the URL it posts to and urllib3 each request's
    path, where many services (and `json://` webhooks) carry their token."""

    LOGGERS = (
        "apprise",
        "urllib3.connectionpool",
        "urllib3.connection",
        "urllib3.poolmanager",
        "urllib3.util.retry",
        "urllib3.response",
    )

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()  # replaced whole, so a reading thread sees one

    def add(self, url: str) -> None:
        found = set(self.secrets) | set(_secrets(url))
        self.secrets = tuple(sorted(found, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets
        if secrets:
            message = record.getMessage()
            scrubbed = message
            for secret in secrets:
                scrubbed = scrubbed.replace(secret, "***")
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


_SECRET_FILTER = _SecretFilter()
for _name in _SecretFilter.LOGGERS:
    logging.getLogger(_name).addFilter(_SECRET_FILTER)


def channel_key(url: str) -> str:
    """A stable name of a channel that reveals nothing of its URL: what the outbox stores."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Delivery:
    """One alert sent channel by channel: the keys of those that have it, and the failures;
    `failed` the channels tried that did not take it (key, error); `not_before` the latest
    time a channel that does not have it asked to be left alone until (Retry-After), if any;
    `rests` the channels that asked so in this delivery (key, until)."""

    done: tuple[str, ...]
    failures: tuple[NotifyFailure, ...]
    failed: tuple[tuple[str, str], ...] = ()
    not_before: datetime | None = None
    rests: tuple[tuple[str, datetime], ...] = ()


@dataclass
class _Channel:
    url: str
    name: str
    apprise: apprise.Apprise | None  # None: Apprise does not understand the URL
    key: str = ""
    safe_redirects: bool = True  # only a 307 or 308 to the same host; False: the URL's redirect=
    chat: str = ""  # a chat service whose messages ping and render Markdown (`chattext.CHATS`)
    email: bool = False  # Apprise's e-mail (mailto://): the title is a Subject (`fitted_subject`)


# The Apprise plugins of the chat services `chattext` makes alerts inert for (their native
# https:// URLs make the same plugins as discord://, slack:// and mmost://; Guilded's webhooks
# are Discord's; Mastodon's and Misskey's posts notify whoever they mention).
_CHAT_PLUGINS = {
    "NotifyDiscord": "discord",
    "NotifyGuilded": "discord",
    "NotifyNotifiarr": "discord",  # its bot posts to Discord, pinging the mentions it finds
    "NotifySlack": "slack",
    "NotifyMattermost": "mattermost",
    "NotifyMatrix": "matrix",
    "NotifyRocketChat": "rocketchat",
    "NotifyZulip": "zulip",
    "NotifyGoogleChat": "googlechat",
    "NotifyTelegram": "telegram",
    "NotifyNextcloudTalk": "nextcloudtalk",
    "NotifyMastodon": "mastodon",
    "NotifyMisskey": "misskey",
    "NotifyRevolt": "revolt",
    "NotifyWebexTeams": "webex",
    "NotifyCliq": "cliq",
    "NotifyTwist": "twist",
    "NotifyKook": "kook",
    "NotifyRyver": "ryver",
    "NotifyLark": "lark",
    "NotifyFeishu": "lark",
    "NotifyHumHub": "humhub",
    "NotifySynology": "synology",
    "NotifyStackfield": "stackfield",
    "NotifyReddit": "reddit",
    "NotifyBale": "bale",
    "NotifySessionOGS": "session",
    "NotifyFluxer": "fluxer",
    "NotifyGitHub": "github",
    "NotifyTwitter": "x",
    "NotifyWorkflows": "teams",  # it makes each `<at>id</at>` of the text a Teams mention
    "NotifyServerChan": "serverchan",  # Markdown, which Apprise passes on as it is
}
# These render an alert as Markdown only when the URL says `format=markdown` (else as plain text
# or HTML, which Apprise escapes): then they get it made inert here, addresses whole.
_MARKDOWN_PLUGINS = {
    "NotifyGotify": "gotify",
    "NotifyPushplus": "pushplus",
    "NotifyWxPusher": "wxpusher",
}


# Plain text, or Markdown `chattext` made inert (Apprise's own escaping of plain text into
# Markdown puts a backslash inside every address, which broke the link).
_FORMATS = {False: apprise.NotifyFormat.TEXT, True: apprise.NotifyFormat.MARKDOWN}

READ_TIMEOUT_SHARE = 2 / 3  # of a Notifier's timeout, each request waits for an answer


def _channel(url: str, read_timeout: float) -> _Channel:
    """The channel of a URL, its requests waiting `read_timeout` seconds for an answer unless
    the URL sets `rto`: Apprise's own 4 s gave up on a receiver slower than that, which then
    got the alert again at every retry though it had taken it each time.

    An alert longer than its service takes (Discord's 2,000 characters, Telegram's 4,096,
    Pushover's 1,024) is cut to fit unless the URL sets `overflow=`: Apprise's own default
    passed it on whole, the service refused it, and it failed at every retry. Its head, which
    says what changed and links the page, is kept.

    A 307 or 308 to the same host is followed (it keeps the POST and its body); other redirects
    are not, unless the URL says `redirect=yes` (`redirect=no`: none is): requests follows a
    301, 302 or 303 of a POST with a GET that carries no alert, and a new address that answered
    that GET 200 had the alert marked sent though it never arrived; and another host would get
    the channel's secrets (`monitor.alerthttp`). Unfollowed, a redirect is a failure naming its
    status, and the alert waits until the URL is fixed."""
    _SECRET_FILTER.add(url)
    asset = apprise.AppriseAsset(storage_mode="memory", http_redirects=True)
    client = apprise.Apprise(asset=asset)
    ok = client.add(url)
    query = urlsplit(url).query if ok else ""
    for service in client if ok else ():
        if "rto=" not in query:
            service.socket_read_timeout = read_timeout
        if "overflow=" not in query:
            service.overflow_mode = apprise.OverflowMode.TRUNCATE
    name, key = channel_name(url), channel_key(url)
    chat = next((_chat(service) for service in client), "") if ok else ""
    email = ok and any(type(service).__name__ == "NotifyEmail" for service in client)
    return _Channel(url, name, client if ok else None, key, "redirect=" not in query, chat, email)


def _chat(service: Any) -> str:
    """The `chattext` chat an Apprise service is, or ''."""
    plugin = type(service).__name__
    if service.notify_format == apprise.NotifyFormat.MARKDOWN and plugin in _MARKDOWN_PLUGINS:
        return _MARKDOWN_PLUGINS[plugin]
    return _CHAT_PLUGINS.get(plugin, "")


class Notifier:
    """Sends alerts to every channel, retrying a failing one `attempts` times with exponential
    back-off. A channel that still fails is skipped for the rest of the batch. Never raises.
    Not thread-safe: use one per thread."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        attempts: int = 3,
        backoff: float = 1.0,
        timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = [_channel(url, timeout * READ_TIMEOUT_SHARE) for url in urls]
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.resting: dict[str, datetime] = {}  # channel key -> not tried before (Retry-After)

    def heed(self, rests: Mapping[str, datetime], *, now: datetime) -> None:
        """Leave alone the channels other processes were told to (key -> not before, from the
        database), RETRY_AFTER_MAX after `now` at most: a time written by a host whose clock
        runs ahead, or a version with another cap, holds no longer. Logs once what it learns."""
        names = {c.key: c.name for c in self.channels}
        for key, until in rests.items():
            until = min(until, now + RETRY_AFTER_MAX)
            if key not in names or until <= max(self.resting.get(key, now), now):
                continue
            self.resting[key] = until
            log.info(
                "notify: %s: not tried before %s UTC: it asked another process to wait"
                " (Retry-After)", names[key], f"{until:%Y-%m-%d %H:%M:%S}",
            )  # fmt: skip

    def notify(self, alerts: Iterable[Alert]) -> list[NotifyFailure]:
        alerts = list(alerts)
        failures: list[NotifyFailure] = []
        for channel in self.channels:
            failures += self._notify_channel(channel, alerts)
        for failure in failures:
            log.warning(
                "notify: %s: %r not delivered after %s: %s",
                failure.channel, failure.alert, count(failure.attempts, "attempt"), failure.error,
            )  # fmt: skip
        return failures

    def deliver(
        self,
        alert: Alert,
        *,
        skip: Iterable[str] = (),
        down: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Delivery:
        """Send one alert to every channel whose key is not in `skip` (those that have it
        already) nor in `down` (key -> why: those found failing a moment ago, not tried again),
        nor resting (it asked to wait, Retry-After, until after `clock()`). `done` holds the keys
        of the channels that have it now. Never raises."""
        done = [key for key in skip if key in {c.key for c in self.channels}]
        failures, failed, skipped, rests, told = [], [], [], [], []
        for channel in self.channels:
            if channel.key in done:
                continue
            if down and channel.key in down:  # its failure was logged when it was tried
                why = f"not tried: {down[channel.key]}"
                skipped.append(NotifyFailure(channel.name, alert.title, 0, why))
                continue
            if (until := self.resting.get(channel.key)) and until > clock():
                why = f"{RESTING}it asked not to be tried before {until:%Y-%m-%d %H:%M:%S} UTC"
                skipped.append(NotifyFailure(channel.name, alert.title, 0, why))
                rests.append(until)
                continue
            if channel.apprise is None:
                failures.append(
                    NotifyFailure(channel.name, alert.title, 0, "not a URL Apprise knows")
                )
                continue
            before = self.resting.get(channel.key)
            error = self._send(channel, channel.apprise, alert, clock)
            if error:
                failures.append(NotifyFailure(channel.name, alert.title, self.attempts, error))
                failed.append((channel.key, error))
                if (until := self.resting.get(channel.key)) and until > clock():
                    rests.append(until)
                    if until != before:
                        told.append((channel.key, until))
            else:
                done.append(channel.key)
        for failure in failures:
            log.warning(
                "notify: %s: %r not delivered after %s: %s",
                failure.channel, failure.alert, count(failure.attempts, "attempt"), failure.error,
            )  # fmt: skip
        not_before = max(rests, default=None)
        return Delivery(tuple(done), (*failures, *skipped), tuple(failed), not_before, tuple(told))

    def _notify_channel(self, channel: _Channel, alerts: list[Alert]) -> list[NotifyFailure]:
        if channel.apprise is None:
            return [
                NotifyFailure(channel.name, a.title, 0, "not a URL Apprise knows") for a in alerts
            ]
        failures: list[NotifyFailure] = []
        down = ""
        for alert in alerts:
            if down:
                failures.append(NotifyFailure(channel.name, alert.title, 0, f"skipped: {down}"))
                continue
            error = self._send(channel, channel.apprise, alert, utcnow)
            if error:
                failures.append(NotifyFailure(channel.name, alert.title, self.attempts, error))
                down = error
        return failures

    def _send(
        self,
        channel: _Channel,
        client: apprise.Apprise,
        alert: Alert,
        clock: Callable[[], datetime],
    ) -> str:
        """'' when delivered, else the last error. A channel that asks to wait longer than the
        next attempt's back-off is not tried again in this call."""
        error = ""
        for attempt in range(1, self.attempts + 1):
            error, retry_after = self._try(channel, client, alert)
            if not error:
                return ""
            wait = self._rest(channel, retry_after, clock())
            if wait is not None:
                error += f" (it asked to wait {int(wait.total_seconds())} s: Retry-After)"
            if attempt < self.attempts:
                delay = self.backoff * 2 ** (attempt - 1)
                if wait is not None and wait.total_seconds() > delay:
                    break
                log.info("notify: %s: %s (attempt %d, retrying)", channel.name, error, attempt)
                self.sleep(delay)
        return error

    def _rest(self, channel: _Channel, retry_after: str | None, now: datetime) -> timedelta | None:
        """How long a channel asked to be left alone (Retry-After, at most RETRY_AFTER_MAX),
        remembered in `resting`; None when it did not ask."""
        wait = parse_retry_after(retry_after, now=now)
        if wait is None:
            return None
        wait = min(wait, RETRY_AFTER_MAX)
        self.resting[channel.key] = now + wait
        return wait

    def _try(
        self, channel: _Channel, client: apprise.Apprise, alert: Alert
    ) -> tuple[str, str | None]:
        """('', None) when delivered, else the error and the Retry-After of a 429 or 503."""
        try:
            with exchange(safe_redirects=channel.safe_redirects) as seen:
                title = title_for_chat(alert.title, channel.chat)
                result = client.notify(  # headlines are strangers' text: no pings, no links
                    body=for_chat(alert.body, channel.chat),
                    title=fitted_subject(title) if channel.email else title,
                    body_format=_FORMATS[sent_as_markdown(channel.chat)],
                    timeout=self.timeout,
                )
        except Exception as exc:  # a plugin bug must not escape into the check path
            return _scrub(f"{type(exc).__name__}: {exc}", channel.url), None
        if result:
            return "", None
        messages = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
        error = messages[-1] if messages else "delivery failed"
        if seen.refused or re.search(r"\berror=3\d\d\b", error):
            why = f"not followed: {seen.refused}" if seen.refused else "a redirect"
            to = f"; it points to {_shown(seen.location)}" if seen.location else ""
            error += f" ({why}{to}: give the URL it points to, or add redirect=yes to follow it)"
        retry_after = seen.retry_after if seen.status in (429, 503) else None
        return _scrub(error, channel.url), retry_after


__all__ = [
    "RESTING",
    "RETRY_AFTER_MAX",
    "Delivery",
    "Notifier",
    "NotifyFailure",
    "channel_key",
    "channel_name",
    "fitted_subject",
]
