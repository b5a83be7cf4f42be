"""The daily digest: built purely from data, sent through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from monitor.digest import (
    DigestInput,
    FeedProblem,
    Reads,
    build_digest,
    format_status,
)
from monitor.domain import Evidence, StatusChange
from monitor.errors import DigestError
from monitor.mail import Delivery, deliver, send_with_retry
from monitor.settings import Settings
from monitor.webmodels import IndicatorView
from tests.smtpserver import SMTPServer, free_port, running_smtp_server, self_signed_cert

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SENDER = "monitor@example.org"
RECIPIENTS = ("alice@example.org", "bob@example.net")
GOOD_LINK = "https://en.yna.co.kr/view/AEN20260106?section=nk&amp=1"
HOSTILE_TITLE = 'Leak <script>alert(1)</script> <img src=x onerror="alert(2)">'


def evidence(title: str, link: str, *, hour: int = 0, publisher: str = "yna.co.kr") -> Evidence:
    return Evidence(
        entry_id=hour,
        indicator_id="nk",
        outcome_id="pressure",
        title=title,
        link=link,
        publisher=publisher,
        time=datetime(2026, 1, 6, hour, 30, tzinfo=UTC),
        terms=("Xi", "sanction*"),
        snippet="Xi told Lee that China would strictly enforce UN sanctions on North Korea.",
    )


def change(indicator_id: str, old: str, new: str, *items: Evidence, hour: int = 2) -> StatusChange:
    return StatusChange(
        indicator_id=indicator_id,
        at=datetime(2026, 1, 6, hour, 0, tzinfo=UTC),
        old_status=old,
        new_status=new,
        evidence=items,
        definition_hash="h",
    )


def line(
    indicator_id: str,
    title: str,
    group: str,
    status: str,
    since: datetime,
    evidence: tuple[Evidence, ...] = (),
    reason: str = "",
) -> IndicatorView:
    """An indicator's standing status as the digest is given it."""
    return IndicatorView(
        id=indicator_id, group=group, title=title, question="", status=status, since=since,
        reason=reason, started=since, window_days=14, outcomes=(), evidence=evidence,
        evidence_count=len(evidence),
    )  # fmt: skip


def sample(**overrides: Any) -> DigestInput:
    good = evidence("Xi tells Lee China will enforce sanctions", GOOD_LINK, hour=1)
    hostile = evidence(HOSTILE_TITLE, "javascript:alert(3)", hour=0, publisher="evil.example")
    data = DigestInput(
        day=date(2026, 1, 6),
        generated_at=datetime(2026, 1, 6, 22, 0, tzinfo=UTC),
        timezone="Asia/Seoul",
        changes=(change("nk", "quiet", "pressure:confirmed", good, hostile),),
        indicators=(
            line(
                "nk", "How Beijing talks about North Korea", "North Korea",
                "pressure:confirmed", datetime(2026, 1, 6, 2, 0, tzinfo=UTC), (good, hostile),
            ),
            line(
                "tw", "Taiwan Strait patrols", "Taiwan", "unknown",
                datetime(2026, 1, 5, 3, 0, tzinfo=UTC), (),
            ),
        ),
        feed_problems=(
            FeedProblem(
                "bad<script>feed</script>", "data:text/html,<b>x</b>", "failing: HTTP 503",
                datetime(2026, 1, 6, 1, 0, tzinfo=UTC),
            ),
            FeedProblem("stale-feed", "https://stale.example/rss", "no successful fetch for 2h"),
        ),
        page_url="http://127.0.0.1:8000/",
    )  # fmt: skip
    return dataclasses.replace(data, **overrides)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return str(text.get_content()), str(html.get_content())


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str | None]]]:
        parser = cls()
        parser.feed(html)
        return parser.tags


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {"smtp_host": None, "smtp_starttls": False, "digest_from": SENDER}
    return Settings(_env_file=None, **(base | values))  # type: ignore[call-arg]


def smtp_settings(server: SMTPServer, **values: Any) -> Settings:
    return settings(smtp_host=server.host, smtp_port=server.port, **values)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with running_smtp_server() as server:
        yield server


