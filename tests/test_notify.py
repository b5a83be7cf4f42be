"""Change alerts through Apprise, against a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest

from monitor.alerttext import Alert, build_alert
from monitor.domain import Evidence, StatusChange
from monitor.notify import Notifier, _scrub, channel_name
from tests.webhook import Request, Webhook, closed_port, running_webhook

pytestmark = pytest.mark.filterwarnings("ignore:.imghdr. is deprecated:DeprecationWarning")

LINK = "https://en.yna.co.kr/view/AEN20260106"


def sample_change(evidence_count: int = 1) -> StatusChange:
    evidence = tuple(
        Evidence(
            entry_id=i,
            indicator_id="nk",
            outcome_id="pressure",
            title=f"Xi tells Lee China will enforce sanctions #{i}",
            link=LINK,
            publisher="yna.co.kr",
            time=datetime(2026, 1, 6, 1, 30, tzinfo=UTC),
            terms=("Xi", "sanction*", "/never shown/"),
            snippet="China would strictly enforce UN sanctions on North Korea.",
        )
        for i in range(evidence_count)
    )
    return StatusChange(
        indicator_id="nk",
        at=datetime(2026, 1, 6, 2, 0, tzinfo=UTC),
        old_status="quiet",
        new_status="pressure:confirmed",
        evidence=evidence,
        definition_hash="h",
    )


def alert() -> Alert:
    return build_alert(sample_change(), "How Beijing talks about North Korea")


def test_with_a_public_url_an_alert_links_to_the_indicator_page() -> None:
    linked = build_alert(sample_change(), "NK", public_url="https://m.example.org/monitor/")
    assert "Page: https://m.example.org/monitor/indicators/nk/page" in linked.body.splitlines()
    assert "Page:" not in alert().body


def fast(urls: list[str], attempts: int = 3) -> Notifier:
    return Notifier(urls, attempts=attempts, backoff=0.01, timeout=5)


def test_an_alert_to_unknown_says_it_and_why() -> None:
    why = "feeds not read: yonhap: failing since 2026-01-06 01:00 UTC (fetch: HTTP 503)"
    change = dataclasses.replace(
        sample_change(0), old_status="quiet", new_status="unknown", reason=why
    )
    made = build_alert(change, "How Beijing talks about North Korea")
    assert made.title == "monitor: How Beijing talks about North Korea: ⚠ unknown"
    assert made.body.splitlines()[1:3] == ["quiet → ⚠ unknown (2026-01-06 02:00 UTC)", why]


def test_alert_carries_the_digest_evidence() -> None:
    made = build_alert(
        sample_change(), "How Beijing talks about North Korea", zone=ZoneInfo("Asia/Seoul")
    )
    assert made == build_alert(
        sample_change(), "How Beijing talks about North Korea", zone=ZoneInfo("Asia/Seoul")
    )
    assert made.title == "monitor: How Beijing talks about North Korea: pressure — confirmed"
    assert "quiet → pressure — confirmed (2026-01-06 11:00 KST)" in made.body
    assert (
        "- Xi tells Lee China will enforce sanctions #0 (yna.co.kr, 2026-01-06 10:30 KST)"
        in made.body
    )
    assert f"  {LINK}" in made.body.splitlines()
    assert '"China would strictly enforce UN sanctions on North Korea."' in made.body
    assert "  matched: Xi, sanctions" in made.body.splitlines()  # as the digest shows them


def test_alert_limits_evidence() -> None:
    made = build_alert(sample_change(8), "NK", limit=5)
    assert made.body.count(LINK) == 5
    assert "- and 3 more" in made.body


def test_alert_reaches_the_webhook() -> None:
    with running_webhook() as hook:
        failures = fast([hook.apprise_url("/alerts")]).notify([alert()])
        assert failures == []
        [request] = hook.received
        assert request.path.startswith("/alerts")
        payload = request.json
        assert payload["title"] == alert().title
        assert LINK in payload["message"]
        assert "yna.co.kr" in payload["message"]
        assert "quiet → pressure — confirmed" in payload["message"]


def test_a_slow_receiver_is_waited_for_longer_than_apprises_four_seconds() -> None:
    """Apprise gives up reading an answer after 4 s: a receiver that took 6 s to answer 200 got
    the alert again at every retry. Each request now waits two thirds of the Notifier's timeout
    (the whole call's), unless the URL sets its own `rto`."""
    notifier = Notifier(["json://127.0.0.1:9/a", "json://127.0.0.1:9/b?rto=2.5"], timeout=15)
    waits = [[s.socket_read_timeout for s in c.apprise or ()] for c in notifier.channels]
    assert waits == [[10.0], [2.5]]


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_redirect_that_drops_the_post_is_a_failure_not_an_alert_lost_to_a_get(
    status: int,
) -> None:
    """requests follows a 301, 302 or 303 of a POST with a GET, without the alert: the new
    address answered it 200, so the alert was marked sent and never arrived. Such a redirect is
    a failure that says so (the alert waits in the outbox until the URL is fixed); a URL with
    `redirect=yes` follows them."""
    with running_webhook(redirect=status) as hook:
        [failure] = fast([hook.apprise_url("/old")], attempts=1).notify([alert()])
        assert [(r.method, r.path) for r in hook.requests] == [("POST", "/old")]
        assert f"error={status}" in failure.error and "add redirect=yes" in failure.error
        assert hook.received == []

    with running_webhook(redirect=status) as hook:
        assert fast([hook.apprise_url("/old?redirect=yes")], attempts=1).notify([alert()]) == []
        assert [(r.method, r.path) for r in hook.requests] == [("POST", "/old"), ("GET", "/moved")]


@pytest.mark.parametrize("status", [307, 308])
def test_a_307_or_308_to_the_same_host_is_followed_and_the_alert_arrives(status: int) -> None:
    """Every redirect was refused, so a channel whose address answered 307 or 308 (a proxy
    adding a slash, http moved to https) failed at every try. Those two keep the POST and its
    body by definition: they are followed now, and the alert arrives at the new address."""
    with running_webhook(redirect=status) as hook:
        assert fast([hook.apprise_url("/old")], attempts=1).notify([alert()]) == []
        assert [(r.method, r.path) for r in hook.requests] == [("POST", "/old"), ("POST", "/moved")]
        [request] = hook.received
        assert request.body == hook.requests[0].body
        assert request.json["title"] == alert().title and LINK in request.json["message"]

        [failure] = fast([hook.apprise_url("/old?redirect=no")], attempts=1).notify([alert()])
        assert f"error={status}" in failure.error and len(hook.received) == 1


def test_a_307_to_another_host_is_not_followed_so_it_gets_no_secret() -> None:
    """A 307 or 308 keeps the headers and the body, and requests drops only `Authorization` on
    a host change: a plugin's own key header (or a token in the body) would reach whoever the
    channel's server points to. A redirect to another host (or port) is refused as a 301 is;
    `redirect=yes` follows it, as the user then asked."""
    secrets = "json://watcher:hunter2@{host}:{port}/old?+X-Token=qwerty123"
    with running_webhook(redirect=307) as hook:
        hook.location = f"http://localhost:{hook.port}/moved"  # the same server, another name
        url = secrets.format(host=hook.host, port=hook.port)
        [failure] = fast([url], attempts=1).notify([alert()])
        assert [r.path for r in hook.requests] == ["/old"]
        assert "error=307" in failure.error and "another host" in failure.error
        assert "redirect=yes" in failure.error and "hunter2" not in failure.error

    with running_webhook() as other, running_webhook(redirect=307) as hook:
        hook.location = f"http://localhost:{other.port}/moved"
        url = secrets.format(host=hook.host, port=hook.port) + "&redirect=yes"
        assert fast([url], attempts=1).notify([alert()]) == []
        [moved] = other.received
        assert "Authorization" in hook.requests[0].headers
        assert "Authorization" not in moved.headers  # requests drops this one...
        assert moved.headers["X-Token"] == "qwerty123"  # ...not the others: why it is refused


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_refused_redirect_names_where_it_points_and_nothing_goes_there(status: int) -> None:
    """A redirect not followed was a failure saying only 'give the URL it points to', without
    saying which: the user had to find it by hand. It names the Location now (the channel's
    token in it shown as ***, as in the rest of the failure), and nothing, neither the alert
    nor a GET, reached that address."""
    with running_webhook() as other, running_webhook(redirect=status) as hook:
        hook.location = f"http://localhost:{other.port}/in/s3cr3t-tok3n/"
        url = f"json://{hook.host}:{hook.port}/in/s3cr3t-tok3n"
        [failure] = fast([url], attempts=1).notify([alert()])
        assert [(r.method, r.path) for r in hook.requests] == [("POST", "/in/s3cr3t-tok3n")]
        assert other.requests == []
        assert f"error={status}" in failure.error
        assert f"it points to http://localhost:{other.port}/in/***/" in failure.error
        assert "s3cr3t" not in failure.error and failure.error.endswith("to follow it)")


def test_an_alert_longer_than_its_channel_takes_is_cut_to_fit_not_refused_for_ever() -> None:
    """Apprise passed an alert on whole, whatever the service's limit (Mattermost's 4,000
    characters, Discord's 2,000, Telegram's 4,096, Pushover's 1,024), and the service refused
    it: five long headlines made an alert that failed at every retry and never arrived. It is
    cut to the service's limit now (its head, with the status and the page link, first), unless
    the URL sets its own `overflow=`."""
    change = sample_change(5)
    long_titles = tuple(
        dataclasses.replace(e, title=f"{e.title} " + "word " * 190) for e in change.evidence
    )
    change = dataclasses.replace(change, evidence=long_titles)
    made = build_alert(change, "NK", public_url="https://m.example.org/")
    assert len(made.body) > 4000
    with running_webhook(max_chars=4000) as hook:
        assert fast([f"mmost://{hook.host}:{hook.port}/tok3n"], attempts=1).notify([made]) == []
        [request] = hook.received
        text = request.json["text"]
        assert len(text) <= 4000
        assert "quiet → pressure — confirmed" in text and "m.example.org/indicators/nk" in text

        own = f"mmost://{hook.host}:{hook.port}/tok3n?overflow=upstream"
        [failure] = fast([own], attempts=1).notify([made])
        assert "400" in failure.error


HOSTILE = "@everyone @here <!channel> <@123> **bold** [click](http://evil.example/x) `code` ||x||"


def hostile_alert() -> Alert:
    change = sample_change()
    evidence = dataclasses.replace(change.evidence[0], title=f"Xi meets Lee {HOSTILE}")
    return build_alert(dataclasses.replace(change, evidence=(evidence,)), "NK")


def chat_to(hook: Webhook, url: str) -> Notifier:
    """A Notifier for one chat URL whose messages reach `hook`. Discord's and Slack's plugins
    post to their own https hosts: they are pointed at the receiver (only the internet is
    replaced, at its address; the plugin, the request and the JSON it sends are real)."""
    notifier = fast([url.format(host=hook.host, port=hook.port)], attempts=1)
    base = f"http://{hook.host}:{hook.port}"
    for service in notifier.channels[0].apprise or ():
        if url.startswith(("discord://", "guilded://")):
            service.notify_url = f"{base}/api/webhooks"
        if url.startswith("slack://"):
            service.webhook_url = f"{base}/services"
        if url.startswith("zulip://"):
            service.notify_url = f"{base}/api/v1/messages"
        if url.startswith("gchat://"):
            service.notify_url = f"{base}/v1/spaces/{{workspace}}/messages"
        if url.startswith("tgram://"):
            service.notify_url = f"{base}/bot"
    return notifier


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("discord://1234567/t0ken", "content"),
        ("guilded://1234567/t0ken", "content"),  # Discord's webhooks (and Apprise's plugin)
        ("mmost://{host}:{port}/t0k3n", "text"),
    ],
)
def test_a_hostile_headline_pings_no_one_and_links_nowhere_on_discord_or_mattermost(
    url: str, field: str
) -> None:
    """A headline is a stranger's text: `@everyone` in one pinged a whole Discord server (or a
    Mattermost channel), and `[click](http://evil…)` showed a link whose address was hidden.
    Every `@` now carries a zero-width space, and Markdown is escaped; web addresses stay whole,
    so the article's link (and the stranger's, shown as what it is) still works."""
    with running_webhook() as hook:
        assert chat_to(hook, url).notify([hostile_alert()]) == []
        [request] = hook.received
    text = request.json[field]
    assert re.findall(r"@(?!\u200b)", text) == []  # no live mention
    assert re.findall(r"(?<!\\)[<>*`|\[\]]", text) == []  # no formatting, no masked link
    assert "\\[click\\](http://evil.example/x)" in text
    assert f"  {LINK}" in text and "Xi meets Lee @\u200beveryone" in text


