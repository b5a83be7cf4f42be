"""The daily digest's email, built from stored data. Pure: no I/O.

    render(DigestInput) -> (text, html)                               its two parts, within budget
    build_digest(DigestInput, sender=, recipients=) -> EmailMessage   pure: same input, same bytes

What it is built from (`DigestInput`) and how it words statuses, times and its summary are
`monitor.digestinput`'s; what its templates read of it (each change, standing status and
problem as shown) is `monitor.digestview`'s; this module renders them and builds the message.

Jinja2 is imported here and in `page` only. Delivering it is `monitor.mail`'s job; deciding
*whether* today's digest is due and claiming it in the database is `monitor.daily`'s.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path

import jinja2

from monitor import columns
from monitor.counts import count
from monitor.digestinput import (
    DigestInput,
    FeedProblem,
    Reads,
    format_status,
    format_time,
    subject_for,
)
from monitor.digestview import VERDICTS_LISTED, context, listed_words
from monitor.domain import digest_of
from monitor.languages import marked_language

log = logging.getLogger(__name__)

DAY_HEADER = "X-Monitor-Digest"
EVIDENCE_PER_CHANGE = 5
EVIDENCE_PER_INDICATOR = 3
# Each part's budget (bytes as sent, in base64 or quoted-printable: `sent_size`; as UTF-8 it
# was 118 KB so in base64 on a busy day): Gmail clips an HTML part over about 102 KB, and its end
# (the standing statuses, feed health) is what tells a reader a dead feed is `unknown`. A
# digest over it lists less evidence, step by step (per change, per standing status), until
# both parts fit; the rest is counted, with where to read it. Every change, standing status
# and problem is always named.
PART_BUDGET = 90_000
TEXT_WIDTH = 76  # display columns of every line of the text part (`_wrap`)
EVIDENCE_STEPS = ((EVIDENCE_PER_CHANGE, EVIDENCE_PER_INDICATOR), (3, 2), (2, 1), (1, 1), (1, 0),
                  (0, 0))  # fmt: skip

# ---------------------------------------------------------------- rendering


def _wrap(text: str, indent: int = 0) -> str:
    """A line of the text part, `indent` spaces in, on as many lines of at most TEXT_WIDTH
    display columns (a CJK character takes two) as it needs, each after the first indented
    two more: the one rule of every line there. Never breaks a word, a link, an id or a
    command in backticks (`monitor history ID`), but may break between Chinese or Japanese
    characters; one wider than a line gets a line of its own."""
    return columns.wrap(text, TEXT_WIDTH, indent, indent + 2)


def _paragraph(text: str) -> str:
    """A paragraph of the text part (its summary, a note), set off by blank lines: wrapped as
    `_wrap` wraps a line, but its lines all flush left, as a paragraph's are (indented, they
    read as an item's continuation)."""
    return columns.wrap(text, TEXT_WIDTH)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    env.filters["paragraph"] = _paragraph
    env.filters["language"] = marked_language  # the HTML part's `lang` of a feed's or YAML's text
    env.filters["count"] = count  # `n | count("change")`: 1 change, 2 changes
    env.filters["listed_words"] = listed_words  # evidence listed under an earlier change
    return env


def render(data: DigestInput, budget: int = PART_BUDGET) -> tuple[str, str]:
    """The (text, html) bodies of a digest: with as much evidence as EVIDENCE_STEPS allow
    while each part stays within `budget` bytes as sent (`sent_size`: in base64 or
    quoted-printable, more than its UTF-8), or with the least. At each step the analysts'
    verdicts are listed (up to VERDICTS_LISTED), then, if that is over, only counted: a
    notice of corrections gives way before the evidence does."""
    caps = (VERDICTS_LISTED, 0) if data.verdicts else (VERDICTS_LISTED,)
    for step, (per_change, per_line) in enumerate(EVIDENCE_STEPS):
        for verdicts in caps:
            text, html = _render(
                data, per_change, per_line, verdicts, shortened=step > 0 or not verdicts
            )
            if max(sent_size(text), sent_size(html)) <= budget:
                return text, html
    log.warning(
        "digest %s: over %d bytes with no evidence listed (%d changes, %d feed problems)",
        data.day, budget, len(data.changes), len(data.feed_problems),
    )  # fmt: skip
    return text, html