# ---------------------------------------------------------------- building


def test_build_is_pure() -> None:
    first = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS).as_bytes()
    second = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS).as_bytes()
    assert first == second


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        ((), "monitor digest 2026-01-06: no changes"),
        (
            (change("nk", "quiet", "balance:reported"),),
            "monitor digest 2026-01-06: 1 indicator changed",
        ),
        (
            (
                change("nk", "quiet", "balance:reported", hour=1),
                change("nk", "balance:reported", "mixed", hour=2),
                change("tw", "quiet", "unknown", hour=3),
            ),
            "monitor digest 2026-01-06: 2 indicators changed",
        ),
    ],
)
def test_subject_counts_indicators_that_changed(
    changes: tuple[StatusChange, ...], subject: str
) -> None:
    known = tuple(i for i in sample().indicators if i.status != "unknown")
    data = sample(changes=changes, indicators=known)
    message = build_digest(data, sender=SENDER, recipients=RECIPIENTS)
    assert message["Subject"] == subject


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        ((), "monitor digest 2026-01-06: no changes, 1 unknown"),
        (
            (change("nk", "quiet", "balance:reported"),),
            "monitor digest 2026-01-06: 1 indicator changed, 1 unknown",
        ),
    ],
)
def test_subject_and_summary_say_how_many_indicators_are_unknown(
    changes: tuple[StatusChange, ...], subject: str
) -> None:
    """A day without changes while the feeds are down must not read as all clear in an inbox,
    where only the subject shows, nor at the top of the digest."""
    message = build_digest(sample(changes=changes), sender=SENDER, recipients=RECIPIENTS)
    assert message["Subject"] == subject
    text, html = parts(message)
    summary = "1 of 2 indicators is unknown: why is under feed health below."
    assert summary in " ".join(text.split())
    assert summary in " ".join(html.split())


def test_headers_and_both_parts() -> None:
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == SENDER
    assert [a.addr_spec for a in message["To"].addresses] == list(RECIPIENTS)
    assert re.fullmatch(r"<digest-2026-01-06\.[0-9a-f]{12}@example\.org>", message["Message-ID"])
    again = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    other = build_digest(sample(changes=()), sender=SENDER, recipients=RECIPIENTS)
    assert again["Message-ID"] == message["Message-ID"] != other["Message-ID"]
    assert message["Date"].datetime == datetime(2026, 1, 6, 22, 0, tzinfo=UTC)


def test_sections_come_in_order_with_readable_statuses() -> None:
    text, html = parts(build_digest(sample(), sender=SENDER, recipients=RECIPIENTS))
    order = [text.index(h) for h in ("WHAT CHANGED", "STANDING STATUS", "FEED HEALTH")]
    assert order == sorted(order)
    assert "quiet → pressure — confirmed" in text
    assert "pressure — confirmed" in html
    assert "How Beijing talks about North Korea" in text
    assert "no successful fetch for 2h" in text
    assert "Taiwan Strait patrols: status unknown" in text  # an unknown indicator is a problem
    assert "Xi told Lee that China would strictly enforce" in text  # the snippet
    assert "yna.co.kr" in text


def test_links_in_both_parts() -> None:
    text, html = parts(build_digest(sample(), sender=SENDER, recipients=RECIPIENTS))
    assert GOOD_LINK in text.splitlines()[text.splitlines().index(f"      {GOOD_LINK}")]
    hrefs = [attrs.get("href") for tag, attrs in Tags.of(html) if tag == "a"]
    assert GOOD_LINK in hrefs
    assert "http://127.0.0.1:8000/" in hrefs
    assert "Current status: http://127.0.0.1:8000/" in text