def test_a_hostile_headline_pings_no_one_on_slack_and_other_channels_get_it_as_it_is() -> None:
    """Slack's control sequences (`<!channel>`, `<@U123>`, `<url|text>`) are written as
    entities by Apprise for plain text, sent unformatted; `@` carries a zero-width space as on
    Discord. A `json://` webhook (read by programs) gets the headline unchanged."""
    with running_webhook(answer=b"ok") as hook:
        assert chat_to(hook, "slack://T1234/B1234/abcdefghij").notify([hostile_alert()]) == []
        [request] = hook.received
    assert request.json["mrkdwn"] is False
    text = request.json["attachments"][0]["text"]
    assert re.findall(r"@(?!\u200b)|[<>]", text) == []
    assert "&lt;!channel&gt;" in text and f"  {LINK}" in text

    with running_webhook() as hook:
        assert fast([hook.apprise_url()]).notify([hostile_alert()]) == []
        assert f"Xi meets Lee {HOSTILE}" in hook.received[0].json["message"]


# What pings a room, a channel or everyone on the chats beyond Discord, Slack and Mattermost,
# and what would show a link whose address is hidden.
MENTIONS = "@room @all @here @**all** @**everyone** @*stream* @kim <users/all> <@U1>"
MASKED = "[click](http://evil.example/x) <http://evil.example/y|click>"


