"""Each part of the digest goes out in the transfer encoding that carries it in fewer bytes:
quoted-printable for a mostly English part, base64 for one heavy with Chinese, Japanese or
Korean (quoted-printable writes each of their characters as nine bytes, `=E4=B8=AD`). Before,
both parts were always quoted-printable: a busy day's digest went out at 187.5 KB, where
base64 carries it in 146.6 KB. Sent through a real SMTP server and read back as it arrived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from monitor.digest import DigestInput, build_digest, render, transfer_encoding
from monitor.mail import deliver
from tests.smtpserver import running_smtp_server
from tests.test_digest import RECIPIENTS, SENDER, change, evidence, line, sample, smtp_settings
from tests.test_digest_size import parts
from tests.test_digest_wrap import CHINESE, JAPANESE, KOREAN, XINHUA_LEDE


def cjk_day() -> DigestInput:
    """A day of Chinese, Japanese and Korean news: twelve pieces of evidence, each headline and
    lede in those scripts, under one change and the standing status."""
    items = tuple(
        dataclasses.replace(
            evidence(f"{headline} ({n})", f"https://news.example.org/{n}", hour=n % 24),
            entry_id=n + 1,
            snippet=f"{XINHUA_LEDE} {KOREAN}",
        )
        for n, headline in enumerate([CHINESE, JAPANESE, KOREAN] * 4)
    )
    moved = change("nk", "quiet", "pressure:confirmed", *items)
    standing = line(
        "nk", "How Beijing talks about North Korea", "North Korea", "pressure:confirmed",
        moved.at, items,
    )  # fmt: skip
    return sample(changes=(moved,), indicators=(standing,))


def sent(data: DigestInput) -> tuple[bytes, EmailMessage]:
    """The digest of `data` as it arrived at an SMTP server: its raw bytes and parsed."""
    message = build_digest(data, sender=SENDER, recipients=RECIPIENTS)
    with running_smtp_server() as server:
        deliver(message, smtp_settings(server))
        [received] = server.messages
    return received.raw, received.message


def encodings(message: EmailMessage) -> list[str]:
    return [str(part["Content-Transfer-Encoding"]) for part in message.iter_parts()]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(sample, ["quoted-printable", "quoted-printable"], id="english"),
        pytest.param(cjk_day, ["base64", "base64"], id="cjk"),
    ],
)
def test_each_part_arrives_in_the_smaller_encoding_and_decodes_to_what_was_built(
    day: Callable[[], DigestInput], expected: list[str]
) -> None:
    data = day()
    raw, received = sent(data)
    assert encodings(received) == expected
    assert parts(received) == render(data)  # exactly the text and HTML built (line ends: LF)
    lines = raw.split(b"\r\n")
    assert raw.isascii() and max(len(x) for x in lines) <= 78  # 7-bit, lines as RFC 5322 asks
    for part, body, chosen in zip(received.iter_parts(), render(data), expected, strict=True):
        assert part.get_content_charset() == "utf-8"
        other = EmailMessage()
        other.set_content(
            body, cte="base64" if chosen == "quoted-printable" else "quoted-printable"
        )
        arrived = str(part.get_payload()).replace("\r\n", "\n")
        assert len(arrived) < len(str(other.get_payload()))  # the other one is larger


def test_a_cjk_day_goes_out_smaller_than_quoted_printable_carried_it() -> None:
    text, html = render(cjk_day())
    message = build_digest(cjk_day(), sender=SENDER, recipients=RECIPIENTS)
    before = EmailMessage()
    before.set_content(text, cte="quoted-printable")
    before.add_alternative(html, subtype="html", cte="quoted-printable")
    utf8 = len(text.encode()) + len(html.encode())
    assert len(message.as_bytes()) < 1.45 * utf8 < len(before.as_bytes())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Xi tells Lee China will enforce sanctions on North Korea.\n" * 40, "quoted-printable"),
        ('<p style="margin:0">习近平同韩国总统李在明举行会谈</p>\n' * 40, "base64"),
        # A few wide characters among English words: still quoted-printable; a line of them: not.
        (
            "Xi tells Lee — in Seoul, 서울 — that China will enforce UN sanctions on North Korea.\n"
            * 40,
            "quoted-printable",
        ),
        ("The talks — 회담 — went on.\n" * 40, "base64"),
        ("", "quoted-printable"),
    ],
)
def test_the_smaller_encoding_of_a_body(body: str, expected: str) -> None:
    assert transfer_encoding(body) == expected


def test_the_whole_body_decides_not_its_first_lines() -> None:
    ascii_head = "<!DOCTYPE html>\n<html>\n<head>\n" * 4  # the email package sniffs 10 lines
    heavy = (
        ascii_head + "<p>习近平同韩国总统李在明举行会谈，双方同意建立外交安全对话机制</p>\n" * 50
    )
    assert transfer_encoding(heavy) == "base64"