def test_feed_derived_markup_arrives_inert() -> None:
    text, html = parts(build_digest(sample(), sender=SENDER, recipients=RECIPIENTS))
    tags = Tags.of(html)
    assert "script" not in {tag for tag, _ in tags}
    assert "img" not in {tag for tag, _ in tags}
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    hrefs = [str(attrs.get("href")) for tag, attrs in tags if tag == "a"]
    assert all(h.startswith(("https://", "http://", "#change-")) for h in hrefs)  # or in the digest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:alert(3)" in html  # shown as text ...
    assert "data:text/html" in html
    assert "<script>alert(1)</script>" in text  # plain text stays literal, not escaped
    assert "javascript:alert(3)  [not a web link]" in text


def test_evidence_without_a_link_shows_no_empty_line_for_it() -> None:
    """An item without a link (a feed that gives guids only, or a link not kept: javascript:)
    reads as the others do, without a line of spaces where the link would be."""
    unlinked = evidence("Xi tells Lee China will enforce sanctions", "", hour=1)
    digest = sample(changes=(change("nk", "quiet", "pressure:reported", unlinked),))

    text, _html = parts(build_digest(digest, sender=SENDER, recipients=RECIPIENTS))

    lines = text.splitlines()
    at = lines.index("      yna.co.kr, 2026-01-06 10:30 KST")
    assert lines[at + 1] == "      matched: Xi, sanctions"
    assert lines[at + 2].startswith('      "Xi told Lee')  # the snippet, as under a link


def test_times_in_the_digest_zone() -> None:
    text, html = parts(build_digest(sample(), sender=SENDER, recipients=RECIPIENTS))
    assert "(2026-01-06 11:00 KST)" in text  # the change at 02:00 UTC
    assert "2026-01-06 10:30 KST" in text  # evidence published 01:30 UTC
    assert "2026-01-06 11:00 KST" in html
    other = build_digest(sample(timezone="Europe/Berlin"), sender=SENDER, recipients=RECIPIENTS)
    assert "(2026-01-06 03:00 CET)" in parts(other)[0]


def test_text_part_is_wrapped() -> None:
    text, _ = parts(build_digest(sample(), sender=SENDER, recipients=RECIPIENTS))
    long_lines = [line for line in text.splitlines() if len(line) > 78]
    assert all("://" in line for line in long_lines), long_lines  # only links may be long


def test_empty_digest_reads_well() -> None:
    data = sample(changes=(), indicators=(), feed_problems=(), page_url=None)
    text, html = parts(build_digest(data, sender=SENDER, recipients=RECIPIENTS))
    assert "Nothing changed." in text and "Nothing changed." in html
    assert "Every feed is healthy." in text and "Every feed is healthy." in html


@pytest.mark.parametrize(
    ("checks", "said"),
    [(1, "(1 feed read, and it failed)"), (2, "(2 feed reads, every one failed)")],
)
def test_a_day_whose_reads_all_failed_says_it_as_a_person_would(checks: int, said: str) -> None:
    """A first day with one feed said `(1 feed read, every one failed)`; `monitor check` says
    the same of its feeds (`(1 feed checked, and it failed)`)."""
    last = datetime(2026, 1, 6, 20, 0, tzinfo=UTC)
    reads = Reads(cycles=1, checks=checks, new=0, last=last, failed=checks)
    text, html = parts(build_digest(sample(reads=reads), sender=SENDER, recipients=RECIPIENTS))
    assert said in " ".join(text.split()) and said in html


def test_unknown_zone_is_a_digest_error() -> None:
    with pytest.raises(DigestError, match=r"^digest: unknown time zone"):
        build_digest(sample(timezone="Mars/Olympus"), sender=SENDER, recipients=RECIPIENTS)


@pytest.mark.parametrize(
    ("status", "shown"),
    [("pressure:confirmed", "pressure — confirmed"), ("quiet", "quiet"), ("mixed", "mixed")],
)
def test_format_status(status: str, shown: str) -> None:
    assert format_status(status) == shown


# ---------------------------------------------------------------- delivering over SMTP