def _zulip_content(request: Request) -> str:
    return parse_qs(request.body.decode())["content"][0]


@pytest.mark.parametrize(
    ("url", "text_of"),
    [
        ("matrix://bot:t0ken@{host}:{port}/?mode=matrix", lambda r: r.json["text"]),
        ("rocket://abcd%2Fefgh@{host}:{port}/#general", lambda r: r.json["text"]),
        ("zulip://bot@org/abcdefghijklmnopqrstuvwxyz012345/news", _zulip_content),
        ("gchat://workspace/key/token", lambda r: r.json["text"]),
        ("tgram://123456789:abcdefg_hijklmnop/12345/", lambda r: r.json["text"]),
        ("nctalk://bot:pass@{host}:{port}/room1", lambda r: r.json["message"]),
        ("mastodon://t0ken@{host}:{port}", lambda r: r.json["status"]),  # a public post
        ("misskey://t0ken@{host}:{port}", lambda r: r.json["text"]),
    ],
)
def test_a_hostile_headline_pings_no_one_on_matrix_zulip_telegram_and_other_chats(
    url: str, text_of: Callable[[Request], str]
) -> None:
    """`@room` in a headline pinged a whole Matrix room, `@all` a Rocket.Chat channel or a
    Nextcloud Talk conversation, `@**all**` a Zulip stream, `<users/all>` a Google Chat space,
    `@kim` a Telegram member, and `@kim` in a public Mastodon or Misskey post notified a
    stranger: only Discord, Slack and Mattermost were made inert. Every `@` now carries a
    zero-width space on these too; Zulip, which renders the text as Markdown without reading a
    backslash as an escape, gets one after each `]` and `*` as well, and Google Chat after `<`,
    where its mentions and labelled links begin (the rest of each one's formatting Apprise makes
    inert: see `monitor.chattext`)."""
    change = sample_change()
    title = f"Xi meets Lee {MENTIONS} {MASKED} **bold** `code`"
    evidence = dataclasses.replace(change.evidence[0], title=title)
    made = build_alert(dataclasses.replace(change, evidence=(evidence,)), "NK")
    answer = b'{"ok": true, "result": {"message_id": 1}, "id": "1"}'  # Telegram's, Mastodon's
    with running_webhook(answer=answer) as hook:
        assert chat_to(hook, url).notify([made]) == []
        [request] = hook.received
    text = text_of(request)
    assert "Xi meets Lee @\u200broom @\u200ball" in text
    assert re.findall(r"@(?!\u200b)", text) == []  # no live mention
    assert f"{LINK}" in text.replace("\\", "")  # the article's link, whole
    if url.startswith("zulip://"):  # sent as it is, rendered as Markdown (with no escapes)
        assert re.findall(r"[*\]](?!\u200b)", text) == []
        assert "[click]\u200b(http://evil.example/x)" in text
    if url.startswith("gchat://"):
        assert re.findall(r"<(?!\u200b)", text) == []
    if url.startswith("tgram://"):
        assert request.json["parse_mode"] == "HTML"
        assert re.findall(r"<(?!/?b>)", text) == []  # only the title's <b>: the rest entities
    if url.startswith("matrix://"):
        assert request.json["format"] == "plain"