def _shortened(per_change: int, per_line: int, verdicts: bool) -> str:
    """The note of a digest cut short: how much evidence each change and standing status lists,
    and whether the analysts' verdicts are listed (`verdicts`) or only counted."""

    def most(n: int) -> str:
        return f"at most {count(n, 'piece')} of evidence" if n else "no evidence"

    counted = "" if verdicts else ", the analysts' verdicts are only counted"
    return (
        "A busy day: to keep this email short enough for a mail client to show it whole, each"
        f" change lists {most(per_change)} and each standing status {most(per_line)}{counted};"
        " the rest are counted, with where to read them."
    )


def _render(
    data: DigestInput, per_change: int, per_line: int, verdicts: int, *, shortened: bool
) -> tuple[str, str]:
    variables = context(data, per_change, per_line, verdicts)
    listed = verdicts > 0 or not data.verdicts
    variables["shortened"] = _shortened(per_change, per_line, listed) if shortened else ""
    env = _environment()
    text = _one_blank_line(env.get_template("digest.txt.j2").render(variables))
    html = env.get_template("digest.html.j2").render(variables, subject=subject_for(data))
    return text, html


def _one_blank_line(text: str) -> str:
    """`text` with every run of blank (or white-space only) lines made one empty line: the
    template's sections and optional parts leave two or three in places, by shape."""
    return re.sub(r"\n(?:[ \t]*\n){2,}", "\n\n", text)


def _domain(sender: str) -> str:
    addresses = getaddresses([sender])
    domain = addresses[0][1].rpartition("@")[2] if addresses else ""
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else "monitor.localhost"


def _sent_sizes(body: str) -> dict[str, int]:
    """The bytes `body` (UTF-8) takes as sent in each transfer encoding, CRLF line ends and all."""
    sizes = {}
    for cte in ("quoted-printable", "base64"):
        part = EmailMessage()
        part.set_content(body, cte=cte)
        payload = part.get_payload()
        assert isinstance(payload, str)
        sizes[cte] = len(payload) + payload.count("\n")  # as sent: each line ends in CRLF
    return sizes


def transfer_encoding(body: str) -> str:
    """The Content-Transfer-Encoding that carries `body` (UTF-8) in fewer bytes as sent:
    quoted-printable, which keeps ASCII as it is and writes every other byte as three (a
    Chinese, Japanese or Korean character as nine), or base64, four bytes for every three
    (quoted-printable when they tie). The whole body is weighed: the email package's own
    choice looks at its first ten lines, which in a digest are ASCII HTML or English."""
    sizes = _sent_sizes(body)
    return "base64" if sizes["base64"] < sizes["quoted-printable"] else "quoted-printable"


def sent_size(body: str) -> int:
    """The bytes `body` takes as sent, in its `transfer_encoding`: what a mail client that
    weighs a part as it arrives (Gmail's clipping, by some reports) counts."""
    return min(_sent_sizes(body).values())


def build_digest(data: DigestInput, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The digest as a multipart/alternative email, each part UTF-8 in the transfer encoding
    that carries it in fewer bytes (`transfer_encoding`). Pure: the same input, the same bytes
    (the Message-ID and boundary come from day and content: a retry keeps its id, new content
    not)."""
    text, html = render(data)
    message = EmailMessage()
    message["Subject"] = subject_for(data)
    message["From"] = sender
    if recipients:
        message["To"] = ", ".join(recipients)
    generated = data.generated_at
    message["Date"] = format_datetime(
        generated if generated.tzinfo else generated.replace(tzinfo=UTC)
    )
    content = digest_of(text, html)
    message["Message-ID"] = f"<digest-{data.day.isoformat()}.{content[:12]}@{_domain(sender)}>"
    message["Auto-Submitted"] = "auto-generated"
    message[DAY_HEADER] = data.day.isoformat()
    message.set_content(text, cte=transfer_encoding(text))
    message.add_alternative(html, subtype="html", cte=transfer_encoding(html))
    boundary = "==monitor-" + content[:32]
    while boundary in text or boundary in html:  # practically never
        boundary += "="
    message.set_boundary(boundary)
    return message


__all__ = [
    "DigestInput",
    "FeedProblem",
    "Reads",
    "build_digest",
    "format_status",
    "format_time",
    "render",
    "sent_size",
    "transfer_encoding",
]