def test_a_server_that_takes_the_message_and_hangs_up_gets_it_once() -> None:
    """The connection ends after the message was handed over, before the server answered: it
    may have arrived, so it is not sent again at once (it was, four times in a row)."""
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    sleeps: list[float] = []
    with running_smtp_server(drop_first=1) as server:
        with pytest.raises(DigestError, match="after the message was sent: it may have arrived"):
            send_with_retry(message, smtp_settings(server), sleep=sleeps.append)
        assert len(server.messages) == 1 and sleeps == []


def test_sends_to_every_recipient(smtp: SMTPServer) -> None:
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    sent = deliver(message, smtp_settings(smtp))
    assert sent == Delivery(f"smtp:127.0.0.1:{smtp.port}", refused=())
    [received] = smtp.messages
    assert received.rcpt_tos == RECIPIENTS
    assert received.mail_from == SENDER
    got = received.message
    assert got["Subject"] == "monitor digest 2026-01-06: 1 indicator changed, 1 unknown"
    assert got["Message-ID"] == message["Message-ID"]
    text, html = parts(got)
    assert GOOD_LINK in text
    assert GOOD_LINK.replace("&", "&amp;") in html
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_recipients_the_server_refuses_come_back_with_the_delivery() -> None:
    """RCPT TO refused for one recipient, taken for the other: delivered, and who did not get it
    (with the server's answer) is part of the result, not only a log line."""
    refuse = {"bob@example.net": "550 5.1.1 <bob@example.net>: no such user"}
    sleeps: list[float] = []
    with running_smtp_server(refuse=refuse) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        sent = send_with_retry(message, smtp_settings(server), sleep=sleeps.append)
        [received] = server.messages
    assert received.rcpt_tos == ("alice@example.org",) and sleeps == []
    assert sent.refused == (("bob@example.net", "550 5.1.1 <bob@example.net>: no such user"),)


@pytest.mark.parametrize(
    ("answer", "attempts"), [("550 5.1.1 no such user", 1), ("450 4.2.1 mailbox busy", 3)]
)
def test_every_recipient_refused_is_a_digest_error_naming_the_answers(
    answer: str, attempts: int
) -> None:
    """Refused for all: nothing was delivered (retried when the answers are temporary)."""
    sleeps: list[float] = []
    with running_smtp_server(refuse=dict.fromkeys(RECIPIENTS, answer)) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        with pytest.raises(DigestError, match="every recipient refused: ") as caught:
            send_with_retry(message, smtp_settings(server), attempts=3, sleep=sleeps.append)
        assert server.messages == []
    assert f"alice@example.org ({answer}), bob@example.net ({answer})" in str(caught.value)
    assert len(sleeps) == attempts - 1