def test_a_failing_channel_is_retried_and_delivered_once() -> None:
    sleeps: list[float] = []
    with running_webhook(fail_first=2) as hook:
        notifier = Notifier([hook.apprise_url()], attempts=3, backoff=0.5, sleep=sleeps.append)
        assert notifier.notify([alert()]) == []
        assert len(hook.requests) == 3
        assert len(hook.received) == 1
        assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("120", 120),
        ("Tue, 06 Jan 2026 02:05:00 GMT", 300),
        ("86400", 3600),
        ("1.5", 2),  # fractional seconds, which some services send: rounded up
        ("9" * 30, 3600),  # more than a timedelta holds: capped, not an OverflowError
        ("soon", None),
    ],
)
def test_a_channel_asking_to_wait_is_not_tried_again_before_its_retry_after(
    retry_after: str, wait: int | None
) -> None:
    """A 429's Retry-After (seconds or an HTTP-date) was ignored: the channel was tried again
    after 0.5 s and 1 s, and by the next alert at once. Now it is left alone until then (at
    most RETRY_AFTER_MAX), and the delivery says when, for the outbox's next try."""
    now = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    sleeps: list[float] = []
    with running_webhook(fail_first=1, fail_status=429, retry_after=retry_after) as hook:
        notifier = Notifier([hook.apprise_url()], attempts=3, backoff=0.5, sleep=sleeps.append)
        first = notifier.deliver(alert(), clock=lambda: now)
        if wait is None:  # unreadable: the back-off as before, and the retry takes it
            assert (first.done, sleeps, first.not_before) == (
                (notifier.channels[0].key,),
                [0.5],
                None,
            )
            return
        assert (len(hook.requests), sleeps, first.done) == (1, [], ())
        assert first.not_before == now + timedelta(seconds=wait)
        assert f"it asked to wait {wait} s" in first.failures[0].error

        second = notifier.deliver(alert(), clock=lambda: now + timedelta(seconds=wait - 1))
        assert len(hook.requests) == 1 and second.failures[0].error.startswith("resting: ")
        assert second.not_before == first.not_before

        third = notifier.deliver(alert(), clock=lambda: now + timedelta(seconds=wait))
        assert third.done == (notifier.channels[0].key,) and len(hook.received) == 1


def test_a_channel_that_keeps_failing_is_reported_and_skipped_for_the_batch() -> None:
    with running_webhook(fail_first=1000) as hook:
        failures = fast([hook.apprise_url()], attempts=2).notify([alert(), alert(), alert()])
        assert len(hook.requests) == 2  # retried once for the first alert, then skipped
        assert [f.attempts for f in failures] == [2, 0, 0]
        assert all(f.channel == f"json://127.0.0.1:{hook.port}" for f in failures)
        assert "500" in failures[0].error or "Internal Server Error" in failures[0].error


def test_a_channel_that_is_down_does_not_raise_or_hang(caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    url = f"json://watcher:hunter2@127.0.0.1:{port}/hook/Tok3nS3cret?token=qwerty123"
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    failures = fast([url]).notify([alert()])
    assert time.monotonic() - started < 60  # only a hang fails this; a refusal is at once
    [failure] = failures
    assert failure.channel == f"json://127.0.0.1:{port}"
    assert failure.attempts == 3
    assert failure.error
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("monitor")]
    assert any(failure.channel in message for message in ours)
    for secret in ("hunter2", "Tok3nS3cret", "qwerty123"):
        assert secret not in repr(failure)
        assert not any(secret in message for message in ours)


@pytest.mark.parametrize("fail_status", [0, 500])
def test_no_log_line_of_any_library_shows_a_channel_secret(
    caplog: pytest.LogCaptureFixture, fail_status: int
) -> None:
    """With MONITOR_LOG_LEVEL=DEBUG, Apprise logged the URL it posts to and urllib3 each
    request's path: a token in the path or query reached the log. Every record, whichever
    library wrote it, is scrubbed of the channels' secrets now."""
    caplog.set_level(logging.DEBUG)
    with running_webhook(fail_first=fail_status and 1, fail_status=fail_status) as hook:
        url = f"json://watcher:hunter2@{hook.host}:{hook.port}/hook/Tok3nS3cret?-token=qwerty123"
        assert len(fast([url], attempts=1).notify([alert()])) == (1 if fail_status else 0)
        assert [r.path for r in hook.requests] == ["/hook/Tok3nS3cret?token=qwerty123"]
    lines = [caplog.handler.format(r) for r in caplog.records]
    assert any("apprise" in line for line in lines)  # it did log, at DEBUG
    for secret in ("hunter2", "Tok3nS3cret", "qwerty123"):
        assert [line for line in lines if secret in line] == []