def test_logs_in_when_a_username_is_set() -> None:
    with running_smtp_server(users={"digest": "s3cret"}) as server:
        values = {"smtp_username": "digest", "smtp_password": "s3cret"}
        deliver(
            build_digest(sample(), sender=SENDER, recipients=RECIPIENTS),
            smtp_settings(server, **values),
        )
        assert [m.login for m in server.messages] == ["digest"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_logs_in_with_a_user_name_and_password_that_are_not_ascii(mechanism: str) -> None:
    """smtplib sends AUTH answers as ASCII: it raised UnicodeEncodeError, not a DigestError,
    quoting the password's character, into the log, the digest's row and /healthz."""
    user, password = "지수", "pässwörd-비밀"
    with running_smtp_server(users={user: password}, mechanisms=(mechanism,)) as server:
        values = {"smtp_username": user, "smtp_password": password}
        deliver(
            build_digest(sample(), sender=SENDER, recipients=RECIPIENTS),
            smtp_settings(server, **values),
        )
        assert [m.login for m in server.messages] == [user]


def test_wrong_password_is_not_retried() -> None:
    sleeps: list[float] = []
    with running_smtp_server(users={"digest": "s3cret"}) as server:
        values = {"smtp_username": "digest", "smtp_password": "wrong"}
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        with pytest.raises(DigestError, match=rf"^digest: smtp 127.0.0.1:{server.port}: 535"):
            send_with_retry(message, smtp_settings(server, **values), sleep=sleeps.append)
        assert sleeps == [] and server.messages == []


def test_refuses_to_log_in_without_tls_when_starttls_is_asked_for() -> None:
    with running_smtp_server(users={"digest": "s3cret"}) as server:
        values = {"smtp_username": "digest", "smtp_password": "s3cret", "smtp_starttls": True}
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        with pytest.raises(DigestError, match="does not offer STARTTLS"):
            deliver(message, smtp_settings(server, **values))
        assert server.messages == []


def test_starttls_then_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert = self_signed_cert(tmp_path)
    if cert is None:
        pytest.skip("needs the openssl command")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # trust our self-signed certificate
    with running_smtp_server(users={"digest": "s3cret"}, tls=cert) as server:
        values = {"smtp_username": "digest", "smtp_password": "s3cret", "smtp_starttls": True}
        deliver(
            build_digest(sample(), sender=SENDER, recipients=RECIPIENTS),
            smtp_settings(server, **values),
        )
        assert [m.login for m in server.messages] == ["digest"]


def test_implicit_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert = self_signed_cert(tmp_path)
    if cert is None:
        pytest.skip("needs the openssl command")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with running_smtp_server(implicit_tls=cert) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        deliver(message, smtp_settings(server, smtp_ssl=True, smtp_starttls=True))
        assert len(server.messages) == 1


def test_port_465_speaks_tls_from_the_start_without_smtp_ssl_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MONITOR_SMTP_PORT=465 alone: the client waited for a greeting the server (waiting for a
    TLS hello) never sent, and after 30 s the digest failed with "Connection unexpectedly
    closed: timed out", retried as transient. Port 465 is implicit TLS unless SMTP_SSL says
    otherwise. (Listening on 465 needs root: skipped otherwise.)"""
    cert = self_signed_cert(tmp_path)
    if cert is None:
        pytest.skip("needs the openssl command")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 465))
        except OSError as exc:
            pytest.skip(f"cannot listen on 127.0.0.1:465: {exc.strerror}")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with running_smtp_server(implicit_tls=cert, port=465) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)

        delivery = deliver(message, settings(smtp_host=server.host, smtp_port=465))

        assert delivery.where == "smtp:127.0.0.1:465" and len(server.messages) == 1


def test_implicit_tls_to_a_server_without_it_names_the_setting_and_is_not_retried() -> None:
    """MONITOR_SMTP_SSL=true towards a plain server (port 587 or 25, STARTTLS): the error was
    OpenSSL's "[SSL: WRONG_VERSION_NUMBER] wrong version number", retried as network trouble
    five times over two minutes. It names the setting to change and is not retried."""
    sleeps: list[float] = []
    with running_smtp_server() as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        with pytest.raises(DigestError) as raised:
            send_with_retry(message, smtp_settings(server, smtp_ssl=True), sleep=sleeps.append)

    said = str(raised.value)
    assert said.startswith(f"digest: smtp 127.0.0.1:{server.port}: no TLS from the server (")
    assert said.endswith(
        f"): on port {server.port} it speaks plain SMTP first (then STARTTLS): set "
        "MONITOR_SMTP_SSL=false, or the port of implicit TLS (usually 465)"
    )
    assert sleeps == [] and server.messages == []


@pytest.mark.parametrize(
    ("port", "ssl", "implicit"),
    [
        ("465", None, True),  # unset: the port says
        ("465", "", True),  # `MONITOR_SMTP_SSL=` as in `monitor init`'s .env, uncommented
        ("587", None, False),
        ("25", "", False),
        ("465", "false", False),  # set, it stands
        ("2465", "true", True),
    ],
)
def test_smtp_ssl_unset_follows_the_port(
    monkeypatch: pytest.MonkeyPatch, port: str, ssl: str | None, implicit: bool
) -> None:
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MONITOR_SMTP_PORT", port)
    if ssl is not None:
        monkeypatch.setenv("MONITOR_SMTP_SSL", ssl)

    assert Settings(_env_file=None).smtp_implicit_tls is implicit  # type: ignore[call-arg]


def test_an_untrusted_certificate_is_refused_and_not_retried(tmp_path: Path) -> None:
    cert = self_signed_cert(tmp_path)
    if cert is None:
        pytest.skip("needs the openssl command")
    sleeps: list[float] = []
    with running_smtp_server(implicit_tls=cert) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        with pytest.raises(DigestError, match="CERTIFICATE_VERIFY_FAILED"):
            send_with_retry(message, smtp_settings(server, smtp_ssl=True), sleep=sleeps.append)
        assert server.messages == [] and sleeps == []


def test_smtp_down_is_a_digest_error() -> None:
    port = free_port()
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    with pytest.raises(DigestError, match=rf"^digest: smtp 127.0.0.1:{port}: "):
        deliver(message, settings(smtp_host="127.0.0.1", smtp_port=port))


def test_no_recipients_is_a_digest_error(smtp: SMTPServer) -> None:
    message = build_digest(sample(), sender=SENDER, recipients=())
    with pytest.raises(DigestError, match="no recipients"):
        deliver(message, smtp_settings(smtp))


def test_a_failed_send_is_retried_and_sent_once() -> None:
    sleeps: list[float] = []
    with running_smtp_server(fail_first=1) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        sent = send_with_retry(message, smtp_settings(server), backoff=0.5, sleep=sleeps.append)
        assert sent.where.startswith("smtp:")
        assert server.attempts == 2
        assert len(server.messages) == 1
        assert sleeps == [0.5]


def test_retries_back_off_and_give_up() -> None:
    sleeps: list[float] = []
    with running_smtp_server(fail_first=100) as server:
        message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
        with pytest.raises(DigestError, match="451"):
            send_with_retry(
                message, smtp_settings(server), attempts=4, backoff=1, sleep=sleeps.append
            )
        assert server.attempts == 4 and server.messages == []
        assert sleeps == [1, 2, 4]


# ---------------------------------------------------------------- the outbox


def test_writes_an_eml_without_an_smtp_host(tmp_path: Path) -> None:
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    sent = deliver(message, settings(outbox_dir=tmp_path / "outbox"))
    path = tmp_path / "outbox" / "digest-2026-01-06.eml"
    assert sent == Delivery(str(path))
    assert os.listdir(tmp_path / "outbox") == ["digest-2026-01-06.eml"]
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == message["Subject"]
    assert GOOD_LINK in parts(parsed)[0]


def test_outbox_under_a_file_is_a_digest_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    outbox = tmp_path / "file" / "outbox"
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    with pytest.raises(DigestError, match=r"^digest: cannot write .*digest-2026-01-06\.eml: "):
        deliver(message, settings(outbox_dir=outbox))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file"]


def test_an_outbox_that_is_a_file_says_so(tmp_path: Path) -> None:
    """MONITOR_OUTBOX_DIR naming a file: mkdir's own words were `File exists`, which read as if
    the digest's file were there already."""
    (tmp_path / "outbox").write_text("not a directory")
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)

    with pytest.raises(DigestError) as raised:
        deliver(message, settings(outbox_dir=tmp_path / "outbox"))

    target = tmp_path / "outbox" / "digest-2026-01-06.eml"
    assert str(raised.value) == (
        f"digest: cannot write {target}: a file is there, where the outbox folder goes"
    )
    assert (tmp_path / "outbox").read_text() == "not a directory"


def test_a_misconfigured_outbox_is_not_retried(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    sleeps: list[float] = []
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    with pytest.raises(DigestError):
        send_with_retry(message, settings(outbox_dir=tmp_path / "file" / "x"), sleep=sleeps.append)
    assert sleeps == []


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    # The final rename fails (the target is a non-empty directory) after the data was written.
    (tmp_path / "digest-2026-01-06.eml").mkdir()
    (tmp_path / "digest-2026-01-06.eml" / "keep").write_text("x")
    message = build_digest(sample(), sender=SENDER, recipients=RECIPIENTS)
    with pytest.raises(DigestError, match=r"^digest: cannot write"):
        deliver(message, settings(outbox_dir=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digest-2026-01-06.eml"]