def test_a_down_channel_does_not_stop_the_others() -> None:
    with running_webhook() as hook:
        dead = f"json://127.0.0.1:{closed_port()}/hook"
        failures = fast([dead, hook.apprise_url()]).notify([alert()])
        assert [f.channel.startswith("json://127.0.0.1:") for f in failures] == [True]
        assert len(hook.received) == 1


def test_an_unknown_url_is_a_failure_not_an_exception() -> None:
    [failure] = fast(["nosuchservice://example.org/x"]).notify([alert()])
    assert failure.attempts == 0
    assert failure.channel == "nosuchservice://example.org"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("json://hooks.example.org:8080/path?token=x", "json://hooks.example.org:8080"),
        ("mailto://user:pass@gmail.com", "mailto://gmail.com"),
        ("tgram://123456789:AAbbCCddEE/12345", "tgram://..."),
        ("slack://TokenA/TokenB/TokenC/", "slack://..."),
        ("ntfy://ntfy.sh/monitor-topic", "ntfy://ntfy.sh"),
        ("not a url", "unknown://..."),
    ],
)
def test_channel_names_hide_credentials(url: str, name: str) -> None:
    assert channel_name(url) == name


def test_errors_are_scrubbed_of_url_secrets() -> None:
    url = "slack://TokenA1/TokenB22/TokenC333/#channel"
    text = "failed posting to https://hooks.slack.com/services/TokenA1/TokenB22/TokenC333"
    assert _scrub(text, url) == "failed posting to https://hooks.slack.com/services/***/***/***"
